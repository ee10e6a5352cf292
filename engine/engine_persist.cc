// Persistence hooks: the mutation log a journal is written from, and the restore path a journal
// is replayed through. The engine stays free of I/O; the server turns mutations into records.
#include <algorithm>

#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

// Called from the few places that add, refresh or remove a holder (add_holder, set_deadline,
// remove_holder, and set_holder's owner swap), so every public operation is covered by them.
void Engine::Impl::log_holder(Mutation::Kind kind, std::uint32_t h) {
  const std::uint32_t slot = key_of_holder(h);
  Mutation m;
  m.kind = kind;
  m.key = std::string(keys[slot].key());
  m.owner = std::string(owner_of(h));
  m.fence = fence_of(h);
  m.deadline = deadline_of(h);
  m.limit = keys[slot].limit;
  mutations.push_back(std::move(m));
}

void Engine::set_mutation_log(bool on) {
  impl_->log_mutations = on;
  if (!on) impl_->mutations.clear();
}

std::vector<Mutation> Engine::take_mutations() {
  std::vector<Mutation> out;
  out.swap(impl_->mutations);
  return out;
}

bool Engine::has_mutations() const {
  return !impl_->mutations.empty();
}

bool Engine::restore_holder(std::string_view key, std::string_view owner, std::uint64_t fence,
                            std::uint32_t limit, Millis deadline) {
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
  if (m.keys[slot].limit != limit || m.holders_of(slot) >= limit) return false;
  // add_holder takes the next fence and counts a grant: lend it the stored fence instead.
  const bool logging = m.log_mutations;
  const std::uint64_t saved_next = m.next_fence;
  const std::uint64_t saved_granted = m.counters.granted;
  m.log_mutations = false;
  m.next_fence = fence;
  m.add_holder(slot, owner, deadline, 0);
  m.next_fence = std::max(saved_next, fence + 1);
  m.counters.granted = saved_granted;
  m.log_mutations = logging;
  return true;
}

bool Engine::apply_hold(std::string_view key, std::string_view owner, std::uint64_t fence,
                        std::uint32_t limit, Millis deadline) {
  Impl& m = *impl_;
  const std::uint32_t slot = key.empty() ? kNil : m.find(key);
  if (slot != kNil) {
    const std::uint32_t h = m.find_holder(slot, owner);
    if (h != kNil) {
      const bool logging = m.log_mutations;
      m.log_mutations = false;
      if (m.fence_of(h) == fence) {
        m.set_deadline(h, deadline);
        m.log_mutations = logging;
        m.next_fence = std::max(m.next_fence, fence + 1);
        return true;
      }
      m.remove_holder(h);
      m.log_mutations = logging;
    }
  }
  return restore_holder(key, owner, fence, limit, deadline);
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
    if (e.has_first())
      fn(HolderView{e.key(), e.owner(), e.fence.get(), e.limit, e.deadline.get_signed()});
    if (e.ext == kNil) continue;
    for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
      const detail::ExtraHolder& h = m.extras[x];
      fn(HolderView{e.key(), h.owner(), h.fence.get(), e.limit, h.deadline.get_signed()});
    }
  }
}

}  // namespace semlock
