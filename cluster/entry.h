// The data of a Raft entry the server proposes, and the engine snapshot it hands to Raft.
//
// Entry (one per loop iteration of the leader: group commit):
//   u8 version (1), u64 proposer id, u64 proposer sequence, u64 next fence, then the batch's
//   records, framed as the journal frames them (persistence/record.h: kHold and kDrop, wall
//   deadlines in Unix ms). The proposer header lets a leader recognise its own entries when they
//   commit; the next fence replicates the fencing counter (applying raises it to at least this).
//   Empty data is Raft's own no-op entry and carries nothing.
// Snapshot: the snapshot file format of persistence (header "SEMLSNAP", format 2) with the live
//   holders as kHold records and one kFenceReservation record holding next fence - 1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/record.h"

namespace semlock::cluster {

inline constexpr std::uint8_t kEntryVersion = 1;
inline constexpr std::size_t kEntryHeaderBytes = 1 + 8 + 8 + 8;

struct EntryHeader {
  std::uint64_t proposer = 0;
  std::uint64_t seq = 0;
  std::uint64_t next_fence = 0;
};

// Appends the header; append framed records (persist::encode_record) after it.
void begin_entry(const EntryHeader& header, std::string& out);

struct DecodedEntry {
  bool ok = false;
  std::string error;  // when !ok
  EntryHeader header;
  std::vector<persist::Record> records;
};
// Decodes an entry's data (not empty). Every record must decode; kFenceReservation is refused.
DecodedEntry decode_entry(std::string_view data);

// A snapshot's bytes: `records` (framed kHold records) after the file header, then the fence
// record.
std::string encode_snapshot(std::string_view records, std::uint64_t next_fence);

struct DecodedSnapshot {
  bool ok = false;
  std::string error;
  std::vector<persist::Record> holds;
  std::uint64_t next_fence = 0;
};
DecodedSnapshot decode_snapshot(std::string_view data);

}  // namespace semlock::cluster
