// Lost-lock notices (NOTIFY): which removals produce one, with which reason and fence, and that
// each lost holder produces exactly one. Virtual time only.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <ostream>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace semlock {
inline std::ostream& operator<<(std::ostream& os, LostReason r) {
  return os << lost_reason_name(r);
}
}  // namespace semlock

namespace {

// acq() with NOTIFY.
AcquireResult acq_notify(Engine& e, std::string_view key, std::string_view owner, Millis ttl,
                         Millis now, std::uint32_t limit = 0, Millis wait = 0,
                         std::uint64_t tag = 0) {
  return acq(e, key, owner, ttl, now, limit, wait, tag, /*reacquire=*/true, /*notify=*/true);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(notify)

BOOST_AUTO_TEST_CASE(expiry_by_the_wheel_gives_one_notice_with_the_fence) {
  Engine e(test::unlimited(), 100);
  const auto a = acq_notify(e, "k", "alice", 50, 0);
  const auto plain = acq(e, "p", "bob", 50, 0);
  BOOST_TEST(a.status == EngineStatus::kGranted);
  BOOST_TEST(plain.status == EngineStatus::kGranted);
  BOOST_TEST(e.notify_marked(a.fence));
  BOOST_TEST(!e.notify_marked(plain.fence));
  e.tick(50);  // the deadline itself: not yet due
  BOOST_TEST(!e.has_lost());
  e.tick(51);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);  // the plain holder expired too, silently
  BOOST_TEST(lost[0].key == "k");
  BOOST_TEST(lost[0].owner == "alice");
  BOOST_TEST(lost[0].fence == a.fence);
  BOOST_TEST(lost[0].reason == LostReason::kExpired);
  BOOST_TEST(lost_reason_name(lost[0].reason) == "expired");
  BOOST_TEST(e.notify_holders() == 0u);
  e.tick(1000);
  BOOST_TEST(!e.has_lost());
}

BOOST_AUTO_TEST_CASE(an_access_that_finds_it_due_reports_expired) {
  Engine e(test::unlimited(), 100);
  const auto a = acq_notify(e, "k", "alice", 10, 0);
  // No tick: the next acquire finds the holder due and hands the key on.
  const auto b = acq(e, "k", "bob", 10, 20);
  BOOST_TEST(b.status == EngineStatus::kGranted);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].fence == a.fence);
  BOOST_TEST(lost[0].reason == LostReason::kExpired);
}

BOOST_AUTO_TEST_CASE(the_owners_own_release_and_session_cleanup_give_none) {
  Engine e(test::unlimited(), 100);
  const auto a = acq_notify(e, "k", "alice", 100, 0);
  BOOST_TEST(e.release("k", "alice", 1) == EngineStatus::kOk);
  const auto s = acq_notify(e, "s", "sam", 100, 1);
  BOOST_TEST(e.release_fenced("s", "sam", s.fence, 2) == EngineStatus::kOk);
  BOOST_TEST(!e.has_lost());
  BOOST_TEST(!e.notify_marked(a.fence));
  BOOST_TEST(e.notify_holders() == 0u);
}

BOOST_AUTO_TEST_CASE(force_release_reports_forced_for_marked_holders_only) {
  Engine e(test::unlimited(), 100);
  const auto a = acq_notify(e, "sem", "a", 100, 0, 3);
  const auto b = acq(e, "sem", "b", 100, 0, 3);
  const auto c = acq_notify(e, "sem", "c", 100, 0, 3);
  BOOST_TEST(b.status == EngineStatus::kGranted);
  BOOST_TEST(e.release_all("sem", 1) == 3u);
  auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 2u);
  std::sort(lost.begin(), lost.end(), [](auto& x, auto& y) { return x.fence < y.fence; });
  BOOST_TEST(lost[0].fence == a.fence);
  BOOST_TEST(lost[1].fence == c.fence);
  BOOST_TEST(lost[0].reason == LostReason::kForced);
  BOOST_TEST(lost[1].reason == LostReason::kForced);
  // A JSON release naming no owner is a forced removal too.
  const auto d = acq_notify(e, "k", "d", 100, 2);
  BOOST_TEST(e.release_all("k", 3, true) == 1u);
  lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].fence == d.fence);
}

BOOST_AUTO_TEST_CASE(set_by_another_owner_is_forced_by_the_same_owner_nothing) {
  Engine e(test::unlimited(), 100);
  const auto a = acq_notify(e, "k", "alice", 100, 0);
  BOOST_TEST(e.set_holder("k", "alice", 200, 1).status == EngineStatus::kOk);
  BOOST_TEST(!e.has_lost());
  BOOST_TEST(e.notify_marked(a.fence));  // same holder, same fence, still marked
  const auto b = e.set_holder("k", "bob", 200, 2);
  BOOST_TEST(b.fence != a.fence);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].owner == "alice");
  BOOST_TEST(lost[0].fence == a.fence);
  BOOST_TEST(lost[0].reason == LostReason::kForced);
  BOOST_TEST(!e.notify_marked(b.fence));
}

BOOST_AUTO_TEST_CASE(a_notify_waiter_is_marked_when_granted_and_its_tag_forgotten_otherwise) {
  Engine e(test::unlimited(), 100);
  const auto a = acq(e, "k", "alice", 10, 0);
  const auto w = acq_notify(e, "k", "bob", 30, 0, 0, 100, 7);
  const auto t = acq_notify(e, "k", "carol", 30, 0, 0, 5, 8);  // times out first
  BOOST_TEST(w.status == EngineStatus::kQueued);
  BOOST_TEST(t.status == EngineStatus::kQueued);
  e.tick(6);
  auto ev = e.take_events();
  BOOST_TEST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(!ev[0].granted);
  e.tick(11);  // alice (plain) expires silently; bob is granted with a mark
  ev = e.take_events();
  BOOST_TEST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(ev[0].fence > a.fence);
  BOOST_TEST(!e.has_lost());
  BOOST_TEST(e.notify_marked(ev[0].fence));
  e.tick(42);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].owner == "bob");
  BOOST_TEST(lost[0].fence == ev[0].fence);
  BOOST_TEST(e.notify_holders() == 0u);
}

BOOST_AUTO_TEST_CASE(a_notify_reacquire_marks_a_plain_holder_and_the_mark_outlives_refreshes) {
  Engine e(test::unlimited(), 100);
  const auto a = acq(e, "k", "alice", 10, 0);
  const auto r = acq_notify(e, "k", "alice", 10, 1);
  BOOST_TEST(r.status == EngineStatus::kRefreshed);
  BOOST_TEST(r.fence == a.fence);
  BOOST_TEST(e.notify_marked(a.fence));
  BOOST_TEST(acq(e, "k", "alice", 10, 2).status == EngineStatus::kRefreshed);  // no NOTIFY
  BOOST_TEST(e.extend("k", "alice", 10, 3) == EngineStatus::kOk);
  BOOST_TEST(e.notify_marked(a.fence));
  e.tick(14);
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].fence == a.fence);
}

BOOST_AUTO_TEST_CASE(the_mutation_log_carries_the_mark_and_the_reason) {
  Engine e(test::unlimited(), 100);
  e.set_mutation_log(true);
  const auto a = acq_notify(e, "k", "alice", 10, 0);
  acq(e, "p", "bob", 10, 0);
  BOOST_TEST(e.release("p", "bob", 1) == EngineStatus::kOk);
  e.tick(20);
  const auto ms = e.take_mutations();
  BOOST_TEST_REQUIRE(ms.size() == 4u);
  BOOST_TEST((ms[0].kind == Mutation::Kind::kHold && ms[0].notify && ms[0].fence == a.fence));
  BOOST_TEST((ms[1].kind == Mutation::Kind::kHold && !ms[1].notify));
  BOOST_TEST((ms[2].kind == Mutation::Kind::kDrop && !ms[2].notify));
  BOOST_TEST(ms[2].reason == LostReason::kReleased);
  BOOST_TEST((ms[3].kind == Mutation::Kind::kDrop && ms[3].notify));
  BOOST_TEST(ms[3].reason == LostReason::kExpired);
}

BOOST_AUTO_TEST_CASE(a_replica_reports_what_the_replicated_drop_says) {
  Engine e(test::unlimited(), 100);
  e.set_replica(true);
  BOOST_TEST((e.apply_hold("k", "alice", 500, 1, 10) == Engine::ApplyStatus::kApplied));
  e.mark_notify("k", "alice", 499);  // wrong fence: nothing
  BOOST_TEST(!e.notify_marked(500));
  e.mark_notify("k", "alice", 500);
  BOOST_TEST(e.notify_marked(500));
  e.tick(100);  // a replica expires nothing on its own clock
  BOOST_TEST(!e.has_lost());
  e.set_apply_reason(LostReason::kExpired);
  BOOST_TEST(e.apply_drop("k", "alice", 500));
  const auto lost = e.take_lost();
  BOOST_TEST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].fence == 500u);
  BOOST_TEST(lost[0].reason == LostReason::kExpired);
  // A drop without a reason is the owner's release: silent.
  e.apply_hold("k", "bob", 501, 1, 10);
  e.mark_notify("k", "bob", 501);
  BOOST_TEST(e.apply_drop("k", "bob", 501));
  BOOST_TEST(!e.has_lost());
}

BOOST_AUTO_TEST_CASE(marks_give_their_memory_back) {
  // The same history with and without NOTIFY ends with the same accounted bytes.
  auto run = [](bool notify) {
    Engine e(test::unlimited(), 100);
    for (int i = 0; i < 100; ++i) {
      AcquireRequest r;
      const std::string key = test::name("k", i);
      r.key = key;
      r.owner = "o";
      r.ttl = 10;
      r.notify = notify;
      e.acquire(r, 0);
    }
    acq(e, "w", "x", 10, 0);
    AcquireRequest w;
    w.key = "w";
    w.owner = "y";
    w.ttl = 10;
    w.wait = 5;
    w.tag = 1;
    w.notify = notify;  // a waiter with a mark; times out
    BOOST_TEST((e.acquire(w, 0).status == EngineStatus::kQueued));
    const std::uint64_t busy = e.memory_bytes();
    e.tick(100);
    e.take_events();
    BOOST_TEST(e.take_lost().size() == (notify ? 100u : 0u));
    return std::pair{busy, e.memory_bytes()};
  };
  const auto plain = run(false);
  const auto marked = run(true);
  BOOST_TEST(marked.first > plain.first);  // the marks are counted while they exist
  BOOST_TEST(marked.second == plain.second);
}

BOOST_AUTO_TEST_SUITE_END()
