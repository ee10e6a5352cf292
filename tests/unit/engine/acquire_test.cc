// Acquire, release, extend, reads and the SET idiom: SPEC §1 rules, one test each.
#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(acquire)

BOOST_AUTO_TEST_CASE(validation_statuses_in_order_and_change_nothing) {
  EngineLimits l;
  l.max_key_bytes = 8;
  l.max_permits = 5;
  l.max_ttl = 1000;
  Engine e(l, 100);
  std::string owner128(128, 'o');
  std::string owner129(129, 'o');
  BOOST_TEST(acq(e, "", "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(acq(e, "123456789", "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(acq(e, "", "", 0, 0, 99, -1).status == EngineStatus::kBadKey);  // key checked first
  BOOST_TEST(acq(e, "k", "", 10, 0).status == EngineStatus::kBadOwner);
  BOOST_TEST(acq(e, "k", owner129, 10, 0).status == EngineStatus::kBadOwner);
  BOOST_TEST(acq(e, "k", "", 0, 0).status == EngineStatus::kBadOwner);  // owner before ttl
  BOOST_TEST(acq(e, "k", "o", 0, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(acq(e, "k", "o", -5, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(acq(e, "k", "o", 1001, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(acq(e, "k", "o", 0, 0, 6).status == EngineStatus::kBadTtl);  // ttl before limit
  BOOST_TEST(acq(e, "k", "o", 10, 0, 6).status == EngineStatus::kBadLimit);
  BOOST_TEST(acq(e, "k", "o", 10, 0, 6, -1).status == EngineStatus::kBadLimit);  // before wait
  BOOST_TEST(acq(e, "k", "o", 10, 0, 0, -1).status == EngineStatus::kBadWait);
  BOOST_TEST(acq(e, "k", "o", 10, 0, 0, 1001).status == EngineStatus::kBadWait);
  EngineStats s = e.stats();
  BOOST_TEST(s.acquire_requests == 0u);
  BOOST_TEST(s.active_locks == 0u);
  BOOST_TEST(s.next_fence == 100u);
  // The boundaries themselves are accepted.
  BOOST_TEST(acq(e, "12345678", owner128, 1000, 0, 5, 1000).status == EngineStatus::kGranted);
  BOOST_TEST(e.set_holder("", "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(e.set_holder("k", "", 10, 0).status == EngineStatus::kBadOwner);
  BOOST_TEST(e.set_holder("k", "o", 1001, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(e.extend("12345678", owner128, 0, 0) == EngineStatus::kBadTtl);
  BOOST_TEST(e.extend("12345678", owner128, 1001, 0) == EngineStatus::kBadTtl);
}

// `now` is the clock rounded up: at now == deadline the TTL may not have passed yet (engine.h).
BOOST_AUTO_TEST_CASE(held_through_its_deadline_and_free_one_ms_after) {
  Engine e(test::unlimited(), 1);
  auto a = acq(e, "k", "a", 100, 1000);
  BOOST_TEST(a.status == EngineStatus::kGranted);
  BOOST_TEST(a.ttl == 100);
  BOOST_TEST(e.exists("k", 1099));
  BOOST_TEST(e.info("k", 1099)->holders.at(0).remaining == 1);
  BOOST_TEST(e.exists("k", 1100));
  BOOST_TEST(e.info("k", 1100)->holders.at(0).remaining == 0);
  BOOST_TEST(acq(e, "k", "b", 100, 1100).status == EngineStatus::kNotGranted);
  BOOST_TEST(!e.exists("k", 1101));
  BOOST_TEST(!e.info("k", 1101).has_value());
  BOOST_TEST(e.stats().active_locks == 0u);  // removed on access, before any tick
  BOOST_TEST(e.stats().expired_holders == 1u);
  auto b = acq(e, "k", "b", 100, 1101);
  BOOST_TEST(b.status == EngineStatus::kGranted);
  BOOST_TEST(b.fence > a.fence);
}

BOOST_AUTO_TEST_CASE(due_holder_is_absent_for_every_command) {
  Engine e(test::unlimited(), 1);
  auto a = acq(e, "k", "a", 50, 0);
  BOOST_TEST(e.extend("k", "a", 100, 51) == EngineStatus::kNotHeld);
  acq(e, "k", "a", 50, 100);
  BOOST_TEST(e.release("k", "a", 151) == EngineStatus::kNotHeld);
  auto again = acq(e, "k", "a", 50, 200);  // re-acquire after expiry: a new fence
  BOOST_TEST(again.status == EngineStatus::kGranted);
  BOOST_TEST(again.fence > a.fence + 1);
  BOOST_TEST(e.release_all("k", 251) == 0u);
  BOOST_TEST(e.set_holder("k", "z", 10, 300).fence > again.fence);
}

BOOST_AUTO_TEST_CASE(reacquire_same_owner_same_fence_refreshed_no_second_permit) {
  Engine e(test::unlimited(), 1);
  auto a = acq(e, "k", "a", 100, 0, 2);
  auto r = acq(e, "k", "a", 500, 50, 2);
  BOOST_TEST(r.status == EngineStatus::kRefreshed);
  BOOST_TEST(r.fence == a.fence);
  BOOST_TEST(r.ttl == 500);
  BOOST_TEST(e.info("k", 50)->holders.size() == 1u);
  BOOST_TEST(e.info("k", 200)->holders.at(0).remaining == 350);             // deadline 550, not 100
  BOOST_TEST(acq(e, "k", "b", 100, 200).status == EngineStatus::kGranted);  // 2nd permit free
  BOOST_TEST(e.stats().holders == 2u);
  BOOST_TEST(e.stats().granted == 2u);
}

BOOST_AUTO_TEST_CASE(reacquire_false_is_not_granted_and_does_not_refresh) {
  Engine e(test::unlimited(), 1);
  acq(e, "k", "pid@host", 100, 0);
  auto r = acq(e, "k", "pid@host", 500, 50, 0, 0, 0, /*reacquire=*/false);
  BOOST_TEST(r.status == EngineStatus::kNotGranted);
  BOOST_TEST(r.fence == 0u);
  BOOST_TEST(!e.exists("k", 101));
}

BOOST_AUTO_TEST_CASE(fences_start_at_first_fence_and_rise_across_keys) {
  Engine e(test::unlimited(), 1700000000000000ull);
  std::uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    std::string key = test::name("key", i % 7);
    auto r = acq(e, key, test::name("o", i), 1000, i, 10);
    BOOST_TEST(r.status == EngineStatus::kGranted);
    if (i == 0) BOOST_TEST(r.fence == 1700000000000000ull);
    BOOST_TEST(r.fence > last);
    last = r.fence;
  }
  BOOST_TEST(e.stats().next_fence == last + 1);
}

BOOST_AUTO_TEST_CASE(limit_set_by_creator_mismatch_and_forgotten_when_gone) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(acq(e, "s", "a", 100, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "s", "b", 100, 0, 2).status == EngineStatus::kMismatch);
  BOOST_TEST(acq(e, "s", "a", 100, 0, 2).status == EngineStatus::kMismatch);  // before re-acquire
  BOOST_TEST(acq(e, "s", "b", 100, 0).status == EngineStatus::kGranted);      // takes the key's 3
  BOOST_TEST(acq(e, "s", "c", 100, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "s", "d", 100, 0, 3).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.info("s", 0)->limit == 3u);
  BOOST_TEST(e.release_all("s", 0) == 3u);
  BOOST_TEST(acq(e, "s", "a", 100, 0, 2).status == EngineStatus::kGranted);  // forgotten
  BOOST_TEST(e.info("s", 0)->limit == 2u);
  BOOST_TEST(acq(e, "m", "a", 100, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.info("m", 0)->limit == 1u);  // 1 when none named
  BOOST_TEST(acq(e, "m", "b", 100, 0, 2).status == EngineStatus::kMismatch);
}

BOOST_AUTO_TEST_CASE(release_extend_info_exists) {
  Engine e(test::unlimited(), 10);
  acq(e, "k", "a", 100, 0, 3);
  acq(e, "k", "b", 300, 10, 3);
  BOOST_TEST(e.release("k", "zz", 20) == EngineStatus::kNotHeld);
  BOOST_TEST(e.release("nokey", "a", 20) == EngineStatus::kNotHeld);
  BOOST_TEST(e.extend("k", "zz", 100, 20) == EngineStatus::kNotHeld);
  BOOST_TEST(e.extend("k", "a", 1000, 20) == EngineStatus::kOk);
  auto info = e.info("k", 50);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->limit == 3u);
  BOOST_TEST(info->waiters == 0u);
  BOOST_REQUIRE(info->holders.size() == 2u);
  BOOST_TEST(info->holders[0].owner == "a");
  BOOST_TEST(info->holders[0].fence == 10u);
  BOOST_TEST(info->holders[0].remaining == 970);
  BOOST_TEST(info->holders[1].owner == "b");
  BOOST_TEST(info->holders[1].fence == 11u);
  BOOST_TEST(info->holders[1].remaining == 260);
  BOOST_TEST(e.release("k", "a", 60) == EngineStatus::kOk);
  BOOST_TEST(e.release("k", "a", 60) == EngineStatus::kNotHeld);
  BOOST_TEST(e.exists("k", 60));
  // The extend moved the wheel entry: b expires at 310 by tick, a would have at 100.
  e.tick(400);
  BOOST_TEST(!e.exists("k", 400));
  BOOST_TEST(!e.info("nokey", 0).has_value());
  EngineStats s = e.stats();
  BOOST_TEST(s.release_requests == 4u);
  BOOST_TEST(s.extend_requests == 2u);
  BOOST_TEST(s.expired_holders == 1u);
  BOOST_TEST(s.active_locks == 0u);
  BOOST_TEST(s.holders == 0u);
}

BOOST_AUTO_TEST_CASE(release_all_and_release_fenced) {
  Engine e(test::unlimited(), 1);
  auto a = acq(e, "k", "a", 100, 0, 2);
  acq(e, "k", "b", 100, 0, 2);
  BOOST_TEST(e.release_fenced("k", "a", a.fence + 1, 0) == EngineStatus::kNotHeld);
  BOOST_TEST(e.release_fenced("k", "a", a.fence, 0) == EngineStatus::kOk);
  BOOST_TEST(e.release_all("k", 0, /*count_as_release=*/true) == 1u);
  BOOST_TEST(e.release_all("k", 0) == 0u);
  BOOST_TEST(e.stats().release_requests == 1u);
  BOOST_TEST(e.stats().active_locks == 0u);
}

BOOST_AUTO_TEST_CASE(set_holder_is_the_redis_set_idiom) {
  Engine e(test::unlimited(), 1);
  auto s1 = e.set_holder("k", "a", 100, 0);
  BOOST_TEST(s1.status == EngineStatus::kOk);
  BOOST_TEST(s1.fence == 1u);
  auto s2 = e.set_holder("k", "a", 500, 50);  // same owner: same fence, refreshed
  BOOST_TEST(s2.fence == 1u);
  BOOST_TEST(e.info("k", 50)->holders.at(0).remaining == 500);
  auto w = acq(e, "k", "w", 100, 60, 0, 1000, 7);
  BOOST_TEST(w.status == EngineStatus::kQueued);
  auto s3 = e.set_holder("k", "b", 100, 70);  // new owner: new fence, waiter keeps waiting
  BOOST_TEST(s3.fence == 2u);
  BOOST_TEST(e.info("k", 70)->holders.at(0).owner == "b");
  BOOST_TEST(e.info("k", 70)->waiters == 1u);
  BOOST_TEST(!e.has_events());
  BOOST_TEST(e.release("k", "a", 80) == EngineStatus::kNotHeld);
  BOOST_TEST(e.release("k", "b", 80) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[0].fence == 3u);
  acq(e, "sem", "a", 100, 0, 2);
  BOOST_TEST(e.set_holder("sem", "a", 100, 0).status == EngineStatus::kWrongType);
}

BOOST_AUTO_TEST_CASE(long_keys_and_owners_use_heap_storage) {
  EngineLimits l = test::unlimited();
  l.max_key_bytes = 600;
  Engine e(l, 1);
  std::uint64_t base = e.memory_bytes();
  std::string key(500, 'k');
  std::string owner1(128, 'a');
  std::string owner2(40, 'b');
  BOOST_TEST(acq(e, key, owner1, 100, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, key, owner2, 100, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, key, "c", 100, 0, 3).status == EngineStatus::kGranted);
  auto info = e.info(key, 1);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->holders.size() == 3u);
  BOOST_TEST(info->holders[0].owner == owner1);
  BOOST_TEST(info->holders[1].owner == owner2);
  BOOST_TEST(e.release(key, owner1, 2) == EngineStatus::kOk);
  BOOST_TEST(acq(e, "short", std::string(40, 'x'), 100, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.set_holder("short", "y", 100, 3).status == EngineStatus::kOk);  // heap -> inline
  BOOST_TEST(e.info("short", 3)->holders.at(0).owner == "y");
  BOOST_TEST(e.exists(key, 3));
  BOOST_TEST(e.release_all(key, 3) == 2u);
  BOOST_TEST(e.release("short", "y", 3) == EngineStatus::kOk);
  BOOST_TEST(e.memory_bytes() >= base);
  BOOST_TEST(e.stats().holders == 0u);
}

// An acquire that names no owner has one made only when it grants or queues (issue 18: a try
// refused at once spent a seventh of its instructions on randomness it threw away). The made owner
// is the holder's or the waiter's, and is reported back.
BOOST_AUTO_TEST_CASE(an_owner_is_made_only_when_the_acquire_grants_or_queues) {
  struct Maker final : OwnerMaker {
    std::string_view make() override {
      last = test::name("made-", ++calls);
      return last;
    }
    int calls = 0;
    std::string last;
  } maker;
  Engine e(test::unlimited(), 1);
  auto made = [&](Millis wait, Millis now) {
    AcquireRequest r;
    r.key = "k";
    r.ttl = 100;
    r.wait = wait;
    r.reacquire = false;
    r.make_owner = &maker;
    return e.acquire(r, now);
  };
  AcquireResult r = made(0, 1000);  // a new key
  BOOST_TEST(r.status == EngineStatus::kGranted);
  BOOST_TEST(maker.calls == 1);
  BOOST_TEST(r.made_owner == "made-1");
  BOOST_TEST(e.release("k", "made-1", 1001) == EngineStatus::kOk);
  BOOST_TEST(acq(e, "k", "a", 100, 1002).status == EngineStatus::kGranted);
  r = made(0, 1003);  // held: refused, nothing made
  BOOST_TEST(r.status == EngineStatus::kNotGranted);
  BOOST_TEST(maker.calls == 1);
  BOOST_TEST(r.made_owner.empty());
  r = made(500, 1004);  // queued behind "a"
  BOOST_TEST(r.status == EngineStatus::kQueued);
  BOOST_TEST(maker.calls == 2);
  BOOST_TEST(r.made_owner == "made-2");
  BOOST_TEST(e.release("k", "a", 1005) == EngineStatus::kOk);  // hands the key to the waiter
  BOOST_TEST(e.release("k", "made-2", 1006) == EngineStatus::kOk);
  BOOST_TEST(e.release("k", "made-2", 1007) == EngineStatus::kNotHeld);
  // Freed again: an existing key with a free permit grants with a new owner.
  r = made(0, 1008);
  BOOST_TEST(r.status == EngineStatus::kGranted);
  BOOST_TEST(r.made_owner == "made-3");
  BOOST_TEST(maker.calls == 3);
}

BOOST_AUTO_TEST_SUITE_END()
