// DataStore: blocked BLPOP/BRPOP. FIFO per key; a waiter on several keys is served by the first
// of them to get an element; its wait runs out once now > deadline (the waiter wheel's rule).
// Waiters count toward limits.max_waiters with the lock waiters, and their bytes are used memory.
#include <algorithm>

#include "engine/data_impl.h"

namespace semlock {

bool DataStore::add_pop_waiter(std::uint64_t tag, const std::vector<std::string>& keys, bool left,
                               Millis deadline, Millis now, EngineStatus& st) {
  Impl& d = *impl_;
  d.m.observe(now);
  d.pop_wheel.start(now);
  st = d.m.admit(false, /*adds_waiter=*/true, now);
  if (st != EngineStatus::kOk) return false;
  auto* w = std::pmr::polymorphic_allocator<PopWaiter>(&d.res).new_object<PopWaiter>(&d.res);
  w->tag = tag;
  w->deadline = deadline;
  w->left = left;
  for (const std::string& k : keys) w->keys.emplace_back(std::string_view(k));
  std::uint32_t slot;
  if (!d.free_waiters.empty()) {
    slot = d.free_waiters.back();
    d.free_waiters.pop_back();
    d.waiters[slot] = w;
  } else {
    slot = static_cast<std::uint32_t>(d.waiters.size());
    d.waiters.push_back(w);
  }
  for (const PStr& k : w->keys) {
    auto it = d.queues.find(std::string_view(k));
    if (it == d.queues.end()) {
      it = d.queues
               .emplace(std::piecewise_construct, std::forward_as_tuple(std::string_view(k)),
                        std::tuple<>())
               .first;
    }
    if (std::find(it->second.begin(), it->second.end(), slot) == it->second.end()) {
      it->second.push_back(slot);
    }
  }
  if (deadline != kNoDeadline) d.pop_wheel.insert(slot);
  d.by_tag[tag] = slot;
  ++d.pop_waiter_count;
  ++d.m.data_waiters;
  return true;
}

// Takes the waiter out of every queue and the wheel and frees it.
void DataStore::Impl::finish_waiter(std::uint32_t slot) {
  PopWaiter* w = waiters[slot];
  for (const PStr& k : w->keys) {
    auto it = queues.find(std::string_view(k));
    if (it == queues.end()) continue;
    auto& q = it->second;
    q.erase(std::remove(q.begin(), q.end(), slot), q.end());
    if (q.empty()) queues.erase(it);
  }
  if (w->deadline != kNoDeadline) pop_wheel.remove(slot);
  by_tag.erase(w->tag);
  std::pmr::polymorphic_allocator<PopWaiter>(&res).delete_object(w);
  waiters[slot] = nullptr;
  free_waiters.push_back(slot);
  --pop_waiter_count;
  --m.data_waiters;
}

bool DataStore::cancel_pop_waiter(std::uint64_t tag) {
  Impl& d = *impl_;
  auto it = d.by_tag.find(tag);
  if (it == d.by_tag.end()) return false;
  d.finish_waiter(it->second);
  return true;
}

void DataStore::note_list_ready(std::string_view key) {
  Impl& d = *impl_;
  if (!d.queues.contains(key)) return;
  for (const PStr& k : d.ready) {
    if (k == key) return;
  }
  d.ready.emplace_back(key);
}

void DataStore::set_pop_hook(std::function<void(std::string_view key)> hook) {
  impl_->pop_hook = std::move(hook);
}

void DataStore::serve_pop_waiters(Millis now) {
  Impl& d = *impl_;
  while (!d.ready.empty()) {
    PStr key = std::move(d.ready.front());
    d.ready.erase(d.ready.begin());
    DataEntry* e = d.live(key, now);
    if (!e || e->type != DataType::kList) continue;
    while (!e->list->empty()) {
      auto it = d.queues.find(std::string_view(key));
      if (it == d.queues.end() || it->second.empty()) break;
      const std::uint32_t slot = it->second.front();
      PopWaiter* w = d.waiters[slot];
      ListPopEvent ev;
      ev.tag = w->tag;
      ev.served = true;
      ev.key = std::string(key);
      if (w->left) {
        ev.value = std::string(e->list->front());
        e->list->pop_front();
      } else {
        ev.value = std::string(e->list->back());
        e->list->pop_back();
      }
      d.log_op(key, {w->left ? "lpop" : "rpop", "1"}, 0);
      d.pop_events.push_back(std::move(ev));
      d.finish_waiter(slot);
      if (d.pop_hook) d.pop_hook(key);
    }
    remove_if_empty(e);
  }
}

std::uint64_t DataStore::time_out_pop_waiters(Millis now, std::uint64_t budget) {
  Impl& d = *impl_;
  d.pop_wheel.start(now);
  std::uint64_t n = 0;
  while (n < budget) {
    const std::uint32_t slot = d.pop_wheel.pop_due(now);
    if (slot == detail::kNil) break;
    d.waiters[slot]->deadline = kNoDeadline;  // already out of the wheel
    d.pop_events.push_back(ListPopEvent{d.waiters[slot]->tag, false, {}, {}});
    d.finish_waiter(slot);
    ++n;
  }
  return n;
}

void DataStore::time_out_all_pop_waiters() {
  Impl& d = *impl_;
  for (std::uint32_t s = 0; s < d.waiters.size(); ++s) {
    if (!d.waiters[s]) continue;
    d.pop_events.push_back(ListPopEvent{d.waiters[s]->tag, false, {}, {}});
    d.finish_waiter(s);
  }
}

std::vector<ListPopEvent> DataStore::take_pop_events() {
  std::vector<ListPopEvent> out;
  out.swap(impl_->pop_events);
  return out;
}

bool DataStore::has_pop_events() const {
  return !impl_->pop_events.empty();
}

std::uint64_t DataStore::pop_waiters() const {
  return impl_->pop_waiter_count;
}

}  // namespace semlock
