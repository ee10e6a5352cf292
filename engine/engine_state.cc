// The state transitions every public operation is built from: holders in and out, waiters in
// and out, keys created and erased, permits handed on, limits admitted.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/engine_impl.h"

namespace semlock {

using detail::ExtraHolder;
using detail::kExtraBit;
using detail::KeyEntry;
using detail::KeyExt;
using detail::kKeyInlineBytes;
using detail::kNil;
using detail::kOwnerInlineBytes;
using detail::Waiter;

Engine::Impl::Impl(const EngineLimits& l, std::uint64_t first_fence)
    : limits(l),
      next_fence(first_fence),
      index(0, KeyHash{this}, KeyEq{this}, detail::CountingAllocator<std::uint32_t>(&bytes)),
      owners(0, OwnerHash{this}, OwnerEq{this}, detail::CountingAllocator<std::uint32_t>(&bytes)),
      wide_limits(0, absl::Hash<std::uint32_t>{}, std::equal_to<std::uint32_t>{},
                  WideLimits::allocator_type(&bytes)),
      holder_wheel(HolderNodes{this}),
      waiter_wheel(WaiterNodes{this}) {
  // The idle table: the smallest one, kept when the engine empties so that a lone
  // acquire/release cycle does not reallocate it.
  index.reserve(1);
  idle_index_capacity = index.capacity();
  wide_limits.reserve(1);  // likewise for a lone semaphore
  idle_wide_limits_capacity = wide_limits.capacity();
}

Engine::Impl::~Impl() {
  for (std::uint32_t s = 0; s < keys.capacity(); ++s) {
    KeyEntry& e = keys[s];
    if (e.key_len != 0 && e.owner_on_heap()) {
      detail::counted_free(&bytes, const_cast<char*>(e.owner_data()), e.stored_owner_len());
    }
    if (e.key_len != 0 && e.on_heap()) {
      detail::counted_free(&bytes, const_cast<char*>(e.data()), e.stored_len());
    }
  }
  for (std::uint32_t x = 0; x < extras.capacity(); ++x) {
    ExtraHolder& h = extras[x];
    if (h.owner_len != 0 && h.on_heap) {
      detail::counted_free(&bytes, const_cast<char*>(h.data()), h.owner_len);
    }
  }
}

void Engine::Impl::set_deadline(std::uint32_t h, Millis deadline, std::int64_t holds_before) {
  const Millis before = deadline_of(h);
  if (h & kExtraBit) {
    extras[h & ~kExtraBit].deadline.set_signed(deadline);
  } else {
    keys[h].deadline.set_signed(deadline);
  }
  holder_wheel.reschedule(h);
  if (log_mutations) {
    log_change(
        h, before,
        holds_before < 0 ? holds.count(fence_of(h)) : static_cast<std::uint32_t>(holds_before));
  }
}

namespace {

// memcpy with an empty source is fine in practice but undefined when the pointer is null.
void copy_bytes(char* dst, std::string_view src) {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
}

}  // namespace

// Key and first owner share the entry's buffer when they fit; otherwise a key of up to
// kOwnerPtrAt bytes stays in the buffer and the owner alone goes to a heap block, and a longer key
// goes with its owner to one heap block. Blocks are sized exactly (stored_owner_len(),
// stored_len()), so their size is known when they are freed. A 32-char lowercase hex owner is
// stored as its 16 raw bytes (entries.h).
void Engine::Impl::set_first_owner(KeyEntry& e, std::string_view owner) {
  char packed[detail::kPackedOwnerBytes];
  const bool pack = detail::pack_hex_owner(owner, packed);
  const std::string_view stored = pack ? std::string_view(packed, sizeof packed) : owner;
  const std::size_t old_owner_size = e.stored_owner_len();
  const std::size_t new_size = std::size_t{e.key_len} + stored.size();
  // First the old owner's storage goes; the key is then in buf or alone at the block's start.
  if (e.owner_on_heap()) {
    detail::counted_free(&bytes, const_cast<char*>(e.owner_data()), old_owner_size);
    e.flags &= static_cast<std::uint8_t>(~KeyEntry::kOwnerOnHeap);
  }
  if (e.on_heap() && (new_size <= kKeyInlineBytes || e.key_len <= KeyEntry::kOwnerPtrAt)) {
    char* old = const_cast<char*>(e.data());
    const std::size_t old_size = std::size_t{e.key_len} + old_owner_size;
    std::memcpy(e.buf, old, e.key_len);
    detail::counted_free(&bytes, old, old_size);
    e.flags &= static_cast<std::uint8_t>(~KeyEntry::kOnHeap);
  }
  if (!e.on_heap() && new_size <= kKeyInlineBytes) {
    copy_bytes(e.buf + e.key_len, stored);
  } else if (!e.on_heap() && e.key_len <= KeyEntry::kOwnerPtrAt) {  // the owner alone moves out
    char* block = detail::counted_alloc(&bytes, stored.size());
    copy_bytes(block, stored);
    std::memcpy(e.buf + KeyEntry::kOwnerPtrAt, &block, sizeof block);
    e.flags |= KeyEntry::kOwnerOnHeap;
  } else {
    char* block = detail::counted_alloc(&bytes, new_size);
    std::memcpy(block, e.data(), e.key_len);
    copy_bytes(block + e.key_len, stored);
    if (e.on_heap()) detail::counted_free(&bytes, const_cast<char*>(e.data()), e.stored_len());
    std::memcpy(e.buf, &block, sizeof block);
    e.flags |= KeyEntry::kOnHeap;
  }
  e.owner_len = static_cast<std::uint8_t>(owner.size());
  if (pack) {
    e.flags |= KeyEntry::kOwnerPacked;
  } else {
    e.flags &= static_cast<std::uint8_t>(~KeyEntry::kOwnerPacked);
  }
}

void Engine::Impl::set_limit(std::uint32_t slot, std::uint32_t limit) {
  KeyEntry& e = keys[slot];
  if (limit == 1) {
    if (e.flags & KeyEntry::kWideLimit) {
      wide_limits.erase(slot);
      e.flags &= static_cast<std::uint8_t>(~KeyEntry::kWideLimit);
      shrink_wide_limits();
    }
    return;
  }
  wide_limits[slot] = limit;
  e.flags |= KeyEntry::kWideLimit;
}

// As shrink_index(), for the side table of limits.
void Engine::Impl::shrink_wide_limits() {
  std::size_t cap = wide_limits.capacity();
  if (wide_limits.empty()) {
    if (cap != idle_wide_limits_capacity) {
      WideLimits fresh(0, absl::Hash<std::uint32_t>{}, std::equal_to<std::uint32_t>{},
                       WideLimits::allocator_type(&bytes));
      fresh.reserve(1);
      wide_limits.swap(fresh);
    }
  } else if (cap > 1024 && wide_limits.size() * 8 < cap) {
    wide_limits.rehash(0);
  }
}

std::uint32_t Engine::Impl::create_key(std::string_view key, std::uint64_t hash,
                                       std::uint32_t limit) {
  std::uint32_t slot = keys.alloc();
  KeyEntry& e = keys[slot];
  e.key_len = static_cast<std::uint16_t>(key.size());
  if (key.size() <= kKeyInlineBytes) {
    std::memcpy(e.buf, key.data(), key.size());
  } else {
    char* block = detail::counted_alloc(&bytes, key.size());
    std::memcpy(block, key.data(), key.size());
    std::memcpy(e.buf, &block, sizeof block);
    e.flags |= KeyEntry::kOnHeap;
  }
  if (limit != 1) set_limit(slot, limit);
  hash_cache_slot = slot;
  hash_cache = hash;
  index.insert(slot);
  return slot;
}

bool Engine::Impl::erase_if_empty(std::uint32_t slot) {
  KeyEntry& e = keys[slot];
  if (e.has_first() || e.ext != kNil || slot == pinned_slot) return false;
  index.erase(slot);  // hashes the key: before its bytes are freed
  hash_cache_slot = kNil;
  if (e.on_heap()) detail::counted_free(&bytes, const_cast<char*>(e.data()), e.key_len);
  set_limit(slot, 1);
  e.key_len = 0;
  e.flags = 0;
  keys.free(slot);
  if (index.size() * 8 < index.capacity()) shrink_index();
  return true;
}

// The index gives memory back after mass removals: to the idle table when empty, and to the
// smallest fitting table when under 1/8 full (growth happens at 7/8, so the two never chase
// each other; each rehash is paid for by the removals since the last one).
void Engine::Impl::shrink_index() {
  std::size_t cap = index.capacity();
  if (index.empty()) {
    if (cap != idle_index_capacity) {
      Index fresh(0, KeyHash{this}, KeyEq{this}, detail::CountingAllocator<std::uint32_t>(&bytes));
      fresh.reserve(1);
      index.swap(fresh);
    }
  } else if (cap > 1024 && index.size() * 8 < cap) {
    index.rehash(0);
  }
}

KeyExt& Engine::Impl::ext_of(std::uint32_t slot) {
  if (keys[slot].ext == kNil) keys[slot].ext = exts.alloc();
  return exts[keys[slot].ext];
}

void Engine::Impl::drop_ext_if_empty(std::uint32_t slot) {
  KeyEntry& e = keys[slot];
  if (e.ext == kNil) return;
  const KeyExt& x = exts[e.ext];
  if (x.extra_count == 0 && x.waiter_count == 0) {
    exts.free(e.ext);
    e.ext = kNil;
  }
}

std::uint32_t Engine::Impl::find_extra_holder(std::uint32_t slot, std::string_view owner) const {
  const KeyExt& ext = exts[keys[slot].ext];
  if (ext.owners_indexed) {
    auto it = owners.find(OwnerKey{slot, owner});
    return it == owners.end() ? kNil : (*it | kExtraBit);
  }
  for (std::uint32_t x = ext.extra_head; x != kNil; x = extras[x].next) {
    if (extras[x].owner() == owner) return x | kExtraBit;
  }
  return kNil;
}

// Puts all of a key's extras into the owner index, or takes them all out. O(extras), paid once per
// crossing of kOwnerIndexAt / kOwnerUnindexAt, so amortised O(1) per grant or release.
void Engine::Impl::index_owners(KeyExt& ext, bool on) {
  for (std::uint32_t x = ext.extra_head; x != kNil; x = extras[x].next) {
    if (on) {
      owners.insert(x);
    } else {
      owners.erase(x);
    }
  }
  ext.owners_indexed = on ? 1 : 0;
  if (!on) shrink_owner_index();
}

// As shrink_index(): an empty owner index gives all its memory back (the engine's idle figure does
// not include it), a sparse one rehashes to fit.
void Engine::Impl::shrink_owner_index() {
  if (owners.empty()) {
    if (owners.capacity() != 0) {
      OwnerIndex fresh(0, OwnerHash{this}, OwnerEq{this},
                       detail::CountingAllocator<std::uint32_t>(&bytes));
      owners.swap(fresh);
    }
  } else if (owners.capacity() > 1024 && owners.size() * 8 < owners.capacity()) {
    owners.rehash(0);
  }
}

std::uint64_t Engine::Impl::add_holder(std::uint32_t slot, std::string_view owner, Millis ttl,
                                       Millis now, bool shared) {
  std::uint64_t fence = next_fence++;
  if (shared) holds.set_shared(fence, true);  // before log_hold, which records the mode
  ++holder_total;
  ++counters.granted;
  KeyEntry& e = keys[slot];
  if (!e.has_first()) {
    set_first_owner(e, owner);
    e.fence.set(fence);
    e.deadline.set_signed(now + ttl);
    holder_wheel.insert(slot);
    log_hold(slot);
    return fence;
  }
  std::uint32_t x = extras.alloc();
  ExtraHolder& h = extras[x];
  h.fence.set(fence);
  h.deadline.set_signed(now + ttl);
  h.key = slot;
  h.owner_len = static_cast<std::uint8_t>(owner.size());
  if (owner.size() <= kOwnerInlineBytes) {
    std::memcpy(h.buf, owner.data(), owner.size());
  } else {
    char* block = detail::counted_alloc(&bytes, owner.size());
    std::memcpy(block, owner.data(), owner.size());
    std::memcpy(h.buf, &block, sizeof block);
    h.on_heap = 1;
  }
  KeyExt& ext = ext_of(slot);
  h.prev = ext.extra_tail;
  if (ext.extra_tail != kNil) {
    extras[ext.extra_tail].next = x;
  } else {
    ext.extra_head = x;
  }
  ext.extra_tail = x;
  ++ext.extra_count;
  if (ext.owners_indexed) {
    owners.insert(x);
  } else if (ext.extra_count > detail::kOwnerIndexAt) {
    index_owners(ext, true);
  }
  holder_wheel.insert(x | kExtraBit);
  log_hold(x | kExtraBit);
  return fence;
}

void Engine::Impl::remove_holder(std::uint32_t h) {
  log_drop(h);
  if (!notify_fences.empty()) notify_removed(h);
  if (holds.in_use()) holds.forget(fence_of(h));
  if (!lived.empty()) lived.erase(fence_of(h));  // engine/lived.cc
  holder_wheel.remove(h);
  --holder_total;
  if (!(h & kExtraBit)) {
    KeyEntry& e = keys[h];
    if (e.on_heap() || e.owner_on_heap()) {
      set_first_owner(e, {});
    } else {
      e.owner_len = 0;  // the key stays where it is
      e.flags &= static_cast<std::uint8_t>(~KeyEntry::kOwnerPacked);
    }
    return;
  }
  std::uint32_t x = h & ~kExtraBit;
  ExtraHolder& eh = extras[x];
  std::uint32_t slot = eh.key;
  KeyExt& ext = exts[keys[slot].ext];
  if (ext.owners_indexed) {  // while its owner bytes are still there to hash
    owners.erase(x);
    if (owners.size() * 8 < owners.capacity()) shrink_owner_index();
  }
  if (eh.prev != kNil) {
    extras[eh.prev].next = eh.next;
  } else {
    ext.extra_head = eh.next;
  }
  if (eh.next != kNil) {
    extras[eh.next].prev = eh.prev;
  } else {
    ext.extra_tail = eh.prev;
  }
  --ext.extra_count;
  if (ext.owners_indexed && ext.extra_count < detail::kOwnerUnindexAt) index_owners(ext, false);
  if (eh.on_heap) detail::counted_free(&bytes, const_cast<char*>(eh.data()), eh.owner_len);
  eh.owner_len = 0;  // marks the slot free (the destructor frees heap owners of live ones)
  eh.on_heap = 0;
  extras.free(x);
  drop_ext_if_empty(slot);
}

void Engine::Impl::expire_holder(std::uint32_t h, Millis now) {
  const std::uint32_t slot = key_of_holder(h);
  const Millis freed_at = deadline_of(h);
  {
    ReasonScope reason(*this, LostReason::kExpired);
    remove_holder(h);
  }
  ++counters.expired_holders;
  serve_waiters(slot, now, freed_at);
}

bool Engine::Impl::purge_first(std::uint32_t slot, Millis now) {
  KeyEntry& e = keys[slot];
  if (e.has_first() && detail::is_due(e.deadline.get_signed(), now)) expire_holder(slot, now);
  return !erase_if_empty(slot);
}

bool Engine::Impl::purge_many(std::uint32_t slot, Millis now) {
  pinned_slot = slot;
  expire_due(now, std::min<std::uint64_t>(limits.max_expiries_per_tick, detail::kAccessExpiries));
  if (holder_wheel.has_due(now)) purge_scan(slot, now);  // the budget ran out first
  pinned_slot = kNil;
  return !erase_if_empty(slot);
}

void Engine::Impl::purge_scan(std::uint32_t slot, Millis now) {
  std::vector<std::uint32_t> due;
  const KeyEntry& e = keys[slot];
  if (e.has_first() && detail::is_due(e.deadline.get_signed(), now)) due.push_back(slot);
  if (e.ext != kNil) {
    for (std::uint32_t x = exts[e.ext].extra_head; x != kNil; x = extras[x].next) {
      if (detail::is_due(extras[x].deadline.get_signed(), now)) due.push_back(x | kExtraBit);
    }
  }
  // In deadline order, so that each freed permit goes to the waiter still waiting at its moment.
  std::stable_sort(due.begin(), due.end(), [this](std::uint32_t a, std::uint32_t b) {
    return deadline_of(a) < deadline_of(b);
  });
  for (std::uint32_t h : due) {
    // A waiter served by an earlier expiry may have refreshed this one (same owner): then it
    // is no longer due.
    if (detail::is_due(deadline_of(h), now)) expire_holder(h, now);
  }
}

void Engine::Impl::emit_timeout(std::uint32_t w) {
  const Waiter& wt = waiters[w];
  events.push_back(WaiterEvent{wt.tag, WaiterId{w, wt.generation}, false, 0, 0});
  ++counters.waiter_timeouts;
}

void Engine::Impl::serve_waiters_slow(std::uint32_t slot, Millis now, Millis freed_at) {
  while (keys[slot].ext != kNil) {
    KeyExt& ext = exts[keys[slot].ext];
    if (ext.waiter_count == 0) return;
    std::uint32_t w = ext.waiter_head;
    if (multi && has_groups()) {  // an ACQUIREALL at the head (engine/multi.cc)
      const int g = serve_group_head(slot, w, now, freed_at);
      if (g == 0) return;
      if (g == 1) continue;
    }
    const std::uint8_t wflags = holds.waiter_flags(w);
    if (!can_take(slot, (wflags & detail::kWaitShared) != 0)) return;
    const Waiter& wt = waiters[w];
    // A wait that ends at the very moment the permit frees is served: expiries come before
    // waiter timeouts (SPEC §1).
    if (wt.deadline < freed_at) {
      emit_timeout(w);
      remove_waiter(w);
      continue;
    }
    // The waiter's owner may have come to hold the key while it waited (SET, or the same owner
    // queued twice). An explicit owner is refreshed (same fence), as its acquire would be; a
    // derived owner is told "not acquired", as its acquire would be, and the permit goes on.
    WaiterEvent ev{wt.tag, WaiterId{w, wt.generation}, true, 0, wt.ttl, false};
    const std::uint32_t held = find_holder(slot, wt.owner());
    const bool reentrant = (wflags & detail::kWaitReentrant) != 0;
    const bool refused =
        held != kNil && ((!wt.reacquire && !reentrant) ||
                         holds.is_shared(fence_of(held)) != ((wflags & detail::kWaitShared) != 0));
    bool added_mark = false;
    if (notify_waiter(wt.tag) && !refused) {
      const std::uint64_t marked = held != kNil ? fence_of(held) : next_fence;
      added_mark = !notify_fences.contains(marked);
      notify_mark(marked);  // before the hold is logged
    }
    if (refused) {
      ev.granted = false;  // a derived owner, or the owner holds in the other mode
      ev.ttl = 0;
    } else if (held != kNil) {
      const std::uint32_t before = holds.count(fence_of(held));
      if (reentrant) holds.add_hold(fence_of(held));
      set_deadline(held, now + wt.ttl, before);
      unmark_lived(fence_of(held));
      ev.fence = fence_of(held);
      ev.refreshed = true;
      // The grant is one hold of the count: one to take back if it cannot be delivered.
      ev.added_hold = holds.count(fence_of(held)) != before;
      ev.added_mark = added_mark;
      ev.deadline = now + wt.ttl;
    } else {
      ev.fence = add_holder(slot, wt.owner(), wt.ttl, now, (wflags & detail::kWaitShared) != 0);
      ev.deadline = now + wt.ttl;
    }
    events.push_back(ev);
    remove_waiter(w);
  }
}

WaiterId Engine::Impl::queue_waiter(std::uint32_t slot, const AcquireRequest& req, Millis now) {
  std::uint32_t w = waiters.alloc();
  Waiter& wt = waiters[w];
  if (++last_generation == 0) ++last_generation;  // 0 marks a free slot
  wt.tag = req.tag;
  wt.deadline = now + req.wait;
  wt.wait_ms = static_cast<std::uint32_t>(
      std::min<Millis>(req.wait, std::numeric_limits<std::uint32_t>::max()));
  wt.ttl = req.ttl;
  wt.key = slot;
  wt.generation = last_generation;
  wt.owner_len = static_cast<std::uint8_t>(req.owner.size());
  wt.reacquire = req.reacquire ? 1 : 0;
  if (req.notify) notify_tags.insert(req.tag);
  std::memcpy(wt.owner_buf, req.owner.data(), req.owner.size());
  KeyExt& ext = ext_of(slot);
  wt.prev = ext.waiter_tail;
  if (ext.waiter_tail != kNil) {
    waiters[ext.waiter_tail].next = w;
  } else {
    ext.waiter_head = w;
  }
  ext.waiter_tail = w;
  ++ext.waiter_count;
  ++waiter_total;
  waiter_wheel.insert(w);
  return WaiterId{w, wt.generation};
}

void Engine::Impl::remove_waiter(std::uint32_t w) {
  Waiter& wt = waiters[w];
  std::uint32_t slot = wt.key;
  KeyExt& ext = exts[keys[slot].ext];
  if (wt.prev != kNil) {
    waiters[wt.prev].next = wt.next;
  } else {
    ext.waiter_head = wt.next;
  }
  if (wt.next != kNil) {
    waiters[wt.next].prev = wt.prev;
  } else {
    ext.waiter_tail = wt.prev;
  }
  --ext.waiter_count;
  --waiter_total;
  if (!holds.waiters.empty()) {
    holds.waiters.erase(w);
    holds.shrink();
  }
  waiter_wheel.remove(w);
  if (!notify_tags.empty() && notify_tags.erase(wt.tag) > 0) shrink_if_empty(notify_tags);
  wt.generation = 0;
  waiters.free(w);
  drop_ext_if_empty(slot);
}

std::uint64_t Engine::Impl::expire_due(Millis now, std::uint64_t budget) {
  std::uint64_t done = 0;
  if (replica) return done;  // the leader decides expiry (set_replica)
  while (done < budget) {
    std::uint32_t h = holder_wheel.pop_due(now);
    if (h == kNil) break;
    const std::uint32_t slot = key_of_holder(h);
    expire_holder(h, now);
    ++done;
    erase_if_empty(slot);
  }
  return done;
}

EngineStatus Engine::Impl::admit(bool creates_key, bool adds_waiter, Millis now) {
  auto over_locks = [&] {
    return creates_key && limits.max_locks != 0 && index.size() + data_keys >= limits.max_locks;
  };
  auto over_memory = [&] {
    return limits.max_memory_bytes != 0 && used_memory() >= limits.max_memory_bytes;
  };
  auto over_waiters = [&] { return adds_waiter && waiter_total + data_waiters >= limits.max_waiters; };
  if (!over_locks() && !over_memory() && !over_waiters()) return EngineStatus::kOk;
  // Due holders are absent (SPEC §1): remove them before saying the server is full.
  expire_due(now, limits.max_expiries_per_tick);
  bool locks = over_locks();
  bool memory = over_memory();
  if (over_waiters()) {
    ++counters.rejected_max_waiters;
    return EngineStatus::kOverMaxWaiters;
  }
  if (limits.reject_requests) {
    if (locks) {
      ++counters.rejected_max_locks;
      return EngineStatus::kOverMaxLocks;
    }
    if (memory) {
      ++counters.rejected_memory;
      return EngineStatus::kOverMemory;
    }
    return EngineStatus::kOk;
  }
  if (locks) ++counters.exceeded_max_locks;
  if (memory) ++counters.exceeded_memory;
  return EngineStatus::kOk;
}

}  // namespace semlock
