// The record codec: round trips, every prefix is "truncated", and each kind of damage is named.
#include <boost/test/unit_test.hpp>

#include <utility>
#include <vector>

#include "persistence/record.h"

namespace semlock::persist {
namespace {

Record hold() {
  Record r;
  r.type = RecordType::kHold;
  r.key = "lock:orders";
  r.owner = "worker-7";
  r.fence = 1732700000123456ull;
  r.limit = 3;
  r.wall_deadline_ms = 1732700030000;
  return r;
}

void check_same(const Record& a, const Record& b) {
  BOOST_TEST(static_cast<int>(a.type) == static_cast<int>(b.type));
  BOOST_TEST(a.key == b.key);
  BOOST_TEST(a.owner == b.owner);
  BOOST_TEST(a.fence == b.fence);
  BOOST_TEST(a.limit == b.limit);
  BOOST_TEST(a.wall_deadline_ms == b.wall_deadline_ms);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(record)

BOOST_AUTO_TEST_CASE(format_3_carries_the_notify_flag_and_the_drop_reason) {
  Record marked = hold();
  marked.notify = true;
  Record drop;
  drop.type = RecordType::kDrop;
  drop.key = "k";
  drop.owner = "o";
  drop.fence = 9;
  drop.reason = 2;  // forced
  for (const Record& r : {marked, drop, hold()}) {
    std::string bytes;
    encode_record(r, bytes);
    const DecodeResult d = decode_record(bytes);
    BOOST_TEST_REQUIRE(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kOk));
    check_same(d.record, r);
    BOOST_TEST(d.record.notify == r.notify);
    BOOST_TEST(d.record.reason == r.reason);
  }
  // An unflagged record is byte for byte what format 2 wrote; a NOTIFY hold carries format 3's
  // tail (flags 2, hold count 1), a NOTIFY drop its reason byte.
  std::string plain, flagged, both;
  encode_record(hold(), plain);
  encode_record(marked, flagged);
  BOOST_TEST(flagged.size() == plain.size() + 5);
  BOOST_TEST(flagged.substr(flagged.size() - 5) == std::string("\x02\x01\0\0\0", 5));
  Record reader = marked;
  reader.shared = true;
  reader.holds = 3;
  encode_record(reader, both);
  const DecodeResult d = decode_record(both);
  BOOST_TEST((d.record.notify && d.record.shared && d.record.holds == 3u));
  // Regression: a reason past the engine's LostReason values (a corrupt or newer record) is
  // refused here; it once reached a per-reason counter array as an index.
  Record odd = drop;
  odd.reason = 5;
  std::string odd_bytes;
  encode_record(odd, odd_bytes);
  const DecodeResult bad = decode_record(odd_bytes);
  BOOST_TEST(static_cast<int>(bad.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(bad.error == "unknown lost-lock reason 5");
}

BOOST_AUTO_TEST_CASE(crc32c_matches_the_standard_check_value) {
  BOOST_TEST(crc32c("123456789") == 0xE3069283u);
  BOOST_TEST(crc32c("") == 0u);
}

BOOST_AUTO_TEST_CASE(every_type_round_trips) {
  Record drop;
  drop.type = RecordType::kDrop;
  drop.key = std::string(600, 'k');
  drop.owner = std::string(128, 'o');
  drop.fence = 42;
  drop.limit = 1;
  Record reservation;
  reservation.type = RecordType::kFenceReservation;
  reservation.fence = ~std::uint64_t{0};
  reservation.limit = 1;
  Record lived = drop;  // connection-lived mark: laid out as a drop
  lived.type = RecordType::kLived;
  for (const Record& r : {hold(), drop, reservation, lived}) {
    std::string bytes;
    encode_record(r, bytes);
    const DecodeResult d = decode_record(bytes + "trailing");
    BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kOk));
    BOOST_TEST(d.consumed == bytes.size());
    check_same(d.record, r);
  }
}

BOOST_AUTO_TEST_CASE(every_prefix_is_truncated) {
  std::string bytes;
  encode_record(hold(), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const DecodeResult d = decode_record(std::string_view(bytes).substr(0, n));
    BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kTruncated));
    BOOST_TEST(d.error == (n < 12 ? "record header cut short" : "record cut short"));
  }
}

BOOST_AUTO_TEST_CASE(a_flipped_payload_byte_is_a_checksum_mismatch) {
  std::string bytes;
  encode_record(hold(), bytes);
  bytes[12] = static_cast<char>(bytes[12] ^ 0x01);
  const DecodeResult d = decode_record(bytes);
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "checksum mismatch");
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A format-2 frame header whose own check is right, for any length and payload CRC.
std::string frame_header(std::uint32_t length, std::uint32_t payload_crc) {
  std::string out;
  put_u32(out, length);
  put_u32(out, payload_crc);
  put_u32(out, crc32c(out));
  return out;
}

BOOST_AUTO_TEST_CASE(bad_lengths_are_named) {
  DecodeResult d = decode_record(frame_header(0, 0) + std::string(8, '\0'));
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "bad record length 0");
  d = decode_record(frame_header(0x7fffffff, 0));
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "bad record length 2147483647");
  // Format 1 had no check of its own on the length.
  const std::string huge("\xff\xff\xff\x7f\0\0\0\0", 8);
  d = decode_record(huge, kLegacyFormatVersion);
  BOOST_TEST(d.error == "bad record length 2147483647");
}

// Issue 11 #6: one flipped bit anywhere in a length field is damage, never a frame that seems to
// run past the end of the file (which a reader would take for a torn tail).
BOOST_AUTO_TEST_CASE(a_flipped_length_bit_fails_the_frame_header_check) {
  std::string bytes;
  encode_record(hold(), bytes);
  for (int bit = 0; bit < 32; ++bit) {
    std::string damaged = bytes;
    damaged[static_cast<std::size_t>(bit / 8)] ^= static_cast<char>(1 << (bit % 8));
    const DecodeResult d = decode_record(damaged);
    BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
    BOOST_TEST(d.error == "record header checksum mismatch");
    BOOST_TEST(!d.header_ok);
  }
}

BOOST_AUTO_TEST_CASE(format_1_frames_still_decode) {
  std::string bytes;
  encode_record_v1(hold(), bytes);
  const DecodeResult d = decode_record(bytes, kLegacyFormatVersion);
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kOk));
  BOOST_TEST(d.consumed == bytes.size());
  check_same(d.record, hold());
  std::string v2;
  encode_record(hold(), v2);
  BOOST_TEST(v2.size() == bytes.size() + 4);
}

BOOST_AUTO_TEST_CASE(file_headers_name_magic_version_and_damage) {
  const std::string journal = file_header(kJournalMagic);
  BOOST_TEST(journal.size() == kFileHeaderBytes);
  BOOST_TEST(journal.substr(0, 12) == std::string("SEMLJRNL\x03\0\0\0", 12));
  FileHeader h = read_journal_header(journal + "records");
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kOk));
  BOOST_TEST(h.version == 3u);
  BOOST_TEST(h.bytes == 16u);
  h = read_journal_header(file_header(kJournalMagic, 4));
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kUnknown));
  BOOST_TEST(h.error == "unknown format version 4 (this build reads 1 to 3)");
  std::string damaged = journal;
  damaged[9] ^= 0x10;
  h = read_journal_header(damaged);
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kDamaged));
  BOOST_TEST(h.error == "file header checksum mismatch");
  // A journal being created when the machine stopped: part of a header, or zeros.
  for (std::size_t n = 1; n < kFileHeaderBytes; ++n) {
    h = read_journal_header(std::string_view(journal).substr(0, n));
    BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kTorn));
  }
  h = read_journal_header(std::string(100, '\0'));
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kTorn));
  // No header: a format-1 journal.
  std::string v1;
  encode_record_v1(hold(), v1);
  h = read_journal_header(v1);
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kLegacy));
  BOOST_TEST(h.version == 1u);
  BOOST_TEST(h.bytes == 0u);
  // Snapshots: format 2, format 1's magic, anything else.
  h = read_snapshot_header(file_header(kSnapshotMagic));
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kOk));
  h = read_snapshot_header("SEMLSNP1" + v1);
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kOk));
  BOOST_TEST(h.version == 1u);
  BOOST_TEST(h.bytes == 8u);
  h = read_snapshot_header(journal);
  BOOST_TEST(static_cast<int>(h.status) == static_cast<int>(FileHeader::Status::kDamaged));
  BOOST_TEST(h.error == "not a SEMLSNAP file header");
}

// RFC 3720 B.4 vectors and the usual check value, on both implementations; then both agree on
// every length and alignment the hardware loop splits differently (8-byte words, byte tail).
BOOST_AUTO_TEST_CASE(crc32c_table_and_hardware_agree_on_known_vectors) {
  std::string inc;
  std::string dec;
  for (int i = 0; i < 32; ++i) {
    inc.push_back(static_cast<char>(i));
    dec.push_back(static_cast<char>(31 - i));
  }
  const std::vector<std::pair<std::string, std::uint32_t>> vectors = {
      {"", 0u},
      {"123456789", 0xE3069283u},
      {std::string(32, '\0'), 0x8A9136AAu},
      {std::string(32, '\xff'), 0x62A8AB43u},
      {inc, 0x46DD794Eu},
      {dec, 0x113FDB5Cu},
  };
  BOOST_TEST_MESSAGE("SSE4.2 crc32: " << (crc32c_hardware_available() ? "yes" : "no"));
  for (const auto& [data, want] : vectors) {
    BOOST_TEST(crc32c_table(data) == want);
    BOOST_TEST(crc32c(data) == want);
    if (crc32c_hardware_available()) BOOST_TEST(crc32c_hardware(data) == want);
  }
  std::string buf;
  std::uint32_t x = 12345;
  for (int i = 0; i < 1100; ++i) {
    x = x * 1103515245u + 12345u;
    buf.push_back(static_cast<char>(x >> 16));
  }
  for (std::size_t off = 0; off < 9; ++off) {
    for (std::size_t len = 0; len < 1024; len += (len < 40 ? 1 : 37)) {
      const std::string_view v = std::string_view(buf).substr(off, len);
      const std::uint32_t t = crc32c_table(v);
      BOOST_TEST(crc32c(v) == t);
      if (crc32c_hardware_available()) BOOST_TEST(crc32c_hardware(v) == t);
    }
  }
}

// A frame with a valid CRC around a payload that does not parse.
std::string frame(std::string_view payload) {
  return frame_header(static_cast<std::uint32_t>(payload.size()), crc32c(payload)) +
         std::string(payload);
}

BOOST_AUTO_TEST_CASE(unknown_types_and_malformed_payloads_are_corrupt) {
  DecodeResult d = decode_record(frame(std::string("\x09", 1) + std::string(8, '\0')));
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "unknown record type 9");
  // A drop whose key length runs past the payload.
  d = decode_record(frame(std::string("\x02", 1) + std::string(8, '\0') + "\x10\x00ab"));
  BOOST_TEST(d.error == "malformed record payload");
  // A reservation with bytes left over.
  d = decode_record(frame(std::string("\x03", 1) + std::string(9, '\0')));
  BOOST_TEST(d.error == "malformed record payload");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock::persist
