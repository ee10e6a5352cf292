#include "server/commit_pipeline.h"

#include <utility>

namespace semlock {

bool CommitPipeline::hold(std::uint64_t conn_id, bool uncommitted) {
  if (releasing_ || !sink_ || !sink_->holds_replies()) return false;
  // Nothing changed since the last commit: whatever the reply says is already durable.
  if (!uncommitted && pending_.empty() && !sink_->confirms_reads()) return false;
  auto [it, fresh] = latest_.try_emplace(conn_id, Held{next_seq_, false});
  if (!fresh && it->second.latest == next_seq_) return true;  // already held in this iteration
  it->second.latest = next_seq_;
  current_.push_back(conn_id);
  return true;
}

void CommitPipeline::end_of_iteration(std::vector<Mutation> mutations) {
  if (!sink_) return;
  const std::uint64_t seq = next_seq_;
  const bool had_mutations = !mutations.empty();
  // Held replies of an iteration with no entry of its own: one read confirmation for them all.
  const bool read = !had_mutations && !current_.empty() && sink_->confirms_reads();
  const CommitSink::Result r = read ? sink_->confirm(seq) : sink_->write(mutations, seq);
  Batch batch{seq, std::move(current_)};
  batch.read = read;
  current_.clear();
  if (had_mutations || r != CommitSink::Result::kDurable) ++next_seq_;
  switch (r) {
    case CommitSink::Result::kPending:
      if (!read) {
        for (std::uint64_t id : batch.conns) latest_[id].wrote = true;
      }
      pending_.push_back(std::move(batch));
      return;
    case CommitSink::Result::kFailed:
      settle(batch, false);
      return;
    case CommitSink::Result::kDurable:
      if (!pending_.empty()) {
        // Replies of this iteration may show state of an older batch still pending.
        Batch& newest = pending_.back();
        for (std::uint64_t id : batch.conns) {
          Held& h = latest_[id];
          h.latest = newest.seq;
          h.wrote = h.wrote || !newest.read;
          newest.conns.push_back(id);
        }
        return;
      }
      settle(batch, true);
      return;
  }
}

void CommitPipeline::settle(Batch& batch, bool ok) {
  releasing_ = true;
  for (std::uint64_t id : batch.conns) {
    auto it = latest_.find(id);
    if (it == latest_.end()) continue;  // settled already (closed by an older failure)
    if (ok && it->second.latest > batch.seq) continue;  // also waits for a newer batch
    // Held by read batches alone: nothing in its held replies changed anything.
    const bool only_reads = batch.read && !it->second.wrote;
    latest_.erase(it);
    if (ok) {
      gate_.release_replies(id);
    } else if (only_reads) {
      gate_.fail_replies(id);
    } else {
      gate_.drop_replies(id);
    }
  }
  releasing_ = false;
}

void CommitPipeline::complete(std::uint64_t seq, bool ok) {
  while (!pending_.empty() && pending_.front().seq <= seq) {
    Batch batch = std::move(pending_.front());
    pending_.pop_front();
    settle(batch, ok);
  }
  settle_confirmed_reads();
}

void CommitPipeline::confirmed(std::uint64_t seq, bool ok) {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->seq != seq || !it->read) continue;
    if (ok) {
      it->confirmed = true;
    } else {
      Batch batch = std::move(*it);
      pending_.erase(it);
      settle(batch, false);
    }
    break;
  }
  settle_confirmed_reads();
}

void CommitPipeline::settle_confirmed_reads() {
  while (!pending_.empty() && pending_.front().read && pending_.front().confirmed) {
    Batch batch = std::move(pending_.front());
    pending_.pop_front();
    settle(batch, true);
  }
}

void CommitPipeline::fail_all() {
  while (!pending_.empty()) {
    Batch batch = std::move(pending_.front());
    pending_.pop_front();
    settle(batch, false);
  }
  // Held in this iteration behind a lost batch: their replies may show lost state.
  Batch rest{next_seq_, std::move(current_)};
  current_.clear();
  settle(rest, false);
}

}  // namespace semlock
