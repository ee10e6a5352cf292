// The record codec: round trips, every prefix is "truncated", and each kind of damage is named.
#include <boost/test/unit_test.hpp>

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
  for (const Record& r : {hold(), drop, reservation}) {
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
    BOOST_TEST(d.error == (n < 8 ? "record header cut short" : "record cut short"));
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

BOOST_AUTO_TEST_CASE(bad_lengths_are_named) {
  const std::string zero(16, '\0');
  DecodeResult d = decode_record(zero);
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "bad record length 0");
  const std::string huge("\xff\xff\xff\x7f\0\0\0\0", 8);
  d = decode_record(huge);
  BOOST_TEST(static_cast<int>(d.status) == static_cast<int>(DecodeStatus::kCorrupt));
  BOOST_TEST(d.error == "bad record length 2147483647");
}

// A frame with a valid CRC around a payload that does not parse.
std::string frame(std::string_view payload) {
  std::string out;
  const std::uint32_t len = static_cast<std::uint32_t>(payload.size());
  const std::uint32_t crc = crc32c(payload);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  out.append(payload);
  return out;
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
