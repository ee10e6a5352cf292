#include "bench/loadgen/probe.h"

#include <pthread.h>
#include <sched.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <thread>

#include "bench/loadgen/stats.h"

namespace loadgen {

namespace {
constexpr size_t kSlots = (4u << 20) / sizeof(uint32_t);
constexpr int kSteps = 200000;
constexpr int kAlu = 2000000;
constexpr int kGapMs = 20;  // between readings while waiting for a quiet host
}  // namespace

Probe::Probe() : next_(kSlots) {
  // One random cycle through every slot (Sattolo), built before moving to the probed CPU.
  std::iota(next_.begin(), next_.end(), 0u);
  std::mt19937 rng(42);
  for (size_t i = kSlots - 1; i > 0; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);
    std::swap(next_[i], next_[pick(rng)]);
  }
}

namespace {
void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
}  // namespace

ProbeReading Probe::run(int cpu, int hold_cpu) const {
  ProbeReading r;
  std::atomic<bool> done{false};
  std::atomic<bool> holding{false};
  std::thread hold;
  if (hold_cpu >= 0 && hold_cpu != cpu) {
    hold = std::thread([&] {
      pin(hold_cpu);
      holding = true;
      uint64_t x = 1;
      // Yielding lets this process's own threads on that CPU run (the generator's main thread
      // starts and joins the probe); under SCHED_FIFO it does not let the machine's other jobs.
      while (!done.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ull + 1;
        sched_yield();
      }
      volatile uint64_t sink = x;
      (void)sink;
    });
    while (!holding.load()) std::this_thread::yield();
  }
  std::thread t([&] {
    pin(cpu);
    volatile uint32_t sink = 0;
    uint32_t p = 0;
    for (int i = 0; i < kSteps / 4; ++i) p = next_[p];  // warm the TLB and caches a little
    int64_t t0 = now_ns();
    for (int i = 0; i < kSteps; ++i) p = next_[p];
    int64_t t1 = now_ns();
    uint64_t x = p | 1;
    for (int i = 0; i < kAlu; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    int64_t t2 = now_ns();
    sink = static_cast<uint32_t>(x);
    (void)sink;
    r.walk_ns = static_cast<double>(t1 - t0) / kSteps;
    r.alu_ns = static_cast<double>(t2 - t1) / kAlu;
  });
  t.join();
  done = true;
  if (hold.joinable()) hold.join();
  return r;
}

std::string ProbeBefore::json() const {
  if (tries == 0) return {};
  return fmt::format(
      ",\"probe_cpu\":{},\"probe_walk_ns\":{:.2f},\"probe_alu_ns\":{:.3f},\"probe_tries\":{},"
      "\"probe_waited_s\":{:.3f}",
      cpu, last.walk_ns, last.alu_ns, tries, waited_s);
}

ProbeBefore probe_before(const Probe& p, int cpu, int hold_cpu, double until_ns, double wait_s) {
  ProbeBefore b;
  b.cpu = cpu;
  if (cpu < 0) return b;
  const int64_t start = now_ns();
  for (;;) {
    b.last = p.run(cpu, hold_cpu);
    ++b.tries;
    b.waited_s = static_cast<double>(now_ns() - start) / 1e9;
    if (until_ns <= 0 || b.last.walk_ns <= until_ns || b.waited_s >= wait_s) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kGapMs));
  }
  return b;
}

int run_probe_only(int cpu, int hold_cpu, double duration_s) {
  if (cpu < 0) cpu = 0;
  Probe p;
  std::vector<double> walk;
  std::string all;
  const int64_t until = now_ns() + static_cast<int64_t>(duration_s * 1e9);
  do {
    ProbeReading r = p.run(cpu, hold_cpu);
    walk.push_back(r.walk_ns);
    all += fmt::format("{}{:.2f}", all.empty() ? "" : ",", r.walk_ns);
    std::this_thread::sleep_for(std::chrono::milliseconds(kGapMs));
  } while (now_ns() < until);
  std::vector<double> sorted = walk;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "{\"workload\":\"probe\",\"probe_cpu\":%d,\"readings\":%zu,\"walk_min_ns\":%.2f,"
      "\"walk_median_ns\":%.2f,\"walk_ns\":[%s]}\n",
      cpu, sorted.size(), sorted.front(), sorted[sorted.size() / 2], all.c_str());
  return 0;
}

}  // namespace loadgen
