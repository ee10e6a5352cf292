// Connection-lived holders (engine/lived.cc): the mark, its replication record, and its end at a
// failover (a plain holder with the election timeout left).
#include <boost/test/unit_test.hpp>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(lived)

BOOST_AUTO_TEST_CASE(mark_is_logged_and_ended_by_a_failover) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  const auto a = acq(e, "k", "me", e.limits().max_ttl, 0);  // the cap: limits.max_ttl
  acq(e, "plain", "other", 5000, 0);
  e.take_mutations();
  BOOST_TEST(!e.mark_lived("k", "me", a.fence + 99));  // no such holder: nothing
  BOOST_TEST(!e.mark_lived("k", "nobody", a.fence));
  BOOST_TEST(!e.has_mutations());
  BOOST_TEST(e.mark_lived("k", "me", a.fence));
  BOOST_TEST(e.is_lived(a.fence));
  auto ms = e.take_mutations();
  BOOST_REQUIRE(ms.size() == 1u);
  BOOST_TEST((ms[0].kind == Mutation::Kind::kLived));
  BOOST_TEST(ms[0].key == "k");
  BOOST_TEST(ms[0].owner == "me");
  BOOST_TEST(ms[0].fence == a.fence);
  BOOST_TEST(e.info("k", 100)->holders.at(0).remaining == e.limits().max_ttl - 100);
  // The failover: 1000 ms left (the election timeout), logged as a hold; plain holders untouched.
  BOOST_TEST(e.end_lived(1000, 100) == 1u);
  BOOST_TEST(!e.is_lived(a.fence));
  BOOST_TEST(e.info("k", 100)->holders.at(0).remaining == 1000);
  BOOST_TEST(e.info("k", 100)->holders.at(0).fence == a.fence);
  BOOST_TEST(e.info("plain", 100)->holders.at(0).remaining == 4900);
  ms = e.take_mutations();
  BOOST_REQUIRE(ms.size() == 1u);
  BOOST_TEST((ms[0].kind == Mutation::Kind::kHold));
  BOOST_TEST(ms[0].deadline == 1100);
  BOOST_TEST(e.end_lived(1000, 200) == 0u);
}

// Regression (review of the merged issue-17 features): a connection-lived holder later given a
// TTL (a refresh by its owner, an extend, a replicated refresh) kept its mark, so the next
// failover cut the deadline the owner had been told down to the election timeout.
BOOST_AUTO_TEST_CASE(a_ttl_given_later_ends_the_mark) {
  Engine e(test::unlimited(), 1);
  const auto a = acq(e, "k", "me", e.limits().max_ttl, 0);
  BOOST_TEST(e.mark_lived("k", "me", a.fence));
  BOOST_TEST(acq(e, "k", "me", 60000, 10).status == EngineStatus::kRefreshed);
  BOOST_TEST(!e.is_lived(a.fence));
  BOOST_TEST(e.end_lived(1000, 20) == 0u);
  BOOST_TEST(e.info("k", 20)->holders.at(0).remaining == 59990);
  // An extend ends it too.
  const auto b = acq(e, "x", "me", e.limits().max_ttl, 0);
  BOOST_TEST(e.mark_lived("x", "me", b.fence));
  BOOST_TEST(e.extend("x", "me", 30000, 10) == EngineStatus::kOk);
  BOOST_TEST(!e.is_lived(b.fence));
  // A replica: the leader's refresh arrives as a hold with the same fence.
  Engine r(test::unlimited(), 1);
  r.apply_hold("k", "me", a.fence, 1, e.limits().max_ttl);
  r.apply_lived("k", "me", a.fence);
  BOOST_TEST(r.is_lived(a.fence));
  r.apply_hold("k", "me", a.fence, 1, 60010);
  BOOST_TEST(!r.is_lived(a.fence));
  BOOST_TEST(r.end_lived(1000, 20) == 0u);
}

BOOST_AUTO_TEST_CASE(mark_goes_with_its_holder_and_replicas_apply_it) {
  Engine e(test::unlimited(), 1);
  const auto a = acq(e, "k", "me", 100000, 0);
  BOOST_TEST(e.mark_lived("k", "me", a.fence));
  BOOST_TEST(e.release("k", "me", 1) == EngineStatus::kOk);
  BOOST_TEST(!e.is_lived(a.fence));
  Engine r(test::unlimited(), 1);
  r.set_replica(true);
  r.apply_hold("k", "me", 42, 1, 100000);
  r.apply_lived("k", "me", 41);  // another fence: ignored
  BOOST_TEST(!r.is_lived(42));
  r.apply_lived("k", "me", 42);
  BOOST_TEST(r.is_lived(42));
  BOOST_TEST(r.apply_drop("k", "me", 42));
  BOOST_TEST(!r.is_lived(42));
}

BOOST_AUTO_TEST_SUITE_END()
