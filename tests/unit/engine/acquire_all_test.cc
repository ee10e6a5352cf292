// All-or-nothing multi-key acquire (Engine::acquire_all, engine/multi.cc), with virtual time.
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace {

AcquireAllResult all(Engine& e, std::vector<std::string_view> keys, std::string_view owner,
                     Millis ttl, Millis now, Millis wait = 0, std::uint64_t tag = 0) {
  AcquireAllRequest r;
  r.keys = std::move(keys);
  r.owner = owner;
  r.ttl = ttl;
  r.wait = wait;
  r.tag = tag;
  return e.acquire_all(r, now);
}

std::string holder(Engine& e, std::string_view key, Millis now) {
  const auto info = e.info(key, now);
  return info ? info->holders.at(0).owner : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(acquire_all)

BOOST_AUTO_TEST_CASE(grants_every_key_with_rising_fences) {
  Engine e(test::unlimited(), 10);
  const auto r = all(e, {"a", "b", "c"}, "o", 1000, 0);
  BOOST_TEST(r.status == EngineStatus::kGranted);
  BOOST_TEST(r.fences == (std::vector<std::uint64_t>{10, 11, 12}));
  BOOST_TEST(r.ttl == 1000);
  for (const char* k : {"a", "b", "c"}) BOOST_TEST(holder(e, k, 1) == "o");
  BOOST_TEST(e.info("b", 500)->holders.at(0).remaining == 500);
}

BOOST_AUTO_TEST_CASE(none_granted_when_one_key_is_held) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(acq(e, "b", "x", 1000, 0).status == EngineStatus::kGranted);
  const EngineStats before = e.stats();
  BOOST_TEST(all(e, {"a", "b", "c"}, "o", 1000, 0).status == EngineStatus::kNotGranted);
  BOOST_TEST(!e.exists("a", 0));
  BOOST_TEST(!e.exists("c", 0));
  BOOST_TEST(e.stats().active_locks == 1u);
  BOOST_TEST(e.stats().next_fence == before.next_fence);  // no fence spent
  // A key with waiters is busy too (no barging), even when its permit is free.
  Engine f(test::unlimited(), 1);
  acq(f, "k", "h", 1000, 0);
  acq(f, "k", "w", 1000, 0, 0, 5000, 1);
  BOOST_TEST(f.release("k", "h", 1) == EngineStatus::kOk);  // k goes to w
  BOOST_TEST(all(f, {"z", "k"}, "o", 1000, 2).status == EngineStatus::kNotGranted);
}

BOOST_AUTO_TEST_CASE(explicit_owner_holding_a_key_is_refreshed_with_the_same_fence) {
  Engine e(test::unlimited(), 1);
  const auto a = acq(e, "a", "o", 100, 0);
  const auto r = all(e, {"a", "b"}, "o", 1000, 50);
  BOOST_TEST(r.status == EngineStatus::kGranted);
  BOOST_TEST(r.fences.at(0) == a.fence);
  BOOST_TEST(e.info("a", 50)->holders.at(0).remaining == 1000);
  // A derived owner (no re-acquire) that holds a key gets "not granted", and nothing changes.
  AcquireAllRequest d;
  d.keys = {"b2", "a"};
  d.owner = "o";
  d.ttl = 10;
  d.reacquire = false;
  BOOST_TEST(e.acquire_all(d, 60).status == EngineStatus::kNotGranted);
  BOOST_TEST(!e.exists("b2", 60));
}

BOOST_AUTO_TEST_CASE(bad_inputs_change_nothing) {
  EngineLimits l = test::unlimited();
  l.max_key_bytes = 4;
  l.max_ttl = 1000;
  Engine e(l, 1);
  BOOST_TEST(all(e, {}, "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(all(e, {"a", "a"}, "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(all(e, {"a", "toolong"}, "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(all(e, {"a", ""}, "o", 10, 0).status == EngineStatus::kBadKey);
  BOOST_TEST(all(e, {"a"}, "", 10, 0).status == EngineStatus::kBadOwner);
  BOOST_TEST(all(e, {"a"}, "o", 0, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(all(e, {"a"}, "o", 1001, 0).status == EngineStatus::kBadTtl);
  BOOST_TEST(all(e, {"a"}, "o", 10, 0, 1001).status == EngineStatus::kBadWait);
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxAcquireAllKeys; ++i) many.push_back(test::name("k", i));
  std::vector<std::string_view> views(many.begin(), many.end());
  l.max_key_bytes = 512;
  e.set_limits(l);
  BOOST_TEST(all(e, views, "o", 10, 0).status == EngineStatus::kBadKey);
  views.pop_back();
  BOOST_TEST(all(e, views, "o", 10, 0).status == EngineStatus::kGranted);
  BOOST_TEST(e.stats().acquire_requests == 1u);
}

BOOST_AUTO_TEST_CASE(limits_count_every_new_key_and_every_waiter) {
  EngineLimits l = test::unlimited();
  l.max_locks = 3;
  l.max_waiters = 2;
  Engine e(l, 1);
  acq(e, "x", "h", 1000, 0);
  BOOST_TEST(all(e, {"a", "b", "c"}, "o", 100, 0).status == EngineStatus::kOverMaxLocks);
  BOOST_TEST(e.stats().active_locks == 1u);
  BOOST_TEST(all(e, {"a", "b"}, "o", 100, 0).status == EngineStatus::kGranted);
  // Three waiters would be needed (x, a, b are held): over max_waiters = 2.
  BOOST_TEST(all(e, {"x", "a", "b"}, "p", 100, 0, 500, 1).status == EngineStatus::kOverMaxWaiters);
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(all(e, {"x", "a"}, "p", 100, 0, 500, 1).status == EngineStatus::kQueued);
  BOOST_TEST(e.stats().waiters == 2u);
}

BOOST_AUTO_TEST_CASE(waiting_request_is_granted_all_at_once_when_the_last_key_frees) {
  Engine e(test::unlimited(), 1);
  acq(e, "a", "x", 100, 0);
  acq(e, "c", "y", 200, 0);
  const auto q = all(e, {"a", "b", "c"}, "o", 50, 0, 1000, 7);
  BOOST_TEST(q.status == EngineStatus::kQueued);
  // b was free: it is kept for the request (no barging), yet nothing is held by it.
  BOOST_TEST(!e.exists("b", 1));
  BOOST_TEST(acq(e, "b", "z", 100, 1).status == EngineStatus::kNotGranted);
  BOOST_TEST(e.release("a", "x", 10) == EngineStatus::kOk);
  BOOST_TEST(!e.has_events());  // c is still held
  BOOST_TEST(!e.exists("a", 10));
  e.tick(201);  // c expires
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 7u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST((ev[0].waiter == q.waiter));
  BOOST_TEST(ev[0].fences.size() == 3u);
  BOOST_TEST(ev[0].created == (std::vector<std::uint8_t>{1, 1, 1}));
  BOOST_TEST(ev[0].ttl == 50);
  for (const char* k : {"a", "b", "c"}) BOOST_TEST(holder(e, k, 201) == "o");
  BOOST_TEST(e.info("a", 201)->holders.at(0).remaining == 50);  // the TTL runs from the grant
  BOOST_TEST(e.stats().waiters == 0u);
}

// Regression (review of the merged issue-17 features): a waiting group whose owner came to hold
// one of its keys as a reader was granted over that shared hold, so another reader could join a
// key the group's owner believed exclusive. The group is refused instead, as ACQUIREALL is at once.
BOOST_AUTO_TEST_CASE(waiting_group_is_refused_when_its_owner_came_to_hold_a_key_shared) {
  Engine e(test::unlimited(), 1);
  acq(e, "k", "w", 100, 0);  // a writer holds k
  AcquireRequest reader;
  reader.key = "k";
  reader.owner = "o";
  reader.ttl = 1000;
  reader.wait = 5000;
  reader.tag = 1;
  reader.shared = true;
  BOOST_TEST((e.acquire(reader, 0).status == EngineStatus::kQueued));
  const auto q = all(e, {"k", "l"}, "o", 1000, 0, 5000, 2);
  BOOST_TEST(q.status == EngineStatus::kQueued);
  BOOST_TEST(e.release("k", "w", 10) == EngineStatus::kOk);
  e.tick(10);
  bool reader_granted = false, group_answered = false;
  for (const auto& ev : e.take_events()) {
    if (ev.tag == 1) reader_granted = ev.granted;
    if (ev.tag == 2) {
      group_answered = true;
      BOOST_TEST(!ev.granted);
      BOOST_TEST(ev.fences.empty());
    }
  }
  BOOST_TEST(reader_granted);
  BOOST_TEST(group_answered);
  BOOST_TEST(!e.exists("l", 10));  // nothing of the group is held
  // k is still a shared key: another reader may join, and no one holds it exclusively.
  reader.owner = "r";
  reader.wait = 0;
  BOOST_TEST((e.acquire(reader, 10).status == EngineStatus::kGranted));
}

BOOST_AUTO_TEST_CASE(times_out_as_one_and_hands_reserved_keys_on) {
  Engine e(test::unlimited(), 1);
  acq(e, "b", "x", 10000, 0);
  BOOST_TEST(all(e, {"a", "b"}, "o", 50, 0, 100, 3).status == EngineStatus::kQueued);
  // A single-key waiter on a queues behind the request.
  BOOST_TEST(acq(e, "a", "s", 70, 1, 0, 5000, 4).status == EngineStatus::kQueued);
  e.tick(100);
  BOOST_TEST(!e.has_events());
  e.tick(101);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].tag == 3u);
  BOOST_TEST(!ev[0].granted);
  BOOST_TEST(ev[1].tag == 4u);  // a's permit, no longer kept, goes to the next in line
  BOOST_TEST(ev[1].granted);
  BOOST_TEST(holder(e, "a", 101) == "s");
  BOOST_TEST(holder(e, "b", 101) == "x");
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(e.stats().waiter_timeouts == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_removes_every_member_and_frees_empty_keys) {
  Engine e(test::unlimited(), 1);
  acq(e, "b", "x", 10000, 0);
  std::uint64_t after_first = 0;
  for (int round = 0; round < 2; ++round) {
    const std::uint64_t before = e.memory_bytes();
    const auto q = all(e, {"a", "b", "c"}, "o", 50, 0, 1000, 3);
    BOOST_TEST(e.stats().active_locks == 3u);  // a and c exist to queue on
    BOOST_TEST(e.memory_bytes() > before);
    BOOST_TEST(e.cancel_waiter(q.waiter));
    BOOST_TEST(!e.cancel_waiter(q.waiter));
    BOOST_TEST(e.stats().active_locks == 1u);
    BOOST_TEST(e.stats().waiters == 0u);
    BOOST_TEST(!e.has_events());
    // Slab chunks stay after the first round; nothing else does.
    if (round == 0) after_first = e.memory_bytes();
    if (round == 1) BOOST_TEST(e.memory_bytes() == after_first);
  }
  BOOST_TEST(acq(e, "a", "p", 10, 5).status == EngineStatus::kGranted);
}

BOOST_AUTO_TEST_CASE(opposite_orders_never_deadlock) {
  Engine e(test::unlimited(), 1);
  acq(e, "a", "x", 100, 0);
  acq(e, "b", "y", 100, 0);
  BOOST_TEST(all(e, {"a", "b"}, "p", 30, 1, 10000, 1).status == EngineStatus::kQueued);
  BOOST_TEST(all(e, {"b", "a"}, "q", 30, 2, 10000, 2).status == EngineStatus::kQueued);
  // Free b first: p is first in both queues, but a is still held, so b is kept for p (q, which
  // would need a too, gets nothing either: nobody holds part of what they wait for).
  BOOST_TEST(e.release("b", "y", 10) == EngineStatus::kOk);
  BOOST_TEST(!e.has_events());
  BOOST_TEST(!e.exists("b", 10));
  BOOST_TEST(e.release("a", "x", 20) == EngineStatus::kOk);
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 1u);
  BOOST_TEST(holder(e, "a", 20) == "p");
  BOOST_TEST(holder(e, "b", 20) == "p");
  BOOST_TEST(e.release_keys({"a", "b", "zz"}, "p", 30) == 2u);
  ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 2u);
  BOOST_TEST(ev[0].granted);
  BOOST_TEST(holder(e, "a", 30) == "q");
  BOOST_TEST(holder(e, "b", 30) == "q");
}

BOOST_AUTO_TEST_CASE(not_starved_by_single_key_acquires) {
  Engine e(test::unlimited(), 1);
  acq(e, "a", "x", 100, 0);
  BOOST_TEST(all(e, {"a", "b"}, "p", 30, 0, 100000, 1).status == EngineStatus::kQueued);
  // A stream of single-key acquires on b cannot take the permit kept for p.
  for (Millis t = 1; t < 100; t += 7) {
    BOOST_TEST(acq(e, "b", test::name("s", t), 5, t).status == EngineStatus::kNotGranted);
  }
  e.tick(101);  // a expires
  auto ev = e.take_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].granted);
}

BOOST_AUTO_TEST_CASE(release_keys_counts_only_what_the_owner_held) {
  Engine e(test::unlimited(), 1);
  all(e, {"a", "b", "c"}, "o", 1000, 0);
  acq(e, "d", "other", 1000, 0);
  BOOST_TEST(e.release_keys({"a", "c", "d", "nope"}, "o", 1) == 2u);
  BOOST_TEST(holder(e, "b", 1) == "o");
  BOOST_TEST(holder(e, "d", 1) == "other");
  BOOST_TEST(e.release_keys({"a"}, "o", 1) == 0u);
}

// The mutation log marks each all-or-nothing change as one group (Engine::mutation_groups), so
// that a cluster entry cut into parts never holds some of an ACQUIREALL's keys without the others
// (server/cluster_split.h). Regression: a waiting request granted by an expiry, a release or a
// cancelled wait was logged as loose holds, outside any client command's span.
BOOST_AUTO_TEST_CASE(each_grant_is_one_group_of_the_mutation_log) {
  using Span = std::pair<std::size_t, std::size_t>;
  Engine e(test::unlimited(), 1);
  e.set_mutation_log(true);
  // The holds of `owner` on `keys`, in order, are exactly the mutations of span `g`.
  auto holds_of = [](const std::vector<Mutation>& log, Span g, std::string_view owner,
                     std::vector<std::string> keys) {
    if (g.second > log.size() || g.second - g.first != keys.size()) return false;
    for (std::size_t i = g.first; i < g.second; ++i) {
      const Mutation& m = log[i];
      if (m.kind != Mutation::Kind::kHold || m.owner != owner || m.key != keys[i - g.first]) {
        return false;
      }
    }
    return true;
  };

  // At once, one key only refreshed: every hold is in the group, `created` tells them apart.
  acq(e, "a", "o", 100, 0);
  e.take_mutations();
  const auto now_granted = all(e, {"a", "b", "c"}, "o", 1000, 1, 5000);
  BOOST_TEST(now_granted.created == (std::vector<std::uint8_t>{0, 1, 1}));
  BOOST_REQUIRE(e.mutation_groups().size() == 1u);
  const Span g0 = e.mutation_groups()[0];
  std::vector<Mutation> log = e.take_mutations();
  BOOST_TEST(holds_of(log, g0, "o", {"a", "b", "c"}));
  BOOST_TEST(e.mutation_groups().empty());  // taken with the log
  BOOST_TEST(e.release_keys({"a", "b", "c"}, "o", 2) == 3u);
  log = e.take_mutations();

  // Waiting, granted by an expiry among other expiries: the group is its holds, nothing else.
  for (int i = 0; i < 5; ++i) acq(e, test::name("x", i), "x", 50, 10);
  acq(e, "b", "h", 60, 10);
  BOOST_TEST(all(e, {"a", "b", "c"}, "o", 1000, 10, 5000, 1).status == EngineStatus::kQueued);
  e.take_mutations();
  e.tick(100);
  BOOST_REQUIRE(e.take_events().size() == 1u);
  BOOST_REQUIRE(e.mutation_groups().size() == 1u);
  const Span g1 = e.mutation_groups()[0];
  log = e.take_mutations();
  BOOST_TEST(log.size() == 6u + 3u);  // six drops, then the three holds
  BOOST_TEST((g1 == Span(6, 9)));
  BOOST_TEST(holds_of(log, g1, "o", {"a", "b", "c"}));
  e.release_keys({"a", "b", "c"}, "o", 101);
  e.take_mutations();

  // Granted by another owner's release (a command of its own, one mutation long: the group is
  // what makes the grant uncuttable).
  acq(e, "c", "h", 1000, 200);
  all(e, {"c", "d"}, "o", 1000, 200, 5000, 2);
  e.take_mutations();
  BOOST_TEST(e.release("c", "h", 201) == EngineStatus::kOk);
  BOOST_REQUIRE(e.mutation_groups().size() == 1u);
  const Span g2 = e.mutation_groups()[0];
  log = e.take_mutations();
  BOOST_TEST((g2 == Span(1, 3)));  // after the release's drop
  BOOST_TEST(holds_of(log, g2, "o", {"c", "d"}));
  e.take_events();

  // A RELEASEALL is one group, the grant it makes lies inside it.
  all(e, {"e", "f"}, "p", 1000, 300);
  all(e, {"d", "e"}, "q", 1000, 300, 5000, 3);
  e.take_mutations();
  BOOST_TEST(e.release_keys({"c", "d"}, "o", 301) == 2u);  // frees d: q still waits for e
  BOOST_TEST((e.mutation_groups() == (std::vector<Span>{{0, 2}})));
  e.take_mutations();
  BOOST_TEST(e.release_keys({"e", "f"}, "p", 302) == 2u);  // frees e: q is granted inside
  BOOST_TEST((e.mutation_groups() == (std::vector<Span>{{1, 3}, {0, 4}})));
  log = e.take_mutations();
  BOOST_TEST(holds_of(log, {1, 3}, "q", {"d", "e"}));
  BOOST_TEST(e.take_events().size() == 1u);

  // One key: one mutation, nothing to keep together.
  all(e, {"g"}, "o", 1000, 400);
  BOOST_TEST(e.mutation_groups().empty());
}

// Random ACQUIREALLs (with waits, over overlapping keys, in random orders), single acquires,
// releases, cancels and ticks: every waiting request is eventually answered, a granted request
// holds all its keys at once, and no key ever has more holders than permits.
BOOST_AUTO_TEST_CASE(random_mix_always_drains) {
  std::mt19937 rng(1234);
  Engine e(test::unlimited(), 1);
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4"};
  std::vector<WaiterId> queued;
  std::map<std::uint64_t, std::pair<std::string, std::vector<std::string_view>>> groups;
  std::uint64_t tag = 0;
  std::uint64_t asked = 0;
  std::uint64_t answered = 0;
  Millis now = 0;
  for (int step = 0; step < 4000; ++step) {
    now += rng() % 3;
    const unsigned op = rng() % 10;
    if (op < 5) {
      std::vector<std::string_view> ks;
      for (const auto& k : keys) {
        if (rng() % 2) ks.push_back(k);
      }
      if (ks.empty()) ks.push_back(keys[rng() % keys.size()]);
      std::shuffle(ks.begin(), ks.end(), rng);
      const std::string owner = test::name("o", step);
      const auto r = all(e, ks, owner, 1 + rng() % 20, now, rng() % 200, ++tag);
      if (r.status == EngineStatus::kQueued) {
        ++asked;
        queued.push_back(r.waiter);
        groups[tag] = {owner, ks};
      }
    } else if (op < 7) {
      const auto r = acq(e, keys[rng() % keys.size()], test::name("s", step), 1 + rng() % 20, now,
                         0, rng() % 100, ++tag);
      if (r.status == EngineStatus::kQueued) ++asked;
    } else if (op < 8 && !queued.empty()) {
      if (e.cancel_waiter(queued[rng() % queued.size()])) ++answered;
    } else {
      e.tick(now);
    }
    // Reads first (they expire due holders and may grant waiters), then this step's answers.
    for (const auto& k : keys) {
      const auto info = e.info(k, now);
      if (info) BOOST_TEST(info->holders.size() <= info->limit);
    }
    for (const auto& ev : e.take_events()) {
      ++answered;
      if (ev.granted && !ev.fences.empty()) {  // every key is held by it, with its fence
        const auto& [owner, ks] = groups.at(ev.tag);
        BOOST_TEST(ev.fences.size() == ks.size());
        for (std::size_t i = 0; i < ks.size(); ++i) {
          const auto info = e.info(ks[i], now);
          bool found = false;
          for (const auto& h : info ? info->holders : std::vector<HolderInfo>{}) {
            found = found || (h.owner == owner && h.fence == ev.fences[i]);
          }
          BOOST_TEST(found, "step " << step << " tag " << ev.tag << " key " << ks[i] << " fence "
                                    << ev.fences[i] << " holders "
                                    << (info ? info->holders.size() : 0) << " first "
                                    << (info ? info->holders[0].owner + "/" +
                                                   std::to_string(info->holders[0].fence)
                                             : std::string("-")));
        }
      }
    }
  }
  now += 100000;
  e.tick(now);
  e.tick(now + 1);
  answered += e.take_events().size();
  BOOST_TEST(e.stats().waiters == 0u);
  BOOST_TEST(answered == asked);
}

BOOST_AUTO_TEST_SUITE_END()
