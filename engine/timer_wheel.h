// A hierarchical timing wheel over intrusive, uint32-addressed nodes (holders or waiters).
//
// Layout: 4 levels x 256 slots; a slot of level 0 is one millisecond, a slot of level L spans
// 256^L ms, so the wheel spans 2^32 ms (49.7 days); a later due time is parked in the last level
// and re-filed when that slot comes round. A node is filed by its due time: the first `now` at
// which it is due (the caller decides what that is; the engine files a holder with deadline d at
// d + 1, see engine.h on time). pop_due(now) hands out exactly the nodes whose due time is <= now,
// in due-time order (FIFO within one millisecond): never early, never left behind, whatever the
// interval at which the caller ticks (cleanup.resolution is how often the server calls tick(), not
// a slot width, so a tick never has to decide about a part of its own slot).
//
// Who owns an entry: the node (a key entry, an extra holder, a waiter) owns its WheelLink and the
// wheel only threads it; each slot is a circular doubly linked list through a sentinel the wheel
// owns. Handles >= kSentinelBase name sentinels, so a node can be unlinked knowing only itself:
// that is why cancel (release, extend's re-file, waiter cancel) is O(1), with no search and no
// record of which slot the node sits in. Insert is O(1): pick the level from the distance to the
// due time, link at the slot's tail.
//
// Budget: pop_due() hands out one due node at a time; the caller stops after
// limits.max_expiries_per_tick removals, leaving the rest in place for the next tick (the cursor
// does not pass a slot until it is empty), so 1,000,000 simultaneous expiries take ten 100,000
// budgets instead of one long stall. Cascading (moving a higher level's slot down when the
// cursor reaches it) is not budgeted: each node is moved at most three times in its life, and a
// cascade moves only nodes whose due times share the slot.
//
// Time: the cursor starts at the first `now` the wheel sees (start()); due times before the
// cursor are filed at the cursor. An empty wheel jumps straight to `now`; otherwise the cursor
// skips empty level-0 slots by a bitmap, stopping only at occupied slots and at each 256 ms
// boundary, where a level-1 slot may cascade (so an idle hour costs ~14,000 steps, not 3,600,000).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace semlock::detail {

using WheelTime = std::int64_t;

inline constexpr std::uint32_t kNil = 0xFFFFFFFFu;

struct WheelLink {
  std::uint32_t prev = kNil;  // kNil: not in the wheel
  std::uint32_t next = kNil;
};

// Nodes: WheelLink& link(uint32_t h); WheelTime due(uint32_t h) const.
template <class Nodes>
class TimerWheel {
 public:
  static constexpr std::uint32_t kLevels = 4;
  static constexpr std::uint32_t kBits = 8;
  static constexpr std::uint32_t kSlots = 1u << kBits;
  static constexpr std::uint32_t kSentinelBase = 0xFFFFF000u;  // node handles stay below

  explicit TimerWheel(Nodes nodes) : nodes_(nodes) {
    for (std::uint32_t i = 0; i < kLevels * kSlots; ++i) {
      sentinels_[i].prev = sentinels_[i].next = kSentinelBase + i;
    }
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Sets the cursor on first use; the engine calls it with every `now` it is given.
  void start(WheelTime now) {
    if (!started_) {
      cursor_ = now;
      started_ = true;
    }
  }

  // Files the node by its current due time. O(1).
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

  // Re-file after the node's due time changed. O(1).
  void reschedule(std::uint32_t h) {
    remove(h);
    insert(h);
  }

  // Unlinks and returns one node whose due time is <= now, or kNil when none is (in due-time
  // order; FIFO within one millisecond).
  std::uint32_t pop_due(WheelTime now) {
    const std::uint32_t first = first_due(now);
    if (first == kNil) return kNil;
    // Mass expiry walks nodes scattered over the slabs: start loading the next one now.
    const std::uint32_t second = nodes_.link(first).next;
    if (second < kSentinelBase) __builtin_prefetch(&nodes_.link(second));
    unlink(first);
    --size_;
    return first;
  }

  // True when some node's due time is <= now (pop_due would return one). Moves the cursor over
  // empty slots only, so it changes nothing that can be observed.
  bool has_due(WheelTime now) { return first_due(now) != kNil; }

  std::uint64_t size() const { return size_; }

 private:
  static constexpr std::uint32_t kWords = kSlots / 64;

  // The first node of the earliest non-empty slot at or before `now`, the cursor advanced to that
  // slot (cascading on the way); kNil when nothing is due.
  std::uint32_t first_due(WheelTime now) {
    start(now);
    while (cursor_ <= now) {
      if (size_ == 0) {
        cursor_ = now;
        cascaded_ = false;
        return kNil;
      }
      if (!cascaded_) {
        cascade();
        cascaded_ = true;
      }
      const std::uint32_t s = kSentinelBase + slot_index(0, cursor_);
      const std::uint32_t first = link(s).next;
      if (first != s) return first;
      if (cursor_ == now) break;
      // Jump to the next occupied level-0 slot, the next 256 ms boundary (a level-1 slot may
      // cascade there) or `now`, whichever comes first.
      const std::uint32_t here = slot_index(0, cursor_);
      const std::uint32_t occupied = next_occupied_after(here);
      WheelTime next = std::min<WheelTime>(now, (cursor_ | (kSlots - 1)) + 1);
      if (occupied != kSlots) next = std::min<WheelTime>(next, cursor_ + (occupied - here));
      cursor_ = next;
      cascaded_ = false;
    }
    return kNil;
  }

  // The lowest occupied level-0 slot index above `i`, or kSlots.
  std::uint32_t next_occupied_after(std::uint32_t i) const {
    std::uint32_t from = i + 1;
    while (from < kSlots) {
      const std::uint64_t word = occupied_[from / 64] >> (from % 64);
      if (word != 0) return from + static_cast<std::uint32_t>(__builtin_ctzll(word));
      from = (from / 64 + 1) * 64;
    }
    return kSlots;
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
    WheelTime tick = nodes_.due(h);
    if (tick < cursor_) tick = cursor_;
    std::uint64_t delta = static_cast<std::uint64_t>(tick - cursor_);
    std::uint32_t level = 0;
    while (level < kLevels - 1 && delta >= (std::uint64_t{1} << (kBits * (level + 1)))) ++level;
    if (delta >= (std::uint64_t{1} << (kBits * kLevels))) {
      tick = cursor_ + static_cast<WheelTime>((std::uint64_t{1} << (kBits * kLevels)) - 1);
    }
    const std::uint32_t index = slot_index(level, tick);
    if (level == 0) occupied_[index / 64] |= std::uint64_t{1} << (index % 64);
    std::uint32_t s = kSentinelBase + index;
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
    // The last node of a slot: both neighbours are its sentinel. Level 0 keeps a bitmap.
    if (node.prev == node.next && node.prev >= kSentinelBase &&
        node.prev < kSentinelBase + kSlots) {
      const std::uint32_t index = node.prev - kSentinelBase;
      occupied_[index / 64] &= ~(std::uint64_t{1} << (index % 64));
    }
    node.prev = node.next = kNil;
  }

  // When the cursor enters a millisecond whose low bits of level L are all zero, the level-L slot
  // for this tick is re-filed into the lower levels (highest level first).
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
  WheelTime cursor_ = 0;
  bool started_ = false;
  bool cascaded_ = false;
  std::uint64_t size_ = 0;
  std::array<WheelLink, kLevels * kSlots> sentinels_;
  std::array<std::uint64_t, kWords> occupied_{};  // level-0 slots that hold a node
};

}  // namespace semlock::detail
