// DataStore: the data keyspace beside the lock keys (data.h has the rules).
#include "engine/data.h"

#include <algorithm>
#include <charconv>
#include <new>

#include "engine/data_impl.h"

namespace semlock {

using detail::kNil;

std::string_view data_type_name(DataType t) {
  switch (t) {
    case DataType::kCounter:
      return "string";
    case DataType::kHash:
      return "hash";
    case DataType::kZSet:
      return "zset";
    case DataType::kList:
      return "list";
    case DataType::kNone:
      break;
  }
  return "none";
}

void* detail::CountingResource::do_allocate(std::size_t n, std::size_t align) {
  *bytes_ += n;
  return ::operator new(n, std::align_val_t(align));
}

void detail::CountingResource::do_deallocate(void* p, std::size_t n, std::size_t align) {
  *bytes_ -= n;
  ::operator delete(p, std::align_val_t(align));
}

DataStore::Impl::Impl(Engine& engine, std::uint64_t* bytes)
    : m(engine.impl()),
      res(bytes),
      index(&res),
      slots(&res),
      free_slots(&res),
      wheel(Nodes{this}),
      waiters(&res),
      queues(&res),
      ready(&res),
      by_tag(&res),
      pop_wheel(PopNodes{this}) {}

DataStore::Impl::~Impl() {
  for (std::uint32_t h = 0; h < slots.size(); ++h) {
    if (slots[h]) destroy(h);
  }
  for (PopWaiter*& w : waiters) {
    if (w) std::pmr::polymorphic_allocator<PopWaiter>(&res).delete_object(w);
  }
}

void DataStore::Impl::destroy(std::uint32_t h) {
  DataEntry* e = slots[h];
  std::pmr::polymorphic_allocator<> a(&res);
  if (e->hash) a.delete_object(e->hash);
  if (e->zset) a.delete_object(e->zset);
  if (e->list) a.delete_object(e->list);
  a.delete_object(e);
  slots[h] = nullptr;
}

std::uint32_t DataStore::Impl::lookup(std::string_view key) const {
  auto it = index.find(key);
  return it == index.end() ? kNil : it->second;
}

std::uint32_t DataStore::Impl::create(std::string_view key, DataType t) {
  std::pmr::polymorphic_allocator<> a(&res);
  DataEntry* e = a.new_object<DataEntry>(&res);
  e->key.assign(key);
  e->type = t;
  if (t == DataType::kHash) e->hash = a.new_object<HashValue>(&res);
  if (t == DataType::kZSet) e->zset = a.new_object<ZSet>(&res);
  if (t == DataType::kList) e->list = a.new_object<ListValue>();
  std::uint32_t h;
  if (!free_slots.empty()) {
    h = free_slots.back();
    free_slots.pop_back();
    slots[h] = e;
  } else {
    h = static_cast<std::uint32_t>(slots.size());
    slots.push_back(e);
  }
  index.emplace(std::piecewise_construct, std::forward_as_tuple(key), std::forward_as_tuple(h));
  ++m.data_keys;
  return h;
}

void DataStore::Impl::erase(std::uint32_t h, bool log_it) {
  DataEntry* e = slots[h];
  if (log_it) log_op(e->key, {"del"}, 0);
  if (e->deadline != kNoDeadline) {
    wheel.remove(h);
    deadline_sum -= e->deadline;
  }
  if (auto it = index.find(std::string_view(e->key)); it != index.end()) index.erase(it);
  destroy(h);
  free_slots.push_back(h);
  --m.data_keys;
}

void DataStore::Impl::log_op(std::string_view key, std::vector<std::string> op, Millis deadline) {
  if (!m.log_mutations) return;
  Mutation mu;
  mu.kind = Mutation::Kind::kData;
  mu.key = std::string(key);
  mu.deadline = deadline;
  mu.data = std::move(op);
  m.mutations.push_back(std::move(mu));
}

DataEntry* DataStore::Impl::live(std::string_view key, Millis now) {
  const std::uint32_t h = lookup(key);
  if (h == kNil) return nullptr;
  DataEntry* e = slots[h];
  // A replica (Engine::set_replica) keeps a due key until the leader's "del" arrives.
  if (!m.replica && detail::is_due(e->deadline, now)) {
    erase(h, true);
    return nullptr;
  }
  return e;
}

DataStore::DataStore(Engine& engine, std::uint64_t* bytes)
    : impl_(std::make_unique<Impl>(engine, bytes)) {}
DataStore::~DataStore() = default;

std::pmr::memory_resource* DataStore::resource() {
  return &impl_->res;
}

DataEntry* DataStore::find(std::string_view key, Millis now) {
  ++impl_->m.reads;  // a leader confirms it still leads before the answer leaves (read_count)
  impl_->m.observe(now);
  impl_->wheel.start(now);
  return impl_->live(key, now);
}

bool DataStore::lock_key_exists(std::string_view key, Millis now) {
  Engine::Impl& m = impl_->m;
  m.observe(now);
  const std::uint32_t slot = m.find(key);
  return slot != kNil && m.purge(slot, now);
}

DataEntry* DataStore::find_typed(std::string_view key, DataType t, Millis now, DataStatus& st) {
  st = DataStatus::kOk;
  DataEntry* e = find(key, now);
  if (e) {
    if (e->type != t) st = DataStatus::kWrongType;
    return e->type == t ? e : nullptr;
  }
  if (lock_key_exists(key, now)) st = DataStatus::kWrongType;
  return nullptr;
}

namespace {
DataStatus from_engine(EngineStatus s) {
  switch (s) {
    case EngineStatus::kOverMaxLocks:
      return DataStatus::kOverMaxLocks;
    case EngineStatus::kOverMemory:
      return DataStatus::kOverMemory;
    default:
      return DataStatus::kOk;
  }
}
}  // namespace

DataEntry* DataStore::find_or_create(std::string_view key, DataType t, Millis now,
                                     DataStatus& st) {
  DataEntry* e = find_typed(key, t, now, st);
  if (e || st != DataStatus::kOk) return e;
  if (key.empty() || key.size() > impl_->m.limits.max_key_bytes) {
    st = DataStatus::kBadKey;
    return nullptr;
  }
  st = from_engine(impl_->m.admit(/*creates_key=*/true, false, now));
  if (st != DataStatus::kOk) return nullptr;
  return impl_->slots[impl_->create(key, t)];
}

DataStatus DataStore::admit_growth(Millis now) {
  return from_engine(impl_->m.admit(false, false, now));
}

bool DataStore::remove(std::string_view key, Millis now) {
  if (!find(key, now)) return false;
  impl_->erase(impl_->lookup(key), true);
  return true;
}

void DataStore::remove_if_empty(DataEntry* e) {
  if (!e) return;
  const bool empty = (e->hash && e->hash->empty()) || (e->zset && e->zset->size() == 0) ||
                     (e->list && e->list->empty());
  if (empty) impl_->erase(impl_->lookup(e->key), false);  // its last removal was logged
}

void DataStore::set_deadline(DataEntry* e, Millis deadline) {
  const std::uint32_t h = impl_->lookup(e->key);
  if (e->deadline != kNoDeadline) {
    impl_->wheel.remove(h);
    impl_->deadline_sum -= e->deadline;
  }
  e->deadline = deadline;
  if (deadline != kNoDeadline) {
    impl_->wheel.insert(h);
    impl_->deadline_sum += deadline;
  }
  impl_->log_op(e->key, {"expire"}, deadline);
}

std::size_t DataStore::size() const {
  return impl_->index.size();
}

std::uint64_t DataStore::expires() const {
  return impl_->wheel.size();
}

Millis DataStore::avg_ttl(Millis now) const {
  const auto n = static_cast<std::int64_t>(impl_->wheel.size());
  if (n == 0) return 0;
  return std::max<Millis>(0, (impl_->deadline_sum - n * now) / n);
}

bool DataStore::logging() const {
  return impl_->m.log_mutations;
}

void DataStore::log(const DataEntry* e, std::vector<std::string> op) {
  impl_->log_op(e->key, std::move(op), 0);
}

void DataStore::log_message(std::string_view key, std::vector<std::string> op, Millis at) {
  impl_->log_op(key, std::move(op), at);
}

std::uint64_t DataStore::scan(std::uint64_t cursor, std::size_t count, Millis now,
                              const std::function<void(const DataEntry&)>& fn) {
  if (count == 0) count = 10;
  std::size_t examined = 0;
  std::uint64_t h = cursor;
  while (h < impl_->slots.size() && examined < count) {
    const std::uint32_t s = static_cast<std::uint32_t>(h++);
    DataEntry* e = impl_->slots[s];
    if (!e) continue;
    ++examined;
    if (!impl_->m.replica && detail::is_due(e->deadline, now)) {
      impl_->erase(s, true);
      continue;
    }
    fn(*e);
  }
  return h >= impl_->slots.size() ? 0 : h;
}

std::uint64_t DataStore::expire_due(Millis now, std::uint64_t budget) {
  impl_->wheel.start(now);
  std::uint64_t done = 0;
  if (impl_->m.replica) return done;  // the leader decides expiry
  while (done < budget) {
    const std::uint32_t h = impl_->wheel.pop_due(now);
    if (h == kNil) break;
    impl_->deadline_sum -= impl_->slots[h]->deadline;
    impl_->slots[h]->deadline = kNoDeadline;  // out of the wheel already
    impl_->erase(h, true);
    ++done;
  }
  return done;
}

bool DataStore::has_due(Millis now) {
  impl_->wheel.start(now);
  return impl_->wheel.has_due(now);
}

}  // namespace semlock
