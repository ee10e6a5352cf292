// Reads and housekeeping: SCAN, stats, limit warnings, limits and memory figures.
#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace semlock {

ScanResult Engine::scan(std::uint64_t cursor, std::string_view match, std::size_t count,
                        Millis now) {
  Impl& m = *impl_;
  ++m.reads;
  m.observe(now);
  ScanResult r;
  if (count == 0) count = 10;
  // Bounded work, as Redis's SCAN: `count` live keys looked at, at most 10x that many slots.
  std::size_t visited = 0;
  std::size_t examined = 0;
  std::size_t kept = 0;  // keys looked at that are still there
  std::uint64_t slot = cursor;
  while (slot < m.keys.capacity() && visited < count && examined < count * 10) {
    std::uint32_t s = static_cast<std::uint32_t>(slot++);
    ++examined;
    if (m.keys[s].key_len == 0) continue;
    ++visited;
    // Due holders are absent: a key whose holders are all due is removed here, not listed.
    if (!m.purge(s, now)) continue;
    ++kept;
    if (m.holders_of(s) == 0) continue;
    std::string_view key = m.keys[s].key();
    if (match.empty() || glob_match(match, key)) r.keys.emplace_back(key);
  }
  // From the start, every key seen: done, though the slots after them were not all looked at (a
  // few keys in a slab of 1,024 slots once took three calls of COUNT 50, the first answering
  // cursor 500 with every key in it).
  const bool all_seen = cursor == 0 && kept == m.keys.live();
  r.next_cursor = slot >= m.keys.capacity() || all_seen ? 0 : slot;
  return r;
}

void Engine::set_external_memory(std::uint64_t bytes) {
  impl_->external = bytes;
}

std::vector<LimitWarning> Engine::check_warnings(Millis now) {
  Impl& m = *impl_;
  std::vector<LimitWarning> out;
  double threshold = m.limits.warn_threshold;
  auto check = [&](Impl::WarnState& st, LimitWarning::Kind kind, std::uint64_t current,
                   std::uint64_t limit) {
    if (limit == 0) return;
    double fraction = static_cast<double>(current) / static_cast<double>(limit);
    if (fraction < threshold - 0.05) {
      st.armed = true;  // re-armed only after falling 5 points below: no flapping
      return;
    }
    if (fraction < threshold || !st.armed) return;
    if (st.warned && now - st.last < detail::kWarnInterval) return;
    out.push_back(LimitWarning{kind, 100.0 * fraction, current, limit});
    st.armed = false;
    st.warned = true;
    st.last = now;
  };
  check(m.warn_locks, LimitWarning::Kind::kLocks, m.index.size(), m.limits.max_locks);
  check(m.warn_memory, LimitWarning::Kind::kMemory, m.used_memory(), m.limits.max_memory_bytes);
  return out;
}

void Engine::set_limits(const EngineLimits& limits) {
  impl_->limits = limits;
}

std::uint64_t Engine::data_key_count() const {
  return impl_->data_keys;
}

bool Engine::prefetch_pays() const {
  return impl_->index.size() >= kPrefetchFromKeys;
}

void Engine::prefetch(std::string_view key) const {
  // A key no command could hold is not hashed: the look-ahead peeks any frame a client sends, up
  // to the 1 MiB argument bound, and may peek it again when a stalled input resumes.
  if (key.empty() || key.size() > impl_->limits.max_key_bytes) return;
  impl_->index.find(Impl::PrefetchProbe{key});
}

const EngineLimits& Engine::limits() const {
  return impl_->limits;
}

EngineStats Engine::stats() const {
  const Impl& m = *impl_;
  EngineStats s = m.counters;
  s.active_locks = m.index.size();
  s.data_keys = m.data_keys;
  s.holders = m.holder_total;
  s.waiters = m.waiter_total + m.data_waiters;  // blocked BLPOP/BRPOP count as waiters
  s.engine_memory_bytes = memory_bytes();
  s.memory_bytes = m.used_memory();
  s.next_fence = m.next_fence;
  return s;
}

std::uint64_t Engine::memory_bytes() const {
  return impl_->bytes + sizeof(Impl);
}

}  // namespace semlock
