#include "cluster/import.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "persistence/fence_reservation.h"
#include "persistence/files.h"

namespace semlock::cluster {
namespace {

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

bool raft_log_is_empty(const std::string& cluster_dir) {
  DIR* d = ::opendir(persist::join_path(cluster_dir, "wal").c_str());
  if (d == nullptr) return true;
  bool empty = true;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

bool journal_to_import(const std::string& persistence_dir) {
  if (persistence_dir.empty()) return false;
  if (file_exists(persist::join_path(persistence_dir, kImportedMarkerName))) return false;
  for (const char* name : {persist::kJournalName, persist::kJournalPrevName,
                           persist::kSnapshotName}) {
    if (file_exists(persist::join_path(persistence_dir, name))) return true;
  }
  return false;
}

JournalImport load_journal_for_import(const std::string& persistence_dir,
                                      std::int64_t now_wall_ms, std::uint64_t now_wall_us) {
  JournalImport out;
  persist::LoadResult loaded = persist::load_directory(persistence_dir, now_wall_ms, false);
  out.warnings = std::move(loaded.warnings);
  if (!loaded.ok) {
    out.error = std::move(loaded.error);
    return out;
  }
  out.ok = true;
  out.holders = std::move(loaded.holders);
  // A message (cluster pub/sub) is not state: only the data keys' operations are imported.
  for (persist::Record& r : loaded.data_records) {
    if (r.data.size() == 3 && r.data[0] == "publish") continue;
    out.data_records.push_back(std::move(r));
  }
  out.lived = static_cast<std::uint64_t>(std::count_if(
      out.holders.begin(), out.holders.end(),
      [](const persist::PersistedHolder& h) { return h.lived; }));
  out.dropped_expired = loaded.dropped_expired;
  out.lost_notify = std::move(loaded.lost_notify);
  out.high_water = std::max(loaded.max_fence, loaded.reserved_fence);
  out.first_fence =
      persist::FenceReservation::first_fence(loaded.reserved_fence, loaded.max_fence, now_wall_us);
  return out;
}

std::string encode_import_entry(const JournalImport& imported) {
  std::string data;
  begin_entry({kImportProposer, 0, imported.first_fence}, data);
  // Data keys first, as Server::restore_data runs before the holders on a single node.
  for (const persist::Record& r : imported.data_records) persist::encode_record(r, data);
  for (const persist::PersistedHolder& h : imported.holders) {
    persist::encode_record(persist::Record{persist::RecordType::kHold, h.key, h.owner, h.fence,
                                           h.limit, h.wall_deadline_ms, {}, h.shared, h.holds,
                                           h.notify},
                           data);
    if (h.lived) {  // applied after its holder (server/cluster_glue.cc: Engine::end_lived)
      persist::encode_record(persist::Record{persist::RecordType::kLived, h.key, h.owner, h.fence},
                             data);
    }
  }
  return data;
}

}  // namespace semlock::cluster
