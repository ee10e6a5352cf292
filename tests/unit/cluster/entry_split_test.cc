// Cutting a large cluster entry (server/cluster_split.h): parts stay under the 4 MiB limit, but a
// cut never falls inside the records of one client command (an EXEC, an EVAL, an ACQUIREALL):
// a part committed without the next ones must not leave half a command applied.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "cluster/import_chunks.h"
#include "engine/engine.h"
#include "persistence/record.h"
#include "server/cluster_split.h"

namespace semlock {
namespace {

// Appends one hold record with a key of `key_bytes` bytes; returns its end offset.
std::size_t add_hold(std::string& out, int i, std::size_t key_bytes) {
  persist::Record r;
  r.type = persist::RecordType::kHold;
  r.key = "k" + std::to_string(i);
  r.key.resize(key_bytes, 'x');
  r.owner = "owner";
  r.fence = 100 + static_cast<std::uint64_t>(i);
  r.wall_deadline_ms = 1'700'000'000'000;
  persist::encode_record(r, out);
  return out.size();
}

BOOST_AUTO_TEST_SUITE(entry_split)

BOOST_AUTO_TEST_CASE(cut_never_inside_a_command) {
  const std::size_t limit = 4096;
  std::string records;
  std::vector<std::size_t> ends;  // every record boundary
  for (int i = 0; i < 20; ++i) ends.push_back(add_hold(records, i, 100));
  for (int i = 20; i < 80; ++i) ends.push_back(add_hold(records, i, 100));  // one command
  for (int i = 80; i < 100; ++i) ends.push_back(add_hold(records, i, 100));
  const RecordSpan command{ends[19], ends[79]};
  BOOST_REQUIRE_GT(ends[79] - ends[19], limit);  // the command alone passes the limit
  BOOST_REQUIRE_LT(ends[19], limit);             // the first part would want to cut inside it

  const std::vector<std::size_t> cuts = cluster_entry_cuts(records, {command}, limit);
  BOOST_REQUIRE(!cuts.empty());
  BOOST_CHECK_EQUAL(cuts.back(), records.size());
  std::size_t from = 0;
  for (std::size_t to : cuts) {
    BOOST_CHECK_GT(to, from);
    BOOST_CHECK(std::find(ends.begin(), ends.end(), to) != ends.end());  // a record boundary
    BOOST_CHECK_MESSAGE(to <= command.first || to >= command.second,
                        "cut at " << to << " inside the command [" << command.first << ", "
                                  << command.second << ")");
    // Over the limit only the part that is the command itself.
    if (to - from > limit) {
      BOOST_CHECK_EQUAL(from, command.first);
      BOOST_CHECK_EQUAL(to, command.second);
    }
    from = to;
  }
  // The command is one part of its own: the records before it end a part right where it starts.
  BOOST_CHECK(std::find(cuts.begin(), cuts.end(), command.first) != cuts.end());
  BOOST_CHECK(std::find(cuts.begin(), cuts.end(), command.second) != cuts.end());
}

BOOST_AUTO_TEST_CASE(records_outside_commands_cut_anywhere_under_the_limit) {
  const std::size_t limit = 4096;
  std::string records;
  std::vector<std::size_t> ends;
  for (int i = 0; i < 100; ++i) ends.push_back(add_hold(records, i, 100));
  // Two small commands: cuts move around them, parts stay under the limit.
  const std::vector<RecordSpan> commands{{ends[10], ends[14]}, {ends[30], ends[33]}};
  const std::vector<std::size_t> cuts = cluster_entry_cuts(records, commands, limit);
  BOOST_REQUIRE_GT(cuts.size(), 1u);
  std::size_t from = 0;
  for (std::size_t to : cuts) {
    BOOST_CHECK_LE(to - from, limit);
    for (const RecordSpan& c : commands) BOOST_CHECK(to <= c.first || to >= c.second);
    from = to;
  }
  BOOST_CHECK_EQUAL(cuts.back(), records.size());
}

BOOST_AUTO_TEST_CASE(small_or_empty_entry_is_one_part) {
  std::string records;
  BOOST_CHECK(cluster_entry_cuts(records, {}, cluster::kImportChunkBytes) ==
              std::vector<std::size_t>{0});
  for (int i = 0; i < 10; ++i) add_hold(records, i, 10);
  BOOST_CHECK(cluster_entry_cuts(records, {{0, records.size()}}, cluster::kImportChunkBytes) ==
              std::vector<std::size_t>{records.size()});
}

BOOST_AUTO_TEST_CASE(nested_and_crossing_spans_join_touching_ones_stay_apart) {
  std::vector<RecordSpan> spans{{40, 60}, {0, 10}, {45, 50}, {10, 20}, {55, 70}, {80, 90}};
  join_overlapping_spans(spans);
  BOOST_CHECK((spans == std::vector<RecordSpan>{{0, 10}, {10, 20}, {40, 70}, {80, 90}}));
  std::vector<RecordSpan> none;
  join_overlapping_spans(none);
  BOOST_CHECK(none.empty());
}

// Regression: a waiting ACQUIREALL granted by an expiry (the engine's tick, outside any client
// command) was logged as loose holds, and a cut could fall between its keys: a leader lost
// between the parts left the new leader with some of the keys granted and not the others. The
// engine's mutation groups (Engine::mutation_groups) keep it in one part, as the server joins
// them with the commands' spans (Server::cluster_note_mutation_groups, cluster_write).
BOOST_AUTO_TEST_CASE(a_waiting_acquireall_granted_by_an_expiry_is_never_cut) {
  EngineLimits limits;
  limits.max_locks = 0;
  limits.max_memory_bytes = 0;
  Engine e(limits, 1);
  e.set_mutation_log(true);
  const std::string pad(100, 'x');
  // Holders expiring first (their drops fill most of a part), then the one the group waits for.
  for (int i = 0; i < 20; ++i) {
    AcquireRequest r;
    const std::string key = "e" + std::to_string(i) + pad;
    r.key = key;
    r.owner = "early";
    r.ttl = 50;
    BOOST_REQUIRE(e.acquire(r, 0).status == EngineStatus::kGranted);
  }
  const std::string blocked_key = "g0" + pad;
  AcquireRequest blocker;
  blocker.key = blocked_key;
  blocker.owner = "blocker";
  blocker.ttl = 60;
  BOOST_REQUIRE(e.acquire(blocker, 0).status == EngineStatus::kGranted);
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i) keys.push_back("g" + std::to_string(i) + pad);
  AcquireAllRequest group;
  group.keys.assign(keys.begin(), keys.end());
  group.owner = "o";
  group.ttl = 1000;
  group.wait = 5000;
  group.tag = 1;
  BOOST_REQUIRE(e.acquire_all(group, 0).status == EngineStatus::kQueued);
  e.take_mutations();

  e.tick(100);  // 21 drops, then the group's 60 holds
  BOOST_REQUIRE(e.take_events().size() == 1u);
  std::vector<RecordSpan> spans = e.mutation_groups();
  join_overlapping_spans(spans);
  const std::vector<Mutation> log = e.take_mutations();
  BOOST_REQUIRE(log.size() == 21u + 60u);
  // One record per mutation (as cluster_write encodes them); spans become record offsets.
  std::string records;
  std::vector<std::size_t> offset{0};
  for (const Mutation& m : log) {
    persist::Record r;
    r.type =
        m.kind == Mutation::Kind::kHold ? persist::RecordType::kHold : persist::RecordType::kDrop;
    r.key = m.key;
    r.owner = m.owner;
    r.fence = m.fence;
    r.wall_deadline_ms = 1'700'000'000'000;
    persist::encode_record(r, records);
    offset.push_back(records.size());
  }
  for (RecordSpan& sp : spans) sp = {offset[sp.first], offset[sp.second]};
  for (std::size_t i = 21; i < log.size(); ++i) BOOST_REQUIRE_EQUAL(log[i].owner, "o");
  const RecordSpan grant{offset[21], records.size()};  // the group's holds
  const std::size_t limit = 4096;
  BOOST_REQUIRE_LT(grant.first, limit);                 // a part would want to end inside it
  BOOST_REQUIRE_GT(grant.second - grant.first, limit);  // it alone passes the limit

  const std::vector<std::size_t> cuts = cluster_entry_cuts(records, spans, limit);
  BOOST_CHECK_EQUAL(cuts.back(), records.size());
  for (const std::size_t to : cuts) {
    BOOST_CHECK_MESSAGE(to <= grant.first || to >= grant.second,
                        "cut at " << to << " inside the group's holds [" << grant.first << ", "
                                  << grant.second << ")");
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
