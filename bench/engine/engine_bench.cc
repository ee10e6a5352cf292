// Engine microbenchmarks (numbers, not assertions). Run a Release build:
//   cmake -S . -B build-engine-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   ninja -C build-engine-rel engine_bench
//   build-engine-rel/bench/engine/engine_bench
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace {

using semlock::AcquireRequest;
using semlock::Engine;
using semlock::EngineLimits;
using semlock::EngineStatus;
using semlock::Millis;

const std::string kOwner32 = "0123456789abcdef0123456789abcdef";

std::string key16(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "lock:%011d", i);
  return buf;
}

EngineLimits limits_off() {
  EngineLimits l;
  l.max_locks = 0;
  l.max_memory_bytes = 0;
  l.max_waiters = 2000000;
  return l;
}

EngineLimits limits_on() {
  EngineLimits l;  // the defaults: 100,000 locks, 512 MB, 100,000 waiters
  l.max_locks = 2000000;
  return l;
}

AcquireRequest request(const std::string& key) {
  AcquireRequest r;
  r.key = key;
  r.owner = kOwner32;
  r.ttl = 30000;
  return r;
}

void fill(Engine& e, int n, Millis ttl, Millis now) {
  for (int i = 0; i < n; ++i) {
    std::string k = key16(i);
    AcquireRequest r = request(k);
    r.ttl = ttl;
    e.acquire(r, now);
  }
}

std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// An uncontended acquire+release pair on one mutex key.
void BM_AcquireReleasePair(benchmark::State& state) {
  Engine e(state.range(0) ? limits_on() : limits_off(), 1);
  std::string key = "bench:key:000001";
  AcquireRequest r = request(key);
  Millis now = 1000;
  for (auto _ : state) {
    auto res = e.acquire(r, now);
    benchmark::DoNotOptimize(res);
    benchmark::DoNotOptimize(e.release(key, kOwner32, now));
    ++now;
  }
  state.SetLabel(state.range(0) ? "limits on" : "limits off");
}
BENCHMARK(BM_AcquireReleasePair)->Arg(0)->Arg(1);

// The same pair on fresh keys while 1,000,000 other locks are held (cache misses in the index
// and the slab dominate).
void BM_AcquireReleaseWith1MKeys(benchmark::State& state) {
  Engine e(state.range(0) ? limits_on() : limits_off(), 1);
  fill(e, 1000000, 3600000, 0);
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i) keys.push_back("other:" + std::to_string(i * 7919));
  std::size_t i = 0;
  Millis now = 1;
  for (auto _ : state) {
    const std::string& k = keys[i++ & 4095];
    AcquireRequest r = request(k);
    benchmark::DoNotOptimize(e.acquire(r, now));
    benchmark::DoNotOptimize(e.release(k, kOwner32, now));
  }
  state.SetLabel(state.range(0) ? "limits on" : "limits off");
}
BENCHMARK(BM_AcquireReleaseWith1MKeys)->Arg(0)->Arg(1)->Unit(benchmark::kNanosecond);

// acquire + extend + release by one owner on a key that already has `range(0)` other holders
// (limit: one more). 0 is a plain mutex; owner lookup must not make 10,000 cost more than ~2x it
// (issue 11). The others hold for an hour, so nothing expires during the run.
void BM_OwnerOpsAmongHolders(benchmark::State& state) {
  const int others = static_cast<int>(state.range(0));
  EngineLimits limits = limits_off();
  limits.max_permits = 100000;
  Engine e(limits, 1);
  const std::string key = "bench:sem:000001";
  const auto limit = static_cast<std::uint32_t>(others + 1);
  for (int i = 0; i < others; ++i) {
    const std::string owner = "holder-" + std::to_string(i);
    AcquireRequest r = request(key);
    r.owner = owner;
    r.limit = limit;
    r.ttl = 3600000;
    if (e.acquire(r, 0).status != EngineStatus::kGranted) state.SkipWithError("setup not granted");
  }
  AcquireRequest r = request(key);
  r.limit = limit;
  Millis now = 1;
  std::uint64_t failed = 0;
  for (auto _ : state) {
    failed += e.acquire(r, now).status != EngineStatus::kGranted;
    failed += e.extend(key, kOwner32, 30000, now) != EngineStatus::kOk;
    failed += e.release(key, kOwner32, now) != EngineStatus::kOk;
    ++now;
  }
  if (failed != 0) state.SkipWithError("an operation failed");
  state.SetLabel(std::to_string(others) + " other holders");
}
BENCHMARK(BM_OwnerOpsAmongHolders)->Arg(0)->Arg(1)->Arg(15)->Arg(100)->Arg(10000);

// One tick() of a mass expiry: 1,000,000 holders due together, 100,000 removed per tick.
void BM_MassExpiryTick(benchmark::State& state) {
  std::unique_ptr<Engine> e;
  Millis now = 0;
  int ticks_left = 0;
  for (auto _ : state) {
    if (ticks_left == 0) {
      state.PauseTiming();
      e = std::make_unique<Engine>(limits_off(), 1);
      fill(*e, 1000000, 1000, 0);
      now = 1001;  // deadline 1000: due once now > 1000
      ticks_left = 10;
      state.ResumeTiming();
    }
    e->tick(now);
    now += 10;
    --ticks_left;
  }
  state.counters["expired_per_tick"] = 100000;
}
BENCHMARK(BM_MassExpiryTick)->Iterations(20)->Unit(benchmark::kMillisecond);

// Bytes per held mutex (16-byte key, 32-byte owner) at 1,000,000 locks: the engine's own count
// and the process RSS delta.
void BM_BytesPerLock(benchmark::State& state) {
  const int n = 1000000;
  for (auto _ : state) {
    malloc_trim(0);
    std::uint64_t rss_before = rss_bytes();
    auto e = std::make_unique<Engine>(limits_off(), 1);
    fill(*e, n, 3600000, 0);
    std::uint64_t rss_after = rss_bytes();
    state.counters["engine_B_per_lock"] = static_cast<double>(e->memory_bytes()) / n;
    state.counters["rss_B_per_lock"] = static_cast<double>(rss_after - rss_before) / n;
  }
}
BENCHMARK(BM_BytesPerLock)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
