// DataStore::Impl: private to engine/data*.cc.
#pragma once

#include <string_view>
#include <vector>

#include "engine/data.h"
#include "engine/engine_impl.h"

namespace semlock {

// A blocked BLPOP/BRPOP.
struct PopWaiter {
  std::uint64_t tag = 0;
  Millis deadline = 0;
  bool left = true;
  bool done = false;  // answered: its entries in the per-key queues are skipped and dropped
  detail::WheelLink link;
  std::pmr::vector<PStr> keys;
  explicit PopWaiter(std::pmr::memory_resource* mr) : keys(mr) {}
};

struct DataStore::Impl {
  struct Nodes {
    Impl* d;
    detail::WheelLink& link(std::uint32_t h) { return d->slots[h]->link; }
    detail::WheelTime due(std::uint32_t h) const { return detail::due_time(d->slots[h]->deadline); }
  };
  struct PopNodes {
    Impl* d;
    detail::WheelLink& link(std::uint32_t w) { return d->waiters[w]->link; }
    detail::WheelTime due(std::uint32_t w) const {
      return detail::due_time(d->waiters[w]->deadline);
    }
  };

  Impl(Engine& engine, std::uint64_t* bytes);
  ~Impl();

  Engine::Impl& m;
  detail::CountingResource res;
  std::pmr::unordered_map<PStr, std::uint32_t, detail::StrHash, std::equal_to<>> index;
  std::pmr::vector<DataEntry*> slots;
  std::pmr::vector<std::uint32_t> free_slots;
  detail::TimerWheel<Nodes> wheel;
  std::int64_t deadline_sum = 0;  // of the keys in `wheel` (INFO keyspace avg_ttl)

  // Blocking pops: waiter slots, FIFO queues of slots per key, keys that got elements.
  std::pmr::vector<PopWaiter*> waiters;
  std::vector<std::uint32_t> free_waiters;
  std::pmr::unordered_map<PStr, std::pmr::deque<std::uint32_t>, detail::StrHash, std::equal_to<>>
      queues;
  std::pmr::vector<PStr> ready;
  std::pmr::unordered_map<std::uint64_t, std::uint32_t> by_tag;
  detail::TimerWheel<PopNodes> pop_wheel;
  std::vector<ListPopEvent> pop_events;
  std::uint64_t pop_waiter_count = 0;
  std::function<void(std::string_view)> pop_hook;  // set_pop_hook

  std::uint32_t lookup(std::string_view key) const;
  std::uint32_t create(std::string_view key, DataType t);
  void erase(std::uint32_t h, bool log_it);
  void destroy(std::uint32_t h);
  DataEntry* live(std::string_view key, Millis now);
  void log_op(std::string_view key, std::vector<std::string> op, Millis deadline);
  void finish_waiter(std::uint32_t w);
};

}  // namespace semlock
