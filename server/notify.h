// Lost-lock notices on the server side: who hears of which NOTIFY holder (server/notify.cc has
// the rules). Plain data owned by the Server; every change goes through its notify_* methods.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/engine.h"

namespace semlock {

struct NotifyHub {
  struct Push {
    std::uint64_t conn_id = 0;
    std::string key;
    std::string owner;
    // Forwarded to the leader (cluster mode): the leader pushes through the upstream, so this
    // member pushes only its own failover notice.
    bool relayed = false;
  };
  // RESP3 push targets by fence: the connection that acquired (or re-acquired) with NOTIFY.
  absl::flat_hash_map<std::uint64_t, Push> pushes;
  absl::flat_hash_map<std::uint64_t, std::vector<std::uint64_t>> conn_pushes;  // conn -> fences
  // NOTIFY acquires of RESP3 connections waiting in the engine: wait tag -> connection.
  absl::flat_hash_map<std::uint64_t, std::uint64_t> wait_tags;
  // JSON watch streams: key -> connections, connection -> keys.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::uint64_t>> watchers;
  absl::flat_hash_map<std::uint64_t, std::vector<std::string>> conn_watches;
  std::size_t watched_keys = 0;  // (connection, key) pairs in conn_watches, for INFO
  // Fences this member already gave a `failover` notice: their later removal says nothing more.
  absl::flat_hash_set<std::uint64_t> told;
  // `restart` notices kept for late listeners until restart_until (monotonic ms).
  // By key: a watch or SUBSCRIBE looks up its own keys (never a scan of all of them).
  absl::flat_hash_map<std::string, std::vector<LostNotice>> restart_notices;
  Millis restart_until = 0;
  // Pattern subscribers' copies of notices not yet made (the tick's budget was spent: see
  // kPatternWorkPerTick), oldest first; the work spent in this tick; what INFO reports.
  struct PatternJob {
    std::string channel;
    std::string message;
  };
  std::deque<PatternJob> pattern_backlog;
  std::size_t pattern_backlog_bytes = 0;
  std::uint64_t spent = 0;
  std::uint64_t pattern_deferrals = 0;  // ticks whose budget ran out with copies still to make
  std::uint64_t pattern_drops = 0;      // copies dropped past kMaxPatternBacklogBytes
  std::array<std::uint64_t, 5> sent{};  // notices by LostReason
  std::uint64_t pushes_sent = 0;
  std::uint64_t watch_lines = 0;
  std::uint64_t channel_messages = 0;
};

// The texts of one notice.
std::string lost_channel(std::string_view key);  // "__semlock__:lost:<key>"
std::string lost_message(const LostNotice& n);   // "semlock-lost <key> <owner> <fence> <reason>"
std::string lost_push(const LostNotice& n);      // RESP3 >5 frame

// How long `restart` notices are replayed to watchers and subscribers that arrive after a restart.
inline constexpr Millis kRestartNoticeWindow = 60000;
// Most keys one JSON connection may watch.
inline constexpr std::size_t kMaxWatchKeys = 1000;
// Pattern matching for notices, in redis::PubSub::pattern_work() units per tick (one short pattern
// tried on one channel; every pattern is tried on every message). The holder's push, JSON watch
// lines and the channel's own subscribers are never held back: only pattern subscribers' copies
// are. A copy costs 1 plus the pattern work, so with a few patterns every notice's copies still go
// out in the tick of its loss (the expiry wheel's own budget is 100,000 a tick); with many (a
// client may hold hundreds of thousands within server.max_client_memory_mb) they are spread over
// the next ticks, oldest first, instead of freezing the loop (1,000 notices x 200,000 patterns
// held it for 40 s).
inline constexpr std::uint64_t kPatternWorkPerTick = 100000;
// Most bytes of pattern copies waiting for a later tick; past it the oldest are dropped (counted):
// NOTIFY holders can be lost faster than many patterns can be matched.
inline constexpr std::size_t kMaxPatternBacklogBytes = 16 * 1024 * 1024;

}  // namespace semlock
