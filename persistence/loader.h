// Start-up: the snapshot, then the journal replayed on top of it, into a set of holders.
//
// Damage policy for the journal: a torn last record (cut short, or bad where the file ends, or a
// zero-filled tail as some filesystems leave after a crash) is cut off with a warning; a bad
// record followed by other data is refused with the file and offset, unless `repair` is set,
// which cuts the journal there (losing what follows). A damaged snapshot is always refused: it
// is only ever replaced by an fsynced rename, so damage there is not a crash artefact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "persistence/record.h"

namespace semlock::persist {

struct PersistedHolder {
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  std::uint32_t limit = 1;
  std::int64_t wall_deadline_ms = 0;
};

// Records applied in order: kHold sets the (key, owner) holder, kDrop removes it, a fence
// reservation raises the reserved mark. Also the highest fence any record named.
class ReplayState {
 public:
  void apply(const Record& r);
  // Holders whose wall deadline is after `now_wall_ms`, sorted by fence (grant order).
  std::vector<PersistedHolder> live_holders(std::int64_t now_wall_ms) const;
  std::uint64_t max_fence() const { return max_fence_; }
  std::uint64_t reserved_fence() const { return reserved_fence_; }
  std::size_t size() const { return holders_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, PersistedHolder> holders_;
  std::uint64_t max_fence_ = 0;
  std::uint64_t reserved_fence_ = 0;
};

struct JournalScan {
  bool ok = true;                 // false: refused (damage before the end, no repair)
  std::uint64_t valid_bytes = 0;  // where the good records end: the journal is cut here
  std::uint64_t records = 0;
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
  std::uint64_t max_fence = 0;            // highest fence in the files
  std::uint64_t reserved_fence = 0;       // highest reservation in the files
  std::uint64_t journal_valid_bytes = 0;  // open the journal cut to this
  std::uint64_t dropped_expired = 0;      // holders whose TTL ran out while the server was down
};

// Reads dir/snapshot.dat, dir/journal.prev and dir/journal.log, each if present, in that order.
// Missing files are an empty state.
LoadResult load_directory(const std::string& dir, std::int64_t now_wall_ms, bool repair);

}  // namespace semlock::persist
