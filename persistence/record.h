// The on-disk record of the journal and the snapshot, and the files' headers.
//
// Format 3 (written since read-write, reentrant and NOTIFY holds): format 2, where a kHold
//   payload may end in two more fields, for a reader, a reentrant, a NOTIFY or a connection-lived
//   holder only: flags u8 (1 = shared, 2 = NOTIFY, 4 = connection-lived), holds u32; and a kDrop
//   payload may end in a reason u8 (engine
//   LostReason: why a NOTIFY holder went; absent = its owner's release). A plain holder's records
//   are byte for byte format 2's; the version says a tail may follow. Flag 4 came later inside
//   format 3: a holder that was journaled and then bound to its connection (`0 SESSION` on a key
//   the owner holds) is journaled again with it, so that a restart or a cluster import knows its
//   connection is gone. A build that predates flag 4 ignores it and restores the holder with the
//   deadline it had (its limits.max_ttl cap), as it would have written it itself.
// Format 2 (docs/PERSISTENCE.md has the full layout):
//   File header (16 bytes): magic (8: "SEMLJRNL" journal, "SEMLSNAP" snapshot), u32 format
//   version (2), u32 CRC-32C of the 12 bytes before it.
//   Frame: [u32 payload length][u32 CRC-32C of the payload][u32 CRC-32C of the 8 bytes before it]
//   [payload], little-endian. The frame header's own check tells a damaged length (refused) from
//   a record cut short by a crash (a torn tail); the payload CRC tells a torn or damaged payload.
// Format 1 (read only): no journal header (records from byte 0); snapshots start with
//   "SEMLSNP1"; frames are [u32 payload length][u32 CRC-32C of the payload][payload].
// Payload (both formats): a type byte, then the fields of that type:
//   kHold:  fence u64, wall deadline i64 (Unix ms), limit u32, key (u16 length + bytes),
//           owner (u8 length + bytes)
//   kDrop:  fence u64, key, owner
//   kFenceReservation: fence u64 — no fence above it has been handed out
//   kData:  fence u64 (0), wall deadline i64 (an "expire" operation's), key (u16 length + bytes),
//           u32 argument count, then each argument (u32 length + bytes): a data key's change
//           (engine/data.h names the operations)
// Deadlines are wall-clock Unix milliseconds: the monotonic clock restarts with the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace semlock::persist {

// kLived (5): fence, key, owner as kDrop; the holder is connection-lived. It travels only in
// cluster entries and cluster engine snapshots, never in the journal or its snapshot (a SESSION
// holder is never journaled), so the journal format does not change for it.
enum class RecordType : std::uint8_t {
  kHold = 1,
  kDrop = 2,
  kFenceReservation = 3,
  kData = 4,
  kLived = 5
};

struct Record {
  RecordType type = RecordType::kHold;
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  std::uint32_t limit = 1;            // kHold
  std::int64_t wall_deadline_ms = 0;  // kHold, kData
  std::vector<std::string> data{};    // kData: the operation and its arguments
  bool shared = false;                // kHold (format 3): a reader
  std::uint32_t holds = 1;            // kHold (format 3): the reentrant hold count
  bool notify = false;                // kHold (format 3): marked NOTIFY
  bool lived = false;                 // kHold (format 3, flag 4): connection-lived
  std::uint8_t reason = 0;            // kDrop (format 3): LostReason of a NOTIFY holder's drop
};

// The version this build writes; it reads 1, 2 and 3.
inline constexpr std::uint32_t kFormatVersion = 3;
inline constexpr std::uint32_t kFormat2Version = 2;
inline constexpr std::uint32_t kLegacyFormatVersion = 1;

inline constexpr std::size_t kFrameHeaderBytes = 12;       // format 2
inline constexpr std::size_t kLegacyFrameHeaderBytes = 8;  // format 1
// Largest valid payload: type + fence + deadline + limit + a 65,535-byte key + a 255-byte owner.
inline constexpr std::size_t kMaxPayloadBytes = 1 + 8 + 8 + 4 + 2 + 65535 + 1 + 255 + 1 + 4;
// Format 2 also carries kData records, whose values may be larger (a frame header has its own
// check there, so a damaged length is still told apart).
inline constexpr std::size_t kMaxDataPayloadBytes = 64u * 1024 * 1024;

// File headers (format 2).
inline constexpr std::size_t kFileHeaderBytes = 16;
inline constexpr std::string_view kJournalMagic = "SEMLJRNL";
inline constexpr std::string_view kSnapshotMagic = "SEMLSNAP";
// Format 1 snapshots start with this (and nothing else: the records follow).
inline constexpr std::string_view kLegacySnapshotMagic = "SEMLSNP1";
// Every magic starts with this; a format-1 journal never does (its first length would be
// 0x4C4D4553, far over kMaxPayloadBytes).
inline constexpr std::string_view kMagicPrefix = "SEML";

// The 16-byte header of a file with `magic` in format `version`.
std::string file_header(std::string_view magic, std::uint32_t version = kFormatVersion);

struct FileHeader {
  enum class Status : std::uint8_t {
    kLegacy,   // no header: a format-1 journal (records from byte 0)
    kOk,       // a good header; `version` and `bytes` (where the records start) are set
    kTorn,     // shorter than a header, and a prefix of one (or zeros): a new file cut short
    kDamaged,  // starts like a header but its check fails, or an unknown magic
    kUnknown,  // a good header naming a version this build cannot read
  } status = Status::kLegacy;
  std::uint32_t version = kLegacyFormatVersion;
  std::size_t bytes = 0;
  std::string error;  // kDamaged / kUnknown: what was wrong
};

// Reads the header of a journal file (`magic` = kJournalMagic). An empty file is kOk with no
// header bytes (version kFormatVersion).
FileHeader read_journal_header(std::string_view data);
// Reads the header of a snapshot file: format 2, or format 1's kLegacySnapshotMagic (kOk with
// version 1, bytes 8). Anything else is kDamaged or kUnknown.
FileHeader read_snapshot_header(std::string_view data);

// CRC-32C (Castagnoli), as iSCSI and ext4 use it. Uses the SSE4.2 crc32 instruction when the CPU
// has it (chosen once, at run time), else slicing-by-8 tables.
std::uint32_t crc32c(std::string_view data);
// The two implementations, for tests and benchmarks: same results on every input.
std::uint32_t crc32c_table(std::string_view data);
std::uint32_t crc32c_hardware(std::string_view data);  // only when crc32c_hardware_available()
bool crc32c_hardware_available();

// Appends the framed record (format 2) to `out`. Keys over 65,535 and owners over 255 bytes are
// cut (the engine never holds such).
void encode_record(const Record& record, std::string& out);
// Format 1 framing, kept for tests of the legacy reader.
void encode_record_v1(const Record& record, std::string& out);

enum class DecodeStatus : std::uint8_t {
  kOk,         // `record` holds the record, `consumed` its frame size
  kTruncated,  // the data ends inside the frame: a torn last record, or more bytes to come
  kCorrupt,    // bad frame header, bad length, bad CRC or a payload that does not parse
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kOk;
  std::size_t consumed = 0;
  // kCorrupt only: the frame header checked out (format 2: its own CRC; format 1: a plausible
  // length), so `frame_bytes` is where the frame ends; the damage is in the payload.
  bool header_ok = false;
  std::size_t frame_bytes = 0;
  Record record;
  std::string error;  // for kCorrupt / kTruncated: what was wrong
};

// Decodes the first frame of `data` in format `version` (1 or 2). Never reads past `data`.
DecodeResult decode_record(std::string_view data, std::uint32_t version = kFormatVersion);

}  // namespace semlock::persist
