#include "bench/loadgen/probe.h"

#include <pthread.h>
#include <sched.h>

#include <fmt/format.h>

#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "bench/loadgen/stats.h"

namespace loadgen {

std::string run_probe(int cpu) {
  if (cpu < 0) return {};
  constexpr size_t kSlots = (4u << 20) / sizeof(uint32_t);
  constexpr int kSteps = 200000;
  constexpr int kAlu = 2000000;
  // One random cycle through every slot (Sattolo), built before moving to the probed CPU.
  std::vector<uint32_t> next(kSlots);
  std::iota(next.begin(), next.end(), 0u);
  std::mt19937 rng(42);
  for (size_t i = kSlots - 1; i > 0; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);
    std::swap(next[i], next[pick(rng)]);
  }
  double walk_ns = 0, alu_ns = 0;
  std::thread t([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    volatile uint32_t sink = 0;
    uint32_t p = 0;
    for (int i = 0; i < kSteps / 4; ++i) p = next[p];  // warm the TLB and caches a little
    int64_t t0 = now_ns();
    for (int i = 0; i < kSteps; ++i) p = next[p];
    int64_t t1 = now_ns();
    uint64_t x = p | 1;
    for (int i = 0; i < kAlu; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    int64_t t2 = now_ns();
    sink = static_cast<uint32_t>(x);
    (void)sink;
    walk_ns = static_cast<double>(t1 - t0) / kSteps;
    alu_ns = static_cast<double>(t2 - t1) / kAlu;
  });
  t.join();
  return fmt::format(",\"probe_cpu\":{},\"probe_walk_ns\":{:.2f},\"probe_alu_ns\":{:.3f}", cpu,
                     walk_ns, alu_ns);
}

}  // namespace loadgen
