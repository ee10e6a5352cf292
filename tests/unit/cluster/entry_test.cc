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
  std::string v0;
  begin_entry({1, 2, 3}, v0);
  v0[0] = 0;
  BOOST_TEST(decode_entry(v0).error == "entry of unknown version 0");
  BOOST_TEST(!decode_entry(v0).newer);
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

// Regression: the entries gained format-3 tails and kLived records without a new version, so a
// build that predates them could not tell such an entry from one it reads. Entries are version 2
// now; version 1 entries (what every build wrote before) still read, tails and all.
BOOST_AUTO_TEST_CASE(entries_are_version_2) {
  std::string data;
  begin_entry({1, 2, 3}, data);
  BOOST_TEST(int(data[0]) == 2);
  BOOST_TEST(decode_entry(data).ok);
  BOOST_TEST(int(decode_entry(data).version) == 2);
}

namespace {
void le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
// A format-2 frame around `payload`, built by hand (record.h: length, payload CRC, header CRC).
std::string frame(const std::string& payload) {
  std::string out;
  le(out, payload.size(), 4);
  le(out, persist::crc32c(payload), 4);
  le(out, persist::crc32c(out), 4);
  return out + payload;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_hand_built_version_1_entry_still_reads) {
  // Header: version 1, proposer 7, seq 9, next fence 1000.
  std::string v1("\x01", 1);
  le(v1, 7, 8);
  le(v1, 9, 8);
  le(v1, 1000, 8);
  // kHold: fence 900, deadline 1,700,000,000,000, limit 2, key "k", owner "ab".
  std::string hold("\x01", 1);
  le(hold, 900, 8);
  le(hold, 1'700'000'000'000, 8);
  le(hold, 2, 4);
  hold += std::string("\x01\x00k\x02" "ab", 6);
  // The same holder with a format-3 tail (shared + NOTIFY, 3 holds), as builds wrote into
  // version-1 entries before the bump; then its kLived mark and a NOTIFY drop (reason 2).
  std::string tailed = hold + std::string("\x03\x03\x00\x00\x00", 5);
  std::string lived("\x05", 1);
  le(lived, 900, 8);
  lived += std::string("\x01\x00k\x02" "ab", 6);
  std::string drop("\x02", 1);
  le(drop, 900, 8);
  drop += std::string("\x01\x00k\x02" "ab\x02", 7);
  v1 += frame(hold) + frame(tailed) + frame(lived) + frame(drop);
  const DecodedEntry e = decode_entry(v1);
  BOOST_TEST_REQUIRE(e.ok, e.error);
  BOOST_TEST(int(e.version) == 1);
  BOOST_TEST(e.header.proposer == 7u);
  BOOST_TEST(e.header.seq == 9u);
  BOOST_TEST(e.header.next_fence == 1000u);
  BOOST_TEST_REQUIRE(e.records.size() == 4u);
  BOOST_TEST(e.records[0].key == "k");
  BOOST_TEST(e.records[0].owner == "ab");
  BOOST_TEST(e.records[0].fence == 900u);
  BOOST_TEST(e.records[0].limit == 2u);
  BOOST_TEST(e.records[0].wall_deadline_ms == 1'700'000'000'000);
  BOOST_TEST(!e.records[0].shared);
  BOOST_TEST(e.records[1].shared);
  BOOST_TEST(e.records[1].notify);
  BOOST_TEST(e.records[1].holds == 3u);
  BOOST_TEST((e.records[2].type == persist::RecordType::kLived));
  BOOST_TEST((e.records[3].type == persist::RecordType::kDrop));
  BOOST_TEST(int(e.records[3].reason) == 2);
}

// An entry of a version this build does not know is a clear refusal, not a guess.
BOOST_AUTO_TEST_CASE(a_newer_version_is_refused_clearly) {
  std::string v3;
  begin_entry({1, 2, 3}, v3);
  persist::encode_record(hold("k", "o", 5), v3);
  v3[0] = 3;
  const DecodedEntry e = decode_entry(v3);
  BOOST_TEST(!e.ok);
  BOOST_TEST(e.newer);
  BOOST_TEST(e.records.empty());
  BOOST_TEST(e.error ==
             "entry version 3 was written by a newer ttl-semlock (this build reads versions 1 to "
             "2)");
  BOOST_TEST(entry_refusal(e, 42) ==
             "Cluster: the committed entry at index 42 does not decode (entry version 3 was "
             "written by a newer ttl-semlock (this build reads versions 1 to 2)); this member "
             "cannot follow the group's log and stops: upgrade it to the version the leader runs "
             "(upgrade every member before the leader)");
  std::string damaged;
  begin_entry({1, 2, 3}, damaged);
  damaged += "xyz";
  const DecodedEntry d = decode_entry(damaged);
  BOOST_TEST(!d.newer);
  BOOST_TEST(entry_refusal(d, 7).find("stops") == std::string::npos);
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

// Data keys travel in snapshots as kData records, in order, next to the holders.
BOOST_AUTO_TEST_CASE(snapshot_carries_data_keys) {
  std::string records;
  persist::encode_record(hold("a", "x", 10), records);
  persist::Record hset;
  hset.type = persist::RecordType::kData;
  hset.key = "h";
  hset.data = {"hset", "f", "v"};
  persist::encode_record(hset, records);
  persist::Record expire = hset;
  expire.data = {"expire"};
  expire.wall_deadline_ms = 1'700'000'000'123;
  persist::encode_record(expire, records);
  const DecodedSnapshot d = decode_snapshot(encode_snapshot(records, 77));
  BOOST_TEST(d.ok);
  BOOST_TEST(d.holds.size() == 1u);
  BOOST_TEST_REQUIRE(d.data.size() == 2u);
  BOOST_TEST(d.data[0].key == "h");
  BOOST_TEST((d.data[0].data == std::vector<std::string>{"hset", "f", "v"}));
  BOOST_TEST((d.data[1].data == std::vector<std::string>{"expire"}));
  BOOST_TEST(d.data[1].wall_deadline_ms == 1'700'000'000'123);
  BOOST_TEST(d.next_fence == 77u);
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
