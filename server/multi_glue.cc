// The server's side of all-or-nothing multi-key acquires (SEMLOCK.ACQUIREALL, JSON acquire_all
// and release_all; engine/multi.cc has the model): blocking a request on several keys, answering
// it in its protocol, and releasing a grant that could not be delivered — every key it created,
// as for a single-key grant (Server::deliver_events()).
#include <string>
#include <vector>

#include "protocol/json_codec.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "server/json_reply.h"
#include "server/server.h"

namespace semlock {

void Server::on_blocked_all(redis::ClientState& client, std::uint64_t tag, WaiterId waiter,
                            const std::vector<std::string_view>& keys, std::string_view owner) {
  auto it = connections_.find(client.id);
  if (it == connections_.end() || keys.empty()) return;
  PendingWait pw;
  pw.conn_id = client.id;
  pw.key = std::string(keys.front());
  pw.owner = std::string(owner);
  pw.protocol = WireProtocol::kResp;
  pw.keys.assign(keys.begin(), keys.end());
  block(*it->second, tag, waiter, std::move(pw));
}

void Server::release_undelivered(const PendingWait& pw, const WaiterEvent& ev, Millis now) {
  if (pw.keys.empty()) {
    engine_->release_unrefreshed(pw.key, pw.owner, ev.fence, ev.deadline, now, ev.added_mark);
    return;
  }
  for (std::size_t i = 0; i < pw.keys.size() && i < ev.fences.size(); ++i) {
    if (i < ev.created.size() && ev.created[i] != 0) {
      engine_->release_unrefreshed(pw.keys[i], pw.owner, ev.fences[i], ev.deadline, now);
    }
  }
}

void Server::answer_wait_all(Connection& c, const PendingWait& pw, const WaiterEvent& ev) {
  c.blocked = false;
  buffer_pool_.fill(c.out);
  write_wait_answer(
      c, pw, ev.granted,
      [&](std::string& out) {
        json::write_acquired_all(out, pw.id_raw, pw.keys, pw.owner, ev.fences, ev.ttl);
      },
      [&](resp::Writer& w) { redis::write_acquire_all_reply(w, pw.owner, ev.fences); });
  // Delivered only once the kernel has taken the whole reply; until then each holder the grant
  // created is released if the connection closes (refreshed ones belong to whoever made them).
  if (ev.granted) {
    const std::uint64_t reply_end = output_end(c);
    for (std::size_t i = 0; i < pw.keys.size() && i < ev.fences.size(); ++i) {
      if (i < ev.created.size() && ev.created[i] != 0) {
        c.undelivered_grants.push(
            {pw.keys[i], pw.owner, ev.fences[i], ev.deadline, reply_end, false, false});
        note_answered_grant(c, c.undelivered_grants.back());
      }
    }
  }
  ready_.push_back(c.id);
}

bool Server::execute_json_multi(Connection& c, json::Request& req, WireProtocol wire,
                                bool http_keep_alive, std::string& body, int& status, Millis now) {
  const std::string_view id = req.id_raw;
  const EngineLimits& limits = engine_->limits();
  auto bad = [&](std::string_view text) {
    json::write_error(body, id, text, "BADREQUEST");
    status = 400;
    return true;
  };
  for (const std::string& k : req.keys) {
    if (k.size() > limits.max_key_bytes) {
      return bad("keys: a key is longer than limits.max_key_bytes (" +
                 std::to_string(limits.max_key_bytes) + ")");
    }
  }
  if (req.owner && (req.owner->empty() || req.owner->size() > kMaxOwnerBytes)) {
    return bad("owner: must be 1..128 bytes");
  }
  if (req.action == json::Action::kReleaseAll && !req.owner) return bad("owner: required");
  if (req.session) return bad("session: not supported by acquire_all");
  // Refused, never ignored: a client that asked for a notice or a mode must not believe it has one
  // (SEMLOCK.ACQUIREALL refuses these options as a syntax error).
  if (req.notify) return bad("notify: not supported by acquire_all");
  if (req.shared) return bad("mode: not supported by acquire_all");
  if (req.reentrant) return bad("reentrant: not supported by acquire_all");
  if (cluster_refuses_writes()) {
    return forward_json(c, req, wire, http_keep_alive, body, status);  // forward_dispatch.cc
  }
  const std::vector<std::string_view> keys(req.keys.begin(), req.keys.end());
  if (req.action == json::Action::kReleaseAll) {
    // Success when the owner held one of the keys (a hold was taken); `released` counts the keys
    // it holds no more, as SEMLOCK.RELEASEALL's reply does.
    std::uint64_t held = 0;
    const std::uint64_t n = engine_->release_keys(keys, *req.owner, now, &held);
    for (const std::string_view key : keys) forget_undelivered(c, key, *req.owner);
    if (held > 0) {
      json::write_released(body, id, n);
    } else {
      json::write_fail(body, id);
    }
    return true;
  }
  if (!persist_error_.empty()) {
    write_json_error(body, status, id, persist_error_);
    return true;
  }
  if (!req.ttl_ms || *req.ttl_ms <= 0) return bad("ttl: must be a positive number");
  if (*req.ttl_ms > limits.max_ttl) {
    return bad("ttl: longer than limits.max_ttl (" + std::to_string(limits.max_ttl / 1000) + " s)");
  }
  if (req.wait_ms < 0 || req.wait_ms > limits.max_ttl) {
    return bad("wait_ms: must be 0.." + std::to_string(limits.max_ttl));
  }
  AcquireAllRequest ar;
  ar.keys = keys;
  std::string owner = req.owner ? *req.owner : generate_owner();
  ar.owner = owner;
  ar.reacquire = req.owner.has_value() && !req.owner_from_pid_host;
  ar.ttl = *req.ttl_ms;
  ar.wait = req.wait_ms;
  if (ar.wait > 0) ar.tag = next_wait_tag();
  const AcquireAllResult r = engine_->acquire_all(ar, now);
  switch (r.status) {
    case EngineStatus::kGranted:
      // Undelivered until the kernel takes the reply, and with WAIT kept for an orphan give-back,
      // as a queued grant (orphan_grants.cc).
      for (std::size_t k = 0; k < req.keys.size(); ++k) {
        if (r.created[k] != 0) {
          note_granted_now(c, req.keys[k], owner, r.fences[k], now + r.ttl, ar.wait > 0);
        }
      }
      json::write_acquired_all(body, id, req.keys, owner, r.fences, r.ttl);
      return true;
    case EngineStatus::kNotGranted:
      json::write_fail(body, id);
      return true;
    case EngineStatus::kQueued: {
      PendingWait pw;
      pw.conn_id = c.id;
      pw.key = req.keys.front();
      pw.keys = req.keys;
      pw.owner = std::move(owner);
      pw.protocol = wire;
      pw.id_raw = req.id_raw;
      pw.http_keep_alive = http_keep_alive;
      pw.ttl = ar.ttl;
      block(c, ar.tag, r.waiter, std::move(pw));
      return false;
    }
    default: {
      auto err = errors::status_error(r.status, *engine_);
      if (!errors::limit_reason(r.status).empty()) on_limit_rejection(r.status);
      write_json_error(body, status, id, err ? std::string_view(err->resp) : "ERR invalid request");
      return true;
    }
  }
}

}  // namespace semlock
