// A single node's journal becoming a cluster (SPEC §9): the founder of a new group imports the
// state of its persistence directory as the group's first entry.
//
// When: the member's cluster.dir holds no Raft log yet, persistence.dir holds a journal or a
// snapshot (journal.log, journal.prev, snapshot.dat), and that directory has not been imported
// before (no `imported-into-cluster` marker in it). Only a group of one imports: start the
// former single node alone (cluster.members naming only itself), then add members.
//
// How: the journal is loaded as a single node loads it (holders whose TTL ran out while the
// node was down are gone); its data keys travel as the kData records the single node replays
// (applied first, with their wall-clock expiry, exactly as a restart restores them); the live
// holders become kHold records (with their format-3 state: shared mode, reentrant hold count,
// NOTIFY mark; a connection-lived holder with its kLived record: its connection went with the
// single node, so the founder, serving, makes it a plain holder with the election timeout
// left, as after a failover) of one entry whose header names proposer 0 (no member has id 0)
// and the group's first fence: max(Unix time in µs, the journal's high-water mark + 1), so
// fences never go down. Every member applies that entry like
// any other, so the imported state is replicated state from then on. Until it is committed the
// founder does not serve writes; `import-pending` in cluster.dir survives a crash in between
// (a restarted founder proposes it again unless the replayed log already holds it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/entry.h"
#include "persistence/loader.h"

namespace semlock::cluster {

inline constexpr std::uint64_t kImportProposer = 0;
inline constexpr const char* kImportPendingName = "import-pending";  // in cluster.dir
inline constexpr const char* kImportedMarkerName = "imported-into-cluster";  // in persistence.dir

inline bool is_import_entry(const EntryHeader& h) {
  return h.proposer == kImportProposer;
}

// True when `cluster_dir` has no Raft log (its wal/ is missing or empty).
bool raft_log_is_empty(const std::string& cluster_dir);
// True when `persistence_dir` holds a journal or a snapshot not imported before.
bool journal_to_import(const std::string& persistence_dir);

struct JournalImport {
  bool ok = false;
  std::string error;  // names the file and offset when the journal does not load
  std::vector<std::string> warnings;
  std::vector<persist::PersistedHolder> holders;  // live at the load, in fence order
  std::uint64_t high_water = 0;                   // highest fence named or reserved
  std::uint64_t first_fence = 0;  // max(unix_us, high_water + 1)
  std::uint64_t dropped_expired = 0;
  // NOTIFY holders among those: the founder keeps their `restart` notices for late listeners,
  // as a restarted single node does (server/notify.cc).
  std::vector<persist::PersistedHolder> lost_notify;
  std::uint64_t lived = 0;  // connection-lived holders among `holders`
  // The data keys (counters, strings, hashes, sorted sets, lists) as the kData records a single
  // node replays at start-up (persistence/loader.h), in order, with their wall deadlines.
  std::vector<persist::Record> data_records;
};
// Loads `persistence_dir` (without repairing anything; a damaged journal is an error).
JournalImport load_journal_for_import(const std::string& persistence_dir,
                                      std::int64_t now_wall_ms, std::uint64_t now_wall_us);

// The data of the import entry: the data records first (as a single node restores them, so a
// key that was data and is now a held lock ends as the lock), then the holders.
std::string encode_import_entry(const JournalImport& imported);

}  // namespace semlock::cluster
