// Cluster mode: a single node's journal imported by the founder of a new group (cluster/import.h).
//
// cluster_start() asks cluster_import_prepare() before the sidecar starts: with an empty Raft
// log, a journal in persistence.dir and a group of one, the journal is loaded (a journal that
// does not load refuses start-up, as on a single node) and `import-pending` is written to
// cluster.dir. Once this member is leader with everything committed applied, it proposes the
// import entry instead of starting to serve; applying that entry (as every member does) ends the
// import: the marker goes, `imported-into-cluster` is written to persistence.dir (so the journal
// is never imported twice), and the leader serves. The data keys come first in the entry (kData
// records, as a single node replays them). The holders keep their mode, hold count and
// NOTIFY mark; NOTIFY holders whose TTL ran out while the node was down get their `restart`
// notices here, as on a single node's restart.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "cluster/import.h"
#include "persistence/files.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/notify.h"
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
          {{"persistence_dir", journal_dir}, {"members", cc.members.size()}});
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
  // In entries of at most 4 MiB, applied as one (cluster/import_chunks.h): one Raft entry must
  // stay under etcd's WAL record limit (10 MiB), and a journal has no such bound. A fresh id per
  // load: a restart between chunks loads the journal again and starts over.
  std::random_device rd;
  cluster_import_id_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                       static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::microseconds>(wall).count());
  const std::string entry = cluster::encode_import_entry(imported);
  cluster_import_chunks_ = cluster::encode_import_chunks(entry, cluster_import_id_);
  cluster_import_pending_ = true;
  log::info("Cluster: importing the journal into the new group",
            {{"persistence_dir", journal_dir},
             {"holders", imported.holders.size()},
             {"data_records", imported.data_records.size()},
             {"expired_while_down", imported.dropped_expired},
             {"connection_lived", imported.lived},
             {"high_water_fence", imported.high_water},
             {"first_fence", imported.first_fence},
             {"bytes", entry.size()},
             {"entries", cluster_import_chunks_.size()}});
  // NOTIFY holders the downtime took: kept for late listeners of this member (the only one of
  // the group now), as a restarted single node keeps them (notify.cc).
  std::vector<LostNotice> lost;
  for (const persist::PersistedHolder& h : imported.lost_notify) {
    lost.push_back(LostNotice{h.key, h.owner, h.fence, LostReason::kRestart});
  }
  notify_after_restart(std::move(lost), now_ms());
  return true;
}

bool Server::cluster_import_blocks_serving() {
  if (!cluster_import_pending_) return false;
  // One chunk at a time: the one the group's log needs next (0 unless this load's chunks are
  // being put together), once the one proposed before it is applied, or again in a new term or
  // after a failed proposal (cluster_import_term_ 0).
  const std::uint64_t term = cluster_->status().term;
  const std::uint32_t next = cluster_import_assembler_.import_id() == cluster_import_id_
                                 ? cluster_import_assembler_.next()
                                 : 0;
  if (cluster_import_term_ == term && cluster_import_proposed_ == next) return true;  // in flight
  if (next >= cluster_import_chunks_.size()) return true;  // cannot be: all were applied
  cluster_import_term_ = term;
  cluster_import_proposed_ = next;
  cluster_->propose(0, cluster_import_chunks_[next]);
  return true;
}

bool Server::cluster_apply_import_chunk(const std::string& data, std::uint64_t index, Millis now,
                                        std::int64_t now_wall) {
  cluster::ImportChunk chunk;
  std::string error;
  if (!cluster::decode_import_chunk(data, chunk, error)) {
    log::error("Cluster: the committed entry at index " + std::to_string(index) +
               " does not decode (" + error + ")");
    return false;
  }
  std::string whole;
  if (cluster_import_assembler_.add(chunk, whole) != cluster::ImportAssembler::Step::kComplete) {
    return true;  // nothing is applied before the last chunk
  }
  // The whole import, applied as the single import entry of earlier builds is.
  return cluster_apply_data(whole, index, now, now_wall);
}

void Server::cluster_import_applied() {
  if (!cluster_import_pending_) return;  // another member's import, replicated
  cluster_import_pending_ = false;
  std::vector<std::string>().swap(cluster_import_chunks_);
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
            {{"holders", engine_->stats().holders},
             {"next_fence", engine_->stats().next_fence},
             {"applied_index", cluster_applied_}});
}

}  // namespace semlock
