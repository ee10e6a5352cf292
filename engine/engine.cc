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

}  // namespace

AcquireResult Engine::acquire(const AcquireRequest& req, Millis now) {
  Impl& m = *impl_;
  AcquireResult r;
  const EngineLimits& l = m.limits;
  if (bad_key(req.key, l)) return {EngineStatus::kBadKey};
  if (bad_owner(req.owner)) return {EngineStatus::kBadOwner};
  if (bad_ttl(req.ttl, l)) return {EngineStatus::kBadTtl};
  if (req.limit > l.max_permits) return {EngineStatus::kBadLimit};
  if (req.wait < 0 || req.wait > l.max_ttl) return {EngineStatus::kBadWait};
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
    r.fence = m.add_holder(slot, req.owner, req.ttl, now);
    r.ttl = req.ttl;
    return r;
  }
  if (req.limit != 0 && req.limit != m.keys[slot].limit) return {EngineStatus::kMismatch};
  std::uint32_t held = m.find_holder(slot, req.owner);
  if (held != kNil) {
    if (!req.reacquire) return {EngineStatus::kNotGranted};
    m.set_deadline(held, now + req.ttl);
    return {EngineStatus::kRefreshed, m.fence_of(held), req.ttl};
  }
  // No barging: while anyone waits, the permits belong to the queue.
  if (m.waiters_of(slot) == 0 && m.holders_of(slot) < m.keys[slot].limit) {
    r.status = m.admit(false, false, now);
    if (r.status != EngineStatus::kOk) return r;
    r.status = EngineStatus::kGranted;
    r.fence = m.add_holder(slot, req.owner, req.ttl, now);
    r.ttl = req.ttl;
    return r;
  }
  if (req.wait == 0) return {EngineStatus::kNotGranted};
  r.status = m.admit(false, true, now);
  if (r.status != EngineStatus::kOk) return r;
  r.status = EngineStatus::kQueued;
  r.waiter = m.queue_waiter(slot, req, now);
  return r;
}

EngineStatus Engine::release(std::string_view key, std::string_view owner, Millis now) {
  Impl& m = *impl_;
  m.observe(now);
  ++m.counters.release_requests;
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return EngineStatus::kNotHeld;
  std::uint32_t held = m.find_holder(slot, owner);
  if (held == kNil) return EngineStatus::kNotHeld;
  m.remove_holder(held);
  m.serve_waiters(slot, now, now);
  m.erase_if_empty(slot);
  return EngineStatus::kOk;
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
                                         std::uint64_t fence, Millis deadline, Millis now) {
  Impl& m = *impl_;
  m.observe(now);
  std::uint32_t slot = m.find(key);
  if (slot == kNil || !m.purge(slot, now)) return EngineStatus::kNotHeld;
  std::uint32_t held = m.find_holder(slot, owner);
  if (held == kNil || m.fence_of(held) != fence || m.deadline_of(held) != deadline) {
    return EngineStatus::kNotHeld;
  }
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
  info.limit = e.limit;
  info.waiters = m.waiters_of(slot);
  if (e.ext != kNil) {
    for (std::uint32_t w = m.exts[e.ext].waiter_head; w != kNil; w = m.waiters[w].next) {
      const detail::Waiter& wt = m.waiters[w];
      info.waiter_ages.push_back(std::max<Millis>(0, now - (wt.deadline - wt.wait_ms)));
    }
  }
  auto add = [&](std::uint32_t h) {
    info.holders.push_back(
        // A replica keeps a due holder until the leader drops it (set_replica): 0 left, not less.
        HolderInfo{std::string(m.owner_of(h)), m.fence_of(h),
                   std::max<Millis>(0, m.deadline_of(h) - now)});
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
  if (e.limit > 1) return {EngineStatus::kWrongType};
  if (!e.has_first()) {  // a mutex with waiters always has its holder; kept for safety
    r.status = m.admit(false, false, now);
    if (r.status != EngineStatus::kOk) return r;
    return {EngineStatus::kOk, m.add_holder(slot, owner, ttl, now), ttl};
  }
  if (e.owner() != owner) {
    m.log_drop(slot);  // the old owner's holder ends here; set_deadline logs the new one
    m.set_first_owner(e, owner);
    e.fence.set(m.next_fence++);
    ++m.counters.granted;
  }
  m.set_deadline(slot, now + ttl);
  return {EngineStatus::kOk, e.fence.get(), ttl};
}

bool Engine::cancel_waiter(WaiterId id) {
  Impl& m = *impl_;
  if (id.generation == 0 || id.slot >= m.waiters.capacity()) return false;
  if (m.waiters[id.slot].generation != id.generation) return false;
  std::uint32_t slot = m.waiters[id.slot].key;
  m.remove_waiter(id.slot);
  m.erase_if_empty(slot);
  return true;
}

void Engine::time_out_all_waiters() {
  Impl& m = *impl_;
  for (std::uint32_t w = 0; w < m.waiters.capacity(); ++w) {
    if (m.waiters[w].generation == 0) continue;
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
    std::uint32_t slot = m.waiters[w].key;
    m.emit_timeout(w);
    m.remove_waiter(w);
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
