// Cluster forwarding, the server's side: which requests a member that does not serve writes
// sends to the leader (forward_upstream.h has the design). Writes go (acquire, release, extend,
// SET/DEL and the other writing commands, scripts, MULTI...EXEC as a whole), and so do reads of
// the replicated state (EXISTS, PTTL, GET, SEMLOCK.INFO ...: the leader confirms them with
// ReadIndex, where this member's applied state may lag); connection commands (AUTH, HELLO,
// CLIENT, INFO...) run here.
// Heartbeats (SEMLOCK.HEARTBEAT, JSON ping) of a client that forwards go to the leader as well:
// its connection-lived holders are bound to its upstream there, and the leader's
// server.session_heartbeat_timeout sees only what arrives on that upstream. A client that never
// forwarded has no binding on the leader: its heartbeat is answered here. Any other request
// answered here sends a heartbeat of the member's own on the upstream (at most one per 50 ms,
// Forwarder::keep_alive): on a follower as on the leader, every request counts as one.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "protocol/resp_reply.h"
#include "redis-compat/command_table.h"
#include "redis-compat/errors.h"
#include "server/forward_upstream.h"
#include "server/server.h"

namespace semlock {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

bool writes(const redis::CommandSpec* spec) {
  if (spec == nullptr) return false;
  return (spec->flags & redis::kWrite) != 0 || spec->name == "eval" || spec->name == "evalsha" ||
         spec->name == "exec" || spec->name == "fcall";
}

// Reads the replicated state (EXISTS, PTTL, GET, SEMLOCK.INFO, SCAN ...): linearizable only on
// the leader (ReadIndex, cluster_reads.cc), so a member that does not serve sends them there.
// SEMLOCK.STATS (this server's counters, like INFO and JSON `stats`) answers here.
bool reads(const redis::CommandSpec* spec) {
  return spec != nullptr && (spec->flags & redis::kReadonly) != 0 && spec->name != "semlock.stats";
}

// A SEMLOCK.ACQUIRE with WAIT > 0: the grant may come later than the request.
bool waits(const std::vector<std::string_view>& argv) {
  for (std::size_t i = 2; i + 1 < argv.size(); ++i) {
    if (lower(argv[i]) == "wait") return argv[i + 1] != "0";
  }
  return false;
}

// SEMLOCK.ACQUIREALL ttl numkeys key... [OWNER o] [WAIT ms]: with a WAIT, its grant may come
// after its client left, and is then released like a WAIT acquire's (Forwarder).
void note_acquireall_wait(const std::vector<std::string_view>& argv, ForwardSlot& slot) {
  std::size_t n = 0;
  if (argv.size() < 3 || std::from_chars(argv[2].data(), argv[2].data() + argv[2].size(), n).ec !=
                             std::errc{}) {
    return;
  }
  if (n == 0 || n > argv.size() - 3) return;
  for (std::size_t i = 3 + n; i + 1 < argv.size(); i += 2) {
    if (lower(argv[i]) == "wait" && argv[i + 1] != "0") {
      slot.wait_acquire = true;
      slot.keys.assign(argv.begin() + 3, argv.begin() + 3 + static_cast<std::ptrdiff_t>(n));
      slot.key = slot.keys.front();
      return;
    }
  }
}

void write_error(std::string& out, std::string_view text) {
  out += '-';
  out.append(text);
  out += "\r\n";
}

void json_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out.append(name);
  out += "\":";
  append_forward_json_string(out, value);
}

}  // namespace

Forwarder& Server::forwarder() {
  if (!forward_) forward_ = std::make_shared<Forwarder>(*this, loop_);
  return *forward_;
}

void Server::forward_stop() {
  if (forward_) forward_->stop();
}

bool Server::forward_heartbeat(const Connection& c) const {
  return cluster_refuses_writes() && forward_ && forward_->has_upstream(c.id);
}

void Server::forward_note_request(Connection& c) {
  if (forward_ && cluster_refuses_writes()) {
    forward_->keep_alive(c.id, config_.server.session_heartbeat_timeout);
  }
}

void Server::forward_client_closed(Connection& c) {
  if (forward_) forward_->on_client_closed(c);
}

Server::ForwardStep Server::forward_resp_command(Connection& c) {
  // A reply owed by a forwarded request comes first: a request answered here waits for it.
  const ForwardStep local = c.forward_pending > 0 ? ForwardStep::kStall : ForwardStep::kLocal;
  const std::string name = lower(argv_[0]);
  if (local == ForwardStep::kLocal) forward_note_request(c);  // before it, if it is forwarded
  if (name == "semlock.cluster") return cluster_admin_command(c);
  if (name == "semlock.publish") return cluster_publish_command(c);  // cluster_pubsub.cc
  if (c.forward_multi) {
    const bool ends = name == "exec" || name == "discard";
    if (c.forward_multi_broken) {
      // The MULTI was queued on a leader that is gone: the transaction is over.
      if (local == ForwardStep::kStall) return local;
      if (name == "discard") {
        c.out += "+OK\r\n";
      } else {
        write_error(c.out, errors::kClusterDown);
      }
      if (ends) c.forward_multi = c.forward_multi_broken = false;
      return ForwardStep::kDone;
    }
    ParkedRequest r;
    resp::encode_command(argv_, r.bytes);
    r.proto = c.client.proto;
    r.multi = ends ? 2 : 0;
    r.slots.push_back(ForwardSlot{});
    if (ends) c.forward_multi = false;
    forwarder().forward(c, false, std::move(r));
    return ForwardStep::kDone;
  }
  if (!cluster_refuses_writes()) return local;
  if (c.client.in_multi) {
    // A MULTI begun while this member was the leader: its EXEC can no longer run here.
    if (name != "exec") return local;
    if (local == ForwardStep::kStall) return local;
    c.client.in_multi = false;
    c.client.multi_error = false;
    c.client.multi_queue.clear();
    c.client.multi_bytes = 0;
    write_error(c.out, errors::kClusterDown);
    return ForwardStep::kDone;
  }
  const redis::CommandSpec* spec = redis::find_command(name);
  const bool multi = name == "multi";
  const bool heartbeat = name == "semlock.heartbeat" && forward_heartbeat(c);
  if (!multi && !heartbeat && !writes(spec) && !reads(spec)) return local;
  // What this member can refuse itself: no key given, no admin key for an admin command.
  if (auth_required() && !c.client.authenticated) return local;
  if (spec != nullptr && (spec->flags & redis::kAdmin) != 0 && admin_keys_configured() &&
      !c.client.admin) {
    return local;
  }
  if (cluster_down()) {
    if (local == ForwardStep::kStall) return local;
    write_error(c.out, errors::kClusterDown);
    return ForwardStep::kDone;
  }
  ParkedRequest r;
  resp::encode_command(argv_, r.bytes);
  r.proto = c.client.proto;
  r.multi = multi ? 1 : 0;
  ForwardSlot slot;
  if (name == "semlock.acquire" && argv_.size() > 1 && waits(argv_)) {
    slot.wait_acquire = true;
    slot.key = std::string(argv_[1]);
  }
  if (name == "semlock.acquireall") note_acquireall_wait(argv_, slot);
  if (name == "semlock.acquire" && argv_.size() > 1 && c.client.proto >= 3 &&
      std::any_of(argv_.begin() + 2, argv_.end(), [](std::string_view a) {
        return lower(a) == "notify";
      })) {
    slot.notify = true;  // the leader pushes its notice through the upstream (notify.cc)
    slot.key = std::string(argv_[1]);
  }
  r.slots.push_back(std::move(slot));
  if (multi) c.forward_multi = true;
  forwarder().forward(c, false, std::move(r));
  return ForwardStep::kDone;
}

bool Server::forward_json(Connection& c, const json::Request& req, WireProtocol wire,
                          bool http_keep_alive, std::string& body, int& status) {
  if (cluster_down()) {
    write_json_error(body, status, req.id_raw, errors::kClusterDown);
    return true;
  }
  ParkedRequest r;
  std::string& line = r.bytes;
  // Only the write and read actions and a heartbeat ping (forward_heartbeat) come here
  // (dispatch_json.cc, multi_glue.cc).
  line = R"({"action":")";
  line += json::action_name(req.action);
  line += '"';
  if (req.action == json::Action::kList) {
    line += R"(,"cursor":)" + std::to_string(req.cursor);
    if (!req.match.empty()) json_field(line, "match", req.match);
    if (req.count) line += ",\"count\":" + std::to_string(*req.count);
  }
  if (req.action != json::Action::kList && req.action != json::Action::kPing) {
    json_field(line, "key", req.key);
  }
  if (!req.keys.empty()) {  // acquire_all, release_all
    line += ",\"keys\":[";
    for (std::size_t i = 0; i < req.keys.size(); ++i) {
      if (i != 0) line += ',';
      append_forward_json_string(line, req.keys[i]);
    }
    line += ']';
  }
  if (req.ttl_ms) line += ",\"ttl_ms\":" + std::to_string(*req.ttl_ms);
  if (req.owner && req.owner_from_pid_host) {
    // pid@host as the client gave it: the leader derives the same owner, without re-acquire.
    const std::size_t at = req.owner->find('@');
    json_field(line, "pid", std::string_view(*req.owner).substr(0, at));
    json_field(line, "host", std::string_view(*req.owner).substr(at + 1));
  } else if (req.owner) {
    json_field(line, "owner", *req.owner);
  }
  if (req.limit) line += ",\"limit\":" + std::to_string(*req.limit);
  if (req.wait_ms > 0) line += ",\"wait_ms\":" + std::to_string(req.wait_ms);
  if (req.session) line += ",\"session\":true";
  if (req.shared) line += ",\"mode\":\"shared\"";
  if (req.reentrant) line += ",\"reentrant\":true";
  if (req.notify) line += ",\"notify\":true";
  if (!req.id_raw.empty()) line += ",\"id\":" + req.id_raw;
  line += "}\n";
  ForwardSlot slot;
  slot.wire = wire;
  slot.http_keep_alive = http_keep_alive;
  slot.id_raw = req.id_raw;
  if (req.action == json::Action::kAcquire && req.wait_ms > 0) {
    slot.wait_acquire = true;
    slot.key = req.key;
  }
  if (req.action == json::Action::kAcquireAll && req.wait_ms > 0 && !req.keys.empty()) {
    slot.wait_acquire = true;
    slot.keys = req.keys;
    slot.key = req.keys.front();
  }
  r.slots.push_back(std::move(slot));
  // JSON and HTTP requests run one at a time while one is forwarded (their replies keep order).
  c.forward_stalled = true;
  forwarder().forward(c, true, std::move(r));
  return false;
}

}  // namespace semlock
