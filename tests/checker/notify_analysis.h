// The lost-lock notice invariant (SEMLOCK.ACQUIRE ... NOTIFY), checked on a recorded history:
// every NOTIFY holder that is lost — removed by anything but its owner's release — yields exactly
// one notice per listener (the key's pub/sub channel, a JSON watch of the key, and the RESP3
// push to the acquiring connection when it speaks RESP3) with its own key, owner and fence; a
// holder its owner released, or a holder without NOTIFY, yields none. An `expired` notice never
// comes before the holder's TTL has passed, and comes within `late_ms` after the last deadline
// the client was told of; a `forced` one follows a force release or SET of its key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace semlock::checker {

using NotifyNanos = std::int64_t;

struct NotifyGrant {
  std::string key;
  std::string owner;  // unique per grant in the runs (no refreshes)
  std::uint64_t fence = 0;
  bool notify = false;
  bool resp3 = false;  // acquired on a RESP3 connection: a push is owed too
  int conn = 0;
  NotifyNanos send = 0, recv = 0;
  std::int64_t ttl_ms = 0;
  // The latest deadline the client was told of: grant recv + ttl, moved by successful extends.
  NotifyNanos told_deadline = 0;
  // The earliest the deadline can be: grant send + ttl, or the last successful extend's send +
  // its ttl (an extend may shorten it).
  NotifyNanos min_deadline = 0;
  bool released_by_owner = false;  // a release by its owner answered 1
};

struct NotifyForce {  // FORCERELEASE, DEL or SET by another owner on a key
  std::string key;
  NotifyNanos send = 0;
};

struct Notice {
  enum class Source : std::uint8_t { kChannel, kWatch, kPush } source = Source::kChannel;
  int conn = 0;  // kPush: the connection it arrived on
  std::string key, owner, reason;
  std::uint64_t fence = 0;
  NotifyNanos recv = 0;
  // When its listener was last seen with nothing to read (0: unknown): the notice reached the
  // socket after this and by `recv`. Lateness is judged by this time, so that a checker that was
  // itself slow to look (a loaded machine) does not blame the server for it.
  NotifyNanos absent_at = 0;
};

struct NotifyHistory {
  std::vector<NotifyGrant> grants;
  std::vector<NotifyForce> forces;
  std::vector<Notice> notices;
  bool watch_all = true;  // a JSON watch covered every key for the whole run
};

// Every violation found, one line each (empty: the invariant holds). `late_ms`: how long after
// the told deadline an `expired` notice may come (a tick plus scheduling slack).
std::vector<std::string> check_notices(const NotifyHistory& h, std::int64_t late_ms);

const char* source_name(Notice::Source s);

}  // namespace semlock::checker
