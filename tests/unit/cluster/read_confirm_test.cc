// The commit pipeline's read confirmations (linearizable reads on a Raft leader): replies of an
// iteration that read the engine are held even with nothing uncommitted, one confirmation per
// iteration releases them in batch order, a failed (or timed-out) one closes them unanswered,
// and an entry proposed after the reads confirms them when it commits.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "server/commit_pipeline.h"
#include "tests/unit/cluster/pipeline_fixture.h"

namespace semlock {
namespace {

using test::Ids;
using test::one;
using test::ReadPipeline;

BOOST_AUTO_TEST_SUITE(read_confirm)

BOOST_AUTO_TEST_CASE(reads_wait_for_one_confirmation_per_iteration) {
  ReadPipeline<> f(10);
  auto& [g, s, p] = f;
  BOOST_TEST(!p.hold(1, false));  // no read: nothing to confirm
  s.reads = true;
  BOOST_TEST(p.hold(1, false));
  BOOST_TEST(p.hold(2, false));
  p.end_of_iteration({});
  BOOST_TEST((s.confirms == Ids{10}));  // one for both connections
  BOOST_TEST(g.released.empty());
  p.confirmed(10, true);
  BOOST_TEST((g.released == Ids{1, 2}));
  BOOST_TEST(!p.has_pending());
}

BOOST_AUTO_TEST_CASE(a_failed_confirmation_closes_its_connections_only) {
  ReadPipeline<> f(1);
  auto& [g, s, p] = f;
  s.reads = true;
  BOOST_TEST(p.hold(1, false));
  p.end_of_iteration({});  // read batch 1
  s.reads = true;
  BOOST_TEST(p.hold(2, false));
  p.end_of_iteration({});  // read batch 2
  p.confirmed(2, true);    // waits for batch 1 (its replies may show that state)
  BOOST_TEST(g.released.empty());
  p.confirmed(1, false);  // deposed, or no answer in time
  BOOST_TEST((g.dropped == Ids{1}));
  BOOST_TEST((g.released == Ids{2}));
  p.confirmed(1, true);  // a late answer for a settled batch changes nothing
  BOOST_TEST((g.released == Ids{2}));
}

BOOST_AUTO_TEST_CASE(reads_behind_a_write_wait_for_both_and_a_later_entry_confirms_them) {
  ReadPipeline<> f(1);
  auto& [g, s, p] = f;
  BOOST_TEST(p.hold(1, true));
  p.end_of_iteration(one());  // write batch 1, pending commit
  s.reads = true;
  BOOST_TEST(p.hold(2, false));
  p.end_of_iteration({});  // read batch 2: its own confirmation, not the older entry's
  BOOST_TEST((s.confirms == Ids{2}));
  p.confirmed(2, true);
  BOOST_TEST(g.released.empty());  // batch 1 is not committed yet
  p.complete(1, true);
  BOOST_TEST((g.released == Ids{1, 2}));
  // A read batch is also settled by an entry proposed after it.
  s.reads = true;
  BOOST_TEST(p.hold(3, false));
  p.end_of_iteration({});  // read batch 3
  BOOST_TEST(p.hold(4, true));
  p.end_of_iteration(one());  // write batch 4
  p.complete(4, true);
  BOOST_TEST((g.released == Ids{1, 2, 3, 4}));
  BOOST_TEST(!p.has_pending());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
