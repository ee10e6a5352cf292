// Read-write (SHARED) and reentrant holds: phase-fair FIFO order, no starvation either way, hold
// counts, expiry, and the state a restart or a replica rebuilds from the mutation log. Virtual
// time only.
#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;

namespace {

AcquireResult rd(Engine& e, std::string_view key, std::string_view owner, Millis ttl, Millis now,
                 Millis wait = 0, std::uint64_t tag = 0) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.wait = wait;
  r.tag = tag;
  r.shared = true;
  return e.acquire(r, now);
}

AcquireResult wr(Engine& e, std::string_view key, std::string_view owner, Millis ttl, Millis now,
                 Millis wait = 0, std::uint64_t tag = 0) {
  return test::acq(e, key, owner, ttl, now, 0, wait, tag);
}

AcquireResult re(Engine& e, std::string_view key, std::string_view owner, Millis ttl, Millis now,
                 bool shared = false) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.reentrant = true;
  r.shared = shared;
  return e.acquire(r, now);
}

std::vector<std::string> owners(Engine& e, std::string_view key, Millis now) {
  std::vector<std::string> out;
  auto info = e.info(key, now);
  if (info) {
    for (const auto& h : info->holders) out.push_back(h.owner);
  }
  return out;
}

std::vector<std::uint64_t> granted_tags(Engine& e) {
  std::vector<std::uint64_t> out;
  for (const auto& ev : e.take_events()) {
    if (ev.granted) out.push_back(ev.tag);
  }
  return out;
}

using Tags = std::vector<std::uint64_t>;
using Names = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(rwlock)

BOOST_AUTO_TEST_CASE(readers_share_a_writer_excludes_all) {
  Engine e(test::unlimited(), 1);
  auto a = rd(e, "k", "r1", 1000, 0);
  auto b = rd(e, "k", "r2", 1000, 1);
  BOOST_TEST(a.status == EngineStatus::kGranted);
  BOOST_TEST(b.status == EngineStatus::kGranted);
  BOOST_TEST(b.fence > a.fence);  // fences as for any grant
  auto info = e.info("k", 2);
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->shared);
  BOOST_TEST(info->limit == 1u);
  BOOST_TEST(info->holders.size() == 2u);
  BOOST_TEST(wr(e, "k", "w", 1000, 2).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.release("k", "r1", 3) == EngineStatus::kOk);
  BOOST_TEST(wr(e, "k", "w", 1000, 3).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.release("k", "r2", 4) == EngineStatus::kOk);
  BOOST_TEST(wr(e, "k", "w", 1000, 4).status == EngineStatus::kGranted);
  BOOST_TEST(!e.info("k", 4)->shared);
  BOOST_TEST(rd(e, "k", "r3", 1000, 5).status == EngineStatus::kNotGranted);
  // EXTEND and RELEASE work on readers as on any holder.
  BOOST_TEST(e.release("k", "w", 6) == EngineStatus::kOk);
  BOOST_TEST(rd(e, "k", "r3", 1000, 6).status == EngineStatus::kGranted);
  BOOST_TEST(e.extend("k", "r3", 5000, 7) == EngineStatus::kOk);
  BOOST_TEST(e.info("k", 7)->holders.at(0).remaining == 5000);
}

BOOST_AUTO_TEST_CASE(phase_fair_order_writer_blocks_new_readers_then_reader_batch) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(rd(e, "k", "r1", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(wr(e, "k", "w1", 1000, 1, 10000, 1).status == EngineStatus::kQueued);
  // A writer waits: new readers queue behind it (no barging), or are refused without WAIT.
  BOOST_TEST(rd(e, "k", "r2", 1000, 2).status == EngineStatus::kNotGranted);
  BOOST_TEST(rd(e, "k", "r2", 1000, 2, 10000, 2).status == EngineStatus::kQueued);
  BOOST_TEST(rd(e, "k", "r3", 1000, 3, 10000, 3).status == EngineStatus::kQueued);
  BOOST_TEST(wr(e, "k", "w2", 1000, 4, 10000, 4).status == EngineStatus::kQueued);
  BOOST_TEST(rd(e, "k", "r4", 1000, 5, 10000, 5).status == EngineStatus::kQueued);
  BOOST_TEST(e.info("k", 5)->waiters == 5u);

  BOOST_TEST(e.release("k", "r1", 10) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{1});
  BOOST_TEST(owners(e, "k", 10) == Names{"w1"});
  // The writer releases: the readers queued before the next writer are granted together.
  BOOST_TEST(e.release("k", "w1", 20) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags({2, 3}));
  BOOST_TEST(owners(e, "k", 20) == Names({"r2", "r3"}));
  BOOST_TEST(e.info("k", 20)->shared);
  BOOST_TEST(e.release("k", "r2", 30) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e).empty());
  BOOST_TEST(e.release("k", "r3", 31) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{4});
  BOOST_TEST(e.release("k", "w2", 40) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{5});
  BOOST_TEST(owners(e, "k", 40) == Names{"r4"});
}

BOOST_AUTO_TEST_CASE(a_stream_of_overlapping_readers_does_not_starve_a_writer) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(rd(e, "k", "r0", 100000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(wr(e, "k", "w", 1000, 1, 100000, 99).status == EngineStatus::kQueued);
  // Readers keep arriving, each before the previous one leaves: none of them gets in.
  for (int i = 1; i <= 50; ++i) {
    BOOST_TEST(rd(e, "k", test::name("r", i), 100, 10 * i, 100000, i).status ==
               EngineStatus::kQueued);
  }
  BOOST_TEST(e.release("k", "r0", 600) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{99});
  // Then the 50 readers queued behind it, together.
  BOOST_TEST(e.release("k", "w", 700) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e).size() == 50u);
  BOOST_TEST(e.info("k", 700)->holders.size() == 50u);
}

BOOST_AUTO_TEST_CASE(a_stream_of_writers_does_not_starve_readers) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(wr(e, "k", "w0", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(rd(e, "k", "r", 1000, 1, 100000, 1).status == EngineStatus::kQueued);
  for (int i = 1; i <= 5; ++i) {
    BOOST_TEST(wr(e, "k", test::name("w", i), 1000, 1 + i, 100000, 10 + i).status ==
               EngineStatus::kQueued);
  }
  BOOST_TEST(e.release("k", "w0", 10) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{1});  // the reader came first: it goes first
  BOOST_TEST(e.release("k", "r", 11) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{11});
}

BOOST_AUTO_TEST_CASE(expiry_hands_readers_on_and_writers_in) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(wr(e, "k", "w", 100, 0).status == EngineStatus::kGranted);
  BOOST_TEST(rd(e, "k", "r1", 50, 1, 10000, 1).status == EngineStatus::kQueued);
  BOOST_TEST(rd(e, "k", "r2", 80, 2, 10000, 2).status == EngineStatus::kQueued);
  BOOST_TEST(wr(e, "k", "w2", 100, 3, 10000, 3).status == EngineStatus::kQueued);
  e.tick(101);  // the writer's deadline 100 is due at 101
  BOOST_TEST(granted_tags(e) == Tags({1, 2}));
  e.tick(151);  // r1 (deadline 151) not yet due
  BOOST_TEST(granted_tags(e).empty());
  e.tick(152);
  BOOST_TEST(granted_tags(e).empty());  // r2 still holds
  e.tick(182);
  BOOST_TEST(granted_tags(e) == Tags{3});
  BOOST_TEST(owners(e, "k", 182) == Names{"w2"});
}

BOOST_AUTO_TEST_CASE(readers_behind_a_writer_that_gives_up_are_granted) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(rd(e, "k", "r1", 10000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(wr(e, "k", "w", 1000, 1, 50, 1).status == EngineStatus::kQueued);
  BOOST_TEST(rd(e, "k", "r2", 1000, 2, 10000, 2).status == EngineStatus::kQueued);
  e.tick(52);  // the writer's wait (deadline 51) ran out: the reader behind it joins r1
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(!ev[0].granted);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(ev[1].granted);
  BOOST_TEST(ev[1].tag == 2u);
  BOOST_TEST(owners(e, "k", 52) == Names({"r1", "r2"}));

  // A cancelled writer at the head: the next tick serves the readers behind it.
  auto w = wr(e, "k", "w", 1000, 60, 10000, 3);
  BOOST_TEST(w.status == EngineStatus::kQueued);
  BOOST_TEST(rd(e, "k", "r3", 1000, 61, 10000, 4).status == EngineStatus::kQueued);
  BOOST_TEST(e.cancel_waiter(w.waiter));
  e.tick(62);
  BOOST_TEST(granted_tags(e) == Tags{4});
  BOOST_TEST(e.info("k", 62)->holders.size() == 3u);
}

BOOST_AUTO_TEST_CASE(readers_are_bounded_by_max_permits) {
  EngineLimits l = test::unlimited();
  l.max_permits = 3;
  Engine e(l, 1);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(rd(e, "k", test::name("r", i), 1000, i).status == EngineStatus::kGranted);
  }
  BOOST_TEST(rd(e, "k", "r3", 1000, 5).status == EngineStatus::kNotGranted);
  BOOST_TEST(rd(e, "k", "r3", 1000, 5, 1000, 7).status == EngineStatus::kQueued);
  BOOST_TEST(e.release("k", "r0", 6) == EngineStatus::kOk);
  BOOST_TEST(granted_tags(e) == Tags{7});
}

BOOST_AUTO_TEST_CASE(bad_combinations) {
  Engine e(test::unlimited(), 1);
  AcquireRequest r;
  r.key = "k";
  r.owner = "o";
  r.ttl = 1000;
  r.shared = true;
  r.limit = 2;
  BOOST_TEST(e.acquire(r, 0).status == EngineStatus::kBadShared);
  r.limit = 1;
  BOOST_TEST(e.acquire(r, 0).status == EngineStatus::kGranted);  // LIMIT 1 is a mutex: fine
  // A semaphore key takes no readers.
  BOOST_TEST(test::acq(e, "sem", "a", 1000, 0, 3).status == EngineStatus::kGranted);
  BOOST_TEST(rd(e, "sem", "b", 1000, 0).status == EngineStatus::kWrongType);
  // The same owner in the other mode.
  BOOST_TEST(wr(e, "k", "o", 1000, 1).status == EngineStatus::kModeConflict);
  BOOST_TEST(wr(e, "m", "o", 1000, 1).status == EngineStatus::kGranted);
  BOOST_TEST(rd(e, "m", "o", 1000, 1).status == EngineStatus::kModeConflict);
  // A reader re-acquiring in shared mode is refreshed (same fence), as any holder.
  auto again = rd(e, "k", "o", 5000, 2);
  BOOST_TEST(again.status == EngineStatus::kRefreshed);
  // SET's holder swap does not apply to a key held by readers.
  BOOST_TEST(e.set_holder("k", "x", 1000, 3).status == EngineStatus::kWrongType);
}

BOOST_AUTO_TEST_CASE(reentrant_counts_same_fence_and_ttl_refreshed) {
  Engine e(test::unlimited(), 1);
  auto a = re(e, "k", "me", 1000, 0);
  BOOST_TEST(a.status == EngineStatus::kGranted);
  auto b = re(e, "k", "me", 3000, 10);
  BOOST_TEST(b.status == EngineStatus::kRefreshed);
  BOOST_TEST(b.fence == a.fence);
  auto c = re(e, "k", "me", 2000, 20);
  BOOST_TEST(c.fence == a.fence);
  auto info = e.info("k", 20);
  BOOST_TEST(info->holders.at(0).holds == 3u);
  BOOST_TEST(info->holders.at(0).remaining == 2000);  // refreshed by the last acquire
  // A plain re-acquire refreshes without counting.
  BOOST_TEST(wr(e, "k", "me", 2000, 21).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.info("k", 21)->holders.at(0).holds == 3u);
  BOOST_TEST(e.release("k", "me", 30) == EngineStatus::kOk);
  BOOST_TEST(e.info("k", 30)->holders.at(0).holds == 2u);
  BOOST_TEST(e.release("k", "me", 31) == EngineStatus::kOk);
  BOOST_TEST(e.info("k", 31)->holders.at(0).holds == 1u);
  BOOST_TEST(e.exists("k", 31));
  BOOST_TEST(e.release("k", "me", 32) == EngineStatus::kOk);
  BOOST_TEST(!e.exists("k", 32));
  BOOST_TEST(e.release("k", "me", 33) == EngineStatus::kNotHeld);
  // Without REENTRANT one release ends the holder, however often it was re-acquired.
  BOOST_TEST(wr(e, "k", "me", 1000, 40).status == EngineStatus::kGranted);
  BOOST_TEST(wr(e, "k", "me", 1000, 41).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.release("k", "me", 42) == EngineStatus::kOk);
  BOOST_TEST(!e.exists("k", 42));
}

BOOST_AUTO_TEST_CASE(reentrant_derived_owner_and_another_owner) {
  Engine e(test::unlimited(), 1);
  AcquireRequest r;
  r.key = "k";
  r.owner = "1@host";
  r.ttl = 1000;
  r.reacquire = false;  // a pid@host owner
  BOOST_TEST(e.acquire(r, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.acquire(r, 1).status == EngineStatus::kNotGranted);  // as today
  r.reentrant = true;
  BOOST_TEST(e.acquire(r, 2).status == EngineStatus::kRefreshed);
  BOOST_TEST(e.info("k", 2)->holders.at(0).holds == 2u);
  // Another owner is excluded as ever.
  BOOST_TEST(re(e, "k", "other", 1000, 3).status == EngineStatus::kNotGranted);
}

BOOST_AUTO_TEST_CASE(reentrant_holder_expires_whole_and_readers_count_too) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(re(e, "k", "me", 100, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "k", "me", 100, 10).status == EngineStatus::kRefreshed);
  BOOST_TEST(re(e, "k", "me", 100, 20).status == EngineStatus::kRefreshed);
  BOOST_TEST(wr(e, "k", "next", 100, 30, 10000, 1).status == EngineStatus::kQueued);
  e.tick(121);  // deadline 120: gone whatever its count
  BOOST_TEST(granted_tags(e) == Tags{1});
  BOOST_TEST(e.release("k", "me", 122) == EngineStatus::kNotHeld);
  BOOST_TEST(e.release("k", "next", 122) == EngineStatus::kOk);
  // A new grant to the same owner starts at one hold, with a new fence.
  auto a = re(e, "k", "me", 100, 130);
  BOOST_TEST(a.status == EngineStatus::kGranted);
  BOOST_TEST(e.info("k", 130)->holders.at(0).holds == 1u);

  // Reentrant readers: each reader has its own count.
  BOOST_TEST(re(e, "r", "a", 1000, 200, true).status == EngineStatus::kGranted);
  BOOST_TEST(re(e, "r", "a", 1000, 201, true).status == EngineStatus::kRefreshed);
  BOOST_TEST(re(e, "r", "b", 1000, 202, true).status == EngineStatus::kGranted);
  auto info = e.info("r", 203);
  BOOST_TEST(info->shared);
  BOOST_TEST(info->holders.at(0).holds == 2u);
  BOOST_TEST(info->holders.at(1).holds == 1u);
  BOOST_TEST(e.release_all("r", 204) == 2u);  // force release ends every hold
  BOOST_TEST(!e.exists("r", 204));
}

BOOST_AUTO_TEST_CASE(restart_and_replica_rebuild_mode_and_counts) {
  Engine a(test::unlimited(), 1);
  a.set_mutation_log(true);
  BOOST_TEST(rd(a, "k", "r1", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(re(a, "k", "r2", 1000, 1, true).status == EngineStatus::kGranted);
  BOOST_TEST(re(a, "k", "r2", 1000, 2, true).status == EngineStatus::kRefreshed);
  BOOST_TEST(re(a, "m", "me", 1000, 3).status == EngineStatus::kGranted);
  BOOST_TEST(re(a, "m", "me", 1000, 4).status == EngineStatus::kRefreshed);
  BOOST_TEST(re(a, "m", "me", 1000, 5).status == EngineStatus::kRefreshed);
  BOOST_TEST(a.release("m", "me", 6) == EngineStatus::kOk);  // 2 holds left

  // A replica applying the log holds the same state.
  Engine replica(test::unlimited(), 1);
  replica.set_replica(true);
  for (const Mutation& m : a.take_mutations()) {
    if (m.kind == Mutation::Kind::kHold) {
      BOOST_TEST((replica.apply_hold(m.key, m.owner, m.fence, m.limit, m.deadline, m.shared,
                                     m.holds) == Engine::ApplyStatus::kApplied));
    } else {
      replica.apply_drop(m.key, m.owner, m.fence);
    }
  }
  // A restart restores every holder as for_each_holder reports it (a snapshot).
  Engine restarted(test::unlimited(), 100);
  restarted.tick(0);
  a.for_each_holder([&](const HolderView& h) {
    BOOST_TEST(restarted.restore_holder(h.key, h.owner, h.fence, h.limit, h.deadline, h.shared,
                                        h.holds));
  });
  for (Engine* e : {&replica, &restarted}) {
    auto k = e->info("k", 7);
    BOOST_REQUIRE(k.has_value());
    BOOST_TEST(k->shared);
    BOOST_TEST(k->holders.size() == 2u);
    BOOST_TEST(k->holders.at(1).holds == 2u);
    auto m = e->info("m", 7);
    BOOST_TEST(!m->shared);
    BOOST_TEST(m->holders.at(0).holds == 2u);
  }
  // The restarted engine goes on: two releases end "me", a writer stays out while readers hold.
  BOOST_TEST(restarted.release("m", "me", 8) == EngineStatus::kOk);
  BOOST_TEST(restarted.exists("m", 8));
  BOOST_TEST(restarted.release("m", "me", 9) == EngineStatus::kOk);
  BOOST_TEST(!restarted.exists("m", 9));
  BOOST_TEST(wr(restarted, "k", "w", 1000, 9).status == EngineStatus::kNotGranted);
  BOOST_TEST(rd(restarted, "k", "r3", 1000, 9).status == EngineStatus::kGranted);
  // A replicated writer displaces readers it cannot stand beside (the leader's key changed).
  BOOST_TEST((replica.apply_hold("k", "w", 500, 1, 2000, false, 1) ==
              Engine::ApplyStatus::kDisplaced));
  BOOST_TEST(replica.info("k", 10)->holders.size() == 1u);
  BOOST_TEST(!replica.info("k", 10)->shared);
}

BOOST_AUTO_TEST_SUITE_END()
