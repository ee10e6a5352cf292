// The pipelined workload: the headline throughput figure, from a client that is not the
// bottleneck. Each thread drives several non-blocking connections through one epoll set; a
// connection has one batch of `pipeline` commands in flight, prepared ahead of time, and sends
// the next batch only when the whole previous one is answered, with one write per batch and
// (usually) one read. Replies are only skipped over (framing checked, error replies counted),
// never decoded into objects, so the client spends far less per request than the server.
//
// The run reports the client's own CPU time next to its wall time (client_cpu_util), so the
// harness can show the generator had headroom while the server sat at ~100% of its core.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/conn.h"
#include "bench/loadgen/stats.h"
#include "bench/loadgen/workloads.h"

namespace loadgen {
namespace {

// Batches prepared per connection; the connection cycles through them (random keys, fixed cost).
constexpr int kPrepared = 64;

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
  int next_batch = 0;
  size_t sent = 0;       // bytes of the current batch written
  int pending = 0;       // replies still owed for the current batch
  std::string in;        // unparsed reply bytes
  bool finished = false;
  bool want_out = false;  // registered for EPOLLOUT (a batch did not fit the socket)
  int ep = -1;
  size_t index = 0;
};

struct ThreadResult {
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

// Sends what is left of the connection's current batch; false when the socket is full.
bool flush(PConn& c, ThreadResult& r) {
  const std::string& b = c.batches[static_cast<size_t>(c.next_batch)];
  while (c.sent < b.size()) {
    ssize_t n = ::send(c.fd, b.data() + c.sent, b.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      if (errno == EINTR) continue;
      throw ConnError(std::string("pipeline: send: ") + std::strerror(errno));
    }
    ++r.writes;
    c.sent += static_cast<size_t>(n);
  }
  return true;
}

// Writes what it can and watches for EPOLLOUT only while part of the batch is unsent.
void send_rest(PConn& c, ThreadResult& r) {
  bool done = flush(c, r);
  if (done == !c.want_out) return;
  c.want_out = !done;
  epoll_event ev{};
  ev.events = EPOLLIN | (c.want_out ? EPOLLOUT : 0u);
  ev.data.u64 = c.index;
  epoll_ctl(c.ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void start_batch(PConn& c, const Options& o, ThreadResult& r) {
  c.sent = 0;
  c.pending = o.pipeline;
  send_rest(c, r);
}

void drive(const Options& o, int thread, int64_t budget, int64_t deadline_ns, ThreadResult& r) {
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
    for (int b = 0; b < kPrepared; ++b) {
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
  int active = 0;
  for (PConn& c : conns) {
    if (batches_left == 0) break;
    if (batches_left > 0) --batches_left;
    start_batch(c, o, r);
    ++active;
  }
  for (PConn& c : conns) {
    if (c.pending == 0) c.finished = true;
  }
  std::vector<epoll_event> events(conns.size());
  char buf[1 << 16];
  bool stopping = false;
  while (active > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) throw ConnError("pipeline: epoll_wait failed");
    if (!stopping && budget < 0 && now_ns() >= deadline_ns) stopping = true;
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
      while (c.pending > 0) {
        const char* q = skip_reply(p, end, &r.errors);
        if (q == nullptr) break;
        p = q;
        --c.pending;
        ++r.replies;
      }
      c.in.erase(0, static_cast<size_t>(p - c.in.data()));
      if (c.pending > 0) continue;
      ++r.batches;
      c.next_batch = (c.next_batch + 1) % kPrepared;
      bool more = budget < 0 ? !stopping : batches_left > 0;
      if (!more) {
        c.finished = true;
        --active;
        continue;
      }
      if (batches_left > 0) --batches_left;
      start_batch(c, o, r);
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

}  // namespace

int run_pipeline(const Options& o) {
  int threads = o.threads;
  // With a request budget each thread gets its share of whole batches (deterministic count).
  int64_t total_batches = o.requests > 0 ? (o.requests + o.pipeline - 1) / o.pipeline : -1;
  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  std::atomic<bool> failed{false};
  std::string failure;
  double cpu0 = cpu_seconds(RUSAGE_SELF);
  int64_t t0 = now_ns();
  int64_t deadline = t0 + static_cast<int64_t>(o.duration_s * 1e9);
  for (int t = 0; t < threads; ++t) {
    int64_t share = total_batches < 0 ? -1
                                      : total_batches / threads + (t < total_batches % threads);
    pool.emplace_back([&, t, share] {
      try {
        drive(o, t, share, deadline, results[static_cast<size_t>(t)]);
      } catch (const ConnError& e) {
        if (!failed.exchange(true)) failure = e.what();
      }
    });
  }
  for (auto& th : pool) th.join();
  if (failed) throw ConnError(failure);
  double wall = static_cast<double>(now_ns() - t0) / 1e9;
  double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  ThreadResult sum;
  for (const auto& r : results) {
    sum.replies += r.replies;
    sum.errors += r.errors;
    sum.batches += r.batches;
    sum.reads += r.reads;
    sum.writes += r.writes;
  }
  std::printf(
      "{\"workload\":\"pipeline\",\"side\":\"%s\",\"command\":\"%s\",\"threads\":%d,"
      "\"conns_per_thread\":%d,\"pipeline\":%d,\"requests\":%lld,\"errors\":%lld,"
      "\"seconds\":%.4f,\"ops_per_s\":%.1f,\"client_cpu_s\":%.4f,\"client_cpu_util\":%.3f,"
      "\"reads_per_batch\":%.3f,\"writes_per_batch\":%.3f}\n",
      o.side == Side::kSemlock ? "semlock" : "redis", o.command.c_str(), threads,
      o.conns_per_thread, o.pipeline, static_cast<long long>(sum.replies),
      static_cast<long long>(sum.errors), wall, wall > 0 ? static_cast<double>(sum.replies) / wall : 0,
      cpu, wall > 0 ? cpu / wall : 0,
      sum.batches ? static_cast<double>(sum.reads) / static_cast<double>(sum.batches) : 0,
      sum.batches ? static_cast<double>(sum.writes) / static_cast<double>(sum.batches) : 0);
  return sum.errors == 0 ? 0 : 1;
}

}  // namespace loadgen
