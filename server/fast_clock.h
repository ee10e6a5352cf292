// Per-request durations from the CPU's time-stamp counter (issue 18): a pipelined request read
// the monotonic clock once for the latency histogram, ~28 ns through the vDSO on the bench VM
// (3–5% of the server's time under pipelined acquires), where reading the counter takes ~13 ns.
//
// The counter is used only when the CPU says it runs at a constant rate in every power state
// (CPUID 0x80000007, EDX bit 8: "invariant TSC", which the kernel also requires to keep it as its
// clock source), and only once calibrate() has seen 100 ms of it against uv_hrtime(); until then,
// and on other CPUs, stamps are uv_hrtime() nanoseconds. Two stamps are compared only within one
// loop callback (calibrate() runs from the tick timer), so both are in the same units.
#pragma once

#include <uv.h>

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace semlock {

class FastClock {
 public:
  FastClock() {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000007u, &a, &b, &c, &d) != 0 && (d & (1u << 8)) != 0) {
      invariant_ = true;
      tsc0_ = __rdtsc();
      ns0_ = uv_hrtime();
    }
#endif
  }

  std::uint64_t stamp() const {
#if defined(__x86_64__)
    if (ns_per_tick_ > 0) return __rdtsc();
#endif
    return uv_hrtime();
  }

  // Seconds from stamp `from` to stamp `to` (0 if the counter went backwards).
  double seconds(std::uint64_t from, std::uint64_t to) const {
    if (to <= from) return 0;
    const double d = static_cast<double>(to - from);
    return (ns_per_tick_ > 0 ? d * ns_per_tick_ : d) / 1e9;
  }

  // Nanoseconds per counter tick, from the counter and uv_hrtime() since construction.
  void calibrate() {
#if defined(__x86_64__)
    if (!invariant_) return;
    const std::uint64_t ns = uv_hrtime() - ns0_;
    const std::uint64_t ticks = __rdtsc() - tsc0_;
    if (ns >= 100'000'000 && ticks > 0) {
      ns_per_tick_ = static_cast<double>(ns) / static_cast<double>(ticks);
    }
#endif
  }

  bool uses_counter() const { return ns_per_tick_ > 0; }

 private:
  bool invariant_ = false;
  std::uint64_t tsc0_ = 0;
  std::uint64_t ns0_ = 0;
  double ns_per_tick_ = 0;  // 0: stamps are uv_hrtime() nanoseconds
};

}  // namespace semlock
