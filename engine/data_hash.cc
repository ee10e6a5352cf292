// HashValue: an insertion-ordered array while small, a hash table past it (data.h).
#include <algorithm>

#include "engine/data.h"

// GCC 12 at -O3 reports dereferences inside libstdc++'s unordered_map of pmr strings as potential
// null dereferences (every iterator is checked against end() first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock {

HashValue::~HashValue() {
  if (map_) std::pmr::polymorphic_allocator<>(mr_).delete_object(map_);
}

const PStr* HashValue::find(std::string_view field) const {
  if (map_) {
    auto it = map_->find(field);
    return it == map_->end() ? nullptr : &it->second;
  }
  for (const auto& [k, v] : packed_) {
    if (k == field) return &v;
  }
  return nullptr;
}

bool HashValue::set(std::string_view field, std::string_view value) {
  if (!map_ && (field.size() > kPackedValueMax || value.size() > kPackedValueMax ||
                (packed_.size() >= kPackedMax && !find(field)))) {
    to_map();
  }
  if (map_) {
    auto it = map_->find(field);
    if (it != map_->end()) {
      it->second.assign(value);
      return false;
    }
    map_->emplace(std::piecewise_construct, std::forward_as_tuple(field),
                  std::forward_as_tuple(value));
    return true;
  }
  for (auto& [k, v] : packed_) {
    if (k == field) {
      v.assign(value);
      return false;
    }
  }
  packed_.emplace_back(std::piecewise_construct, std::forward_as_tuple(field),
                       std::forward_as_tuple(value));
  return true;
}

bool HashValue::erase(std::string_view field) {
  if (map_) {
    auto it = map_->find(field);
    if (it == map_->end()) return false;
    map_->erase(it);
    return true;
  }
  auto it = std::find_if(packed_.begin(), packed_.end(),
                         [&](const auto& kv) { return kv.first == field; });
  if (it == packed_.end()) return false;
  packed_.erase(it);
  return true;
}

// Once a hash table, always one (as Redis: a hash never goes back to a listpack).
void HashValue::to_map() {
  map_ = std::pmr::polymorphic_allocator<>(mr_).new_object<Map>();
  map_->reserve(packed_.size() + 1);
  for (const auto& [k, v] : packed_) {
    map_->emplace(std::piecewise_construct, std::forward_as_tuple(std::string_view(k)),
                  std::forward_as_tuple(std::string_view(v)));
  }
  std::pmr::vector<std::pair<PStr, PStr>>(mr_).swap(packed_);
}

}  // namespace semlock
