// Shorthands for engine tests: every call takes an explicit virtual `now`.
#pragma once

#include <boost/test/unit_test.hpp>
#include <ostream>
#include <string>

#include "engine/engine.h"

namespace semlock {

inline std::ostream& operator<<(std::ostream& os, EngineStatus s) {
  return os << "EngineStatus(" << static_cast<int>(s) << ")";
}

}  // namespace semlock

namespace semlock::test {

inline AcquireResult acq(Engine& e, std::string_view key, std::string_view owner, Millis ttl,
                         Millis now, std::uint32_t limit = 0, Millis wait = 0,
                         std::uint64_t tag = 0, bool reacquire = true, bool notify = false) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.limit = limit;
  r.wait = wait;
  r.tag = tag;
  r.reacquire = reacquire;
  r.notify = notify;
  return e.acquire(r, now);
}

// prefix + number. (GCC 12 at -O3 warns falsely, -Wrestrict, on `"literal" + std::string`.)
inline std::string name(std::string_view prefix, long long n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

inline EngineLimits unlimited() {
  EngineLimits l;
  l.max_locks = 0;
  l.max_memory_bytes = 0;
  l.max_waiters = 1000000;
  return l;
}

}  // namespace semlock::test
