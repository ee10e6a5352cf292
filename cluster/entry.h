// The data of a Raft entry the server proposes, and the engine snapshot it hands to Raft.
//
// Entry (one per loop iteration of the leader: group commit):
//   u8 version (2), u64 proposer id, u64 proposer sequence, u64 next fence, then the batch's
//   records, framed as the journal frames them (persistence/record.h: kHold and kDrop, wall
//   deadlines in Unix ms). The proposer header lets a leader recognise its own entries when they
//   commit; the next fence replicates the fencing counter (applying raises it to at least this).
//   Empty data is Raft's own no-op entry and carries nothing.
// Versions: 2 says the records may carry what read-write, reentrant, NOTIFY and connection-lived
//   holds added (format 3's kHold flags and hold count, a kDrop's lost-lock reason, kLived
//   records). A build that reads only version 1 refuses such an entry by its version instead of
//   misreading it. Version 1 entries still read (the same decoder: the builds that wrote tails
//   into version-1 entries left those logs behind). A version above kEntryVersion was written by
//   a newer build: decode_entry says so (DecodedEntry::newer) and the member stops following
//   the log rather than guess.
// Snapshot: the snapshot file format of persistence (header "SEMLSNAP", format 2) with the live
//   holders as kHold records, the data keys as kData records (each key as the operations that
//   create it, engine/data.h), and one kFenceReservation record holding next fence - 1.
//   Snapshots written before data keys were replicated have no kData records: they read as a
//   state without data keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/record.h"

namespace semlock::cluster {

inline constexpr std::uint8_t kEntryVersion = 2;
inline constexpr std::uint8_t kOldestEntryVersion = 1;
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
  bool newer = false;  // !ok because a newer build wrote it (version above kEntryVersion)
  std::uint8_t version = 0;
  EntryHeader header;
  std::vector<persist::Record> records;
};
// Decodes an entry's data (not empty). Every record must decode; kFenceReservation is refused.
DecodedEntry decode_entry(std::string_view data);
// What a member logs when the committed entry at `index` does not decode (`e.ok` false). For a
// newer version it says that this member stops and must be upgraded.
std::string entry_refusal(const DecodedEntry& e, std::uint64_t index);

// A snapshot's bytes: `records` (framed kHold and kData records) after the file header, then
// the fence record.
std::string encode_snapshot(std::string_view records, std::uint64_t next_fence);

struct DecodedSnapshot {
  bool ok = false;
  std::string error;
  std::vector<persist::Record> holds;
  std::vector<persist::Record> data;  // kData records, in their order
  std::uint64_t next_fence = 0;
};
DecodedSnapshot decode_snapshot(std::string_view data);

}  // namespace semlock::cluster
