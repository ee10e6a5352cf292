// Entry and snapshot codec: what a leader proposes decodes to the same records; damage is
// refused with the reason.
#include <boost/test/unit_test.hpp>

#include "cluster/entry.h"

namespace semlock::cluster {
namespace {

persist::Record hold(std::string key, std::string owner, std::uint64_t fence) {
  return persist::Record{persist::RecordType::kHold, std::move(key), std::move(owner), fence, 3,
                         1'700'000'000'000};
}

BOOST_AUTO_TEST_SUITE(entry)

BOOST_AUTO_TEST_CASE(entry_round_trip) {
  std::string data;
  begin_entry({7, 1234, 99}, data);
  persist::encode_record(hold("k", "o1", 97), data);
  persist::Record drop{persist::RecordType::kDrop, "k", "o0", 90, 1, 0};
  persist::encode_record(drop, data);
  const DecodedEntry e = decode_entry(data);
  BOOST_TEST(e.ok);
  BOOST_TEST(e.header.proposer == 7u);
  BOOST_TEST(e.header.seq == 1234u);
  BOOST_TEST(e.header.next_fence == 99u);
  BOOST_TEST(e.records.size() == 2u);
  BOOST_TEST(e.records[0].owner == "o1");
  BOOST_TEST(e.records[0].limit == 3u);
  BOOST_TEST(e.records[0].wall_deadline_ms == 1'700'000'000'000);
  BOOST_TEST((e.records[1].type == persist::RecordType::kDrop));
}

BOOST_AUTO_TEST_CASE(header_only_entry_has_no_records) {
  std::string data;
  begin_entry({1, 2, 3}, data);
  BOOST_TEST(data.size() == kEntryHeaderBytes);
  const DecodedEntry e = decode_entry(data);
  BOOST_TEST(e.ok);
  BOOST_TEST(e.records.empty());
}

BOOST_AUTO_TEST_CASE(bad_entries_are_refused) {
  BOOST_TEST(decode_entry("\x01\x02").error == "entry shorter than its header (2 bytes)");
  std::string v2;
  begin_entry({1, 2, 3}, v2);
  v2[0] = 2;
  BOOST_TEST(decode_entry(v2).error == "entry of unknown version 2");
  std::string damaged;
  begin_entry({1, 2, 3}, damaged);
  persist::encode_record(hold("k", "o", 5), damaged);
  damaged.back() ^= 0x55;
  const DecodedEntry d = decode_entry(damaged);
  BOOST_TEST(!d.ok);
  BOOST_TEST(d.error.starts_with("bad record at offset 25 of the entry: "));
  std::string cut;
  begin_entry({1, 2, 3}, cut);
  persist::encode_record(hold("k", "o", 5), cut);
  cut.pop_back();
  BOOST_TEST(decode_entry(cut).error.starts_with("bad record at offset 25 of the entry: "));
  std::string reservation;
  begin_entry({1, 2, 3}, reservation);
  persist::Record r;
  r.type = persist::RecordType::kFenceReservation;
  r.fence = 10;
  persist::encode_record(r, reservation);
  BOOST_TEST(decode_entry(reservation).error ==
             "fence reservation record in an entry at offset 25");
}

BOOST_AUTO_TEST_CASE(snapshot_round_trip) {
  std::string records;
  persist::encode_record(hold("a", "x", 10), records);
  persist::encode_record(hold("b", "y", 11), records);
  const std::string snap = encode_snapshot(records, 500);
  const DecodedSnapshot d = decode_snapshot(snap);
  BOOST_TEST(d.ok);
  BOOST_TEST(d.holds.size() == 2u);
  BOOST_TEST(d.holds[1].key == "b");
  BOOST_TEST(d.next_fence == 500u);
  const DecodedSnapshot empty = decode_snapshot(encode_snapshot("", 42));
  BOOST_TEST(empty.ok);
  BOOST_TEST(empty.holds.empty());
  BOOST_TEST(empty.next_fence == 42u);
}

BOOST_AUTO_TEST_CASE(bad_snapshots_are_refused) {
  BOOST_TEST(!decode_snapshot("").ok);
  BOOST_TEST(!decode_snapshot("garbage that is not a snapshot").ok);
  const std::string header_only = persist::file_header(persist::kSnapshotMagic);
  BOOST_TEST(decode_snapshot(header_only).error == "snapshot without its fence record");
  std::string with_drop;
  persist::encode_record(persist::Record{persist::RecordType::kDrop, "k", "o", 1, 1, 0}, with_drop);
  BOOST_TEST(decode_snapshot(header_only + with_drop).error ==
             "drop record in a snapshot at offset 16");
  std::string damaged = encode_snapshot("", 5);
  damaged.back() ^= 1;
  BOOST_TEST(decode_snapshot(damaged).error.starts_with("bad record at offset 16 of the snapshot"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::cluster
