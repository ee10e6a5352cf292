// Read-write (SHARED) and reentrant holds: the per-holder and per-waiter state they need, kept in
// side tables so that plain locks pay nothing for them (entries.h stays as small as it is).
//
// Keys of the tables:
//   - holders by fence: a fence is unique per grant and lives exactly as long as its holder, so
//     remove_holder() forgets it in one place, whatever removed the holder (release, expiry,
//     force release, a replicated drop, SET's owner swap);
//   - waiters by waiter slot: forgotten in remove_waiter().
// Every engine path consults the tables only when `in_use()` (a shared or reentrant request was
// ever stored and not yet forgotten), so an engine that never sees SHARED or REENTRANT runs its
// old code unchanged.
//
// Model (docs/PROTOCOL.md "Read-write locks" and "Reentrant holds"):
//   - a shared key is a mutex key (limit 1) whose holders are readers: all of a key's holders are
//     readers, or there is one writer. A key's mode is the mode of any of its holders.
//   - readers per key: at most limits.max_permits (the largest LIMIT), like permits.
//   - hold count: absent = 1. A REENTRANT acquire by the holding owner adds one; a release takes
//     one and removes the holder at zero.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "engine/counting_alloc.h"

namespace semlock::detail {

// A waiter's mode and reentrancy.
inline constexpr std::uint8_t kWaitShared = 1;
inline constexpr std::uint8_t kWaitReentrant = 2;

struct HoldTables {
  using FenceSet = absl::flat_hash_set<std::uint64_t, absl::Hash<std::uint64_t>,
                                       std::equal_to<std::uint64_t>, CountingAllocator<std::uint64_t>>;
  using CountMap = absl::flat_hash_map<
      std::uint64_t, std::uint32_t, absl::Hash<std::uint64_t>, std::equal_to<std::uint64_t>,
      CountingAllocator<std::pair<const std::uint64_t, std::uint32_t>>>;
  using WaiterMap = absl::flat_hash_map<
      std::uint32_t, std::uint8_t, absl::Hash<std::uint32_t>, std::equal_to<std::uint32_t>,
      CountingAllocator<std::pair<const std::uint32_t, std::uint8_t>>>;

  explicit HoldTables(std::uint64_t* bytes)
      : shared(0, absl::Hash<std::uint64_t>(), std::equal_to<std::uint64_t>(),
               CountingAllocator<std::uint64_t>(bytes)),
        counts(0, absl::Hash<std::uint64_t>(), std::equal_to<std::uint64_t>(),
               CountingAllocator<std::pair<const std::uint64_t, std::uint32_t>>(bytes)),
        waiters(0, absl::Hash<std::uint32_t>(), std::equal_to<std::uint32_t>(),
                CountingAllocator<std::pair<const std::uint32_t, std::uint8_t>>(bytes)) {}

  FenceSet shared;    // fences of readers
  CountMap counts;    // fences whose hold count is 2 or more
  WaiterMap waiters;  // waiter slot -> kWaitShared | kWaitReentrant (only when non-zero)

  bool in_use() const { return !shared.empty() || !counts.empty() || !waiters.empty(); }
  bool is_shared(std::uint64_t fence) const { return !shared.empty() && shared.contains(fence); }
  std::uint32_t count(std::uint64_t fence) const {
    if (counts.empty()) return 1;
    auto it = counts.find(fence);
    return it == counts.end() ? 1 : it->second;
  }
  void set_count(std::uint64_t fence, std::uint32_t n) {
    if (n <= 1) {
      counts.erase(fence);
    } else {
      counts.insert_or_assign(fence, n);
    }
  }
  // One more hold; saturates at 2^32-1 (documented: the count never wraps to a release).
  void add_hold(std::uint64_t fence) {
    const std::uint32_t c = count(fence);
    if (c != UINT32_MAX) set_count(fence, c + 1);
  }
  void set_shared(std::uint64_t fence, bool on) {
    if (on) {
      shared.insert(fence);
    } else {
      shared.erase(fence);
    }
  }
  std::uint8_t waiter_flags(std::uint32_t w) const {
    if (waiters.empty()) return 0;
    auto it = waiters.find(w);
    return it == waiters.end() ? 0 : it->second;
  }
  // The holder with this fence is gone.
  void forget(std::uint64_t fence) {
    if (!shared.empty()) shared.erase(fence);
    if (!counts.empty()) counts.erase(fence);
    shrink();
  }
  // Empty tables give their memory back once they grew past a few entries (a small one is kept,
  // so that a lone reader's acquire/release cycle does not allocate; emptiness, not capacity,
  // decides whether the engine consults them).
  static constexpr std::size_t kKeepCapacity = 64;
  void shrink() {
    if (shared.empty() && shared.capacity() > kKeepCapacity) {
      FenceSet(0, shared.hash_function(), shared.key_eq(), shared.get_allocator()).swap(shared);
    }
    if (counts.empty() && counts.capacity() > kKeepCapacity) {
      CountMap(0, counts.hash_function(), counts.key_eq(), counts.get_allocator()).swap(counts);
    }
    if (waiters.empty() && waiters.capacity() > kKeepCapacity) {
      WaiterMap(0, waiters.hash_function(), waiters.key_eq(), waiters.get_allocator())
          .swap(waiters);
    }
  }
};

}  // namespace semlock::detail
