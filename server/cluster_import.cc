// Cluster mode: a single node's journal imported by the founder of a new group (cluster/import.h).
//
// cluster_start() asks cluster_import_prepare() before the sidecar starts: with an empty Raft
// log, a journal in persistence.dir and a group of one, the journal is loaded (a journal that
// does not load refuses start-up, as on a single node) and `import-pending` is written to
// cluster.dir. Once this member is leader with everything committed applied, it proposes the
// import entry instead of starting to serve; applying that entry (as every member does) ends the
// import: the marker goes, `imported-into-cluster` is written to persistence.dir (so the journal
// is never imported twice), and the leader serves.
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cluster/import.h"
#include "persistence/files.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace {

bool exists(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::fclose(f);
  return true;
}

// A small file, synced with its directory. 0 or errno.
int write_marker(const std::string& dir, const char* name, const std::string& text) {
  const std::string path = persist::join_path(dir, name);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return errno;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
  const int err = ok ? 0 : errno;
  std::fclose(f);
  if (err != 0) return err;
  return persist::sync_directory(dir);
}

}  // namespace

bool Server::cluster_import_prepare() {
  const config::ClusterConfig& cc = config_.cluster;
  const std::string& journal_dir = config_.persistence.dir;
  const bool resumed = exists(persist::join_path(cc.dir, cluster::kImportPendingName));
  if (!resumed) {
    if (!cluster::raft_log_is_empty(cc.dir) || !cluster::journal_to_import(journal_dir)) {
      return true;
    }
    if (cc.members.size() != 1) {
      log::warn(
          "Cluster: the journal in persistence.dir is not imported: only the founder of a group "
          "of one imports it (start it alone with cluster.members naming only itself, then add "
          "members)",
          {{"persistence_dir", journal_dir}, {"members", std::to_string(cc.members.size())}});
      return true;
    }
  }
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  cluster::JournalImport imported = cluster::load_journal_for_import(
      journal_dir, std::chrono::duration_cast<std::chrono::milliseconds>(wall).count(),
      static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(wall).count()));
  for (const std::string& w : imported.warnings) log::warn(w);
  if (!imported.ok) {
    log::error("Cluster: cannot import the journal: " + imported.error +
               "; refusing to start (repair it on a single node first: --repair-journal)");
    return false;
  }
  if (!resumed) {
    if (const int rc = write_marker(cc.dir, cluster::kImportPendingName, journal_dir + "\n");
        rc != 0) {
      log::error("Cluster: cannot write " + persist::join_path(cc.dir, cluster::kImportPendingName) +
                 ": " + std::strerror(rc));
      return false;
    }
  }
  log::info("Cluster: importing the journal into the new group",
            {{"persistence_dir", journal_dir},
             {"holders", std::to_string(imported.holders.size())},
             {"expired_while_down", std::to_string(imported.dropped_expired)},
             {"high_water_fence", std::to_string(imported.high_water)},
             {"first_fence", std::to_string(imported.first_fence)}});
  cluster_import_entry_ = cluster::encode_import_entry(imported);
  cluster_import_pending_ = true;
  return true;
}

bool Server::cluster_import_blocks_serving() {
  if (!cluster_import_pending_) return false;
  const std::uint64_t term = cluster_->status().term;
  if (cluster_import_term_ != term) {
    cluster_import_term_ = term;
    cluster_->propose(0, cluster_import_entry_);
  }
  return true;
}

void Server::cluster_import_applied() {
  if (!cluster_import_pending_) return;  // another member's import, replicated
  cluster_import_pending_ = false;
  cluster_import_entry_.clear();
  cluster_import_entry_.shrink_to_fit();
  const config::ClusterConfig& cc = config_.cluster;
  const std::string& journal_dir = config_.persistence.dir;
  if (const int rc =
          write_marker(journal_dir, cluster::kImportedMarkerName,
                       "imported into cluster member " + std::to_string(cc.node_id) + "\n");
      rc != 0) {
    log::warn("Cluster: cannot mark the journal imported (it would be imported again by a "
              "founder with an empty cluster.dir)",
              {{"persistence_dir", journal_dir}, {"error", std::strerror(rc)}});
  }
  std::remove(persist::join_path(cc.dir, cluster::kImportPendingName).c_str());
  persist::sync_directory(cc.dir);
  log::info("Cluster: journal imported",
            {{"holders", std::to_string(engine_->stats().holders)},
             {"next_fence", std::to_string(engine_->stats().next_fence)},
             {"applied_index", std::to_string(cluster_applied_)}});
}

}  // namespace semlock
