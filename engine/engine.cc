// The public operations of engine.h on top of the state transitions in engine_state.cc.
#include "engine/engine.h"

#include <algorithm>

#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

Engine::Engine(EngineLimits limits, std::uint64_t first_fence)
    : impl_(std::make_unique<Impl>(limits, first_fence)) {
  impl_->data = std::make_unique<DataStore>(*this, &impl_->bytes);
}

DataStore& Engine::data() {
  return *impl_->data;
}

Engine::~Engine() = default;

namespace {

bool bad_key(std::string_view key, const EngineLimits& l) {
  // Keys are stored with a 16-bit length, whatever max_key_bytes says.
  return key.empty() || key.size() > l.max_key_bytes || key.size() > 0xFFFF;
}
bool bad_owner(std::string_view owner) {
  return owner.empty() || owner.size() > kMaxOwnerBytes;
}
bool bad_ttl(Millis ttl, const EngineLimits& l) {
  return ttl <= 0 || ttl > l.max_ttl;
}

// The request's owner; made now, once, when the client named none (AcquireRequest::make_owner).
std::string_view owner_for(const AcquireRequest& req, AcquireResult& r) {
  if (!req.owner.empty() || req.make_owner == nullptr) return req.owner;
  if (r.made_owner.empty()) r.made_owner = req.make_owner->make();
  return r.made_owner;
}

}  // namespace

AcquireResult Engine::acquire(const AcquireRequest& req, Millis now) {
  Impl& m = *impl_;
  AcquireResult r;
  const EngineLimits& l = m.limits;
  if (bad_key(req.key, l)) return {EngineStatus::kBadKey};
  const bool to_make = req.owner.empty() && req.make_owner != nullptr;
  if (!to_make && bad_owner(req.owner)) return {EngineStatus::kBadOwner};
  if (bad_ttl(req.ttl, l)) return {EngineStatus::kBadTtl};
  if (req.limit > l.max_permits) return {EngineStatus::kBadLimit};
  if (req.wait < 0 || req.wait > l.max_ttl) return {EngineStatus::kBadWait};
  if (req.shared && req.limit > 1) return {EngineStatus::kBadShared};
  m.observe(now);
  ++m.counters.acquire_requests;

  std::uint64_t hash = detail::hash_key(req.key);
  std::uint32_t slot = m.find(req.key, hash);
  if (slot != kNil && !m.purge(slot, now)) slot = kNil;
  if (slot == kNil && m.data_keys != 0 && m.data->find(req.key, now)) {
    return {EngineStatus::kWrongType};  // a data key (SPEC §3: one type per key)
  }
  if (slot == kNil) {
    r.status = m.admit(/*creates_key=*/true, /*adds_waiter=*/false, now);
    if (r.status != EngineStatus::kOk) return r;
    slot = m.create_key(req.key, hash, req.limit != 0 ? req.limit : 1);
    r.status = EngineStatus::kGranted;
    if (req.notify) m.notify_mark(m.next_fence);  // before add_holder logs the hold
    r.fence = m.add_holder(slot, owner_for(req, r), req.ttl, now, req.shared);
    r.ttl = req.ttl;
    return r;
  }
  if (req.limit != 0 && req.limit != m.limit_of(slot)) return {EngineStatus::kMismatch};
  if (req.shared && m.limit_of(slot) > 1) return {EngineStatus::kWrongType};  // a semaphore
  // A try (no wait) that may not refresh: refused whether or not the owner already holds the key
  // when no permit is free, so its owner is not looked for (it may sit in a heap block).
  const bool free_permit = m.waiters_of(slot) == 0 && m.can_take(slot, req.shared);
  if (!req.reacquire && !req.reentrant && req.wait == 0 && !free_permit) {
    return {EngineStatus::kNotGranted};
  }
  std::uint32_t held = to_make ? kNil : m.find_holder(slot, req.owner);  // a made owner is new
  if (held != kNil) {
    if (!req.reacquire && !req.reentrant) return {EngineStatus::kNotGranted};
    const std::uint64_t fence = m.fence_of(held);
    if (m.holds.is_shared(fence) != req.shared) return {EngineStatus::kModeConflict};
    const std::uint32_t before = m.holds.count(fence);
    if (req.reentrant) m.holds.add_hold(fence);  // before set_deadline, which logs the count
    if (req.notify) m.notify_mark(fence);
    m.set_deadline(held, now + req.ttl, before);
    m.unmark_lived(m.fence_of(held));
    return {EngineStatus::kRefreshed, fence, req.ttl};
  }
  // No barging: while anyone waits, the permits belong to the queue (and a waiting writer keeps
  // new readers out: phase-fair read-write locks).
  if (free_permit) {
    r.status = m.admit(false, false, now);
    if (r.status != EngineStatus::kOk) return r;
    r.status = EngineStatus::kGranted;
    if (req.notify) m.notify_mark(m.next_fence);
    r.fence = m.add_holder(slot, owner_for(req, r), req.ttl, now, req.shared);
    r.ttl = req.ttl;
    return r;
  }
  if (req.wait == 0) return {EngineStatus::kNotGranted};
  r.status = m.admit(false, true, now);
  if (r.status != EngineStatus::kOk) return r;
  r.status = EngineStatus::kQueued;
  if (to_make) {
    AcquireRequest made = req;
    made.owner = owner_for(req, r);
    r.waiter = m.queue_waiter(slot, made, now);
  } else {
    r.waiter = m.queue_waiter(slot, req, now);
  }
  if (req.shared || req.reentrant) {
    m.holds.waiters.insert_or_assign(
        r.waiter.slot, static_cast<std::uint8_t>((req.shared ? detail::kWaitShared : 0) |
                                                 (req.reentrant ? detail::kWaitReentrant : 0)));
  }
  return r;
}

Engine::Impl::ReleaseOutcome Engine::Impl::release_one(std::string_view key, std::string_view owner,
                                                       Millis now) {
  observe(now);
  ++counters.release_requests;
  std::uint32_t slot = find(key);
  if (slot == kNil || !purge(slot, now)) return ReleaseOutcome::kNotHeld;
  std::uint32_t held = find_holder(slot, owner);
  if (held == kNil) return ReleaseOutcome::kNotHeld;
  if (!holds.counts.empty()) {
    const std::uint64_t fence = fence_of(held);
    const std::uint32_t count = holds.count(fence);
    if (count > 1) {  // a reentrant holder: one hold fewer, the holder stays
      holds.set_count(fence, count - 1);
      log_change(held, deadline_of(held), count);
      return ReleaseOutcome::kHoldTaken;
    }
  }
  remove_holder(held);
  serve_waiters(slot, now, now);
  erase_if_empty(slot);
  return ReleaseOutcome::kRemoved;
}

EngineStatus Engine::release(std::string_view key, std::string_view owner, Millis now) {
  return impl_->release_one(key, owner, now) == Impl::ReleaseOutcome::kNotHeld
             ? EngineStatus::kNotHeld
             : EngineStatus::kOk;
}

EngineStatus Engine::release_fenced(std::string_view key, std::string_view owner,
                                    std::uint64_t fence, Millis now) {
  Impl& m = *impl_;
  m.observe(now);
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return EngineStatus::kNotHeld;
  std::uint32_t held = m.find_holder(slot, owner);
  if (held == kNil || m.fence_of(held) != fence) return EngineStatus::kNotHeld;
  m.remove_holder(held);
  m.serve_waiters(slot, now, now);
  m.erase_if_empty(slot);
  return EngineStatus::kOk;
}

EngineStatus Engine::release_unrefreshed(std::string_view key, std::string_view owner,
                                         std::uint64_t fence, Millis deadline, Millis now,
                                         bool added_mark) {
  Impl& m = *impl_;
  m.observe(now);
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return EngineStatus::kNotHeld;
  std::uint32_t held = m.find_holder(slot, owner);
  if (held == kNil || m.fence_of(held) != fence) return EngineStatus::kNotHeld;
  if (!m.holds.counts.empty()) {
    // Reentrant holds were added since (or by) the grant: the grant was one of them, and only
    // that one goes back. The holder's deadline stays (its other holds were told it).
    const std::uint32_t count = m.holds.count(fence);
    if (count > 1) {
      m.holds.set_count(fence, count - 1);
      // The grant's NOTIFY mark goes with its hold (logged: the holder without it).
      if (added_mark && m.notify_fences.erase(fence) > 0) m.shrink_if_empty(m.notify_fences);
      m.log_change(held, m.deadline_of(held), count);
      return EngineStatus::kOk;
    }
  }
  if (m.deadline_of(held) != deadline) return EngineStatus::kNotHeld;
  m.remove_holder(held);
  m.serve_waiters(slot, now, now);
  m.erase_if_empty(slot);
  return EngineStatus::kOk;
}

std::uint64_t Engine::release_all(std::string_view key, Millis now, bool count_as_release) {
  Impl& m = *impl_;
  m.observe(now);
  if (count_as_release) ++m.counters.release_requests;
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return 0;
  std::uint64_t removed = 0;
  Impl::ReasonScope reason(m, LostReason::kForced);
  // Only the holders present now: waiters served afterwards keep their fresh grants.
  while (m.keys[slot].ext != kNil && m.exts[m.keys[slot].ext].extra_count != 0) {
    m.remove_holder(m.exts[m.keys[slot].ext].extra_head | detail::kExtraBit);
    ++removed;
  }
  if (m.keys[slot].has_first()) {
    m.remove_holder(slot);
    ++removed;
  }
  m.serve_waiters(slot, now, now);
  m.erase_if_empty(slot);
  return removed;
}

EngineStatus Engine::extend(std::string_view key, std::string_view owner, Millis ttl, Millis now) {
  Impl& m = *impl_;
  if (bad_ttl(ttl, m.limits)) return EngineStatus::kBadTtl;
  m.observe(now);
  ++m.counters.extend_requests;
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return EngineStatus::kNotHeld;
  std::uint32_t held = m.find_holder(slot, owner);
  if (held == kNil) return EngineStatus::kNotHeld;
  m.set_deadline(held, now + ttl);
  m.unmark_lived(m.fence_of(held));
  return EngineStatus::kOk;
}

bool Engine::exists(std::string_view key, Millis now) {
  Impl& m = *impl_;
  ++m.reads;
  m.observe(now);
  std::uint32_t slot = m.find(key);
  return slot != kNil && m.purge(slot, now) && m.holders_of(slot) != 0;
}

std::optional<KeyInfo> Engine::info(std::string_view key, Millis now) {
  Impl& m = *impl_;
  ++m.reads;
  m.observe(now);
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now) || m.holders_of(slot) == 0) return std::nullopt;
  const detail::KeyEntry& e = m.keys[slot];
  KeyInfo info;
  info.limit = m.limit_of(slot);
  info.shared = m.key_shared(slot);
  info.waiters = m.waiters_of(slot);
  if (e.ext != kNil) {
    for (std::uint32_t w = m.exts[e.ext].waiter_head; w != kNil; w = m.waiters[w].next) {
      const detail::Waiter& wt = m.waiters[w];
      info.waiter_ages.push_back(std::max<Millis>(0, now - (wt.deadline - wt.wait_ms)));
    }
  }
  detail::OwnerText scratch;
  auto add = [&](std::uint32_t h) {
    info.holders.push_back(
        // A replica keeps a due holder until the leader drops it (set_replica): 0 left, not less.
        HolderInfo{std::string(m.owner_of(h, scratch)), m.fence_of(h),
                   std::max<Millis>(0, m.deadline_of(h) - now), m.holds.count(m.fence_of(h)),
                   !m.notify_fences.empty() && m.notify_fences.contains(m.fence_of(h))});
  };
  if (e.has_first()) add(slot);
  if (e.ext != kNil) {
    for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
      add(x | detail::kExtraBit);
    }
  }
  // Fences are handed out in grant order, so sorting by fence is grant order.
  std::sort(info.holders.begin(), info.holders.end(),
            [](const HolderInfo& a, const HolderInfo& b) { return a.fence < b.fence; });
  return info;
}

AcquireResult Engine::set_holder(std::string_view key, std::string_view owner, Millis ttl,
                                 Millis now) {
  Impl& m = *impl_;
  if (bad_key(key, m.limits)) return {EngineStatus::kBadKey};
  if (bad_owner(owner)) return {EngineStatus::kBadOwner};
  if (bad_ttl(ttl, m.limits)) return {EngineStatus::kBadTtl};
  m.observe(now);
  AcquireResult r;
  std::uint64_t hash = detail::hash_key(key);
  std::uint32_t slot = m.find(key, hash);
  if (slot != kNil && !m.purge(slot, now)) slot = kNil;
  if (slot == kNil && m.data_keys != 0) m.data->remove(key, now);  // SET replaces a data key
  if (slot == kNil) {
    r.status = m.admit(true, false, now);
    if (r.status != EngineStatus::kOk) return r;
    slot = m.create_key(key, hash, 1);
    return {EngineStatus::kOk, m.add_holder(slot, owner, ttl, now), ttl};
  }
  detail::KeyEntry& e = m.keys[slot];
  if (m.limit_of(slot) > 1 || m.key_shared(slot)) return {EngineStatus::kWrongType};
  if (!e.has_first()) {  // a mutex with waiters always has its holder; kept for safety
    r.status = m.admit(false, false, now);
    if (r.status != EngineStatus::kOk) return r;
    return {EngineStatus::kOk, m.add_holder(slot, owner, ttl, now), ttl};
  }
  if (!e.owner_is(owner)) {
    Impl::ReasonScope reason(m, LostReason::kForced);
    m.log_drop(slot);  // the old owner's holder ends here; set_deadline logs the new one
    if (!m.notify_fences.empty()) m.notify_removed(slot);
    if (m.holds.in_use()) m.holds.forget(e.fence.get());
    m.unmark_lived(e.fence.get());  // the new owner's holder is a plain one
    m.set_first_owner(e, owner);
    e.fence.set(m.next_fence++);
    ++m.counters.granted;
    m.set_deadline(slot, now + ttl, 0);  // a new holder
    return {EngineStatus::kOk, e.fence.get(), ttl};
  }
  m.set_deadline(slot, now + ttl);
  return {EngineStatus::kOk, e.fence.get(), ttl};
}

bool Engine::cancel_waiter(WaiterId id) {
  Impl& m = *impl_;
  if (id.generation == 0 || id.slot >= m.waiters.capacity()) return false;
  if (m.waiters[id.slot].generation != id.generation) return false;
  if (m.multi && m.has_groups() && m.cancel_group_of(id.slot)) return true;
  std::uint32_t slot = m.waiters[id.slot].key;
  const bool was_head = m.holds.in_use() && m.exts[m.keys[slot].ext].waiter_head == id.slot;
  m.remove_waiter(id.slot);
  // Readers queued behind a cancelled writer may fit now; this call has no clock: tick() serves.
  if (was_head && m.waiters_of(slot) != 0) m.serve_later.emplace_back(m.keys[slot].key());
  m.erase_if_empty(slot);
  return true;
}

void Engine::time_out_all_waiters() {
  Impl& m = *impl_;
  for (std::uint32_t w = 0; w < m.waiters.capacity(); ++w) {
    if (m.waiters[w].generation == 0) continue;
    if (m.multi && m.has_groups() && m.time_out_group_of(w, m.last_now, kNil, false)) continue;
    std::uint32_t slot = m.waiters[w].key;
    m.events.push_back(
        WaiterEvent{m.waiters[w].tag, WaiterId{w, m.waiters[w].generation}, false, 0, 0});
    m.remove_waiter(w);
    m.erase_if_empty(slot);
  }
}

void Engine::tick(Millis now) {
  Impl& m = *impl_;
  m.observe(now);
  if (!m.serve_later.empty()) m.serve_pending(now);
  if (m.multi && !m.multi->pending.empty()) m.serve_pending_groups(now);  // engine/multi.cc
  const std::uint64_t expired = m.expire_due(now, m.limits.max_expiries_per_tick);
  // Data keys share the budget, after the holders (engine/data.h).
  if (expired < m.limits.max_expiries_per_tick) {
    m.data->expire_due(now, m.limits.max_expiries_per_tick - expired);
  }
  m.data->time_out_pop_waiters(now, m.limits.max_expiries_per_tick);
  // Waiter timeouts after expiries: a permit freed in this tick goes to a waiter that was still
  // waiting when it freed. While due holders remain (a mass expiry larger than the budget), the
  // timeouts wait for them too, so no waiter is turned away by a permit that is only still held
  // for want of budget; they are answered a tick or a few later instead.
  if (m.holder_wheel.has_due(now)) return;
  for (std::uint32_t n = 0; n < m.limits.max_expiries_per_tick; ++n) {
    std::uint32_t w = m.waiter_wheel.pop_due(now);
    if (w == kNil) break;
    if (m.multi && m.has_groups() && m.time_out_group_of(w, now, kNil)) continue;
    std::uint32_t slot = m.waiters[w].key;
    m.emit_timeout(w);
    m.remove_waiter(w);
    // With read-write locks, the waiters behind a writer that gave up may be readers that fit.
    if (m.holds.in_use()) m.serve_waiters(slot, now, now);
    m.erase_if_empty(slot);
  }
}

std::vector<WaiterEvent> Engine::take_events() {
  std::vector<WaiterEvent> out;
  out.swap(impl_->events);
  return out;
}

bool Engine::has_events() const {
  return !impl_->events.empty();
}

}  // namespace semlock
