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
// Snapshots: server/cluster_snapshot.cc.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "cluster/entry.h"
#include "cluster/import.h"
#include "persistence/files.h"
#include "persistence/record.h"
#include "redis-compat/errors.h"
#include "server/cluster_metrics.h"
#include "server/cluster_node.h"
#include "server/cluster_split.h"
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
// wait for the entry to commit. A member that is not serving (or is shutting down) proposes
// nothing: its engine changes only by applying the log, which takes its own mutations; any
// other change fails the batch, so no reply that may show it is ever sent.
class ClusterSink final : public CommitSink {
 public:
  explicit ClusterSink(Server& server) : server_(server) {}
  bool holds_replies() const override { return true; }
  Result write(std::vector<Mutation>& mutations, std::uint64_t seq) override {
    return server_.cluster_write(mutations, seq);
  }
  bool confirms_reads() const override { return server_.cluster_reads_need_barrier(); }
  Result confirm(std::uint64_t seq) override { return server_.cluster_confirm_reads(seq); }

 private:
  Server& server_;
};

bool Server::cluster_start() {
  const config::ClusterConfig& cc = config_.cluster;
  if (const int rc = persist::ensure_directory(cc.dir); rc != 0) {
    log::error("Cannot create cluster.dir " + cc.dir + ": " + std::strerror(rc));
    return false;
  }
  if (!cluster_import_prepare()) return false;
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
  // Nothing is proposed from here on (no sidecar to commit it), but the engine can still change:
  // failing a batch closes its connections, which gives back their undelivered waiter grants,
  // and the next waiter is granted. Such a grant must never be answered (a new leader, which
  // never hears of it, would hand its fence out again: CI's checker.cluster saw it on a leader's
  // SIGTERM). So the sink stays, stopped: an iteration with mutations fails (its connections
  // close unanswered); one without leaves at once (a waiter's "not acquired" does not wait out
  // the grace period).
  cluster_stopped_ = true;
  if (pipeline_.has_pending()) {
    log::info("Cluster: shutting down; uncommitted batches fail, their clients get no reply",
              {{"pending_batches", pipeline_.pending_batches()}});
    pipeline_.fail_all();
  }
  cluster_->set_serving(false);
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
  engine_->set_replica(true);  // until it serves: only the leader expires (by proposing drops)
  cluster_applied_ = 0;
  cluster_applied_term_ = 0;
  cluster_applied_since_snapshot_ = 0;
  cluster_import_assembler_ = cluster::ImportAssembler();  // the replay puts imports together again
  cluster_proposed_.clear();
  cluster_entry_records_.clear();
  cluster_entry_commands_.clear();
  cluster_command_mutations_.clear();
  cluster_entry_seq_ = 0;
  cluster_snapshot_abandon();
  cluster_reads_reset();
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
              {{"pending_batches", pipeline_.pending_batches()}});
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
    if (c->blocked && !c->closed && !c->publish_paced) blocked.push_back(c);
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
  cluster_reads_seen_ = engine_->read_count();  // this batch's entry confirms its reads
  // The commands of this batch, by mutation index (cluster_command_end), taken with it.
  std::vector<std::pair<std::size_t, std::size_t>> commands;
  commands.swap(cluster_command_mutations_);
  join_overlapping_spans(commands);  // commands and the engine's groups, nested or not
  if (mutations.empty()) return CommitSink::Result::kDurable;
  if (cluster_stopped_) {  // shutting down (cluster_stop): nothing commits any more
    mutations.clear();
    return CommitSink::Result::kFailed;
  }
  if (!cluster_->serving()) {
    // A replica's engine changes only by applying the log (its accesses expire nothing): a
    // change of its own would make its state differ from the log's. Rebuilt from the log.
    // At most every 10 s, so that a path that keeps doing it cannot keep the member rebuilding.
    const Millis now = now_ms();
    if (now - cluster_divergence_ms_ >= 10000) {
      cluster_divergence_ms_ = now;
      log::error(
          "Cluster: the engine of a member that is not the leader changed outside the log; "
          "rebuilding it from committed state",
          {{"mutations", mutations.size()}, {"key", mutations.front().key}});
      mutations.clear();
      cluster_step_down("the engine changed outside the log");
    }
    // Never acknowledged: the replies of this iteration may show that change.
    mutations.clear();
    return CommitSink::Result::kFailed;
  }
  // Appended to the entry being built; the entry is proposed once per loop iteration
  // (cluster_check_cb), so the batches of every connection read in one iteration share one
  // Raft entry. Its header names the newest batch: committing it completes all of them.
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms_now();
  std::size_t next_cmd = 0;       // the first command whose records are not placed yet
  std::size_t cmd_from = 0;       // the record offset its first mutation got
  for (std::size_t i = 0; i <= mutations.size(); ++i) {
    const std::size_t at = cluster_entry_records_.size();
    while (next_cmd < commands.size() && commands[next_cmd].first <= i) {
      auto [b, e] = commands[next_cmd];
      if (b == i) cmd_from = at;
      if (e > i) break;  // its records are still being written
      if (e <= mutations.size()) cluster_entry_commands_.push_back({cmd_from, at});
      ++next_cmd;
    }
    if (i == mutations.size()) break;
    const Mutation& m = mutations[i];
    if (m.kind == Mutation::Kind::kData) {  // data keys (data_glue.cc)
      Mutation copy = m;
      encode_data_mutation(copy, now, now_wall, cluster_entry_records_);
      continue;
    }
    persist::Record r;
    r.type =
        m.kind == Mutation::Kind::kHold ? persist::RecordType::kHold : persist::RecordType::kDrop;
    if (m.kind == Mutation::Kind::kLived) r.type = persist::RecordType::kLived;  // session_lock.cc
    r.key = m.key;
    r.owner = m.owner;
    r.fence = m.fence;
    r.limit = m.limit;
    r.wall_deadline_ms = now_wall + (m.deadline - now);
    r.shared = m.shared;
    r.holds = m.holds;
    r.notify = m.notify && m.kind == Mutation::Kind::kHold;  // lost-lock notices (notify.cc)
    if (m.notify && m.kind == Mutation::Kind::kDrop) r.reason = static_cast<std::uint8_t>(m.reason);
    persist::encode_record(r, cluster_entry_records_);
  }
  cluster_entry_seq_ = seq;
  return CommitSink::Result::kPending;
}

void Server::cluster_check_cb(uv_check_t* handle) {
  static_cast<Server*>(handle->data)->cluster_check();
}

void Server::cluster_propose_entry() {
  if (cluster_entry_seq_ == 0) return;
  // One entry per loop iteration, unless its records pass 4 MiB (a new leader extending every
  // deadline, a long pipeline): then several, cut between records, each under etcd's WAL record
  // limit (10 MiB: a larger one could not be read back at the next start). Every part carries
  // the batch's header; the batch's replies leave when its last part commits. A part applied
  // without the next ones (the leader lost) is a state the leader's engine passed through.
  // Cut only between client commands (cluster_split.h): never half an EXEC, EVAL or ACQUIREALL,
  // nor half of a waiting ACQUIREALL's grant made by an expiry or a closed connection.
  const std::string_view all = cluster_entry_records_;
  const std::vector<std::size_t> cuts =
      cluster_entry_cuts(all, cluster_entry_commands_, cluster::kImportChunkBytes);
  std::size_t from = 0;
  for (const std::size_t to : cuts) {
    std::string data;
    data.reserve(cluster::kEntryHeaderBytes + (to - from));
    cluster::begin_entry(
        {config_.cluster.node_id, cluster_entry_seq_, engine_->stats().next_fence}, data);
    data.append(all.substr(from, to - from));
    cluster_->propose(cluster_entry_seq_, data);
    cluster_proposed_.push_back({cluster_entry_seq_, uv_hrtime(), to >= all.size()});
    from = to;
  }
  cluster_entry_records_.clear();
  cluster_entry_commands_.clear();
  cluster_entry_seq_ = 0;
}

bool Server::cluster_may_serve() const {
  const ClusterStatus& s = cluster_->status();
  // An entry of its own term applied, AND everything the sidecar has reported committed, AND
  // everything this process applied before: after a rebuild in the same term (RESYNC), a
  // snapshot of this term arrives before the entries after it, and serving from the snapshot
  // alone would grant over holders those entries add. The STATUS alone is not enough: the
  // sidecar reports commit progress on its next heartbeat tick, so a rebuild right after a
  // commit (a grant already acknowledged) sees a commit index that does not count it.
  return s.role == ClusterRole::kLeader && !cluster_->serving() &&
         cluster_applied_term_ == s.term &&
         cluster_applied_ >= std::max(s.commit_index, cluster_applied_high_) &&
         (s.term != cluster_serve_hold_term_ || now_ms() >= cluster_serve_hold_until_);
}

void Server::cluster_check() {
  if (cluster_may_serve()) {  // after a hold (PROPOSE_FAILED)
    cluster_begin_serving();
    drain();  // the deadlines' extension goes into this iteration's entry
  }
  cluster_expire_reads(now_ms());
  cluster_propose_entry();
  cluster_maybe_snapshot();  // right after proposing: nothing of the engine is unproposed
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
          log::warn("Cluster: proposal failed: " + m.reason, {{"tag", m.tag}});
          if (m.tag == 0) cluster_import_term_ = 0;  // the import entry: proposed again
          // Still the leader of this term (raft refuses proposals while it hands leadership
          // over): serving again at once would only fail the next proposal the same way.
          cluster_serve_hold_term_ = cluster_->status().term;
          cluster_serve_hold_until_ = now_ms() + config_.cluster.election_timeout;
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
  if (!cluster_replay_marked_) {
    // The first status tells what the Raft log held committed when this process started: those
    // entries are replays (their messages and lost-lock notices went out before the restart).
    cluster_replay_marked_ = true;
    cluster_pub_index_ = std::max(cluster_pub_index_, s.commit_index);
  }
  cluster_->note_status(s, now_ms());
  if (cluster_metrics_) {
    cluster_metrics_->term->Set(static_cast<double>(s.term));
    cluster_metrics_->commit_index->Set(static_cast<double>(s.commit_index));
    if (s.leader_id != old_leader) cluster_metrics_->leader_changes->Increment();
  }
  // The leader this member knew is gone: lost-lock notices can no longer come within a tick.
  // Now, before a step-down empties the engine to rebuild it (notify.cc).
  if (old_leader != 0 && s.leader_id != old_leader) notify_failover();
  if (s.leader_id != old_leader || s.term != old_term) {
    log::info("Cluster status", {{"role", role_name(cluster_->status().role)},
                                 {"leader_id", s.leader_id},
                                 {"term", s.term},
                                 {"commit_index", s.commit_index}});
  }
  const bool leader = cluster_->status().role == ClusterRole::kLeader;
  if (!leader || s.term != old_term) {
    if (cluster_->serving() || pipeline_.has_pending()) cluster_step_down("role or term changed");
  }
  if (leader && cluster_may_serve()) cluster_begin_serving();
}

void Server::cluster_begin_serving() {
  // A journal to import goes in first, as the group's entry (cluster_import.cc).
  if (cluster_import_blocks_serving()) return;
  // Everything committed is applied (our no-op of this term is): the engine is the group's state.
  engine_->take_mutations();  // what applying logged is committed already
  engine_->set_replica(false);  // this member decides expiry now
  cluster_->set_serving(true);
  if (cluster_metrics_) cluster_metrics_->leader->Set(1);
  // A TTL is a lower bound: holders granted under the old leader may have been acknowledged
  // up to an election timeout before we could know of them.
  engine_->extend_all(config_.cluster.election_timeout);
  // Connection-lived holders lost their connections with the old leader: plain holders now,
  // with the election timeout left (session_lock.cc).
  engine_->end_lived(config_.cluster.election_timeout, now_ms());
  log::info("Cluster: serving as leader", {{"term", cluster_->status().term},
                                           {"applied_index", cluster_applied_},
                                           {"holders", engine_->stats().holders}});
}

void Server::cluster_apply_records(const std::vector<persist::Record>& records, Millis now,
                                   std::int64_t now_wall) {
  // A committed record is never refused (Engine::apply_hold): every member applies the same log
  // into the same state, whatever its clock and its limits.
  for (const persist::Record& r : records) {
    if (r.type == persist::RecordType::kData) {
      if (r.data.size() == 3 && r.data[0] == "publish") {  // a message, not state
        cluster_deliver_publish(r, now_wall);
        continue;
      }
      engine_->data().apply(r.key, r.data,
                            r.wall_deadline_ms == INT64_MAX ? kNoDeadline
                                                            : now + (r.wall_deadline_ms - now_wall),
                            now);
      continue;
    }
    if (r.type == persist::RecordType::kLived) {
      engine_->apply_lived(r.key, r.owner, r.fence);
      continue;
    }
    if (r.type != persist::RecordType::kHold) {
      // A notice, on every member; once: an entry replayed (a resync after a step-down rebuilds
      // the engine from the log) told its listeners when it was first applied.
      engine_->set_apply_reason(cluster_pub_live_ ? static_cast<LostReason>(r.reason)
                                                  : LostReason::kReleased);
      engine_->apply_drop(r.key, r.owner, r.fence);
      continue;
    }
    const Engine::ApplyStatus st =
        engine_->apply_hold(r.key, r.owner, r.fence, r.limit, now + (r.wall_deadline_ms - now_wall),
                            r.shared, r.holds);
    if (r.notify) engine_->mark_notify(r.key, r.owner, r.fence);
    if (st == Engine::ApplyStatus::kDisplaced) {
      log::warn("Cluster: a replicated holder displaced holders the log never dropped",
                {{"key", r.key}, {"fence", r.fence}});
    } else if (st == Engine::ApplyStatus::kInvalid) {
      log::error("Cluster: a replicated holder with an invalid key or owner is skipped",
                 {{"fence", r.fence}});
    }
  }
}

bool Server::cluster_apply_data(const std::string& data, std::uint64_t index, Millis now,
                                std::int64_t now_wall) {
  if (cluster::is_import_chunk(data)) return cluster_apply_import_chunk(data, index, now, now_wall);
  cluster::DecodedEntry e = cluster::decode_entry(data);
  if (!e.ok) {
    log::error(cluster::entry_refusal(e, index));
    if (e.newer) {  // retrying cannot help, and a member stuck here could still be elected
      std::fflush(nullptr);
      ::_exit(1);
    }
    return false;
  }
  // Our own batch coming back: the engine already has it; its replies may go.
  if (e.header.proposer == config_.cluster.node_id && !cluster_proposed_.empty() &&
      cluster_proposed_.front().seq == e.header.seq) {
    const double secs = static_cast<double>(uv_hrtime() - cluster_proposed_.front().t0) / 1e9;
    const bool last = cluster_proposed_.front().last;
    cluster_proposed_.pop_front();
    if (!last) return true;  // more of the batch to come (cluster_propose_entry)
    if (cluster_metrics_) cluster_metrics_->proposal_seconds->Observe(secs);
    pipeline_.complete(e.header.seq, true);
    cluster_snapshot_on_own_entry(e.header.seq, index);
    return true;
  }
  if (cluster_->serving()) {
    log::error(
        "Cluster: a committed entry this leader did not propose next",
        {{"proposer", e.header.proposer}, {"seq", e.header.seq}});
    return false;
  }
  cluster_apply_records(e.records, now, now_wall);
  if (e.header.next_fence > 0) engine_->ensure_next_fence_above(e.header.next_fence - 1);
  if (cluster::is_import_entry(e.header)) cluster_import_applied();
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
            {{"index", en.index}, {"applied", cluster_applied_}});
        cluster_step_down("entries out of order");
      }
      return;
    }
    cluster_pub_live_ = en.index > cluster_pub_index_;  // a replayed entry sends nothing again
    if (en.kind == 0 && !en.data.empty() && !cluster_apply_data(en.data, en.index, now, now_wall)) {
      cluster_pub_live_ = false;
      cluster_step_down("an entry could not be applied");
      return;
    }
    cluster_pub_live_ = false;
    cluster_pub_index_ = std::max(cluster_pub_index_, en.index);
    cluster_applied_ = en.index;
    cluster_applied_term_ = en.term;
    cluster_applied_high_ = std::max(cluster_applied_high_, en.index);
    ++cluster_applied_since_snapshot_;
  }
  if (cluster_metrics_) cluster_metrics_->applied_index->Set(static_cast<double>(cluster_applied_));
  cluster_->on_applied(cluster_applied_);
  if (cluster_may_serve()) cluster_begin_serving();
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
  cluster_apply_records(snap.holds, now, now_wall);
  cluster_apply_records(snap.data, now, now_wall);  // data keys (cluster_snapshot.cc)
  engine_->ensure_next_fence_above(snap.next_fence - 1);
  engine_->take_mutations();
  cluster_applied_ = m.index;
  cluster_applied_term_ = m.term;
  cluster_applied_high_ = std::max(cluster_applied_high_, m.index);
  cluster_snapshot_index_ = m.index;
  log::info("Cluster: snapshot installed",
            {{"index", m.index},
             {"holders", snap.holds.size()},
             {"data_keys", engine_->data().size()}});
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
