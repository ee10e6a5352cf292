// The read-write and reentrant part of the checker (docs/CHECKER.md "Read-write locks and hold
// counts"): a history of lock cycles by real clients, and two invariants over the real replies.
//
// A cycle: one owner (unique per cycle) acquires a key `depth` times with REENTRANT, in shared or
// exclusive mode, holds it, then sends its releases (sometimes one more than it acquired,
// sometimes none: it lets the TTL run out). Times are the client's steady clock (ns).
//
//  - rw_exclusion: the sure-held interval of a grant is [recv of its first acquire, end), end the
//    least of the send of its last counted release and DL (the send of its last granted acquire +
//    ttl: every re-acquire sets the TTL anew). Two overlapping sure-held intervals on one key where
//    either is a writer is a violation: never a writer together with any other holder.
//  - hold_count: the holder is gone only after as many releases as acquires, or expiry. Every
//    re-acquire answers the first fence (same_fence); a release numbered k <= depth sent before
//    DL must answer 1 (hold_lost); an extra release (k = granted + 1) must answer 0, and so must a
//    release sent after the deadline's upper bound (recv + ttl + slack) (hold_outlived).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace semlock::checker::rw {

using Nanos = std::int64_t;

struct Call {
  Nanos send = 0, recv = 0;
  bool ok = false;          // acquire: granted; release: answered 1
  std::uint64_t fence = 0;  // acquire: the fence granted
  std::string error;        // an error reply's text
};

struct Cycle {
  int key = 0;
  bool shared = false;
  int depth = 1;             // REENTRANT acquires asked
  std::int64_t ttl_ms = 0;
  std::vector<Call> acquires;  // in order; stops at the first refusal
  std::vector<Call> releases;  // in order
};

struct Report {
  std::uint64_t cycles = 0, grants = 0, reentrant_grants = 0, shared_grants = 0,
                overlapping_readers = 0, releases = 0;
  std::map<std::string, std::uint64_t> violations;
  std::vector<std::string> examples;
  std::uint64_t total() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : violations) n += v;
    return n;
  }
};

// `slack`: how much later than its deadline a holder may still be there (rounding, ticks).
Report analyze(const std::vector<Cycle>& cycles, Nanos slack);

}  // namespace semlock::checker::rw
