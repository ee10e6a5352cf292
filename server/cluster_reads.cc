// Cluster mode: linearizable reads on the leader with Raft's ReadIndex, batched per loop
// iteration (SPEC §9).
//
// A leader answers reads (EXISTS, PTTL, GET, SEMLOCK.INFO, SCAN ... whatever reads the engine)
// from its own engine, which is the group's state only while it still leads. A leader cut off
// from the others may not know yet that another was elected and has granted since; its answer
// would be stale. So the replies of a loop iteration in which a serving leader read its engine
// are held (the commit pipeline holds them like replies waiting for a commit) until one
// READ_INDEX for the whole iteration comes back (leadership confirmed by a majority after the
// reads, and everything committed up to that point applied). An iteration that also proposes
// an entry needs no READ_INDEX: its entry, proposed after the reads, confirms them when it
// commits.
//
// Failure: READ_INDEX_FAILED, leadership lost, or no answer within cluster.request_timeout
// (the sidecar frozen or cut off): no stale answer ever leaves. A connection whose held replies
// are all of such a read batch gets `-CLUSTERDOWN The cluster is down` for each of them
// (cluster_read_fail.cc); one that also waits for a write batch is closed unanswered, as for
// writes that may not have committed.
//
// A member that is not the serving leader never answers a read from its own state: it forwards
// reads to the leader like writes (forward_dispatch.cc), so a read on any member is
// linearizable, and without a leader it answers CLUSTERDOWN.
#include "server/cluster_node.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {

bool Server::cluster_reads_need_barrier() const {
  return cluster_ && !cluster_stopped_ && cluster_->serving() &&
         engine_->read_count() != cluster_reads_seen_;
}

CommitSink::Result Server::cluster_confirm_reads(std::uint64_t seq) {
  cluster_reads_seen_ = engine_->read_count();
  if (!cluster_->serving()) return CommitSink::Result::kDurable;
  cluster_read_batches_.emplace_back(seq, now_ms() + config_.cluster.request_timeout);
  cluster_->read_index([this, seq](bool ok) { cluster_read_confirmed(seq, ok); });
  return CommitSink::Result::kPending;
}

void Server::cluster_read_confirmed(std::uint64_t seq, bool ok) {
  for (auto it = cluster_read_batches_.begin(); it != cluster_read_batches_.end(); ++it) {
    if (it->first != seq) continue;
    cluster_read_batches_.erase(it);
    pipeline_.confirmed(seq, ok);
    return;
  }
}

void Server::cluster_reads_reset() {
  // The count is the new engine's: an old engine's count left here could equal it after as
  // many reads, and the reads of that iteration would leave unconfirmed. The pipeline's batches
  // were settled with the old engine (fail_all); their confirmations are of no use now.
  cluster_reads_seen_ = engine_->read_count();
  cluster_read_batches_.clear();
}

void Server::cluster_expire_reads(Millis now) {
  bool expired = false;
  while (!cluster_read_batches_.empty() && cluster_read_batches_.front().second <= now) {
    const std::uint64_t seq = cluster_read_batches_.front().first;
    cluster_read_batches_.pop_front();
    if (!expired) {
      log::warn("Cluster: a read was not confirmed by the group within cluster.request_timeout; "
                "its connections are closed unanswered",
                {{"pending_reads", cluster_read_batches_.size() + 1}});
    }
    expired = true;
    pipeline_.confirmed(seq, false);
  }
}

}  // namespace semlock
