// Connection bounds (see bounds.h): pre-auth caps, client memory accounting and eviction,
// request and idle deadlines, the metrics port's budget and the descriptor reserve.
#include "server/bounds.h"

#include <sys/ioctl.h>
#include <sys/resource.h>

#include <algorithm>

#include "protocol/http.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {

bool bounds::input_waiting(const Connection& c) {
  if (!c.reading || c.closed) return false;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&c.handle), &fd) != 0) return false;
  int unread = 0;
  return ::ioctl(fd, FIONREAD, &unread) == 0 && unread > 0;
}

using namespace bounds;

bool Server::is_pre_auth(const Connection& c) const {
  return !c.metrics_port && auth_required() && !c.client.authenticated && !c.json_authenticated &&
         !c.key_seen;
}

std::size_t Server::input_cap(const Connection& c) const {
  if (is_pre_auth(c)) return kUnauthenticatedInputCap;
  return 2 * config_.server.max_request_bytes + 64 * 1024;
}

void Server::refuse_pre_auth_input(Connection& c) {
  buffer_pool_.fill(c.out);
  switch (c.protocol) {
    case WireProtocol::kJson:
      json::write_error(c.out, "", "unauthenticated request too large", "BADREQUEST");
      metrics_.count_request("other", "json", RequestResult::kError, 0);
      break;
    case WireProtocol::kHttp: {
      std::string body;
      json::write_error(body, "", "unauthenticated request too large", "BADREQUEST");
      http::write_response(c.out, 413, "application/json", body, false);
      metrics_.count_request("other", "http", RequestResult::kError, 0);
      break;
    }
    default:
      c.out.append("-ERR Protocol error: unauthenticated request too large\r\n");
      metrics_.count_request("other", "resp", RequestResult::kError, 0);
      break;
  }
  give_buffer(c.in);
  c.close_after_write = true;
  flush(c);
}

void Server::account(Connection& c) {
  // Buffers only (Redis also counts its client struct; ours is fixed-size and bounded by
  // max_connections, so counting it would only make idle connections look like a flood).
  const bool pre_auth = !c.closed && is_pre_auth(c);
  const std::size_t bytes = c.closed ? 0 : c.buffer_bytes();
  (c.pre_auth ? preauth_memory_ : client_memory_) -= c.accounted;
  (pre_auth ? preauth_memory_ : client_memory_) += bytes;
  c.accounted = bytes;
  c.pre_auth = pre_auth;
  const std::uint64_t cap = config_.server.max_client_memory_mb * 1024 * 1024;
  if (cap > 0 && client_memory_ > cap && !c.closed) enforce_client_memory();
}

void Server::enforce_client_memory() {
  if (enforcing_memory_) return;
  enforcing_memory_ = true;
  const std::uint64_t cap = config_.server.max_client_memory_mb * 1024 * 1024;
  // Redis's maxmemory-clients: the connections holding the most go first. One sort, then as
  // many closes as it takes, so a flood over the bound costs O(n log n) once, not O(n) a close.
  std::vector<Connection*> by_size;
  by_size.reserve(connections_.size());
  for (auto& [id, c] : connections_) {
    if (!c->closed && !c->pre_auth && c->accounted > 0) by_size.push_back(c);
  }
  std::sort(by_size.begin(), by_size.end(),
            [](const Connection* a, const Connection* b) { return a->accounted > b->accounted; });
  const std::uint64_t total_before = client_memory_;
  std::size_t closed = 0;
  std::string largest;
  for (Connection* c : by_size) {
    if (client_memory_ <= cap) break;
    if (c->closed) continue;
    if (closed++ == 0) largest = c->client.addr + " (" + std::to_string(c->accounted) + " bytes)";
    metrics_.count_client_closed(Metrics::CloseReason::kMemory);
    close_connection(*c);
  }
  if (closed > 0) {
    log::warn("Closing the client with the largest buffers: server.max_client_memory_mb reached",
              {{"client", largest},
               {"closed", closed},
               {"total", total_before}});
  }
  enforcing_memory_ = false;
}

bool Server::refuse_at_fd_limit(Connection& c, bool metrics) {
  // Descriptors are handed out lowest first: an accepted descriptor this high means all below it
  // are taken. Read the limit each time (it can be changed from outside with prlimit).
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return false;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c.handle), &fd) != 0) return false;
  const auto limit = static_cast<long long>(rl.rlim_cur);
  if (static_cast<long long>(fd) < limit - (metrics ? kMetricsFdReserve : kFdReserve)) return false;
  metrics_.count_rejected_connection(Metrics::RefuseReason::kFdLimit);
  log_refused_connection("file descriptor limit reached (RLIMIT_NOFILE)");
  if (!metrics) {
    // Best effort, never blocking: a fresh socket's send buffer takes these few bytes.
    uv_buf_t b = uv_buf_init(const_cast<char*>(kMaxClientsError.data()),
                             static_cast<unsigned>(kMaxClientsError.size()));
    uv_try_write(reinterpret_cast<uv_stream_t*>(&c.handle), &b, 1);
  }
  c.closed = true;  // never registered: close_cb only frees it
  uv_close(reinterpret_cast<uv_handle_t*>(&c.handle), close_cb);
  return true;
}

void Server::log_refused_connection(const char* why) {
  const Millis now = now_ms();
  if (now - last_refused_log_ < kRefusedLogInterval) {
    ++suppressed_refused_;
    return;
  }
  log::Fields fields{{"reason", why}};
  if (suppressed_refused_ > 0)
    fields.emplace_back("suppressed", suppressed_refused_);
  log::warn("New connection refused", fields);
  last_refused_log_ = now;
  suppressed_refused_ = 0;
}

void Server::admit_metrics_connection() {
  if (metrics_conns_.size() < kMaxMetricsConnections) return;
  // Scrapers and probes need few: the least recently active one makes room, so a flood of idle
  // (or slow) connections cannot keep a health probe out.
  auto oldest = std::min_element(
      metrics_conns_.begin(), metrics_conns_.end(),
      [](const Connection* a, const Connection* b) { return a->last_activity < b->last_activity; });
  metrics_.count_client_closed(Metrics::CloseReason::kIdle);
  close_connection(**oldest);
}

void Server::sweep_connections(Millis now) {
  using Reason = Metrics::CloseReason;
  std::vector<std::pair<Connection*, Reason>> to_close;
  std::vector<Connection*> timed_out;  // began a request and did not finish it in time
  const Millis request_timeout = config_.server.request_timeout;
  for (auto& [id, c] : connections_) {
    if (c->closed) continue;
    if (c->over_soft_since != 0 && now - c->over_soft_since > kSoftOutputGrace) {
      to_close.emplace_back(c, Reason::kOutput);
    } else if (request_timeout > 0 && c->request_started != 0 && !c->close_after_write &&
               now - c->request_started > request_timeout) {
      if (!input_waiting(*c)) timed_out.push_back(c);
    } else if (past_session_heartbeat(*c, now)) {  // session_lock.cc
      to_close.emplace_back(c, Reason::kIdle);
    } else if (c->metrics_port && !c->writing && now - c->last_activity > kMetricsIdleTimeout &&
               !input_waiting(*c)) {
      to_close.emplace_back(c, Reason::kIdle);
    } else if (config_.server.idle_timeout > 0 && !c->blocked && !c->writing &&
               c->client.subscriptions() == 0 && !notify_watching(*c) &&
               now - c->last_activity > config_.server.idle_timeout && !input_waiting(*c)) {
      to_close.emplace_back(c, Reason::kIdle);
    }
  }
  for (auto [c, reason] : to_close) {
    log::info("Closing connection (idle or not reading its replies)", {{"client", c->client.addr}});
    metrics_.count_client_closed(reason);
    close_connection(*c);
  }
  for (Connection* c : timed_out) {
    // Slowloris: a request begun must be finished within server.request_timeout, however
    // steadily its bytes trickle in (each byte resets only the idle timer).
    log::info("Closing connection: request not completed within server.request_timeout",
              {{"client", c->client.addr}});
    metrics_.count_client_closed(Reason::kRequestTimeout);
    c->request_started = 0;
    if (c->protocol == WireProtocol::kHttp) {
      buffer_pool_.fill(c->out);
      std::string body;
      if (c->metrics_port) {
        body = "request timeout\n";
      } else {
        json::write_error(body, "", "request timeout", "BADREQUEST");
      }
      http::write_response(c->out, 408, c->metrics_port ? "text/plain" : "application/json", body,
                           false);
      give_buffer(c->in);
      c->close_after_write = true;
      flush(*c);
    } else {
      close_connection(*c);
    }
  }
}

}  // namespace semlock
