// Prometheus metrics of SPEC §6, declared here and rendered with prometheus-cpp's serializer.
// The metrics port is served from the server's own loop (so /health and /ready can answer 503,
// which prometheus-cpp's Exposer cannot): a scrape is a short serialization on the loop, never a
// walk of the engine under a lock, and no other thread touches the engine.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "engine/engine.h"

namespace semlock {

enum class RequestResult : std::uint8_t { kOk, kNotGranted, kQueued, kError, kRejected, kCount };

class Metrics {
 public:
  Metrics();

  // Counts one request. `command` comes from a closed set (the command table's names, the JSON
  // actions, or "other"); `protocol` is resp, json or http. Both must point into static storage
  // (string literals or the command table): counters are cached by address. The counts gather in
  // plain integers (no atomic, no lock per request) and reach the Prometheus counter and
  // histogram at flush(), which render() calls first, so a scrape always sees every request.
  void count_request(std::string_view command, std::string_view protocol, RequestResult result,
                     double seconds);
  void flush();
  void count_auth_failure() { auth_failures_->Increment(); }

  // Why the server closed a client (ttl_semlock_clients_closed_total{reason}).
  enum class CloseReason : std::uint8_t { kMemory, kRequestTimeout, kIdle, kOutput, kCount };
  void count_client_closed(CloseReason r) {
    clients_closed_[static_cast<std::size_t>(r)]->Increment();
  }
  // Why a new connection was refused (ttl_semlock_rejected_connections_total{reason}).
  enum class RefuseReason : std::uint8_t { kMaxConnections, kFdLimit, kCount };
  void count_rejected_connection(RefuseReason r) {
    rejected_connections_[static_cast<std::size_t>(r)]->Increment();
  }

  struct Snapshot {
    EngineStats engine;
    std::uint64_t connections = 0;
    std::uint64_t locks_limit = 0;
    std::uint64_t memory_limit_bytes = 0;
    std::uint64_t rss_bytes = 0;
    double cpu_seconds = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t client_buffer_bytes = 0;
    double start_time_seconds = 0;
  };
  // Brings the gauges and the engine-derived counters up to date.
  void update(const Snapshot& s);
  // The text exposition of every metric.
  std::string render();
  // For metrics declared next to their module (server/cluster_metrics.h).
  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_family_;
  prometheus::Family<prometheus::Counter>* rejected_family_;
  prometheus::Family<prometheus::Counter>* exceeded_family_;
  prometheus::Histogram* duration_;
  prometheus::Counter* auth_failures_;
  prometheus::Counter* expired_;
  std::array<prometheus::Counter*, 3> rejected_{};  // max_locks, memory, max_waiters
  std::array<prometheus::Counter*, 2> exceeded_{};  // max_locks, memory
  prometheus::Gauge* active_locks_;
  prometheus::Gauge* memory_mb_;
  prometheus::Gauge* memory_bytes_;
  prometheus::Gauge* memory_limit_mb_;
  prometheus::Gauge* locks_limit_;
  prometheus::Gauge* connections_;
  prometheus::Gauge* holders_;
  prometheus::Gauge* waiters_;
  prometheus::Gauge* rss_;
  prometheus::Counter* cpu_;
  double seen_cpu_ = 0;
  prometheus::Gauge* fds_;
  prometheus::Gauge* client_buffers_;
  std::array<prometheus::Counter*, static_cast<std::size_t>(CloseReason::kCount)> clients_closed_{};
  std::array<prometheus::Counter*, static_cast<std::size_t>(RefuseReason::kCount)>
      rejected_connections_{};
  prometheus::Gauge* start_time_;
  // Keyed by the label strings' addresses: labels come from static tables and literals, so the
  // hot path hashes two pointers instead of building a string per request.
  using RequestKey = std::tuple<const char*, const char*, std::uint8_t>;
  struct RequestCounter {
    prometheus::Counter* counter;
    std::uint64_t pending = 0;  // counted, not yet added to `counter`
  };
  absl::flat_hash_map<RequestKey, RequestCounter> request_counters_;
  // The last key's entry: a pipeline repeats one command. Valid until the next insert, which
  // sets it to the new entry.
  RequestKey last_key_{};
  RequestCounter* last_counter_ = nullptr;
  bool pending_requests_ = false;
  // Durations not yet in duration_: per bucket (duration_bounds_, then +Inf), and their sum.
  std::vector<double> duration_bounds_;
  std::vector<double> pending_buckets_;
  double pending_sum_ = 0;
  std::uint64_t pending_observations_ = 0;
  // Engine counters already added to the Prometheus counters (they only increment).
  std::uint64_t seen_expired_ = 0;
  std::array<std::uint64_t, 3> seen_rejected_{};
  std::array<std::uint64_t, 2> seen_exceeded_{};
};

}  // namespace semlock
