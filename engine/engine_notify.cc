// Lost-lock notices (SEMLOCK.ACQUIRE ... NOTIFY): which holders are marked, and the notice each
// gets when it is removed by anything but its owner's release.
//
// The marks live in Impl::notify_fences, a side table keyed by fence (fences are unique per
// grant), so KeyEntry and ExtraHolder carry nothing for them and a plain lock pays one emptiness
// check per removal. A mark is set before the grant or refresh logs its hold (so the hold
// mutation carries the flag to the journal and to the replicas) and leaves with the holder.
// Exactly one notice per lost holder: the mark is erased by the removal that reports it.
#include "engine/engine.h"
#include "engine/engine_impl.h"

namespace semlock {

std::string_view lost_reason_name(LostReason r) {
  switch (r) {
    case LostReason::kReleased:
      return "released";
    case LostReason::kExpired:
      return "expired";
    case LostReason::kForced:
      return "forced";
    case LostReason::kRestart:
      return "restart";
    case LostReason::kFailover:
      return "failover";
  }
  return "forced";
}

void Engine::Impl::shrink_if_empty(FenceSet& set) {
  if (!set.empty() || set.capacity() == 0) return;  // the idle engine holds no table memory
  FenceSet fresh(0, absl::Hash<std::uint64_t>{}, std::equal_to<std::uint64_t>{},
                 detail::CountingAllocator<std::uint64_t>(&bytes));
  set.swap(fresh);
}

void Engine::Impl::notify_removed(std::uint32_t h) {
  const std::uint64_t fence = fence_of(h);
  if (notify_fences.erase(fence) == 0) return;
  shrink_if_empty(notify_fences);
  if (drop_reason == LostReason::kReleased) return;
  detail::OwnerText scratch;
  lost.push_back(LostNotice{std::string(keys[key_of_holder(h)].key()),
                            std::string(owner_of(h, scratch)), fence, drop_reason});
}

std::vector<LostNotice> Engine::take_lost() {
  std::vector<LostNotice> out;
  out.swap(impl_->lost);
  return out;
}

bool Engine::has_lost() const {
  return !impl_->lost.empty();
}

bool Engine::notify_marked(std::uint64_t fence) const {
  return !impl_->notify_fences.empty() && impl_->notify_fences.contains(fence);
}

std::uint64_t Engine::notify_holders() const {
  return impl_->notify_fences.size();
}

void Engine::mark_notify(std::string_view key, std::string_view owner, std::uint64_t fence) {
  Impl& m = *impl_;
  const std::uint32_t slot = key.empty() ? detail::kNil : m.find(key);
  if (slot == detail::kNil) return;
  const std::uint32_t h = m.find_holder(slot, owner);
  if (h != detail::kNil && m.fence_of(h) == fence) m.notify_fences.insert(fence);
}

void Engine::set_apply_reason(LostReason reason) {
  impl_->apply_reason = reason;
}

}  // namespace semlock
