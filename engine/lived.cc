// Connection-lived holders (engine.h mark_lived/end_lived): the side table of their fences.
// Plain holders never touch it: remove_holder() looks at it only while it is not empty.
#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

bool Engine::mark_lived(std::string_view key, std::string_view owner, std::uint64_t fence) {
  Impl& m = *impl_;
  const std::uint32_t slot = key.empty() ? kNil : m.find(key);
  if (slot == kNil) return false;
  const std::uint32_t h = m.find_holder(slot, owner);
  if (h == kNil || m.fence_of(h) != fence) return false;
  m.lived.insert(fence);
  // With the holder's whole state (mode, hold count, NOTIFY mark): a journal that already holds
  // it writes it again with the connection-lived flag (server/persistence_hooks.cc).
  if (m.log_mutations) m.log_holder(Mutation::Kind::kLived, h);
  return true;
}

void Engine::apply_lived(std::string_view key, std::string_view owner, std::uint64_t fence) {
  Impl& m = *impl_;
  const std::uint32_t slot = key.empty() ? kNil : m.find(key);
  if (slot == kNil) return;
  const std::uint32_t h = m.find_holder(slot, owner);
  if (h != kNil && m.fence_of(h) == fence) m.lived.insert(fence);
}

std::size_t Engine::end_lived(Millis left, Millis now) {
  Impl& m = *impl_;
  if (m.lived.empty()) return 0;
  std::vector<std::uint32_t> handles;
  for (std::uint32_t s = 0; s < m.keys.capacity(); ++s) {
    const detail::KeyEntry& e = m.keys[s];
    if (e.key_len == 0) continue;
    if (e.has_first() && m.lived.contains(e.fence.get())) handles.push_back(s);
    if (e.ext == kNil) continue;
    for (std::uint32_t x = m.exts[e.ext].extra_head; x != kNil; x = m.extras[x].next) {
      if (m.lived.contains(m.extras[x].fence.get())) handles.push_back(x | detail::kExtraBit);
    }
  }
  m.lived = {};
  for (const std::uint32_t h : handles) m.set_deadline(h, now + left);
  return handles.size();
}

bool Engine::is_lived(std::uint64_t fence) const {
  return !impl_->lived.empty() && impl_->lived.contains(fence);
}

}  // namespace semlock
