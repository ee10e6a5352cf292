// A hierarchical timing wheel over intrusive, uint32-addressed nodes (holders or waiters).
//
// Layout: 4 levels x 256 slots; a slot of level L spans 256^L ticks, a tick is `resolution` ms
// (cleanup.resolution), so the wheel spans 2^32 ticks (497 days at 10 ms); a later deadline is
// parked in the last level and re-filed when that slot comes round. A node due at deadline d
// belongs to tick ceil(d / resolution), so when tick T is processed (now >= T * resolution) every
// node in it is due (deadline <= now): expiry is never early, and at most one tick late.
//
// Who owns an entry: the node (a key entry, an extra holder, a waiter) owns its WheelLink and the
// wheel only threads it; each slot is a circular doubly linked list through a sentinel the wheel
// owns. Handles >= kSentinelBase name sentinels, so a node can be unlinked knowing only itself:
// that is why cancel (release, extend's re-file, waiter cancel) is O(1), with no search and no
// record of which slot the node sits in. Insert is O(1): pick the level from the distance to the
// deadline, link at the slot's tail.
//
// Budget: pop_due() hands out one due node at a time; the caller stops after
// limits.max_expiries_per_tick removals, leaving the rest in place for the next tick (the cursor
// does not pass a slot until it is empty), so 1,000,000 simultaneous expiries take ten 100,000
// budgets instead of one long stall. Cascading (moving a higher level's slot down when the
// cursor reaches it) is not budgeted: each node is moved at most three times in its life, and a
// cascade moves only nodes whose deadlines share the slot.
//
// Time: the cursor starts at the first `now` the wheel sees (start()); deadlines before the
// cursor are filed at the cursor. An empty wheel jumps straight to `now`; otherwise the cursor
// walks tick by tick (a few ns per empty tick).
#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace semlock::detail {

using WheelTime = std::int64_t;

inline constexpr std::uint32_t kNil = 0xFFFFFFFFu;

struct WheelLink {
  std::uint32_t prev = kNil;  // kNil: not in the wheel
  std::uint32_t next = kNil;
};

// Nodes: WheelLink& link(uint32_t h); WheelTime deadline(uint32_t h) const.
template <class Nodes>
class TimerWheel {
 public:
  static constexpr std::uint32_t kLevels = 4;
  static constexpr std::uint32_t kBits = 8;
  static constexpr std::uint32_t kSlots = 1u << kBits;
  static constexpr std::uint32_t kSentinelBase = 0xFFFFF000u;  // node handles stay below

  TimerWheel(Nodes nodes, WheelTime resolution)
      : nodes_(nodes),
        resolution_(resolution),
        reciprocal_(~std::uint64_t{0} / static_cast<std::uint64_t>(resolution)) {
    for (std::uint32_t i = 0; i < kLevels * kSlots; ++i) {
      sentinels_[i].prev = sentinels_[i].next = kSentinelBase + i;
    }
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Sets the cursor on first use; the engine calls it with every `now` it is given.
  void start(WheelTime now) {
    if (!started_) {
      cursor_ = floor_div(now, resolution_);
      started_ = true;
    }
  }

  // Files the node by its current deadline. O(1).
  void insert(std::uint32_t h) {
    ++size_;
    file(h);
  }

  // Unlinks the node if it is linked. O(1).
  void remove(std::uint32_t h) {
    WheelLink& l = nodes_.link(h);
    if (l.prev == kNil) return;
    unlink(h);
    --size_;
  }

  // Re-file after the node's deadline changed. O(1).
  void reschedule(std::uint32_t h) {
    remove(h);
    insert(h);
  }

  // Unlinks and returns one node whose deadline is <= now, or kNil when none is (in tick order;
  // FIFO within a tick).
  std::uint32_t pop_due(WheelTime now) {
    start(now);
    WheelTime target = floor_div(now, resolution_);
    while (cursor_ <= target) {
      if (size_ == 0) {
        cursor_ = target;
        cascaded_ = false;
        return kNil;
      }
      if (!cascaded_) {
        cascade();
        cascaded_ = true;
      }
      std::uint32_t s = kSentinelBase + slot_index(0, cursor_);
      std::uint32_t first = link(s).next;
      if (first != s) {
        // Mass expiry walks nodes scattered over the slabs: start loading the next one now.
        std::uint32_t second = nodes_.link(first).next;
        if (second < kSentinelBase) __builtin_prefetch(&nodes_.link(second));
        unlink(first);
        --size_;
        return first;
      }
      if (cursor_ == target) break;
      ++cursor_;
      cascaded_ = false;
    }
    return kNil;
  }

  std::uint64_t size() const { return size_; }

 private:
  // Division by the resolution on every insert: a 64-bit idiv costs ~40 cycles, a multiply by
  // the precomputed reciprocal ~4 (the estimate is at most one short; one compare fixes it).
  WheelTime floor_div(WheelTime a, WheelTime b) const {
    if (a >= 0) {
      __extension__ typedef unsigned __int128 U128;
      std::uint64_t x = static_cast<std::uint64_t>(a);
      std::uint64_t d = static_cast<std::uint64_t>(b);
      std::uint64_t q = static_cast<std::uint64_t>((static_cast<U128>(x) * reciprocal_) >> 64);
      while (x - q * d >= d) ++q;
      return static_cast<WheelTime>(q);
    }
    WheelTime q = a / b;
    return (a % b != 0) ? q - 1 : q;
  }
  WheelTime ceil_div(WheelTime a, WheelTime b) const {
    if (a > 0 && a <= std::numeric_limits<WheelTime>::max() - b) return floor_div(a + b - 1, b);
    return -floor_div(-a, b);
  }

  static std::uint32_t slot_index(std::uint32_t level, WheelTime tick) {
    return level * kSlots +
           static_cast<std::uint32_t>((static_cast<std::uint64_t>(tick) >> (level * kBits)) &
                                      (kSlots - 1));
  }

  WheelLink& link(std::uint32_t h) {
    return h >= kSentinelBase ? sentinels_[h - kSentinelBase] : nodes_.link(h);
  }

  void file(std::uint32_t h) {
    WheelTime tick = ceil_div(nodes_.deadline(h), resolution_);
    if (tick < cursor_) tick = cursor_;
    std::uint64_t delta = static_cast<std::uint64_t>(tick - cursor_);
    std::uint32_t level = 0;
    while (level < kLevels - 1 && delta >= (std::uint64_t{1} << (kBits * (level + 1)))) ++level;
    if (delta >= (std::uint64_t{1} << (kBits * kLevels))) {
      tick = cursor_ + static_cast<WheelTime>((std::uint64_t{1} << (kBits * kLevels)) - 1);
    }
    std::uint32_t s = kSentinelBase + slot_index(level, tick);
    WheelLink& head = link(s);
    WheelLink& node = nodes_.link(h);
    node.prev = head.prev;
    node.next = s;
    link(head.prev).next = h;
    head.prev = h;
  }

  void unlink(std::uint32_t h) {
    WheelLink& node = nodes_.link(h);
    link(node.prev).next = node.next;
    link(node.next).prev = node.prev;
    node.prev = node.next = kNil;
  }

  // When the cursor enters a tick whose low bits of level L are all zero, the level-L slot for
  // this tick is re-filed into the lower levels (highest level first).
  void cascade() {
    std::uint32_t top = 0;
    while (top < kLevels - 1 && (static_cast<std::uint64_t>(cursor_) &
                                 ((std::uint64_t{1} << (kBits * (top + 1))) - 1)) == 0) {
      ++top;
    }
    for (std::uint32_t level = top; level >= 1; --level) {
      std::uint32_t s = kSentinelBase + slot_index(level, cursor_);
      // Detach the whole list first: re-filing may put nodes back into lower slots only.
      std::uint32_t h = link(s).next;
      link(s).prev = link(s).next = s;
      while (h != s) {
        std::uint32_t next = nodes_.link(h).next;
        file(h);
        h = next;
      }
    }
  }

  Nodes nodes_;
  WheelTime resolution_;
  std::uint64_t reciprocal_;
  WheelTime cursor_ = 0;
  bool started_ = false;
  bool cascaded_ = false;
  std::uint64_t size_ = 0;
  std::array<WheelLink, kLevels * kSlots> sentinels_;
};

}  // namespace semlock::detail
