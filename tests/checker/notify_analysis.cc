// The lost-lock notice invariant (notify_analysis.h).
#include "tests/checker/notify_analysis.h"

#include <map>
#include <utility>

namespace semlock::checker {

const char* source_name(Notice::Source s) {
  switch (s) {
    case Notice::Source::kChannel:
      return "channel";
    case Notice::Source::kWatch:
      return "watch";
    case Notice::Source::kPush:
      return "push";
  }
  return "?";
}

std::vector<std::string> check_notices(const NotifyHistory& h, std::int64_t late_ms) {
  constexpr NotifyNanos kMs = 1'000'000;
  std::vector<std::string> bad;
  std::map<std::uint64_t, int> by_fence;
  for (int i = 0; i < static_cast<int>(h.grants.size()); ++i) by_fence[h.grants[i].fence] = i;
  // (fence, source) -> notices seen.
  std::map<std::pair<std::uint64_t, int>, int> seen;
  for (const Notice& n : h.notices) {
    const std::string what = std::string(source_name(n.source)) + " notice " + n.key + " " +
                             n.owner + " " + std::to_string(n.fence) + " " + n.reason;
    const auto it = by_fence.find(n.fence);
    if (it == by_fence.end()) {
      bad.push_back(what + ": no grant has this fence");
      continue;
    }
    const NotifyGrant& g = h.grants[it->second];
    if (!g.notify) bad.push_back(what + ": the holder was not acquired with NOTIFY");
    if (g.key != n.key || g.owner != n.owner) {
      bad.push_back(what + ": the fence belongs to " + g.key + " " + g.owner);
    }
    if (n.source == Notice::Source::kPush && (!g.resp3 || n.conn != g.conn)) {
      bad.push_back(what + ": pushed to another connection than the acquiring RESP3 one");
    }
    if (g.released_by_owner) bad.push_back(what + ": its owner released it (no loss)");
    if (++seen[{n.fence, static_cast<int>(n.source)}] == 2) {
      bad.push_back(what + ": more than one notice from this listener");
    }
    if (n.reason == "expired") {
      if (n.recv < g.min_deadline) {
        bad.push_back(what + ": came before the TTL had passed");
      }
      // Surely late only if it was still absent that long after the deadline.
      const NotifyNanos arrived_after = n.absent_at != 0 ? n.absent_at : n.recv;
      if (arrived_after > g.told_deadline + late_ms * kMs) {
        bad.push_back(what + ": came " + std::to_string((arrived_after - g.told_deadline) / kMs) +
                      " ms after the deadline (allowed " + std::to_string(late_ms) + ")");
      }
    } else if (n.reason == "forced") {
      bool cause = false;
      for (const NotifyForce& f : h.forces) {
        cause = cause || (f.key == g.key && f.send >= g.send && f.send <= n.recv);
      }
      if (!cause) bad.push_back(what + ": no force release or SET of the key came before it");
    } else {
      bad.push_back(what + ": unexpected reason (no restart or failover in this run)");
    }
  }
  // Every lost NOTIFY holder was told of, once per listener.
  for (const NotifyGrant& g : h.grants) {
    if (!g.notify || g.released_by_owner) continue;
    const std::string what = "lost holder " + g.key + " " + g.owner + " " + std::to_string(g.fence);
    if (seen[{g.fence, static_cast<int>(Notice::Source::kChannel)}] == 0) {
      bad.push_back(what + ": no channel notice");
    }
    if (h.watch_all && seen[{g.fence, static_cast<int>(Notice::Source::kWatch)}] == 0) {
      bad.push_back(what + ": no watch notice");
    }
    if (g.resp3 && seen[{g.fence, static_cast<int>(Notice::Source::kPush)}] == 0) {
      bad.push_back(what + ": no push to its RESP3 connection");
    }
  }
  return bad;
}

}  // namespace semlock::checker
