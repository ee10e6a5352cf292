// Taking back what a batch of holds added when the batch cannot be made durable (the journal's
// write or fsync failed with persistence.fsync=always: server/persistence_hooks.cc). The batch's
// replies are never sent, so nothing it granted may stay: a holder it created goes, and a holder
// that existed before it keeps what it had then — its hold count (a reentrant re-acquire counted
// n -> n+1 goes back to n) and its deadline (a refresh or extend is undone) — never more. What
// the batch took away (a release's lost hold, a shorter TTL) stays taken: a release is not a
// grant, and is answered as ever. A NOTIFY mark the batch put on a holder that had none goes too
// (Mutation::prev_notify), so the holder sends no lost-lock notice its owner never was told of.
//
// The state "before the batch" is in the mutations themselves: each kHold carries the holder's
// count and deadline just before its change (Mutation::prev_holds / prev_deadline; 0 holds: a
// holder new in that change), so the first hold of a fence in the batch says what it was.
#include <absl/container/flat_hash_set.h>

#include <algorithm>

#include "engine/engine_impl.h"

namespace semlock {

using detail::kNil;

namespace {

bool adds(const Mutation& m) {
  return m.kind == Mutation::Kind::kHold &&
         (m.prev_holds == 0 || m.holds > m.prev_holds || m.deadline > m.prev_deadline ||
          (m.notify && !m.prev_notify));
}

}  // namespace

bool Engine::batch_adds(const std::vector<Mutation>& mutations) {
  return std::any_of(mutations.begin(), mutations.end(), adds);
}

void Engine::take_back(const std::vector<Mutation>& mutations, Millis now) {
  Impl& m = *impl_;
  absl::flat_hash_set<std::uint64_t> seen;
  for (const Mutation& mu : mutations) {
    if (mu.kind != Mutation::Kind::kHold || !seen.insert(mu.fence).second) continue;
    // The first hold of this fence in the batch: what the holder was before the batch.
    if (mu.prev_holds == 0) {
      release_fenced(mu.key, mu.owner, mu.fence, now);  // created by the batch
      continue;
    }
    m.observe(now);
    const std::uint32_t slot = m.find(mu.key);
    if (slot == kNil) continue;
    const std::uint32_t h = m.find_holder(slot, mu.owner);
    if (h == kNil || m.fence_of(h) != mu.fence) continue;  // gone since: nothing to take back
    const std::uint32_t count = m.holds.count(mu.fence);
    const Millis deadline = m.deadline_of(h);
    const bool unmark = mu.notify && !mu.prev_notify && !m.notify_fences.empty() &&
                        m.notify_fences.contains(mu.fence);
    if (count <= mu.prev_holds && deadline <= mu.prev_deadline && !unmark) continue;
    if (unmark) {
      m.notify_fences.erase(mu.fence);
      m.shrink_if_empty(m.notify_fences);
    }
    if (count > mu.prev_holds) m.holds.set_count(mu.fence, mu.prev_holds);
    if (deadline > mu.prev_deadline) {
      m.set_deadline(h, mu.prev_deadline, count);  // logs the holder as it is now
    } else {
      m.log_change(h, deadline, count);
    }
  }
}

}  // namespace semlock
