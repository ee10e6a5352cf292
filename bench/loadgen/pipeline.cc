// The pipelined workload: the headline throughput figure, from a client that is not the
// bottleneck. Each thread drives several non-blocking connections through one epoll set; a
// connection has one batch of `pipeline` commands in flight, prepared ahead of time, and sends
// the next batch only when the whole previous one is answered, with one write per batch and
// (usually) one read. Replies are only skipped over (framing checked, error replies counted),
// never decoded into objects, so the client spends far less per request than the server.
//
// The run reports the client's own CPU time next to its wall time (client_cpu_util), so the
// harness can show the generator had headroom while the server sat at ~100% of its core.
//
// Timed runs measure a steady window: --warmup seconds run first (connections set up, the
// prepared keys granted, the server's tables grown), then the window of --duration seconds is
// measured on its own. With --server-pid the generator reads the server's CPU time
// (/proc/PID/task/*/schedstat, ns) at the window's two ends, so the server CPU per request counts
// neither the server's start-up nor the generator's connection set-up and warm-up.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/conn.h"
#include "bench/loadgen/core_stats.h"
#include "bench/loadgen/probe.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/workloads.h"

namespace loadgen {
namespace {

// Batches prepared per connection; the connection cycles through them (random keys, fixed cost).
// At least kMinPrepared, and enough that all connections together draw one random key per
// keyspace slot before repeating (so the server's table holds about the keyspace, as with
// redis-benchmark -r), up to kMaxPrepared.
constexpr int kMinPrepared = 64;
constexpr int kMaxPrepared = 8192;

int prepared_batches(const Options& o) {
  const long long per_round = static_cast<long long>(o.threads) * o.conns_per_thread * o.pipeline;
  const long long need = (o.keyspace + per_round - 1) / per_round;
  return static_cast<int>(std::clamp<long long>(need, kMinPrepared, kMaxPrepared));
}

// Skips one RESP reply in [p, end). Returns the byte after it, or nullptr when incomplete.
// *errors counts error replies (top level and nested).
const char* skip_reply(const char* p, const char* end, int64_t* errors) {
  if (p >= end) return nullptr;
  const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  if (eol == nullptr) return nullptr;
  char kind = *p;
  const char* next = eol + 1;
  auto number = [&]() {
    int64_t v = 0;
    bool neg = false;
    for (const char* q = p + 1; q < eol && *q != '\r'; ++q) {
      if (*q == '-') {
        neg = true;
      } else {
        v = v * 10 + (*q - '0');
      }
    }
    return neg ? -v : v;
  };
  switch (kind) {
    case '+': case ':': case '_': case '#': case ',': case '(':
      return next;
    case '-': case '!':
      ++*errors;
      return next;
    case '$': case '=': {
      int64_t n = number();
      if (n < 0) return next;
      if (end - next < n + 2) return nullptr;
      return next + n + 2;
    }
    case '*': case '~': case '>': case '%': {
      int64_t n = number();
      if (n < 0) return next;
      if (kind == '%') n *= 2;
      for (int64_t i = 0; i < n; ++i) {
        next = skip_reply(next, end, errors);
        if (next == nullptr) return nullptr;
      }
      return next;
    }
    default:
      throw ConnError(fmt::format("pipeline: unexpected reply byte 0x{:02x}",
                                  static_cast<unsigned char>(kind)));
  }
}

int connect_nonblocking(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    throw ConnError("pipeline: cannot resolve " + host);
  }
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    freeaddrinfo(res);
    if (fd >= 0) close(fd);
    throw ConnError(fmt::format("pipeline: connect {}:{}: {}", host, port, std::strerror(err)));
  }
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

struct PConn {
  int fd = -1;
  std::vector<std::string> batches;
  int next_batch = 0;     // the prepared batch to send next
  std::string out;        // batches queued for sending
  size_t sent = 0;        // bytes of `out` written
  int pending = 0;        // replies still owed, over every batch in flight
  int batch_left = 0;     // of which for the oldest batch in flight
  std::string in;         // unparsed reply bytes
  bool finished = false;
  bool want_out = false;  // registered for EPOLLOUT (a batch did not fit the socket)
  int ep = -1;
  size_t index = 0;
};

struct ThreadResult {
  std::atomic<int64_t> answered{0};  // replies so far, read by the window sampler
  std::atomic<int64_t> work_ns{0};   // busy polling: time in polls that found replies
  int64_t replies = 0;
  int64_t errors = 0;
  int64_t batches = 0;
  int64_t reads = 0;
  int64_t writes = 0;
};

std::vector<std::string_view> command_args(const Options& o, const std::string& key,
                                           const std::string& ttl) {
  if (o.command == "ping") return {"PING"};
  if (o.command == "setnx" || o.side == Side::kRedis) return {"SET", key, "tok", "NX", "PX", ttl};
  return {"SEMLOCK.ACQUIRE", key, ttl};
}

// Sends what is queued on the connection; false when the socket is full.
bool flush(PConn& c, ThreadResult& r) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      if (errno == EINTR) continue;
      throw ConnError(std::string("pipeline: send: ") + std::strerror(errno));
    }
    ++r.writes;
    c.sent += static_cast<size_t>(n);
  }
  c.out.clear();
  c.sent = 0;
  return true;
}

// Writes what it can and watches for EPOLLOUT only while part of a batch is unsent.
void send_rest(PConn& c, ThreadResult& r) {
  bool done = flush(c, r);
  if (done == !c.want_out) return;
  c.want_out = !done;
  epoll_event ev{};
  ev.events = EPOLLIN | (c.want_out ? EPOLLOUT : 0u);
  ev.data.u64 = c.index;
  epoll_ctl(c.ep, EPOLL_CTL_MOD, c.fd, &ev);
}

// Queues the connection's next prepared batch (sent by the caller's send_rest).
void queue_batch(PConn& c, const Options& o) {
  c.out.append(c.batches[static_cast<size_t>(c.next_batch)]);
  c.next_batch = (c.next_batch + 1) % static_cast<int>(c.batches.size());
  if (c.pending == 0) c.batch_left = o.pipeline;
  c.pending += o.pipeline;
}

void drive(const Options& o, int thread, int64_t budget, const std::atomic<bool>& stop,
           ThreadResult& r) {
  std::mt19937_64 rng(0x5eed + static_cast<uint64_t>(thread));
  std::uniform_int_distribution<int> pick(0, o.keyspace - 1);
  std::string ttl = std::to_string(o.ttl_ms);
  int ep = epoll_create1(0);
  std::vector<PConn> conns(static_cast<size_t>(o.conns_per_thread));
  for (size_t i = 0; i < conns.size(); ++i) {
    PConn& c = conns[i];
    c.fd = connect_nonblocking(o.host, o.port);
    c.ep = ep;
    c.index = i;
    for (int b = 0, n = prepared_batches(o); b < n; ++b) {
      std::string out;
      for (int k = 0; k < o.pipeline; ++k) {
        std::string key = fmt::format("{}{:012d}", o.prefix, pick(rng));
        append_command(out, command_args(o, key, ttl));
      }
      c.batches.push_back(std::move(out));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  int64_t batches_left = budget;  // < 0: unlimited (timed run)
  auto take = [&] {  // may one more batch be sent?
    if (batches_left == 0) return false;
    if (batches_left > 0) --batches_left;
    return true;
  };
  int active = 0;
  for (PConn& c : conns) {
    for (int k = 0; k < o.inflight && take(); ++k) queue_batch(c, o);
    if (c.pending == 0) {
      c.finished = true;
      continue;
    }
    send_rest(c, r);
    ++active;
  }
  std::vector<epoll_event> events(conns.size());
  char buf[1 << 16];
  bool stopping = false;
  int64_t iteration_start = o.busy_poll ? now_ns() : 0;
  while (active > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), o.busy_poll ? 0 : 100);
    if (o.busy_poll) {
      // The generator's own work: iterations that found replies (an empty poll is headroom).
      int64_t t = now_ns();
      if (n > 0) r.work_ns.fetch_add(t - iteration_start, std::memory_order_relaxed);
      iteration_start = t;
    }
    if (n < 0 && errno != EINTR) throw ConnError("pipeline: epoll_wait failed");
    // Busy polling: nothing arrived; let the sampling thread run (same CPU, same priority).
    if (n == 0 && o.busy_poll) sched_yield();
    if (!stopping && budget < 0 && stop.load(std::memory_order_relaxed)) stopping = true;
    for (int i = 0; i < n; ++i) {
      PConn& c = conns[events[i].data.u64];
      if (c.finished) continue;
      if (c.want_out) send_rest(c, r);
      if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got == 0) throw ConnError("pipeline: server closed the connection");
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        throw ConnError(std::string("pipeline: recv: ") + std::strerror(errno));
      }
      ++r.reads;
      c.in.append(buf, static_cast<size_t>(got));
      const char* p = c.in.data();
      const char* end = p + c.in.size();
      int done = 0;  // batches wholly answered by this read
      while (c.pending > 0) {
        const char* q = skip_reply(p, end, &r.errors);
        if (q == nullptr) break;
        p = q;
        --c.pending;
        ++r.replies;
        if (--c.batch_left == 0) {
          ++done;
          c.batch_left = o.pipeline;
        }
      }
      c.in.erase(0, static_cast<size_t>(p - c.in.data()));
      if (done == 0) continue;
      r.batches += done;
      r.answered.store(r.replies, std::memory_order_relaxed);
      bool more = budget < 0 ? !stopping : true;
      for (int k = 0; k < done && more && take(); ++k) queue_batch(c, o);
      if (c.pending == 0) {
        c.finished = true;
        --active;
        continue;
      }
      send_rest(c, r);
    }
  }
  for (PConn& c : conns) close(c.fd);
  close(ep);
}

double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Sample {
  int64_t t_ns;
  int64_t replies;
  double client_cpu_s;
  int64_t client_work_ns;
  CoreSample core;
};

}  // namespace

int run_pipeline(const Options& o) {
  int threads = o.threads;
  // With a request budget each thread gets its share of whole batches (deterministic count).
  int64_t total_batches = o.requests > 0 ? (o.requests + o.pipeline - 1) / o.pipeline : -1;
  // The probe before the slice (waiting for a quiet host with --probe-until) and after it.
  std::unique_ptr<Probe> prober;
  if (o.probe_cpu >= 0) prober = std::make_unique<Probe>();
  std::string probe;
  if (prober) {
    probe = probe_before(*prober, o.probe_cpu, o.probe_hold_cpu, o.probe_until_ns, o.probe_wait_s)
                .json();
  }
  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  std::atomic<bool> failed{false};
  std::atomic<bool> stop{false};
  std::string failure;
  auto sample = [&] {
    Sample s{now_ns(), 0, cpu_seconds(RUSAGE_SELF), 0, sample_core(o.server_pid)};
    for (const auto& r : results) {
      s.replies += r.answered.load(std::memory_order_relaxed);
      s.client_work_ns += r.work_ns.load(std::memory_order_relaxed);
    }
    return s;
  };
  Sample begin = sample();
  for (int t = 0; t < threads; ++t) {
    int64_t share = total_batches < 0 ? -1
                                      : total_batches / threads + (t < total_batches % threads);
    pool.emplace_back([&, t, share] {
      try {
        drive(o, t, share, stop, results[static_cast<size_t>(t)]);
      } catch (const ConnError& e) {
        if (!failed.exchange(true)) failure = e.what();
      }
      stop = true;
    });
  }
  if (total_batches < 0) {
    // Timed: warm up, then measure a window of o.duration_s on its own.
    auto pause = [&](double secs) {
      int64_t until = now_ns() + static_cast<int64_t>(secs * 1e9);
      while (!stop.load() && now_ns() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    };
    pause(o.warmup_s);
    begin = sample();
    pause(o.duration_s);
  }
  Sample end = total_batches < 0 ? sample() : Sample{};
  stop = true;
  for (auto& th : pool) th.join();
  if (failed) throw ConnError(failure);
  if (total_batches >= 0) end = sample();
  if (prober) {
    ProbeReading after = prober->run(o.probe_cpu, o.probe_hold_cpu);
    probe += fmt::format(",\"probe_after_walk_ns\":{:.2f},\"probe_after_alu_ns\":{:.3f}",
                         after.walk_ns, after.alu_ns);
  }
  ThreadResult sum;
  for (const auto& r : results) {
    sum.replies += r.replies;
    sum.errors += r.errors;
    sum.batches += r.batches;
    sum.reads += r.reads;
    sum.writes += r.writes;
  }
  if (total_batches >= 0) end.replies = sum.replies;
  double wall = static_cast<double>(end.t_ns - begin.t_ns) / 1e9;
  double cpu = end.client_cpu_s - begin.client_cpu_s;
  // Busy polling keeps the generator's CPU at 100%: its work is the polls that found replies.
  double work = o.busy_poll ? static_cast<double>(end.client_work_ns - begin.client_work_ns) / 1e9
                            : cpu;
  int64_t window = end.replies - begin.replies;
  std::string server = core_window_json(begin.core, end.core, wall, window) + probe;
  std::printf(
      "{\"workload\":\"pipeline\",\"side\":\"%s\",\"command\":\"%s\",\"threads\":%d,"
      "\"conns_per_thread\":%d,\"pipeline\":%d,\"requests\":%lld,\"errors\":%lld,"
      "\"window_requests\":%lld,\"warmup_s\":%.3f,"
      "\"seconds\":%.4f,\"ops_per_s\":%.1f,\"client_cpu_s\":%.4f,\"client_cpu_util\":%.3f,"
      "\"client_work_s\":%.4f,\"client_work_util\":%.3f,\"busy_poll\":%s,"
      "\"reads_per_batch\":%.3f,\"writes_per_batch\":%.3f%s}\n",
      o.side == Side::kSemlock ? "semlock" : "redis", o.command.c_str(), threads,
      o.conns_per_thread, o.pipeline, static_cast<long long>(sum.replies),
      static_cast<long long>(sum.errors), static_cast<long long>(window),
      total_batches < 0 ? o.warmup_s : 0.0, wall,
      wall > 0 ? static_cast<double>(window) / wall : 0, cpu, wall > 0 ? cpu / wall : 0, work,
      wall > 0 ? work / wall : 0, o.busy_poll ? "true" : "false",
      sum.batches ? static_cast<double>(sum.reads) / static_cast<double>(sum.batches) : 0,
      sum.batches ? static_cast<double>(sum.writes) / static_cast<double>(sum.batches) : 0,
      server.c_str());
  return sum.errors == 0 ? 0 : 1;
}

}  // namespace loadgen
