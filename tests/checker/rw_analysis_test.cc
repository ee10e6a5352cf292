// The read-write and hold-count invariants (rw_analysis.h) on hand-made histories: each kind of
// violation is found, and a valid history passes.
#include <boost/test/unit_test.hpp>

#include "tests/checker/rw_analysis.h"

using namespace semlock::checker::rw;

namespace {
constexpr Nanos kMs = 1'000'000;
Call ok_acquire(Nanos send, std::uint64_t fence) { return {send, send + kMs, true, fence, ""}; }
Call release(Nanos send, bool ok) { return {send, send + kMs, ok, 0, ""}; }
Cycle cycle(int key, bool shared, std::vector<Call> acq, std::vector<Call> rel) {
  Cycle c;
  c.key = key;
  c.shared = shared;
  c.depth = static_cast<int>(acq.size());
  c.ttl_ms = 1000;
  c.acquires = std::move(acq);
  c.releases = std::move(rel);
  return c;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rw_analysis)

BOOST_AUTO_TEST_CASE(readers_overlap_writers_do_not) {
  std::vector<Cycle> h = {
      cycle(0, true, {ok_acquire(0, 1)}, {release(100 * kMs, true)}),
      cycle(0, true, {ok_acquire(10 * kMs, 2)}, {release(50 * kMs, true)}),
      cycle(0, false, {ok_acquire(200 * kMs, 3)}, {release(300 * kMs, true)}),
  };
  Report r = analyze(h, 5 * kMs);
  BOOST_TEST(r.total() == 0u);
  BOOST_TEST(r.overlapping_readers == 1u);
  // A writer granted while a reader is sure to hold.
  h.push_back(cycle(0, false, {ok_acquire(20 * kMs, 4)}, {release(30 * kMs, true)}));
  r = analyze(h, 5 * kMs);
  BOOST_TEST(r.violations["rw_exclusion"] == 2u);  // against both readers
}

BOOST_AUTO_TEST_CASE(hold_counts) {
  // Three holds, three releases: all 1; a fourth answers 0.
  std::vector<Cycle> h = {cycle(1, false, {ok_acquire(0, 7), ok_acquire(kMs, 7), ok_acquire(2 * kMs, 7)},
                                {release(3 * kMs, true), release(4 * kMs, true),
                                 release(5 * kMs, true), release(6 * kMs, false)})};
  BOOST_TEST(analyze(h, 5 * kMs).total() == 0u);
  // The holder went at the first release.
  h[0].releases[1].ok = false;
  BOOST_TEST(analyze(h, 5 * kMs).violations["hold_lost"] == 1u);
  h[0].releases[1].ok = true;
  // It outlived its releases.
  h[0].releases[3].ok = true;
  BOOST_TEST(analyze(h, 5 * kMs).violations["hold_outlived"] == 1u);
  h[0].releases[3].ok = false;
  // A re-acquire with another fence.
  h[0].acquires[1].fence = 8;
  BOOST_TEST(analyze(h, 5 * kMs).violations["same_fence"] == 1u);
  // A release after the TTL ran out may answer 0, but not 1.
  std::vector<Cycle> e = {cycle(2, false, {ok_acquire(0, 9)}, {release(2000 * kMs, false)})};
  BOOST_TEST(analyze(e, 5 * kMs).total() == 0u);
  e[0].releases[0].ok = true;
  BOOST_TEST(analyze(e, 5 * kMs).violations["hold_outlived"] == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
