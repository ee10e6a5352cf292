// Read-write (SHARED) and reentrant holds against a plain acquire (issue 17: their cost). Numbers,
// not assertions. Run a Release build:
//   cmake --build build-release --target engine_rwlock_bench
//   build-release/bench/engine/engine_rwlock_bench
// Instruction counts, which the machine's load cannot disturb (subtract N=0, divide by N):
//   valgrind --tool=callgrind build-release/bench/engine/engine_rwlock_bench pairs N CASE
// CASE: plain, plain-in-use, shared, shared-8, reentrant, nested.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace {

using semlock::AcquireRequest;
using semlock::Engine;
using semlock::EngineLimits;
using semlock::Millis;

const std::string kOwner32 = "0123456789abcdef0123456789abcdef";
const std::string kKey = "bench:key:000001";

EngineLimits limits() {
  EngineLimits l;
  l.max_locks = 0;
  l.max_memory_bytes = 0;
  return l;
}

AcquireRequest request(const std::string& owner, bool shared, bool reentrant) {
  AcquireRequest r;
  r.key = kKey;
  r.owner = owner;
  r.ttl = 30000;
  r.shared = shared;
  r.reentrant = reentrant;
  return r;
}

// Baseline: an uncontended acquire+release pair on one mutex key. Arg 1: another key is held by
// readers meanwhile, so the side tables are in use (what plain locks pay then).
void BM_PlainPair(benchmark::State& state) {
  Engine e(limits(), 1);
  if (state.range(0)) e.acquire([] {
    AcquireRequest r = request("reader", true, false);
    r.key = "other";
    return r;
  }(), 0);
  const AcquireRequest r = request(kOwner32, false, false);
  Millis now = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire(r, now));
    benchmark::DoNotOptimize(e.release(kKey, kOwner32, now));
  }
  state.SetLabel(state.range(0) ? "side tables in use" : "side tables empty");
}
BENCHMARK(BM_PlainPair)->Arg(0)->Arg(1);

// A reader's acquire+release; Arg n: n other readers hold the key meanwhile.
void BM_SharedPair(benchmark::State& state) {
  Engine e(limits(), 1);
  for (int i = 0; i < state.range(0); ++i) {
    e.acquire(request("reader" + std::to_string(i), true, false), 0);
  }
  const AcquireRequest r = request(kOwner32, true, false);
  Millis now = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire(r, now));
    benchmark::DoNotOptimize(e.release(kKey, kOwner32, now));
  }
}
BENCHMARK(BM_SharedPair)->Arg(0)->Arg(1)->Arg(8)->Arg(100);

// A REENTRANT acquire+release. Arg 0: of a free key (count 1, nothing stored); Arg 1: by the
// owner already holding it (count 1 -> 2 -> 1, one table entry added and removed).
void BM_ReentrantPair(benchmark::State& state) {
  Engine e(limits(), 1);
  const AcquireRequest r = request(kOwner32, false, true);
  if (state.range(0)) e.acquire(r, 0);
  Millis now = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(e.acquire(r, now));
    benchmark::DoNotOptimize(e.release(kKey, kOwner32, now));
  }
  state.SetLabel(state.range(0) ? "nested (2nd hold)" : "first hold");
}
BENCHMARK(BM_ReentrantPair)->Arg(0)->Arg(1);

// The pairs of one CASE in a plain loop (for callgrind).
int pairs(long n, std::string_view which) {
  Engine e(limits(), 1);
  const bool shared = which.starts_with("shared");
  const bool reentrant = which == "reentrant" || which == "nested";
  if (which == "plain-in-use") {
    AcquireRequest r = request("reader", true, false);
    r.key = "other";
    e.acquire(r, 0);
  }
  if (which == "shared-8") {
    for (int i = 0; i < 8; ++i) e.acquire(request("reader" + std::to_string(i), true, false), 0);
  }
  const AcquireRequest r = request(kOwner32, shared, reentrant);
  if (which == "nested") e.acquire(r, 0);
  for (long i = 0; i < n; ++i) {
    e.acquire(r, 1 + i);
    e.release(kKey, kOwner32, 1 + i);
  }
  return static_cast<int>(e.stats().holders & 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "pairs") == 0) return pairs(std::atol(argv[2]), argv[3]);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
