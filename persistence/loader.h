// Start-up: the snapshot, then the journal replayed on top of it, into a set of holders.
//
// Damage policy for the journal: a torn tail is cut off with a warning — the data ends inside a
// record whose frame header checks out, or nothing but zeros follows a bad frame header (or a
// bad payload), as a crash leaves it. Anything else bad (a frame header failing its check with
// data after it, a bad payload followed by data) is refused with the file and offset, unless
// `repair` is set, which cuts the journal there (losing what follows). Format-1 journals, whose
// lengths had no check of their own, keep the old rule: a bad frame whose declared end reaches
// the end of the file is a torn tail. A damaged snapshot is always refused: it is only ever
// replaced by an fsynced rename, so damage there is not a crash artefact. A file header naming
// an unknown format version refuses start-up, with or without `repair`.
//
// The restored state never has more holders on a key than its limit, nor holders of one key
// recorded with different limits (readers of a shared key, any number of them, are within its
// limit while they are all readers): such a state is refused naming the key, or with `repair` the
// lowest fences (up to the limit of the key's lowest fence) are kept and the rest dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "persistence/record.h"

namespace semlock::persist {

struct PersistedHolder {
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  std::uint32_t limit = 1;
  std::int64_t wall_deadline_ms = 0;
  bool shared = false;      // a reader (format 3)
  std::uint32_t holds = 1;  // reentrant hold count (format 3)
  bool notify = false;  // marked NOTIFY (format 3)
  bool lived = false;   // connection-lived when last journaled (format 3, flag 4)
};

// Records applied in order: kHold sets the (key, owner) holder, kDrop removes it, a fence
// reservation raises the reserved mark. Also the highest fence any record named.
class ReplayState {
 public:
  void apply(const Record& r);
  // Holders whose wall deadline is after `now_wall_ms`, sorted by fence (grant order).
  std::vector<PersistedHolder> live_holders(std::int64_t now_wall_ms) const;
  // The NOTIFY holders whose wall deadline is not after `now_wall_ms` (lost to the downtime).
  std::vector<PersistedHolder> expired_notify_holders(std::int64_t now_wall_ms) const;
  std::uint64_t max_fence() const { return max_fence_; }
  std::uint64_t reserved_fence() const { return reserved_fence_; }
  std::size_t size() const { return holders_.size(); }
  // Data records (kData), in order, to replay through the engine (engine/data.h). Their
  // operations are not all idempotent (list pushes and pops), so a journal the snapshot already
  // contains must not replay them twice: a snapshot and the journal started with it carry the
  // same "epoch" record; a journal with an older epoch (or none) than the snapshot's has its data
  // records skipped (its holder records replay harmlessly, as before).
  void begin_file(bool snapshot);
  std::vector<Record>& data_records() { return data_; }

 private:
  // Keyed by holder_id(key, owner); the key and owner are cut back out for live_holders().
  struct Stored {
    std::uint64_t fence = 0;
    std::int64_t wall_deadline_ms = 0;
    std::uint32_t limit = 1;
    std::uint32_t key_bytes = 0;
    bool shared = false;
    std::uint32_t holds = 1;
    bool notify = false;
    bool lived = false;
  };
  absl::flat_hash_map<std::string, Stored> holders_;
  std::uint64_t max_fence_ = 0;
  std::uint64_t reserved_fence_ = 0;
  std::vector<Record> data_;
  bool in_snapshot_ = false;
  bool skip_data_ = false;
  std::uint64_t snapshot_epoch_ = 0;
};

struct JournalScan {
  bool ok = true;                 // false: refused (damage before the end, no repair)
  std::uint64_t valid_bytes = 0;  // where the good records end: the journal is cut here
  std::uint64_t records = 0;
  std::uint32_t version = kFormatVersion;  // the file's format (1: no header)
  std::vector<std::string> warnings;
  std::string error;  // when !ok: names the file and the offset
};

// Applies the good records of `data` (the contents of the journal at `path`, named in texts) to
// `state`, following the damage policy above.
JournalScan scan_journal(const std::string& path, std::string_view data, bool repair,
                         ReplayState& state);

struct LoadResult {
  bool ok = true;
  std::string error;  // names the file and offset
  std::vector<std::string> warnings;
  std::vector<PersistedHolder> holders;   // live at now_wall_ms
  std::vector<Record> data_records;       // kData records to replay, in order
  std::uint64_t max_fence = 0;            // highest fence in the files
  std::uint64_t reserved_fence = 0;       // highest reservation in the files
  std::uint64_t journal_valid_bytes = 0;  // open the journal cut to this
  std::uint64_t dropped_expired = 0;      // holders whose TTL ran out while the server was down
  std::vector<PersistedHolder> lost_notify;  // ... those of them marked NOTIFY
  bool journal_prev = false;              // dir/journal.prev was there (and loaded)
  std::vector<std::string> legacy_files;  // files in format 1 (paths)
  // With `repair`: holders dropped because their key was over its limit. The caller journals
  // their drops, so the repair holds across the next restart.
  std::vector<PersistedHolder> repaired_drops;
  // The files should be rewritten (a snapshot of `holders`, a fresh journal, journal.prev
  // removed) before anything is appended: a format-1 journal cannot take format-2 records, and a
  // journal.prev left by a snapshot that did not finish must not be overwritten by the next one.
  // A format-2 file is rewritten too, so that its header says 3 before a reader's record (format
  // 3's optional tail) is appended: a format-2 build must refuse the file, not misread it.
  bool format2_files = false;
  bool needs_rewrite() const { return journal_prev || !legacy_files.empty() || format2_files; }
};

// Checks `holders` (sorted by fence) against their keys' limits, as described above. Returns
// the error (naming the first key over its limit) or "" when the state is valid or repaired;
// with `repair`, removes the extra holders from `holders` into `dropped` with a warning each.
std::string check_limits(std::vector<PersistedHolder>& holders, bool repair,
                         std::vector<PersistedHolder>& dropped, std::vector<std::string>& warnings);

// Reads dir/snapshot.dat, dir/journal.prev and dir/journal.log, each if present, in that order.
// Missing files are an empty state.
LoadResult load_directory(const std::string& dir, std::int64_t now_wall_ms, bool repair);

}  // namespace semlock::persist
