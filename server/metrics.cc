#include "server/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace semlock {
namespace {

constexpr std::string_view kResultNames[] = {"ok", "not_granted", "queued", "error", "rejected"};

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& reg = *registry_;
  requests_family_ = &BuildCounter()
                          .Name("ttl_semlock_requests_total")
                          .Help("Requests by command, protocol and result")
                          .Register(reg);
  rejected_family_ = &BuildCounter()
                          .Name("ttl_semlock_rejected_requests_total")
                          .Help("Acquires rejected at a limit, by reason")
                          .Register(reg);
  exceeded_family_ =
      &BuildCounter()
           .Name("ttl_semlock_limit_exceeded_total")
           .Help("Acquires granted past a limit with reject_requests=false, by reason")
           .Register(reg);
  const char* reasons[] = {"max_locks_reached", "memory_limit_reached", "max_waiters_reached"};
  for (std::size_t i = 0; i < rejected_.size(); ++i) {
    rejected_[i] = &rejected_family_->Add({{"reason", reasons[i]}});
  }
  for (std::size_t i = 0; i < exceeded_.size(); ++i) {
    exceeded_[i] = &exceeded_family_->Add({{"reason", reasons[i]}});
  }
  // 1-2.5-5 steps from 1 µs to 1 s: nine buckets below a millisecond, where a lock server's
  // requests are (factor-4 steps could not tell 70 µs from 250 µs).
  const prometheus::Histogram::BucketBoundaries buckets{
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
      2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0};
  duration_ = &BuildHistogram()
                   .Name("ttl_semlock_request_duration_seconds")
                   .Help("Time to execute a request on the loop (not counting waits)")
                   .Register(reg)
                   .Add({}, buckets);
  duration_bounds_ = buckets;
  pending_buckets_.assign(buckets.size() + 1, 0.0);
  auth_failures_ = &BuildCounter()
                        .Name("ttl_semlock_auth_failures_total")
                        .Help("Failed authentications")
                        .Register(reg)
                        .Add({});
  expired_ = &BuildCounter()
                  .Name("ttl_semlock_expired_total")
                  .Help("Holders removed because their TTL passed")
                  .Register(reg)
                  .Add({});
  auto gauge = [&reg](const char* name, const char* help) {
    return &BuildGauge().Name(name).Help(help).Register(reg).Add({});
  };
  active_locks_ = gauge("ttl_semlock_active_locks", "Lock keys that exist");
  memory_mb_ = gauge("ttl_semlock_memory_usage_mb", "Used memory as the limits count it, MiB");
  memory_bytes_ = gauge("ttl_semlock_memory_usage_bytes", "Used memory as the limits count it");
  memory_limit_mb_ = gauge("ttl_semlock_memory_limit_mb", "limits.max_memory_mb (0 = unlimited)");
  locks_limit_ = gauge("ttl_semlock_locks_limit", "limits.max_locks (0 = unlimited)");
  connections_ = gauge("ttl_semlock_connections", "Open client connections");
  holders_ = gauge("ttl_semlock_holders", "Permits held");
  waiters_ = gauge("ttl_semlock_waiters", "Queued blocking acquires");
  rss_ = gauge("process_resident_memory_bytes", "Resident memory size in bytes");
  fds_ = gauge("process_open_fds", "Number of open file descriptors");
  start_time_ = gauge("process_start_time_seconds", "Start time of the process since unix epoch");
  client_buffers_ = gauge("ttl_semlock_client_buffers_bytes",
                          "Connection input and output buffers (bounded by "
                          "server.max_client_memory_mb, not counted in used memory)");
  auto& closed = BuildCounter()
                     .Name("ttl_semlock_clients_closed_total")
                     .Help("Client connections the server closed, by reason")
                     .Register(reg);
  const char* close_reasons[] = {"memory", "request_timeout", "idle", "output"};
  for (std::size_t i = 0; i < clients_closed_.size(); ++i) {
    clients_closed_[i] = &closed.Add({{"reason", close_reasons[i]}});
  }
  auto& refused = BuildCounter()
                      .Name("ttl_semlock_rejected_connections_total")
                      .Help("New connections refused, by reason")
                      .Register(reg);
  const char* refuse_reasons[] = {"max_connections", "fd_limit"};
  for (std::size_t i = 0; i < rejected_connections_.size(); ++i) {
    rejected_connections_[i] = &refused.Add({{"reason", refuse_reasons[i]}});
  }
  cpu_ = &BuildCounter()
              .Name("process_cpu_seconds_total")
              .Help("Total user and system CPU time spent in seconds")
              .Register(reg)
              .Add({});
}

void Metrics::count_request(std::string_view command, std::string_view protocol,
                            RequestResult result, double seconds) {
  const RequestKey key{command.data(), protocol.data(), static_cast<std::uint8_t>(result)};
  if (last_counter_ == nullptr || key != last_key_) {
    auto it = request_counters_.find(key);
    if (it == request_counters_.end()) {
      auto* counter = &requests_family_->Add(
          {{"command", std::string(command)},
           {"protocol", std::string(protocol)},
           {"result", std::string(kResultNames[static_cast<std::size_t>(result)])}});
      it = request_counters_.emplace(key, RequestCounter{counter}).first;
    }
    last_key_ = key;
    last_counter_ = &it->second;
  }
  ++last_counter_->pending;
  pending_requests_ = true;
  // The histogram's bucket: the first bound >= the value (as Histogram::Observe); most requests
  // take microseconds, so the scan stops at once.
  std::size_t b = 0;
  while (b < duration_bounds_.size() && seconds > duration_bounds_[b]) ++b;
  pending_buckets_[b] += 1;
  pending_sum_ += seconds;
  ++pending_observations_;
}

void Metrics::flush() {
  if (pending_requests_) {
    for (auto& [key, c] : request_counters_) {
      if (c.pending == 0) continue;
      c.counter->Increment(static_cast<double>(c.pending));
      c.pending = 0;
    }
    pending_requests_ = false;
  }
  if (pending_observations_ != 0) {
    duration_->ObserveMultiple(pending_buckets_, pending_sum_);
    std::fill(pending_buckets_.begin(), pending_buckets_.end(), 0.0);
    pending_sum_ = 0;
    pending_observations_ = 0;
  }
}

void Metrics::update(const Snapshot& s) {
  const EngineStats& e = s.engine;
  active_locks_->Set(static_cast<double>(e.active_locks));
  holders_->Set(static_cast<double>(e.holders));
  waiters_->Set(static_cast<double>(e.waiters));
  memory_bytes_->Set(static_cast<double>(e.memory_bytes));
  memory_mb_->Set(static_cast<double>(e.memory_bytes) / (1024.0 * 1024.0));
  memory_limit_mb_->Set(static_cast<double>(s.memory_limit_bytes) / (1024.0 * 1024.0));
  locks_limit_->Set(static_cast<double>(s.locks_limit));
  connections_->Set(static_cast<double>(s.connections));
  rss_->Set(static_cast<double>(s.rss_bytes));
  fds_->Set(static_cast<double>(s.open_fds));
  client_buffers_->Set(static_cast<double>(s.client_buffer_bytes));
  start_time_->Set(s.start_time_seconds);
  if (s.cpu_seconds > seen_cpu_) {
    cpu_->Increment(s.cpu_seconds - seen_cpu_);
    seen_cpu_ = s.cpu_seconds;
  }
  auto advance = [](prometheus::Counter* c, std::uint64_t now, std::uint64_t& seen) {
    if (now > seen) {
      c->Increment(static_cast<double>(now - seen));
      seen = now;
    }
  };
  advance(expired_, e.expired_holders, seen_expired_);
  advance(rejected_[0], e.rejected_max_locks, seen_rejected_[0]);
  advance(rejected_[1], e.rejected_memory, seen_rejected_[1]);
  advance(rejected_[2], e.rejected_max_waiters, seen_rejected_[2]);
  advance(exceeded_[0], e.exceeded_max_locks, seen_exceeded_[0]);
  advance(exceeded_[1], e.exceeded_memory, seen_exceeded_[1]);
}

std::string Metrics::render() {
  flush();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace semlock
