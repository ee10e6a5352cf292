#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <string_view>
#include <vector>

namespace semlock {

// Why a lock waits, per key prefix (metrics.key_prefixes; every other key is prefix="other", so
// the label values stay a closed set):
//   ttl_semlock_wait_duration_seconds{prefix,result}  histogram of how long blocking acquires
//                                                      waited, result granted or timeout
//   ttl_semlock_waiter_timeouts_total{prefix}          waits that ran out
//   ttl_semlock_longest_wait_seconds                   age of the oldest waiter now queued
class WaitMetrics {
 public:
  WaitMetrics(prometheus::Registry& registry, std::vector<std::string> prefixes);

  // The label of `key`: the longest configured prefix it starts with, or "other".
  std::string_view prefix_of(std::string_view key) const;
  // A wait ended after `seconds`: granted, or timed out.
  void observe(std::string_view key, bool granted, double seconds);
  void set_longest_wait(double seconds) { longest_->Set(seconds); }

 private:
  struct PerPrefix {
    prometheus::Histogram* granted;
    prometheus::Histogram* timeout;
    prometheus::Counter* timeouts;
  };
  std::vector<std::string> prefixes_;  // longest first
  std::vector<PerPrefix> series_;      // parallel to prefixes_, then "other" last
  prometheus::Gauge* longest_;
};

}  // namespace semlock
