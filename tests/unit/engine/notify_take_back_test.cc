// A NOTIFY re-acquire that is taken back takes its mark back: a holder its owner acquired without
// NOTIFY must not send lost-lock notices because a re-acquire that was never acknowledged (a
// failed commit, an undelivered waiter grant) asked for them. A holder that had its mark before
// keeps it. Virtual time only.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;

namespace {

AcquireResult acquire(Engine& e, std::string_view key, std::string_view owner, Millis ttl,
                      Millis now, bool notify, bool reentrant = false, Millis wait = 0,
                      std::uint64_t tag = 0, std::uint32_t limit = 0) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.notify = notify;
  r.reentrant = reentrant;
  r.wait = wait;
  r.tag = tag;
  r.limit = limit;
  return e.acquire(r, now);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify_take_back)

// Defect: take_back() undid the re-acquire's hold count and deadline but left its NOTIFY mark, so
// the holder reported `expired` to an owner that only ever acquired it without NOTIFY.
BOOST_AUTO_TEST_CASE(a_failed_notify_reacquire_takes_its_mark_back) {
  for (const bool reentrant : {false, true}) {
    BOOST_TEST_CONTEXT("reentrant " << reentrant) {
      Engine e(test::unlimited(), 1);
      e.set_mutation_log(true);
      const AcquireResult first = acquire(e, "k", "o", 1000, 0, false, reentrant);
      BOOST_TEST(first.status == EngineStatus::kGranted);
      e.take_mutations();  // durable
      BOOST_TEST(acquire(e, "k", "o", 9000, 100, true, reentrant).status ==
                 EngineStatus::kRefreshed);
      BOOST_TEST(e.notify_marked(first.fence));
      const std::vector<Mutation> batch = e.take_mutations();
      BOOST_TEST(Engine::batch_adds(batch));
      e.take_back(batch, 101);
      BOOST_TEST(!e.notify_marked(first.fence));
      BOOST_TEST(e.info("k", 101)->holders.at(0).holds == 1u);
      BOOST_TEST(!e.info("k", 101)->holders.at(0).notify);
      // The take-back is logged without the mark: a replica or a restart drops it too.
      const std::vector<Mutation> undo = e.take_mutations();
      BOOST_TEST_REQUIRE(!undo.empty());
      BOOST_TEST(!undo.back().notify);
      BOOST_TEST(!Engine::batch_adds(undo));
      e.tick(1001);  // its own deadline (the take-back restored it): silently
      BOOST_TEST(!e.exists("k", 1001));
      BOOST_TEST(e.take_lost().empty());
    }
  }
}

// A holder marked before the failed batch keeps its mark (only what the batch added goes), and a
// holder the batch created and marked goes whole.
BOOST_AUTO_TEST_CASE(a_failed_batch_keeps_an_earlier_mark_and_drops_a_new_holder) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  const AcquireResult marked = acquire(e, "m", "o", 1000, 0, true);
  BOOST_TEST(marked.status == EngineStatus::kGranted);
  e.take_mutations();
  BOOST_TEST(acquire(e, "m", "o", 9000, 100, true).status == EngineStatus::kRefreshed);
  const AcquireResult fresh = acquire(e, "n", "o", 9000, 100, true);
  BOOST_TEST(fresh.status == EngineStatus::kGranted);
  const std::vector<Mutation> batch = e.take_mutations();
  e.take_back(batch, 101);
  BOOST_TEST(e.notify_marked(marked.fence));
  BOOST_TEST(!e.exists("n", 101));
  BOOST_TEST(!e.notify_marked(fresh.fence));
  BOOST_TEST(e.take_lost().empty());  // the created holder went by take-back: no notice
  e.tick(1001);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);  // the earlier mark still reports
  BOOST_TEST(lost[0].fence == marked.fence);
}

// Defect: an undelivered REENTRANT NOTIFY waiter grant that only added a hold to the owner's
// unmarked holder gave its hold back (release_unrefreshed) but kept its mark.
BOOST_AUTO_TEST_CASE(an_undelivered_notify_reentrant_refresh_takes_its_mark_back) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(acquire(e, "s", "x", 1000, 0, false, false, 0, 0, 2).status ==
             EngineStatus::kGranted);
  BOOST_TEST(acquire(e, "s", "y", 1000, 0, false, false, 0, 0, 2).status ==
             EngineStatus::kGranted);
  // o queues twice: first plain (it creates o's holder), then REENTRANT with NOTIFY.
  BOOST_TEST(acquire(e, "s", "o", 3000, 1, false, true, 5000, 1).status ==
             EngineStatus::kQueued);
  BOOST_TEST(acquire(e, "s", "o", 3000, 2, true, true, 5000, 2).status == EngineStatus::kQueued);
  BOOST_TEST(e.release_all("s", 10) == 2u);
  const auto ev = e.take_events();
  BOOST_TEST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(!ev[0].refreshed);
  BOOST_TEST(!ev[0].added_mark);
  BOOST_TEST(ev[1].refreshed);
  BOOST_TEST(ev[1].added_hold);
  BOOST_TEST(ev[1].added_mark);
  BOOST_TEST(e.notify_marked(ev[1].fence));
  // The second grant could not be delivered: its hold and its mark go back.
  BOOST_TEST(e.release_unrefreshed("s", "o", ev[1].fence, ev[1].deadline, 11, ev[1].added_mark) ==
             EngineStatus::kOk);
  BOOST_TEST(e.info("s", 11)->holders.at(0).holds == 1u);
  BOOST_TEST(!e.notify_marked(ev[1].fence));
  e.tick(3011);
  BOOST_TEST(!e.exists("s", 3011));
  BOOST_TEST(e.take_lost().empty());
}

// The grant's mark is taken back only when it added it: a holder marked before keeps its mark.
BOOST_AUTO_TEST_CASE(an_undelivered_refresh_of_a_marked_holder_keeps_the_mark) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(acquire(e, "s", "x", 1000, 0, false, false, 0, 0, 2).status ==
             EngineStatus::kGranted);
  BOOST_TEST(acquire(e, "s", "y", 1000, 0, false, false, 0, 0, 2).status ==
             EngineStatus::kGranted);
  BOOST_TEST(acquire(e, "s", "o", 3000, 1, true, true, 5000, 1).status == EngineStatus::kQueued);
  BOOST_TEST(acquire(e, "s", "o", 3000, 2, true, true, 5000, 2).status == EngineStatus::kQueued);
  BOOST_TEST(e.release_all("s", 10) == 2u);
  const auto ev = e.take_events();
  BOOST_TEST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[1].added_hold);
  BOOST_TEST(!ev[1].added_mark);  // the first grant marked the holder
  BOOST_TEST(e.release_unrefreshed("s", "o", ev[1].fence, ev[1].deadline, 11, ev[1].added_mark) ==
             EngineStatus::kOk);
  BOOST_TEST(e.notify_marked(ev[1].fence));
}

BOOST_AUTO_TEST_SUITE_END()
