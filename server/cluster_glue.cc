// Cluster mode in the loop (SPEC §9): effect replication through the commit pipeline.
//
// Happy path (leader): the engine runs as on one node; the mutations of a loop iteration become
// ONE Raft entry (ClusterSink, group commit) and the replies of that iteration are held until
// the entry comes back committed in ENTRIES. Followers apply committed entries to their engine
// (holds and drops, as the journal loader replays them) and never expire on their own clock;
// only the serving leader ticks the engine, so expiry is a proposal like any other change.
//
// Becoming leader: a member that the sidecar reports as leader serves only once it has applied
// an entry of its own term (Raft's no-op), so it holds every committed entry; it then extends
// every deadline by the election timeout (proposed as one entry): a TTL is a lower bound across
// a failover. Until then writes answer CLUSTERDOWN.
//
// Failure modes:
// - Leadership lost with batches pending (Raft may drop them): every held connection is closed
//   unanswered (never acknowledged), blocked waiters are answered CLUSTERDOWN, and the engine is
//   rebuilt from committed state (RESYNC). SESSION bindings are dropped with it (their holders
//   keep their TTL).
// - An entry that does not decode, or an apply that the engine refuses: logged, and the member
//   rebuilds from committed state (RESYNC) rather than serve from a state it cannot vouch for.
// - The sidecar dies or its socket closes: the server exits 1 (ClusterNode).
//
// Snapshots: every cluster.snapshot_entries applied entries, at a moment when nothing is pending
// (so the engine is exactly the state at the applied index, even on a leader), a forked child
// writes the engine to dir/engine-<index>.snap and the sidecar is told (SNAPSHOT_TAKEN).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "cluster/entry.h"
#include "persistence/files.h"
#include "persistence/record.h"
#include "redis-compat/errors.h"
#include "server/cluster_metrics.h"
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace {

std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t wall_us_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

const char* role_name(ClusterRole r) {
  switch (r) {
    case ClusterRole::kLeader:
      return "leader";
    case ClusterRole::kCandidate:
      return "candidate";
    case ClusterRole::kFollower:
      break;
  }
  return "follower";
}

}  // namespace

// Raft as the commit pipeline's sink: every batch with mutations is one proposal; its replies
// wait for the entry to commit. A member that is not serving discards what its engine logged
// (applying drops, lazy expiry on reads): that is committed state already, not news.
class ClusterSink final : public CommitSink {
 public:
  explicit ClusterSink(Server& server) : server_(server) {}
  bool holds_replies() const override { return true; }
  Result write(std::vector<Mutation>& mutations, std::uint64_t seq) override {
    return server_.cluster_write(mutations, seq);
  }

 private:
  Server& server_;
};

bool Server::cluster_start() {
  const config::ClusterConfig& cc = config_.cluster;
  if (const int rc = persist::ensure_directory(cc.dir); rc != 0) {
    log::error("Cannot create cluster.dir " + cc.dir + ": " + std::strerror(rc));
    return false;
  }
  cluster_ = std::make_unique<ClusterNode>(*this, loop_, cc);
  cluster_metrics_ = std::make_unique<ClusterMetrics>(metrics_.registry());
  cluster_sink_ = std::make_unique<ClusterSink>(*this);
  // Batch numbers of this process start at the Unix time in µs, so an entry proposed by an
  // earlier run of this member is never taken for one of ours.
  pipeline_.set_first_seq(wall_us_now());
  pipeline_.set_sink(cluster_sink_.get());
  cluster_reset_engine();
  uv_check_init(loop_, &cluster_check_);
  cluster_check_.data = this;
  uv_check_start(&cluster_check_, cluster_check_cb);
  cluster_check_started_ = true;
  cluster_resync_sent_ms_ = now_ms();  // start() sends the first RESYNC
  if (!cluster_->start(now_ms())) return false;
  return true;
}

void Server::cluster_stop() {
  if (!cluster_) return;
  // Shutting down: what is still in flight may never be heard of again; never acknowledged.
  if (pipeline_.has_pending()) pipeline_.fail_all();
  cluster_->stop();
  if (cluster_check_started_) {
    cluster_check_started_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&cluster_check_), nullptr);
  }
}

void Server::cluster_reset_engine() {
  // Fences handed out by the old engine (speculative ones included) are never reused.
  const std::uint64_t first = std::max(wall_us_now(), engine_->stats().next_fence);
  engine_ = std::make_unique<Engine>(engine_limits_for(config_), first);
  engine_->tick(now_ms());  // the wheels' cursor at the present, before holders are restored
  engine_->set_mutation_log(true);
  cluster_applied_ = 0;
  cluster_applied_term_ = 0;
  cluster_applied_since_snapshot_ = 0;
  cluster_proposed_.clear();
  cluster_entry_records_.clear();
  cluster_entry_seq_ = 0;
}

bool Server::cluster_refuses_writes() const {
  return cluster_ && !cluster_->serving();
}

void Server::cluster_step_down(const std::string& why) {
  const bool serving = cluster_->serving();
  cluster_->set_serving(false);
  if (cluster_metrics_) cluster_metrics_->leader->Set(0);
  if (serving || pipeline_.has_pending()) {
    log::warn("Cluster: no longer serving as leader (" + why +
                  "); pending batches fail, the engine is rebuilt from committed state",
              {{"pending_batches", std::to_string(pipeline_.pending_batches())}});
  }
  if (cluster_metrics_) {
    cluster_metrics_->failed_proposals->Increment(static_cast<double>(pipeline_.pending_batches()));
  }
  pipeline_.fail_all();
  engine_->take_mutations();
  // Waiters and SESSION bindings lived on the old engine: blocked clients are answered
  // CLUSTERDOWN (they retry and reach the new leader); session holders keep their TTL on the
  // committed side, the bindings are dropped.
  std::vector<Connection*> blocked;
  for (auto& [id, c] : connections_) {
    c->sessions.clear();
    c->undelivered_grants.clear();
    if (c->blocked && !c->closed) blocked.push_back(c);
  }
  for (Connection* c : blocked) {
    auto it = waits_.find(c->wait_tag);
    if (it == waits_.end()) {
      close_connection(*c);
      continue;
    }
    const PendingWait pw = std::move(it->second);
    waits_.erase(it);
    answer_wait_error(*c, pw, errors::kClusterDown);
    flush(*c);
  }
  waits_.clear();
  engine_->take_events();
  cluster_->fail_waiting(why);
  cluster_reset_engine();
  cluster_->send_resync();
  cluster_resync_sent_ms_ = now_ms();
}

CommitSink::Result Server::cluster_write(std::vector<Mutation>& mutations, std::uint64_t seq) {
  if (mutations.empty()) return CommitSink::Result::kDurable;
  if (!cluster_->serving()) {
    mutations.clear();
    return CommitSink::Result::kDurable;
  }
  // Appended to the entry being built; the entry is proposed once per loop iteration
  // (cluster_check_cb), so the batches of every connection read in one iteration share one
  // Raft entry. Its header names the newest batch: committing it completes all of them.
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms_now();
  for (const Mutation& m : mutations) {
    if (m.kind == Mutation::Kind::kData) {  // data keys (data_glue.cc)
      Mutation copy = m;
      encode_data_mutation(copy, now, now_wall, cluster_entry_records_);
      continue;
    }
    persist::Record r;
    r.type =
        m.kind == Mutation::Kind::kHold ? persist::RecordType::kHold : persist::RecordType::kDrop;
    r.key = m.key;
    r.owner = m.owner;
    r.fence = m.fence;
    r.limit = m.limit;
    r.wall_deadline_ms = now_wall + (m.deadline - now);
    persist::encode_record(r, cluster_entry_records_);
  }
  cluster_entry_seq_ = seq;
  return CommitSink::Result::kPending;
}

void Server::cluster_check_cb(uv_check_t* handle) {
  static_cast<Server*>(handle->data)->cluster_propose_entry();
}

void Server::cluster_propose_entry() {
  if (cluster_entry_seq_ == 0) return;
  std::string data;
  data.reserve(cluster::kEntryHeaderBytes + cluster_entry_records_.size());
  cluster::begin_entry({config_.cluster.node_id, cluster_entry_seq_, engine_->stats().next_fence},
                       data);
  data += cluster_entry_records_;
  cluster_entry_records_.clear();
  cluster_->propose(cluster_entry_seq_, data);
  cluster_proposed_.push_back({cluster_entry_seq_, uv_hrtime()});
  cluster_entry_seq_ = 0;
}

void Server::cluster_on_message(cluster::Message& msg) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, cluster::StatusMsg>) {
          cluster_on_status(m);
        } else if constexpr (std::is_same_v<T, cluster::EntriesMsg>) {
          cluster_on_entries(m);
        } else if constexpr (std::is_same_v<T, cluster::SnapshotInstallMsg>) {
          cluster_on_snapshot_install(m);
        } else if constexpr (std::is_same_v<T, cluster::ProposeFailedMsg>) {
          // Nothing after it can commit from this leader in order: step down and rebuild.
          log::warn("Cluster: proposal failed: " + m.reason, {{"tag", std::to_string(m.tag)}});
          cluster_step_down("proposal failed: " + m.reason);
        } else if constexpr (std::is_same_v<T, cluster::ReadIndexOkMsg>) {
          cluster_->on_read_index_ok(m, cluster_applied_);
        } else if constexpr (std::is_same_v<T, cluster::ReadIndexFailedMsg>) {
          cluster_->on_read_index_failed(m);
        } else if constexpr (std::is_same_v<T, cluster::ConfResultMsg>) {
          cluster_->on_conf_result(m);
        }
      },
      msg);
}

void Server::cluster_after_messages() {
  drain();
}

void Server::cluster_on_status(const cluster::StatusMsg& s) {
  const std::uint64_t old_leader = cluster_->status().leader_id;
  const std::uint64_t old_term = cluster_->status().term;
  cluster_->note_status(s, now_ms());
  if (cluster_metrics_) {
    cluster_metrics_->term->Set(static_cast<double>(s.term));
    cluster_metrics_->commit_index->Set(static_cast<double>(s.commit_index));
    if (s.leader_id != old_leader) cluster_metrics_->leader_changes->Increment();
  }
  if (s.leader_id != old_leader || s.term != old_term) {
    log::info("Cluster status", {{"role", role_name(cluster_->status().role)},
                                 {"leader_id", std::to_string(s.leader_id)},
                                 {"term", std::to_string(s.term)},
                                 {"commit_index", std::to_string(s.commit_index)}});
  }
  const bool leader = cluster_->status().role == ClusterRole::kLeader;
  if (!leader || s.term != old_term) {
    if (cluster_->serving() || pipeline_.has_pending()) cluster_step_down("role or term changed");
  }
  if (leader && !cluster_->serving() && cluster_applied_term_ == s.term) cluster_begin_serving();
}

void Server::cluster_begin_serving() {
  // Everything committed is applied (our no-op of this term is): the engine is the group's state.
  engine_->take_mutations();  // what applying logged is committed already
  cluster_->set_serving(true);
  if (cluster_metrics_) cluster_metrics_->leader->Set(1);
  // A TTL is a lower bound: holders granted under the old leader may have been acknowledged
  // up to an election timeout before we could know of them.
  engine_->extend_all(config_.cluster.election_timeout);
  log::info("Cluster: serving as leader", {{"term", std::to_string(cluster_->status().term)},
                                           {"applied_index", std::to_string(cluster_applied_)},
                                           {"holders", std::to_string(engine_->stats().holders)}});
}

bool Server::cluster_apply_data(const std::string& data, Millis now, std::int64_t now_wall) {
  cluster::DecodedEntry e = cluster::decode_entry(data);
  if (!e.ok) {
    log::error("Cluster: a committed entry does not decode (" + e.error + ")");
    return false;
  }
  // Our own batch coming back: the engine already has it; its replies may go.
  if (e.header.proposer == config_.cluster.node_id && !cluster_proposed_.empty() &&
      cluster_proposed_.front().seq == e.header.seq) {
    const double secs = static_cast<double>(uv_hrtime() - cluster_proposed_.front().t0) / 1e9;
    cluster_proposed_.pop_front();
    if (cluster_metrics_) cluster_metrics_->proposal_seconds->Observe(secs);
    pipeline_.complete(e.header.seq, true);
    return true;
  }
  if (cluster_->serving()) {
    log::error(
        "Cluster: a committed entry this leader did not propose next",
        {{"proposer", std::to_string(e.header.proposer)}, {"seq", std::to_string(e.header.seq)}});
    return false;
  }
  for (const persist::Record& r : e.records) {
    if (r.type == persist::RecordType::kHold) {
      if (!engine_->apply_hold(r.key, r.owner, r.fence, r.limit,
                               now + (r.wall_deadline_ms - now_wall))) {
        log::error("Cluster: a replicated holder does not fit the engine",
                   {{"key", r.key}, {"fence", std::to_string(r.fence)}});
        return false;
      }
    } else if (r.type == persist::RecordType::kData) {
      engine_->data().apply(r.key, r.data,
                            r.wall_deadline_ms == INT64_MAX ? kNoDeadline
                                                            : now + (r.wall_deadline_ms - now_wall),
                            now);
    } else {
      engine_->release_fenced(r.key, r.owner, r.fence, now);
    }
  }
  if (e.header.next_fence > 0) engine_->ensure_next_fence_above(e.header.next_fence - 1);
  engine_->take_mutations();
  engine_->take_events();
  return true;
}

void Server::cluster_on_entries(cluster::EntriesMsg& m) {
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms_now();
  for (cluster::Entry& en : m.entries) {
    if (en.index <= cluster_applied_) continue;  // a resend (RESYNC): applied already
    if (en.index != cluster_applied_ + 1) {
      // A gap: entries sent before our RESYNC reached the sidecar. The resync resends them.
      if (now - cluster_resync_sent_ms_ > 1000) {
        log::warn(
            "Cluster: entries out of order; resyncing",
            {{"index", std::to_string(en.index)}, {"applied", std::to_string(cluster_applied_)}});
        cluster_step_down("entries out of order");
      }
      return;
    }
    if (en.kind == 0 && !en.data.empty() && !cluster_apply_data(en.data, now, now_wall)) {
      cluster_step_down("an entry could not be applied");
      return;
    }
    cluster_applied_ = en.index;
    cluster_applied_term_ = en.term;
    ++cluster_applied_since_snapshot_;
  }
  if (cluster_metrics_) cluster_metrics_->applied_index->Set(static_cast<double>(cluster_applied_));
  cluster_->on_applied(cluster_applied_);
  const ClusterStatus& s = cluster_->status();
  if (s.role == ClusterRole::kLeader && !cluster_->serving() && cluster_applied_term_ == s.term) {
    cluster_begin_serving();
  }
}

void Server::cluster_on_snapshot_install(const cluster::SnapshotInstallMsg& m) {
  if (cluster_->serving()) cluster_step_down("snapshot installed");
  cluster::DecodedSnapshot snap = cluster::decode_snapshot(m.data);
  if (!snap.ok) {
    log::error("Cluster: the Raft snapshot does not decode (" + snap.error +
               "); the server stops serving");
    std::fflush(nullptr);
    ::_exit(1);
  }
  cluster_reset_engine();
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms_now();
  for (const persist::Record& r : snap.holds) {
    engine_->apply_hold(r.key, r.owner, r.fence, r.limit, now + (r.wall_deadline_ms - now_wall));
  }
  engine_->ensure_next_fence_above(snap.next_fence - 1);
  engine_->take_mutations();
  cluster_applied_ = m.index;
  cluster_applied_term_ = m.term;
  cluster_snapshot_index_ = m.index;
  log::info("Cluster: snapshot installed",
            {{"index", std::to_string(m.index)}, {"holders", std::to_string(snap.holds.size())}});
}

void Server::cluster_housekeeping() {
  if (!cluster_) return;
  cluster_reap_snapshot();
  if (cluster_snapshot_child_ > 0 || pipeline_.has_pending() || engine_->has_mutations()) return;
  if (cluster_applied_since_snapshot_ < config_.cluster.snapshot_entries) return;
  // Nothing pending and nothing uncommitted: the engine is the state at cluster_applied_.
  const std::uint64_t index = cluster_applied_;
  const std::string path = persist::join_path(
      config_.cluster.dir, ("engine-" + std::to_string(index) + ".snap").c_str());
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms_now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log::warn(std::string("Cluster: cannot fork a snapshot writer: ") + std::strerror(errno));
    return;
  }
  if (pid == 0) {
    std::string records;
    engine_->for_each_holder([&](const HolderView& h) {
      persist::encode_record(
          persist::Record{persist::RecordType::kHold, std::string(h.key), std::string(h.owner),
                          h.fence, h.limit, now_wall + (h.deadline - now)},
          records);
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
  cluster_snapshot_child_index_ = index;
  cluster_snapshot_path_ = path;
  cluster_applied_since_snapshot_ = 0;
}

void Server::cluster_reap_snapshot() {
  if (cluster_snapshot_child_ <= 0) return;
  int status = 0;
  const pid_t r = ::waitpid(cluster_snapshot_child_, &status, WNOHANG);
  if (r == 0) return;
  cluster_snapshot_child_ = 0;
  if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    log::warn("Cluster: snapshot writer failed", {{"path", cluster_snapshot_path_}});
    return;
  }
  cluster_snapshot_index_ = cluster_snapshot_child_index_;
  cluster_->send_snapshot_taken(cluster_snapshot_child_index_, cluster_snapshot_path_);
  log::info("Cluster: snapshot written", {{"index", std::to_string(cluster_snapshot_child_index_)},
                                          {"path", cluster_snapshot_path_}});
}

std::string Server::cluster_info() const {
  std::string out;
  auto line = [&](std::string_view k, const std::string& v) {
    out += k;
    out += ':';
    out += v;
    out += "\r\n";
  };
  if (!cluster_) {
    line("cluster_enabled", "0");
    return out;
  }
  const ClusterStatus& s = cluster_->status();
  line("cluster_enabled", "1");
  line("node_id", std::to_string(s.id));
  line("role", role_name(s.role));
  line("serving", cluster_->serving() ? "1" : "0");
  line("leader_id", std::to_string(s.leader_id));
  line("term", std::to_string(s.term));
  line("commit_index", std::to_string(s.commit_index));
  line("applied_index", std::to_string(cluster_applied_));
  line("snapshot_index", std::to_string(cluster_snapshot_index_));
  line("pending_batches", std::to_string(pipeline_.pending_batches()));
  std::string members;
  for (const ClusterMember& m : s.members) {
    if (!members.empty()) members += ',';
    members += std::to_string(m.id) + "@" + m.raft + "/" + m.client;
  }
  line("members", members);
  return out;
}

}  // namespace semlock
