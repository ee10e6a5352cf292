// Latency samples and the summaries the harness reads (percentiles in microseconds).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <vector>

namespace loadgen {

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CLOCK_REALTIME, the clock of the kernel's receive timestamps (SO_TIMESTAMPNS).
inline int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Nanosecond samples from one or more threads; percentiles by sorting once at the end, which is
// exact and cheap at the sample counts a few-second run produces.
class Samples {
 public:
  void add(int64_t ns) { v_.push_back(ns); }
  void merge(const Samples& other) { v_.insert(v_.end(), other.v_.begin(), other.v_.end()); }
  size_t size() const { return v_.size(); }

  // The q-quantile (0..1) in microseconds; 0 when there are no samples.
  double quantile_us(double q) {
    if (v_.empty()) return 0;
    if (!sorted_) {
      std::sort(v_.begin(), v_.end());
      sorted_ = true;
    }
    size_t i = static_cast<size_t>(q * static_cast<double>(v_.size() - 1) + 0.5);
    return static_cast<double>(v_[std::min(i, v_.size() - 1)]) / 1000.0;
  }

 private:
  std::vector<int64_t> v_;
  bool sorted_ = false;
};

}  // namespace loadgen
