// What an all-or-nothing acquire (SEMLOCK.ACQUIREALL, engine/multi.cc) costs against plain
// acquires, in the engine alone (numbers, not assertions):
//   ninja -C build-release multi_bench && build-release/bench/engine/multi_bench
// BM_PlainAcquireRelease/n: n single-key acquire+release pairs (the client-side way to take n
//   keys, without the all-or-nothing guarantee).
// BM_AcquireAllReleaseAll/n: one ACQUIREALL of n keys and one RELEASEALL.
// BM_AcquireAllQueueGrant/n: an ACQUIREALL that queues behind a holder on one key and is granted
//   when that holder releases (the waiting path: n waiters in, one group grant out).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace {

using namespace semlock;

const std::string kOwner32 = "0123456789abcdef0123456789abcdef";

EngineLimits unlimited() {
  EngineLimits l;
  l.max_locks = 0;
  l.max_memory_bytes = 0;
  l.max_waiters = 2000000;
  return l;
}

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "lock:%011d", i);
    out.push_back(buf);
  }
  return out;
}

void BM_PlainAcquireRelease(benchmark::State& state) {
  Engine e(unlimited(), 1);
  const auto ks = keys(static_cast<int>(state.range(0)));
  Millis now = 1;
  for (auto _ : state) {
    for (const auto& k : ks) {
      AcquireRequest r;
      r.key = k;
      r.owner = kOwner32;
      r.ttl = 30000;
      benchmark::DoNotOptimize(e.acquire(r, now));
    }
    for (const auto& k : ks) benchmark::DoNotOptimize(e.release(k, kOwner32, now));
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PlainAcquireRelease)->Arg(1)->Arg(2)->Arg(4)->Arg(16);

void BM_AcquireAllReleaseAll(benchmark::State& state) {
  Engine e(unlimited(), 1);
  const auto ks = keys(static_cast<int>(state.range(0)));
  AcquireAllRequest r;
  r.keys.assign(ks.begin(), ks.end());
  r.owner = kOwner32;
  r.ttl = 30000;
  Millis now = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire_all(r, now));
    benchmark::DoNotOptimize(e.release_keys(r.keys, kOwner32, now));
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcquireAllReleaseAll)->Arg(1)->Arg(2)->Arg(4)->Arg(16);

void BM_AcquireAllQueueGrant(benchmark::State& state) {
  Engine e(unlimited(), 1);
  const auto ks = keys(static_cast<int>(state.range(0)));
  AcquireAllRequest r;
  r.keys.assign(ks.begin(), ks.end());
  r.owner = kOwner32;
  r.ttl = 30000;
  r.wait = 10000;
  r.tag = 1;
  Millis now = 1;
  for (auto _ : state) {
    AcquireRequest h;
    h.key = ks.back();
    h.owner = "holder";
    h.ttl = 30000;
    e.acquire(h, now);
    benchmark::DoNotOptimize(e.acquire_all(r, now));  // queued on every key
    e.release(ks.back(), "holder", now);               // granted, all keys at once
    benchmark::DoNotOptimize(e.take_events());
    e.release_keys(r.keys, kOwner32, now);
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcquireAllQueueGrant)->Arg(1)->Arg(2)->Arg(4)->Arg(16);

}  // namespace

BENCHMARK_MAIN();
