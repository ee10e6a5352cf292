// The loop: listeners, reads and writes, backpressure, blocking waits (timers, signals and
// shutdown are in lifecycle.cc).
// Request handling per protocol lives in dispatch_resp.cc, dispatch_json.cc and metrics_http.cc;
// delivering grants (what "delivered" means, giving back what was not) in delivery.cc.
#include "server/server.h"

#include <malloc.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "config/version.h"
#include "protocol/detect.h"
#include "protocol/http.h"
#include "redis-compat/errors.h"
#include "server/bounds.h"
#include "server/cluster_metrics.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/ops_metrics.h"
#include "server/process_stats.h"
#include "server/protect.h"

namespace semlock {
namespace {

constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr std::size_t kHardOutputCap = 64 * 1024 * 1024;  // close past this

Connection* conn_of(uv_handle_t* h) {
  return static_cast<Connection*>(h->data);
}

// True when the peer has reset the connection (its RST has reached this socket, even behind
// unread data): nothing written to it can be delivered any more.
bool peer_reset(const Connection& c) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&c.handle), &fd) != 0) return true;
  pollfd p{fd, 0, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLHUP | POLLERR)) != 0;
}

std::uint64_t unix_micros() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

EngineLimits engine_limits_for(const config::Config& c) {
  EngineLimits l;
  l.max_locks = c.limits.max_locks;
  l.max_memory_bytes = c.limits.max_memory_mb * 1024 * 1024;
  l.warn_threshold = c.limits.warn_threshold;
  l.reject_requests = c.limits.reject_requests;
  l.max_waiters = c.limits.max_waiters;
  l.max_permits = c.limits.max_permits;
  l.max_ttl = c.limits.max_ttl;
  l.max_key_bytes = c.limits.max_key_bytes;
  l.max_expiries_per_tick = c.cleanup.max_expiries_per_tick;
  l.tick_resolution = c.cleanup.resolution;
  return l;
}

Server::Server(config::Config config)
    : config_(std::move(config)),
      // SPEC §1: with persistence off the fencing counter starts at the Unix time in µs, so
      // tokens keep rising across restarts while grants stay under one per microsecond.
      engine_(std::make_unique<Engine>(engine_limits_for(config_), unix_micros())),
      loop_(uv_default_loop()) {
  read_buffer_.resize(kReadBufferBytes);
  start_unix_ms_ = static_cast<std::int64_t>(unix_micros() / 1000);
}

Server::~Server() = default;

Millis Server::now_ms() const {
  // Rounded up, as the engine requires (engine.h, "Time"): a deadline set from it is never before
  // the real one, and the engine treats a holder as gone only once now > deadline, so a TTL never
  // ends before it has fully passed (SPEC §1).
  return static_cast<Millis>((uv_hrtime() + 999999) / 1000000);
}

std::int64_t Server::unix_time_us() {
  return static_cast<std::int64_t>(unix_micros());
}

std::string Server::take_buffer() {
  return buffer_pool_.take();
}

void Server::give_buffer(std::string& s) {
  buffer_pool_.give(s);
}

int Server::run() {
#ifdef __GLIBC__
  // Buffers of a MiB or more (large replies, full input buffers) are mapped and unmapped on their
  // own, never carved from the heap: glibc would otherwise raise its mmap threshold after the
  // first such free and keep later ones resident, so RSS would follow the peak of all clients'
  // buffers rather than what server.max_client_memory_mb lets them hold now.
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
#endif
  log::info("TtlSemLock server starting",
            {{"version", SEMLOCK_VERSION}, {"config", config::describe(config_)}});
  for (const auto& w : config_.warnings) log::warn(w);
  log_security_mode();
  if (!tls_start()) return 1;
  if (config_.metrics.enabled) {
    if (!listen_on(metrics_listener_, config_.metrics.host, config_.metrics.port)) return 1;
    metrics_listening_ = true;
  }
  // Persisted locks are back before the lock port takes traffic (/ready: 503 "loading").
  if (config_.persistence.enabled && !persistence_start()) return 1;
  // Cluster mode: the Raft sidecar (its dir replaces the journal; config refuses both).
  if (config_.cluster.enabled && !cluster_start()) return 1;
  if (config_.server.port != 0 &&
      !listen_on(lock_listener_, config_.server.host, config_.server.port)) {
    return 1;
  }
  if (!tls_listen()) return 1;

  uv_timer_init(loop_, &tick_timer_);
  tick_timer_.data = this;
  const auto resolution = static_cast<std::uint64_t>(config_.cleanup.resolution);
  uv_timer_start(&tick_timer_, tick_cb, resolution, resolution);
  uv_timer_init(loop_, &housekeeping_timer_);
  housekeeping_timer_.data = this;
  const auto interval = static_cast<std::uint64_t>(config_.cleanup.interval);
  uv_timer_start(&housekeeping_timer_, housekeeping_cb, interval, interval);
  uv_timer_init(loop_, &shutdown_timer_);
  shutdown_timer_.data = this;

  const int signums[] = {SIGTERM, SIGINT, SIGHUP};
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    uv_signal_init(loop_, &signals_[i]);
    signals_[i].data = this;
    uv_signal_start(&signals_[i], signal_cb, signums[i]);
  }

  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                   rl.rlim_cur < config_.server.max_connections + 2ull * bounds::kFdReserve) {
    // Redis warns the same way: past the descriptor limit clients are refused before
    // max_connections is reached (with "max number of clients reached").
    log::warn(
        "File descriptor limit (RLIMIT_NOFILE) is below server.max_connections plus a "
        "reserve: clients will be refused sooner",
        {{"nofile", rl.rlim_cur},
         {"max_connections", config_.server.max_connections}});
  }
  housekeeping();
  start_write_batching();
  ready_for_traffic_ = true;
  log::info("Listening",
            {{"lock", config_.server.port != 0
                          ? config_.server.host + ":" + std::to_string(config_.server.port)
                          : std::string("off")},
             {"tls", config_.tls.enabled
                         ? config_.server.host + ":" + std::to_string(config_.tls.port)
                         : std::string("off")},
             {"metrics", config_.metrics.enabled
                             ? config_.metrics.host + ":" + std::to_string(config_.metrics.port)
                             : std::string("off")}});
  on_serving(loop_, metrics_.registry(), config_);
  uv_run(loop_, UV_RUN_DEFAULT);
  persistence_stop();
  cluster_stop();
  uv_loop_close(loop_);
  log::info("TtlSemLock server stopped");
  return exit_code_;
}

// Accept ------------------------------------------------------------------------------------------

void Server::on_connection_cb(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) {
    if (status == UV_EMFILE || status == UV_ENFILE) {
      // Out of descriptors despite the reserve: libuv accepted and closed what was pending.
      self->metrics_.count_rejected_connection(Metrics::RefuseReason::kFdLimit);
      self->log_refused_connection("file descriptor limit reached");
    } else {
      log::warn(std::string("Accept failed: ") + uv_strerror(status));
    }
    return;
  }
  self->accept_one(listener, listener == reinterpret_cast<uv_stream_t*>(&self->metrics_listener_));
  // (TLS: accept_one() asks security_accept() which listener it was.)
}

void Server::accept_one(uv_stream_t* listener, bool metrics) {
  auto* c = new Connection();
  c->server = this;
  c->id = ++last_conn_id_;
  c->metrics_port = metrics;
  c->client.id = c->id;
  c->client.created_unix_ms = static_cast<std::int64_t>(unix_micros() / 1000);
  c->last_activity = now_ms();
  uv_tcp_init(loop_, &c->handle);
  c->handle.data = c;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->handle)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), close_cb);
    return;
  }
  if (refuse_at_fd_limit(*c, metrics)) return;
  uv_tcp_nodelay(&c->handle, 1);
  if (!metrics && config_.server.tcp_keepalive > 0) {
    const auto secs =
        static_cast<unsigned>(std::max<Millis>(1, config_.server.tcp_keepalive / 1000));
    uv_tcp_keepalive(&c->handle, 1, secs);
  }
  sockaddr_storage peer{};
  int len = sizeof(peer);
  if (uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    char ip[64] = {0};
    int port = 0;
    if (peer.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
      uv_ip4_name(a, ip, sizeof ip);
      port = ntohs(a->sin_port);
    } else {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
      uv_ip6_name(a, ip, sizeof ip);
      port = ntohs(a->sin6_port);
    }
    c->client.addr = std::string(ip) + ":" + std::to_string(port);
  }
  c->client.laddr = config_.server.host + ":" + std::to_string(config_.server.port);
  security_accept(*c, listener == reinterpret_cast<uv_stream_t*>(&tls_listener_), metrics);
  if (metrics) {
    admit_metrics_connection();
    ++metrics_connections_;
    metrics_conns_.push_back(c);
    c->protocol = WireProtocol::kHttp;
  }
  connections_.emplace(c->id, c);
  const std::size_t clients = connections_.size() - metrics_connections_;
  // While shutting down only the metrics port accepts (/ready answers 503 through the grace).
  if (!metrics && (clients > config_.server.max_connections || shutting_down_)) {
    // Redis's behaviour: say why, then close.
    if (!shutting_down_) {
      metrics_.count_rejected_connection(Metrics::RefuseReason::kMaxConnections);
      log_refused_connection("server.max_connections reached");
    }
    c->out = take_buffer();
    c->out.append(bounds::kMaxClientsError);
    c->close_after_write = true;
    flush(*c);
    return;
  }
  account(*c);
  update_reading(*c);
}

// Read --------------------------------------------------------------------------------------------

void Server::alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  Server* self = conn_of(handle)->server;
  // One loop, one read at a time: every read lands in the same buffer and is parsed in place.
  buf->base = self->read_buffer_.data();
  buf->len = self->read_buffer_.size();
}

void Server::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Connection* c = conn_of(reinterpret_cast<uv_handle_t*>(stream));
  Server* self = c->server;
  self->in_read_cb_ = true;  // replies may wait for the check phase (write_batch.cc)
  self->on_read(*c, nread, buf);
  self->in_read_cb_ = false;
}

void Server::on_read(Connection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || c.closed) return;
  if (nread < 0) {
    c.read_eof = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.handle));
    c.reading = false;
    if (nread != UV_EOF || c.blocked || c.undelivered_grants.has_waiter_grant()) {
      // A blocked client that goes away leaves the queue (Redis frees it on EOF too); one whose
      // waiter grant the kernel has not yet taken gets it released (see deliver_events()). A
      // reset (not EOF) releases the grants made at once whose reply is not yet taken as well.
      close_connection(c);
    } else {
      // Half-close: every complete request already read has been answered or is queued for
      // writing; close once it is written.
      c.close_after_write = true;
      flush(c);
    }
    drain();
    return;
  }
  // Cluster mode: a follower forwards what it reads, and the leader's grant reaches the follower's
  // upstream connection (delivered there) even when this client is gone. So requests read from a
  // connection its peer has already reset are neither run nor forwarded (one poll per read). A
  // single node needs no poll: it gives such grants back (see deliver_events()).
  if (cluster_enabled() && peer_reset(c)) {
    close_connection(c);
    drain();
    return;
  }
  if (c.tls != nullptr) {
    tls_on_read(c, std::string_view(buf->base, static_cast<std::size_t>(nread)));
    drain();
    return;
  }
  c.last_activity = now_ms();
  const std::string_view data(buf->base, static_cast<std::size_t>(nread));
  if (c.in.empty()) {
    process_input(c, data, true);
  } else {
    c.in.append(data);
    process_input(c, c.in, false);
  }
  drain();
}

void Server::process_input(Connection& c, std::string_view data, bool from_shared) {
  if (from_shared) {
    // Nothing was buffered: no request is unfinished, the framing starts afresh.
    c.resp_cursor.reset();
    c.http_cursor = http::Cursor{};
    c.json_scanned = 0;
  }
  const Millis now = now_ms();
  const std::uint64_t requests_before = total_requests_;
  const std::size_t consumed = c.closed ? data.size() : process_requests(c, data, now);
  c.held_requests += total_requests_ - requests_before;
  if (c.closed) return;
  // Stopped because the unsent output passed the soft cap (not for lack of a whole request)?
  const bool throttled = !c.blocked && !c.close_after_write && consumed < data.size() &&
                         c.pending_output() >= c.soft_output_cap();
  // Stopped for lack of a whole request: it has begun, and must end within request_timeout.
  if (consumed < data.size() && c.can_execute()) {
    if (consumed > 0 || c.request_started == 0) c.request_started = now;
  } else {
    c.request_started = 0;
  }
  if (from_shared) {
    if (consumed < data.size() && !c.close_after_write) {
      c.in = take_buffer();
      c.in.assign(data.substr(consumed));
    }
  } else {
    c.in.erase(0, consumed);
  }
  if (c.close_after_write || c.in.empty()) give_buffer(c.in);
  if (!c.close_after_write && is_pre_auth(c) && c.in.size() > bounds::kUnauthenticatedInputCap) {
    // SPEC §8: before auth only a few KB may be buffered, whatever the protocol.
    refuse_pre_auth_input(c);
    return;
  }
  if ((c.blocked || c.pending_output() < c.soft_output_cap()) && c.in.size() > input_cap(c)) {
    // A request larger than any the protocol allows: the client is broken or hostile. A blocked
    // connection is closed too rather than no longer read (Redis closes a client past its query
    // buffer limit, blocked or not): unread, its close would go unnoticed until a grant is
    // written into it, and that grant would then be kept for its whole TTL.
    log::warn("Closing connection over its input buffer cap", {{"client", c.client.addr}});
    give_buffer(c.in);
    close_connection(c);
    return;
  }
  flush_soon(c);
  // If the kernel took all of it at once no write callback will come: resume from the loop.
  if (throttled && c.can_execute() && !c.in.empty()) ready_.push_back(c.id);
}

std::size_t Server::process_requests(Connection& c, std::string_view data, Millis now) {
  if (c.metrics_port) return process_metrics_http(c, data);
  if (c.denied) return refuse_protected(c, data);
  current_conn_ = c.id;
  if (c.protocol == WireProtocol::kUnknown) {
    c.protocol = detect_protocol(data);
    if (c.protocol == WireProtocol::kUnknown) return 0;
  }
  buffer_pool_.fill(c.out);
  // running_ is &c while c's requests run, restored however this returns.
  struct Running {
    Connection*& slot;
    Connection* const outer;
    ~Running() { slot = outer; }
  } running{running_, running_};
  running_ = &c;
  switch (c.protocol) {
    case WireProtocol::kJson:
      return process_json(c, data, now);
    case WireProtocol::kHttp:
      return process_http(c, data, now);
    default:
      return process_resp(c, data, now);
  }
}

void Server::update_reading(Connection& c) {
  if (c.closed) return;
  // A blocked connection is always read, whatever its output, so that a close is noticed at once
  // (past its input cap process_input() closes it); any other stops being read while its
  // replies are not being taken.
  const bool want = !c.read_eof && !c.close_after_write && (!shutting_down_ || c.metrics_port) &&
                    (c.blocked || c.pending_output() < c.soft_output_cap());
  auto* stream = reinterpret_cast<uv_stream_t*>(&c.handle);
  if (want && !c.reading) {
    if (uv_read_start(stream, alloc_cb, read_cb) == 0) c.reading = true;
  } else if (!want && c.reading) {
    uv_read_stop(stream);
    c.reading = false;
  }
}

// Write -------------------------------------------------------------------------------------------

void Server::flush(Connection& c) {
  if (c.closed) return;
  // Every reply written so far is whole: a grant made at once ends with its command's reply (the
  // dispatch loops seal after each command; this catches any other writer).
  seal_grants(c);
  // fsync=always, Raft: sent once the batch is durable (commit_pipeline.h).
  if (pipeline_.hold(c.id, engine_->has_mutations())) return;
  if (c.tls != nullptr) {
    if (!tls_flush(c)) return;
  } else if (!c.writing && !c.out.empty()) {
    // A waiter grant's reply may have waited (fsync=always, other work of this drain) since
    // deliver_events() checked the peer: check again before the kernel takes it.
    if (c.undelivered_grants.has_waiter_grant() && peer_closed(c)) {
      close_connection(c);
      return;
    }
    uv_buf_t b = uv_buf_init(c.out.data(), static_cast<unsigned>(c.out.size()));
    auto* stream = reinterpret_cast<uv_stream_t*>(&c.handle);
    int n = uv_try_write(stream, &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      close_connection(c);
      return;
    }
    if (n > 0) note_sent(c, static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) == c.out.size()) {
      give_buffer(c.out);
    } else {
      c.out.erase(0, static_cast<std::size_t>(n));
      std::swap(c.inflight, c.out);
      c.writing = true;
      b = uv_buf_init(c.inflight.data(), static_cast<unsigned>(c.inflight.size()));
      const int rc = uv_write(&c.write_req, stream, &b, 1, write_cb);
      if (rc != 0) {
        c.writing = false;
        close_connection(c);
        return;
      }
    }
  }
  if (c.out.empty() && c.out.capacity() > 0) give_buffer(c.out);
  c.held_from = c.out.size();  // released: what is written from here on may be held
  c.held_requests = 0;
  if (!c.writing && c.out.empty() && c.close_after_write) {
    close_connection(c);
    return;
  }
  const std::size_t pending = c.pending_output();
  if (pending > kHardOutputCap) {
    log::warn("Closing connection over its output buffer hard cap", {{"client", c.client.addr}});
    metrics_.count_client_closed(Metrics::CloseReason::kOutput);
    close_connection(c);
    return;
  }
  if (pending > c.soft_output_cap()) {
    if (c.over_soft_since == 0) c.over_soft_since = now_ms();
  } else {
    c.over_soft_since = 0;
  }
  update_reading(c);
  account(c);
}

void Server::write_cb(uv_write_t* req, int status) {
  Connection* c = conn_of(reinterpret_cast<uv_handle_t*>(req->handle));
  c->writing = false;
  if (c->closed) return;  // buffers are released in close_cb
  Server* self = c->server;
  if (status == 0) note_sent(*c, c->inflight.size());
  self->give_buffer(c->inflight);
  if (status < 0) {
    self->close_connection(*c);
  } else {
    self->flush(*c);
    // Requests held back by the output cap run again once the client has taken its replies.
    if (c->can_execute() && !c->in.empty()) self->ready_.push_back(c->id);
  }
  self->drain();
}

// Close -------------------------------------------------------------------------------------------

void Server::close_connection(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  const Millis now = now_ms();
  if (c.blocked) {
    // If the engine already answered this waiter (the event is not yet delivered), keep the
    // pending entry: deliver_events() then finds no connection and releases the grant.
    if (engine_->cancel_waiter(c.waiter) || engine_->data().cancel_pop_waiter(c.wait_tag)) waits_.erase(c.wait_tag);
    c.blocked = false;
  }
  // Waiter grants the kernel never took were not delivered: released and passed on (SPEC §1),
  // unless another request of the same owner has refreshed the holder since (see deliver_events()).
  c.undelivered_grants.for_each_to_give_back([&](const GrantView& g) {
    engine_->release_unrefreshed(g.key, g.owner, g.fence, g.deadline, now, g.added_mark);
  });
  c.undelivered_grants.clear();
  for (const auto& s : c.sessions) engine_->release_fenced(s.key, s.owner, s.fence, now);
  c.sessions.clear();
  pubsub_forget(c);
  notify_forget(c);
  forward_client_closed(c);  // its upstream to the leader closes (SESSION holders there)
  if (c.metrics_port) {
    --metrics_connections_;
    std::erase(metrics_conns_, &c);
  }
  connections_.erase(c.id);
  account(c);  // its buffers leave the totals now
  uv_close(reinterpret_cast<uv_handle_t*>(&c.handle), close_cb);
  // Freed now, not in close_cb: close callbacks run only after every read of this loop
  // iteration, and a burst of clients closed at max_client_memory_mb must not hold their buffers
  // until then. uv_close has closed the socket, so nothing reads `inflight` any more (a pending
  // write is only cancelled).
  give_buffer(c.in);
  give_buffer(c.out);
  give_buffer(c.inflight);
  if (shutting_down_ && !c.metrics_port) close_metrics_port_if_drained();
}

void Server::close_cb(uv_handle_t* handle) {
  Connection* c = conn_of(handle);
  tls::free_session(c->tls);
  if (c->server) {
    c->server->give_buffer(c->in);
    c->server->give_buffer(c->out);
    c->server->give_buffer(c->inflight);
  }
  delete c;
}

// Events and the drain loop -----------------------------------------------------------------------

void Server::drain() {
  if (draining_) return;
  draining_ = true;
  for (;;) {
    if (engine_->has_events() || engine_->data().has_pop_events()) {
      deliver_events(now_ms());
      continue;
    }
    if (engine_->has_lost()) {  // lost-lock notices (notify.cc)
      notify_deliver();
      continue;
    }
    if (!ready_.empty()) {
      const std::uint64_t id = ready_.back();
      ready_.pop_back();
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      Connection& c = *it->second;
      if (c.closed || c.blocked) continue;
      if (!c.in.empty()) {
        process_input(c, c.in, false);
      } else {
        flush(c);
      }
      continue;
    }
    if (!deferred_.empty()) {
      std::vector<std::function<void()>> run;
      run.swap(deferred_);
      for (auto& fn : run) fn();
      continue;
    }
    if (commit_after_drain()) continue;  // the batch's journal write (and fsync) or proposal
    break;
  }
  draining_ = false;
}

void Server::on_session_grant(redis::ClientState& client, std::string_view key,
                              std::string_view owner, std::uint64_t fence, bool lived) {
  auto it = connections_.find(client.id);
  if (it != connections_.end()) add_session(*it->second, key, owner, fence, lived);
}

void Server::add_session(Connection& c, std::string_view key, std::string_view owner,
                         std::uint64_t fence, bool lived) {
  persistence_note_session(fence);
  if (lived) engine_->mark_lived(key, owner, fence);  // replicated (session_lock.cc)
  for (auto& s : c.sessions) {
    if (s.key == key && s.owner == owner) {
      s.fence = fence;
      s.lived = lived;
      return;
    }
  }
  c.sessions.push_back({std::string(key), std::string(owner), fence, lived});
  if (c.sessions.size() >= c.sessions_pruned_at) {
    // Drop bindings whose holder is gone (released or expired), so a long-lived connection that
    // takes many session locks does not grow this list without bound.
    const Millis now = now_ms();
    std::erase_if(c.sessions, [&](const SessionHolder& s) {
      const auto info = engine_->info(s.key, now);
      if (!info) return true;
      for (const auto& h : info->holders) {
        if (h.owner == s.owner && h.fence == s.fence) return false;
      }
      return true;
    });
    c.sessions_pruned_at = std::max<std::size_t>(16, 2 * c.sessions.size());
  }
}

}  // namespace semlock
