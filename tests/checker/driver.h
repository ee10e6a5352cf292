// The load side of the checker: worker threads, each on its own connection (RESP, JSON lines or
// the Redis SET idiom), contending on a few keys with short TTLs, and an observer that samples
// SEMLOCK.INFO. Every request is recorded (history.h) with its send and receive times.
//
// One request is outstanding per connection at a time, so a reply always belongs to the last
// request sent on it. Workers take their times just before send() and just after the reply's last
// byte is read: the server read the request after `send` and wrote the reply before `recv`.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/checker/history.h"

namespace semlock::checker {

struct DriverOptions {
  std::uint16_t port = 0;
  int workers = 32;
  std::uint64_t seed = 1;
  std::vector<KeySpec> keys;  // shared keys first, then one private mutex per worker
  std::size_t shared_keys = 0;
  bool crash_mode = false;  // workers keep non-SESSION holdings across reconnects
  // Scenarios that can be switched off (to tell findings apart): "session-elsewhere" (another
  // connection refreshes a holder with SESSION, then closes), "dup-derived" (two JSON waiters with
  // one pid/host), "close-waiting" (a waiter closes, FIN or RST), "force" (force releases),
  // "handoff" (a waiter whose WAIT ends just after the holder's TTL must be granted).
  std::vector<std::string> disabled;
  bool enabled(const std::string& scenario) const {
    for (const auto& d : disabled) {
      if (d == scenario) return false;
    }
    return true;
  }
};

// Shared between the driver's threads and whoever runs it.
struct DriverControl {
  std::atomic<bool> stop{false};
  std::atomic<bool> paused{false};  // crash mode: do not reconnect while the server restarts
  std::atomic<std::uint64_t> grants{0};
  std::atomic<std::uint64_t> ops{0};
};

// One worker's (or the observer's) part of the record; merged into a Run by merge().
struct Shard {
  std::vector<Op> ops;
  std::vector<Conn> conns;
  std::vector<Info> infos;
  std::vector<MultiObs> multi;  // SEMLOCK.ACQUIREALL observations (worker_multi.cc)
};

// Runs `options.workers` workers and one observer until control.stop; returns their records.
std::vector<Shard> drive(const DriverOptions& options, DriverControl& control);

// Concatenates shards into `run`, rewriting per-shard op and connection indexes.
void merge(std::vector<Shard>& shards, Run& run);

Nanos steady_now();

}  // namespace semlock::checker
