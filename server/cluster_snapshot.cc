// Cluster mode: engine snapshots for Raft log compaction (SPEC §9), taken without pausing the
// loop: a forked child writes the engine as it stood at the fork.
//
// When: every cluster.snapshot_entries applied entries, at the end of a loop iteration right
// after its entry was proposed (Server::cluster_check), so nothing of the engine is unproposed.
// - Nothing in flight (a follower, an idle leader): the engine is the state at the applied
//   index; the snapshot is that index.
// - A leader under load always has entries in flight. Its engine is then the state after all of
//   them: the snapshot is the state at the index where the newest of them commits (only this
//   leader proposes while it serves; Raft's no-op and membership entries do not change the
//   engine). That index is learned when the entry comes back committed; the snapshot is handed
//   to the sidecar once both the child has written it and the index is known.
// - Leadership lost before that entry commits (it may never): the snapshot is abandoned and its
//   file deleted.
// What: every holder and every data key (hashes, sorted sets, lists, counters, with their
// expiries), so a member that installs it (caught up by snapshot, or restarting) serves both.
// The file is dir/engine-<applied at fork>-<n>.snap; SNAPSHOT_TAKEN tells the sidecar its index,
// and the sidecar deletes the file once stored.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "cluster/entry.h"
#include "engine/data.h"
#include "persistence/files.h"
#include "persistence/record.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/server.h"
#include "server/snapshot_child.h"

namespace semlock {

void Server::cluster_housekeeping() {
  if (!cluster_) return;
  cluster_reap_snapshot();
}

void Server::cluster_maybe_snapshot() {
  if (cluster_snapshot_child_ > 0 || cluster_snapshot_written_) return;
  if (cluster_applied_since_snapshot_ < config_.cluster.snapshot_entries) return;
  if (engine_->has_mutations() || cluster_entry_seq_ != 0) return;  // not proposed yet
  // An import part-collected lives only in memory (cluster/import_chunks.h) until its last chunk
  // is applied: a snapshot now would cover its first chunks without their records, and a
  // member restarted from it would replay the last chunks alone and never have the import.
  if (cluster_import_assembler_.next() != 0) return;
  const bool in_flight = !cluster_proposed_.empty();
  static std::uint64_t taken = 0;
  const std::string path = persist::join_path(
      config_.cluster.dir,
      ("engine-" + std::to_string(cluster_applied_) + "-" + std::to_string(++taken) + ".snap")
          .c_str());
  const Millis now = now_ms();
  const std::int64_t now_wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  const pid_t server_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log::warn(std::string("Cluster: cannot fork a snapshot writer: ") + std::strerror(errno));
    return;
  }
  if (pid == 0) {
    detach_snapshot_child(server_pid);
    std::string records;
    engine_->for_each_holder([&](const HolderView& h) {
      persist::Record r{persist::RecordType::kHold, std::string(h.key), std::string(h.owner),
                        h.fence, h.limit, now_wall + (h.deadline - now), {}, h.shared, h.holds};
      r.notify = engine_->notify_marked(h.fence);  // format 3: the NOTIFY mark travels
      persist::encode_record(r, records);
      if (engine_->is_lived(h.fence)) {  // connection-lived (session_lock.cc)
        persist::encode_record(persist::Record{persist::RecordType::kLived, std::string(h.key),
                                               std::string(h.owner), h.fence},
                               records);
      }
    });
    // Data keys (engine/data.h), each as the operations that create it; no journal epoch: a
    // Raft snapshot is a whole state, never followed by a journal.
    engine_->data().for_each_key(
        [&](std::string_view key, const std::vector<std::string>& op, Millis deadline) {
          Mutation m;
          m.kind = Mutation::Kind::kData;
          m.key = std::string(key);
          m.data = op;
          m.deadline = deadline;
          encode_data_mutation(m, now, now_wall, records);
        });
    const std::string bytes = cluster::encode_snapshot(records, engine_->stats().next_fence);
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    bool ok = f != nullptr && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (f != nullptr) ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
    if (f != nullptr) std::fclose(f);
    ok = ok && std::rename(tmp.c_str(), path.c_str()) == 0;
    ::_exit(ok ? 0 : 1);
  }
  cluster_snapshot_child_ = pid;
  cluster_snapshot_path_ = path;
  cluster_snapshot_abandoned_ = false;
  cluster_snapshot_written_ = false;
  cluster_snapshot_index_known_ = !in_flight;
  cluster_snapshot_child_index_ = in_flight ? 0 : cluster_applied_;
  cluster_snapshot_wait_seq_ = in_flight ? cluster_proposed_.back().seq : 0;
  cluster_applied_since_snapshot_ = 0;
}

void Server::cluster_snapshot_on_own_entry(std::uint64_t seq, std::uint64_t index) {
  if (cluster_snapshot_wait_seq_ == 0 || seq != cluster_snapshot_wait_seq_) return;
  cluster_snapshot_wait_seq_ = 0;
  cluster_snapshot_child_index_ = index;
  cluster_snapshot_index_known_ = true;
  cluster_snapshot_send_if_ready();
}

void Server::cluster_reap_snapshot() {
  if (cluster_snapshot_child_ <= 0) return;
  int status = 0;
  const pid_t r = ::waitpid(cluster_snapshot_child_, &status, WNOHANG);
  if (r == 0) return;
  cluster_snapshot_child_ = 0;
  if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    log::warn("Cluster: snapshot writer failed", {{"path", cluster_snapshot_path_}});
    std::remove(cluster_snapshot_path_.c_str());
    cluster_snapshot_wait_seq_ = 0;
    cluster_snapshot_index_known_ = false;
    return;
  }
  if (cluster_snapshot_abandoned_) {
    std::remove(cluster_snapshot_path_.c_str());
    cluster_snapshot_abandoned_ = false;
    return;
  }
  cluster_snapshot_written_ = true;
  cluster_snapshot_send_if_ready();
}

void Server::cluster_snapshot_send_if_ready() {
  if (!cluster_snapshot_written_ || !cluster_snapshot_index_known_) return;
  cluster_snapshot_written_ = false;
  cluster_snapshot_index_known_ = false;
  cluster_snapshot_index_ = cluster_snapshot_child_index_;
  cluster_->send_snapshot_taken(cluster_snapshot_child_index_, cluster_snapshot_path_);
  log::info("Cluster: snapshot written", {{"index", cluster_snapshot_child_index_},
                                          {"path", cluster_snapshot_path_}});
}

void Server::cluster_snapshot_abandon() {
  // A snapshot whose index is known is the committed state at that index: it stays valid.
  if (cluster_snapshot_index_known_ || cluster_snapshot_wait_seq_ == 0) return;
  cluster_snapshot_wait_seq_ = 0;
  if (cluster_snapshot_child_ > 0) {
    cluster_snapshot_abandoned_ = true;  // deleted when reaped
  } else if (cluster_snapshot_written_) {
    cluster_snapshot_written_ = false;
    std::remove(cluster_snapshot_path_.c_str());
  }
}

}  // namespace semlock
