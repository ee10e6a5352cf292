// Regression (kill -9 failovers under contended load: members stuck replaying with "a replicated
// holder does not fit the engine"): a member's state must be a function of the committed log
// alone. Applying used release_fenced(now), which first expired due holders on the member's own
// clock (of the key, and for a semaphore every due holder of the engine); a member applying an
// entry later than the leader made it, or reading a key, dropped holders the log still had.
// Once leader, it granted over them, and the other members could never apply that grant.
//
// Members here are engines fed the leader's mutation log as the server feeds them (kHold ->
// apply_hold, kDrop -> apply_drop), each at its own (later) virtual time.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"

namespace semlock {
namespace {

using State = std::map<std::tuple<std::string, std::string>, std::pair<std::uint64_t, Millis>>;
State state_of(const Engine& e) {
  State out;
  e.for_each_holder([&](const HolderView& h) {
    out[{std::string(h.key), std::string(h.owner)}] = {h.fence, h.deadline};
  });
  return out;
}

// A member that is not the leader: engine in replica mode, wheels at `start`.
void make_replica(Engine& e, Millis start) {
  e.tick(start);
  e.set_mutation_log(true);
  e.set_replica(true);
}

// Applies the leader's log to a member as the server does.
void feed(Engine& member, const std::vector<Mutation>& log) {
  for (const Mutation& m : log) {
    if (m.kind == Mutation::Kind::kHold) {
      BOOST_REQUIRE((member.apply_hold(m.key, m.owner, m.fence, m.limit, m.deadline) ==
                     Engine::ApplyStatus::kApplied));
    } else {
      member.apply_drop(m.key, m.owner, m.fence);
    }
  }
  BOOST_TEST(!member.has_mutations());  // the member changed only by the log
}

AcquireResult acquire(Engine& e, std::string_view key, std::string_view owner, Millis ttl,
                      Millis now, std::uint32_t limit = 0) {
  AcquireRequest r;
  r.key = key;
  r.owner = owner;
  r.ttl = ttl;
  r.limit = limit;
  return e.acquire(r, now);
}

BOOST_AUTO_TEST_SUITE(replica_apply)

// The failing run, step by step: F applies the leader's release of x later than the leader made
// it, after A's deadline; G applies it in time. F becomes leader.
BOOST_AUTO_TEST_CASE(a_late_apply_expires_nothing_and_the_next_leader_grants_only_what_fits) {
  Engine leader(EngineLimits{}, 1000);
  leader.tick(0);
  leader.set_mutation_log(true);
  Engine f(EngineLimits{}, 1);
  Engine g(EngineLimits{}, 1);
  make_replica(f, 0);
  make_replica(g, 0);
  BOOST_TEST((acquire(leader, "m", "A", 100, 0).status == EngineStatus::kGranted));
  for (const char* o : {"x", "y"}) {
    BOOST_TEST((acquire(leader, "s", o, 10000, 0, 3).status == EngineStatus::kGranted));
  }
  std::vector<Mutation> log = leader.take_mutations();
  feed(f, log);
  feed(g, log);
  // t=90: x releases on the leader (A is not due yet); F gets the entry at t=150, G at t=95.
  BOOST_TEST((leader.release("s", "x", 90) == EngineStatus::kOk));
  log = leader.take_mutations();
  BOOST_TEST(log.size() == 1u);
  f.tick(150);  // a member's clock runs on; it expires nothing by itself
  feed(f, log);
  feed(g, log);
  // Reads on a member do not expire either: A is there, with 0 ms left.
  BOOST_TEST(f.exists("m", 150));
  BOOST_TEST(f.info("m", 150)->holders.at(0).remaining == 0);
  BOOST_TEST((state_of(f) == state_of(leader)));
  BOOST_TEST((state_of(g) == state_of(leader)));
  BOOST_TEST(!f.has_mutations());

  // The leader dies; F takes over at t=160: a TTL is a lower bound, every deadline + 1000.
  f.set_replica(false);
  f.extend_all(1000);
  BOOST_TEST((acquire(f, "m", "B", 100, 160).status == EngineStatus::kNotGranted));
  f.tick(161);
  feed(g, f.take_mutations());
  BOOST_TEST((state_of(g) == state_of(f)));
  // A's extended deadline passes: F expires it by a drop in its log, then B gets the key.
  f.tick(1101);
  BOOST_TEST((acquire(f, "m", "B", 100, 1101).status == EngineStatus::kGranted));
  log = f.take_mutations();
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST((log.at(0).kind == Mutation::Kind::kDrop));
  g.tick(5000);  // G applies it much later: still exactly F's state
  feed(g, log);
  BOOST_TEST((state_of(g) == state_of(f)));
  BOOST_TEST(g.stats().holders == 2u);  // B, and y (x was released)
}

// The same property under random contended load: a mutex and a 3-permit semaphore, acquires,
// releases, extends and expiries on the leader; two members apply each batch at their own
// later times and read keys in between. After every batch both hold the leader's exact state;
// then a member takes over and its log applies on the other without a displaced holder.
BOOST_AUTO_TEST_CASE(members_hold_the_leaders_exact_state_under_random_load) {
  std::mt19937 rng(13);
  Engine leader(EngineLimits{}, 1);
  leader.tick(0);
  leader.set_mutation_log(true);
  Engine f(EngineLimits{}, 1);
  Engine g(EngineLimits{}, 1);
  make_replica(f, 0);
  make_replica(g, 0);
  const char* keys[] = {"mutex", "sem"};
  const char* owners[] = {"a", "b", "c", "d", "e"};
  Millis now = 0;
  Millis f_now = 0;
  Millis g_now = 0;
  for (int step = 0; step < 3000; ++step) {
    now += static_cast<Millis>(rng() % 7);
    const int k = static_cast<int>(rng() % 2);
    const char* owner = owners[rng() % 5];
    switch (rng() % 4) {
      case 0:
      case 1:
        acquire(leader, keys[k], owner, 20 + static_cast<Millis>(rng() % 60), now, k ? 3 : 1);
        break;
      case 2:
        leader.release(keys[k], owner, now);
        break;
      default:
        leader.extend(keys[k], owner, 50, now);
        break;
    }
    if (rng() % 3 == 0) leader.tick(now);
    const std::vector<Mutation> log = leader.take_mutations();
    // Members apply later than the leader decided, each by its own lag, and read meanwhile.
    f_now = std::max(f_now, now + static_cast<Millis>(rng() % 200));
    g_now = std::max(g_now, now + static_cast<Millis>(rng() % 20));
    f.exists(keys[rng() % 2], f_now);
    f.tick(f_now);
    feed(f, log);
    g.info(keys[rng() % 2], g_now);
    feed(g, log);
    BOOST_REQUIRE((state_of(f) == state_of(leader)));
    BOOST_REQUIRE((state_of(g) == state_of(leader)));
  }
  // F takes over, far later: extends, expires what is due and serves; G follows its log.
  f.set_replica(false);
  f.extend_all(1000);
  now = f_now + 2000;
  f.tick(now);
  for (const char* o : owners) acquire(f, "sem", o, 100, now, 3);
  acquire(f, "mutex", "z", 100, now, 1);
  feed(g, f.take_mutations());
  BOOST_TEST((state_of(g) == state_of(f)));
  BOOST_TEST(g.displaced_holders() == 0u);
  BOOST_TEST(f.stats().holders == 4u);
}

// Applying never refuses a committed holder: a key full or under another limit in a member's
// (diverged) state makes room, the same way on every member, counted as displaced.
BOOST_AUTO_TEST_CASE(apply_hold_never_refuses_and_makes_room_deterministically) {
  using S = Engine::ApplyStatus;
  EngineLimits tight;
  tight.max_locks = 1;        // local limits do not apply to replicated state
  tight.max_permits = 1;
  tight.max_memory_bytes = 1;
  Engine e(tight, 1);
  e.tick(0);
  e.set_replica(true);
  BOOST_TEST((e.apply_hold("k", "a", 10, 2, 500) == S::kApplied));
  BOOST_TEST((e.apply_hold("k", "b", 11, 2, 300) == S::kApplied));
  BOOST_TEST((e.apply_hold("other", "z", 12, 1, 900) == S::kApplied));
  // Full: the earliest deadline (b) makes room.
  BOOST_TEST((e.apply_hold("k", "c", 13, 2, 700) == S::kDisplaced));
  State s = state_of(e);
  BOOST_TEST(s.count({"k", "a"}) == 1u);
  BOOST_TEST(s.count({"k", "b"}) == 0u);
  BOOST_TEST(s.count({"k", "c"}) == 1u);
  // Another limit: the key was recreated on the leader; its old holders all go.
  BOOST_TEST((e.apply_hold("k", "d", 14, 3, 800) == S::kDisplaced));
  s = state_of(e);
  BOOST_TEST(s.count({"k", "a"}) == 0u);
  BOOST_TEST(s.count({"k", "c"}) == 0u);
  BOOST_TEST(e.info("k", 0)->limit == 3u);
  BOOST_TEST(e.displaced_holders() == 3u);
  BOOST_TEST((e.apply_hold("k", "", 15, 3, 800) == S::kInvalid));
  BOOST_TEST(e.stats().holders == 2u);
  BOOST_TEST(e.apply_drop("k", "d", 14));
  BOOST_TEST(!e.apply_drop("k", "d", 14));
  BOOST_TEST(!e.apply_drop("other", "z", 99));  // another fence: not that holder
  BOOST_TEST(e.stats().holders == 1u);
  BOOST_TEST(e.stats().active_locks == 1u);  // "k" erased with its last holder
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
