// Owner lookup within a key with many holders (the (key, owner) index of semaphore holders):
// every operation finds exactly the right holder, owners of other keys never match, and the
// index's memory is accounted and given back. Its speed is shown by bench/engine, not asserted.
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(owner_index)

BOOST_AUTO_TEST_CASE(ten_thousand_holders_on_one_key_each_found_by_owner) {
  EngineLimits l = test::unlimited();
  Engine e(l, 1);
  acq(e, "warm", "a", 10, 0, 2);
  acq(e, "warm", "b", 10, 0, 2);
  e.release_all("warm", 0);
  const std::uint64_t baseline = e.memory_bytes();
  const int n = 10000;
  std::set<std::uint64_t> fences;
  for (int i = 0; i < n; ++i) {
    auto r = acq(e, "sem", test::name("owner-", i), 100000, 0, n);
    BOOST_TEST_REQUIRE((r.status == EngineStatus::kGranted));
    fences.insert(r.fence);
  }
  BOOST_TEST(fences.size() == static_cast<std::size_t>(n));
  BOOST_TEST(acq(e, "sem", "one-too-many", 100, 0, n).status == EngineStatus::kNotGranted);
  // The same owner names on another key are other holders.
  BOOST_TEST(acq(e, "other", "owner-5", 100000, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(e.release("other", "owner-6", 1) == EngineStatus::kNotHeld);

  for (int i : {0, 1, 4999, 9998, 9999}) {
    const std::string owner = test::name("owner-", i);
    auto r = acq(e, "sem", owner, 50000, 10, n);
    BOOST_TEST((r.status == EngineStatus::kRefreshed));
    BOOST_TEST(r.fence == static_cast<std::uint64_t>(3 + i));  // grant order, after the warm-up
    BOOST_TEST(acq(e, "sem", owner, 50000, 10, n, 0, 0, false).status == EngineStatus::kNotGranted);
  }
  BOOST_TEST(e.extend("sem", "owner-1234", 7, 20) == EngineStatus::kOk);
  BOOST_TEST(e.extend("sem", "nobody", 7, 20) == EngineStatus::kNotHeld);
  // owner-1234 alone expires: found on access, the rest stay.
  BOOST_TEST(acq(e, "sem", "owner-1234", 100, 28, n).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().expired_holders == 1u);

  for (int i = n - 1; i >= 0; i -= 2) {
    BOOST_TEST_REQUIRE(e.release("sem", test::name("owner-", i), 30) == EngineStatus::kOk);
  }
  for (int i = n - 1; i >= 0; i -= 2) {
    BOOST_TEST_REQUIRE(e.release("sem", test::name("owner-", i), 30) == EngineStatus::kNotHeld);
  }
  BOOST_TEST(e.info("sem", 30)->holders.size() == static_cast<std::size_t>(n / 2));
  // Fenced release matches owner and fence.
  BOOST_TEST(e.release_fenced("sem", "owner-2", 5, 30) == EngineStatus::kOk);
  BOOST_TEST(e.release_fenced("sem", "owner-4", 6, 30) == EngineStatus::kNotHeld);
  BOOST_TEST(e.release_fenced("sem", "owner-4", 7, 30) == EngineStatus::kOk);
  for (int i = 0; i < n; i += 2) e.release("sem", test::name("owner-", i), 40);
  BOOST_TEST(!e.exists("sem", 40));
  BOOST_TEST(e.release("other", "owner-5", 40) == EngineStatus::kOk);
  BOOST_TEST(e.stats().holders == 0u);
  BOOST_TEST(e.memory_bytes() == baseline);
}

// Owners too long for the holder record (heap blocks) and the first holder (kept in the key's
// own record) are found the same way, after the holders around them come and go.
BOOST_AUTO_TEST_CASE(long_owners_and_the_first_holder_are_found_among_many) {
  Engine e(test::unlimited(), 1);
  const std::uint64_t base = e.memory_bytes();
  const std::string long_a(128, 'a');
  const std::string long_b = std::string(127, 'a') + "b";
  acq(e, "k", "first", 1000, 0, 100);
  for (int i = 0; i < 50; ++i) acq(e, "k", test::name(long_a.substr(0, 100), i), 1000, 0, 100);
  acq(e, "k", long_a, 1000, 0, 100);
  acq(e, "k", long_b, 1000, 0, 100);
  BOOST_TEST(e.release("k", "first", 1) == EngineStatus::kOk);
  BOOST_TEST(acq(e, "k", long_a, 1000, 1, 100).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.release("k", long_b, 1) == EngineStatus::kOk);
  BOOST_TEST(e.release("k", long_b, 1) == EngineStatus::kNotHeld);
  BOOST_TEST(acq(e, "k", "first", 1000, 2, 100).status == EngineStatus::kGranted);
  BOOST_TEST(e.info("k", 2)->holders.size() == 52u);
  BOOST_TEST(e.release_all("k", 3) == 52u);
  BOOST_TEST(e.stats().holders == 0u);
  BOOST_TEST(e.memory_bytes() >= base);
  BOOST_TEST(acq(e, "k", long_a, 1000, 4, 100).status == EngineStatus::kGranted);
}

BOOST_AUTO_TEST_SUITE_END()
