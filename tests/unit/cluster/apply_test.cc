// The engine's replication hooks: apply_hold (a follower applying a replicated kHold record) and
// extend_all (a new leader's lease extension), with a virtual clock.
#include <boost/test/unit_test.hpp>

#include <map>
#include <tuple>

#include "engine/engine.h"

namespace semlock {
namespace {

using HolderKey = std::tuple<std::string, std::string>;
std::map<HolderKey, std::pair<std::uint64_t, Millis>> holders(const Engine& e) {
  std::map<HolderKey, std::pair<std::uint64_t, Millis>> out;
  e.for_each_holder([&](const HolderView& h) {
    out[{std::string(h.key), std::string(h.owner)}] = {h.fence, h.deadline};
  });
  return out;
}

BOOST_AUTO_TEST_SUITE(engine_apply)

BOOST_AUTO_TEST_CASE(apply_hold_creates_refreshes_and_replaces) {
  Engine e(EngineLimits{}, 10);
  e.tick(0);
  e.set_mutation_log(true);
  using S = Engine::ApplyStatus;
  BOOST_TEST((e.apply_hold("k", "a", 500, 2, 1000) == S::kApplied));
  BOOST_TEST(e.stats().next_fence == 501u);  // raised above the replicated fence
  // A refresh: same fence, new deadline.
  BOOST_TEST((e.apply_hold("k", "a", 500, 2, 3000) == S::kApplied));
  BOOST_TEST((holders(e)[{"k", "a"}] == std::pair<std::uint64_t, Millis>{500, 3000}));
  // Re-granted under a new fence.
  BOOST_TEST((e.apply_hold("k", "a", 600, 2, 4000) == S::kApplied));
  BOOST_TEST((holders(e)[{"k", "a"}] == std::pair<std::uint64_t, Millis>{600, 4000}));
  BOOST_TEST(e.stats().holders == 1u);
  BOOST_TEST((e.apply_hold("k", "b", 601, 2, 4000) == S::kApplied));
  BOOST_TEST(!e.has_mutations());  // applying is not news: not logged
  // The refreshed deadline is the one that counts: alive at 3999 ms, gone after 4000.
  BOOST_TEST(e.exists("k", 3999));
  e.tick(4001);
  BOOST_TEST(!e.exists("k", 4001));
}

BOOST_AUTO_TEST_CASE(extend_all_moves_every_deadline_and_logs_it) {
  Engine e(EngineLimits{}, 10);
  e.tick(0);
  AcquireRequest r;
  r.key = "mutex";
  r.owner = "a";
  r.ttl = 100;
  BOOST_TEST((e.acquire(r, 0).status == EngineStatus::kGranted));
  r.key = "sem";
  r.limit = 3;
  for (const char* o : {"x", "y", "z"}) {
    r.owner = o;
    BOOST_TEST((e.acquire(r, 0).status == EngineStatus::kGranted));
  }
  const auto before = holders(e);
  e.set_mutation_log(true);
  e.extend_all(1000);
  const auto after = holders(e);
  BOOST_TEST(after.size() == 4u);
  for (const auto& [k, v] : before) {
    BOOST_TEST(after.at(k).first == v.first);           // same fences
    BOOST_TEST(after.at(k).second == v.second + 1000);  // deadline + by
  }
  const std::vector<Mutation> log = e.take_mutations();
  BOOST_TEST(log.size() == 4u);
  for (const Mutation& m : log) BOOST_TEST((m.kind == Mutation::Kind::kHold));
  // A TTL is a lower bound: nothing expires at the old deadline.
  e.tick(101);
  BOOST_TEST(e.stats().holders == 4u);
  e.tick(1101);
  BOOST_TEST(e.stats().holders == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
