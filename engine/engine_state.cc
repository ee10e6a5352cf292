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
      holder_wheel(HolderNodes{this}),
      waiter_wheel(WaiterNodes{this}) {
  // The idle table: the smallest one, kept when the engine empties so that a lone
  // acquire/release cycle does not reallocate it.
  index.reserve(1);
  idle_index_capacity = index.capacity();
}

Engine::Impl::~Impl() {
  for (std::uint32_t s = 0; s < keys.capacity(); ++s) {
    KeyEntry& e = keys[s];
    if (e.key_len != 0 && e.on_heap) {
      detail::counted_free(&bytes, const_cast<char*>(e.data()),
                           std::size_t{e.key_len} + e.owner_len);
    }
  }
  for (std::uint32_t x = 0; x < extras.capacity(); ++x) {
    ExtraHolder& h = extras[x];
    if (h.owner_len != 0 && h.on_heap) {
      detail::counted_free(&bytes, const_cast<char*>(h.data()), h.owner_len);
    }
  }
}

void Engine::Impl::set_deadline(std::uint32_t h, Millis deadline) {
  if (h & kExtraBit) {
    extras[h & ~kExtraBit].deadline.set_signed(deadline);
  } else {
    keys[h].deadline.set_signed(deadline);
  }
  holder_wheel.reschedule(h);
  log_hold(h);
}

namespace {

// memcpy with an empty source is fine in practice but undefined when the pointer is null.
void copy_bytes(char* dst, std::string_view src) {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
}

}  // namespace

// Key and first owner share the entry's buffer when they fit; otherwise one heap block holds
// both, sized exactly (key_len + owner_len), so its size is known when it is freed.
void Engine::Impl::set_first_owner(KeyEntry& e, std::string_view owner) {
  std::size_t old_size = std::size_t{e.key_len} + e.owner_len;
  std::size_t new_size = std::size_t{e.key_len} + owner.size();
  if (!e.on_heap && new_size <= kKeyInlineBytes) {
    copy_bytes(e.buf + e.key_len, owner);
  } else if (new_size <= kKeyInlineBytes) {
    char* old = const_cast<char*>(e.data());
    std::memcpy(e.buf, old, e.key_len);
    copy_bytes(e.buf + e.key_len, owner);
    detail::counted_free(&bytes, old, old_size);
    e.on_heap = 0;
  } else {
    char* block = detail::counted_alloc(&bytes, new_size);
    std::memcpy(block, e.data(), e.key_len);
    copy_bytes(block + e.key_len, owner);
    if (e.on_heap) detail::counted_free(&bytes, const_cast<char*>(e.data()), old_size);
    std::memcpy(e.buf, &block, sizeof block);
    e.on_heap = 1;
  }
  e.owner_len = static_cast<std::uint8_t>(owner.size());
}

std::uint32_t Engine::Impl::create_key(std::string_view key, std::uint64_t hash,
                                       std::uint32_t limit) {
  std::uint32_t slot = keys.alloc();
  KeyEntry& e = keys[slot];
  e.limit = limit;
  e.key_len = static_cast<std::uint16_t>(key.size());
  if (key.size() <= kKeyInlineBytes) {
    std::memcpy(e.buf, key.data(), key.size());
  } else {
    char* block = detail::counted_alloc(&bytes, key.size());
    std::memcpy(block, key.data(), key.size());
    std::memcpy(e.buf, &block, sizeof block);
    e.on_heap = 1;
  }
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
  if (e.on_heap) detail::counted_free(&bytes, const_cast<char*>(e.data()), e.key_len);
  e.key_len = 0;
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
                                       Millis now) {
  std::uint64_t fence = next_fence++;
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
  holder_wheel.remove(h);
  --holder_total;
  if (!(h & kExtraBit)) {
    KeyEntry& e = keys[h];
    if (e.on_heap) {
      set_first_owner(e, {});
    } else {
      e.owner_len = 0;  // the key stays where it is
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
  remove_holder(h);
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
    if (ext.waiter_count == 0 || holders_of(slot) >= keys[slot].limit) return;
    std::uint32_t w = ext.waiter_head;
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
    if (held != kNil && !wt.reacquire) {
      ev.granted = false;
      ev.ttl = 0;
    } else if (held != kNil) {
      set_deadline(held, now + wt.ttl);
      ev.fence = fence_of(held);
      ev.refreshed = true;
      ev.deadline = now + wt.ttl;
    } else {
      ev.fence = add_holder(slot, wt.owner(), wt.ttl, now);
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
  waiter_wheel.remove(w);
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
