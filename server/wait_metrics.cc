#include "server/wait_metrics.h"

#include <algorithm>

namespace semlock {

WaitMetrics::WaitMetrics(prometheus::Registry& registry, std::vector<std::string> prefixes)
    : prefixes_(std::move(prefixes)) {
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  prefixes_.erase(std::unique(prefixes_.begin(), prefixes_.end()), prefixes_.end());
  auto& hist = prometheus::BuildHistogram()
                   .Name("ttl_semlock_wait_duration_seconds")
                   .Help(
                       "How long blocking acquires (WAIT) waited, by key prefix and result "
                       "(granted, timeout)")
                   .Register(registry);
  auto& timeouts = prometheus::BuildCounter()
                       .Name("ttl_semlock_waiter_timeouts_total")
                       .Help("Blocking acquires whose wait ran out, by key prefix")
                       .Register(registry);
  // 1 ms .. about 5 min: lock waits are long next to request latencies.
  const prometheus::Histogram::BucketBoundaries buckets{
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  auto add = [&](const std::string& label) {
    series_.push_back({&hist.Add({{"prefix", label}, {"result", "granted"}}, buckets),
                       &hist.Add({{"prefix", label}, {"result", "timeout"}}, buckets),
                       &timeouts.Add({{"prefix", label}})});
  };
  for (const std::string& p : prefixes_) add(p);
  add("other");
  longest_ = &prometheus::BuildGauge()
                  .Name("ttl_semlock_longest_wait_seconds")
                  .Help("Age of the oldest blocking acquire still queued (0 when none)")
                  .Register(registry)
                  .Add({});
}

std::string_view WaitMetrics::prefix_of(std::string_view key) const {
  for (const std::string& p : prefixes_) {
    if (key.starts_with(p)) return p;
  }
  return "other";
}

void WaitMetrics::observe(std::string_view key, bool granted, double seconds) {
  std::size_t i = 0;
  while (i < prefixes_.size() && !key.starts_with(prefixes_[i])) ++i;
  PerPrefix& s = series_[i];
  if (granted) {
    s.granted->Observe(seconds);
  } else {
    s.timeout->Observe(seconds);
    s.timeouts->Increment();
  }
}

}  // namespace semlock
