// SPEC §2 limits at their boundaries, reject_requests=false, and warnings.
#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace {

std::string key(int i) {
  return test::name("key:", i);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(max_locks_boundary_drain_and_ok_again) {
  EngineLimits l = test::unlimited();
  l.max_locks = 3;
  Engine e(l, 1);
  BOOST_TEST(acq(e, key(0), "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "sem", "o", 1000, 0, 2).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, key(2), "o", 1000, 0).status == EngineStatus::kGranted);  // N-1 -> N
  BOOST_TEST(acq(e, key(3), "o", 1000, 0).status == EngineStatus::kOverMaxLocks);
  BOOST_TEST(acq(e, key(3), "o", 1000, 0, 0, 100).status == EngineStatus::kOverMaxLocks);
  BOOST_TEST(e.set_holder(key(3), "o", 1000, 0).status == EngineStatus::kOverMaxLocks);
  BOOST_TEST(e.stats().rejected_max_locks == 3u);
  // Not creating a key: no max_locks check.
  BOOST_TEST(acq(e, "sem", "p", 1000, 0, 2).status == EngineStatus::kGranted);
  // Never rejected: refresh, extend, release, reads.
  BOOST_TEST(acq(e, key(0), "o", 1000, 1).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.extend(key(0), "o", 1000, 1) == EngineStatus::kOk);
  BOOST_TEST(e.set_holder(key(0), "x", 1000, 1).status == EngineStatus::kOk);
  BOOST_TEST(e.exists(key(0), 1));
  BOOST_TEST(e.release(key(0), "x", 2) == EngineStatus::kOk);
  BOOST_TEST(acq(e, key(3), "o", 1000, 2).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().rejected_max_locks == 3u);
  BOOST_TEST(e.stats().active_locks == 3u);
}

BOOST_AUTO_TEST_CASE(due_holders_are_removed_before_rejecting) {
  EngineLimits l = test::unlimited();
  l.max_locks = 1;
  l.tick_resolution = 10;
  Engine e(l, 1);
  acq(e, "a", "o", 10, 0);
  // No tick ran: "a" is due at 10 but still stored until something removes it.
  BOOST_TEST(e.stats().active_locks == 1u);
  BOOST_TEST(acq(e, "b", "o", 10, 15).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().rejected_max_locks == 0u);
  BOOST_TEST(e.stats().expired_holders == 1u);
}

BOOST_AUTO_TEST_CASE(max_waiters_boundary_always_enforced) {
  EngineLimits l = test::unlimited();
  l.max_waiters = 2;
  l.reject_requests = false;  // does not lift max_waiters
  Engine e(l, 1);
  acq(e, "k", "h", 1000, 0);
  BOOST_TEST(acq(e, "k", "w1", 100, 0, 0, 500).status == EngineStatus::kQueued);
  auto w2 = acq(e, "k", "w2", 100, 0, 0, 500);
  BOOST_TEST(w2.status == EngineStatus::kQueued);  // N-1 -> N
  BOOST_TEST(acq(e, "k", "w3", 100, 0, 0, 500).status == EngineStatus::kOverMaxWaiters);
  BOOST_TEST(acq(e, "k", "w3", 100, 0).status == EngineStatus::kNotGranted);  // no wait: no check
  BOOST_TEST(e.stats().rejected_max_waiters == 1u);
  e.cancel_waiter(w2.waiter);
  BOOST_TEST(acq(e, "k", "w3", 100, 0, 0, 500).status == EngineStatus::kQueued);
}

BOOST_AUTO_TEST_CASE(memory_limit_counts_external_bytes_at_the_boundary) {
  EngineLimits l = test::unlimited();
  Engine e(l, 1);
  for (int i = 0; i < 10; ++i) acq(e, key(i), "o", 100000, 0);  // a table with room for 14
  std::uint64_t used = e.memory_bytes();
  l.max_memory_bytes = used + 1000;
  e.set_limits(l);
  e.set_external_memory(999);  // one byte under
  BOOST_TEST(acq(e, "a", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.memory_bytes() == used);  // the slab chunk had room
  e.set_external_memory(1000);           // at the limit
  BOOST_TEST(acq(e, "b", "o", 1000, 0).status == EngineStatus::kOverMemory);
  BOOST_TEST(acq(e, "a", "o2", 1000, 0, 0, 100).status == EngineStatus::kOverMemory);
  BOOST_TEST(e.stats().rejected_memory == 2u);
  BOOST_TEST(e.stats().memory_bytes == used + 1000);
  BOOST_TEST(e.stats().engine_memory_bytes == used);
  BOOST_TEST(acq(e, "a", "o", 1000, 1).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.release("a", "o", 1) == EngineStatus::kOk);
  e.set_external_memory(999);
  BOOST_TEST(acq(e, "b", "o", 1000, 2).status == EngineStatus::kGranted);
}

BOOST_AUTO_TEST_CASE(reject_requests_false_grants_and_counts) {
  EngineLimits l = test::unlimited();
  l.max_locks = 1;
  l.reject_requests = false;
  Engine e(l, 1);
  acq(e, "a", "o", 1000, 0);
  l.max_memory_bytes = 1;
  e.set_limits(l);
  BOOST_TEST(acq(e, "b", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "b", "p", 1000, 0, 0, 10).status == EngineStatus::kQueued);
  EngineStats s = e.stats();
  BOOST_TEST(s.exceeded_max_locks == 1u);
  BOOST_TEST(s.exceeded_memory == 2u);
  BOOST_TEST(s.rejected_max_locks == 0u);
  BOOST_TEST(s.rejected_memory == 0u);
  BOOST_TEST(s.active_locks == 2u);
}

BOOST_AUTO_TEST_CASE(lock_warning_once_per_crossing_rearmed_five_points_below) {
  EngineLimits l = test::unlimited();
  l.max_locks = 10;
  l.warn_threshold = 0.8;
  Engine e(l, 1);
  for (int i = 0; i < 7; ++i) acq(e, key(i), "o", 1000000, 0);
  BOOST_TEST(e.check_warnings(0).empty());
  acq(e, key(7), "o", 1000000, 0);
  auto w = e.check_warnings(0);
  BOOST_REQUIRE(w.size() == 1u);
  BOOST_TEST((w[0].kind == LimitWarning::Kind::kLocks));
  BOOST_TEST(w[0].percent == 80.0);
  BOOST_TEST(w[0].current == 8u);
  BOOST_TEST(w[0].limit == 10u);
  acq(e, key(8), "o", 1000000, 0);
  BOOST_TEST(e.check_warnings(20000).empty());  // still above: not re-armed
  e.release(key(8), "o", 20000);
  BOOST_TEST(e.check_warnings(20000).empty());  // 80%: not below 75%
  e.release(key(7), "o", 20000);
  BOOST_TEST(e.check_warnings(20000).empty());  // 70%: re-armed, nothing to say
  acq(e, key(7), "o", 1000000, 20000);
  BOOST_REQUIRE(e.check_warnings(20000).size() == 1u);  // a new crossing
  e.release(key(7), "o", 21000);
  e.check_warnings(21000);
  acq(e, key(7), "o", 1000000, 22000);
  BOOST_TEST(e.check_warnings(22000).empty());  // crossed again, but within 10 s
  BOOST_TEST(e.check_warnings(29999).empty());
  BOOST_TEST(e.check_warnings(30000).size() == 1u);
  BOOST_TEST(e.check_warnings(50000).empty());
}

BOOST_AUTO_TEST_CASE(memory_warning_and_percent) {
  EngineLimits l = test::unlimited();
  l.max_locks = 1000;
  l.warn_threshold = 0.8;
  Engine e(l, 1);
  for (int i = 0; i < 852; ++i) acq(e, key(i), "o", 1000000, 0);
  auto w = e.check_warnings(0);
  BOOST_REQUIRE(w.size() == 1u);
  BOOST_TEST(w[0].percent == 85.2, boost::test_tools::tolerance(1e-9));
  l.max_memory_bytes = 1000000;
  e.set_limits(l);
  e.set_external_memory(1000000 - e.memory_bytes() - 200000);  // 80%
  w = e.check_warnings(1);
  BOOST_REQUIRE(w.size() == 1u);
  BOOST_TEST((w[0].kind == LimitWarning::Kind::kMemory));
  BOOST_TEST(w[0].current == 800000u);
  BOOST_TEST(w[0].limit == 1000000u);
  BOOST_TEST(w[0].percent == 80.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(e.check_warnings(100000).empty());
}

BOOST_AUTO_TEST_SUITE_END()
