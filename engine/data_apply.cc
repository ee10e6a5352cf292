// DataStore: replaying logged operations (restore, replication) and describing keys as operations
// (snapshots). The operations are data.h's: del, expire, ctr, hset, hdel, zadd, zrem, lpush,
// rpush, lpop, rpop, lrem.
#include <charconv>

#include "engine/data_impl.h"

namespace semlock {

namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

DataType type_of_op(std::string_view op) {
  if (op == "ctr") return DataType::kCounter;
  if (op == "hset" || op == "hdel") return DataType::kHash;
  if (op == "zadd" || op == "zrem") return DataType::kZSet;
  if (op == "lpush" || op == "rpush" || op == "lpop" || op == "rpop" || op == "lrem") {
    return DataType::kList;
  }
  return DataType::kNone;
}

}  // namespace

bool DataStore::apply(std::string_view key, const std::vector<std::string>& op, Millis deadline,
                      Millis now) {
  if (op.empty()) return false;
  Impl& d = *impl_;
  d.m.observe(now);
  d.wheel.start(now);
  const bool logging = d.m.log_mutations;
  d.m.log_mutations = false;
  struct Restore {
    Engine::Impl& m;
    bool on;
    ~Restore() { m.log_mutations = on; }
  } restore{d.m, logging};

  const std::string_view name = op[0];
  std::uint32_t h = d.lookup(key);
  if (name == "del") {
    if (h != detail::kNil) d.erase(h, false);
    return true;
  }
  if (name == "expire") {
    if (h == detail::kNil) return true;
    set_deadline(d.slots[h], deadline);
    return true;
  }
  const DataType t = type_of_op(name);
  if (t == DataType::kNone) return false;
  if (h != detail::kNil && d.slots[h]->type != t) {
    d.erase(h, false);
    h = detail::kNil;
  }
  if (h == detail::kNil) {
    // A lock key of that name cannot be live beside it; a stale one restored from an older record
    // gives way to the newer data record.
    const std::uint32_t slot = d.m.find(key);
    if (slot != detail::kNil) {
      while (d.m.holders_of(slot) != 0 || d.m.waiters_of(slot) != 0) {
        if (d.m.keys[slot].has_first()) {
          d.m.remove_holder(slot);
        } else if (d.m.keys[slot].ext != detail::kNil &&
                   d.m.exts[d.m.keys[slot].ext].extra_count != 0) {
          d.m.remove_holder(d.m.exts[d.m.keys[slot].ext].extra_head | detail::kExtraBit);
        } else {
          break;
        }
      }
      d.m.erase_if_empty(slot);
    }
    h = d.create(key, t);
  }
  DataEntry* e = d.slots[h];
  if (name == "ctr") {
    if (op.size() != 2) return false;
    auto v = to_int(op[1]);
    if (!v) return false;
    e->counter = *v;
  } else if (name == "hset") {
    for (std::size_t i = 1; i + 1 < op.size(); i += 2) {
      auto it = e->hash->find(std::string_view(op[i]));
      if (it != e->hash->end()) {
        it->second.assign(op[i + 1]);
      } else {
        e->hash->emplace(std::piecewise_construct, std::forward_as_tuple(std::string_view(op[i])),
                         std::forward_as_tuple(std::string_view(op[i + 1])));
      }
    }
  } else if (name == "hdel") {
    for (std::size_t i = 1; i < op.size(); ++i) {
      auto it = e->hash->find(std::string_view(op[i]));
      if (it != e->hash->end()) e->hash->erase(it);
    }
  } else if (name == "zadd") {
    for (std::size_t i = 1; i + 1 < op.size(); i += 2) {
      auto s = parse_score(op[i]);
      if (!s) return false;
      e->zset->set(op[i + 1], *s);
    }
  } else if (name == "zrem") {
    for (std::size_t i = 1; i < op.size(); ++i) e->zset->remove(op[i]);
  } else if (name == "lpush" || name == "rpush") {
    for (std::size_t i = 1; i < op.size(); ++i) {
      if (name == "lpush") {
        e->list->emplace_front(std::string_view(op[i]));
      } else {
        e->list->emplace_back(std::string_view(op[i]));
      }
    }
  } else if (name == "lpop" || name == "rpop") {
    auto n = op.size() == 2 ? to_int(op[1]) : std::nullopt;
    if (!n) return false;
    for (std::int64_t i = 0; i < *n && !e->list->empty(); ++i) {
      if (name == "lpop") {
        e->list->pop_front();
      } else {
        e->list->pop_back();
      }
    }
  } else if (name == "lrem") {
    auto n = op.size() == 3 ? to_int(op[1]) : std::nullopt;
    if (!n) return false;
    list_remove(*e->list, *n, op[2]);
  }
  remove_if_empty(e);
  return true;
}

std::int64_t list_remove(ListValue& list, std::int64_t count, std::string_view value) {
  std::int64_t removed = 0;
  const std::int64_t limit = count == 0 ? INT64_MAX : (count < 0 ? -count : count);
  if (count >= 0) {
    for (auto it = list.begin(); it != list.end() && removed < limit;) {
      if (*it == value) {
        it = list.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
  } else {
    for (std::size_t i = list.size(); i > 0 && removed < limit; --i) {
      if (list[i - 1] == value) {
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i - 1));
        ++removed;
      }
    }
  }
  return removed;
}

void DataStore::for_each_key(const std::function<void(std::string_view key,
                                                      const std::vector<std::string>& op,
                                                      Millis deadline)>& fn) const {
  // Large values are described in chunks, so that no record grows without bound.
  constexpr std::size_t kChunkBytes = 32 * 1024;
  for (const DataEntry* e : impl_->slots) {
    if (!e) continue;
    std::vector<std::string> op;
    std::size_t bytes = 0;
    auto flush = [&](std::string_view name) {
      if (op.size() > 1) fn(e->key, op, 0);
      op.assign(1, std::string(name));
      bytes = 0;
    };
    auto add = [&](std::string_view name, std::string_view a, std::string_view b, bool pair) {
      if (bytes > kChunkBytes) flush(name);
      op.emplace_back(a);
      if (pair) op.emplace_back(b);
      bytes += a.size() + b.size() + 16;
    };
    switch (e->type) {
      case DataType::kCounter:
        fn(e->key, {"ctr", std::to_string(e->counter)}, 0);
        break;
      case DataType::kHash:
        op.assign(1, "hset");
        for (const auto& [f, v] : *e->hash) add("hset", f, v, true);
        flush("hset");
        break;
      case DataType::kZSet:
        op.assign(1, "zadd");
        for (std::size_t i = 0; i < e->zset->size(); ++i) {
          const auto [s, m] = e->zset->at(i);
          add("zadd", format_score(s), m, true);
        }
        flush("zadd");
        break;
      case DataType::kList:
        op.assign(1, "rpush");
        for (const PStr& v : *e->list) add("rpush", v, {}, false);
        flush("rpush");
        break;
      case DataType::kNone:
        break;
    }
    if (e->deadline != kNoDeadline) fn(e->key, {"expire"}, e->deadline);
  }
}

}  // namespace semlock
