// The side table of all-or-nothing acquires that wait (SEMLOCK.ACQUIREALL with WAIT): private to
// engine/*.cc.
//
// A waiting ACQUIREALL is a group of ordinary waiters, one in each key's FIFO queue, all queued in
// the same call. The table maps each member's waiter slot to its group, so the records every
// waiter uses (entries.h) stay as they are and a single-key waiter never looks here unless a
// group exists. Bytes: each group and map entry is counted in the engine's memory figure by an
// estimate fixed per member (kGroupBytes, kMemberBytes), added on queueing and taken back on
// removal, so the figure returns to where it was.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace semlock::detail {

struct MultiGroup {
  std::uint64_t tag = 0;
  Millis ttl = 0;
  bool reacquire = true;
  std::vector<std::uint32_t> members;  // waiter slots, in the request's key order
};

struct MultiState {
  absl::flat_hash_map<std::uint32_t, std::uint32_t> group_of;  // waiter slot -> group id
  absl::flat_hash_map<std::uint32_t, MultiGroup> groups;
  std::uint32_t next_id = 0;
  // Keys whose queue head changed because a group left them (granted, timed out, cancelled):
  // served by the outermost call, one at a time, so a chain of groups never recurses deeply.
  std::vector<std::uint32_t> dirty;
  bool draining = false;
  // Keys a cancelled group left with waiters: cancel_waiter() has no `now` to grant at, so they
  // are served by the next tick() (a grant's TTL runs from a real `now`).
  std::vector<std::uint32_t> pending;
};

inline constexpr std::uint64_t kGroupBytes = 96;   // the group, its map entry, vector header
inline constexpr std::uint64_t kMemberBytes = 24;  // a member slot and its group_of entry

}  // namespace semlock::detail
