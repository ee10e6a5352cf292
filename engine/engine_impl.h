// Engine::Impl: the state behind engine.h and the helpers its operations share. Private to
// engine/*.cc.
//
// Layout: keys live in a slab of 64-byte KeyEntry records; the index is a flat_hash_set of 4-byte
// slot numbers whose hash and equality read the key out of the slab (heterogeneous lookup by
// string_view). A holder is named by a handle: the key's slot for its first holder,
// kExtraBit | slot for an extra (semaphore) holder; both kinds sit in one holder wheel. Waiters
// sit in their own slab and wheel.
//
// Owner lookup within a key is O(1): the first holder is compared in place, and a key with more
// than kOwnerIndexAt extra holders has them in `owners`, one flat_hash_set of 4-byte extra-holder
// slots hashed by (key slot, owner) for all keys together. Smaller semaphores scan their few
// extras (cheaper than hashing), and a mutex never pays anything for it.
//
// Time (engine.h): a holder with deadline d is due once now > d; the wheels file it at d + 1.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <functional>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/counting_alloc.h"
#include "engine/data.h"
#include "engine/engine.h"
#include "engine/entries.h"
#include "engine/holds.h"
#include "engine/key_hash.h"
#include "engine/multi.h"
#include "engine/slab.h"
#include "engine/timer_wheel.h"

namespace semlock {

namespace detail {
inline constexpr std::uint32_t kExtraBit = 0x80000000u;
inline constexpr Millis kWarnInterval = 10000;
// A key's extras go into the owner index above this many, and leave it below kOwnerUnindexAt
// (the gap keeps a key that hovers around the size from re-indexing on every grant).
inline constexpr std::uint32_t kOwnerIndexAt = 8;
inline constexpr std::uint32_t kOwnerUnindexAt = 4;

// Most due holders (of any key) an access to a semaphore expires on the way: enough to clear
// what became due since the last tick, few enough that a mass expiry stays the ticks' work. Past
// it the accessed key is scanned for its own due holders instead.
inline constexpr std::uint64_t kAccessExpiries = 1024;

// `deadline` has passed for certain: the caller's `now` is its clock rounded up, so the real time
// is above now - 1 >= deadline.
inline bool is_due(Millis deadline, Millis now) {
  return deadline < now;
}
// The first `now` at which a deadline is due (the wheels file by it).
inline Millis due_time(Millis deadline) {
  return deadline == INT64_MAX ? deadline : deadline + 1;
}
}  // namespace detail

namespace detail {
// A prefetch the compiler keeps: GCC 12 drops a __builtin_prefetch whose enclosing function it
// proves otherwise pure (an Abseil find whose equality only prefetches, Abseil's own prefetch()).
inline void prefetch_line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}
}  // namespace detail

struct Engine::Impl {
  // A lookup that only prefetches: every slot whose control byte matches the key's hash gets its
  // KeyEntry prefetched, and none is equal, so the find ends where a real one would give up.
  struct PrefetchProbe {
    std::string_view key;
  };
  struct KeyHash {
    using is_transparent = void;
    const Impl* m;
    std::size_t operator()(std::string_view key) const { return detail::hash_key(key); }
    std::size_t operator()(PrefetchProbe p) const { return detail::hash_key(p.key); }
    std::size_t operator()(std::uint32_t slot) const {
      return slot == m->hash_cache_slot ? m->hash_cache : detail::hash_key(m->keys[slot].key());
    }
  };
  struct KeyEq {
    using is_transparent = void;
    const Impl* m;
    bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
    bool operator()(std::uint32_t a, std::string_view b) const { return m->keys[a].key() == b; }
    bool operator()(std::string_view a, std::uint32_t b) const { return m->keys[b].key() == a; }
    bool operator()(PrefetchProbe, std::uint32_t b) const {
      detail::prefetch_line(&m->keys[b]);
      return false;
    }
    bool operator()(std::uint32_t a, PrefetchProbe p) const { return (*this)(p, a); }
  };
  using Index =
      absl::flat_hash_set<std::uint32_t, KeyHash, KeyEq, detail::CountingAllocator<std::uint32_t>>;

  // The owner index: extra-holder slots, looked up by (key slot, owner).
  struct OwnerKey {
    std::uint32_t key;
    std::string_view owner;
  };
  static std::size_t owner_hash(std::uint32_t key, std::string_view owner) {
    return detail::hash_mix(detail::hash_key(owner) ^ 0x9e3779b97f4a7c15ull,
                            std::uint64_t{key} + 0x632be59bd9b4e019ull);
  }
  struct OwnerHash {
    using is_transparent = void;
    const Impl* m;
    std::size_t operator()(const OwnerKey& k) const { return owner_hash(k.key, k.owner); }
    std::size_t operator()(std::uint32_t x) const {
      return owner_hash(m->extras[x].key, m->extras[x].owner());
    }
  };
  struct OwnerEq {
    using is_transparent = void;
    const Impl* m;
    bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
    bool operator()(std::uint32_t a, const OwnerKey& b) const {
      return m->extras[a].key == b.key && m->extras[a].owner() == b.owner;
    }
    bool operator()(const OwnerKey& a, std::uint32_t b) const { return (*this)(b, a); }
  };
  using OwnerIndex = absl::flat_hash_set<std::uint32_t, OwnerHash, OwnerEq,
                                         detail::CountingAllocator<std::uint32_t>>;

  // Limits other than 1, by key slot (KeyEntry::kWideLimit says a key has one): a mutex's entry
  // has no room for a limit it does not need.
  using WideLimits =
      absl::flat_hash_map<std::uint32_t, std::uint32_t, absl::Hash<std::uint32_t>,
                          std::equal_to<std::uint32_t>,
                          detail::CountingAllocator<std::pair<const std::uint32_t, std::uint32_t>>>;

  struct HolderNodes {
    Impl* m;
    detail::WheelLink& link(std::uint32_t h);
    detail::WheelTime due(std::uint32_t h) const;
  };
  struct WaiterNodes {
    Impl* m;
    detail::WheelLink& link(std::uint32_t w);
    detail::WheelTime due(std::uint32_t w) const;
  };

  struct WarnState {
    bool armed = true;
    bool warned = false;
    Millis last = 0;
  };

  Impl(const EngineLimits& l, std::uint64_t first_fence);
  ~Impl();  // frees the heap blocks of long keys and owners still held
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // --- state (bytes first: every container below counts into it) ---
  std::uint64_t bytes = 0;
  EngineLimits limits;
  std::uint64_t next_fence;
  std::uint64_t external = 0;
  detail::Slab<detail::KeyEntry, 10> keys{&bytes};
  detail::Slab<detail::KeyExt, 10> exts{&bytes};
  detail::Slab<detail::ExtraHolder, 10> extras{&bytes};
  detail::Slab<detail::Waiter, 8> waiters{&bytes};
  Index index;
  std::size_t idle_index_capacity = 0;
  OwnerIndex owners;
  WideLimits wide_limits;
  std::size_t idle_wide_limits_capacity = 0;
  detail::TimerWheel<HolderNodes> holder_wheel;
  detail::TimerWheel<WaiterNodes> waiter_wheel;
  std::vector<WaiterEvent> events;
  std::uint64_t holder_total = 0;
  std::uint64_t waiter_total = 0;
  std::uint32_t last_generation = 0;
  EngineStats counters;  // only the counter fields; gauges are filled by stats()
  WarnState warn_locks;
  WarnState warn_memory;
  // Persistence (engine_persist.cc): the mutation log, off unless set_mutation_log(true).
  bool log_mutations = false;
  // Data keys (engine/data.h): their count joins the lock keys' for max_locks.
  std::uint64_t data_keys = 0;
  std::uint64_t data_waiters = 0;  // blocked BLPOP/BRPOP: with waiter_total for max_waiters
  std::unique_ptr<DataStore> data;
  std::vector<Mutation> mutations;
  // Spans of `mutations` that one all-or-nothing change logged (Engine::mutation_groups()).
  std::vector<std::pair<std::size_t, std::size_t>> mutation_groups;
  // Records [from, mutations.size()) as one group when the change logged more than one mutation.
  void note_mutation_group(std::size_t from) {
    if (log_mutations && mutations.size() > from + 1) {
      mutation_groups.emplace_back(from, mutations.size());
    }
  }
  // Replication (engine.h, set_replica): no holder is removed on this engine's own clock.
  bool replica = false;
  std::uint64_t reads = 0;  // exists/info/scan calls (read_count())
  std::uint64_t displaced = 0;  // holders apply_hold removed to fit a replicated one
  // Read-write and reentrant holds (engine/holds.h, holds.cc): empty unless used.
  detail::HoldTables holds{&bytes};
  // Keys whose queue head was cancelled while holds were in use: the waiters behind it may be
  // grantable now (readers behind a writer); tick() serves them.
  std::vector<std::string> serve_later;
  // True when the key's holders are readers.
  bool key_shared(std::uint32_t slot) const;
  // Whether a new holder of this mode fits now: a writer (or a semaphore permit) needs a free
  // permit; a reader needs a key with no holder or only readers, fewer than max_permits.
  bool can_take(std::uint32_t slot, bool shared) const {
    return shared ? can_take_reader(slot) : holders_of(slot) < limit_of(slot);
  }
  bool can_take_reader(std::uint32_t slot) const;
  void serve_pending(Millis now);
  // Lost-lock notices (engine_notify.cc): NOTIFY marks by fence, NOTIFY waiters by tag, the
  // notices not yet taken, and why holders are being removed (set by the operation removing them).
  using FenceSet = absl::flat_hash_set<std::uint64_t, absl::Hash<std::uint64_t>,
                                       std::equal_to<std::uint64_t>,
                                       detail::CountingAllocator<std::uint64_t>>;
  FenceSet notify_fences{0, absl::Hash<std::uint64_t>{}, std::equal_to<std::uint64_t>{},
                         detail::CountingAllocator<std::uint64_t>(&bytes)};
  FenceSet notify_tags{0, absl::Hash<std::uint64_t>{}, std::equal_to<std::uint64_t>{},
                       detail::CountingAllocator<std::uint64_t>(&bytes)};
  std::vector<LostNotice> lost;
  LostReason drop_reason = LostReason::kReleased;
  LostReason apply_reason = LostReason::kReleased;
  // A holder leaves (remove_holder, or set_holder's owner swap): its mark goes, with a notice
  // unless drop_reason is kReleased. Only called while notify_fences is non-empty.
  void notify_removed(std::uint32_t h);
  void shrink_if_empty(FenceSet& set);
  // Marks the holder that the next add_holder (fence next_fence) or a refresh of `h` makes. A mark
  // new to that fence is `fresh_mark` until the change is logged (Mutation::prev_notify).
  void notify_mark(std::uint64_t fence) {
    if (notify_fences.insert(fence).second) fresh_mark = fence;
  }
  std::uint64_t fresh_mark = 0;
  bool notify_waiter(std::uint64_t tag) {
    return !notify_tags.empty() && notify_tags.erase(tag) > 0;
  }
  struct ReasonScope {  // removals inside it have `reason`
    Impl& m;
    LostReason saved;
    ReasonScope(Impl& impl, LostReason reason) : m(impl), saved(impl.drop_reason) {
      m.drop_reason = reason;
    }
    ~ReasonScope() { m.drop_reason = saved; }
  };
  // prev_deadline / prev_holds: the holder's deadline and hold count just before the change a
  // kHold records (0 holds: the holder is new), so a failed commit can take back exactly what its
  // batch added (Mutation::prev_holds).
  void log_holder(Mutation::Kind kind, std::uint32_t h, Millis prev_deadline = 0,
                  std::uint32_t prev_holds = 0);
  void log_hold(std::uint32_t h) {  // a new holder
    if (log_mutations) log_holder(Mutation::Kind::kHold, h);
  }
  void log_change(std::uint32_t h, Millis prev_deadline, std::uint32_t prev_holds) {
    if (log_mutations) log_holder(Mutation::Kind::kHold, h, prev_deadline, prev_holds);
  }
  void log_drop(std::uint32_t h) {
    if (log_mutations) log_holder(Mutation::Kind::kDrop, h);
  }
  // All-or-nothing acquires waiting (engine/multi.cc): null until the first one queues, and only
  // consulted while it has groups, so single-key waiters never pay for it.
  std::unique_ptr<detail::MultiState> multi;
  Millis last_now = 0;  // the latest `now` seen (a cancelled group's keys are served at it)
  // Fences of connection-lived holders (engine/lived.cc); empty unless one exists.
  absl::flat_hash_set<std::uint64_t> lived;
  // A holder given a TTL (refresh, extend, a replicated refresh) is no longer connection-lived: a
  // later failover must not cut its deadline to the election timeout. A connection-lived
  // acquire marks it again after (mark_lived, a kLived record after the hold in the log).
  void unmark_lived(std::uint64_t fence) {
    if (!lived.empty()) lived.erase(fence);
  }
  bool has_groups() const;
  // The waiter belongs to a waiting ACQUIREALL: its whole group is timed out (one event), its
  // other keys served (not with `serve` false: shutdown answers everyone) and emptied keys
  // erased, except `keep` (the caller still works on it). False for a single-key waiter.
  bool time_out_group_of(std::uint32_t w, Millis now, std::uint32_t keep, bool serve = true);
  // serve_waiters_slow's step for a head waiter `w` of `slot` that belongs to a group: 1 = the
  // group was answered (the key's head changed), 0 = it must keep waiting (stop serving), -1 =
  // not a group member.
  int serve_group_head(std::uint32_t slot, std::uint32_t w, Millis now, Millis freed_at);
  // cancel_waiter() of a group member: the whole group leaves (no event). False: not a member.
  bool cancel_group_of(std::uint32_t w);
  // tick(): serves the keys cancelled groups left (they were kept for them).
  void serve_pending_groups(Millis now);

  // --- helpers (engine_state.cc) ---
  void observe(Millis now) {
    last_now = now;
    holder_wheel.start(now);
    waiter_wheel.start(now);
  }
  std::uint64_t used_memory() const { return bytes + sizeof(Impl) + external; }
  // The hash of the key an operation is working on, so that its insert or erase does not hash
  // the key again. Invariant: hash_cache_slot is kNil or a live slot whose key hashes to
  // hash_cache (keys never change while live; erase_if_empty clears it).
  std::uint32_t hash_cache_slot = detail::kNil;
  std::uint64_t hash_cache = 0;

  std::uint32_t find(std::string_view key, std::uint64_t hash) {
    auto it = index.find(key, hash);
    if (it == index.end()) return detail::kNil;
    hash_cache_slot = *it;
    hash_cache = hash;
    return *it;
  }
  std::uint32_t find(std::string_view key) { return find(key, detail::hash_key(key)); }
  std::uint32_t holders_of(std::uint32_t slot) const {
    const detail::KeyEntry& e = keys[slot];
    return (e.has_first() ? 1u : 0u) + (e.ext == detail::kNil ? 0u : exts[e.ext].extra_count);
  }
  std::uint32_t waiters_of(std::uint32_t slot) const {
    const detail::KeyEntry& e = keys[slot];
    return e.ext == detail::kNil ? 0u : exts[e.ext].waiter_count;
  }
  std::uint64_t fence_of(std::uint32_t h) const;
  Millis deadline_of(std::uint32_t h) const;
  // The holder's owner text (`scratch` holds it when the entry stores it packed).
  std::string_view owner_of(std::uint32_t h, detail::OwnerText& scratch) const;
  std::uint32_t limit_of(std::uint32_t slot) const {
    const detail::KeyEntry& e = keys[slot];
    return (e.flags & detail::KeyEntry::kWideLimit) ? wide_limits.find(slot)->second : 1u;
  }
  void set_limit(std::uint32_t slot, std::uint32_t limit);
  std::uint32_t key_of_holder(std::uint32_t h) const {
    return (h & detail::kExtraBit) ? extras[h & ~detail::kExtraBit].key : h;
  }
  // Sets the holder's deadline and logs the change. `holds_before`: its hold count before the
  // operation that calls this (a reentrant acquire raised it first); -1: unchanged; 0: the
  // holder is new in this operation (set_holder's owner swap).
  void set_deadline(std::uint32_t h, Millis deadline, std::int64_t holds_before = -1);
  // One release by the holder's owner (engine.cc): one hold fewer, the holder goes at its last.
  enum class ReleaseOutcome : std::uint8_t { kNotHeld, kHoldTaken, kRemoved };
  ReleaseOutcome release_one(std::string_view key, std::string_view owner, Millis now);

  // Removes the key's due holders and hands their permits on. False when the key no longer
  // exists. O(1) however many holders the key has: a key with only a first holder checks its
  // deadline; one with extras asks the holder wheel, which knows whether anything at all is due,
  // and runs due expiries (all keys', in deadline order, at most kAccessExpiries) if so. Only
  // when that runs out before the wheel is empty (a mass expiry) are the key's holders scanned.
  bool purge(std::uint32_t slot, Millis now) {
    if (replica) return true;  // the leader decides expiry: a due holder stays until it is dropped
    const detail::KeyEntry& e = keys[slot];
    if (e.ext == detail::kNil || exts[e.ext].extra_count == 0) {
      if (e.has_first() && !detail::is_due(e.deadline.get_signed(), now)) return true;
      return purge_first(slot, now);
    }
    if (!holder_wheel.has_due(now)) return true;
    return purge_many(slot, now);
  }
  bool purge_first(std::uint32_t slot, Millis now);
  bool purge_many(std::uint32_t slot, Millis now);
  // Removes the key's due holders found by scanning it (the mass-expiry fallback).
  void purge_scan(std::uint32_t slot, Millis now);
  // Removes a due holder and hands its permit on; the permit freed at the holder's deadline.
  void expire_holder(std::uint32_t h, Millis now);
  // The key erase_if_empty must leave alone while an operation still works on it (its slot may
  // otherwise be freed, and its slab chunk released, under the operation's feet).
  std::uint32_t pinned_slot = detail::kNil;

  std::uint32_t find_holder(std::uint32_t slot, std::string_view owner) const {
    const detail::KeyEntry& e = keys[slot];
    if (e.has_first() && e.owner_is(owner)) return slot;
    return e.ext == detail::kNil ? detail::kNil : find_extra_holder(slot, owner);
  }
  std::uint32_t find_extra_holder(std::uint32_t slot, std::string_view owner) const;
  void index_owners(detail::KeyExt& ext, bool on);
  // A new holder with the next fence; returns the fence.
  std::uint64_t add_holder(std::uint32_t slot, std::string_view owner, Millis ttl, Millis now,
                           bool shared = false);
  // Takes the holder out of the key and the wheel; no waiter is served, no key erased.
  void remove_holder(std::uint32_t h);
  // Grants free permits to the oldest waiters. `freed_at`: when the permits became free (a
  // release: now; an expiry: the holder's deadline). A waiter whose wait had run out before then
  // is timed out; one still waiting at that moment is granted, its TTL running from `now`.
  void serve_waiters(std::uint32_t slot, Millis now, Millis freed_at) {
    if (keys[slot].ext != detail::kNil) serve_waiters_slow(slot, now, freed_at);
  }
  void serve_waiters_slow(std::uint32_t slot, Millis now, Millis freed_at);
  // Erases the key when it has no holder and no waiter; true when erased.
  bool erase_if_empty(std::uint32_t slot);
  std::uint32_t create_key(std::string_view key, std::uint64_t hash, std::uint32_t limit);
  void set_first_owner(detail::KeyEntry& e, std::string_view owner);
  detail::KeyExt& ext_of(std::uint32_t slot);
  void drop_ext_if_empty(std::uint32_t slot);
  WaiterId queue_waiter(std::uint32_t slot, const AcquireRequest& req, Millis now);
  void remove_waiter(std::uint32_t w);
  void emit_timeout(std::uint32_t w);
  // Limits of SPEC §2 for an acquire that adds a holder (and creates a key, or queues). kOk or
  // the rejection status; counts rejections and reject_requests=false overruns.
  EngineStatus admit(bool creates_key, bool adds_waiter, Millis now);
  // Expires up to `budget` due holders from the wheel, in deadline order; returns how many.
  std::uint64_t expire_due(Millis now, std::uint64_t budget);
  void shrink_index();
  void shrink_owner_index();
  void shrink_wide_limits();
};

inline detail::WheelLink& Engine::Impl::HolderNodes::link(std::uint32_t h) {
  return (h & detail::kExtraBit) ? m->extras[h & ~detail::kExtraBit].link : m->keys[h].link;
}
inline detail::WheelTime Engine::Impl::HolderNodes::due(std::uint32_t h) const {
  return detail::due_time(m->deadline_of(h));
}
inline detail::WheelLink& Engine::Impl::WaiterNodes::link(std::uint32_t w) {
  return m->waiters[w].link;
}
inline detail::WheelTime Engine::Impl::WaiterNodes::due(std::uint32_t w) const {
  return detail::due_time(m->waiters[w].deadline);
}

inline std::uint64_t Engine::Impl::fence_of(std::uint32_t h) const {
  return (h & detail::kExtraBit) ? extras[h & ~detail::kExtraBit].fence.get() : keys[h].fence.get();
}
inline Millis Engine::Impl::deadline_of(std::uint32_t h) const {
  return (h & detail::kExtraBit) ? extras[h & ~detail::kExtraBit].deadline.get_signed()
                                 : keys[h].deadline.get_signed();
}
inline std::string_view Engine::Impl::owner_of(std::uint32_t h,
                                               detail::OwnerText& scratch) const {
  return (h & detail::kExtraBit) ? extras[h & ~detail::kExtraBit].owner()
                                 : keys[h].owner(scratch);
}

}  // namespace semlock
