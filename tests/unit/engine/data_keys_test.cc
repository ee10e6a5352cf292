// Data keys (engine/data.h) with injected time: one keyspace with the locks, expiry through the
// tick budget, exact memory accounting, the sorted set's two forms, blocking pops, and the
// operation log replayed into a second engine giving the same state.
#include <map>
#include <random>
#include <set>

#include "engine/data.h"
#include "tests/unit/engine/helpers.h"

namespace semlock {
inline std::ostream& operator<<(std::ostream& os, DataStatus s) {
  return os << "DataStatus(" << static_cast<int>(s) << ")";
}
}  // namespace semlock

using namespace semlock;
using namespace semlock::test;

namespace {

DataEntry* make(Engine& e, std::string_view key, DataType t, Millis now) {
  DataStatus st = DataStatus::kOk;
  DataEntry* d = e.data().find_or_create(key, t, now, st);
  BOOST_REQUIRE(st == DataStatus::kOk);
  return d;
}

// Every key as its operations, in a comparable form.
std::multiset<std::string> dump(Engine& e) {
  std::multiset<std::string> out;
  e.data().for_each_key([&](std::string_view key, const std::vector<std::string>& op, Millis d) {
    std::string line(key);
    for (const auto& a : op) line += "|" + a;
    if (op[0] == "expire") line += "@" + std::to_string(d);
    out.insert(line);
  });
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_keys)

BOOST_AUTO_TEST_CASE(one_keyspace_with_lock_keys) {
  Engine e(unlimited(), 1);
  BOOST_TEST(acq(e, "lock", "o", 1000, 0).status == EngineStatus::kGranted);
  DataStatus st = DataStatus::kOk;
  BOOST_TEST(e.data().find_or_create("lock", DataType::kHash, 0, st) == nullptr);
  BOOST_TEST(st == DataStatus::kWrongType);
  make(e, "h", DataType::kHash, 0)->hash->set("f", "v");
  BOOST_TEST(acq(e, "h", "o", 1000, 0).status == EngineStatus::kWrongType);
  // SET replaces a data key; the lock's expiry frees the name for data again.
  BOOST_TEST(e.set_holder("h", "o", 1000, 0).status == EngineStatus::kOk);
  BOOST_TEST(e.data().find("h", 0) == nullptr);
  BOOST_TEST(e.data().find_or_create("lock", DataType::kList, 1001, st) != nullptr);
  BOOST_TEST(st == DataStatus::kOk);
}

BOOST_AUTO_TEST_CASE(data_keys_count_toward_max_locks) {
  EngineLimits l = unlimited();
  l.max_locks = 2;
  Engine e(l, 1);
  make(e, "a", DataType::kCounter, 0);
  BOOST_TEST(acq(e, "b", "o", 1000, 0).status == EngineStatus::kGranted);
  DataStatus st = DataStatus::kOk;
  BOOST_TEST(e.data().find_or_create("c", DataType::kZSet, 0, st) == nullptr);
  BOOST_TEST(st == DataStatus::kOverMaxLocks);
  BOOST_TEST(acq(e, "c", "o", 1000, 0).status == EngineStatus::kOverMaxLocks);
  BOOST_TEST(e.stats().data_keys == 1u);
  BOOST_TEST(e.data_key_count() == 1u);
}

BOOST_AUTO_TEST_CASE(expiry_is_exact_and_shares_the_tick_budget) {
  EngineLimits l = unlimited();
  l.max_expiries_per_tick = 3;
  Engine e(l, 1);
  for (int i = 0; i < 5; ++i) e.data().set_deadline(make(e, name("k", i), DataType::kCounter, 0), 100);
  BOOST_TEST(acq(e, "lock", "o", 100, 0).status == EngineStatus::kGranted);
  e.tick(100);
  BOOST_TEST(e.data().size() == 5u);  // deadline 100: still live at 100
  e.tick(101);  // the holder first, then two data keys
  BOOST_TEST(e.data().size() == 3u);
  BOOST_TEST(!e.exists("lock", 101));
  e.tick(101);
  BOOST_TEST(e.data().size() == 0u);
  // An access finds a due key absent before any tick.
  e.data().set_deadline(make(e, "x", DataType::kCounter, 200), 250);
  BOOST_TEST(e.data().find("x", 250) != nullptr);
  BOOST_TEST(e.data().find("x", 251) == nullptr);
  BOOST_TEST(e.stats().data_keys == 0u);
  BOOST_TEST(e.data_key_count() == 0u);
}

BOOST_AUTO_TEST_CASE(memory_is_counted_and_given_back) {
  Engine e(unlimited(), 1);
  const std::uint64_t idle = e.memory_bytes();
  DataEntry* h = make(e, "h", DataType::kHash, 0);
  for (int i = 0; i < 1000; ++i) h->hash->set(name("field-with-a-long-name-", i), std::string(100, 'v'));
  DataEntry* z = make(e, "z", DataType::kZSet, 0);
  for (int i = 0; i < 1000; ++i) z->zset->set(name("member-", i), i);
  DataEntry* l = make(e, "l", DataType::kList, 0);
  for (int i = 0; i < 1000; ++i) l->list->emplace_back(std::string(50, 'x'));
  BOOST_TEST(e.memory_bytes() > idle + 3000 * 100);
  EngineLimits limits = unlimited();
  limits.max_memory_bytes = e.memory_bytes();
  e.set_limits(limits);
  BOOST_TEST((e.data().admit_growth(0) == DataStatus::kOverMemory));
  BOOST_TEST(e.data().remove("h", 0));
  BOOST_TEST(e.data().remove("z", 0));
  BOOST_TEST(e.data().remove("l", 0));
  BOOST_TEST((e.data().admit_growth(0) == DataStatus::kOk));
  BOOST_TEST(e.memory_bytes() <= idle + 4096);  // the index's and slots' capacity stays
}

BOOST_AUTO_TEST_CASE(zset_matches_a_model_in_both_forms) {
  std::pmr::memory_resource* mr = std::pmr::new_delete_resource();
  ZSet z(mr);
  std::set<std::pair<double, std::string>> model;
  std::map<std::string, double> scores;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const std::string m = name("m", static_cast<long long>(rng() % 400));
    const double s = static_cast<double>(rng() % 50);
    if (rng() % 3 == 0) {
      const bool had = scores.contains(m);
      BOOST_TEST(z.remove(m) == had);
      if (had) model.erase({scores[m], m});
      scores.erase(m);
    } else {
      const bool had = scores.contains(m);
      BOOST_TEST(z.set(m, s) == !had);
      if (had) model.erase({scores[m], m});
      model.insert({s, m});
      scores[m] = s;
    }
    if (step % 500 == 0) {
      BOOST_REQUIRE(z.size() == model.size());
      std::size_t i = 0;
      for (const auto& [s2, m2] : model) {
        const auto [zs, zm] = z.at(i);
        BOOST_REQUIRE(zs == s2);
        BOOST_REQUIRE(zm == m2);
        BOOST_REQUIRE(*z.rank(m2) == i);
        ++i;
      }
      std::size_t below = 0;
      for (const auto& p : model) below += p.first < 25 ? 1 : 0;
      BOOST_TEST(z.count_below(25, false) == below);
    }
  }
}

BOOST_AUTO_TEST_CASE(zset_rank_is_logarithmic_in_the_tree) {
  ZSet z(std::pmr::new_delete_resource());
  for (int i = 0; i < 200000; ++i) z.set(name("m", i), i);
  BOOST_TEST(!z.packed());
  // 200,000 rank queries: a linear rank would take ~2e10 steps; this finishes at once.
  std::size_t sum = 0;
  for (int i = 0; i < 200000; ++i) sum += *z.rank(name("m", i));
  BOOST_TEST(sum == 200000ull * 199999 / 2);
  for (int i = 0; i < 199990; ++i) z.remove(name("m", i));
  BOOST_TEST(z.packed());  // back to the array below the size
  BOOST_TEST(*z.rank("m199995") == 5u);
}

BOOST_AUTO_TEST_CASE(blocking_pops_fifo_timeout_cancel_and_bound) {
  EngineLimits l = unlimited();
  l.max_waiters = 3;
  Engine e(l, 1);
  EngineStatus st = EngineStatus::kOk;
  DataStore& d = e.data();
  BOOST_TEST(d.add_pop_waiter(1, {"q"}, true, kNoDeadline, 0, st));
  BOOST_TEST(d.add_pop_waiter(2, {"other", "q"}, true, 50, 0, st));
  BOOST_TEST(d.add_pop_waiter(3, {"q"}, false, kNoDeadline, 0, st));
  BOOST_TEST(!d.add_pop_waiter(4, {"q"}, true, kNoDeadline, 0, st));
  BOOST_TEST(st == EngineStatus::kOverMaxWaiters);
  BOOST_TEST(acq(e, "lock", "a", 1000, 0).status == EngineStatus::kGranted);
  BOOST_TEST(acq(e, "lock", "b", 1000, 0, 0, 100).status == EngineStatus::kOverMaxWaiters);
  BOOST_TEST(d.cancel_pop_waiter(1));
  e.tick(50);
  BOOST_TEST(!d.has_pop_events());
  e.tick(51);  // waiter 2 ran out
  auto ev = d.take_pop_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 2u);
  BOOST_TEST(!ev[0].served);
  DataEntry* q = make(e, "q", DataType::kList, 60);
  q->list->emplace_back("a");
  q->list->emplace_back("b");
  d.note_list_ready("q");
  d.serve_pop_waiters(60);
  ev = d.take_pop_events();
  BOOST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(ev[0].tag == 3u);
  BOOST_TEST(ev[0].value == "b");  // BRPOP: the tail
  BOOST_TEST(d.pop_waiters() == 0u);
  BOOST_TEST(d.find("q", 60)->list->size() == 1u);
}

BOOST_AUTO_TEST_CASE(logged_operations_replay_to_the_same_state) {
  Engine a(unlimited(), 1);
  a.set_mutation_log(true);
  DataStore& d = a.data();
  DataEntry* l = make(a, "l", DataType::kList, 0);
  for (const char* v : {"1", "2", "3", "2"}) l->list->emplace_back(v);
  d.log(l, {"rpush", "1", "2", "3", "2"});
  list_remove(*l->list, -1, "2");
  d.log(l, {"lrem", "-1", "2"});
  DataEntry* z = make(a, "z", DataType::kZSet, 0);
  z->zset->set("m", 1.5);
  d.log(z, {"zadd", format_score(1.5), "m"});
  DataEntry* c = make(a, "c", DataType::kCounter, 0);
  c->counter = 7;
  d.log(c, {"ctr", "7"});
  d.set_deadline(c, 500);
  make(a, "gone", DataType::kHash, 0)->hash->set("f", "v");
  d.log(d.find("gone", 0), {"hset", "f", "v"});
  d.remove("gone", 0);
  Engine b(unlimited(), 1);
  for (const Mutation& m : a.take_mutations()) {
    BOOST_REQUIRE(m.kind == Mutation::Kind::kData);
    BOOST_TEST(b.data().apply(m.key, m.data, m.deadline, 0));
  }
  BOOST_TEST(dump(a) == dump(b), boost::test_tools::per_element());
  BOOST_TEST(b.data().size() == 3u);
  // A snapshot (for_each_key) replays to the same state too.
  Engine snap(unlimited(), 1);
  a.data().for_each_key([&](std::string_view k, const std::vector<std::string>& op, Millis dl) {
    snap.data().apply(k, op, dl, 0);
  });
  BOOST_TEST(dump(a) == dump(snap), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
