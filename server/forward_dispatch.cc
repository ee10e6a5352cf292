// Cluster forwarding, the server's side: which requests a member that does not serve writes
// sends to the leader (forward_upstream.h has the design). Writes go (acquire, release, extend,
// SET/DEL and the other writing commands, scripts, MULTI...EXEC as a whole); reads and
// connection commands (AUTH, HELLO, CLIENT, INFO...) run here.
#include <algorithm>
#include <cctype>

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

// A SEMLOCK.ACQUIRE with WAIT > 0: the grant may come later than the request.
bool waits(const std::vector<std::string_view>& argv) {
  for (std::size_t i = 2; i + 1 < argv.size(); ++i) {
    if (lower(argv[i]) == "wait") return argv[i + 1] != "0";
  }
  return false;
}

void write_error(std::string& out, std::string_view text) {
  out += '-';
  out.append(text);
  out += "\r\n";
}

void json_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out.append(name);
  out += "\":\"";
  for (const char ch : value) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(static_cast<unsigned char>(ch) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(ch) & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace

Forwarder& Server::forwarder() {
  if (!forward_) forward_ = std::make_unique<Forwarder>(*this, loop_);
  return *forward_;
}

void Server::forward_stop() {
  if (forward_) forward_->stop();
}

void Server::forward_client_closed(Connection& c) {
  if (forward_) forward_->on_client_closed(c);
}

Server::ForwardStep Server::forward_resp_command(Connection& c) {
  // A reply owed by a forwarded request comes first: a request answered here waits for it.
  const ForwardStep local = c.forward_pending > 0 ? ForwardStep::kStall : ForwardStep::kLocal;
  const std::string name = lower(argv_[0]);
  if (name == "semlock.cluster") return cluster_admin_command(c);
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
  if (!multi && !writes(spec)) return local;
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
  switch (req.action) {
    case json::Action::kAcquire:
      line = R"({"action":"acquire")";
      break;
    case json::Action::kRelease:
      line = R"({"action":"release")";
      break;
    case json::Action::kExtend:
      line = R"({"action":"extend")";
      break;
    default:
      line = R"({"action":"force_release")";
      break;
  }
  json_field(line, "key", req.key);
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
  r.slots.push_back(std::move(slot));
  // JSON and HTTP requests run one at a time while one is forwarded (their replies keep order).
  c.forward_stalled = true;
  forwarder().forward(c, true, std::move(r));
  return false;
}

}  // namespace semlock
