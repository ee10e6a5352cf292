// Read-write and reentrant holds against a plain model: random readers, writers, re-acquires,
// releases and expiries on a few keys, in virtual time, with every reply and every SEMLOCK.INFO
// compared. The invariant behind it: never a writer together with any other holder, and a holder
// goes only after as many releases as REENTRANT acquires, or at expiry.
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;

namespace {

struct ModelHolder {
  bool shared = false;
  std::uint32_t holds = 1;
  Millis deadline = 0;
  std::uint64_t fence = 0;
};
using ModelKey = std::map<std::string, ModelHolder>;  // by owner

void purge(ModelKey& k, Millis now) {
  std::erase_if(k, [&](const auto& kv) { return kv.second.deadline < now; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rwlock_model)

BOOST_AUTO_TEST_CASE(random_operations_match_the_model) {
  EngineLimits l = test::unlimited();
  l.max_permits = 4;
  Engine e(l, 1);
  std::map<std::string, ModelKey> model;
  std::mt19937_64 rng(17);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  Millis now = 0;
  for (int step = 0; step < 20000; ++step) {
    now += pick(3);
    const std::string key = "k" + std::to_string(pick(3));
    const std::string owner = "o" + std::to_string(pick(6));
    ModelKey& mk = model[key];
    purge(mk, now);
    const int op = pick(10);
    if (op < 6) {
      AcquireRequest r;
      r.key = key;
      r.owner = owner;
      r.ttl = 5 + pick(40);
      r.shared = pick(2) == 0;
      r.reentrant = pick(2) == 0;
      const AcquireResult got = e.acquire(r, now);
      auto held = mk.find(owner);
      if (held != mk.end()) {
        if (held->second.shared != r.shared) {
          BOOST_REQUIRE(got.status == EngineStatus::kModeConflict);
        } else {
          BOOST_REQUIRE(got.status == EngineStatus::kRefreshed);
          BOOST_REQUIRE(got.fence == held->second.fence);
          if (r.reentrant) ++held->second.holds;
          held->second.deadline = now + r.ttl;
        }
      } else {
        bool all_shared = true;
        for (const auto& [o, h] : mk) all_shared = all_shared && h.shared;
        const bool fits = mk.empty() || (r.shared && all_shared && mk.size() < l.max_permits);
        if (fits) {
          BOOST_REQUIRE(got.status == EngineStatus::kGranted);
          mk[owner] = ModelHolder{r.shared, 1, now + r.ttl, got.fence};
        } else {
          BOOST_REQUIRE(got.status == EngineStatus::kNotGranted);
        }
      }
    } else if (op < 9) {
      const EngineStatus got = e.release(key, owner, now);
      auto held = mk.find(owner);
      if (held == mk.end()) {
        BOOST_REQUIRE(got == EngineStatus::kNotHeld);
      } else {
        BOOST_REQUIRE(got == EngineStatus::kOk);
        if (--held->second.holds == 0) mk.erase(held);
      }
    } else {
      e.tick(now);
    }
    // INFO says what the model says.
    const auto info = e.info(key, now);
    BOOST_REQUIRE(info.has_value() == !mk.empty());
    if (!info) continue;
    BOOST_REQUIRE(info->holders.size() == mk.size());
    for (const auto& h : info->holders) {
      const ModelHolder& m = mk.at(h.owner);
      BOOST_REQUIRE(h.fence == m.fence);
      BOOST_REQUIRE(h.holds == m.holds);
      BOOST_REQUIRE(info->shared == m.shared);
    }
    // Never a writer with anyone else.
    BOOST_REQUIRE((info->shared || info->holders.size() == 1u));
  }
  BOOST_TEST(e.stats().holders > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
