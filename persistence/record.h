// The on-disk record of the journal and the snapshot.
//
// Frame: [u32 payload length][u32 CRC-32C of the payload][payload], little-endian. The CRC tells
// a torn or damaged record from a good one; the length lets a reader skip to the next frame.
// Payload: a type byte, then the fields of that type:
//   kHold:  fence u64, wall deadline i64 (Unix ms), limit u32, key (u16 length + bytes),
//           owner (u8 length + bytes)
//   kDrop:  fence u64, key, owner
//   kFenceReservation: fence u64 — no fence above it has been handed out
// Deadlines are wall-clock Unix milliseconds: the monotonic clock restarts with the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace semlock::persist {

enum class RecordType : std::uint8_t { kHold = 1, kDrop = 2, kFenceReservation = 3 };

struct Record {
  RecordType type = RecordType::kHold;
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  std::uint32_t limit = 1;            // kHold
  std::int64_t wall_deadline_ms = 0;  // kHold
};

inline constexpr std::size_t kFrameHeaderBytes = 8;
// Largest valid payload: type + fence + deadline + limit + a 65,535-byte key + a 255-byte owner.
inline constexpr std::size_t kMaxPayloadBytes = 1 + 8 + 8 + 4 + 2 + 65535 + 1 + 255;

// CRC-32C (Castagnoli), as iSCSI and ext4 use it.
std::uint32_t crc32c(std::string_view data);

// Appends the framed record to `out`. Keys over 65,535 and owners over 255 bytes are cut (the
// engine never holds such).
void encode_record(const Record& record, std::string& out);

enum class DecodeStatus : std::uint8_t {
  kOk,         // `record` holds the record, `consumed` its frame size
  kTruncated,  // the data ends inside the frame: a torn last record, or more bytes to come
  kCorrupt,    // bad length, bad CRC or a payload that does not parse
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kOk;
  std::size_t consumed = 0;
  Record record;
  std::string error;  // for kCorrupt / kTruncated: what was wrong
};

// Decodes the first frame of `data`. Never reads past `data`.
DecodeResult decode_record(std::string_view data);

}  // namespace semlock::persist
