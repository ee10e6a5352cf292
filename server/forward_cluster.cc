// Cluster forwarding: the Forwarder's decisions (forward_upstream.h has the design).
#include <prometheus/counter.h>

#include <algorithm>

#include "protocol/http.h"
#include "protocol/resp_reply.h"
#include "redis-compat/errors.h"
#include "server/cluster_node.h"
#include "server/forward_upstream.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace {

constexpr std::uint64_t kCheckMs = 50;

ForwardSlot dropped_slot() {
  ForwardSlot s;
  s.relay = false;
  return s;
}
constexpr std::string_view kJsonType = "application/json";

// HTTP status of a JSON reply line (SPEC §3's table by JSON code; success and "not granted":
// 200).
int http_status_of(std::string_view body) {
  if (!body.starts_with(R"({"success":false,"error")")) return 200;
  const std::size_t at = body.find(R"("code":")");
  if (at == std::string_view::npos) return 400;
  const std::size_t from = at + 8;
  const std::string_view code = body.substr(from, body.find('"', from) - from);
  struct Map {
    std::string_view code;
    int status;
  };
  static constexpr Map kMap[] = {{"BADREQUEST", 400}, {"NOAUTH", 401},     {"WRONGPASS", 401},
                                 {"NOPERM", 403},     {"OVERLIMIT", 503},  {"MISMATCH", 409},
                                 {"WRONGTYPE", 409},  {"UNAVAILABLE", 503}};
  for (const Map& m : kMap) {
    if (m.code == code) return m.status;
  }
  return 400;
}

}  // namespace

Forwarder::Forwarder(Server& server, uv_loop_t* loop) : server_(server), loop_(loop) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, timer_cb, kCheckMs, kCheckMs);
  timer_started_ = true;
  auto& family = prometheus::BuildCounter()
                     .Name("ttl_semlock_cluster_forwarded_requests_total")
                     .Help("requests this member forwarded to the leader")
                     .Register(server_.metrics_.registry());
  forwarded_metric_ = &family.Add({});
  auto& failed = prometheus::BuildCounter()
                     .Name("ttl_semlock_cluster_forward_failures_total")
                     .Help("forwarded requests answered CLUSTERDOWN here (no leader in time, "
                           "leader changed or unreachable)")
                     .Register(server_.metrics_.registry());
  failed_metric_ = &failed.Add({});
}

Forwarder::~Forwarder() {
  stop();
}

void Forwarder::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Shutdown: what is in flight or parked is answered CLUSTERDOWN before the connections close.
  for (auto& [id, up] : ups_) {
    fail_sent(*up);
    fail_parked(*up);
    close_socket(*up);
  }
  for (auto& up : others_) close_socket(*up);
  if (timer_started_) {
    timer_started_ = false;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
}

Connection* Forwarder::client(std::uint64_t conn_id) {
  const auto it = server_.connections_.find(conn_id);
  if (it == server_.connections_.end() || it->second->closed) return nullptr;
  return it->second;
}

void Forwarder::forward(Connection& c, bool json, ParkedRequest req) {
  std::unique_ptr<Upstream>& p = ups_[c.id];
  if (!p) {
    p = std::make_unique<Upstream>();
    p->fwd = this;
    p->conn_id = c.id;
    p->json = json;
  }
  Upstream& up = *p;
  for (const ForwardSlot& s : req.slots) {
    if (s.relay) ++c.forward_pending;
  }
  ++forwarded_;
  forwarded_metric_->Increment();
  req.since = server_.now_ms();
  up.parked.push_back(std::move(req));
  if (up.state == Upstream::State::kConnected) {
    send_parked(up);
  } else if (up.state == Upstream::State::kIdle) {
    std::uint64_t leader = 0;
    if (const auto addr = target(leader)) connect(up, *addr, leader);
  }
}

void Forwarder::send_parked(Upstream& up) {
  while (!up.parked.empty() && up.state == Upstream::State::kConnected) {
    ParkedRequest r = std::move(up.parked.front());
    up.parked.pop_front();
    if (!up.json && r.proto != up.proto) {
      std::string hello;
      resp::encode_command({"HELLO", r.proto == 3 ? "3" : "2"}, hello);
      up.sent.push_back(dropped_slot());
      up.proto = r.proto;
      write(up, hello);
    }
    if (r.multi == 1) up.multi_on_socket = true;
    if (r.multi == 2) up.multi_on_socket = false;
    for (ForwardSlot& s : r.slots) up.sent.push_back(std::move(s));
    write(up, r.bytes);
  }
}

void Forwarder::on_connected(Upstream& up, int status) {
  if (status < 0) {
    on_broken(up, uv_strerror(status));
    return;
  }
  up.state = Upstream::State::kConnected;
  up.proto = 2;
  // The follower checked the client's key; the upstream speaks with this member's own key
  // (admin when there is one: admin commands were checked here too).
  const auto& sec = server_.config_.security;
  const std::string* key = !sec.admin_api_keys.empty() ? &sec.admin_api_keys.front()
                           : !sec.api_keys.empty()     ? &sec.api_keys.front()
                                                       : nullptr;
  if (key != nullptr) {
    std::string auth;
    if (up.json) {
      auth = R"({"action":"auth","api_key":)";
      append_forward_json_string(auth, *key);
      auth += "}\n";
    } else {
      resp::encode_command({"AUTH", *key}, auth);
    }
    up.sent.push_back(dropped_slot());
    write(up, auth);
  }
  send_parked(up);
  server_.drain();
}

void Forwarder::on_data(Upstream& up, std::string_view data) {
  up.in.append(data);
  std::size_t pos = 0;
  while (up.sock != nullptr && pos < up.in.size()) {
    std::size_t n = 0;
    const std::string_view rest = std::string_view(up.in).substr(pos);
    if (up.json) {
      const std::size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) break;
      n = nl + 1;
    } else {
      n = resp::reply_length(rest);
      if (n == 0) break;
      if (n != resp::kMalformed && rest[0] == '>') {
        // A push (a lost-lock notice of this client's NOTIFY holder): relayed, answers nothing.
        if (!up.detached && !up.client_gone && client(up.conn_id) != nullptr) {
          server_.notify_relay_push(up.conn_id, rest.substr(0, n));
        }
        pos += n;
        continue;
      }
      if (n == resp::kMalformed || up.sent.empty()) {
        on_broken(up, "reply does not parse");
        return;
      }
    }
    if (up.sent.empty()) {
      on_broken(up, "reply to nothing");
      return;
    }
    const ForwardSlot slot = std::move(up.sent.front());
    up.sent.pop_front();
    const std::string reply(rest.substr(0, n));
    pos += n;
    if (slot.relay && !up.detached && !up.client_gone && client(up.conn_id) != nullptr) {
      if (slot.notify) server_.notify_forwarded_grant(up.conn_id, slot.key, reply);
      deliver(up, slot, reply);
    } else if (slot.wait_acquire) {
      release_orphan_grant(up, slot, reply);
    }
  }
  if (up.sock != nullptr) up.in.erase(0, pos);
  server_.drain();
}

void Forwarder::on_broken(Upstream& up, const char* why) {
  if (!up.sent.empty()) {
    log::warn("Forwarding: connection to the leader lost; requests in flight answered CLUSTERDOWN",
              {{"reason", why}, {"in_flight", up.sent.size()}});
  }
  fail_sent(up);
  close_socket(up);
  server_.drain();
}

void Forwarder::fail_sent(Upstream& up) {
  std::deque<ForwardSlot> slots;
  slots.swap(up.sent);
  if (up.detached || up.client_gone) return;
  for (const ForwardSlot& s : slots) {
    if (!s.relay) continue;
    failed_metric_->Increment();
    deliver_error(up.conn_id, s);
  }
  if (up.multi_on_socket) {
    up.multi_on_socket = false;
    if (Connection* c = client(up.conn_id); c != nullptr && c->forward_multi) {
      c->forward_multi_broken = true;
    }
  }
}

void Forwarder::fail_parked(Upstream& up) {
  std::deque<ParkedRequest> parked;
  parked.swap(up.parked);
  if (up.client_gone) return;
  for (const ParkedRequest& r : parked) {
    for (const ForwardSlot& s : r.slots) {
      if (!s.relay) continue;
      failed_metric_->Increment();
      deliver_error(up.conn_id, s);
    }
  }
}

void Forwarder::detach(Upstream& up) {
  // The client is told CLUSTERDOWN for what is in flight; the replies, if they come, are read
  // and dropped (a WAIT grant among them released).
  if (!up.client_gone) {
    for (ForwardSlot& s : up.sent) {
      if (!s.relay) continue;
      failed_metric_->Increment();
      deliver_error(up.conn_id, s);
      s.relay = false;
    }
    if (up.multi_on_socket) {
      if (Connection* c = client(up.conn_id); c != nullptr && c->forward_multi) {
        c->forward_multi_broken = true;
      }
    }
  }
  auto old = std::make_unique<Upstream>();
  old->fwd = this;
  old->conn_id = up.conn_id;
  old->json = up.json;
  old->client_gone = up.client_gone;
  old->detached = true;
  old->state = up.state;
  old->sock = up.sock;
  old->leader_id = up.leader_id;
  old->proto = up.proto;
  old->sent.swap(up.sent);
  old->in.swap(up.in);
  old->out.swap(up.out);
  if (old->sock != nullptr) rebind_socket(*old->sock, *old);
  up.sock = nullptr;
  up.state = Upstream::State::kIdle;
  up.leader_id = 0;
  up.multi_on_socket = false;
  up.in.clear();
  up.out.clear();
  others_.push_back(std::move(old));
}

void Forwarder::deliver(Upstream& up, const ForwardSlot& slot, std::string_view reply) {
  Connection* c = client(up.conn_id);
  if (c == nullptr) return;
  server_.fill_buffer(c->out);
  if (slot.wire == WireProtocol::kHttp) {
    std::string_view body = reply;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    http::write_response(c->out, http_status_of(body), kJsonType, body, slot.http_keep_alive);
    if (!slot.http_keep_alive) c->close_after_write = true;
  } else {
    c->out.append(reply);
  }
  reply_done(c->id);
}

void Forwarder::deliver_error(std::uint64_t conn_id, const ForwardSlot& slot) {
  Connection* c = client(conn_id);
  if (c == nullptr) return;
  server_.fill_buffer(c->out);
  if (slot.wire == WireProtocol::kResp) {
    c->out += '-';
    c->out.append(errors::kClusterDown);
    c->out += "\r\n";
  } else {
    std::string body;
    int status = 200;
    server_.write_json_error(body, status, slot.id_raw, errors::kClusterDown);
    if (slot.wire == WireProtocol::kHttp) {
      while (!body.empty() && body.back() == '\n') body.pop_back();
      http::write_response(c->out, status, kJsonType, body, slot.http_keep_alive);
      if (!slot.http_keep_alive) c->close_after_write = true;
    } else {
      c->out += body;
    }
  }
  reply_done(conn_id);
}

void Forwarder::reply_done(std::uint64_t conn_id) {
  Connection* c = client(conn_id);
  if (c == nullptr) return;
  if (c->forward_pending > 0) --c->forward_pending;
  if (c->forward_pending == 0) c->forward_stalled = false;
  server_.flush(*c);
  if (c->forward_pending == 0 && !c->closed && c->can_execute() && !c->in.empty()) {
    server_.ready_.push_back(c->id);
  }
}

void Forwarder::release_orphan_grant(Upstream& up, const ForwardSlot& slot,
                                     std::string_view reply) {
  // The leader gives back what the grant added, named by its fence (orphan_grants.cc): a grant
  // that only refreshed the owner's holder leaves it alone.
  std::size_t requests = 0;
  const std::string bytes = orphan_release_request(up.json, slot, reply, requests);
  if (bytes.empty() || up.sock == nullptr) return;
  // One per key of an ACQUIREALL: each is answered, and the upstream stays until the leader has
  // answered them all (a reply with no slot would be taken for a broken connection).
  for (std::size_t i = 0; i < requests; ++i) {
    ForwardSlot s = dropped_slot();
    s.orphan = true;
    up.sent.push_back(std::move(s));
  }
  write(up, bytes);
  log::info("Forwarding: gave back a WAIT grant whose client was gone", {{"key", slot.key}});
}

void Forwarder::keep_alive(std::uint64_t conn_id, Millis timeout) {
  // TCP keepalive only: the upstream lives as long as this member. Otherwise the leader's view of
  // this client's last request may lag it by the gap below (50 ms at most): never by a quarter
  // of the timeout, which a client sending just under the timeout apart would pay for.
  if (timeout <= 0) return;
  const auto it = ups_.find(conn_id);
  if (it == ups_.end()) return;
  Upstream& up = *it->second;
  // Not inside a MULTI queued there (the heartbeat would join the transaction's replies), and
  // not while requests are on their way (they are activity enough).
  const Millis every = std::clamp<Millis>(timeout / 10, 1, 50);
  if (up.state != Upstream::State::kConnected || up.multi_on_socket || !up.parked.empty() ||
      !up.sent.empty() || static_cast<Millis>(uv_now(loop_)) - up.last_write < every) {
    return;
  }
  std::string bytes;
  if (up.json) {
    bytes = "{\"action\":\"ping\"}\n";
  } else {
    resp::encode_command({"SEMLOCK.HEARTBEAT"}, bytes);
  }
  up.sent.push_back(dropped_slot());
  write(up, bytes);
}

void Forwarder::on_client_closed(Connection& c) {
  for (auto& o : others_) {
    if (o->conn_id == c.id) o->client_gone = true;
  }
  const auto it = ups_.find(c.id);
  if (it == ups_.end()) return;
  std::unique_ptr<Upstream> up = std::move(it->second);
  ups_.erase(it);
  up->client_gone = true;
  up->parked.clear();
  others_.push_back(std::move(up));
  check_others();
}

void Forwarder::check_others() {
  // An upstream whose client closed closes once no WAIT grant can still arrive on it and the
  // orphan grants given back have been answered (the leader then releases the SESSION holders
  // bound to it).
  for (auto& o : others_) {
    if (!o->client_gone || o->sock == nullptr) continue;
    const bool waiting = std::any_of(o->sent.begin(), o->sent.end(), [](const ForwardSlot& s) {
      return s.wait_acquire || s.orphan;
    });
    if (!waiting) close_socket(*o);
  }
  std::erase_if(others_, [](const std::unique_ptr<Upstream>& o) {
    return o->sock == nullptr && o->parked.empty();
  });
}

void Forwarder::timer_cb(uv_timer_t* t) {
  static_cast<Forwarder*>(t->data)->check();
}

std::optional<std::string> Forwarder::target(std::uint64_t& leader) const {
  leader = server_.cluster_leader_id();
  if (leader == 0) return std::nullopt;
  // This member itself once it serves (requests parked while it was being elected, the rest
  // of a MULTI begun elsewhere): through its own lock port, like any client. Not before: the
  // request would only be forwarded again.
  if (leader == server_.cluster_->status().id && !server_.cluster_is_leader()) return std::nullopt;
  for (const ClusterMember& m : server_.cluster_members()) {
    if (m.id == leader && !m.client.empty()) return m.client;
  }
  return std::nullopt;
}

void Forwarder::check() {
  if (stopped_) return;
  std::uint64_t leader = 0;
  const auto addr = target(leader);
  const Millis now = server_.now_ms();
  const Millis timeout = server_.config_.cluster.request_timeout;
  for (auto& [id, p] : ups_) {
    Upstream& up = *p;
    if (up.state != Upstream::State::kIdle && up.leader_id != leader) {
      if (up.state == Upstream::State::kConnected) {
        detach(up);
      } else {
        close_socket(up);
      }
    }
    if (up.parked.empty()) continue;
    if (now - up.parked.front().since >= timeout) {
      fail_parked(up);
    } else if (up.state == Upstream::State::kIdle && addr) {
      connect(up, *addr, leader);
    }
  }
  check_others();
  server_.drain();
}

}  // namespace semlock
