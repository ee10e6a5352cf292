// The commit pipeline with a sink that settles when told: replies wait for their batch (and for
// every older one), a reply on a connection still waiting for a newer batch stays held, reads
// behind a pending batch wait for it, and a failed batch closes its connections unanswered.
#include <boost/test/unit_test.hpp>

#include <map>

#include "server/commit_pipeline.h"
#include "tests/unit/cluster/pipeline_fixture.h"

namespace semlock {
namespace {

using test::Gate;
using test::one;

struct Sink : CommitSink {
  CommitSink::Result next = Result::kPending;
  bool holds = true;
  std::vector<std::pair<std::uint64_t, std::size_t>> writes;  // seq, mutations
  bool holds_replies() const override { return holds; }
  Result write(std::vector<Mutation>& m, std::uint64_t seq) override {
    writes.emplace_back(seq, m.size());
    return m.empty() ? Result::kDurable : next;
  }
};

BOOST_AUTO_TEST_SUITE(commit_pipeline)

BOOST_AUTO_TEST_CASE(no_sink_holds_nothing) {
  Gate g;
  CommitPipeline p(g);
  BOOST_TEST(!p.hold(1, true));
  p.end_of_iteration(one());
  BOOST_TEST(g.released.empty());
}

BOOST_AUTO_TEST_CASE(replies_wait_for_their_batch) {
  Gate g;
  Sink s;
  CommitPipeline p(g);
  p.set_first_seq(100);
  p.set_sink(&s);
  BOOST_TEST(!p.hold(1, false));  // nothing uncommitted, nothing pending: no wait
  BOOST_TEST(p.hold(1, true));
  BOOST_TEST(p.hold(1, true));  // once per iteration
  p.end_of_iteration(one());
  BOOST_TEST(s.writes.size() == 1u);
  BOOST_TEST(s.writes[0].first == 100u);
  BOOST_TEST(g.released.empty());
  BOOST_TEST(p.has_pending());
  // A read on another connection behind a pending batch waits for it.
  BOOST_TEST(p.hold(2, false));
  p.end_of_iteration({});
  BOOST_TEST(g.released.empty());
  p.complete(100, true);
  BOOST_TEST((g.released == std::vector<std::uint64_t>{1, 2}));
  BOOST_TEST(!p.has_pending());
}

BOOST_AUTO_TEST_CASE(a_connection_waits_for_its_newest_batch) {
  Gate g;
  Sink s;
  CommitPipeline p(g);
  p.set_first_seq(1);
  p.set_sink(&s);
  BOOST_TEST(p.hold(7, true));
  p.end_of_iteration(one());  // batch 1
  BOOST_TEST(p.hold(7, true));
  BOOST_TEST(p.hold(8, true));
  p.end_of_iteration(one());  // batch 2
  p.complete(1, true);
  BOOST_TEST(g.released.empty());  // 7 also has a reply of batch 2 queued behind
  p.complete(2, true);
  BOOST_TEST((g.released == std::vector<std::uint64_t>{7, 8}));
}

BOOST_AUTO_TEST_CASE(completing_a_newer_batch_settles_older_ones) {
  Gate g;
  Sink s;
  CommitPipeline p(g);
  p.set_sink(&s);
  p.hold(1, true);
  p.end_of_iteration(one());
  p.hold(2, true);
  p.end_of_iteration(one());
  p.complete(p.next_seq() - 1, true);
  BOOST_TEST((g.released == std::vector<std::uint64_t>{1, 2}));
}

BOOST_AUTO_TEST_CASE(fail_all_closes_every_held_connection_unanswered) {
  Gate g;
  Sink s;
  CommitPipeline p(g);
  p.set_sink(&s);
  p.hold(1, true);
  p.end_of_iteration(one());
  p.hold(2, true);
  p.end_of_iteration(one());
  p.hold(3, false);  // this iteration, behind the lost batches
  p.fail_all();
  BOOST_TEST(g.released.empty());
  BOOST_TEST((g.dropped == std::vector<std::uint64_t>{1, 2, 3}));
  BOOST_TEST(!p.has_pending());
  // Afterwards nothing is held for them.
  BOOST_TEST(!p.hold(1, false));
}

BOOST_AUTO_TEST_CASE(a_synchronous_sink_releases_at_once_or_drops) {
  Gate g;
  Sink s;
  s.next = CommitSink::Result::kDurable;
  CommitPipeline p(g);
  p.set_sink(&s);
  p.hold(1, true);
  p.end_of_iteration(one());
  BOOST_TEST((g.released == std::vector<std::uint64_t>{1}));
  s.next = CommitSink::Result::kFailed;
  p.hold(2, true);
  p.end_of_iteration(one());
  BOOST_TEST((g.dropped == std::vector<std::uint64_t>{2}));
  s.holds = false;  // fsync=everysec: nothing is held
  BOOST_TEST(!p.hold(3, true));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
