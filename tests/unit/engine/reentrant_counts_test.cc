// Reentrant hold counts never drift: every path that gives a hold or takes one back keeps the
// count equal to the holds its owner was told it has (issue 17 review). RELEASEALL counts only
// the keys it freed; a waiter grant that added a hold and could not be delivered takes that hold
// back; a batch whose commit failed takes back only what it added; expiry, force release, a
// restart and a replica keep or end counts whole. Virtual time only.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;

namespace {

AcquireResult re(Engine& e, std::string_view key, std::string_view owner, Millis ttl, Millis now,
                 Millis wait = 0, std::uint64_t tag = 0, bool shared = false) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.wait = wait;
  r.tag = tag;
  r.reentrant = true;
  r.shared = shared;
  return e.acquire(r, now);
}

// The hold count of `owner` on `key`, 0 when it holds nothing.
std::uint32_t holds(Engine& e, std::string_view key, std::string_view owner, Millis now) {
  const auto info = e.info(key, now);
  if (!info) return 0;
  for (const HolderInfo& h : info->holders) {
    if (h.owner == owner) return h.holds;
  }
  return 0;
}

Millis remaining(Engine& e, std::string_view key, Millis now) {
  return e.info(key, now)->holders.at(0).remaining;
}

// Two REENTRANT readers of one owner queued behind a writer: the writer's release grants both in
// one step, the first creating the holder, the second adding a hold to it (a refresh). Returns
// the events, in order.
// `t`: the time the first acquire is made at (the release comes at t + 10).
std::vector<WaiterEvent> two_reader_grants(Engine& e, Millis ttl1, Millis ttl2, Millis t = 0) {
  BOOST_TEST(test::acq(e, "k", "w", 1000, t).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "k", "o", ttl1, t + 1, 5000, 1, true).status == EngineStatus::kQueued);
  BOOST_TEST(re(e, "k", "o", ttl2, t + 2, 5000, 2, true).status == EngineStatus::kQueued);
  BOOST_TEST(e.release("k", "w", t + 10) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[1].granted);
  BOOST_TEST(ev[0].fence == ev[1].fence);
  BOOST_TEST(holds(e, "k", "o", t + 10) == 2u);
  return ev;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reentrant_counts)

// Defect: RELEASEALL answered 2 here although "re" was still held (count 2 -> 1).
BOOST_AUTO_TEST_CASE(releaseall_counts_only_keys_the_owner_no_longer_holds) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(re(e, "re", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "re", "o", 1000, 1).status == EngineStatus::kRefreshed);
  BOOST_TEST(test::acq(e, "plain", "o", 1000, 1).status == EngineStatus::kGranted);
  std::uint64_t held = 0;
  BOOST_TEST(e.release_keys({"re", "plain", "none"}, "o", 2, &held) == 1u);
  BOOST_TEST(held == 2u);  // a hold was taken on both keys the owner held
  BOOST_TEST(holds(e, "re", "o", 2) == 1u);
  BOOST_TEST(!e.exists("plain", 2));
  // Only a reentrant key left with two holds: one hold taken, nothing released.
  BOOST_TEST(re(e, "re", "o", 1000, 3).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.release_keys({"re"}, "o", 4, &held) == 0u);
  BOOST_TEST(held == 1u);
  BOOST_TEST(holds(e, "re", "o", 4) == 1u);
  // Its last hold: released.
  BOOST_TEST(e.release_keys({"re", "plain"}, "o", 5, &held) == 1u);
  BOOST_TEST(held == 1u);
  BOOST_TEST(!e.exists("re", 5));
  BOOST_TEST(e.release_keys({"re"}, "o", 6, &held) == 0u);
  BOOST_TEST(held == 0u);
}

// Defect: the server never took back the hold an undelivered reentrant refresh added (it only
// releases grants that created their holder), so the count stayed one too high.
BOOST_AUTO_TEST_CASE(an_undelivered_reentrant_refresh_gives_its_hold_back) {
  Engine e(test::unlimited(), 1);
  const auto ev = two_reader_grants(e, 3000, 3000);
  BOOST_TEST(!ev[0].refreshed);
  BOOST_TEST(!ev[0].added_hold);  // created: released whole when undelivered
  BOOST_TEST(ev[1].refreshed);
  BOOST_TEST(ev[1].added_hold);  // the server takes this one hold back when undelivered
  // The second waiter went away as it was granted: its hold goes back (same deadline as the
  // first grant's: the deadline alone cannot tell the two grants apart).
  BOOST_TEST(e.release_unrefreshed("k", "o", ev[1].fence, ev[1].deadline, 11) == EngineStatus::kOk);
  BOOST_TEST(holds(e, "k", "o", 11) == 1u);
  // The owner's one delivered grant, released once, ends the holder: the key is free.
  BOOST_TEST(e.release("k", "o", 12) == EngineStatus::kOk);
  BOOST_TEST(!e.exists("k", 12));
  BOOST_TEST(test::acq(e, "k", "next", 1000, 13).status == EngineStatus::kGranted);
}

// Defect: the created grant's take-back was refused once the second grant moved the deadline
// (count stayed 2), or removed the holder with both holds when the deadlines were equal.
BOOST_AUTO_TEST_CASE(an_undelivered_creating_grant_gives_back_one_hold_of_several) {
  {
    Engine e(test::unlimited(), 1);
    const auto ev = two_reader_grants(e, 3000, 5000);  // the refresh set a later deadline
    BOOST_TEST(e.release_unrefreshed("k", "o", ev[0].fence, ev[0].deadline, 11) ==
               EngineStatus::kOk);
    BOOST_TEST(holds(e, "k", "o", 11) == 1u);
    BOOST_TEST(remaining(e, "k", 11) == 5010 - 11);  // the delivered grant's deadline stays
    BOOST_TEST(e.release("k", "o", 12) == EngineStatus::kOk);
    BOOST_TEST(!e.exists("k", 12));
  }
  {
    Engine e(test::unlimited(), 1);
    const auto ev = two_reader_grants(e, 3000, 3000);  // both grants set the same deadline
    BOOST_TEST(e.release_unrefreshed("k", "o", ev[0].fence, ev[0].deadline, 11) ==
               EngineStatus::kOk);
    BOOST_TEST(holds(e, "k", "o", 11) == 1u);  // the other grant was delivered: it holds
    // Both undelivered: the holder goes with the second.
    BOOST_TEST(e.release_unrefreshed("k", "o", ev[1].fence, ev[1].deadline, 12) ==
               EngineStatus::kOk);
    BOOST_TEST(!e.exists("k", 12));
  }
}

// A plain (non-reentrant) refresh by a waiter adds no hold: nothing is taken back for it.
BOOST_AUTO_TEST_CASE(a_plain_waiter_refresh_adds_no_hold) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(test::acq(e, "s", "x", 1000, 0, 2).status == EngineStatus::kGranted);
  BOOST_TEST(test::acq(e, "s", "y", 1000, 0, 2).status == EngineStatus::kGranted);
  BOOST_TEST(test::acq(e, "s", "o", 1000, 1, 0, 5000, 1).status == EngineStatus::kQueued);
  BOOST_TEST(test::acq(e, "s", "o", 1000, 2, 0, 5000, 2).status == EngineStatus::kQueued);
  BOOST_TEST(e.release_all("s", 10) == 2u);
  const auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[1].refreshed);
  BOOST_TEST(!ev[1].added_hold);
  BOOST_TEST(holds(e, "s", "o", 10) == 1u);
}

// Defect: a failed commit released every holder its batch touched, so an owner that held the
// lock before the batch (count n) lost it when the batch only re-entered it (n -> n+1).
BOOST_AUTO_TEST_CASE(a_failed_batch_takes_back_only_what_it_added) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  BOOST_TEST(re(e, "re", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "re", "o", 1000, 0).status == EngineStatus::kRefreshed);  // 2 holds
  BOOST_TEST(test::acq(e, "ext", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "dec", "o", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "dec", "o", 1000, 0).status == EngineStatus::kRefreshed);
  e.take_mutations();  // that batch was durable

  // The failing batch: a re-entry (2 -> 3, later deadline), an extend, a new holder, a
  // reentrant release (2 -> 1) and a re-entry that a release in the same batch gave back.
  BOOST_TEST(re(e, "re", "o", 9000, 100).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.extend("ext", "o", 9000, 100) == EngineStatus::kOk);
  BOOST_TEST(test::acq(e, "new", "o", 9000, 100).status == EngineStatus::kGranted);
  BOOST_TEST(e.release("dec", "o", 100) == EngineStatus::kOk);
  const auto batch = e.take_mutations();
  BOOST_TEST(Engine::batch_adds(batch));
  e.take_back(batch, 101);

  BOOST_TEST(holds(e, "re", "o", 101) == 2u);         // n+1 back to n, still held
  BOOST_TEST(remaining(e, "re", 101) == 1000 - 101);  // its earlier deadline
  BOOST_TEST(remaining(e, "ext", 101) == 1000 - 101);
  BOOST_TEST(!e.exists("new", 101));            // created by the batch: gone
  BOOST_TEST(holds(e, "dec", "o", 101) == 1u);  // a release stays done
  // The owner's releases still pair with its acknowledged acquires.
  BOOST_TEST(e.release("re", "o", 102) == EngineStatus::kOk);
  BOOST_TEST(e.exists("re", 102));
  BOOST_TEST(e.release("re", "o", 103) == EngineStatus::kOk);
  BOOST_TEST(!e.exists("re", 103));

  // The take-back itself adds nothing (a later broken batch does not undo it again), and a batch
  // of releases alone adds nothing: it is answered.
  BOOST_TEST(!Engine::batch_adds(e.take_mutations()));
  BOOST_TEST(re(e, "dec", "o", 1000, 104).status == EngineStatus::kRefreshed);
  e.take_mutations();
  BOOST_TEST(e.release("dec", "o", 105) == EngineStatus::kOk);
  BOOST_TEST(!Engine::batch_adds(e.take_mutations()));
}

// A SET by the holding owner's rival swaps the holder: for a take-back that is a new holder (the
// old owner's holds are gone with its fence, as a force release).
BOOST_AUTO_TEST_CASE(a_failed_set_swap_is_taken_back_as_a_new_holder) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  BOOST_TEST(re(e, "k", "a", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "k", "a", 1000, 0).status == EngineStatus::kRefreshed);
  e.take_mutations();
  BOOST_TEST(e.set_holder("k", "b", 5000, 10).status == EngineStatus::kOk);
  const auto batch = e.take_mutations();
  BOOST_TEST(Engine::batch_adds(batch));
  e.take_back(batch, 11);
  BOOST_TEST(!e.exists("k", 11));
}

// Audit of the other paths: an extend keeps the count; expiry and a force release end a holder
// whatever its count, with one lost-lock notice each, and a new grant starts at one hold; every
// change of a count (re-entry, release, the take-backs above) is in the mutation log, so a
// replica applying it and a restart restoring its result hold the leader's counts.
BOOST_AUTO_TEST_CASE(every_path_keeps_counts_and_replicas_and_restarts_agree) {
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  Engine replica(test::unlimited(), 1);
  replica.set_replica(true);
  auto replicate = [&](const std::vector<Mutation>& batch) {
    for (const Mutation& m : batch) {
      if (m.kind == Mutation::Kind::kHold) {
        replica.apply_hold(m.key, m.owner, m.fence, m.limit, m.deadline, m.shared, m.holds);
      } else if (m.kind == Mutation::Kind::kDrop) {
        replica.apply_drop(m.key, m.owner, m.fence);
      }
    }
  };
  // Counts of `owner` on `key` on the leader, the replica and a fresh restart of the leader.
  auto agree = [&](std::string_view key, std::string_view owner, Millis now, std::uint32_t want) {
    replicate(e.take_mutations());
    Engine restarted(test::unlimited(), 1000);
    restarted.tick(now);
    e.for_each_holder([&](const HolderView& h) {
      restarted.restore_holder(h.key, h.owner, h.fence, h.limit, h.deadline, h.shared, h.holds);
    });
    BOOST_TEST(holds(e, key, owner, now) == want);
    BOOST_TEST(holds(replica, key, owner, now) == want);
    BOOST_TEST(holds(restarted, key, owner, now) == want);
  };

  AcquireRequest n;  // a reentrant NOTIFY acquire
  n.key = "x";
  n.owner = "o";
  n.ttl = 100;
  n.reentrant = true;
  n.notify = true;
  BOOST_TEST(e.acquire(n, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.acquire(n, 1).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.acquire(n, 2).status == EngineStatus::kRefreshed);
  agree("x", "o", 2, 3);
  BOOST_TEST(e.extend("x", "o", 100, 50) == EngineStatus::kOk);  // deadline 150, count kept
  agree("x", "o", 50, 3);
  BOOST_TEST(e.release("x", "o", 51) == EngineStatus::kOk);
  agree("x", "o", 51, 2);
  e.tick(151);  // expiry ends all holds at once: one notice
  const auto lost = e.take_lost();
  BOOST_REQUIRE(lost.size() == 1u);
  BOOST_TEST((lost[0].reason == LostReason::kExpired));
  agree("x", "o", 151, 0);
  BOOST_TEST(e.release("x", "o", 152) == EngineStatus::kNotHeld);
  BOOST_TEST(e.acquire(n, 153).status == EngineStatus::kGranted);  // a fresh holder: one hold
  agree("x", "o", 153, 1);
  BOOST_TEST(e.acquire(n, 154).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.release_all("x", 155) == 1u);  // force: all holds, one notice
  const auto forced = e.take_lost();
  BOOST_REQUIRE(forced.size() == 1u);
  BOOST_TEST((forced[0].reason == LostReason::kForced));
  agree("x", "o", 155, 0);

  // The take-backs are logged like any count change.
  const auto ev = two_reader_grants(e, 3000, 3000, 200);
  agree("k", "o", 210, 2);
  BOOST_TEST(e.release_unrefreshed("k", "o", ev[1].fence, ev[1].deadline, 211) ==
             EngineStatus::kOk);
  agree("k", "o", 211, 1);
  BOOST_TEST(re(e, "k", "o", 3000, 212, 0, 0, true).status == EngineStatus::kRefreshed);
  BOOST_TEST(re(e, "k", "o", 3000, 213, 0, 0, true).status == EngineStatus::kRefreshed);
  auto batch = e.take_mutations();
  replicate(batch);
  e.take_back(batch, 214);  // both re-entries' holds go back
  agree("k", "o", 214, 1);
}

BOOST_AUTO_TEST_SUITE_END()
