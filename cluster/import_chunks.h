// A journal import in several Raft entries, applied as one (cluster/import.h has the import).
//
// Why: one Raft entry must stay small. etcd 3.4's WAL refuses to read back a record of 10 MiB or
// more (wal: max entry size limit exceeded), so a member that had logged a larger entry could not
// restart; the server's frames to its sidecar stop at 256 MiB. A single node's journal has no
// such bound: with limits.max_locks 0 or limits.max_memory_mb up to 2^40 MiB its live state,
// hence the import, is as large as memory allows (at the defaults, 100,000 holders with 512-byte
// keys and 128-byte owners: about 68 MiB, already past the WAL's limit in one entry).
//
// How: the import's records (the bytes of the former single import entry after its header) are
// cut into chunks of at most kImportChunkBytes, each the data of one entry of version 3:
//   u8 version (3), u64 proposer (0: the import), u64 seq (0), u64 next fence (the group's first
//   fence), u64 import id, u32 chunk index, u32 chunk count, then the chunk's bytes.
// The import id is drawn anew each time the founder loads the journal, so a restart between
// chunks (which loads it again: holders may have expired meanwhile) never mixes two loads.
// Every member applies nothing until it has the last chunk of one import in order (chunk 0
// starts an import, chunk i follows chunk i-1 of the same id, anything else is ignored); then the
// whole import is applied at once, as the single entry was. Chunks of an import already applied
// are ignored. The founder proposes one chunk at a time (the next once the previous is applied,
// so Raft's bound on uncommitted entries is never reached) and serves only after the last.
// A build that reads entries up to version 2 refuses a chunk by its version (it must be upgraded
// to follow such a log). A single-entry import (version 2, proposer 0) written by an older build
// is still applied as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/entry.h"

namespace semlock::cluster {

inline constexpr std::uint8_t kImportChunkVersion = 3;
inline constexpr std::size_t kImportChunkBytes = 4u << 20;
inline constexpr std::size_t kImportChunkHeaderBytes = kEntryHeaderBytes + 8 + 4 + 4;

// True when an entry's data is an import chunk (its version byte).
inline bool is_import_chunk(std::string_view data) {
  return !data.empty() && static_cast<std::uint8_t>(data[0]) == kImportChunkVersion;
}

// `entry`: a whole import entry (encode_import_entry). Its records in chunks of at most
// `chunk_bytes` (at least one chunk, also for no records).
std::vector<std::string> encode_import_chunks(std::string_view entry, std::uint64_t import_id,
                                              std::size_t chunk_bytes = kImportChunkBytes);

struct ImportChunk {
  EntryHeader header;
  std::uint64_t import_id = 0;
  std::uint32_t index = 0;
  std::uint32_t count = 0;
  std::string_view bytes;  // a view into the entry's data
};
// False (and `error`) when `data` is not a well-formed chunk.
bool decode_import_chunk(std::string_view data, ImportChunk& out, std::string& error);

// Puts the chunks of an import back together, in log order (every member the same way).
class ImportAssembler {
 public:
  enum class Step : std::uint8_t { kIgnored, kStored, kComplete };
  // kComplete: `entry` is the whole import entry (header + every record), ready for
  // decode_entry, and the import is done (its chunks are ignored from now on).
  Step add(const ImportChunk& chunk, std::string& entry);
  std::uint64_t import_id() const { return id_; }
  // The index of the chunk the import in progress needs next (0: none in progress).
  std::uint32_t next() const { return next_; }

 private:
  std::uint64_t id_ = 0;
  std::uint32_t next_ = 0;
  std::uint32_t count_ = 0;
  EntryHeader header_{};
  std::string records_;
  std::vector<std::uint64_t> done_;  // imports applied (one, unless a log holds odd history)
};

}  // namespace semlock::cluster
