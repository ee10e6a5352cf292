// N uncontended acquire+release pairs, limits on or off, for instruction counts that the
// machine's load cannot disturb:
//   valgrind --tool=callgrind build-engine-rel/bench/engine/engine_pairs 100000 on
//   valgrind --tool=callgrind build-engine-rel/bench/engine/engine_pairs 100000 off
// (subtract a run with N=0 to remove start-up; divide by N).
// A third argument H puts the pairs (each with an extend between) on a key that H other owners
// hold, as BM_OwnerOpsAmongHolders does:
//   valgrind --tool=callgrind build-engine-rel/bench/engine/engine_pairs 100000 off 10000
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/engine.h"

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 1000000;
  bool on = argc > 2 && std::string_view(argv[2]) == "on";
  const long others = argc > 3 ? std::atol(argv[3]) : -1;
  semlock::EngineLimits limits;
  if (!on) {
    limits.max_locks = 0;
    limits.max_memory_bytes = 0;
  }
  limits.max_permits = 100000;
  semlock::Engine engine(limits, 1);
  std::string key = "bench:key:000001";
  std::string owner = "0123456789abcdef0123456789abcdef";
  semlock::AcquireRequest req;
  req.key = key;
  req.owner = owner;
  req.ttl = 30000;
  if (others >= 0) req.limit = static_cast<std::uint32_t>(others + 1);
  for (long i = 0; i < others; ++i) {
    const std::string other = "holder-" + std::to_string(i);
    semlock::AcquireRequest r = req;
    r.owner = other;
    r.ttl = 3600000;
    engine.acquire(r, 0);
  }
  std::uint64_t sum = 0;
  for (long i = 0; i < n; ++i) {
    sum += engine.acquire(req, 1000 + i).fence;
    if (others >= 0) sum += static_cast<std::uint64_t>(engine.extend(key, owner, 30000, 1000 + i));
    sum += static_cast<std::uint64_t>(engine.release(key, owner, 1000 + i));
  }
  std::printf("%llu\n", static_cast<unsigned long long>(sum));
  return 0;
}
