// The compact key entry (issue 18): owners of 32 lowercase hex characters stored as 16 raw bytes,
// limits other than 1 in a side table, and the exact memory figure through every layout change.
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef";    // packs
const std::string kUpper = "0123456789ABCDEF0123456789ABCDEF";  // hex, but not lowercase
const std::string kNearly = "0123456789abcdef0123456789abcdeg";  // one non-hex character
const std::string kHex31 = "0123456789abcdef0123456789abcde";    // one short
const std::string kKey16 = "lock:00000000001";
// With a packed owner the owner moves out of the entry; the 28-byte key moves out with it.
const std::string kKey19 = "lock:00000000000001";
const std::string kKey28(28, 'm');
const std::string kLongKey(40, 'k');  // key + owner cannot stay inline

std::string owner_in_info(Engine& e, std::string_view key, Millis now) {
  auto info = e.info(key, now);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST_REQUIRE(info->holders.size() == 1u);
  return info->holders[0].owner;
}

// An engine whose slabs and tables are in their idle layout, as memory_test.cc's baseline.
void warm_up(Engine& e) {
  acq(e, "warm", "a", 10, 0, 2);
  acq(e, "warm", "b", 10, 0, 2);
  acq(e, "warm", "c", 10, 0, 2, 10);
  e.release_all("warm", 0);
  e.release_all("warm", 0);
  e.take_events();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compact_entry)

BOOST_AUTO_TEST_CASE(every_owner_form_reads_back_exactly_and_only_itself_matches) {
  for (const std::string& key : {kKey16, kKey19, kKey28, kLongKey}) {
    for (const std::string& owner : {kHex, kUpper, kNearly, kHex31, std::string(128, 'o')}) {
      BOOST_TEST_CONTEXT("key " << key << ", owner " << owner) {
        Engine e(test::unlimited(), 1);
        warm_up(e);
        const std::uint64_t baseline = e.memory_bytes();
        BOOST_TEST_REQUIRE(acq(e, key, owner, 1000, 0).status == EngineStatus::kGranted);
        BOOST_TEST(owner_in_info(e, key, 1) == owner);
        // The other forms of "the same" owner are other owners.
        for (const std::string& other : {kHex, kUpper, kNearly, kHex31}) {
          if (other == owner) continue;
          BOOST_TEST(e.release(key, other, 1) == EngineStatus::kNotHeld);
          BOOST_TEST(e.extend(key, other, 10, 1) == EngineStatus::kNotHeld);
        }
        BOOST_TEST(acq(e, key, owner, 1000, 2).status == EngineStatus::kRefreshed);
        std::vector<std::string> seen;
        e.for_each_holder([&](const HolderView& h) { seen.emplace_back(h.owner); });
        BOOST_TEST(seen == std::vector<std::string>{owner});
        BOOST_TEST(e.release(key, owner, 3) == EngineStatus::kOk);
        BOOST_TEST(e.memory_bytes() == baseline);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(set_swaps_between_packed_and_plain_owners_and_memory_stays_exact) {
  for (const std::string& key : {kKey16, kKey19, kKey28, kLongKey}) {
    Engine e(test::unlimited(), 1);
    warm_up(e);
    const std::uint64_t baseline = e.memory_bytes();
    const std::string sequence[] = {kHex, kUpper, kHex, std::string(100, 'x'), kHex31, kHex};
    std::uint64_t fence = 0;
    for (const std::string& owner : sequence) {
      AcquireResult r = e.set_holder(key, owner, 1000, 1);
      BOOST_TEST_REQUIRE(r.status == EngineStatus::kOk);
      BOOST_TEST(r.fence > fence);  // each is another owner: a new fence
      fence = r.fence;
      BOOST_TEST(owner_in_info(e, key, 1) == owner);
    }
    BOOST_TEST(e.set_holder(key, kHex, 1000, 2).fence == fence);  // the same owner: kept
    BOOST_TEST(e.release(key, kHex, 3) == EngineStatus::kOk);
    BOOST_TEST(e.memory_bytes() == baseline);
  }
}

// A key of up to 24 bytes whose owner does not fit beside it stays in the entry and only the
// owner moves to a heap block (a lookup compares the key without leaving the entry); a longer
// key moves with its owner. The accounted bytes show which layout was taken.
BOOST_AUTO_TEST_CASE(a_short_key_stays_in_the_entry_when_its_owner_moves_out) {
  auto held_bytes = [](const std::string& key, const std::string& owner) {
    Engine e(test::unlimited(), 1);
    warm_up(e);
    const std::uint64_t baseline = e.memory_bytes();
    BOOST_TEST_REQUIRE(acq(e, key, owner, 1000, 0).status == EngineStatus::kGranted);
    const std::uint64_t held = e.memory_bytes() - baseline;
    BOOST_TEST(owner_in_info(e, key, 1) == owner);
    BOOST_TEST(e.release(key, owner, 2) == EngineStatus::kOk);
    BOOST_TEST(e.memory_bytes() == baseline);
    return held;
  };
  const std::uint64_t inline_pair = held_bytes(kKey16, kHex);  // 16 + 16 bytes: all inline
  BOOST_TEST(held_bytes(kKey19, kHex) == inline_pair + 16);    // the packed owner alone
  BOOST_TEST(held_bytes(kKey19, kUpper) == inline_pair + 32);  // the plain owner alone
  BOOST_TEST(held_bytes(std::string(24, 'x'), kUpper) == inline_pair + 32);
  BOOST_TEST(held_bytes(kKey28, kHex) == inline_pair + 28 + 16);  // key and owner together
}

// A try by an owner that may not refresh (a derived one) is refused without looking for the
// owner when no permit is free; the answers are those of the full path.
BOOST_AUTO_TEST_CASE(a_try_that_may_not_refresh_is_refused_the_same_either_way) {
  Engine e(test::unlimited(), 1);
  const bool derived = false;
  BOOST_TEST_REQUIRE(acq(e, kKey19, kUpper, 1000, 0, 0, 0, 0, derived).status ==
                     EngineStatus::kGranted);
  // Held by itself or by another, no permit free: refused, waiting or not for another.
  BOOST_TEST(acq(e, kKey19, kUpper, 1000, 1, 0, 0, 0, derived).status ==
             EngineStatus::kNotGranted);
  BOOST_TEST(acq(e, kKey19, kHex, 1000, 1, 0, 0, 0, derived).status ==
             EngineStatus::kNotGranted);
  BOOST_TEST(acq(e, kKey19, kUpper, 1000, 1, 0, 500, 7, derived).status ==
             EngineStatus::kNotGranted);  // it already holds it: never queued behind itself
  BOOST_TEST(acq(e, kKey19, kHex, 1000, 1, 0, 500, 8, derived).status == EngineStatus::kQueued);
  // A semaphore with a free permit: the holder is found, so no second permit for it.
  BOOST_TEST_REQUIRE(acq(e, "sem", kUpper, 1000, 0, 2, 0, 0, derived).status ==
                     EngineStatus::kGranted);
  BOOST_TEST(acq(e, "sem", kUpper, 1000, 1, 2, 0, 0, derived).status ==
             EngineStatus::kNotGranted);
  BOOST_TEST(e.info("sem", 1)->holders.size() == 1u);
  BOOST_TEST(acq(e, "sem", kHex, 1000, 1, 2, 0, 0, derived).status == EngineStatus::kGranted);
}

BOOST_AUTO_TEST_CASE(mutations_and_restore_carry_the_owner_text) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  BOOST_TEST_REQUIRE(acq(e, kKey16, kHex, 1000, 0).status == EngineStatus::kGranted);
  std::vector<Mutation> log = e.take_mutations();
  BOOST_TEST_REQUIRE(log.size() == 1u);
  BOOST_TEST(log[0].owner == kHex);
  BOOST_TEST(log[0].limit == 1u);

  Engine restored(test::unlimited(), 1);
  restored.tick(0);
  BOOST_TEST(restored.restore_holder(kKey16, kHex, 7, 3, 1000));
  BOOST_TEST(restored.restore_holder(kKey16, kHex, 7, 3, 1000));  // already there: true
  BOOST_TEST(!restored.restore_holder(kKey16, kUpper, 8, 2, 1000));  // another limit
  auto info = restored.info(kKey16, 1);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->limit == 3u);
  BOOST_TEST(info->holders.at(0).owner == kHex);
  BOOST_TEST(info->holders.at(0).fence == 7u);
}

BOOST_AUTO_TEST_CASE(a_semaphore_keeps_its_limit_until_the_key_is_gone) {
  Engine e(test::unlimited(), 1);
  warm_up(e);
  const std::uint64_t baseline = e.memory_bytes();
  for (int i = 0; i < 3000; ++i) {  // enough keys to grow the side table past its idle size
    std::string key = test::name("sem", i);
    BOOST_TEST_REQUIRE(acq(e, key, kHex, 1000, 0, 3).status == EngineStatus::kGranted);
    BOOST_TEST_REQUIRE(acq(e, key, kUpper, 1000, 0, 3).status == EngineStatus::kGranted);
  }
  BOOST_TEST(acq(e, "sem7", kNearly, 1000, 0, 2).status == EngineStatus::kMismatch);
  BOOST_TEST(acq(e, "sem7", kNearly, 1000, 0).status == EngineStatus::kGranted);  // takes 3
  BOOST_TEST(acq(e, "sem7", kHex31, 1000, 0).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.info("sem7", 0)->limit == 3u);
  BOOST_TEST(e.set_holder("sem7", kHex, 1000, 0).status == EngineStatus::kWrongType);
  for (int i = 0; i < 3000; ++i) e.release_all(test::name("sem", i), 1);
  BOOST_TEST(e.memory_bytes() == baseline);  // the side table is back to its idle size
  // The key forgot its limit with its holders: a mutex now, and never a semaphore's limit.
  BOOST_TEST(acq(e, "sem7", kHex, 1000, 2).status == EngineStatus::kGranted);
  BOOST_TEST(e.info("sem7", 2)->limit == 1u);
  BOOST_TEST(acq(e, "sem7", kUpper, 1000, 2).status == EngineStatus::kNotGranted);
}

// The issue 18 target, engine side: a million held mutexes with 16-byte keys and the generated
// owner form cost at most 80 accounted bytes each (index and slab slack included).
BOOST_AUTO_TEST_CASE(a_million_locks_cost_at_most_80_bytes_each) {
  Engine e(test::unlimited(), 1);
  warm_up(e);
  const std::uint64_t baseline = e.memory_bytes();
  char key[32];
  for (int i = 0; i < 1000000; ++i) {
    std::snprintf(key, sizeof key, "lock:%011d", i);
    BOOST_TEST_REQUIRE(acq(e, key, kHex, 1000000, 0).status == EngineStatus::kGranted);
  }
  const double per_lock = static_cast<double>(e.memory_bytes() - baseline) / 1e6;
  BOOST_TEST_MESSAGE("accounted bytes per lock at 1,000,000: " << per_lock);
  BOOST_TEST(per_lock <= 80.0);
}

BOOST_AUTO_TEST_SUITE_END()
