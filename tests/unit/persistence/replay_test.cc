// The engine's mutation log replayed from snapshot + journal gives back the live set, and
// restore_holder puts it back into a fresh engine with the same fences.
#include <boost/test/unit_test.hpp>

#include <random>
#include <set>
#include <tuple>

#include "engine/engine.h"
#include "persistence/files.h"
#include "persistence/loader.h"
#include "tests/unit/persistence/helpers.h"

namespace semlock::persist {
namespace {

using test::TempDir;

// Wall clock = kWallBase + engine time, as the server converts deadlines.
constexpr std::int64_t kWallBase = 1700000000000;

Record to_record(const Mutation& m) {
  Record r;
  r.type = m.kind == Mutation::Kind::kHold ? RecordType::kHold : RecordType::kDrop;
  r.key = m.key;
  r.owner = m.owner;
  r.fence = m.fence;
  r.limit = m.limit;
  r.wall_deadline_ms = kWallBase + m.deadline;
  return r;
}

using HolderSet = std::set<std::tuple<std::string, std::string, std::uint64_t, std::int64_t>>;

HolderSet live_in(const Engine& e, Millis now) {
  HolderSet out;
  e.for_each_holder([&](const HolderView& h) {
    if (h.deadline > now) out.emplace(h.key, h.owner, h.fence, kWallBase + h.deadline);
  });
  return out;
}

std::vector<Mutation::Kind> kinds(Engine& e) {
  std::vector<Mutation::Kind> out;
  for (const Mutation& m : e.take_mutations()) out.push_back(m.kind);
  return out;
}

using K = Mutation::Kind;

}  // namespace

BOOST_AUTO_TEST_SUITE(replay)

BOOST_AUTO_TEST_CASE(the_log_is_off_by_default_and_records_every_holder_change) {
  Engine e(EngineLimits{}, 100);
  BOOST_TEST((e.acquire({"k", "a", 1000}, 0).status == EngineStatus::kGranted));
  BOOST_TEST(!e.has_mutations());
  e.set_mutation_log(true);
  e.acquire({"m", "a", 1000}, 0);  // grant
  e.acquire({"m", "a", 2000}, 0);  // re-acquire refresh
  e.extend("m", "a", 3000, 0);
  BOOST_TEST((kinds(e) == std::vector<K>{K::kHold, K::kHold, K::kHold}));
  AcquireRequest w{"m", "b", 1000};
  w.wait = 5000;
  BOOST_TEST((e.acquire(w, 0).status == EngineStatus::kQueued));
  BOOST_TEST(!e.has_mutations());
  e.release("m", "a", 1);  // drop, then the waiter's grant
  const auto ms = e.take_mutations();
  BOOST_TEST_REQUIRE(ms.size() == 2u);
  BOOST_TEST((ms[0].kind == K::kDrop && ms[0].owner == "a"));
  BOOST_TEST((ms[1].kind == K::kHold && ms[1].owner == "b" && ms[1].deadline == 1001));
  e.set_holder("m", "c", 1000, 2);  // swap: the old holder dropped, the new one held
  const auto swap = e.take_mutations();
  BOOST_TEST_REQUIRE(swap.size() == 2u);
  BOOST_TEST((swap[0].kind == K::kDrop && swap[0].owner == "b"));
  BOOST_TEST((swap[1].kind == K::kHold && swap[1].owner == "c" && swap[1].fence > ms[1].fence));
  e.tick(5000);  // "k" (untracked grant) and "m" expire
  BOOST_TEST((kinds(e) == std::vector<K>{K::kDrop, K::kDrop}));
  e.acquire({"n", "a", 1000}, 6000);
  e.acquire({"n2", "a", 1000}, 6000);
  e.release_fenced("n2", "a", 1, 6000);  // wrong fence: nothing
  BOOST_TEST(e.release_all("n", 6000) == 1u);
  BOOST_TEST((kinds(e) == std::vector<K>{K::kHold, K::kHold, K::kDrop}));
  e.set_mutation_log(false);
  e.release("n2", "a", 6000);
  BOOST_TEST(!e.has_mutations());
}

BOOST_AUTO_TEST_CASE(restore_keeps_fences_and_consumes_none) {
  Engine e(EngineLimits{}, 1000);
  e.set_mutation_log(true);
  e.tick(50);
  e.restore_holder("sem", "a", 700, 3, 5000);
  e.restore_holder("sem", "b", 900, 3, 6000);
  e.restore_holder("sem", "b", 901, 3, 6000);  // already held by b: left as it is
  BOOST_TEST(!e.has_mutations());
  BOOST_TEST(e.stats().next_fence == 1000u);
  BOOST_TEST(e.stats().granted == 0u);
  const auto info = e.info("sem", 100);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->limit == 3u);
  BOOST_TEST_REQUIRE(info->holders.size() == 2u);
  BOOST_TEST(info->holders[0].fence == 700u);
  BOOST_TEST(info->holders[0].remaining == 4900);
  BOOST_TEST(info->holders[1].fence == 900u);
  e.ensure_next_fence_above(5000);
  BOOST_TEST(e.acquire({"sem", "c", 1000}, 100).fence == 5001u);
  e.ensure_next_fence_above(10);  // never lowers the counter
  BOOST_TEST(e.acquire({"x", "c", 1000}, 100).fence == 5002u);
  // A restored holder expires like any other.
  // (Due once now > deadline: the engine's `now` is a clock rounded up.)
  e.tick(5000);
  BOOST_TEST(e.info("sem", 5000)->holders.size() == 2u);
  e.tick(5001);
  BOOST_TEST(e.info("sem", 5001)->holders.size() == 1u);
  e.tick(6001);
  BOOST_TEST(!e.info("sem", 6001).has_value());
}

// Issue 11 #2 (restore half): the engine never builds a state over a key's limit, whatever it is
// asked to restore.
BOOST_AUTO_TEST_CASE(restore_never_goes_over_a_keys_limit) {
  Engine e(EngineLimits{}, 1000);
  e.tick(0);
  BOOST_TEST(e.restore_holder("job", "w1", 10, 1, 5000));
  BOOST_TEST(!e.restore_holder("job", "w2", 12, 1, 5000));  // a second holder on a mutex
  BOOST_TEST(e.restore_holder("job", "w1", 10, 1, 5000));   // already there: fine
  BOOST_TEST(e.restore_holder("sem", "a", 20, 2, 5000));
  BOOST_TEST(!e.restore_holder("sem", "b", 21, 3, 5000));  // another limit
  BOOST_TEST(e.restore_holder("sem", "b", 22, 2, 5000));
  BOOST_TEST(!e.restore_holder("sem", "c", 23, 2, 5000));  // over the limit
  BOOST_TEST(!e.restore_holder("", "c", 24, 1, 5000));     // invalid key
  BOOST_TEST(e.info("job", 1)->holders.size() == 1u);
  BOOST_TEST(e.info("job", 1)->holders[0].owner == "w1");
  BOOST_TEST(e.info("sem", 1)->holders.size() == 2u);
  BOOST_TEST(e.stats().holders == 3u);
}

BOOST_AUTO_TEST_CASE(snapshot_plus_journal_replay_equals_the_live_set) {
  for (unsigned seed = 1; seed <= 5; ++seed) {
    TempDir dir;
    std::mt19937 rng(seed);
    EngineLimits limits;
    limits.tick_resolution = 10;
    Engine e(limits, 1000);
    e.set_mutation_log(true);
    JournalFile journal;
    BOOST_TEST_REQUIRE(journal.open(dir.file(kJournalName), 0) == 0);
    auto persist_mutations = [&] {
      std::string bytes;
      for (const Mutation& m : e.take_mutations()) encode_record(to_record(m), bytes);
      BOOST_TEST_REQUIRE(journal.append(bytes) == 0);
    };
    Millis now = 0;
    std::uint64_t tag = 0;
    for (int step = 0; step < 4000; ++step) {
      const std::string key = "k" + std::to_string(rng() % 12);
      const std::string owner = "o" + std::to_string(rng() % 5);
      switch (rng() % 9) {
        case 0:
        case 1:
        case 2: {
          AcquireRequest req{key, owner, static_cast<Millis>(50 + rng() % 500)};
          req.limit = (key == "k0" || key == "k1") ? 3 : 0;
          req.wait = rng() % 3 == 0 ? static_cast<Millis>(rng() % 300) : 0;
          req.tag = ++tag;
          e.acquire(req, now);
          break;
        }
        case 3:
          e.release(key, owner, now);
          break;
        case 4:
          e.extend(key, owner, static_cast<Millis>(50 + rng() % 500), now);
          break;
        case 5:
          e.set_holder(key, owner, static_cast<Millis>(50 + rng() % 500), now);
          break;
        case 6:
          if (rng() % 4 == 0) e.release_all(key, now);
          break;
        default:
          now += static_cast<Millis>(rng() % 40);
          e.tick(now);
          break;
      }
      e.take_events();
      persist_mutations();
      if (step == 2000) {  // a snapshot in the middle, as the server takes one
        std::string snap;
        e.for_each_holder([&](const HolderView& h) {
          encode_record(Record{RecordType::kHold, std::string(h.key), std::string(h.owner), h.fence,
                               h.limit, kWallBase + h.deadline},
                        snap);
        });
        BOOST_TEST_REQUIRE(write_snapshot(dir.path, snap) == 0);
        BOOST_TEST_REQUIRE(journal.reset() == 0);
      }
    }
    const LoadResult loaded = load_directory(dir.path, kWallBase + now, false);
    BOOST_TEST_REQUIRE(loaded.ok);
    HolderSet replayed;
    for (const auto& h : loaded.holders) {
      replayed.emplace(h.key, h.owner, h.fence, h.wall_deadline_ms);
    }
    const HolderSet live = live_in(e, now);
    BOOST_TEST(live.size() > 3u);
    BOOST_TEST((replayed == live), "seed " << seed);

    // Restored into a fresh engine: the same holders, and new fences above every old one.
    Engine fresh(limits, 1);
    fresh.tick(now);
    for (const auto& h : loaded.holders) {
      BOOST_TEST(
          fresh.restore_holder(h.key, h.owner, h.fence, h.limit, h.wall_deadline_ms - kWallBase));
    }
    fresh.ensure_next_fence_above(loaded.max_fence);
    BOOST_TEST((live_in(fresh, now) == live));
    BOOST_TEST(fresh.stats().next_fence > e.stats().next_fence - 1);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::persist
