// Randomized invariants over every engine operation, waiters included (the model test covers
// acquire/release/extend/info without waiters): holders never above a key's limit, one holder per
// owner, every listed holder found by its owner (the owner index), waiter events answer each
// queued waiter exactly once, and memory goes back to the idle figure at the end.
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <set>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(invariants_fuzz)

BOOST_AUTO_TEST_CASE(random_operations_with_waiters_keep_the_invariants) {
  EngineLimits l = test::unlimited();
  Engine e(l, 1);
  acq(e, "warm", "a", 10, 0, 2);
  acq(e, "warm", "b", 10, 0, 2);
  acq(e, "warm", "c", 10, 0, 2, 10);
  e.release_all("warm", 0);
  e.release_all("warm", 0);
  e.take_events();
  const std::uint64_t baseline = e.memory_bytes();
  std::mt19937_64 rng(77);
  auto pick = [&](std::uint64_t n) { return static_cast<std::uint64_t>(rng() % n); };
  const std::vector<std::pair<std::string, std::uint32_t>> keys = {
      {"m1", 1}, {"s5", 5}, {"s20", 20}, {"s20b", 20}, {"s64", 64}};
  std::vector<std::string> owners;
  for (int i = 0; i < 90; ++i) owners.push_back(test::name("o", i));
  std::map<std::uint64_t, WaiterId> waiting;  // tag -> id
  std::uint64_t next_tag = 1;
  Millis now = 1000;
  int bad = 0;
  for (int step = 0; step < 300000 && bad < 5; ++step) {
    const auto& [key, limit] = keys[pick(keys.size())];
    const std::string& owner = owners[pick(owners.size())];
    const std::uint64_t op = pick(100);
    const Millis ttl = static_cast<Millis>(1 + pick(300));
    if (op < 40) {
      const Millis wait = pick(2) ? static_cast<Millis>(1 + pick(300)) : 0;
      const std::uint64_t tag = wait > 0 ? next_tag++ : 0;
      const auto r = acq(e, key, owner, ttl, now, limit, wait, tag, pick(5) != 0);
      if (r.status == EngineStatus::kQueued) waiting[tag] = r.waiter;
    } else if (op < 55) {
      e.release(key, owner, now);
    } else if (op < 60) {
      if (const auto info = e.info(key, now); info && !info->holders.empty()) {
        const auto& h = info->holders[pick(info->holders.size())];
        if (e.release_fenced(key, h.owner, h.fence, now) != EngineStatus::kOk) {
          ++bad;
          BOOST_TEST(false, "step " << step << " release_fenced of a listed holder");
        }
      }
    } else if (op < 70) {
      e.extend(key, owner, ttl, now);
    } else if (op < 73) {
      e.release_all(key, now);
    } else if (op < 77) {
      if (limit == 1) e.set_holder(key, owner, ttl, now);
    } else if (op < 80) {
      if (!waiting.empty()) {
        auto it = waiting.begin();
        std::advance(it, static_cast<long>(pick(waiting.size())));
        if (e.cancel_waiter(it->second)) waiting.erase(it);
      }
    } else if (op < 85) {
      e.tick(now);
    } else {
      const auto info = e.info(key, now);
      if (info) {
        std::set<std::string> seen;
        for (const auto& h : info->holders) {
          if (!seen.insert(h.owner).second) {
            ++bad;
            BOOST_TEST(false, "step " << step << " owner twice on " << key);
          }
          if (e.extend(key, h.owner, h.remaining + 1, now) != EngineStatus::kOk) {
            ++bad;
            BOOST_TEST(false, "step " << step << " listed holder not found by owner " << h.owner);
          }
        }
        if (info->holders.size() > limit) {
          ++bad;
          BOOST_TEST(false, "step " << step << " over limit on " << key);
        }
      }
    }
    for (const WaiterEvent& ev : e.take_events()) {
      if (waiting.erase(ev.tag) != 1) {
        ++bad;
        BOOST_TEST(false, "step " << step << " event for a tag not waiting: " << ev.tag);
      }
    }
    now += static_cast<Millis>(pick(4));
  }
  BOOST_TEST(bad == 0);
  now += 1000000;
  e.tick(now);
  for (const WaiterEvent& ev : e.take_events()) waiting.erase(ev.tag);
  e.tick(now + 1000000);
  for (const WaiterEvent& ev : e.take_events()) waiting.erase(ev.tag);
  BOOST_TEST(waiting.empty());
  BOOST_TEST(e.stats().holders == 0u);
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(e.stats().active_locks == 0u);
  BOOST_TEST(e.memory_bytes() == baseline);
}

BOOST_AUTO_TEST_SUITE_END()
