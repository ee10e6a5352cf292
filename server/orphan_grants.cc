// A follower's WAIT grant whose client left before the reply reached it (an "orphan"): taken back
// exactly as a single node takes back a waiter grant it could not deliver (Server::deliver_events).
//
// A follower forwards a client's WAIT acquire to the leader on an upstream connection of its own
// (forward_upstream.h). When the client closes while the wait is in flight, the follower keeps
// the upstream until the answer comes; a grant then has nobody to hold it and must go. But the
// follower cannot tell from the reply what the grant did on the leader: it may have created the
// holder, added a reentrant hold, or only refreshed a holder the same owner already had (an
// explicit owner that came to hold the key while it waited: another connection of that owner
// was served first). Releasing by owner, as a client's RELEASE does, took that owner's holder
// away in the last case, although the owner's other request had been told it holds the key.
//
// So the leader decides, as it does for its own clients:
// - every waiter grant answered on a connection that created a holder or added a reentrant hold
//   is remembered on that connection (Connection::answered_grants: key, owner, fence, and the
//   deadline the grant set), in cluster mode only. A grant that only refreshed is not: it added
//   nothing that is the grant's own to give back.
// - the follower names the orphan by its fence (RESP `SEMLOCK.CLUSTER ORPHAN key owner fence`,
//   JSON `{"action":"release_grant","key":...,"owner":...,"fence":...}`) on the same upstream;
//   the leader takes the record and gives back what the grant added with
//   Engine::release_unrefreshed, as for an undelivered grant: a created holder goes only while its
//   deadline is still the one the grant set (no other request of the owner refreshed or extended
//   it since), a reentrant hold goes back one. No record: nothing was added, nothing is released.
//   Reply: 1 when something was given back, else 0 (the follower drops it).
// - a member that no longer leads (the follower's upstream was left behind by a leader change)
//   answers 0 and releases nothing: a new leader extended every deadline by the election timeout,
//   so it could not tell the grant's own deadline either; the holder lives out its TTL (the
//   client was told CLUSTERDOWN and holds nothing it knows of).
// - a WAIT acquire granted at once (no queueing) that created the holder or added a reentrant
//   hold is recorded too (Server::note_granted_now): its client may close within the round trip as well.
//   So is each key a WAIT ACQUIREALL granted at once created (not those it only refreshed).
// - the follower names only the latest reply for a key: any later request on the connection that
//   names the key (acquire, release, extend...) forgets that key's records there. Otherwise an
//   orphan of a later grant that only refreshed (nothing recorded) would match an earlier,
//   delivered grant of the same owner with the same fence and take back a hold that is not its
//   own. Forgetting too much costs only liveness (the holder lives out its TTL), never safety.
// Records are kept while their holder lives: the list is pruned of gone holders whenever it has
// doubled since the last pruning (as Connection::sessions is), and goes with the connection.
#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>

#include "protocol/json_codec.h"
#include "protocol/resp_reply.h"
#include "redis-compat/args.h"
#include "redis-compat/errors.h"
#include "server/forward_upstream.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// `*2 $owner (:fence | *n :fence...)`: a granted SEMLOCK.ACQUIRE or ACQUIREALL reply.
bool parse_resp_grant(std::string_view reply, std::string& owner,
                      std::vector<std::uint64_t>& fences) {
  auto line = [&](std::size_t& at, char type, std::string_view& text) {
    if (at >= reply.size() || reply[at] != type) return false;
    const std::size_t cr = reply.find("\r\n", at);
    if (cr == std::string_view::npos) return false;
    text = reply.substr(at + 1, cr - at - 1);
    at = cr + 2;
    return true;
  };
  std::size_t at = 0;
  std::string_view text;
  std::uint64_t n = 0;
  if (!line(at, '*', text) || text != "2" || !line(at, '$', text) || !parse_u64(text, n)) {
    return false;
  }
  if (reply.size() < at + n + 2) return false;
  owner.assign(reply.substr(at, n));
  at += n + 2;
  std::uint64_t count = 1;
  const bool multi = at < reply.size() && reply[at] == '*';
  if (multi && (!line(at, '*', text) || !parse_u64(text, count))) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t f = 0;
    if (!line(at, ':', text) || !parse_u64(text, f)) return false;
    fences.push_back(f);
  }
  return true;
}

// {"success":true,"data":{..."owner":...,"fence":N | "fences":[...]...}}: a granted JSON reply.
bool parse_json_grant(std::string_view reply, std::string& owner,
                      std::vector<std::uint64_t>& fences) {
  rapidjson::Document doc;
  doc.Parse(reply.data(), reply.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  const auto ok = doc.FindMember("success");
  if (ok == doc.MemberEnd() || !ok->value.IsBool() || !ok->value.GetBool()) return false;
  const rapidjson::Value* data = &doc;
  if (const auto d = doc.FindMember("data"); d != doc.MemberEnd() && d->value.IsObject()) {
    data = &d->value;
  }
  const auto o = data->FindMember("owner");
  if (o == data->MemberEnd() || !o->value.IsString()) return false;
  owner.assign(o->value.GetString(), o->value.GetStringLength());
  if (const auto f = data->FindMember("fence"); f != data->MemberEnd() && f->value.IsUint64()) {
    fences.push_back(f->value.GetUint64());
    return true;
  }
  const auto fs = data->FindMember("fences");
  if (fs == data->MemberEnd() || !fs->value.IsArray()) return false;
  for (const auto& v : fs->value.GetArray()) {
    if (!v.IsUint64()) return false;
    fences.push_back(v.GetUint64());
  }
  return true;
}

}  // namespace

std::string orphan_release_request(bool json, const ForwardSlot& slot, std::string_view reply,
                                   std::size_t& requests) {
  requests = 0;
  std::string owner;
  std::vector<std::uint64_t> fences;
  const bool granted =
      json ? parse_json_grant(reply, owner, fences) : parse_resp_grant(reply, owner, fences);
  if (!granted) return {};  // not granted (null, an error): nothing to give back
  const std::vector<std::string> single{slot.key};
  const std::vector<std::string>& keys = slot.keys.empty() ? single : slot.keys;
  std::string bytes;
  for (std::size_t i = 0; i < keys.size() && i < fences.size(); ++i) {
    if (json) {
      bytes += R"({"action":"release_grant","key":)";
      append_forward_json_string(bytes, keys[i]);
      bytes += R"(,"owner":)";
      append_forward_json_string(bytes, owner);
      bytes += R"(,"fence":)" + std::to_string(fences[i]) + "}\n";
    } else {
      const std::string fence = std::to_string(fences[i]);
      resp::encode_command({"SEMLOCK.CLUSTER", "ORPHAN", keys[i], owner, fence}, bytes);
    }
    ++requests;
  }
  return bytes;
}

void Server::note_answered_grant(Connection& c, const GrantView& grant) {
  if (!cluster_enabled()) return;
  c.answered_grants.push_back({std::string(grant.key), std::string(grant.owner), grant.fence,
                               grant.deadline, grant.added_mark});
  if (c.answered_grants.size() < c.answered_pruned_at) return;
  const Millis now = now_ms();
  std::erase_if(c.answered_grants, [&](const AnsweredGrant& g) {
    const auto info = engine_->info(g.key, now);
    if (!info) return true;
    return std::none_of(info->holders.begin(), info->holders.end(), [&](const HolderInfo& h) {
      return h.owner == g.owner && h.fence == g.fence;
    });
  });
  c.answered_pruned_at = std::max<std::size_t>(16, 2 * c.answered_grants.size());
}

void Server::forget_answered_grants(Connection& c, const std::vector<std::string_view>& argv) {
  if (argv.empty() || redis::iequals(argv[0], "SEMLOCK.CLUSTER")) return;  // ORPHAN itself
  std::erase_if(c.answered_grants, [&](const AnsweredGrant& g) {
    return std::find(argv.begin() + 1, argv.end(), std::string_view(g.key)) != argv.end();
  });
}

void Server::forget_answered_grants(Connection& c, std::string_view key,
                                    const std::vector<std::string>& keys) {
  std::erase_if(c.answered_grants, [&](const AnsweredGrant& g) {
    return g.key == key || std::find(keys.begin(), keys.end(), g.key) != keys.end();
  });
}

bool Server::release_orphan_grant(Connection& c, std::string_view key, std::string_view owner,
                                  std::uint64_t fence, Millis now) {
  const auto it = std::find_if(
      c.answered_grants.begin(), c.answered_grants.end(), [&](const AnsweredGrant& g) {
        return g.fence == fence && g.key == key && g.owner == owner;
      });
  if (it == c.answered_grants.end()) return false;  // it only refreshed: nothing of its own
  const AnsweredGrant g = std::move(*it);
  c.answered_grants.erase(it);
  if (cluster_refuses_writes()) {
    log::info("Forwarding: a WAIT grant whose client was gone is left to its TTL (this member "
              "no longer leads)",
              {{"key", g.key}});
    return false;
  }
  return engine_->release_unrefreshed(g.key, g.owner, g.fence, g.deadline, now, g.added_mark) ==
         EngineStatus::kOk;
}

Server::ForwardStep Server::cluster_orphan_command(Connection& c) {
  std::uint64_t fence = 0;
  if (argv_.size() != 5) {
    c.out += "-ERR wrong number of arguments for 'semlock.cluster' command\r\n";
    return ForwardStep::kDone;
  }
  if (!parse_u64(argv_[4], fence) || fence == 0) {
    c.out += "-ERR fence must be a positive integer\r\n";
    return ForwardStep::kDone;
  }
  if (!cluster_enabled()) {
    c.out += "-ERR cluster mode is off\r\n";
    return ForwardStep::kDone;
  }
  const bool released = release_orphan_grant(c, argv_[2], argv_[3], fence, now_ms());
  c.out += released ? ":1\r\n" : ":0\r\n";
  return ForwardStep::kDone;
}

bool Server::execute_json_release_grant(Connection& c, const json::Request& req, bool admin,
                                        std::string& body, int& status, Millis now) {
  if (admin_keys_configured() && !admin) {
    write_json_error(body, status, req.id_raw, errors::kNoPerm);
    return true;
  }
  if (!cluster_enabled()) {
    json::write_error(body, req.id_raw, "release_grant: cluster mode is off", "BADREQUEST");
    status = 400;
    return true;
  }
  const bool released = release_orphan_grant(c, req.key, *req.owner, req.fence, now);
  json::write_released(body, req.id_raw, released ? 1 : 0);
  return true;
}

}  // namespace semlock
