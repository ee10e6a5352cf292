// Read-write and reentrant holds: the engine helpers behind engine/holds.h. The public operations
// (engine.cc) call these only while the side tables are in use.
#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

bool Engine::Impl::key_shared(std::uint32_t slot) const {
  if (holds.shared.empty()) return false;
  const detail::KeyEntry& e = keys[slot];
  // All of a key's holders have the same mode: asking one is enough.
  if (e.has_first()) return holds.is_shared(e.fence.get());
  if (e.ext == kNil || exts[e.ext].extra_count == 0) return false;
  return holds.is_shared(extras[exts[e.ext].extra_head].fence.get());
}

bool Engine::Impl::can_take_reader(std::uint32_t slot) const {
  const std::uint32_t n = holders_of(slot);
  if (n == 0) return true;
  // Readers are bounded like permits: at most limits.max_permits on one key.
  return key_shared(slot) && n < limits.max_permits;
}

void Engine::Impl::serve_pending(Millis now) {
  std::vector<std::string> keys_to_serve;
  keys_to_serve.swap(serve_later);
  for (const std::string& key : keys_to_serve) {
    const std::uint32_t slot = find(key);
    if (slot == kNil || !purge(slot, now)) continue;
    serve_waiters(slot, now, now);
    erase_if_empty(slot);
  }
}

}  // namespace semlock
