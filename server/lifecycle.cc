// The loop's timers, signals and shutdown: the expiry tick, housekeeping (limits warnings,
// gauges, persistence), SIGTERM/SIGINT with a grace period and SIGHUP (log reopen).
#include <malloc.h>

#include <algorithm>
#include <chrono>

#include "redis-compat/errors.h"
#include "server/bounds.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/process_stats.h"
#include "server/sd_notify.h"
#include "server/server.h"

namespace semlock {
namespace {
constexpr Millis kShutdownGrace = 5000;
}  // namespace
// Timers, signals, shutdown
// -------------------------------------------------------------------------

void Server::tick_cb(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  self->request_clock_.calibrate();
  // Cluster mode: only the serving leader expires (by proposing it); followers never do.
  if (!self->cluster_refuses_writes()) self->engine_->tick(self->now_ms());
  if (self->cluster_) self->cluster_->ping(self->now_ms());  // liveness for the Raft sidecar
  self->notify_tick();  // notify.cc: lost-lock notices held back by the last tick's budget
  self->pubsub_tick();  // pubsub.cc: paced PUBLISHes go on
  self->drain();
}

void Server::housekeeping_cb(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  self->housekeeping();
  self->drain();
}

void Server::signal_cb(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  if (signum == SIGHUP) {
    const std::string err = log::reopen();
    if (!err.empty()) log::error(err);
    log::info("Log file reopened (SIGHUP)");
    self->reload_config();  // config_live.cc: the file again, keys and certificates rotated
    self->drain();
    return;
  }
  log::info(signum == SIGTERM ? "SIGTERM received, shutting down"
                              : "SIGINT received, shutting down");
  self->begin_shutdown();
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  ready_for_traffic_ = false;
  sd::stopping();
  if (config_.server.port != 0) uv_close(reinterpret_cast<uv_handle_t*>(&lock_listener_), nullptr);
  tls_close_listener();
  stop_write_batching();
  // The metrics port stays open (answering /ready 503) until the lock connections are gone.
  uv_timer_stop(&tick_timer_);
  uv_timer_stop(&housekeeping_timer_);
  cluster_stop();
  forward_stop();
  for (auto& s : signals_) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
  // No connection executes anything more; waiters are answered "not acquired"; pending replies
  // are flushed, then every connection closes.
  std::vector<Connection*> all;
  all.reserve(connections_.size());
  for (auto& [id, c] : connections_) {
    if (c->metrics_port) continue;
    c->close_after_write = true;
    all.push_back(c);
  }
  engine_->time_out_all_waiters();
  engine_->data().time_out_all_pop_waiters();
  drain();
  for (Connection* c : all) {
    if (connections_.contains(c->id) && !c->closed) flush(*c);
  }
  drain();
  uv_timer_start(&shutdown_timer_, shutdown_timeout_cb, kShutdownGrace, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&shutdown_timer_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&housekeeping_timer_), nullptr);
  close_metrics_port_if_drained();
}

void Server::close_metrics_port_if_drained() {
  if (!shutting_down_ || connections_.size() > metrics_connections_) return;
  if (metrics_listening_) {
    metrics_listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&metrics_listener_), nullptr);
  }
  // Scrapers and probes: a reply being written still goes out, then the connection closes.
  std::vector<Connection*> metrics;
  for (auto& [id, c] : connections_) metrics.push_back(c);
  for (Connection* c : metrics) {
    if (!c->closed) {
      c->close_after_write = true;
      flush(*c);
    }
  }
}

void Server::shutdown_timeout_cb(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  std::vector<Connection*> all;
  for (auto& [id, c] : self->connections_) all.push_back(c);
  if (!all.empty()) {
    log::info("Shutdown grace period over; closing the connections left",
              {{"connections", all.size()}});
  }
  for (Connection* c : all) self->close_connection(*c);
  uv_close(reinterpret_cast<uv_handle_t*>(timer), nullptr);
}

// Housekeeping
// --------------------------------------------------------------------------------------

void Server::housekeeping() {
  const Millis now = now_ms();
  sweep_connections(now);
  notify_housekeeping(now);
  // Connection buffers are bounded by server.max_client_memory_mb and reported, but are not used
  // memory for the limits (SPEC §2): no client's traffic can push others into OVERLIMIT.
  std::uint64_t external = read_buffer_.capacity() + client_memory_ + preauth_memory_;
  external += buffer_pool_.bytes();
  external_bytes_ = external;
  // The script heap (redis-compat's Lua allocator) does count.
  engine_->set_external_memory(script_heap_bytes_);

  const ProcessStats p = process_stats(true);  // the fd count walks /proc: once per interval
  rss_bytes_ = p.rss_bytes;
  open_fds_ = p.open_fds;
  for (const LimitWarning& w : engine_->check_warnings(now)) {
    char text[160];
    if (w.kind == LimitWarning::Kind::kLocks) {
      std::snprintf(text, sizeof text, "Lock count warning: %.1f%% of limit (%llu/%llu)", w.percent,
                    static_cast<unsigned long long>(w.current),
                    static_cast<unsigned long long>(w.limit));
    } else {
      std::snprintf(text, sizeof text, "Memory warning: %.1f%% of limit (%.1f/%llu MB)", w.percent,
                    static_cast<double>(w.current) / (1024.0 * 1024.0),
                    static_cast<unsigned long long>(w.limit / (1024 * 1024)));
    }
    log::warn(text);
  }
  if (suppressed_rejections_ > 0 && now - last_rejection_log_ >= 1000) {
    log::warn("Acquire rejected due to limits (suppressed repeats)",
              {{"suppressed", suppressed_rejections_}});
    suppressed_rejections_ = 0;
    last_rejection_log_ = now;
  }
  persistence_housekeeping();
  cluster_housekeeping();
  update_metrics();
}

void Server::on_limit_rejection(EngineStatus status) {
  const Millis now = now_ms();
  if (now - last_rejection_log_ < 1000) {
    ++suppressed_rejections_;
    return;
  }
  last_rejection_log_ = now;
  log::Fields fields{{"reason", std::string(errors::limit_reason(status))}};
  if (suppressed_rejections_ > 0) {
    fields.emplace_back("suppressed", suppressed_rejections_);
    suppressed_rejections_ = 0;
  }
  log::warn("Acquire rejected due to limits", fields);
}

}  // namespace semlock
