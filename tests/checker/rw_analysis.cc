// rw_analysis.h: the read-write exclusion and hold-count invariants over a recorded history.
#include "tests/checker/rw_analysis.h"

#include <algorithm>
#include <string>

namespace semlock::checker::rw {
namespace {

constexpr Nanos kMs = 1'000'000;

struct Interval {
  Nanos begin = 0, end = 0;
  bool shared = false;
  std::size_t cycle = 0;
};

void add(Report& r, const std::string& kind, const std::string& text) {
  if (r.violations[kind]++ < 5) r.examples.push_back(kind + ": " + text);
}

}  // namespace

Report analyze(const std::vector<Cycle>& cycles, Nanos slack) {
  Report r;
  std::map<int, std::vector<Interval>> by_key;
  for (std::size_t i = 0; i < cycles.size(); ++i) {
    const Cycle& c = cycles[i];
    ++r.cycles;
    r.releases += c.releases.size();
    if (c.acquires.empty() || !c.acquires.front().ok) continue;
    ++r.grants;
    if (c.shared) ++r.shared_grants;
    const std::uint64_t fence = c.acquires.front().fence;
    int granted = 0;
    Nanos dl = 0;  // the deadline's lower bound: the last granted acquire's send + ttl
    Nanos du = 0;  // and its upper bound: that acquire's recv + ttl + slack
    for (const Call& a : c.acquires) {
      if (!a.ok) break;
      ++granted;
      // A re-acquire sent while the holder was sure to be there must answer its fence.
      const bool sure_held = granted == 1 || a.send < dl;
      dl = a.send + c.ttl_ms * kMs;
      du = a.recv + c.ttl_ms * kMs + slack;
      if (granted > 1) ++r.reentrant_grants;
      if (sure_held && a.fence != fence) {
        add(r, "same_fence", "cycle " + std::to_string(i) + ": re-acquire answered fence " +
                                 std::to_string(a.fence) + ", the first was " +
                                 std::to_string(fence));
      }
    }
    // The holder is sure to be there from the grant's reply until the last counted release is
    // sent or its TTL (as last set) runs out.
    Nanos end = dl;
    for (std::size_t k = 0; k < c.releases.size(); ++k) {
      const Call& rel = c.releases[k];
      const bool counted = static_cast<int>(k) < granted;
      if (counted && rel.send < dl && !rel.ok) {
        add(r, "hold_lost", "cycle " + std::to_string(i) + ": release " + std::to_string(k + 1) +
                                " of " + std::to_string(granted) +
                                " holds answered 0 before the TTL" +
                                (rel.error.empty() ? "" : " (" + rel.error + ")"));
      }
      if (counted && rel.ok && rel.send > du) {
        add(r, "hold_outlived", "cycle " + std::to_string(i) + ": release " +
                                    std::to_string(k + 1) + " answered 1 after the TTL ran out");
      }
      if (!counted && rel.ok) {
        add(r, "hold_outlived", "cycle " + std::to_string(i) + ": release " +
                                    std::to_string(k + 1) + " after " + std::to_string(granted) +
                                    " holds answered 1");
      }
      if (static_cast<int>(k) + 1 == granted) end = std::min(end, rel.send);
    }
    by_key[c.key].push_back({c.acquires.front().recv, end, c.shared, i});
  }
  for (auto& [key, iv] : by_key) {
    std::sort(iv.begin(), iv.end(),
              [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
    // Sweep: each interval against the ones still open when it begins.
    std::vector<const Interval*> open;
    for (const Interval& cur : iv) {
      std::erase_if(open, [&](const Interval* o) { return o->end <= cur.begin; });
      for (const Interval* o : open) {
        if (cur.begin >= cur.end) break;
        if (o->shared && cur.shared) {
          ++r.overlapping_readers;
          continue;
        }
        add(r, "rw_exclusion",
            "key " + std::to_string(key) + ": cycle " + std::to_string(o->cycle) + " (" +
                (o->shared ? "reader" : "writer") + ") and cycle " + std::to_string(cur.cycle) +
                " (" + (cur.shared ? "reader" : "writer") + ") held it together for " +
                std::to_string((std::min(o->end, cur.end) - cur.begin) / 1000) + " us");
      }
      if (cur.begin < cur.end) open.push_back(&cur);
    }
  }
  return r;
}

}  // namespace semlock::checker::rw
