// The checker's proof side on hand-made histories: what a refused probe after an unanswered
// acquire on a connection we closed may and may not be excused by.
#define BOOST_TEST_MODULE checker_analysis
#include <boost/test/unit_test.hpp>

#include "tests/checker/analysis.h"

using namespace semlock::checker;

namespace {

constexpr Nanos kT0 = 1'000'000 * kMs;

// The ghost-probe scenario of the crash run (seed 33 and 55 in its report): a holder on a private
// mutex, a waiter on a fresh connection that closes unanswered 3 ms after sending, the holder's
// release 50 ms later, and a probe 10 ms after the waiter's close plus its TTL, refused.
Run ghost_probe(bool rst, bool kill_between) {
  Run run;
  run.keys.push_back({"ck:own1", 1});
  run.conns.resize(3);
  run.conns[0].open = kT0;  // the worker's own connection
  run.conns[1].open = kT0 + 20 * kMs;
  run.conns[1].close_begin = kT0 + 23 * kMs;
  run.conns[1].close = kT0 + 23 * kMs;
  run.conns[1].rst = rst;
  run.conns[2].open = kT0;  // the probe's
  Op hold;
  hold.send = kT0;
  hold.recv = kT0 + 1 * kMs;
  hold.conn = 0;
  hold.owner = "w1-1";
  hold.ttl_ms = 400;
  hold.result = Result::kGranted;
  hold.fence = 7;
  run.ops.push_back(hold);
  Op waiter;
  waiter.send = kT0 + 20 * kMs;
  waiter.conn = 1;
  waiter.owner = "w1-2";
  waiter.ttl_ms = 300;
  waiter.wait_ms = 200;
  run.ops.push_back(waiter);  // no reply
  Op release;
  release.send = kT0 + 73 * kMs;
  release.recv = kT0 + 74 * kMs;
  release.conn = 0;
  release.kind = OpKind::kRelease;
  release.path = Path::kSemRelease;
  release.grant = 0;
  release.owner = "w1-1";
  release.result = Result::kOne;
  run.ops.push_back(release);
  Op probe;
  probe.send = kT0 + (23 + 300 + 10) * kMs;  // past the close-notice (250 ms) too
  probe.recv = probe.send + 1 * kMs;
  probe.conn = 2;
  probe.owner = "w1-3";
  probe.ttl_ms = 20;
  probe.result = Result::kNotGranted;
  run.ops.push_back(probe);
  if (kill_between) run.kills.push_back(kT0 + 100 * kMs);
  return run;
}

std::uint64_t refused_while_free(const Run& run) {
  Report r = analyze(run, AnalysisOptions{});
  auto it = r.violations.find("refused_while_free");
  return it == r.violations.end() ? 0 : it->second;
}

}  // namespace

// An RST: the server must not keep a grant to that connection once the RST has arrived, so a
// refusal after close + TTL is a finding.
BOOST_AUTO_TEST_CASE(probe_refused_after_a_reset_waiter_is_a_finding) {
  BOOST_CHECK_EQUAL(refused_while_free(ghost_probe(true, false)), 1u);
}

// A FIN is a half-close to the server, which still executes and answers what it reads after it
// (SPEC: a client that half-closes after sending gets every reply). A server loop late by a long
// fdatasync reads the fresh connection's acquire only after the holder's release and grants it
// then, so the grant may live until the close plus close-notice plus the TTL. The checker used to
// bound it by close + TTL and reported refused_while_free (crash run, seed 33).
BOOST_AUTO_TEST_CASE(probe_refused_after_a_half_closed_waiter_read_late_is_excused) {
  BOOST_CHECK_EQUAL(refused_while_free(ghost_probe(false, false)), 0u);
}

// With a kill after the close the RST bound widens by the restore margin only: 10 ms later the
// probe's refusal is still a finding.
BOOST_AUTO_TEST_CASE(kill_after_a_reset_waiter_widens_by_the_restore_margin_only) {
  BOOST_CHECK_EQUAL(refused_while_free(ghost_probe(true, true)), 1u);
}
