// The lock-library recipes part of the checker (docs/CHECKER.md "Lock-library recipes"): the
// record of a run in which clients send the exact scripts and commands of three Redis lock
// libraries, and the invariants proven over their real replies.
//
//  - Redisson RLock: a hash per lock, field owner -> hold count, taken with a script (EXISTS /
//    HEXISTS, HINCRBY, PEXPIRE; refused with the PTTL), re-entered, renewed (HEXISTS, PEXPIRE) and
//    unlocked by a script that counts down, deletes at zero and PUBLISHes the wake-up.
//  - redis-semaphore Semaphore: a sorted set of identifiers scored by the client's clock; the
//    acquire script drops members older than the lock timeout (ZREMRANGEBYSCORE), counts (ZCARD)
//    and adds (ZADD) with PEXPIRE of the key; refresh re-scores, release is ZREM.
//  - simple-redis-mutex: SET NX PX, then INCR of one fencing counter that never expires; release
//    by a compare-and-delete script that PUBLISHes the released key and value.
//
// Time bounds are the main checker's (analysis.h): every server-side moment of a request lies in
// [send, recv]; a deadline set by a request is at least send + ttl (DL) and at most
// recv + ttl + 1 ms, given `expiry_slack` more before anyone is accused of a refusal (DU);
// across a kill, deadlines come back through wall-clock milliseconds: `restore_margin` either way.
// A semaphore member's own expiry is exact: the script drops it when a client's `now` argument is
// at least its score + the lock timeout, and `now` is that client's clock (a monotonic one here)
// read before it sent the script.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/checker/analysis.h"

namespace semlock::checker::recipes {

// Nanos, kMs and kNever are the main checker's (history.h).

enum class Recipe : std::uint8_t { kRedisson, kSemaphore, kMutex };
const char* recipe_name(Recipe r);

enum class CallKind : std::uint8_t {
  kAcquire,  // Redisson lock script, semaphore acquire script, SET NX PX
  kReenter,  // Redisson: the lock script again by the holding owner
  kRenew,    // Redisson renew script, semaphore refresh script, simple-redis-mutex GET + PEXPIRE
  kRelease,  // Redisson unlock script, ZREM, the compare-and-delete-and-publish script
  kFence     // simple-redis-mutex: INCR of the fencing counter after the grant
};

// What the reply said, per recipe:
//   acquire/reenter: kOk granted (Redisson nil, semaphore 1, SET "OK"); kNo refused (Redisson
//     the PTTL, semaphore 0, SET nil);
//   renew: kOk extended (1; the mutex: GET matched and PEXPIRE answered 1); kNo not held;
//   release: Redisson kOk with value 0 (still held, count down) or 1 (released), kNo nil (not
//     held); semaphore ZREM kOk 1 / kNo 0; mutex script kOk (it answers nil either way);
//   fence: kOk with the counter in value.
enum class Reply : std::uint8_t { kNone, kOk, kNo, kError };

struct Call {
  CallKind kind = CallKind::kAcquire;
  Nanos send = 0, recv = -1;  // recv -1: no reply (the server was killed)
  Reply reply = Reply::kNone;
  std::int64_t value = 0;   // Redisson release: 0 or 1; fence: the counter
  std::int64_t now_ms = 0;  // semaphore scripts: the `now` argument sent
  Nanos aux_send = 0;       // mutex renew: send of the PEXPIRE (send is the GET's)
  std::string error;        // an error reply's text
};

// One try of one owner on one key: calls[0] is the acquire; the rest follow in order. A worker
// ends an attempt at the first refusal or missing reply.
struct Attempt {
  Recipe recipe = Recipe::kMutex;
  int key = 0;
  int worker = 0;
  std::string owner;  // unique per attempt
  std::int64_t ttl_ms = 0;
  std::vector<Call> calls;
};

// A release notice seen by a simple-redis-mutex subscriber: {"key": ..., "value": ...}.
struct Message {
  Nanos recv = 0;
  int key = -1;  // -1: a key no attempt used
  std::string value;
};

struct KeySpec {
  std::string name;
  Recipe recipe = Recipe::kMutex;
  int limit = 1;
};

struct History {
  std::vector<KeySpec> keys;
  std::vector<Attempt> attempts;
  std::vector<Message> messages;
  std::vector<Nanos> kills;  // just before each SIGKILL, ascending
};

// The main checker's bounds (analysis.h), taken from it so that the two never drift apart.
struct Options {
  Nanos expiry_slack = AnalysisOptions{}.expiry_slack;      // 3 ms
  Nanos restore_margin = AnalysisOptions{}.restore_margin;  // 5 ms
};

struct RecipeCounts {
  std::uint64_t attempts = 0, grants = 0, refusals = 0, reentries = 0, renews = 0, releases = 0;
  std::uint64_t carried = 0;  // grants that lived across a kill and were used after it
};

struct Report {
  std::map<Recipe, RecipeCounts> by_recipe;
  std::uint64_t fences = 0, messages = 0;
  std::map<std::string, std::uint64_t> violations;  // by kind
  std::vector<std::string> examples;                // the first few of each kind
  void add(const std::string& kind, const std::string& text);
  std::uint64_t total() const;
};

// Kinds: over_limit, lost_before_ttl, resurrected, hold_count, refused_while_free,
// fence_reused, fence_order, publish_unknown, error_reply.
Report analyze(const History& h, const Options& options);

}  // namespace semlock::checker::recipes
