#include "tests/checker/analysis.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace semlock::checker {
namespace {

constexpr std::size_t kExamplesPerKind = 3;

struct Grant {
  int op = -1;  // the op that granted it
  int key = 0;
  Nanos s0 = 0, r0 = 0;
  Nanos end_lo = kNever;  // sure-held until
  Nanos end_hi = kNever;  // possibly held until
  std::uint64_t fence = 0;
  bool session = false;
  bool released_ok = false;  // a release by the owner succeeded
  Nanos released_recv = kNever;
};

// Force releases (and JSON releases without owner) that may have removed holders.
struct Force {
  Nanos send = 0, end = 0;
  int op = -1;
};

bool granted_new(const Run& run, const Op& op) {
  if (op.result != Result::kGranted) return false;
  if (op.kind == OpKind::kAcquire) return true;
  if (op.kind != OpKind::kRefresh || op.grant < 0) return false;
  // A refresh that came back with another fence is a new grant (the old holder was gone).
  const Op* root = &run.ops[static_cast<std::size_t>(op.grant)];
  return root->fence != op.fence;
}

class Analyzer {
 public:
  Analyzer(const Run& run, const AnalysisOptions& opt) : run_(run), opt_(opt) {
    origin_ = kNever;
    for (const auto& op : run.ops) origin_ = std::min(origin_, op.send);
  }

  Report go() {
    index();
    build_grants();
    check_over_limit();
    check_fences();
    check_refusals();
    check_fifo();
    check_restarts();
    check_misc();
    return std::move(report_);
  }

 private:
  Nanos conn_close(int conn) const { return run_.conns[static_cast<std::size_t>(conn)].close; }
  Nanos first_kill_after(Nanos t) const {
    auto it = std::upper_bound(run_.kills.begin(), run_.kills.end(), t);
    return it == run_.kills.end() ? kNever : *it;
  }
  bool kill_between(Nanos a, Nanos b) const { return first_kill_after(a) < b; }
  std::size_t nkeys() const { return run_.keys.size(); }
  int limit(int key) const { return run_.keys[static_cast<std::size_t>(key)].limit; }
  // The latest moment an unanswered request may have been processed.
  Nanos unanswered_end(const Op& op) const {
    Nanos c = conn_close(op.conn);
    return c >= kNever ? kNever : c + opt_.close_notice;
  }

  // Records a violation with a readable history: the ops named, every op on their grants, and
  // (marked as context) the other ops on the same key around that time.
  void violate(std::string kind, std::string text, std::vector<int> ops) {
    if (report_.violations[kind] >= 3) {
      report_.add(Violation{std::move(kind), std::move(text), {}});
      return;
    }
    std::set<int> named;
    Nanos from = kNever, to = 0;
    int key = -1;
    for (int i : ops) {
      named.insert(i);
      for (int c : children_[static_cast<std::size_t>(i)]) named.insert(c);
    }
    for (int i : named) {
      const Op& op = run_.ops[static_cast<std::size_t>(i)];
      from = std::min(from, op.send);
      to = std::max(to, op.recv >= 0 ? op.recv : op.send);
      key = op.key;
    }
    std::vector<int> list(named.begin(), named.end());
    std::size_t n_named = list.size();
    if (key >= 0) {
      const auto& by_key = by_key_[static_cast<std::size_t>(key)];
      // The few ops on the key before the history starts, then those during it.
      auto it = std::lower_bound(by_key.begin(), by_key.end(), from, [&](int x, Nanos t) {
        return run_.ops[static_cast<std::size_t>(x)].send < t;
      });
      it -= std::min<std::ptrdiff_t>(it - by_key.begin(), 6);
      std::size_t extra = 0;
      for (; it != by_key.end() && run_.ops[static_cast<std::size_t>(*it)].send <= to && extra < 24;
           ++it) {
        if (named.count(*it) == 0) {
          list.push_back(*it);
          ++extra;
        }
      }
    }
    auto by_send = [&](int a, int b) {
      return run_.ops[static_cast<std::size_t>(a)].send <
             run_.ops[static_cast<std::size_t>(b)].send;
    };
    std::sort(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n_named), by_send);
    std::sort(list.begin() + static_cast<std::ptrdiff_t>(n_named), list.end(), by_send);
    Violation v{std::move(kind), std::move(text), std::move(list)};
    v.named = n_named;
    report_.add(std::move(v));
  }

  void index() {
    children_.assign(run_.ops.size(), {});
    forces_.assign(nkeys(), {});
    by_key_.assign(nkeys(), {});
    for (std::size_t i = 0; i < run_.ops.size(); ++i) {
      const Op& op = run_.ops[i];
      ++report_.ops;
      by_key_[static_cast<std::size_t>(op.key)].push_back(static_cast<int>(i));
      if (op.grant >= 0)
        children_[static_cast<std::size_t>(op.grant)].push_back(static_cast<int>(i));
      if (op.kind == OpKind::kRelease) ++report_.releases;
      if (op.kind == OpKind::kExtend) ++report_.extends;
      if (op.kind == OpKind::kForce) {
        ++report_.forces;
        bool may_remove =
            op.result == Result::kNoReply || (op.result == Result::kCount && op.count > 0);
        if (may_remove) {
          Nanos end = op.recv >= 0 ? op.recv : unanswered_end(op);
          forces_[static_cast<std::size_t>(op.key)].push_back({op.send, end, static_cast<int>(i)});
        }
      }
    }
    for (auto& list : by_key_) {
      std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
        return run_.ops[static_cast<std::size_t>(a)].send <
               run_.ops[static_cast<std::size_t>(b)].send;
      });
    }
    max_force_span_ = 0;
    for (auto& list : forces_) {
      std::sort(list.begin(), list.end(),
                [](const Force& a, const Force& b) { return a.send < b.send; });
      for (const auto& f : list) max_force_span_ = std::max(max_force_span_, f.end - f.send);
    }
  }

  // A force on `key` sent before `before` and ending after `after` (could have hit the holder).
  const Force* force_between(int key, Nanos after, Nanos before) const {
    const auto& list = forces_[static_cast<std::size_t>(key)];
    auto it = std::lower_bound(list.begin(), list.end(), after - max_force_span_,
                               [](const Force& f, Nanos t) { return f.send < t; });
    for (; it != list.end() && it->send < before; ++it) {
      if (it->end > after) return &*it;
    }
    return nullptr;
  }

  void lost_check(const Grant& g, const Op& root, const Op& c, Nanos dl) {
    // A restart restores the deadline through wall-clock milliseconds: allow the restore margin.
    if (kill_between(g.s0, c.recv)) dl -= opt_.restore_margin;
    if (c.recv < 0 || c.recv >= dl) return;  // the server may have decided after the deadline
    if (force_between(g.key, g.s0, c.recv) != nullptr) return;
    if (g.session && (run_.conns[static_cast<std::size_t>(root.conn)].close_begin < c.recv ||
                      kill_between(g.s0, c.recv))) {
      return;
    }
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "holder fence %llu gone %.3f ms before its TTL could have run out",
                  static_cast<unsigned long long>(g.fence), static_cast<double>(dl - c.recv) / 1e6);
    violate("lost_before_ttl", buf, {g.op, static_cast<int>(&c - run_.ops.data())});
  }

  void build_grants() {
    for (std::size_t i = 0; i < run_.ops.size(); ++i) {
      const Op& root = run_.ops[i];
      if (!granted_new(run_, root)) continue;
      ++report_.grants;
      Grant g;
      g.op = static_cast<int>(i);
      g.key = root.key;
      g.s0 = root.send;
      g.r0 = root.recv;
      g.fence = root.fence;
      g.session = root.session;
      Nanos dl = root.send + root.ttl_ms * kMs;
      Nanos du = root.recv + root.ttl_ms * kMs + kMs;
      for (int ci : children_[i]) {
        const Op& c = run_.ops[static_cast<std::size_t>(ci)];
        bool update = c.kind == OpKind::kExtend || c.kind == OpKind::kRefresh;
        bool ok = c.result == Result::kOne || (c.kind == OpKind::kRefresh &&
                                               c.result == Result::kGranted && c.fence == g.fence);
        if (c.result == Result::kError) break;
        if (update && ok) {
          if (c.send > du + opt_.expiry_slack) {
            violate("resurrected", "extended/refreshed after its latest possible deadline",
                    {g.op, ci});
          }
          dl = c.send + c.ttl_ms * kMs;
          du = c.recv + c.ttl_ms * kMs + kMs;
          continue;
        }
        if (update && c.result == Result::kNoReply) {
          dl = std::min(dl, c.send + c.ttl_ms * kMs);
          Nanos p = unanswered_end(c);
          if (p < kNever)
            du = std::max(du, p + c.ttl_ms * kMs + kMs);
          else
            du = kNever;
          continue;
        }
        if (c.kind == OpKind::kRelease && c.result == Result::kOne) {
          if (c.send > du + opt_.expiry_slack) {
            violate("resurrected", "released after its latest possible deadline", {g.op, ci});
          }
          g.end_lo = std::min(g.end_lo, c.send);
          g.end_hi = std::min(g.end_hi, c.recv);
          g.released_ok = true;
          g.released_recv = c.recv;
          break;
        }
        if (c.kind == OpKind::kRelease && c.result == Result::kNoReply) {
          g.end_lo = std::min(g.end_lo, c.send);
          break;
        }
        // Zero, not granted, or a new fence: the holder was gone when the server looked.
        lost_check(g, root, c, dl);
        g.end_lo = std::min(g.end_lo, std::max(c.send, g.r0));
        g.end_hi = std::min(g.end_hi, c.recv);
        break;
      }
      if (kill_between(g.s0, dl)) dl -= opt_.restore_margin;  // restored across a kill
      if (du < kNever && kill_between(g.s0, du)) du += opt_.restore_margin;  // either way
      g.end_lo = std::min(g.end_lo, dl);
      g.end_hi = std::min(g.end_hi, du >= kNever ? kNever : du + opt_.expiry_slack);
      if (g.session) {
        Nanos kill = first_kill_after(g.s0);
        // The server may act on the close as soon as close() is called.
        Nanos close = std::min(run_.conns[static_cast<std::size_t>(root.conn)].close_begin, kill);
        g.end_lo = std::min(g.end_lo, close);
        if (close < kNever) {
          g.end_hi = std::min(g.end_hi, close == kill ? kill : close + opt_.close_notice);
        }
      }
      if (const Force* f = force_between(g.key, g.s0, g.end_lo)) {
        g.end_lo = std::min(g.end_lo, f->send);
        if (g.r0 < f->send) g.end_hi = std::min(g.end_hi, f->end);
      }
      grants_.push_back(g);
    }
  }

  void check_over_limit() {
    for (std::size_t k = 0; k < nkeys(); ++k) {
      std::vector<std::pair<Nanos, int>> events;  // (time, +grant+1 / -(grant+1))
      for (std::size_t i = 0; i < grants_.size(); ++i) {
        const Grant& g = grants_[i];
        if (static_cast<std::size_t>(g.key) != k || g.end_lo <= g.r0) continue;
        events.push_back({g.r0, static_cast<int>(i) + 1});
        events.push_back({g.end_lo, -(static_cast<int>(i) + 1)});
      }
      std::sort(events.begin(), events.end());  // at equal times ends (negative) come first
      std::set<int> active;
      bool over = false;
      for (const auto& [t, e] : events) {
        if (e < 0) {
          active.erase(-e - 1);
          over = false;
          continue;
        }
        active.insert(e - 1);
        if (static_cast<int>(active.size()) > limit(static_cast<int>(k)) && !over) {
          over = true;
          std::vector<int> ops;
          for (int gi : active) {
            ops.push_back(grants_[static_cast<std::size_t>(gi)].op);
            for (int c :
                 children_[static_cast<std::size_t>(grants_[static_cast<std::size_t>(gi)].op)])
              ops.push_back(c);
          }
          violate("over_limit",
                  std::to_string(active.size()) + " sure holders of " + run_.keys[k].name +
                      " (limit " + std::to_string(limit(static_cast<int>(k))) + ") at +" + ms(t),
                  ops);
        }
      }
    }
  }

  void check_fences() {
    std::unordered_map<std::uint64_t, int> seen;
    std::vector<const Grant*> fenced;
    for (const auto& g : grants_) {
      if (g.fence == 0) continue;
      fenced.push_back(&g);
      auto [it, fresh] = seen.emplace(g.fence, g.op);
      if (!fresh) {
        violate("fence_reused", "fence " + std::to_string(g.fence) + " granted twice",
                {it->second, g.op});
      }
    }
    std::sort(fenced.begin(), fenced.end(),
              [](const Grant* a, const Grant* b) { return a->r0 < b->r0; });
    std::vector<std::pair<std::uint64_t, int>> prefix_max;  // (fence, grant op)
    for (const Grant* g : fenced) {
      auto best = prefix_max.empty() ? std::make_pair(std::uint64_t{0}, -1) : prefix_max.back();
      if (g->fence > best.first) best = {g->fence, g->op};
      prefix_max.push_back(best);
    }
    for (const Grant* b : fenced) {
      auto it = std::lower_bound(fenced.begin(), fenced.end(), b->s0,
                                 [](const Grant* g, Nanos t) { return g->r0 < t; });
      if (it == fenced.begin()) continue;
      auto best = prefix_max[static_cast<std::size_t>(it - fenced.begin() - 1)];
      if (best.first >= b->fence) {
        violate("fence_order",
                "fence " + std::to_string(b->fence) + " granted after fence " +
                    std::to_string(best.first) + " was received",
                {best.second, b->op});
      }
    }
  }

  // Segments of "the key was possibly unavailable" per key, and a query over a window.
  struct Blocking {
    std::vector<Nanos> t;
    std::vector<int> holders_full, any_block;  // prefix sums over segments
  };

  // Latest moment an acquire that got no reply may still have held a permit.
  Nanos unanswered_holder_end(const Op& op) const {
    const Conn& c = run_.conns[static_cast<std::size_t>(op.conn)];
    if (c.close >= kNever) return kNever;
    Nanos ttl = op.ttl_ms * kMs + kMs + opt_.expiry_slack;
    if (c.by_server)
      return c.close + ttl +
             opt_.restore_margin;  // restored after a kill  // may be restored after a kill
    // We closed it without reading a reply (FIN, or RST). A grant whose reply the kernel accepted
    // before our close arrived was delivered and is kept for its TTL; once an RST has arrived no
    // grant may be kept (SPEC §1: it cannot be delivered; it is released and passed on).
    // Either grant may have been journaled and restored by a kill before its release was.
    if (kill_between(op.send, c.close + opt_.close_notice)) ttl += opt_.restore_margin;
    if (c.rst) return c.close + ttl;
    // A FIN is a half-close to the server, and a client that half-closes after sending still gets
    // every reply (SPEC): a request the server reads only after the FIN (a loop late by a long
    // fdatasync with fsync=always, a fresh connection accepted in that batch and read after
    // another client's release) is executed, and an acquire among them granted from that moment.
    // The server reads it by close-notice after the close at the latest (as for waiters).
    return c.close + opt_.close_notice + ttl;
  }

  Nanos unanswered_waiter_end(const Op& op) const {
    const Conn& c = run_.conns[static_cast<std::size_t>(op.conn)];
    if (c.close >= kNever) return kNever;
    if (c.by_server) return c.close;
    return c.close + opt_.close_notice;
  }

  void check_refusals() {
    // hev: possible holders; lev: the same, ended one wheel lag later (for waiter timeouts).
    std::vector<std::vector<std::pair<Nanos, int>>> hev(nkeys()), wev(nkeys()), lev(nkeys());
    for (const auto& g : grants_) {
      auto k = static_cast<std::size_t>(g.key);
      hev[k].push_back({g.s0, 1});
      hev[k].push_back({g.end_hi >= kNever ? kNever : g.end_hi + 1, -1});
      lev[k].push_back({g.s0, 1});
      lev[k].push_back({g.end_hi >= kNever ? kNever : g.end_hi + opt_.wheel_lag + 1, -1});
    }
    for (const auto& op : run_.ops) {
      auto k = static_cast<std::size_t>(op.key);
      if (op.kind == OpKind::kAcquire && op.result == Result::kNoReply) {
        Nanos end = unanswered_holder_end(op);
        hev[k].push_back({op.send, 1});
        hev[k].push_back({end >= kNever ? kNever : end + 1, -1});
        lev[k].push_back({op.send, 1});
        lev[k].push_back({end >= kNever ? kNever : end + opt_.wheel_lag + 1, -1});
      }
      if (op.path == Path::kAcquireAll && op.wait_ms > 0) {
        // A waiting ACQUIREALL keeps a free permit for itself (engine/multi.cc): as a holder.
        Nanos end = op.recv >= 0 ? op.recv : unanswered_waiter_end(op);
        for (auto* v : {&hev[k], &lev[k]}) {
          v->push_back({op.send, 1});
          v->push_back({end >= kNever ? kNever : end + opt_.wheel_lag + 1, -1});
        }
      }
      if (op.kind == OpKind::kAcquire && op.wait_ms > 0) {
        Nanos end = op.recv >= 0 ? op.recv : unanswered_waiter_end(op);
        wev[k].push_back({op.send, 1});
        wev[k].push_back({end >= kNever ? kNever : end + 1, -1});
      }
    }
    for (std::size_t k = 0; k < nkeys(); ++k) {
      Blocking b = build_blocking(hev[k], wev[k], limit(static_cast<int>(k)));
      std::vector<std::pair<Nanos, int>> none;
      Blocking lagged = build_blocking(lev[k], none, limit(static_cast<int>(k)));
      for (int i : by_key_[k]) {
        const Op& op = run_.ops[static_cast<std::size_t>(i)];
        if (op.kind != OpKind::kAcquire || op.result != Result::kNotGranted || op.dup_derived) {
          continue;
        }
        ++report_.refusals;
        Nanos from = op.wait_ms > 0 ? op.send + op.wait_ms * kMs - opt_.wait_early : op.send;
        bool waiter = op.wait_ms > 0;
        if (!blocked(waiter ? lagged : b, from, op.recv, waiter)) {
          violate("refused_while_free",
                  "refused although no holder" + std::string(op.wait_ms > 0 ? "" : " or waiter") +
                      " could have been there" + probe_note(static_cast<int>(k), op.recv),
                  {i});
        }
      }
    }
  }

  // What SEMLOCK.INFO showed right after a refused ghost probe on this key, if it was taken.
  std::string probe_note(int key, Nanos after) const {
    for (const Info& info : run_.infos) {
      if (!info.after_probe || info.key != key || info.send < after ||
          info.send > after + 50 * kMs) {
        continue;
      }
      std::string s = "; SEMLOCK.INFO right after: ";
      if (info.null_reply) return s + "not held";
      s += "waiters " + std::to_string(info.waiters) + ", holders";
      for (const auto& h : info.holders) {
        s += " " + h.owner + " (fence " + std::to_string(h.fence) + ", " +
             std::to_string(h.ttl_ms) + " ms left)";
      }
      return s;
    }
    return "";
  }

  static Blocking build_blocking(std::vector<std::pair<Nanos, int>>& hev,
                                 std::vector<std::pair<Nanos, int>>& wev, int lim) {
    std::vector<std::tuple<Nanos, int, int>> ev;
    for (auto [t, d] : hev) ev.emplace_back(t, d, 0);
    for (auto [t, d] : wev) ev.emplace_back(t, 0, d);
    std::sort(ev.begin(), ev.end());
    Blocking b;
    int h = 0, w = 0;
    b.holders_full.push_back(0);
    b.any_block.push_back(0);
    for (std::size_t i = 0; i < ev.size();) {
      Nanos t = std::get<0>(ev[i]);
      while (i < ev.size() && std::get<0>(ev[i]) == t) {
        h += std::get<1>(ev[i]);
        w += std::get<2>(ev[i]);
        ++i;
      }
      b.t.push_back(t);
      b.holders_full.push_back(b.holders_full.back() + (h >= lim ? 1 : 0));
      b.any_block.push_back(b.any_block.back() + (h >= lim || w > 0 ? 1 : 0));
    }
    return b;
  }

  // Was the key possibly unavailable at some moment of [from, to]?
  static bool blocked(const Blocking& b, Nanos from, Nanos to, bool waiter) {
    if (to < from) return true;  // an empty window proves nothing
    // Segment j (1-based in the prefix arrays) starts at t[j-1]; before t[0] nothing is held.
    auto first =
        static_cast<std::size_t>(std::upper_bound(b.t.begin(), b.t.end(), from) - b.t.begin());
    auto last =
        static_cast<std::size_t>(std::upper_bound(b.t.begin(), b.t.end(), to) - b.t.begin());
    // Segments first..last (prefix index); segment 0 = before any event = free.
    const auto& p = waiter ? b.holders_full : b.any_block;
    std::size_t lo = first == 0 ? 0 : first - 1;
    return p[last] - p[lo] > 0 || (first > 0 && p[first] - p[first - 1] > 0);
  }

  void check_fifo() {
    std::vector<std::vector<int>> waits(nkeys()), acquires(nkeys());
    for (std::size_t i = 0; i < run_.ops.size(); ++i) {
      const Op& op = run_.ops[i];
      if (op.kind != OpKind::kAcquire) continue;
      acquires[static_cast<std::size_t>(op.key)].push_back(static_cast<int>(i));
      if (op.wait_ms > 0 && !op.dup_derived)
        waits[static_cast<std::size_t>(op.key)].push_back(static_cast<int>(i));
    }
    auto by_send = [&](int a, int b) {
      return run_.ops[static_cast<std::size_t>(a)].send <
             run_.ops[static_cast<std::size_t>(b)].send;
    };
    for (std::size_t k = 0; k < nkeys(); ++k) {
      std::sort(waits[k].begin(), waits[k].end(), by_send);
      std::sort(acquires[k].begin(), acquires[k].end(), by_send);
    }
    for (const Info& info : run_.infos) {
      auto k = static_cast<std::size_t>(info.key);
      if (!info.null_reply && static_cast<int>(info.holders.size()) > limit(info.key)) {
        violate("over_limit",
                "SEMLOCK.INFO " + run_.keys[k].name + " lists " +
                    std::to_string(info.holders.size()) + " holders at +" + ms(info.recv),
                {});
      }
      if (info.null_reply || info.waiters <= 0 || info.after_restart || info.after_probe) continue;
      // P: every waiter that may have been queued when INFO ran. If the server counted as many,
      // all of them were queued then, ahead of anything sent after INFO's reply.
      std::vector<int> p;
      for (int wi : waits[k]) {
        const Op& w = run_.ops[static_cast<std::size_t>(wi)];
        if (w.send >= info.recv) break;
        Nanos end = w.recv >= 0 ? w.recv : unanswered_waiter_end(w);
        if (end >= info.send) p.push_back(wi);
      }
      if (static_cast<std::int64_t>(p.size()) != info.waiters) continue;
      ++report_.fifo_observations;
      for (int wi : p) {
        const Op& w1 = run_.ops[static_cast<std::size_t>(wi)];
        if (w1.recv < 0 || !(w1.result == Result::kGranted || w1.result == Result::kNotGranted))
          continue;
        auto it = std::upper_bound(
            acquires[k].begin(), acquires[k].end(), info.recv,
            [&](Nanos t, int x) { return t < run_.ops[static_cast<std::size_t>(x)].send; });
        for (; it != acquires[k].end(); ++it) {
          const Op& x = run_.ops[static_cast<std::size_t>(*it)];
          if (x.send >= w1.recv) break;
          if (x.result != Result::kGranted) continue;
          bool wrong = false;
          if (w1.result == Result::kGranted) {
            wrong = w1.fence != 0 && x.fence != 0 && x.fence < w1.fence;
          } else {
            wrong = x.recv < w1.send + w1.wait_ms * kMs - opt_.wait_early;
          }
          if (wrong) {
            violate("fifo", "granted ahead of a waiter that SEMLOCK.INFO showed queued before it",
                    {wi, *it});
            break;
          }
        }
      }
    }
  }

  void check_restarts() {
    std::map<std::pair<int, std::string>, const Grant*> by_owner;
    for (const auto& g : grants_) {
      by_owner[{g.key, run_.ops[static_cast<std::size_t>(g.op)].owner}] = &g;
    }
    std::map<std::pair<int, std::string>, int> unacked;
    for (std::size_t i = 0; i < run_.ops.size(); ++i) {
      const Op& op = run_.ops[i];
      // An acquire, or a re-acquire of a holder that may have expired meanwhile (a new fence):
      // either may have been granted and journaled without a reply.
      bool acquiring = op.kind == OpKind::kAcquire || op.kind == OpKind::kRefresh;
      if (acquiring && op.result == Result::kNoReply) {
        unacked[{op.key, op.owner}] = static_cast<int>(i);
      }
    }
    for (const Info& info : run_.infos) {
      if (!info.after_restart) continue;
      ++report_.restart_checks;
      std::set<std::string> listed;
      for (const auto& h : info.holders) {
        listed.insert(h.owner);
        auto it = by_owner.find({info.key, h.owner});
        if (it == by_owner.end()) {
          if (unacked.count({info.key, h.owner}) == 0) {
            violate("restore",
                    "restart restored unknown holder " + h.owner + " of " +
                        run_.keys[static_cast<std::size_t>(info.key)].name,
                    {});
          }
          continue;
        }
        const Grant& g = *it->second;
        if (g.r0 > info.send) continue;  // granted after the restart
        if (g.fence != 0 && g.fence != h.fence && unacked.count({info.key, h.owner}) == 0) {
          violate("restore", "restored with fence " + std::to_string(h.fence), {g.op});
        }
        if (g.session) violate("restore", "SESSION holder restored", {g.op});
        if (g.released_ok && g.released_recv < info.send) {
          violate("restore", "released holder came back after restart", {g.op});
        }
      }
      for (const auto& g : grants_) {
        if (g.key != info.key || g.session || g.r0 > info.send) continue;
        if (g.end_lo > info.recv + opt_.restore_margin &&
            listed.count(run_.ops[static_cast<std::size_t>(g.op)].owner) == 0) {
          violate("restore",
                  "acknowledged holder missing after restart (checked at +" + ms(info.recv) + ")",
                  {g.op});
        }
      }
    }
  }

  void check_misc() {
    for (std::size_t i = 0; i < run_.ops.size(); ++i) {
      const Op& op = run_.ops[i];
      if (op.result == Result::kError) {
        violate("error_reply", op.error, {static_cast<int>(i)});
      } else if (op.error == "timeout" &&
                 !kill_between(op.send, op.send + op.wait_ms * kMs + 11'000 * kMs)) {
        violate("stall", "no reply within WAIT + 10 s", {static_cast<int>(i)});
      }
    }
  }

  std::string ms(Nanos t) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3fms", static_cast<double>(t - origin_) / 1e6);
    return buf;
  }

  const Run& run_;
  const AnalysisOptions& opt_;
  Nanos origin_;
  Report report_;
  std::vector<std::vector<int>> children_;
  std::vector<std::vector<int>> by_key_;
  std::vector<std::vector<Force>> forces_;
  Nanos max_force_span_ = 0;
  std::vector<Grant> grants_;
};

}  // namespace

void Report::add(Violation v) {
  auto& n = violations[v.kind];
  std::size_t shown = 0;
  for (const auto& e : examples) shown += e.kind == v.kind ? 1 : 0;
  ++n;
  if (shown < kExamplesPerKind) examples.push_back(std::move(v));
}

std::uint64_t Report::total_violations() const {
  std::uint64_t n = 0;
  for (const auto& [kind, count] : violations) n += count;
  return n;
}

Report analyze(const Run& run, const AnalysisOptions& options) {
  Report report = Analyzer(run, options).go();
  check_all_or_nothing(run, report);  // analysis_multi.cc
  return report;
}

}  // namespace semlock::checker
