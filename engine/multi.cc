// All-or-nothing multi-key acquire (SEMLOCK.ACQUIREALL, engine.h acquire_all) and its waiting
// groups (engine/multi.h).
//
// Why it cannot deadlock: a request never holds some of its keys while it waits for others; it
// holds nothing until every key is granted in one step. While it waits, it sits in every key's
// FIFO queue, and all those places are taken in one call, so two requests that share keys are in
// the same order in each shared queue (a global order by arrival). The oldest waiting request is
// therefore at the head of every one of its queues; each key's permits come back when their
// holders release or expire (every holder has a TTL), and no new holder is added while a key has
// waiters (no barging), so the oldest request is granted at the latest when the last of its
// keys' current holders is gone. By induction every request is granted or runs out of wait.
//
// Why it is not starved by single-key acquires: at the head of a key's queue with a free permit,
// the request keeps that permit (no one else may take it) until its other keys are free. The
// price: that permit stays idle meanwhile. A request waiting for keys it is not yet first in line
// for reserves nothing.
#include <algorithm>

#include "engine/engine_impl.h"
#include "engine/multi.h"

namespace semlock {

using detail::kNil;
using detail::MultiGroup;
using detail::MultiState;

namespace {

bool bad_key(std::string_view key, const EngineLimits& l) {
  return key.empty() || key.size() > l.max_key_bytes || key.size() > 0xFFFF;
}

// Removes the group's waiters and its entries. The keys it waited on (but `keep`) are queued for
// serving: their heads changed.
void remove_group(Engine::Impl& m, std::uint32_t gid, std::uint32_t keep) {
  MultiState& st = *m.multi;
  auto it = st.groups.find(gid);
  const MultiGroup g = std::move(it->second);
  st.groups.erase(it);
  for (const std::uint32_t w : g.members) {
    const std::uint32_t slot = m.waiters[w].key;
    st.group_of.erase(w);
    m.remove_waiter(w);
    if (slot != keep) st.dirty.push_back(slot);
  }
  m.bytes -= detail::kGroupBytes + detail::kMemberBytes * g.members.size();
  if (st.groups.empty()) {
    st.group_of = {};  // give the tables' memory back
    st.groups = {};
  }
}

// Serves the keys groups have left, then erases those left empty (never `keep`, which the caller
// still works on). Only the outermost call does the work: groups answered while serving add keys
// to the list instead of recursing. `serve` false: only erase (shutdown answers every waiter).
void drain_dirty(Engine::Impl& m, Millis now, std::uint32_t keep, bool serve = true) {
  MultiState& st = *m.multi;
  if (st.draining) return;
  st.draining = true;
  while (!st.dirty.empty()) {
    const std::uint32_t s = st.dirty.back();
    st.dirty.pop_back();
    if (s >= m.keys.capacity() || m.keys[s].key_len == 0) continue;  // erased meanwhile
    if (serve) m.serve_waiters(s, now, now);
    if (s != keep) m.erase_if_empty(s);
  }
  st.draining = false;
}

WaiterId id_of(const Engine::Impl& m, const MultiGroup& g) {
  return WaiterId{g.members.front(), m.waiters[g.members.front()].generation};
}

// Every member is answerable now: the owner holds the key already, or the member is first in the
// key's queue and a permit is free.
bool group_ready(const Engine::Impl& m, const MultiGroup& g) {
  for (const std::uint32_t w : g.members) {
    const std::uint32_t slot = m.waiters[w].key;
    if (m.find_holder(slot, m.waiters[w].owner()) != kNil) continue;
    if (m.exts[m.keys[slot].ext].waiter_head != w) return false;
    if (!m.can_take(slot, /*shared=*/false)) return false;
  }
  return true;
}

void grant_group(Engine::Impl& m, std::uint32_t gid, Millis now, std::uint32_t keep) {
  const MultiGroup& g = m.multi->groups.find(gid)->second;
  WaiterEvent ev{g.tag, id_of(m, g), true, 0, g.ttl, false, now + g.ttl};
  // A derived owner (JSON pid@host) that came to hold one of the keys is told "not acquired", as
  // its acquire would be; nothing is granted then.
  // A key the owner came to hold as a reader (SHARED) is not exclusive: the group is refused, as
  // ACQUIREALL is at once on such a key (kModeConflict), never granted over the shared hold.
  for (const std::uint32_t w : g.members) {
    const std::uint32_t held = m.find_holder(m.waiters[w].key, m.waiters[w].owner());
    if (held != kNil && (!g.reacquire || m.holds.is_shared(m.fence_of(held)))) {
      ev.granted = false;
    }
  }
  if (ev.granted) {
    const std::size_t logged = m.mutations.size();  // every key's hold: one group of the log
    for (const std::uint32_t w : g.members) {
      const std::uint32_t slot = m.waiters[w].key;
      const std::uint32_t held = m.find_holder(slot, m.waiters[w].owner());
      if (held != kNil) {
        m.set_deadline(held, now + g.ttl);
        m.unmark_lived(m.fence_of(held));
        ev.fences.push_back(m.fence_of(held));
        ev.created.push_back(0);
      } else {
        ev.fences.push_back(m.add_holder(slot, m.waiters[w].owner(), g.ttl, now));
        ev.created.push_back(1);
      }
    }
    m.note_mutation_group(logged);
  } else {
    ev.ttl = 0;
    ev.deadline = 0;
  }
  m.events.push_back(std::move(ev));
  remove_group(m, gid, keep);
}

std::uint32_t group_id(const Engine::Impl& m, std::uint32_t w) {
  auto it = m.multi->group_of.find(w);
  return it == m.multi->group_of.end() ? kNil : it->second;
}

}  // namespace

bool Engine::Impl::has_groups() const {
  return multi && !multi->groups.empty();
}

int Engine::Impl::serve_group_head(std::uint32_t slot, std::uint32_t w, Millis now,
                                   Millis freed_at) {
  const std::uint32_t gid = group_id(*this, w);
  if (gid == kNil) return -1;
  // As for a single waiter: nothing to do while this key has no permit for it.
  if (!can_take(slot, /*shared=*/false) && find_holder(slot, waiters[w].owner()) == kNil) {
    return 0;
  }
  if (waiters[w].deadline < freed_at) {  // its wait ran out before the permit freed
    time_out_group_of(w, now, slot);
    return 1;
  }
  if (!group_ready(*this, multi->groups.find(gid)->second)) return 0;
  grant_group(*this, gid, now, slot);
  drain_dirty(*this, now, slot);
  return 1;
}

bool Engine::Impl::time_out_group_of(std::uint32_t w, Millis now, std::uint32_t keep,
                                     bool serve) {
  const std::uint32_t gid = group_id(*this, w);
  if (gid == kNil) return false;
  const MultiGroup& g = multi->groups.find(gid)->second;
  events.push_back(WaiterEvent{g.tag, id_of(*this, g), false, 0, 0});
  ++counters.waiter_timeouts;
  remove_group(*this, gid, keep);
  drain_dirty(*this, now, keep, serve);
  return true;
}

bool Engine::Impl::cancel_group_of(std::uint32_t w) {
  const std::uint32_t gid = group_id(*this, w);
  if (gid == kNil) return false;
  remove_group(*this, gid, kNil);
  // Keys left empty go now; those with waiters wait for the next tick to be served.
  MultiState& st = *multi;
  for (const std::uint32_t s : st.dirty) {
    if (s >= keys.capacity() || keys[s].key_len == 0) continue;
    if (!erase_if_empty(s) && waiters_of(s) != 0) st.pending.push_back(s);
  }
  st.dirty.clear();
  return true;
}

void Engine::Impl::serve_pending_groups(Millis now) {
  MultiState& st = *multi;
  st.dirty.insert(st.dirty.end(), st.pending.begin(), st.pending.end());
  st.pending.clear();
  drain_dirty(*this, now, kNil);
}

AcquireAllResult Engine::acquire_all(const AcquireAllRequest& req, Millis now) {
  Impl& m = *impl_;
  const EngineLimits& l = m.limits;
  const std::size_t n = req.keys.size();
  if (n == 0 || n > kMaxAcquireAllKeys) return {EngineStatus::kBadKey};
  for (const std::string_view k : req.keys) {
    if (bad_key(k, l)) return {EngineStatus::kBadKey};
  }
  {
    std::vector<std::string_view> sorted(req.keys);
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return {EngineStatus::kBadKey};
    }
  }
  if (req.owner.empty() || req.owner.size() > kMaxOwnerBytes) return {EngineStatus::kBadOwner};
  if (req.ttl <= 0 || req.ttl > l.max_ttl) return {EngineStatus::kBadTtl};
  if (req.wait < 0 || req.wait > l.max_ttl) return {EngineStatus::kBadWait};
  m.observe(now);
  ++m.counters.acquire_requests;

  // Due holders are absent (SPEC §1). Purging may serve waiters and erase keys, so the slots are
  // looked up afresh afterwards.
  for (const std::string_view k : req.keys) {
    const std::uint32_t slot = m.find(k);
    if (slot != kNil) m.purge(slot, now);
  }

  struct Step {
    std::uint64_t hash = 0;
    std::uint32_t slot = kNil;  // kNil: the key does not exist
    std::uint32_t held = kNil;  // the owner's holder, when it holds the key already
  };
  std::vector<Step> steps(n);
  std::size_t creates = 0;
  bool busy = false;
  // Fills `steps`; kOk, or the answer when the request cannot go on.
  auto plan = [&]() -> EngineStatus {
    creates = 0;
    busy = false;
    for (std::size_t i = 0; i < n; ++i) {
      Step& s = steps[i];
      s.hash = detail::hash_key(req.keys[i]);
      s.slot = m.find(req.keys[i], s.hash);
      s.held = kNil;
      if (s.slot == kNil) {
        if (m.data_keys != 0 && m.data->find(req.keys[i], now)) return EngineStatus::kWrongType;
        ++creates;
        continue;
      }
      s.held = m.find_holder(s.slot, req.owner);
      if (s.held != kNil) {
        if (!req.reacquire) return EngineStatus::kNotGranted;
        // ACQUIREALL takes keys exclusively: a reader's hold is the other mode (engine/holds.h).
        if (m.holds.is_shared(m.fence_of(s.held))) return EngineStatus::kModeConflict;
        continue;
      }
      if (m.waiters_of(s.slot) != 0 || !m.can_take(s.slot, /*shared=*/false)) busy = true;
    }
    return EngineStatus::kOk;
  };
  // SPEC §2 for `creates` new keys and `queued` new waiters at once.
  auto admit = [&](std::size_t queued) -> EngineStatus {
    if (queued != 0 && m.waiter_total + m.data_waiters + queued > l.max_waiters) {
      ++m.counters.rejected_max_waiters;
      return EngineStatus::kOverMaxWaiters;
    }
    auto over_locks = [&] {
      return creates != 0 && l.max_locks != 0 && m.index.size() + m.data_keys + creates > l.max_locks;
    };
    if (over_locks()) {
      m.expire_due(now, l.max_expiries_per_tick);  // due holders are absent: make room first
      if (over_locks()) {
        if (l.reject_requests) {
          ++m.counters.rejected_max_locks;
          return EngineStatus::kOverMaxLocks;
        }
        ++m.counters.exceeded_max_locks;
      }
    }
    return m.admit(false, false, now);  // memory
  };

  EngineStatus st = plan();
  if (st != EngineStatus::kOk) return {st};
  if (!busy || req.wait > 0) {
    const std::uint64_t expired = m.counters.expired_holders;
    st = admit(busy ? n : 0);
    if (st != EngineStatus::kOk) return {st};
    if (m.counters.expired_holders != expired) {  // admission expired holders: look again
      st = plan();
      if (st != EngineStatus::kOk) return {st};
    }
  }
  AcquireAllResult r;
  if (!busy) {
    r.status = EngineStatus::kGranted;
    r.ttl = req.ttl;
    r.fences.reserve(n);
    r.created.reserve(n);
    const std::size_t logged = m.mutations.size();  // every key's hold: one group of the log
    for (std::size_t i = 0; i < n; ++i) {
      Step& s = steps[i];
      if (s.held != kNil) {
        m.set_deadline(s.held, now + req.ttl);
        m.unmark_lived(m.fence_of(s.held));
        r.fences.push_back(m.fence_of(s.held));
        r.created.push_back(0);
        continue;
      }
      if (s.slot == kNil) s.slot = m.create_key(req.keys[i], s.hash, 1);
      r.fences.push_back(m.add_holder(s.slot, req.owner, req.ttl, now));
      r.created.push_back(1);
    }
    m.note_mutation_group(logged);
    return r;
  }
  if (req.wait == 0) return {EngineStatus::kNotGranted};

  if (!m.multi) m.multi = std::make_unique<MultiState>();
  MultiState& ms = *m.multi;
  const std::uint32_t gid = ms.next_id++;
  MultiGroup g;
  g.tag = req.tag;
  g.ttl = req.ttl;
  g.reacquire = req.reacquire;
  g.members.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Step& s = steps[i];
    if (s.slot == kNil) s.slot = m.create_key(req.keys[i], s.hash, 1);
    AcquireRequest one;
    one.key = req.keys[i];
    one.owner = req.owner;
    one.ttl = req.ttl;
    one.wait = req.wait;
    one.reacquire = req.reacquire;
    one.tag = req.tag;
    const WaiterId w = m.queue_waiter(s.slot, one, now);
    g.members.push_back(w.slot);
    ms.group_of.emplace(w.slot, gid);
  }
  m.bytes += detail::kGroupBytes + detail::kMemberBytes * n;
  r.status = EngineStatus::kQueued;
  r.waiter = WaiterId{g.members.front(), m.waiters[g.members.front()].generation};
  ms.groups.emplace(gid, std::move(g));
  return r;
}

std::uint64_t Engine::release_keys(const std::vector<std::string_view>& keys,
                                   std::string_view owner, Millis now, std::uint64_t* held) {
  std::uint64_t released = 0;
  std::uint64_t taken = 0;
  // One group of the log, with the grants its releases make (a waiting ACQUIREALL served).
  const std::size_t logged = impl_->mutations.size();
  for (const std::string_view k : keys) {
    // One release per key, as SEMLOCK.RELEASE: a reentrant holder loses one hold. Only a key the
    // owner no longer holds afterwards counts as released.
    const Impl::ReleaseOutcome r = impl_->release_one(k, owner, now);
    if (r == Impl::ReleaseOutcome::kNotHeld) continue;
    ++taken;
    if (r == Impl::ReleaseOutcome::kRemoved) ++released;
  }
  impl_->note_mutation_group(logged);
  if (held != nullptr) *held = taken;
  return released;
}

}  // namespace semlock
