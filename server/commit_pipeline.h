// One commit pipeline for the loop (Redis's beforeSleep: one durable write per loop iteration,
// then that iteration's replies): the mutations of a loop iteration go to a durable sink as one
// batch, and the replies written meanwhile are held until the sink says the batch is durable.
// The journal (fsync=always holds replies; everysec/no do not) and Raft (every reply waits for
// its entry to commit) are the two sinks; the loop only knows this class.
//
// Holding: a connection whose replies are held stays held until the LATEST batch it waits for
// is durable, so its replies leave in order and none leaves before the state it shows. While any
// batch is pending, every reply is held (even a read: it may show uncommitted state); an
// iteration without mutations attaches its held replies to the newest pending batch. Batches
// complete in order (an older one first).
//
// Failure: a failed batch closes its held connections unanswered (a reply that is not durable
// is never sent); fail_all() does that for every pending batch (Raft: leadership lost). A
// connection held only by READ batches (no write batch is among those it waits for) goes to
// ReplyGate::fail_replies instead when one of them fails: nothing it asked changed anything,
// so it can be told that the group could not confirm them (CLUSTERDOWN) rather than lose its
// connection.
//
// No libuv here: the gate (the server) flushes or closes connections by id.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/engine.h"

namespace semlock {

class CommitSink {
 public:
  enum class Result : std::uint8_t {
    kDurable,  // the batch is durable now: release its replies
    kPending,  // the sink calls CommitPipeline::complete(seq, ok) later
    kFailed,   // never durable: close the held connections unanswered
  };
  virtual ~CommitSink() = default;
  // True when replies written while mutations are uncommitted must wait for the commit.
  virtual bool holds_replies() const = 0;
  // The mutations of one loop iteration (maybe none), batch number `seq`.
  virtual Result write(std::vector<Mutation>& mutations, std::uint64_t seq) = 0;
  // Linearizable reads (Raft's ReadIndex): true when replies written now show state that is
  // confirmed only by a round to the group (the engine was read on a leader), so they are held
  // even with nothing uncommitted.
  virtual bool confirms_reads() const { return false; }
  // An iteration without mutations whose held replies need that confirmation: kPending and
  // CommitPipeline::confirmed(seq, ok) later, or kDurable when none is needed after all.
  virtual Result confirm(std::uint64_t /*seq*/) { return Result::kDurable; }
};

// What the pipeline does to a held connection (by id; gone ids are ignored by the gate).
class ReplyGate {
 public:
  virtual ~ReplyGate() = default;
  virtual void release_replies(std::uint64_t conn_id) = 0;  // write what it holds
  virtual void drop_replies(std::uint64_t conn_id) = 0;     // close it unanswered
  // Its held replies all belong to one read batch that could not be confirmed (they wait for
  // nothing else): answer them with an error that says so (CLUSTERDOWN) where the gate can,
  // else close it unanswered.
  virtual void fail_replies(std::uint64_t conn_id) { drop_replies(conn_id); }
};

class CommitPipeline {
 public:
  explicit CommitPipeline(ReplyGate& gate) : gate_(gate) {}

  // The sink in use (null: none, nothing is held). Pending batches must be settled first.
  void set_sink(CommitSink* sink) { sink_ = sink; }
  CommitSink* sink() const { return sink_; }

  // Asked before a connection's output is written: true = hold it. `uncommitted`: the engine
  // has mutations of this iteration not yet handed to the sink.
  bool hold(std::uint64_t conn_id, bool uncommitted);
  // End of a loop iteration: hands `mutations` to the sink as one batch and settles it or keeps
  // it pending.
  void end_of_iteration(std::vector<Mutation> mutations);
  // An asynchronous sink's batch `seq` (and every older one) is durable (ok) or lost (!ok).
  void complete(std::uint64_t seq, bool ok);
  // The read confirmation of batch `seq` (CommitSink::confirm) came back. Its replies leave once
  // every older batch has too (they may show that state); !ok closes them unanswered. A write
  // batch committing later also confirms every read batch before it (it was proposed after).
  void confirmed(std::uint64_t seq, bool ok);
  // Every pending batch is lost (leadership gone): their connections are closed unanswered.
  void fail_all();

  bool has_pending() const { return !pending_.empty(); }
  std::size_t pending_batches() const { return pending_.size(); }
  // The number the next batch will get (batches are numbered from `first`).
  std::uint64_t next_seq() const { return next_seq_; }
  void set_first_seq(std::uint64_t first) { next_seq_ = first; }

 private:
  struct Batch {
    std::uint64_t seq = 0;
    std::vector<std::uint64_t> conns;
    bool read = false;       // waits for a read confirmation, not a commit
    bool confirmed = false;  // read: confirmed, waiting for older batches
  };
  void settle(Batch& batch, bool ok);
  void settle_confirmed_reads();

  ReplyGate& gate_;
  CommitSink* sink_ = nullptr;
  std::uint64_t next_seq_ = 1;
  std::vector<std::uint64_t> current_;  // held during this iteration
  std::deque<Batch> pending_;
  // The newest batch each held connection waits for, and whether any batch it waits for is a
  // write (not a read confirmation).
  struct Held {
    std::uint64_t latest = 0;
    bool wrote = false;
  };
  absl::flat_hash_map<std::uint64_t, Held> latest_;
  bool releasing_ = false;
};

}  // namespace semlock
