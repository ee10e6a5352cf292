// The load generator's workloads: what redis-benchmark cannot do. Each prints one JSON object on
// one line (the harness bench/run parses it) and returns a process exit code.
#pragma once

#include <string>

namespace loadgen {

// Which lock idiom to speak: ttl-semlock's SEMLOCK.* commands (WAIT for contended keys), or the
// Redis idiom (SET NX PX, EVALSHA get-compare-del release, sleep-and-retry polling).
enum class Side { kSemlock, kRedis };

struct Options {
  std::string host = "127.0.0.1";
  int port = 8765;
  Side side = Side::kSemlock;
  int clients = 16;
  double duration_s = 3;
  int keys = 4;                 // contend: keys shared by all clients
  int hold_us = 1000;           // contend: time a grant is held before release
  int think_us = 0;             // contend: time between a release and the next acquire
  int retry_ms = 100;           // contend, redis: polling sleep (redis-py Lock's default 0.1 s)
  int ttl_ms = 30000;           // lock TTL
  int count = 100000;           // fill/expiry: locks to create
  int waiters = 0;              // expiry, semlock: blocking acquires queued on the last keys
  bool per_connection = false;  // json: one request per connection, as the PHP client does
  std::string prefix = "lock:";
  // pipeline: the headline throughput workload (bench/loadgen/pipeline.cc)
  int threads = 1;                  // client threads, each with conns_per_thread connections
  int conns_per_thread = 8;
  int pipeline = 16;                // commands per batch in flight on one connection
  int inflight = 1;                 // batches in flight per connection (2: never runs dry)
  int probe_cpu = -1;               // pipeline: time a fixed probe on this CPU first and last
  double probe_until_ns = 0;        // pipeline: > 0, repeat the first probe until its walk is
  double probe_wait_s = 0;          //   at most this many ns, for at most probe_wait_s seconds
  int probe_hold_cpu = -1;          // pipeline, probe: spin on this CPU while probing
  bool busy_poll = false;           // pipeline, idle-rtt, contend: poll, never sleep on replies
  int keyspace = 100000;            // random keys prefix + 12 digits, as redis-benchmark -r
  long long requests = 0;           // > 0: stop after this many (deterministic), else duration
  std::string command = "acquire";  // acquire | setnx | ping
  double warmup_s = 0;              // pipeline, timed: seconds run before the measured window
  int server_pid = 0;               // pipeline: > 0, report this process's CPU over the window
};

// Acquire-release cycles with owners, each client on its own keys (no contention).
int run_cycle(const Options& o);
// Many clients, few keys: WAIT (semlock) vs SET NX + sleep/retry (redis); throughput, fairness
// and handoff latency (release sent -> waiter's grant received).
int run_contend(const Options& o);
// JSON-lines acquire/release cycles, persistent or one request per connection (semlock only).
int run_json(const Options& o);
// The wake-up floor behind the handoff latency: one client sleeps o.hold_us between PINGs, so
// both CPUs go idle as they do while a lock is held, and reports the PING round trip.
int run_idle_rtt(const Options& o);
// Creates o.count locks (pipelined) that stay held for o.ttl_ms, for memory measurements.
int run_fill(const Options& o);
// Creates o.count locks with o.ttl_ms, then measures how long after the last deadline the
// server's DBSIZE reaches 0 and (semlock) when queued waiters are granted.
int run_expiry(const Options& o);

// Pipelined acquires (SEMLOCK.ACQUIRE, or SET NX PX with --command setnx or --side redis) over
// several non-blocking connections per thread: one write and one read per batch.
int run_pipeline(const Options& o);

}  // namespace loadgen
