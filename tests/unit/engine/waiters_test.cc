// Blocking acquires: FIFO grants, no barging, timeouts, cancel, events.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(waiters)

BOOST_AUTO_TEST_CASE(fifo_under_release_expiry_force_release_and_access_expiry) {
  EngineLimits l = test::unlimited();
  l.tick_resolution = 10;
  Engine e(l, 1);
  BOOST_TEST(acq(e, "k", "h", 100, 0).status == EngineStatus::kGranted);
  std::vector<WaiterId> ids;
  for (int i = 1; i <= 4; ++i) {
    auto r = acq(e, "k", test::name("w", i), 50, i, 0, 100000, i);
    BOOST_TEST(r.status == EngineStatus::kQueued);
    ids.push_back(r.waiter);
  }
  BOOST_TEST(e.stats().waiters == 4u);
  BOOST_TEST(e.info("k", 5)->waiters == 4u);
  BOOST_TEST(!e.has_events());

  // 1. release
  BOOST_TEST(e.release("k", "h", 10) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST((ev[0].waiter == ids[0]));
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[0].fence == 2u);
  BOOST_TEST(ev[0].ttl == 50);
  BOOST_TEST(e.info("k", 10)->holders.at(0).owner == "w1");
  BOOST_TEST(e.info("k", 10)->holders.at(0).remaining == 50);  // TTL starts at the grant

  // 2. expiry by the wheel (w1's deadline 60: due at 61)
  e.tick(60);
  BOOST_TEST(!e.has_events());
  e.tick(61);
  ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 2u);
  BOOST_TEST(ev[0].fence == 3u);

  // 3. force release
  BOOST_TEST(e.release_all("k", 70) == 1u);
  ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 3u);
  BOOST_TEST(ev[0].fence == 4u);

  // 4. expiry found on access (w3's deadline 120), between ticks
  BOOST_TEST(e.exists("k", 121));
  ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 4u);
  BOOST_TEST(ev[0].fence == 5u);
  BOOST_TEST(e.info("k", 121)->holders.at(0).owner == "w4");
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(e.stats().granted == 5u);
}

BOOST_AUTO_TEST_CASE(no_barging_while_waiters_exist) {
  Engine e(test::unlimited(), 1);
  acq(e, "s", "a", 1000, 0, 2);
  acq(e, "s", "b", 1000, 0, 2);
  BOOST_TEST(acq(e, "s", "w", 1000, 0, 2, 500, 1).status == EngineStatus::kQueued);
  BOOST_TEST(e.release("s", "a", 10) == EngineStatus::kOk);  // the permit goes to w
  BOOST_TEST(acq(e, "s", "x", 1000, 10, 2).status == EngineStatus::kNotGranted);
  BOOST_TEST(acq(e, "s", "y", 1000, 10, 2, 500, 2).status == EngineStatus::kQueued);
  BOOST_TEST(acq(e, "s", "z", 1000, 10, 2, 500, 3).status == EngineStatus::kQueued);
  BOOST_TEST(e.release("s", "b", 20) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(e.info("s", 20)->waiters == 1u);
  // An owner already holding re-acquires instead of queueing.
  BOOST_TEST(acq(e, "s", "w", 1000, 30, 2, 500).status == EngineStatus::kRefreshed);
}

BOOST_AUTO_TEST_CASE(waiter_times_out_at_its_deadline_and_leaves_the_queue) {
  EngineLimits l = test::unlimited();
  l.tick_resolution = 10;
  Engine e(l, 1);
  acq(e, "k", "h", 1000, 0);
  auto w1 = acq(e, "k", "w1", 100, 0, 0, 100, 1);
  auto w2 = acq(e, "k", "w2", 100, 0, 0, 300, 2);
  e.tick(100);  // the wait (deadline 100) may not have run out yet
  BOOST_TEST(!e.has_events());
  e.tick(101);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST((ev[0].waiter == w1.waiter));
  BOOST_TEST(!ev[0].granted);
  BOOST_TEST(e.stats().waiter_timeouts == 1u);
  BOOST_TEST(e.info("k", 101)->waiters == 1u);
  e.release("k", "h", 150);
  ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST((ev[0].waiter == w2.waiter));
  BOOST_TEST(ev[0].granted);
}

// Within a tick expiries come before waiter timeouts: expiry_timing_test.cc.

BOOST_AUTO_TEST_CASE(cancel_is_silent_and_stale_ids_are_harmless) {
  Engine e(test::unlimited(), 1);
  acq(e, "k", "h", 1000, 0);
  auto w1 = acq(e, "k", "w1", 100, 0, 0, 500, 1);
  auto w2 = acq(e, "k", "w2", 100, 0, 0, 500, 2);
  BOOST_TEST(e.cancel_waiter(w1.waiter));
  BOOST_TEST(e.stats().waiters == 1u);
  BOOST_TEST(!e.cancel_waiter(w1.waiter));  // twice: no effect
  BOOST_TEST(!e.cancel_waiter(WaiterId{w2.waiter.slot, w2.waiter.generation + 1}));
  BOOST_TEST(!e.cancel_waiter(WaiterId{123456, 1}));
  BOOST_TEST(e.stats().waiters == 1u);
  BOOST_TEST(!e.has_events());
  e.release("k", "h", 10);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 2u);
  // Already granted (the event is out): false, so the caller knows it must handle the grant.
  BOOST_TEST(!e.cancel_waiter(w2.waiter));
  BOOST_TEST(e.exists("k", 10));
  // A cancelled waiter's slot reused by a new waiter keeps the old id stale.
  auto w3 = acq(e, "k", "w3", 100, 10, 0, 500, 3);
  BOOST_TEST(!e.cancel_waiter(w1.waiter));
  BOOST_TEST(e.info("k", 10)->waiters == 1u);
  BOOST_TEST(e.cancel_waiter(w3.waiter));
  BOOST_TEST(e.info("k", 10)->waiters == 0u);
  e.tick(2000);
  BOOST_TEST(!e.has_events());
}

BOOST_AUTO_TEST_CASE(time_out_all_waiters_answers_everyone) {
  Engine e(test::unlimited(), 1);
  acq(e, "a", "h", 1000, 0);
  acq(e, "b", "h", 1000, 0);
  acq(e, "a", "w", 100, 0, 0, 500, 1);
  acq(e, "b", "w", 100, 0, 0, 500, 2);
  e.time_out_all_waiters();
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(!ev[0].granted);
  BOOST_TEST(!ev[1].granted);
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(e.stats().active_locks == 2u);
}

BOOST_AUTO_TEST_CASE(waiter_owner_that_came_to_hold_is_refreshed_not_doubled) {
  Engine e(test::unlimited(), 1);
  acq(e, "s", "a", 1000, 0, 2);
  acq(e, "s", "b", 1000, 0, 2);
  acq(e, "s", "w", 100, 0, 2, 500, 1);
  acq(e, "s", "w", 100, 0, 2, 500, 2);  // the same owner queued twice
  e.release("s", "a", 10);
  e.release("s", "b", 10);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].fence == ev[1].fence);
  BOOST_TEST(!ev[0].refreshed);  // created the holder
  BOOST_TEST(ev[1].refreshed);   // only refreshed it: the server binds and releases nothing
  BOOST_TEST(e.info("s", 10)->holders.size() == 1u);
}

// Issue 11, defect 9: an owner derived from pid/host (reacquire=false) queued twice gets one
// grant; at its turn the second is told "not acquired" (as an immediate acquire would be), and the
// permit goes on to the next waiter. No two grants share a fence.
BOOST_AUTO_TEST_CASE(derived_owner_waiting_twice_is_granted_once) {
  Engine e(test::unlimited(), 1);
  acq(e, "s", "a", 1000, 0, 2);
  acq(e, "s", "b", 1000, 0, 2);
  const bool derived = false;  // reacquire
  BOOST_REQUIRE(acq(e, "s", "1234@host", 100, 0, 2, 500, 1, derived).status ==
                EngineStatus::kQueued);
  BOOST_REQUIRE(acq(e, "s", "1234@host", 100, 0, 2, 500, 2, derived).status ==
                EngineStatus::kQueued);
  BOOST_REQUIRE(acq(e, "s", "x", 100, 0, 2, 500, 3).status == EngineStatus::kQueued);
  e.release("s", "a", 10);
  e.release("s", "b", 10);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 3u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(!ev[1].granted);
  BOOST_TEST(ev[1].fence == 0u);
  BOOST_TEST(ev[2].tag == 3u);
  BOOST_TEST(ev[2].granted);
  BOOST_TEST(ev[2].fence != ev[0].fence);
  auto info = e.info("s", 10);
  BOOST_REQUIRE(info.has_value());
  BOOST_REQUIRE(info->holders.size() == 2u);
  BOOST_TEST(info->holders[0].owner == "1234@host");
  BOOST_TEST(info->holders[0].fence == ev[0].fence);
  BOOST_TEST(info->holders[0].remaining == 100);
  BOOST_TEST(info->holders[1].owner == "x");
  BOOST_TEST(info->waiters == 0u);
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(e.stats().waiter_timeouts == 0u);  // answered, not timed out
}

// On a mutex the second derived waiter's turn comes only once the owner's holder is gone: then it
// is a new grant with a new fence.
BOOST_AUTO_TEST_CASE(derived_owner_second_wait_on_a_mutex_is_a_new_grant_after_release) {
  Engine e(test::unlimited(), 1);
  acq(e, "m", "h", 1000, 0);
  acq(e, "m", "9@h", 100, 0, 0, 500, 1, false);
  acq(e, "m", "9@h", 100, 0, 0, 500, 2, false);
  e.release("m", "h", 10);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(e.release("m", "9@h", 20) == EngineStatus::kOk);
  auto ev2 = e.take_events();
  BOOST_REQUIRE(ev2.size() == 1u);
  BOOST_TEST(ev2[0].tag == 2u);
  BOOST_TEST(ev2[0].granted);
  BOOST_TEST(ev2[0].fence > ev[0].fence);
}

// An explicit owner that already holds and asks again with WAIT is refreshed at once (same
// fence, new deadline), even while others wait: it is never queued behind them.
BOOST_AUTO_TEST_CASE(explicit_owner_holding_and_waiting_again_is_refreshed_at_once) {
  Engine e(test::unlimited(), 1);
  auto a = acq(e, "k", "o", 100, 0);
  BOOST_REQUIRE(acq(e, "k", "w", 100, 0, 0, 500, 1).status == EngineStatus::kQueued);
  auto r = acq(e, "k", "o", 300, 50, 0, 500, 2);
  BOOST_TEST(r.status == EngineStatus::kRefreshed);
  BOOST_TEST(r.fence == a.fence);
  BOOST_TEST(r.ttl == 300);
  BOOST_TEST(e.info("k", 50)->holders.at(0).remaining == 300);
  BOOST_TEST(e.info("k", 50)->waiters == 1u);
  BOOST_TEST(!e.has_events());
  // A derived owner asking again with WAIT is not granted, and not queued either.
  auto d = acq(e, "d", "1@h", 100, 0, 0, 0, 0, false);
  BOOST_TEST(acq(e, "d", "1@h", 100, 1, 0, 500, 3, false).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.info("d", 1)->waiters == 0u);
  BOOST_TEST(e.info("d", 1)->holders.at(0).fence == d.fence);
}

// A waiter grant carries the deadline it set; release_unrefreshed (an undeliverable grant) removes
// the holder only while nothing has refreshed or extended it since, so another request of the same
// owner that was told it holds the key keeps it for its TTL.
BOOST_AUTO_TEST_CASE(grant_deadline_and_release_unrefreshed) {
  Engine e(test::unlimited(), 1);
  for (const char* how : {"none", "acquire", "extend"}) {
    const std::string key = std::string("k-") + how;
    acq(e, key, "a", 100, 0);
    BOOST_REQUIRE(acq(e, key, "o", 200, 0, 0, 500, 7).status == EngineStatus::kQueued);
    BOOST_REQUIRE(acq(e, key, "n", 200, 0, 0, 500, 8).status == EngineStatus::kQueued);
    BOOST_REQUIRE(e.release(key, "a", 10) == EngineStatus::kOk);
    const auto events = e.take_events();
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].granted);
    BOOST_TEST(events[0].deadline == 210);
    if (std::string(how) == "acquire") {
      BOOST_TEST(acq(e, key, "o", 300, 11).status == EngineStatus::kRefreshed);
    } else if (std::string(how) == "extend") {
      BOOST_TEST(e.extend(key, "o", 300, 11) == EngineStatus::kOk);
    }
    // A wrong fence or deadline never releases.
    BOOST_TEST(e.release_unrefreshed(key, "o", events[0].fence + 1, 210, 12) ==
               EngineStatus::kNotHeld);
    const EngineStatus got = e.release_unrefreshed(key, "o", events[0].fence, 210, 12);
    if (std::string(how) == "none") {
      BOOST_TEST(got == EngineStatus::kOk);
      BOOST_TEST(e.info(key, 12)->holders.at(0).owner == "n");  // passed on
    } else {
      BOOST_TEST(got == EngineStatus::kNotHeld, how);
      BOOST_TEST(e.info(key, 12)->holders.at(0).owner == "o");
      BOOST_TEST(e.info(key, 12)->holders.at(0).remaining == 299);
    }
    e.release_all(key, 13);
    e.take_events();
  }
}

BOOST_AUTO_TEST_CASE(info_reports_each_waiters_age_oldest_first) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(acq(e, "k", "h", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.info("k", 5)->waiter_ages.empty());
  BOOST_TEST(acq(e, "k", "w1", 50, 10, 0, 1000, 1).status == EngineStatus::kQueued);
  BOOST_TEST(acq(e, "k", "w2", 50, 40, 0, 5000, 2).status == EngineStatus::kQueued);
  BOOST_TEST((e.info("k", 100)->waiter_ages == std::vector<Millis>{90, 60}));
  BOOST_TEST(e.info("k", 100)->waiters == 2u);                // the count is unchanged
  BOOST_TEST(e.release("k", "h", 110) == EngineStatus::kOk);  // w1 is granted
  BOOST_TEST((e.info("k", 110)->waiter_ages == std::vector<Millis>{70}));
}

BOOST_AUTO_TEST_SUITE_END()
