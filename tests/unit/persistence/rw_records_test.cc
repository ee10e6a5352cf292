// Format 3: a reader's or reentrant holder's hold record carries its mode and hold count; plain
// holders' records are format 2's bytes; format-2 directories are marked for a rewrite; readers
// of one key are within its limit, a writer beside them is not.
#include <boost/test/unit_test.hpp>

#include "persistence/files.h"
#include "persistence/loader.h"
#include "tests/unit/persistence/helpers.h"

namespace semlock::persist {
namespace {

using test::TempDir;
using test::write_file;

constexpr std::int64_t kFar = 4102444800000;  // 2100-01-01

Record hold(std::string owner, std::uint64_t fence, bool shared, std::uint32_t holds) {
  Record r;
  r.type = RecordType::kHold;
  r.key = "k";
  r.owner = std::move(owner);
  r.fence = fence;
  r.limit = 1;
  r.wall_deadline_ms = kFar;
  r.shared = shared;
  r.holds = holds;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rw_records)

BOOST_AUTO_TEST_CASE(mode_and_count_round_trip_and_plain_records_keep_format_2_bytes) {
  std::string plain, reader, counted;
  encode_record(hold("a", 1, false, 1), plain);
  encode_record(hold("a", 1, true, 1), reader);
  encode_record(hold("a", 1, false, 7), counted);
  BOOST_TEST(reader.size() == plain.size() + 5);  // flags u8 + holds u32
  BOOST_TEST(counted.size() == plain.size() + 5);
  DecodeResult d = decode_record(plain);
  BOOST_TEST((d.status == DecodeStatus::kOk));
  BOOST_TEST(!d.record.shared);
  BOOST_TEST(d.record.holds == 1u);
  d = decode_record(reader);
  BOOST_TEST((d.status == DecodeStatus::kOk));
  BOOST_TEST(d.record.shared);
  BOOST_TEST(d.record.holds == 1u);
  d = decode_record(counted);
  BOOST_TEST(!d.record.shared);
  BOOST_TEST(d.record.holds == 7u);
  // A plain hold record reads the same in format 2.
  d = decode_record(plain, 2);
  BOOST_TEST((d.status == DecodeStatus::kOk));
  BOOST_TEST(d.record.owner == "a");
}

BOOST_AUTO_TEST_CASE(readers_restore_and_a_format_2_directory_is_rewritten) {
  TempDir dir;
  std::string j = file_header(kJournalMagic);
  encode_record(hold("r1", 1, true, 1), j);
  encode_record(hold("r2", 2, true, 3), j);
  encode_record(hold("r2", 2, true, 2), j);  // one release of three holds
  write_file(dir.file(kJournalName), j);
  LoadResult r = load_directory(dir.path, 0, false);
  BOOST_TEST_REQUIRE(r.ok, r.error);
  BOOST_TEST_REQUIRE(r.holders.size() == 2u);
  BOOST_TEST(r.holders[0].shared);
  BOOST_TEST(r.holders[1].shared);
  BOOST_TEST(r.holders[1].holds == 2u);
  BOOST_TEST(!r.needs_rewrite());

  // A writer beside readers is over the key's limit: refused, or repaired to the lowest fence.
  encode_record(hold("w", 3, false, 1), j);
  write_file(dir.file(kJournalName), j);
  r = load_directory(dir.path, 0, false);
  BOOST_TEST(!r.ok);
  r = load_directory(dir.path, 0, true);
  BOOST_TEST_REQUIRE(r.ok, r.error);
  BOOST_TEST(r.holders.size() == 1u);
  BOOST_TEST(r.repaired_drops.size() == 2u);

  // Format 2: loaded as it is, then rewritten in format 3.
  std::string j2 = file_header(kJournalMagic, 2);
  encode_record(hold("a", 1, false, 1), j2);
  write_file(dir.file(kJournalName), j2);
  r = load_directory(dir.path, 0, false);
  BOOST_TEST_REQUIRE(r.ok, r.error);
  BOOST_TEST(r.holders.size() == 1u);
  BOOST_TEST(r.format2_files);
  BOOST_TEST(r.needs_rewrite());
}

// Flag 4: a holder journaled again when it became connection-lived; the replay keeps the mark
// (the restart and a cluster import decide what it means), and a later plain record ends it.
BOOST_AUTO_TEST_CASE(the_connection_lived_flag_round_trips_and_a_later_record_ends_it) {
  Record lived = hold("a", 1, false, 1);
  lived.lived = true;
  std::string bytes;
  encode_record(lived, bytes);
  DecodeResult d = decode_record(bytes);
  BOOST_TEST_REQUIRE((d.status == DecodeStatus::kOk));
  BOOST_TEST(d.record.lived);
  BOOST_TEST(!d.record.shared);
  BOOST_TEST(!d.record.notify);
  ReplayState state;
  state.apply(d.record);
  BOOST_TEST_REQUIRE(state.live_holders(0).size() == 1u);
  BOOST_TEST(state.live_holders(0)[0].lived);
  state.apply(hold("a", 1, false, 1));
  BOOST_TEST(!state.live_holders(0)[0].lived);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::persist
