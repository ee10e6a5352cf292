// The proof side of the checker: turns a recorded Run into intervals and checks them.
//
// Time bounds (all on the client's steady clock, which is the CLOCK_MONOTONIC the server reads):
// the server reads a request after its `send` and writes the reply before its `recv`, so every
// server-side moment p of a request lies in [send, recv]. The server starts a TTL no earlier than
// the read (rounded up), so a holder's deadline is >= send + ttl ("DL", a lower bound) and
// <= recv + ttl + 1 ms ("DU", an upper bound, given slack for "slightly longer, never shorter").
//
//  - sure-held interval of a grant: [recv of the grant, earliest possible end), the end being the
//    least of DL, the send of a release that succeeded, the send of a force release that could
//    have removed it, and for SESSION holders the close of the creating connection (or a kill).
//    More sure-held grants than the key's limit at one instant is a violation (over_limit).
//  - possibly-held interval: [send of the acquire, latest possible end): used to prove that a
//    refusal happened while the key was free (refused_while_free: a ghost or leaked holder, or a
//    waiter timed out before an expiry).
//  - a release/extend by the owner whose reply arrived before DL must not fail unless a force
//    release or (SESSION) a close or a kill could have removed the holder (lost_before_ttl).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/checker/history.h"

namespace semlock::checker {

struct AnalysisOptions {
  // Longest the server may take to notice a closed connection (it keeps reading blocked ones)
  // and act on it: a closed waiter leaves the queue, its undelivered grant is passed on, SESSION
  // holders are released. Used only for "possibly" bounds (refusals), never for safety.
  Nanos close_notice = 250 * kMs;
  // A holder may outlive recv + ttl by this much (rounding of the read time up to 1 ms, expiry
  // checks on whole milliseconds). Used only for "possibly" bounds.
  Nanos expiry_slack = 3 * kMs;
  // Persistence stores deadlines in wall-clock milliseconds and converts back against the
  // monotonic clock at start-up: up to a few ms either way (two roundings, clock slew).
  Nanos restore_margin = 5 * kMs;
  // A waiter's wait runs from its read time rounded up; allow it to end this much before
  // send + wait when deciding that it was still queued.
  Nanos wait_early = 2 * kMs;
  // How much later than its deadline a due holder may still block a waiter's timeout: 0 when the
  // per-tick budget covers every holder (expiries come before timeouts in a tick, SPEC §1), else
  // the ticks the budget needs for all holders that can exist at once.
  Nanos wheel_lag = 0;
};

struct Violation {
  std::string kind;
  std::string text;
  std::vector<int> ops;   // indexes into Run::ops to print: the named ones first, then context
  std::size_t named = 0;  // how many of `ops` are named (the rest are other ops on the key)
};

struct Report {
  std::uint64_t grants = 0, ops = 0, refusals = 0, releases = 0, extends = 0, forces = 0;
  std::uint64_t fifo_observations = 0, restart_checks = 0;
  std::map<std::string, std::uint64_t> violations;  // by kind
  std::vector<Violation> examples;                  // the first few of each kind
  void add(Violation v);
  std::uint64_t total_violations() const;
};

Report analyze(const Run& run, const AnalysisOptions& options);
// SEMLOCK.ACQUIREALL (analysis_multi.cc): a grant names every key's fence, granted in one step
// (consecutive fences); a refusal leaves no key held by its owner (no partial hold).
void check_all_or_nothing(const Run& run, Report& report);

// One op as a readable line, times relative to `origin`.
std::string describe(const Run& run, const Op& op, Nanos origin);

}  // namespace semlock::checker
