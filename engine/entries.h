// The fixed-size records the engine keeps in its slabs, and the small-string storage they use.
//
// Sizes matter: a held mutex is one KeyEntry (64 bytes, 4-byte aligned) plus one 4-byte slot in
// the index, so key + first holder + its wheel links cost no separate allocation. A key and its
// first holder's owner share one 32-byte buffer. An owner of 32 lowercase hex characters (the
// form the server generates, and what redis-py's uuid1().hex or a hex-encoded 16 random bytes
// give) is stored as its 16 raw bytes, so a 16-byte key and such an owner fit; other owners are
// stored as given. A pair that does not fit: a key of up to 24 bytes stays in the buffer and the
// owner alone moves to an exactly sized heap block (its pointer in the buffer's last 8 bytes), so
// looking the key up never leaves the entry; a longer key moves with its owner to one exactly
// sized heap block. A key's
// limit other than 1 lives in the engine's side table (flag kWideLimit), semaphore holders beyond
// the first and the FIFO of waiters in side records allocated only when a key needs them.
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

inline constexpr std::uint32_t kKeyInlineBytes = 32;
inline constexpr std::uint32_t kOwnerInlineBytes = 36;

// Owners of exactly this many lowercase hex characters are stored packed, two per byte.
inline constexpr std::size_t kPackedOwnerChars = 32;
inline constexpr std::size_t kPackedOwnerBytes = kPackedOwnerChars / 2;

// Packs `owner` into kPackedOwnerBytes when it is 32 lowercase hex characters; false otherwise
// (out untouched past what was written). Only lowercase packs, so unpacking gives the same text.
inline bool pack_hex_owner(std::string_view owner, char* out) {
  if (owner.size() != kPackedOwnerChars) return false;
  std::uint32_t bad = 0;
  for (std::size_t i = 0; i < kPackedOwnerBytes; ++i) {
    unsigned hi = static_cast<unsigned char>(owner[2 * i]);
    unsigned lo = static_cast<unsigned char>(owner[2 * i + 1]);
    // '0'-'9' -> 0-9, 'a'-'f' -> 10-15; anything else sets `bad`.
    unsigned hd = hi - '0', ha = hi - 'a', ld = lo - '0', la = lo - 'a';
    unsigned hv = hd < 10 ? hd : ha + 10;
    unsigned lv = ld < 10 ? ld : la + 10;
    bad |= (hd >= 10 && ha >= 6) | (ld >= 10 && la >= 6);
    out[i] = static_cast<char>((hv << 4) | (lv & 15));
  }
  return bad == 0;
}

inline constexpr char kHexDigits[] = "0123456789abcdef";

inline void unpack_hex_owner(const char* in, char* out) {
  for (std::size_t i = 0; i < kPackedOwnerBytes; ++i) {
    unsigned char b = static_cast<unsigned char>(in[i]);
    out[2 * i] = kHexDigits[b >> 4];
    out[2 * i + 1] = kHexDigits[b & 15];
  }
}

// Whether the packed owner at `in` is the text `o`. Compared a byte at a time: another owner
// (random, as generated ones are) almost always differs in its first two characters.
inline bool packed_owner_is(const char* in, std::string_view o) {
  if (o.size() != kPackedOwnerChars) return false;
  for (std::size_t i = 0; i < kPackedOwnerBytes; ++i) {
    unsigned char b = static_cast<unsigned char>(in[i]);
    if (o[2 * i] != kHexDigits[b >> 4] || o[2 * i + 1] != kHexDigits[b & 15]) return false;
  }
  return true;
}

// Room for an owner's text when it has to be unpacked (KeyEntry::owner).
struct OwnerText {
  char chars[kPackedOwnerChars];
};

// A lock key. Exists while it has a holder or a waiter.
struct KeyEntry {
  static constexpr std::uint8_t kOnHeap = 1;       // key+owner in a heap block (pointer in buf)
  static constexpr std::uint8_t kOwnerPacked = 2;  // the owner is stored as 16 raw bytes
  static constexpr std::uint8_t kWideLimit = 4;    // limit != 1: in Engine::Impl::wide_limits
  static constexpr std::uint8_t kOwnerOnHeap = 8;  // owner alone in a heap block, key in buf
  // Where the owner block's pointer sits with kOwnerOnHeap; the key fits before it.
  static constexpr std::size_t kOwnerPtrAt = kKeyInlineBytes - sizeof(char*);

  U64 fence;                   // first holder
  U64 deadline;                // first holder
  WheelLink link;              // first holder, in the holder wheel
  std::uint32_t ext = kNil;    // KeyExt slot: extra holders and waiters
  std::uint16_t key_len = 0;   // 0: free slot
  std::uint8_t owner_len = 0;  // first holder's owner (its text's length); 0: no first holder
  std::uint8_t flags = 0;      // kOnHeap | kOwnerPacked | kWideLimit | kOwnerOnHeap
  char buf[kKeyInlineBytes];   // key bytes, then the owner's stored bytes

  bool on_heap() const { return (flags & kOnHeap) != 0; }
  bool owner_on_heap() const { return (flags & kOwnerOnHeap) != 0; }
  bool owner_packed() const { return (flags & kOwnerPacked) != 0; }
  // The key's bytes (followed by the owner's unless owner_on_heap()): buf, or the heap block.
  const char* data() const {
    if (!on_heap()) return buf;
    const char* p;
    std::memcpy(&p, buf, sizeof p);
    return p;
  }
  const char* owner_data() const {
    if (!owner_on_heap()) return data() + key_len;
    const char* p;
    std::memcpy(&p, buf + kOwnerPtrAt, sizeof p);
    return p;
  }
  // Bytes the owner takes in buf or its heap block.
  std::size_t stored_owner_len() const { return owner_packed() ? kPackedOwnerBytes : owner_len; }
  // Bytes of the key+owner heap block (on_heap()).
  std::size_t stored_len() const { return std::size_t{key_len} + stored_owner_len(); }
  std::string_view key() const { return {data(), key_len}; }
  // The owner's text; `scratch` holds it when it is stored packed (the view lives as long as
  // both the entry and the scratch).
  std::string_view owner(OwnerText& scratch) const {
    const char* p = owner_data();
    if (!owner_packed()) return {p, owner_len};
    unpack_hex_owner(p, scratch.chars);
    return {scratch.chars, kPackedOwnerChars};
  }
  bool owner_is(std::string_view o) const {
    const char* p = owner_data();
    if (!owner_packed()) {
      return o.size() == owner_len && (o.empty() || std::memcmp(p, o.data(), o.size()) == 0);
    }
    return packed_owner_is(p, o);
  }
  bool has_first() const { return owner_len != 0; }
};
static_assert(sizeof(KeyEntry) == 64, "KeyEntry changed size: update the sizing figures");

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
