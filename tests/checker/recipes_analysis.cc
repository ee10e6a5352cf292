// recipes_analysis.h: the invariants of the lock-library recipes over a recorded history.
//
// Per granted attempt, a walk over its calls in order gives the sure-held segments (from the
// grant's reply until the earliest the holder could be gone: its DL, or the send of the release
// that removed it) and the latest moment it could still be there (its DU plus the slack, or the
// reply of the release that removed it). Then, per key: more sure holders than the limit at one
// instant (over_limit); a refusal while no holder could be there (refused_while_free; for
// semaphores counted exactly, member by member, against the refusing script's own `now`); and,
// over the fencing counter, no value twice and none at or below one already received.
#include "tests/checker/recipes_analysis.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace semlock::checker::recipes {

const char* recipe_name(Recipe r) {
  switch (r) {
    case Recipe::kRedisson: return "redisson";
    case Recipe::kSemaphore: return "semaphore";
    case Recipe::kMutex: return "simple-mutex";
  }
  return "?";
}

void Report::add(const std::string& kind, const std::string& text) {
  if (violations[kind]++ < 3) examples.push_back(kind + ": " + text);
}

std::uint64_t Report::total() const {
  std::uint64_t n = 0;
  for (const auto& [k, v] : violations) n += v;
  return n;
}

namespace {

const char* kind_name(CallKind k) {
  switch (k) {
    case CallKind::kAcquire: return "acquire";
    case CallKind::kReenter: return "reenter";
    case CallKind::kRenew: return "renew";
    case CallKind::kRelease: return "release";
    case CallKind::kFence: return "incr";
  }
  return "?";
}

struct Interval {
  Nanos begin = 0, end = 0;
  int attempt = -1;
};

class Analyzer {
 public:
  Analyzer(const History& h, const Options& o) : h_(h), o_(o) {
    origin_ = kNever;
    for (const auto& a : h.attempts) {
      if (!a.calls.empty()) origin_ = std::min(origin_, a.calls.front().send);
    }
    if (origin_ >= kNever) origin_ = 0;
    possible_.assign(h.keys.size(), {});
    sure_.assign(h.keys.size(), {});
    refusals_.assign(h.keys.size(), {});
  }

  Report go() {
    for (std::size_t i = 0; i < h_.attempts.size(); ++i) walk(static_cast<int>(i));
    for (std::size_t k = 0; k < h_.keys.size(); ++k) {
      check_over_limit(static_cast<int>(k));
      if (h_.keys[k].recipe == Recipe::kSemaphore) {
        check_semaphore_refusals(static_cast<int>(k));
      } else {
        check_refusals(static_cast<int>(k));
      }
    }
    check_fences();
    check_messages();
    check_late();
    return std::move(r_);
  }

 private:
  std::string t(Nanos x) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3f", static_cast<double>(x - origin_) / 1e6);
    return buf;
  }
  std::string describe(int ai) const {
    const Attempt& a = h_.attempts[static_cast<std::size_t>(ai)];
    std::string s = h_.keys[static_cast<std::size_t>(a.key)].name + " owner " + a.owner + " ttl " +
                    std::to_string(a.ttl_ms) + "ms:";
    static const char* replies[] = {"no reply", "ok", "no", "error"};
    for (const Call& c : a.calls) {
      s += std::string(" [") + kind_name(c.kind) + " " + t(c.send) + "->" +
           (c.recv >= 0 ? t(c.recv) : std::string("?")) + " " +
           replies[static_cast<int>(c.reply)];
      if (c.kind == CallKind::kFence || (c.kind == CallKind::kRelease && c.reply == Reply::kOk))
        s += " " + std::to_string(c.value);
      if (a.recipe == Recipe::kRedisson && c.reply == Reply::kNo && c.kind != CallKind::kRelease)
        s += " pttl " + std::to_string(c.value);
      if (c.now_ms != 0) s += " now=" + std::to_string(c.now_ms);
      if (!c.error.empty()) s += " " + c.error;
      s += "]";
    }
    // Kills during the attempt (the deadline then came back through a restart).
    Nanos from = a.calls.front().send, to = from;
    for (const Call& c : a.calls) to = std::max(to, std::max(c.send, c.recv));
    for (auto it = std::upper_bound(h_.kills.begin(), h_.kills.end(), from);
         it != h_.kills.end() && *it < to; ++it) {
      s += " [KILL " + t(*it) + "]";
    }
    return s;
  }
  void violate(const std::string& kind, const std::string& what, std::vector<int> attempts) {
    std::string text = what;
    if (r_.violations[kind] < 3) {
      for (int ai : attempts) text += "\n      " + describe(ai);
    }
    r_.add(kind, text);
  }

  Nanos first_kill_after(Nanos x) const {
    auto it = std::upper_bound(h_.kills.begin(), h_.kills.end(), x);
    return it == h_.kills.end() ? kNever : *it;
  }
  bool kill_between(Nanos a, Nanos b) const { return first_kill_after(a) < b; }

  void walk(int ai) {
    const Attempt& a = h_.attempts[static_cast<std::size_t>(ai)];
    if (a.calls.empty()) return;
    RecipeCounts& n = r_.by_recipe[a.recipe];
    ++n.attempts;
    const Nanos ttl = a.ttl_ms * kMs;
    const Call& c0 = a.calls.front();
    for (const Call& c : a.calls) {
      if (c.reply == Reply::kError) {
        violate("error_reply", std::string(kind_name(c.kind)) + " answered " + c.error, {ai});
      }
      if (c.kind == CallKind::kFence && c.reply == Reply::kOk) fences_.push_back({&c, ai});
    }
    auto& possible = possible_[static_cast<std::size_t>(a.key)];
    if (c0.reply == Reply::kNo) {
      ++n.refusals;
      refusals_[static_cast<std::size_t>(a.key)].push_back(ai);
      return;
    }
    if (c0.reply != Reply::kOk) {
      // No reply (or an error): it may have been granted, and held until the kill plus its TTL.
      Nanos k = first_kill_after(c0.send);
      Nanos end = k >= kNever ? kNever : k + ttl + kMs + o_.restore_margin + o_.expiry_slack;
      possible.push_back({c0.send, end, ai});
      if (a.recipe == Recipe::kSemaphore) members_[a.key].push_back(ai);
      return;
    }
    ++n.grants;
    if (a.recipe == Recipe::kSemaphore) members_[a.key].push_back(ai);
    Nanos seg_start = c0.recv;
    Nanos dl_key = c0.send + ttl;
    // A semaphore member's own expiry (exact, see the header); none for the other recipes.
    Nanos dl_log = a.recipe == Recipe::kSemaphore ? (c0.now_ms + a.ttl_ms) * kMs : kNever;
    std::int64_t score = c0.now_ms;
    Nanos du = c0.recv + ttl + kMs;
    Nanos end_hi = kNever;
    int depth = 1;
    bool depth_known = true, released = false, ended = false;
    // DL as of a reply at `x`: a kill between the grant and then means the deadline was restored.
    auto eff = [&](Nanos x) {
      Nanos key = kill_between(c0.send, std::min(x, dl_key)) ? dl_key - o_.restore_margin : dl_key;
      return std::min(key, dl_log);
    };
    auto du_eff = [&](Nanos x) {
      return (kill_between(c0.send, x) ? du + o_.restore_margin : du) + o_.expiry_slack;
    };
    auto close_seg = [&](Nanos end) {
      if (end > seg_start) sure_[static_cast<std::size_t>(a.key)].push_back({seg_start, end, ai});
      ended = true;
    };
    auto lost = [&](const Call& c, const char* what) {
      Nanos dl = eff(c.recv);
      if (c.recv >= 0 && c.recv < dl) {
        violate("lost_before_ttl",
                std::string(what) + " answered 'not held' " +
                    std::to_string(static_cast<double>(dl - c.recv) / 1e6) +
                    " ms before the holder's deadline could have passed",
                {ai});
      }
    };
    auto resurrected = [&](const Call& c, const char* what) {
      if (a.recipe == Recipe::kSemaphore) {
        // The refresh script first drops members scored at or below its now - timeout.
        if (c.now_ms - a.ttl_ms >= score) {
          violate("resurrected",
                  std::string(what) + " succeeded with now=" + std::to_string(c.now_ms) +
                      " although its own ZREMRANGEBYSCORE drops the member scored " +
                      std::to_string(score),
                  {ai});
        }
        return;
      }
      if (a.recipe == Recipe::kMutex) {
        late_.push_back({ai, c.send, du_eff(c.send), what});  // after the wild PEXPIREs are known
        return;
      }
      if (c.send > du_eff(c.send)) {
        violate("resurrected",
                std::string(what) + " succeeded " +
                    std::to_string(static_cast<double>(c.send - du_eff(c.send)) / 1e6) +
                    " ms after the holder's latest possible deadline",
                {ai});
      }
    };
    Nanos last_used = c0.recv;
    for (std::size_t i = 1; i < a.calls.size() && !(ended && !released); ++i) {
      const Call& c = a.calls[i];
      if (c.kind == CallKind::kFence) continue;
      if (released) {
        // Only the Redisson worker sends one unlock too many: it must find nothing.
        if (c.reply == Reply::kOk) {
          violate("hold_count", "an unlock after the last hold was released answered " +
                                    std::to_string(c.value), {ai});
        }
        continue;
      }
      if (c.reply == Reply::kNone || c.reply == Reply::kError) {
        // Unknown: it may have run until the kill. A release may have ended the holder at once
        // (and a mutex release may have published its notice before the kill).
        if (a.recipe == Recipe::kMutex && c.kind == CallKind::kRelease) {
          released_at_[ai] = {c.send, du_eff(c.send)};
        }
        close_seg(c.kind == CallKind::kRelease ? std::min(eff(c.send), c.send) : eff(c.send));
        // Anything but a plain release may have set the deadline anew before the kill (Redisson's
        // unlock counts down with a PEXPIRE when more holds are left).
        const Nanos k = first_kill_after(c.send);
        const Nanos reach = k >= kNever ? kNever / 2 : k + ttl + kMs + o_.restore_margin;
        if (c.kind != CallKind::kRelease || a.recipe == Recipe::kRedisson) du = std::max(du, reach);
        if (a.recipe == Recipe::kMutex && c.kind == CallKind::kRenew && c.aux_send != 0) {
          // Its PEXPIRE was sent: it may have hit whoever held the key by then.
          possible.push_back({c.aux_send, reach + o_.expiry_slack, ai});
          wild_[a.key].push_back({c.aux_send, std::min(k, kNever / 2), reach + o_.expiry_slack});
        }
        break;
      }
      last_used = c.recv;
      switch (c.kind) {
        case CallKind::kReenter:
          if (c.reply == Reply::kNo) {
            lost(c, "a re-entry");
            close_seg(std::min(eff(c.recv), std::max(c.send, seg_start)));
            end_hi = c.recv;
            break;
          }
          ++n.reentries;
          if (c.recv < eff(c.recv)) {
            dl_key = std::max(dl_key, c.send + ttl);
            if (depth_known) ++depth;
          } else {
            // It may have expired first and been taken anew (count 1): a new segment.
            close_seg(eff(c.recv));
            ended = false;
            seg_start = c.recv;
            dl_key = c.send + ttl;
            depth_known = false;
          }
          du = std::max(du, c.recv + ttl + kMs);
          break;
        case CallKind::kRenew:
          if (c.reply == Reply::kNo) {
            lost(c, "a renewal");
            close_seg(std::min(eff(c.recv), std::max(c.send, seg_start)));
            end_hi = c.recv;
            break;
          }
          ++n.renews;
          resurrected(c, "a renewal");
          if (a.recipe == Recipe::kMutex) {
            // GET then PEXPIRE, not atomic (as the library does it): the PEXPIRE surely hit this
            // holder only when it ran before the holder's deadline; else it may have extended
            // whoever held the key then.
            if (c.recv < eff(c.recv)) {
              dl_key = std::max(dl_key, c.aux_send + ttl);
            } else {
              Nanos end = c.recv + ttl + kMs + o_.expiry_slack;
              if (kill_between(c.aux_send, end)) end += o_.restore_margin;
              possible.push_back({c.aux_send, end, ai});
              wild_[a.key].push_back({c.aux_send, c.recv, end});
            }
          } else {
            dl_key = std::max(dl_key, c.send + ttl);
          }
          if (a.recipe == Recipe::kSemaphore) {
            score = c.now_ms;
            dl_log = (c.now_ms + a.ttl_ms) * kMs;
          }
          du = std::max(du, c.recv + ttl + kMs);
          break;
        case CallKind::kRelease:
          ++n.releases;
          if (c.reply == Reply::kNo) {
            lost(c, "a release");
            close_seg(std::min(eff(c.recv), std::max(c.send, seg_start)));
            end_hi = c.recv;
            break;
          }
          if (a.recipe == Recipe::kRedisson && c.value == 0) {
            resurrected(c, "an unlock (count down)");
            if (depth_known && depth == 1) {
              violate("hold_count", "the unlock of the last hold answered 0 (still held)", {ai});
            }
            if (depth_known) --depth;
            dl_key = std::max(dl_key, c.send + ttl);
            du = std::max(du, c.recv + ttl + kMs);
            break;
          }
          if (a.recipe == Recipe::kRedisson) {
            resurrected(c, "an unlock");
            if (depth_known && depth > 1) {
              violate("hold_count",
                      "an unlock answered 1 (released) with " + std::to_string(depth) +
                          " holds counted",
                      {ai});
            }
          }
          if (a.recipe == Recipe::kMutex) {
            released_at_[ai] = {c.send, du_eff(c.send)};
          }
          close_seg(std::min(eff(c.send), c.send));
          end_hi = c.recv;
          released = a.recipe == Recipe::kRedisson;
          break;
        case CallKind::kAcquire:
        case CallKind::kFence:
          break;
      }
    }
    if (!ended) close_seg(eff(kNever));
    if (kill_between(c0.recv, last_used)) ++n.carried;
    end_hi = std::min(end_hi, du >= kNever / 2 ? kNever : du_eff(du));
    possible.push_back({c0.send, end_hi, ai});
  }

  void check_over_limit(int k) {
    auto& segs = sure_[static_cast<std::size_t>(k)];
    std::vector<std::pair<Nanos, int>> ev;  // ends (negative) sort before starts at one time
    for (std::size_t i = 0; i < segs.size(); ++i) {
      ev.push_back({segs[i].begin, static_cast<int>(i) + 1});
      ev.push_back({segs[i].end, -(static_cast<int>(i) + 1)});
    }
    std::sort(ev.begin(), ev.end());
    std::vector<int> active;
    bool over = false;
    const int limit = h_.keys[static_cast<std::size_t>(k)].limit;
    for (const auto& [when, e] : ev) {
      if (e < 0) {
        std::erase(active, -e - 1);
        over = false;
        continue;
      }
      active.push_back(e - 1);
      if (static_cast<int>(active.size()) > limit && !over) {
        over = true;
        std::vector<int> atts;
        for (int s : active) atts.push_back(segs[static_cast<std::size_t>(s)].attempt);
        violate("over_limit",
                std::to_string(active.size()) + " sure holders of " +
                    h_.keys[static_cast<std::size_t>(k)].name + " (limit " +
                    std::to_string(limit) + ") at " + t(when),
                atts);
      }
    }
  }

  // Mutexes (Redisson's hash, SET NX): refused although no holder could have been there.
  void check_refusals(int k) {
    auto iv = possible_[static_cast<std::size_t>(k)];
    std::sort(iv.begin(), iv.end(),
              [](const Interval& x, const Interval& y) { return x.begin < y.begin; });
    std::vector<Nanos> max_end;
    std::vector<int> max_att;
    for (const auto& i : iv) {
      bool more = max_end.empty() || i.end > max_end.back();
      max_end.push_back(more ? i.end : max_end.back());
      max_att.push_back(more ? i.attempt : max_att.back());
    }
    for (int ai : refusals_[static_cast<std::size_t>(k)]) {
      const Call& c = h_.attempts[static_cast<std::size_t>(ai)].calls.front();
      auto it = std::lower_bound(iv.begin(), iv.end(), c.recv,
                                 [](const Interval& x, Nanos v) { return x.begin < v; });
      std::size_t idx = static_cast<std::size_t>(it - iv.begin());
      if (idx > 0 && max_end[idx - 1] > c.send) continue;
      std::vector<int> atts = {ai};
      if (idx > 0) atts.push_back(max_att[idx - 1]);
      violate("refused_while_free",
              "refused although no holder could have been there (the last possible one is the "
              "second attempt shown, if any)",
              atts);
    }
  }

  // Semaphores: at the refusing script, fewer members could have been in the set than the limit.
  void check_semaphore_refusals(int k) {
    auto& members = members_[k];
    std::sort(members.begin(), members.end(), [&](int x, int y) {
      return h_.attempts[static_cast<std::size_t>(x)].calls.front().send <
             h_.attempts[static_cast<std::size_t>(y)].calls.front().send;
    });
    const int limit = h_.keys[static_cast<std::size_t>(k)].limit;
    for (int ri : refusals_[static_cast<std::size_t>(k)]) {
      const Attempt& ra = h_.attempts[static_cast<std::size_t>(ri)];
      const Call& r = ra.calls.front();
      int present = 0;
      for (int mi : members) {
        const Attempt& m = h_.attempts[static_cast<std::size_t>(mi)];
        if (m.calls.front().send >= r.recv) break;
        bool gone = false;
        std::int64_t best = INT64_MIN;
        for (const Call& c : m.calls) {
          if (c.recv >= 0 && c.recv < r.send &&
              (c.reply == Reply::kNo || (c.kind == CallKind::kRelease && c.reply == Reply::kOk))) {
            gone = true;  // answered "not there", or removed by its ZREM, before the refusal
          }
          if ((c.kind == CallKind::kAcquire || c.kind == CallKind::kRenew) && c.send < r.recv &&
              (c.reply == Reply::kOk || c.reply == Reply::kNone)) {
            best = std::max(best, c.now_ms);
          }
        }
        if (gone || best == INT64_MIN) continue;
        if (best <= r.now_ms - ra.ttl_ms) continue;  // the refusing script dropped it itself
        ++present;
      }
      if (present < limit) {
        violate("refused_while_free",
                "semaphore refused with at most " + std::to_string(present) +
                    " member(s) possibly in the set (limit " + std::to_string(limit) + ")",
                {ri});
      }
    }
  }

  void check_fences() {
    r_.fences = fences_.size();
    std::unordered_map<std::int64_t, int> seen;
    for (const auto& [c, ai] : fences_) {
      auto [it, fresh] = seen.emplace(c->value, ai);
      if (!fresh) {
        violate("fence_reused", "fencing token " + std::to_string(c->value) + " given twice",
                {it->second, ai});
      }
    }
    auto by_recv = fences_;
    std::sort(by_recv.begin(), by_recv.end(),
              [](const auto& x, const auto& y) { return x.first->recv < y.first->recv; });
    std::vector<std::pair<std::int64_t, int>> prefix;
    for (const auto& [c, ai] : by_recv) {
      auto best = prefix.empty() ? std::make_pair(INT64_MIN, -1) : prefix.back();
      if (c->value > best.first) best = {c->value, ai};
      prefix.push_back(best);
    }
    for (const auto& [c, ai] : fences_) {
      auto it = std::lower_bound(by_recv.begin(), by_recv.end(), c->send,
                                 [](const auto& x, Nanos v) { return x.first->recv < v; });
      if (it == by_recv.begin()) continue;
      auto best = prefix[static_cast<std::size_t>(it - by_recv.begin() - 1)];
      if (best.first >= c->value) {
        violate("fence_order",
                "fencing token " + std::to_string(c->value) + " given after " +
                    std::to_string(best.first) + " was received",
                {best.second, ai});
      }
    }
  }

  // A PEXPIRE of simple-redis-mutex's refresh that ran after its own holder's deadline (GET and
  // PEXPIRE are two requests) may have extended whoever held the key then, up to its `end`.
  bool wild_explains(int key, Nanos grant_send, Nanos at) const {
    auto it = wild_.find(key);
    if (it == wild_.end()) return false;
    for (const Wild& w : it->second) {
      if (w.send < at && w.recv > grant_send && at <= w.end) return true;
    }
    return false;
  }

  // simple-redis-mutex: the value was found (refresh GET, release script) after the holder's
  // latest possible deadline, and no other holder's late PEXPIRE can explain it.
  void check_late() {
    for (const Late& l : late_) {
      const Attempt& a = h_.attempts[static_cast<std::size_t>(l.attempt)];
      if (l.send <= l.du || wild_explains(a.key, a.calls.front().send, l.send)) continue;
      violate("resurrected",
              std::string(l.what) + " found the value " +
                  std::to_string(static_cast<double>(l.send - l.du) / 1e6) +
                  " ms after the holder's latest possible deadline",
              {l.attempt});
    }
  }

  // simple-redis-mutex release notices: each names a holder whose release script had been sent,
  // and one that could still hold the key when the script compared it.
  void check_messages() {
    r_.messages = h_.messages.size();
    std::set<int> notified;
    std::map<std::pair<int, std::string>, int> owners;
    for (std::size_t i = 0; i < h_.attempts.size(); ++i) {
      const Attempt& a = h_.attempts[i];
      if (a.recipe == Recipe::kMutex) owners[{a.key, a.owner}] = static_cast<int>(i);
    }
    for (const Message& m : h_.messages) {
      auto it = owners.find({m.key, m.value});
      auto rel = it == owners.end() ? released_at_.end() : released_at_.find(it->second);
      if (rel == released_at_.end() || rel->second.first >= m.recv) {
        std::string what = "a release notice for " +
                           (m.key >= 0 ? h_.keys[static_cast<std::size_t>(m.key)].name
                                       : std::string("an unknown key")) +
                           " value " + m.value + " at " + t(m.recv) +
                           " that no release sent before it explains";
        violate("publish_unknown", what,
                it == owners.end() ? std::vector<int>{} : std::vector<int>{it->second});
        continue;
      }
      if (rel->second.first > rel->second.second && notified.insert(it->second).second) {
        late_.push_back({it->second, rel->second.first, rel->second.second,
                         "the release script (its notice says so)"});
      }
    }
  }

  const History& h_;
  const Options& o_;
  Report r_;
  Nanos origin_ = 0;
  std::vector<std::vector<Interval>> possible_, sure_;
  std::vector<std::vector<int>> refusals_;
  std::map<int, std::vector<int>> members_;  // semaphore key -> attempts granted or unanswered
  std::vector<std::pair<const Call*, int>> fences_;
  std::map<int, std::pair<Nanos, Nanos>> released_at_;
  struct Wild {
    Nanos send = 0, recv = 0, end = 0;
  };
  std::map<int, std::vector<Wild>> wild_;  // key -> PEXPIREs that may have hit another holder
  struct Late {
    int attempt = -1;
    Nanos send = 0, du = 0;
    const char* what = "";
  };
  std::vector<Late> late_;  // mutex: release send, DU + slack then
};

}  // namespace

Report analyze(const History& h, const Options& options) {
  return Analyzer(h, options).go();
}

}  // namespace semlock::checker::recipes
