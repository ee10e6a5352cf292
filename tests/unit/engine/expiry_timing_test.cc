// When holders expire and in what order a tick decides things (SPEC §1), on a virtual clock that
// behaves as the server's: `now` is the real time rounded up to the millisecond.
//   - a holder is never due before its TTL has passed (issue 11, defect 1);
//   - within a tick, expiries come before waiter timeouts: a waiter whose wait had not run out
//     when the permit freed gets it (defect 7);
//   - due holders are removed before an acquire is rejected at a limit, also those the wheel's
//     current tick has not reached (defect 8).
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace {

// The server's clock: microseconds of real time, rounded up to whole milliseconds.
Millis ceil_ms(std::int64_t us) {
  return (us + 999) / 1000;
}

EngineLimits ticking(Millis resolution) {
  EngineLimits l = test::unlimited();
  l.tick_resolution = resolution;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expiry_timing)

// Every real instant before grant time + TTL, for grant times spread over a millisecond: the holder
// is present for access and survives ticks (the old code lost it up to 1 ms early).
BOOST_AUTO_TEST_CASE(holder_is_never_due_before_its_ttl_has_passed_on_a_rounded_up_clock) {
  const Millis ttl = 20;
  int early = 0;
  for (std::int64_t t0 = 5'000'000; t0 < 5'001'000; t0 += 37) {
    Engine e(ticking(1), 1);
    e.tick(ceil_ms(t0));
    // A mutex, a semaphore's first holder and a semaphore's extra holder.
    BOOST_REQUIRE(acq(e, "m", "o", ttl, ceil_ms(t0)).status == EngineStatus::kGranted);
    BOOST_REQUIRE(acq(e, "s", "a", ttl, ceil_ms(t0), 2).status == EngineStatus::kGranted);
    BOOST_REQUIRE(acq(e, "s", "b", ttl, ceil_ms(t0), 2).status == EngineStatus::kGranted);
    for (std::int64_t t = t0; t < t0 + ttl * 1000; t += 113) {
      e.tick(ceil_ms(t));
      if (!e.exists("m", ceil_ms(t)) || e.info("s", ceil_ms(t))->holders.size() != 2) ++early;
    }
    const std::int64_t last = t0 + ttl * 1000 - 1;  // one microsecond before the TTL has passed
    e.tick(ceil_ms(last));
    if (!e.exists("m", ceil_ms(last)) || e.info("s", ceil_ms(last))->holders.size() != 2) ++early;
    // Gone within a millisecond of its TTL (and one wheel tick, here 1 ms).
    const std::int64_t after = t0 + ttl * 1000 + 1000;
    e.tick(ceil_ms(after));
    BOOST_TEST(e.stats().holders == 0u);
    BOOST_TEST(e.stats().expired_holders == 3u);
  }
  BOOST_TEST(early == 0);
}

// The same for a holder granted to a waiter: its TTL runs from the grant.
BOOST_AUTO_TEST_CASE(waiter_grant_is_never_due_before_its_ttl_has_passed) {
  Engine e(ticking(10), 1);
  acq(e, "k", "h", 50, 1000);
  BOOST_REQUIRE(acq(e, "k", "w", 20, 1000, 0, 1000, 7).status == EngineStatus::kQueued);
  // Released at real time 1010.4 ms: the server passes 1011.
  BOOST_REQUIRE(e.release("k", "h", ceil_ms(1'010'400)) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
  for (std::int64_t t = 1'010'400; t < 1'030'400; t += 50) {
    e.tick(ceil_ms(t));
    BOOST_TEST_REQUIRE(e.exists("k", ceil_ms(t)));
  }
  e.tick(1032);
  BOOST_TEST(!e.exists("k", 1032));
}

// Replies about the remaining time never exceed the TTL asked and never go negative.
BOOST_AUTO_TEST_CASE(remaining_time_is_at_most_the_ttl_and_zero_in_the_last_millisecond) {
  Engine e(test::unlimited(), 1);
  acq(e, "k", "o", 20, 100);
  BOOST_TEST(e.info("k", 100)->holders.at(0).remaining == 20);
  BOOST_TEST(e.info("k", 119)->holders.at(0).remaining == 1);
  // now = 120 means the real time is in (119, 120]: the TTL may not have passed yet.
  BOOST_REQUIRE(e.info("k", 120).has_value());
  BOOST_TEST(e.info("k", 120)->holders.at(0).remaining == 0);
  BOOST_TEST(!e.info("k", 121).has_value());
  // Refresh and extend count from their own request time, the same way.
  acq(e, "k", "o", 20, 200);
  BOOST_TEST(acq(e, "k", "o", 30, 205).ttl == 30);
  BOOST_TEST(e.info("k", 205)->holders.at(0).remaining == 30);
  BOOST_TEST(e.extend("k", "o", 10, 210) == EngineStatus::kOk);
  BOOST_TEST(e.info("k", 220)->holders.at(0).remaining == 0);
  BOOST_TEST(!e.exists("k", 221));
}

// Defect 7, by the wheel: the holder's TTL ends at 100, the waiter's wait at 105; both fall in
// the tick processed at 110. The permit freed at 100, while the waiter still waited.
BOOST_AUTO_TEST_CASE(waiter_whose_wait_outlasts_the_expiry_gets_the_permit_in_that_tick) {
  Engine e(ticking(10), 1);
  acq(e, "k", "h", 100, 0);
  BOOST_REQUIRE(acq(e, "k", "w", 50, 0, 0, 105, 1).status == EngineStatus::kQueued);
  e.tick(110);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(e.info("k", 110)->holders.at(0).owner == "w");
  BOOST_TEST(e.info("k", 110)->holders.at(0).remaining == 50);  // the TTL runs from the grant
  BOOST_TEST(e.stats().waiter_timeouts == 0u);
}

// The same when an access (not the wheel) finds the holder due: the moment the permit freed is
// the holder's deadline, not the time of the access.
BOOST_AUTO_TEST_CASE(waiter_whose_wait_outlasts_the_expiry_gets_the_permit_on_access) {
  Engine e(ticking(10), 1);
  acq(e, "k", "h", 100, 0);
  acq(e, "k", "w", 50, 0, 0, 105, 1);
  BOOST_TEST(e.exists("k", 108));
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(e.info("k", 108)->holders.at(0).owner == "w");
}

// A waiter whose wait ran out before the permit freed is told "not acquired", and the permit
// goes to the next one; on a semaphore, two permits freed at different moments in one tick go
// to the waiters that were still waiting at each moment.
BOOST_AUTO_TEST_CASE(permits_freed_in_one_tick_go_in_deadline_order_to_waiters_still_waiting) {
  Engine e(ticking(10), 1);
  acq(e, "s", "late", 108, 0, 2);  // inserted first, due last
  acq(e, "s", "early", 101, 0, 2);
  acq(e, "s", "w1", 50, 0, 2, 99, 1);   // ran out before either permit freed
  acq(e, "s", "w2", 50, 0, 2, 103, 2);  // waiting when "early" freed (101)
  acq(e, "s", "w3", 50, 0, 2, 105, 3);  // ran out before "late" freed (108)
  acq(e, "s", "w4", 50, 0, 2, 200, 4);  // waiting when "late" freed
  e.tick(110);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 4u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(!ev[0].granted);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(ev[1].granted);
  BOOST_TEST(ev[2].tag == 3u);
  BOOST_TEST(!ev[2].granted);
  BOOST_TEST(ev[3].tag == 4u);
  BOOST_TEST(ev[3].granted);
  BOOST_TEST(ev[1].fence < ev[3].fence);
  BOOST_TEST(e.stats().waiter_timeouts == 2u);
}

// A wait that ends at the very moment the permit frees is served (expiries first).
BOOST_AUTO_TEST_CASE(wait_ending_at_the_expiry_is_served) {
  Engine e(ticking(10), 1);
  acq(e, "k", "h", 100, 0);
  acq(e, "k", "w1", 100, 0, 0, 100, 1);  // its wait ends when h expires
  acq(e, "k", "w2", 100, 0, 0, 100, 2);
  e.tick(101);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(!ev[1].granted);
}

// Defect 8: every holder is past its deadline, but inside the wheel tick that has not been
// processed yet (deadline 12, tick width 10, acquire at 15).
BOOST_AUTO_TEST_CASE(acquire_at_max_locks_removes_due_holders_the_wheel_has_not_reached) {
  EngineLimits l = ticking(10);
  l.max_locks = 100;
  Engine e(l, 1);
  for (int i = 0; i < 100; ++i) acq(e, test::name("k", i), "o", 12, 0);
  e.tick(10);
  BOOST_TEST(e.stats().holders == 100u);
  BOOST_TEST(acq(e, "new", "o", 1000, 15).status == EngineStatus::kGranted);
  BOOST_TEST(e.set_holder("new2", "o", 1000, 15).status == EngineStatus::kOk);
  BOOST_TEST(e.stats().rejected_max_locks == 0u);
  BOOST_TEST(e.stats().holders == 2u);
  BOOST_TEST(e.stats().expired_holders == 100u);
}

BOOST_AUTO_TEST_CASE(acquire_at_the_memory_limit_removes_due_holders_the_wheel_has_not_reached) {
  EngineLimits l = ticking(10);
  Engine e(l, 1);
  for (int i = 0; i < 100; ++i) acq(e, test::name("k", i), "o", 12, 0);
  e.tick(10);
  l.max_memory_bytes = e.stats().memory_bytes;  // at the limit
  e.set_limits(l);
  BOOST_TEST(acq(e, "k1", "p", 1000, 15).status == EngineStatus::kGranted);  // k1 was due
  BOOST_TEST(acq(e, "new", "o", 1000, 15).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().rejected_memory == 0u);
  BOOST_TEST(e.stats().expired_holders == 100u);
}

// The budget still bounds that work: with max_expiries_per_tick = 10, one rejected acquire
// removes at most 10 due holders.
BOOST_AUTO_TEST_CASE(removal_before_rejection_is_bounded_by_the_expiry_budget) {
  EngineLimits l = ticking(10);
  l.max_locks = 100;
  l.max_expiries_per_tick = 10;
  Engine e(l, 1);
  for (int i = 0; i < 100; ++i) acq(e, test::name("k", i), "o", 12, 0);
  BOOST_TEST(acq(e, "new", "o", 1000, 15).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().expired_holders <= 10u);
  BOOST_TEST(e.stats().expired_holders >= 1u);
  BOOST_TEST(e.stats().holders >= 91u);
}

// A mass expiry larger than the budget: an access to a semaphore still finds its own due holders
// gone (by scanning the key, since the wheel's backlog is not its to clear at once).
BOOST_AUTO_TEST_CASE(semaphore_access_during_an_expiry_backlog_sees_its_due_holders_gone) {
  EngineLimits l = ticking(10);
  l.max_expiries_per_tick = 10;
  Engine e(l, 1);
  for (int i = 0; i < 100; ++i) acq(e, test::name("m", i), "o", 50, 0);
  acq(e, "s", "a", 50, 0, 3);
  acq(e, "s", "b", 50, 0, 3);
  acq(e, "s", "c", 1000, 0, 3);
  auto info = e.info("s", 60);
  BOOST_REQUIRE(info.has_value());
  BOOST_REQUIRE(info->holders.size() == 1u);
  BOOST_TEST(info->holders[0].owner == "c");
  BOOST_TEST(e.stats().expired_holders <= 12u);  // one budget, plus the key's own two
  BOOST_TEST(acq(e, "s", "d", 100, 60, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "s", "a", 100, 60, 3).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "s", "b", 100, 60, 3).status == EngineStatus::kNotGranted);
}

// While due holders remain for want of budget, waiter timeouts wait for them: the waiter whose
// holder is at the back of the backlog is granted when it is reached, not timed out first.
BOOST_AUTO_TEST_CASE(waiter_timeouts_wait_for_an_expiry_backlog) {
  EngineLimits l = ticking(10);
  l.max_expiries_per_tick = 10;
  Engine e(l, 1);
  for (int i = 0; i < 50; ++i) acq(e, test::name("m", i), "o", 100, 0);
  acq(e, "k", "h", 100, 0);             // due with the 50 others, filed after them
  acq(e, "k", "w", 100, 0, 0, 100, 1);  // its wait ends when h's TTL does
  acq(e, "other", "h", 1000, 0);
  acq(e, "other", "w", 100, 0, 0, 100, 2);  // nothing frees this one: it times out
  for (Millis t = 110; t <= 170; t += 10) e.tick(t);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(!ev[1].granted);
  BOOST_TEST(e.stats().expired_holders == 51u);
}

BOOST_AUTO_TEST_SUITE_END()
