// What NOTIFY costs next to a plain acquire (docs: bench/NOTIFY.md).
//   build-release/bench/engine/notify_bench --benchmark_min_time=0.5
// Arg 0: plain, 1: NOTIFY. The marks live in a side table keyed by fence, consulted only while it
// is non-empty, so a plain acquire/release pays one emptiness check (BM_PlainAmongMarked: a plain
// pair while 10,000 other holders are marked, the worst case for a plain lock).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/engine.h"

namespace {

using semlock::AcquireRequest;
using semlock::Engine;
using semlock::EngineLimits;
using semlock::Millis;

EngineLimits unlimited() {
  EngineLimits l;
  l.max_locks = 0;
  l.max_memory_bytes = 0;
  l.max_waiters = 1000000;
  return l;
}

// Uncontended acquire + release by the owner: the mark goes in and out of the table.
void BM_AcquireRelease(benchmark::State& state) {
  Engine e(unlimited(), 1);
  const std::string key = "bench:key:000001";
  const std::string owner = "0123456789abcdef0123456789abcdef";
  AcquireRequest req;
  req.key = key;
  req.owner = owner;
  req.ttl = 30000;
  req.notify = state.range(0) != 0;
  Millis now = 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire(req, now).fence);
    benchmark::DoNotOptimize(e.release(key, owner, now));
    ++now;
  }
}
BENCHMARK(BM_AcquireRelease)->Arg(0)->Arg(1);

// 10,000 holders granted and expired by one tick; with NOTIFY each leaves a notice (taken).
void BM_GrantAndExpire10k(benchmark::State& state) {
  Engine e(unlimited(), 1);
  const std::string owner = "0123456789abcdef0123456789abcdef";
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back("bench:key:" + std::to_string(i));
  AcquireRequest req;
  req.owner = owner;
  req.ttl = 10;
  req.notify = state.range(0) != 0;
  Millis now = 1000;
  for (auto _ : state) {
    for (const auto& k : keys) {
      req.key = k;
      e.acquire(req, now);
    }
    now += 11;
    e.tick(now);
    benchmark::DoNotOptimize(e.take_lost().size());
    ++now;
  }
  state.SetItemsProcessed(state.iterations() * 10000);
}
BENCHMARK(BM_GrantAndExpire10k)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// A plain acquire + release while 10,000 other holders are marked (the table is non-empty).
void BM_PlainAmongMarked(benchmark::State& state) {
  Engine e(unlimited(), 1);
  AcquireRequest other;
  other.owner = "holder";
  other.ttl = 3600000;
  other.notify = state.range(0) != 0;
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back("held:" + std::to_string(i));
  for (const auto& k : keys) {
    other.key = k;
    e.acquire(other, 0);
  }
  const std::string key = "bench:key:000001";
  const std::string owner = "0123456789abcdef0123456789abcdef";
  AcquireRequest req;
  req.key = key;
  req.owner = owner;
  req.ttl = 30000;
  Millis now = 1000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire(req, now).fence);
    benchmark::DoNotOptimize(e.release(key, owner, now));
    ++now;
  }
}
BENCHMARK(BM_PlainAmongMarked)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
