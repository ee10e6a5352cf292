// Persistence hooks: the mutation log a journal is written from, and the restore path a journal
// is replayed through. The engine stays free of I/O; the server turns mutations into records.
#include <algorithm>

#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

// Called from the few places that add, refresh or remove a holder (add_holder, set_deadline,
// remove_holder, and set_holder's owner swap), so every public operation is covered by them.
void Engine::Impl::log_holder(Mutation::Kind kind, std::uint32_t h, Millis prev_deadline,
                              std::uint32_t prev_holds) {
  const std::uint32_t slot = key_of_holder(h);
  Mutation m;
  m.kind = kind;
  m.key = std::string(keys[slot].key());
  detail::OwnerText scratch;
  m.owner = std::string(owner_of(h, scratch));
  m.fence = fence_of(h);
  m.deadline = deadline_of(h);
  m.limit = limit_of(slot);
  if (holds.in_use()) {
    m.shared = holds.is_shared(m.fence);
    m.holds = holds.count(m.fence);
  }
  m.prev_deadline = prev_deadline;
  m.prev_holds = prev_holds;
  if (!notify_fences.empty() && notify_fences.contains(m.fence)) {
    m.notify = true;
    m.prev_notify = fresh_mark != m.fence;
    if (kind == Mutation::Kind::kDrop) m.reason = drop_reason;
  }
  fresh_mark = 0;  // belongs to the change just logged
  mutations.push_back(std::move(m));
}

void Engine::set_mutation_log(bool on) {
  impl_->log_mutations = on;
  impl_->fresh_mark = 0;
  if (!on) {
    impl_->mutations.clear();
    impl_->mutation_groups.clear();
  }
}

std::vector<Mutation> Engine::take_mutations() {
  std::vector<Mutation> out;
  out.swap(impl_->mutations);
  impl_->mutation_groups.clear();  // their indices were into the log just taken
  return out;
}

const std::vector<std::pair<std::size_t, std::size_t>>& Engine::mutation_groups() const {
  return impl_->mutation_groups;
}

std::size_t Engine::mutation_count() const {
  return impl_->mutations.size();
}

bool Engine::has_mutations() const {
  return !impl_->mutations.empty();
}

bool Engine::restore_holder(std::string_view key, std::string_view owner, std::uint64_t fence,
                            std::uint32_t limit, Millis deadline, bool shared,
                            std::uint32_t holds) {
  Impl& m = *impl_;
  if (key.empty() || key.size() > 0xFFFF || owner.empty() || owner.size() > kMaxOwnerBytes) {
    return false;
  }
  if (limit == 0) limit = 1;
  const std::uint64_t hash = detail::hash_key(key);
  std::uint32_t slot = m.find(key, hash);
  if (slot == kNil) slot = m.create_key(key, hash, limit);
  if (m.find_holder(slot, owner) != kNil) return true;
  // Never a state over the key's limit, nor a holder granted under another limit.
  if (m.limit_of(slot) != limit) return false;
  if (shared) {
    // Readers share a mutex key: any number of them, never beside a writer.
    if (limit != 1 || (m.holders_of(slot) != 0 && !m.key_shared(slot))) return false;
  } else if (m.holders_of(slot) >= limit) {
    return false;
  }
  // add_holder takes the next fence and counts a grant: lend it the stored fence instead.
  const bool logging = m.log_mutations;
  const std::uint64_t saved_next = m.next_fence;
  const std::uint64_t saved_granted = m.counters.granted;
  m.log_mutations = false;
  m.next_fence = fence;
  m.add_holder(slot, owner, deadline, 0, shared);
  m.holds.set_count(fence, holds);
  m.next_fence = std::max(saved_next, fence + 1);
  m.counters.granted = saved_granted;
  m.log_mutations = logging;
  return true;
}

void Engine::set_replica(bool on) {
  impl_->replica = on;
}

bool Engine::replica() const {
  return impl_->replica;
}

std::uint64_t Engine::displaced_holders() const {
  return impl_->displaced;
}

std::uint64_t Engine::read_count() const {
  return impl_->reads;
}

// Applying a committed entry is a total function of the entry and the state before it: it never
// looks at the clock or the limits, so every member that applies the same log holds the same
// holders. (A replica that expired holders on its own clock, or refused a holder at a full key,
// diverged from the log; once leader it granted over holders the others still had, and they
// could never apply that grant.)
Engine::ApplyStatus Engine::apply_hold(std::string_view key, std::string_view owner,
                                       std::uint64_t fence, std::uint32_t limit,
                                       Millis deadline, bool shared, std::uint32_t holds) {
  Impl& m = *impl_;
  if (key.empty() || key.size() > 0xFFFF || owner.empty() || owner.size() > kMaxOwnerBytes) {
    return ApplyStatus::kInvalid;
  }
  if (limit == 0) limit = 1;
  const bool logging = m.log_mutations;
  m.log_mutations = false;
  Impl::ReasonScope reason(m, LostReason::kForced);  // holders it displaces
  ApplyStatus status = ApplyStatus::kApplied;
  const std::uint32_t slot = m.find(key);
  if (slot != kNil) {
    const std::uint32_t h = m.find_holder(slot, owner);
    if (h != kNil && m.fence_of(h) == fence) {  // a refresh, an extend, a hold count's change
      m.holds.set_count(fence, holds);
      m.set_deadline(h, deadline);
      m.unmark_lived(fence);
      m.next_fence = std::max(m.next_fence, fence + 1);
      m.log_mutations = logging;
      return status;
    }
    if (h != kNil) m.remove_holder(h);  // re-granted under a new fence
    auto displace = [&](std::uint32_t victim) {
      m.remove_holder(victim);
      ++m.displaced;
      status = ApplyStatus::kDisplaced;
    };
    // A reader beside a writer, or a writer beside readers: the leader's key changed mode.
    const bool other_mode = m.holders_of(slot) != 0 && m.key_shared(slot) != shared;
    if (m.limit_of(slot) != limit || other_mode) {
      // The leader's key was emptied and created anew under this limit.
      while (m.holders_of(slot) != 0) {
        const detail::KeyEntry& e = m.keys[slot];
        displace(e.has_first() ? slot : (m.exts[e.ext].extra_head | detail::kExtraBit));
      }
      if (!m.erase_if_empty(slot)) m.set_limit(slot, limit);
    } else if (!shared) {
      while (m.holders_of(slot) >= limit) {
        std::uint32_t victim = kNil;
        auto consider = [&](std::uint32_t c) {
          if (victim == kNil || m.deadline_of(c) < m.deadline_of(victim) ||
              (m.deadline_of(c) == m.deadline_of(victim) && m.fence_of(c) < m.fence_of(victim))) {
            victim = c;
          }
        };
        const detail::KeyEntry& e = m.keys[slot];
        if (e.has_first()) consider(slot);
        if (e.ext != kNil) {
          for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
            consider(x | detail::kExtraBit);
          }
        }
        displace(victim);
      }
    }
  }
  m.log_mutations = logging;
  // restore_holder cannot refuse now: the key is absent, or under `limit` with room.
  restore_holder(key, owner, fence, limit, deadline, shared, holds);
  return status;
}

bool Engine::apply_drop(std::string_view key, std::string_view owner, std::uint64_t fence) {
  Impl& m = *impl_;
  const LostReason reason_in = m.apply_reason;  // set_apply_reason() names one drop only
  m.apply_reason = LostReason::kReleased;
  const std::uint32_t slot = key.empty() ? kNil : m.find(key);
  if (slot == kNil) return false;
  const std::uint32_t h = m.find_holder(slot, owner);
  if (h == kNil || m.fence_of(h) != fence) return false;
  const bool logging = m.log_mutations;
  m.log_mutations = false;
  Impl::ReasonScope reason(m, reason_in);
  m.remove_holder(h);
  m.erase_if_empty(slot);
  m.log_mutations = logging;
  return true;
}

void Engine::extend_all(Millis by) {
  Impl& m = *impl_;
  std::vector<std::uint32_t> handles;
  for (std::uint32_t s = 0; s < m.keys.capacity(); ++s) {
    const detail::KeyEntry& e = m.keys[s];
    if (e.key_len == 0) continue;
    if (e.has_first()) handles.push_back(s);
    if (e.ext == kNil) continue;
    for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
      handles.push_back(x | detail::kExtraBit);
    }
  }
  for (std::uint32_t h : handles) m.set_deadline(h, m.deadline_of(h) + by);
}

void Engine::ensure_next_fence_above(std::uint64_t fence) {
  impl_->next_fence = std::max(impl_->next_fence, fence + 1);
}

void Engine::for_each_holder(const std::function<void(const HolderView&)>& fn) const {
  const Impl& m = *impl_;
  for (std::uint32_t s = 0; s < m.keys.capacity(); ++s) {
    const detail::KeyEntry& e = m.keys[s];
    if (e.key_len == 0) continue;
    const std::uint32_t limit = m.limit_of(s);
    detail::OwnerText scratch;
    if (e.has_first())
      fn(HolderView{e.key(), e.owner(scratch), e.fence.get(), limit, e.deadline.get_signed(),
                    m.holds.is_shared(e.fence.get()), m.holds.count(e.fence.get())});
    if (e.ext == kNil) continue;
    for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
      const detail::ExtraHolder& h = m.extras[x];
      fn(HolderView{e.key(), h.owner(), h.fence.get(), limit, h.deadline.get_signed(),
                    m.holds.is_shared(h.fence.get()), m.holds.count(h.fence.get())});
    }
  }
}

}  // namespace semlock
