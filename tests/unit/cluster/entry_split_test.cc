// Cutting a large cluster entry (server/cluster_split.h): parts stay under the 4 MiB limit, but a
// cut never falls inside the records of one client command (an EXEC, an EVAL, an ACQUIREALL):
// a part committed without the next ones must not leave half a command applied.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "cluster/import_chunks.h"
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

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
