// ZSet: a packed sorted array for small sets, a size-augmented treap past kPackedMax (data.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/data.h"

namespace semlock {

namespace {
// (score, member) order, as Redis's sorted sets.
bool less(double s1, std::string_view m1, double s2, std::string_view m2) {
  return s1 < s2 || (s1 == s2 && m1 < m2);
}
}  // namespace

struct ZSet::Node {
  double score;
  PStr member;
  std::uint64_t prio;
  std::size_t size = 1;
  Node* left = nullptr;
  Node* right = nullptr;
  Node(double s, std::string_view m, std::uint64_t p, std::pmr::memory_resource* mr)
      : score(s), member(m, mr), prio(p) {}
};

// The treap's operations (split/merge by (score, member), subtree sizes kept on the way).
struct ZSetTree {
  using Node = ZSet::Node;
  static std::size_t sz(const Node* n) { return n ? n->size : 0; }
  static void pull(Node* n) { n->size = 1 + sz(n->left) + sz(n->right); }
  // Splits into (< key, >= key).
  static void split(Node* n, double s, std::string_view m, Node*& l, Node*& r) {
    if (!n) {
      l = r = nullptr;
      return;
    }
    if (less(n->score, n->member, s, m)) {
      split(n->right, s, m, n->right, r);
      l = n;
    } else {
      split(n->left, s, m, l, n->left);
      r = n;
    }
    pull(n);
  }
  static Node* merge(Node* a, Node* b) {
    if (!a) return b;
    if (!b) return a;
    if (a->prio > b->prio) {
      a->right = merge(a->right, b);
      pull(a);
      return a;
    }
    b->left = merge(a, b->left);
    pull(b);
    return b;
  }
  static void insert(Node*& root, Node* n) {
    Node *l, *r;
    split(root, n->score, n->member, l, r);
    root = merge(merge(l, n), r);
  }
  // Unlinks the node equal to (s, m); returns it.
  static Node* erase(Node*& root, double s, std::string_view m) {
    Node** p = &root;
    while (*p) {
      Node* n = *p;
      if (n->score == s && n->member == m) {
        *p = merge(n->left, n->right);
        // Sizes on the path above are fixed by the caller's recompute walk.
        return n;
      }
      p = less(s, m, n->score, n->member) ? &n->left : &n->right;
    }
    return nullptr;
  }
  static void fix_path(Node* root, double s, std::string_view m) {
    // Recompute sizes from the root down to where (s, m) was: O(depth) with an explicit stack.
    Node* stack[128];
    int depth = 0;
    for (Node* n = root; n && depth < 128;) {
      stack[depth++] = n;
      if (less(s, m, n->score, n->member)) {
        n = n->left;
      } else if (less(n->score, n->member, s, m)) {
        n = n->right;
      } else {
        break;
      }
    }
    while (depth > 0) pull(stack[--depth]);
  }
  static std::size_t rank(const Node* n, double s, std::string_view m) {
    std::size_t r = 0;
    while (n) {
      if (less(n->score, n->member, s, m)) {
        r += sz(n->left) + 1;
        n = n->right;
      } else {
        n = n->left;
      }
    }
    return r;
  }
  static const Node* select(const Node* n, std::size_t i) {
    while (n) {
      const std::size_t ls = sz(n->left);
      if (i < ls) {
        n = n->left;
      } else if (i == ls) {
        return n;
      } else {
        i -= ls + 1;
        n = n->right;
      }
    }
    return nullptr;
  }
  static std::size_t count_below(const Node* n, double s, bool inclusive) {
    std::size_t r = 0;
    while (n) {
      if (n->score < s || (inclusive && n->score == s)) {
        r += sz(n->left) + 1;
        n = n->right;
      } else {
        n = n->left;
      }
    }
    return r;
  }
  static void destroy(Node* n, std::pmr::memory_resource* mr) {
    while (n) {
      destroy(n->left, mr);
      Node* right = n->right;
      std::pmr::polymorphic_allocator<Node>(mr).delete_object(n);
      n = right;
    }
  }
  template <class F>
  static void in_order(const Node* n, F&& f) {
    if (!n) return;
    in_order(n->left, f);
    f(n);
    in_order(n->right, f);
  }
};

ZSet::ZSet(std::pmr::memory_resource* mr) : mr_(mr), packed_(mr) {}

ZSet::~ZSet() {
  ZSetTree::destroy(root_, mr_);
  if (tree_map_) std::pmr::polymorphic_allocator<>(mr_).delete_object(tree_map_);
}

std::size_t ZSet::size() const {
  return tree_map_ ? tree_map_->size() : packed_.size();
}

std::optional<double> ZSet::score(std::string_view member) const {
  if (tree_map_) {
    auto it = tree_map_->find(member);
    if (it == tree_map_->end()) return std::nullopt;
    return it->second;
  }
  for (const Packed& p : packed_) {
    if (p.member == member) return p.score;
  }
  return std::nullopt;
}

bool ZSet::set(std::string_view member, double s) {
  if (!tree_map_) {
    auto it = std::find_if(packed_.begin(), packed_.end(),
                           [&](const Packed& p) { return p.member == member; });
    bool added = it == packed_.end();
    if (!added) {
      if (it->score == s) return false;
      packed_.erase(it);
    }
    if (added && packed_.size() >= kPackedMax) {
      to_tree();
      return set(member, s);
    }
    auto pos = std::lower_bound(packed_.begin(), packed_.end(), 0, [&](const Packed& p, int) {
      return less(p.score, p.member, s, member);
    });
    packed_.insert(pos, Packed{s, PStr(member, mr_)});
    return added;
  }
  auto it = tree_map_->find(member);
  if (it != tree_map_->end()) {
    if (it->second == s) return false;
    Node* n = ZSetTree::erase(root_, it->second, member);
    ZSetTree::fix_path(root_, it->second, member);
    if (!n) return false;  // the map and the tree always agree
    n->score = s;
    n->left = n->right = nullptr;
    n->size = 1;
    ZSetTree::insert(root_, n);
    it->second = s;
    return false;
  }
  seed_ ^= seed_ << 13;
  seed_ ^= seed_ >> 7;
  seed_ ^= seed_ << 17;
  Node* n = std::pmr::polymorphic_allocator<Node>(mr_).new_object<Node>(s, member, seed_, mr_);
  ZSetTree::insert(root_, n);
  tree_map_->emplace(std::piecewise_construct, std::forward_as_tuple(member),
                    std::forward_as_tuple(s));
  return true;
}

bool ZSet::remove(std::string_view member) {
  if (!tree_map_) {
    auto it = std::find_if(packed_.begin(), packed_.end(),
                           [&](const Packed& p) { return p.member == member; });
    if (it == packed_.end()) return false;
    packed_.erase(it);
    return true;
  }
  auto it = tree_map_->find(member);
  if (it == tree_map_->end()) return false;
  const double s = it->second;
  Node* n = ZSetTree::erase(root_, s, member);
  ZSetTree::fix_path(root_, s, member);
  if (n) std::pmr::polymorphic_allocator<Node>(mr_).delete_object(n);
  tree_map_->erase(it);
  if (tree_map_->size() < kPackedMax / 2) to_packed();
  return true;
}

std::optional<std::size_t> ZSet::rank(std::string_view member) const {
  if (!tree_map_) {
    for (std::size_t i = 0; i < packed_.size(); ++i) {
      if (packed_[i].member == member) return i;
    }
    return std::nullopt;
  }
  auto it = tree_map_->find(member);
  if (it == tree_map_->end()) return std::nullopt;
  return ZSetTree::rank(root_, it->second, member);
}

std::pair<double, std::string_view> ZSet::at(std::size_t i) const {
  if (!tree_map_) return {packed_[i].score, packed_[i].member};
  const Node* n = ZSetTree::select(root_, i);
  if (!n) return {0, {}};  // i >= size(): the caller's contract says never
  return {n->score, std::string_view(n->member)};
}

std::size_t ZSet::count_below(double s, bool inclusive) const {
  if (tree_map_) return ZSetTree::count_below(root_, s, inclusive);
  auto it = std::partition_point(packed_.begin(), packed_.end(), [&](const Packed& p) {
    return p.score < s || (inclusive && p.score == s);
  });
  return static_cast<std::size_t>(it - packed_.begin());
}

void ZSet::to_tree() {
  tree_map_ = std::pmr::polymorphic_allocator<>(mr_)
                  .new_object<std::pmr::unordered_map<PStr, double, detail::StrHash, std::equal_to<>>>();
  for (const Packed& p : packed_) {
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 7;
    seed_ ^= seed_ << 17;
    Node* n = std::pmr::polymorphic_allocator<Node>(mr_).new_object<Node>(p.score, p.member,
                                                                         seed_, mr_);
    ZSetTree::insert(root_, n);
    tree_map_->emplace(std::piecewise_construct, std::forward_as_tuple(std::string_view(p.member)),
                       std::forward_as_tuple(p.score));
  }
  std::pmr::vector<Packed>(mr_).swap(packed_);
}

void ZSet::to_packed() {
  packed_.reserve(tree_map_->size());
  ZSetTree::in_order(root_, [&](const Node* n) { packed_.push_back(Packed{n->score, PStr(n->member, mr_)}); });
  ZSetTree::destroy(root_, mr_);
  root_ = nullptr;
  std::pmr::polymorphic_allocator<>(mr_).delete_object(tree_map_);
  tree_map_ = nullptr;
}

std::string format_score(double d) {
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", d);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<double> parse_score(std::string_view s) {
  if (s.empty() || s.size() > 128) return std::nullopt;
  std::string str(s);
  if (std::isspace(static_cast<unsigned char>(str[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size() || std::isnan(d)) return std::nullopt;
  return d;
}

}  // namespace semlock
