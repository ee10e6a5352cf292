// Fakes shared by the commit pipeline's tests (commit_pipeline_test.cc, read_confirm_test.cc,
// read_fail_test.cc): a gate that records what became of each connection's held replies, a sink
// that asks for read confirmations, and a pipeline set up with both.
#pragma once

#include <cstdint>
#include <vector>

#include "server/commit_pipeline.h"

namespace semlock::test {

using Ids = std::vector<std::uint64_t>;

// Records released and dropped connections. A failed read batch is dropped (ReplyGate's default)
// unless a test's gate overrides fail_replies.
struct Gate : ReplyGate {
  Ids released;
  Ids dropped;
  void release_replies(std::uint64_t id) override { released.push_back(id); }
  void drop_replies(std::uint64_t id) override { dropped.push_back(id); }
};

// A Raft leader's sink: writes stay pending until complete(); with `reads` set (the engine was
// read since the last batch) an iteration asks for one read confirmation, recorded in `confirms`.
struct ReadSink : CommitSink {
  bool reads = false;
  Ids confirms;
  bool holds_replies() const override { return true; }
  Result write(std::vector<Mutation>& m, std::uint64_t) override {
    reads = false;
    return m.empty() ? Result::kDurable : Result::kPending;
  }
  bool confirms_reads() const override { return reads; }
  Result confirm(std::uint64_t seq) override {
    reads = false;
    confirms.push_back(seq);
    return Result::kPending;
  }
};

// One mutation: a batch with a write in it.
inline std::vector<Mutation> one() {
  Mutation m;
  m.key = "k";
  m.owner = "o";
  m.fence = 1;
  return {m};
}

// A pipeline on gate `g` and read sink `s`, numbering its batches from `first_seq`. Tests take
// its parts by name: `ReadPipeline<> f(1); auto& [g, s, p] = f;`.
template <typename G = Gate>
struct ReadPipeline {
  G g;
  ReadSink s;
  CommitPipeline p{g};
  explicit ReadPipeline(std::uint64_t first_seq) {
    p.set_first_seq(first_seq);
    p.set_sink(&s);
  }
};

}  // namespace semlock::test
