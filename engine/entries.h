// The fixed-size records the engine keeps in its slabs, and the small-string storage they use.
//
// Sizes matter: a held mutex is one KeyEntry (84 bytes, 4-byte aligned) plus one 4-byte slot in
// the index, so key + first holder + its wheel links cost no separate allocation. A key and its
// first holder's owner share one 48-byte buffer (a 16-byte key and a 32-byte owner fit); longer
// pairs move to one exactly sized heap block. Semaphore holders beyond the first, and the FIFO of
// waiters, live in side records allocated only when a key needs them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "engine/timer_wheel.h"

namespace semlock::detail {

// 64-bit values stored as two halves keep the records 4-byte aligned (no padding to 8).
struct U64 {
  std::uint32_t lo = 0;
  std::uint32_t hi = 0;
  std::uint64_t get() const { return (std::uint64_t{hi} << 32) | lo; }
  void set(std::uint64_t v) {
    lo = static_cast<std::uint32_t>(v);
    hi = static_cast<std::uint32_t>(v >> 32);
  }
  std::int64_t get_signed() const { return static_cast<std::int64_t>(get()); }
  void set_signed(std::int64_t v) { set(static_cast<std::uint64_t>(v)); }
};

inline constexpr std::uint32_t kKeyInlineBytes = 48;
inline constexpr std::uint32_t kOwnerInlineBytes = 36;

// A lock key. Exists while it has a holder or a waiter.
struct KeyEntry {
  U64 fence;                   // first holder
  U64 deadline;                // first holder
  WheelLink link;              // first holder, in the holder wheel
  std::uint32_t limit = 0;     // permits
  std::uint32_t ext = kNil;    // KeyExt slot: extra holders and waiters
  std::uint16_t key_len = 0;   // 0: free slot
  std::uint8_t owner_len = 0;  // first holder's owner; 0: no first holder
  std::uint8_t on_heap = 0;    // key+owner in a heap block (pointer in buf)
  char buf[kKeyInlineBytes];   // key bytes, then owner bytes

  const char* data() const {
    if (!on_heap) return buf;
    const char* p;
    std::memcpy(&p, buf, sizeof p);
    return p;
  }
  std::string_view key() const { return {data(), key_len}; }
  std::string_view owner() const { return {data() + key_len, owner_len}; }
  bool has_first() const { return owner_len != 0; }
};

// Per key, only when it has more than one holder or any waiter.
struct KeyExt {
  std::uint32_t extra_head = kNil;  // extra holders, in grant order
  std::uint32_t extra_tail = kNil;
  std::uint32_t extra_count = 0;
  std::uint32_t waiter_head = kNil;  // FIFO
  std::uint32_t waiter_tail = kNil;
  std::uint32_t waiter_count = 0;
  std::uint32_t owners_indexed = 0;  // 1: the extras are in the engine's owner index
};

// A semaphore holder other than the key's first.
struct ExtraHolder {
  U64 fence;
  U64 deadline;
  WheelLink link;
  std::uint32_t key = kNil;
  std::uint32_t prev = kNil;
  std::uint32_t next = kNil;
  std::uint8_t owner_len = 0;
  std::uint8_t on_heap = 0;
  char buf[kOwnerInlineBytes];

  const char* data() const {
    if (!on_heap) return buf;
    const char* p;
    std::memcpy(&p, buf, sizeof p);
    return p;
  }
  std::string_view owner() const { return {data(), owner_len}; }
};

// A queued blocking acquire.
struct Waiter {
  std::uint64_t tag = 0;
  std::int64_t deadline = 0;  // the wait runs out
  std::int64_t ttl = 0;       // the holder's TTL once granted
  WheelLink link;             // in the waiter wheel
  std::uint32_t key = kNil;
  std::uint32_t prev = kNil;
  std::uint32_t next = kNil;
  std::uint32_t generation = 0;  // 0: free slot
  // The wait asked for, ms (capped at 2^32-1): deadline - wait_ms is when it was queued, for
  // SEMLOCK.INFO's waiter ages. It sits in what was padding, so a waiter is no bigger.
  std::uint32_t wait_ms = 0;
  std::uint8_t owner_len = 0;
  std::uint8_t reacquire = 1;  // 0: a derived owner, never refreshed by a grant (SPEC §1)
  char owner_buf[128];

  std::string_view owner() const { return {owner_buf, owner_len}; }
};
static_assert(sizeof(Waiter) <= 184, "a waiter grew: update the sizing figures in the docs");

}  // namespace semlock::detail
