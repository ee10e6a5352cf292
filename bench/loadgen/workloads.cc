#include "bench/loadgen/workloads.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/loadgen/conn.h"
#include "bench/loadgen/stats.h"

namespace loadgen {
namespace {

// Redis's safe release: delete only when the value is still ours (the script redis-py and
// redlock use). EVALSHA after one SCRIPT LOAD, as those clients do.
constexpr std::string_view kReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

// Same length on both sides (32 chars, as ttl-semlock's generated owners), so memory compares
// like for like.
std::string owner_of(int client) {
  return fmt::format("{:032x}", client + 1);
}

// One lock-idiom speaker per connection.
class Locker {
 public:
  Locker(const Options& o, std::string release_sha) : o_(o), sha_(std::move(release_sha)) {
    conn_.connect(o.host, o.port);
    conn_.set_busy_poll(o.busy_poll);
  }

  // Tries once (wait_ms == 0) or blocks up to wait_ms (semlock only). Throws on an error reply.
  bool acquire(const std::string& key, const std::string& owner, int wait_ms) {
    std::string ttl = std::to_string(o_.ttl_ms);
    Reply r;
    if (o_.side == Side::kSemlock) {
      if (wait_ms > 0) {
        std::string w = std::to_string(wait_ms);
        r = conn_.call({"SEMLOCK.ACQUIRE", key, ttl, "OWNER", owner, "WAIT", w});
      } else {
        r = conn_.call({"SEMLOCK.ACQUIRE", key, ttl, "OWNER", owner});
      }
    } else {
      r = conn_.call({"SET", key, owner, "NX", "PX", ttl});
    }
    if (r.is_error()) throw ConnError("acquire: " + r.str);
    return !r.is_null();
  }

  bool release(const std::string& key, const std::string& owner) {
    Reply r = o_.side == Side::kSemlock ? conn_.call({"SEMLOCK.RELEASE", key, owner})
                                        : conn_.call({"EVALSHA", sha_, "1", key, owner});
    if (r.is_error()) throw ConnError("release: " + r.str);
    return r.integer == 1;
  }

  Conn& conn() { return conn_; }

 private:
  const Options& o_;
  std::string sha_;
  Conn conn_;
};

std::string load_release_script(const Options& o) {
  if (o.side != Side::kRedis) return {};
  Conn c;
  c.connect(o.host, o.port);
  Reply r = c.call({"SCRIPT", "LOAD", kReleaseScript});
  if (r.type != Reply::Type::kString) throw ConnError("SCRIPT LOAD: " + r.str);
  return r.str;
}

const char* side_name(Side s) {
  return s == Side::kSemlock ? "semlock" : "redis";
}

// Runs body(client_index) on o.clients threads and rethrows the first failure.
template <typename Body>
void run_threads(int n, Body body) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::string first_error;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        body(i);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.empty()) first_error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!first_error.empty()) throw ConnError(first_error);
}

}  // namespace

int run_cycle(const Options& o) {
  std::string sha = load_release_script(o);
  std::vector<Samples> acq(static_cast<size_t>(o.clients)), rel(acq.size());
  std::atomic<int64_t> cycles{0}, failures{0};
  int64_t start = now_ns();
  int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  run_threads(o.clients, [&](int c) {
    Locker lk(o, sha);
    std::string owner = owner_of(c);
    auto& a = acq[static_cast<size_t>(c)];
    auto& r = rel[static_cast<size_t>(c)];
    int64_t n = 0, bad = 0;
    for (int64_t i = 0; now_ns() < end; ++i) {
      std::string key = fmt::format("{}cycle:{}:{}", o.prefix, c, i % 1000);
      int64_t t0 = now_ns();
      bool got = lk.acquire(key, owner, 0);
      int64_t t1 = now_ns();
      bool released = got && lk.release(key, owner);
      int64_t t2 = now_ns();
      a.add(t1 - t0);
      if (got) r.add(t2 - t1);
      if (released)
        ++n;
      else
        ++bad;
    }
    cycles += n;
    failures += bad;
  });
  double secs = static_cast<double>(now_ns() - start) / 1e9;
  Samples all_a, all_r;
  for (auto& s : acq) all_a.merge(s);
  for (auto& s : rel) all_r.merge(s);
  std::printf(
      "{\"workload\":\"cycle\",\"side\":\"%s\",\"clients\":%d,\"seconds\":%.3f,"
      "\"cycles\":%lld,\"failures\":%lld,\"cycles_per_s\":%.1f,\"acquire_p50_us\":%.1f,"
      "\"acquire_p99_us\":%.1f,\"release_p50_us\":%.1f,\"release_p99_us\":%.1f}\n",
      side_name(o.side), o.clients, secs, static_cast<long long>(cycles.load()),
      static_cast<long long>(failures.load()), static_cast<double>(cycles.load()) / secs,
      all_a.quantile_us(0.5), all_a.quantile_us(0.99), all_r.quantile_us(0.5),
      all_r.quantile_us(0.99));
  return 0;
}

int run_contend(const Options& o) {
  std::string sha = load_release_script(o);
  // Per key: when its holder last sent a release, for the handoff latency of the next grant.
  auto last_release = std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(o.keys));
  // The same instant on CLOCK_REALTIME, the clock of the kernel's receive timestamps.
  auto last_release_rt = std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(o.keys));
  for (int k = 0; k < o.keys; ++k) {
    last_release[static_cast<size_t>(k)] = 0;
    last_release_rt[static_cast<size_t>(k)] = 0;
  }
  std::vector<int64_t> grants(static_cast<size_t>(o.clients), 0);
  // handoff ends when this thread read the grant; handoff_rx when the kernel put the grant on
  // this client's socket, so the generator's own wake-up and scheduling are out of it.
  std::vector<Samples> handoff(grants.size()), handoff_rx(grants.size()), wait(grants.size());
  std::atomic<int64_t> timeouts{0};
  int64_t start = now_ns();
  int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  // Long enough that a fair FIFO queue always drains within it.
  int wait_ms = static_cast<int>(o.duration_s * 1000) + 10000;
  run_threads(o.clients, [&](int c) {
    Locker lk(o, sha);
    std::string owner = owner_of(c);
    int key_index = c % o.keys;
    std::string key = fmt::format("{}contend:{}", o.prefix, key_index);
    auto& last = last_release[static_cast<size_t>(key_index)];
    auto& last_rt = last_release_rt[static_cast<size_t>(key_index)];
    lk.conn().enable_rx_timestamps();
    while (now_ns() < end) {
      int64_t t_sent = now_ns();
      bool got = false;
      if (o.side == Side::kSemlock) {
        got = lk.acquire(key, owner, wait_ms);
      } else {
        for (;;) {
          got = lk.acquire(key, owner, 0);
          if (got || now_ns() >= end) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(o.retry_ms));
        }
      }
      int64_t t_grant = now_ns();
      if (!got) {
        if (o.side == Side::kSemlock) ++timeouts;
        // A poller that never got the lock still waited: count its wait up to the end, or
        // starved clients would vanish from the wait percentiles.
        wait[static_cast<size_t>(c)].add(t_grant - t_sent);
        break;
      }
      int64_t released_at = last.load();
      int64_t released_rt = last_rt.load();
      // Only a grant that waited through a release is a handoff; an immediate grant is not.
      if (released_at > t_sent) {
        handoff[static_cast<size_t>(c)].add(t_grant - released_at);
        int64_t rx = lk.conn().last_rx_ns();
        if (rx > released_rt) handoff_rx[static_cast<size_t>(c)].add(rx - released_rt);
      }
      wait[static_cast<size_t>(c)].add(t_grant - t_sent);
      if (t_grant < end) ++grants[static_cast<size_t>(c)];
      if (o.hold_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.hold_us));
      last_rt.store(realtime_ns());
      last.store(now_ns());
      lk.release(key, owner);
      // Think time outside the lock: with none, a polling releaser re-takes the key at once
      // and sleeping pollers rarely see it free, so handoffs (and their latency) hide.
      if (o.think_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.think_us));
    }
  });
  double secs = o.duration_s;
  int64_t total = 0, mn = INT64_MAX, mx = 0;
  for (int64_t g : grants) {
    total += g;
    mn = std::min(mn, g);
    mx = std::max(mx, g);
  }
  Samples h, hrx, w;
  for (auto& s : handoff) h.merge(s);
  for (auto& s : handoff_rx) hrx.merge(s);
  for (auto& s : wait) w.merge(s);
  // A percentile of no samples is null, not 0: a run whose grants carried no receive stamp
  // (or saw no handoff) must not read as an instant handoff.
  auto us = [](Samples& s, double q) {
    return s.size() == 0 ? std::string("null") : fmt::format("{:.1f}", s.quantile_us(q));
  };
  std::printf(
      "{\"workload\":\"contend\",\"side\":\"%s\",\"clients\":%d,\"keys\":%d,\"hold_us\":%d,"
      "\"think_us\":%d,\"busy_poll\":%s,"
      "\"retry_ms\":%d,\"grants\":%lld,\"grants_per_s\":%.1f,\"min_grants\":%lld,"
      "\"max_grants\":%lld,\"fairness\":%.2f,\"handoffs\":%zu,\"handoff_p50_us\":%s,"
      "\"handoff_p99_us\":%s,\"handoffs_rx\":%zu,\"handoff_rx_p50_us\":%s,"
      "\"handoff_rx_p99_us\":%s,\"wait_p50_us\":%.1f,\"wait_p99_us\":%.1f,\"timeouts\":%lld}\n",
      side_name(o.side), o.clients, o.keys, o.hold_us, o.think_us,
      o.busy_poll ? "true" : "false", o.retry_ms,
      static_cast<long long>(total), static_cast<double>(total) / secs, static_cast<long long>(mn),
      static_cast<long long>(mx), mn > 0 ? static_cast<double>(mx) / static_cast<double>(mn) : -1.0,
      h.size(), us(h, 0.5).c_str(), us(h, 0.99).c_str(), hrx.size(), us(hrx, 0.5).c_str(),
      us(hrx, 0.99).c_str(), w.quantile_us(0.5), w.quantile_us(0.99),
      static_cast<long long>(timeouts.load()));
  return 0;
}

int run_json(const Options& o) {
  std::vector<Samples> lat(static_cast<size_t>(o.clients));
  std::atomic<int64_t> cycles{0}, failures{0};
  int64_t start = now_ns();
  int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  run_threads(o.clients, [&](int c) {
    Conn conn;
    std::string owner = owner_of(c);
    auto& l = lat[static_cast<size_t>(c)];
    // One request and its reply; success is judged by the reply's leading field.
    auto request = [&](const std::string& line) {
      int64_t t0 = now_ns();
      if (!conn.is_open()) conn.connect(o.host, o.port);
      conn.send_all(line);
      std::string reply = conn.read_line();
      if (o.per_connection) conn.close_reset();
      l.add(now_ns() - t0);
      return reply.rfind("{\"success\":true", 0) == 0;
    };
    int64_t n = 0, bad = 0;
    for (int64_t i = 0; now_ns() < end; ++i) {
      std::string key = fmt::format("{}json:{}:{}", o.prefix, c, i % 1000);
      bool ok = request(
          fmt::format("{{\"action\":\"acquire\",\"key\":\"{}\",\"ttl_ms\":{},\"owner\":\"{}\"}}\n",
                      key, o.ttl_ms, owner));
      ok = ok && request(fmt::format("{{\"action\":\"release\",\"key\":\"{}\",\"owner\":\"{}\"}}\n",
                                     key, owner));
      if (ok)
        ++n;
      else
        ++bad;
    }
    cycles += n;
    failures += bad;
  });
  double secs = static_cast<double>(now_ns() - start) / 1e9;
  Samples all;
  for (auto& s : lat) all.merge(s);
  std::printf(
      "{\"workload\":\"json\",\"side\":\"semlock\",\"per_connection\":%s,\"clients\":%d,"
      "\"seconds\":%.3f,\"cycles\":%lld,\"failures\":%lld,\"cycles_per_s\":%.1f,"
      "\"request_p50_us\":%.1f,\"request_p99_us\":%.1f}\n",
      o.per_connection ? "true" : "false", o.clients, secs, static_cast<long long>(cycles.load()),
      static_cast<long long>(failures.load()), static_cast<double>(cycles.load()) / secs,
      all.quantile_us(0.5), all.quantile_us(0.99));
  return 0;
}

int run_idle_rtt(const Options& o) {
  Conn conn;
  conn.connect(o.host, o.port);
  conn.set_busy_poll(o.busy_poll);
  Samples rtt;
  int64_t end = now_ns() + static_cast<int64_t>(o.duration_s * 1e9);
  while (now_ns() < end) {
    std::this_thread::sleep_for(std::chrono::microseconds(o.hold_us));
    int64_t t0 = now_ns();
    Reply r = conn.call({"PING"});
    if (r.is_error()) throw ConnError("PING: " + r.str);
    rtt.add(now_ns() - t0);
  }
  std::printf(
      "{\"workload\":\"idle-rtt\",\"side\":\"%s\",\"idle_us\":%d,\"busy_poll\":%s,"
      "\"pings\":%zu,\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f}\n",
      side_name(o.side), o.hold_us, o.busy_poll ? "true" : "false", rtt.size(),
      rtt.quantile_us(0.5), rtt.quantile_us(0.99));
  return 0;
}

namespace {

// Pipelines count acquires (batches of 1000) on one connection; returns the grant count and
// the time the last reply arrived (every deadline is at most that plus the TTL).
std::pair<int64_t, int64_t> fill_locks(const Options& o, Conn& conn) {
  constexpr int kBatch = 1000;
  std::string ttl = std::to_string(o.ttl_ms);
  std::string owner = owner_of(0);
  int64_t granted = 0;
  for (int base = 0; base < o.count; base += kBatch) {
    int n = std::min(kBatch, o.count - base);
    std::string out;
    for (int i = 0; i < n; ++i) {
      std::string key = fmt::format("{}{:08d}", o.prefix, base + i);
      if (o.side == Side::kSemlock) {
        append_command(out, {"SEMLOCK.ACQUIRE", key, ttl, "OWNER", owner});
      } else {
        append_command(out, {"SET", key, owner, "NX", "PX", ttl});
      }
    }
    conn.send_all(out);
    for (int i = 0; i < n; ++i) {
      Reply r = conn.read_reply();
      if (r.is_error()) throw ConnError("fill: " + r.str);
      if (!r.is_null()) ++granted;
    }
  }
  return {granted, now_ns()};
}

int64_t dbsize(Conn& conn) {
  Reply r = conn.call({"DBSIZE"});
  if (r.type != Reply::Type::kInteger) throw ConnError("DBSIZE: " + r.str);
  return r.integer;
}

}  // namespace

int run_fill(const Options& o) {
  Conn conn;
  conn.connect(o.host, o.port);
  int64_t t0 = now_ns();
  auto [granted, t_last] = fill_locks(o, conn);
  std::printf(
      "{\"workload\":\"fill\",\"side\":\"%s\",\"count\":%d,\"granted\":%lld,\"seconds\":%.3f,"
      "\"dbsize\":%lld}\n",
      side_name(o.side), o.count, static_cast<long long>(granted),
      static_cast<double>(t_last - t0) / 1e9, static_cast<long long>(dbsize(conn)));
  return 0;
}

int run_expiry(const Options& o) {
  Conn conn;
  conn.connect(o.host, o.port);
  int64_t t0 = now_ns();
  auto [granted, t_last] = fill_locks(o, conn);
  int64_t last_deadline = t_last + static_cast<int64_t>(o.ttl_ms) * 1000000;
  // Waiters queue on the last keys filled: their holders' deadlines are the latest.
  int waiters = o.side == Side::kSemlock ? o.waiters : 0;
  std::vector<int64_t> granted_at(static_cast<size_t>(waiters), 0);
  std::thread waiter_pool([&] {
    run_threads(waiters, [&](int w) {
      Conn wc;
      wc.connect(o.host, o.port);
      std::string key = fmt::format("{}{:08d}", o.prefix, o.count - 1 - w);
      std::string owner = owner_of(w + 1);
      std::string wait = std::to_string(o.ttl_ms + 10000);
      std::string cmd;
      append_command(cmd, {"SEMLOCK.ACQUIRE", key, "1000", "OWNER", owner, "WAIT", wait});
      append_command(cmd, {"SEMLOCK.RELEASE", key, owner});
      // Pipelined: the server holds the release until the blocked acquire is answered, so the
      // key is gone again right after the grant and DBSIZE can reach 0.
      wc.send_all(cmd);
      Reply r = wc.read_reply();
      granted_at[static_cast<size_t>(w)] = r.is_null() ? -1 : now_ns();
      wc.read_reply();
    });
  });
  // DBSIZE is polled every millisecond from 200 ms before the last deadline. The reclaim
  // happened after the last poll that still found keys was sent (nonzero_sent) and before the
  // answer 0 arrived (zero_at): a wide interval means the poller itself was late (its wake-up
  // delayed on a busy machine), a narrow one late behind the deadline means the server.
  int64_t zero_at = 0, nonzero_sent = 0, max_gap = 0, prev_poll = 0;
  int64_t give_up = last_deadline + 30LL * 1000000000;
  while (now_ns() < give_up) {
    int64_t sent = now_ns();
    if (sent > last_deadline - 200000000) {
      if (prev_poll > 0) max_gap = std::max(max_gap, sent - prev_poll);
      prev_poll = sent;
      if (dbsize(conn) == 0) {
        zero_at = now_ns();
        break;
      }
      nonzero_sent = sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  waiter_pool.join();
  int64_t last_grant = 0, not_granted = 0;
  for (int64_t g : granted_at) {
    if (g < 0)
      ++not_granted;
    else
      last_grant = std::max(last_grant, g);
  }
  std::printf(
      "{\"workload\":\"expiry\",\"side\":\"%s\",\"count\":%d,\"granted\":%lld,"
      "\"fill_seconds\":%.3f,\"ttl_ms\":%d,\"reclaimed\":%s,\"reclaim_ms\":%.2f,"
      "\"waiters\":%d,\"waiters_not_granted\":%lld,\"waiters_granted_ms\":%.2f,"
      "\"reclaim_after_ms\":%.2f,\"poll_gap_max_ms\":%.2f}\n",
      side_name(o.side), o.count, static_cast<long long>(granted),
      static_cast<double>(t_last - t0) / 1e9, o.ttl_ms, zero_at > 0 ? "true" : "false",
      zero_at > 0 ? static_cast<double>(zero_at - last_deadline) / 1e6 : -1.0, waiters,
      static_cast<long long>(not_granted),
      waiters > 0 && last_grant > 0 ? static_cast<double>(last_grant - last_deadline) / 1e6 : -1.0,
      zero_at > 0 && nonzero_sent > 0 ? static_cast<double>(nonzero_sent - last_deadline) / 1e6
                                      : -1.0,
      static_cast<double>(max_gap) / 1e6);
  return 0;
}

}  // namespace loadgen
