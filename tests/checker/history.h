// The record a checker run keeps: every request with its client-side send and receive times
// (steady clock, ns; the same CLOCK_MONOTONIC the server's libuv loop reads), what it asked for
// and what came back, every connection with its close, and every kill of the server.
//
// Nothing here interprets the replies beyond parsing them; analysis.cc turns the record into
// intervals and checks them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace semlock::checker {

using Nanos = std::int64_t;
inline constexpr Nanos kMs = 1'000'000;
inline constexpr Nanos kNever = INT64_MAX / 4;

// Which client library habit sent the request.
enum class Path : std::uint8_t {
  kSemAcquire,     // SEMLOCK.ACQUIRE key ttl OWNER o LIMIT n [WAIT w] [SESSION]
  kJsonAcquire,    // {"action":"acquire",...} with owner or pid/host
  kSetNx,          // SET key owner NX PX ttl
  kSemRelease,     // SEMLOCK.RELEASE key owner
  kDelIfEq,        // DELIFEQ key owner (Valkey 9)
  kDelEx,          // DELEX key IFEQ owner (Redis 8.4)
  kEvalDel,        // EVAL compare-and-delete (redis-py Lock)
  kJsonRelease,    // {"action":"release",...} by owner or pid/host
  kSemExtend,      // SEMLOCK.EXTEND key owner ttl
  kEvalPexpire,    // EVAL compare-and-pexpire
  kJsonExtend,     // {"action":"extend",...}
  kSemForce,       // SEMLOCK.FORCERELEASE key
  kDel,            // DEL key
  kJsonForce,      // {"action":"force_release"}
  kJsonReleaseAll,  // {"action":"release"} without owner: every holder of the key
  kAcquireAll       // SEMLOCK.ACQUIREALL ttl 2 k1 k2 OWNER o [WAIT w]: one grant op per key
};
const char* path_name(Path p);

enum class OpKind : std::uint8_t { kAcquire, kRefresh, kRelease, kExtend, kForce };

enum class Result : std::uint8_t {
  kNoReply,     // the connection closed (by us or by a killed server) before a reply
  kGranted,     // acquire/refresh granted (fence in `fence`, 0 when the reply carries none)
  kNotGranted,  // acquire answered "not acquired"
  kOne,         // release/extend succeeded
  kZero,        // release/extend: not held by that owner
  kCount,       // force release: `count` removed
  kError        // an error reply (text in `error`)
};

struct Op {
  Nanos send = 0, recv = -1;  // recv = -1: no reply
  int worker = 0;
  int conn = 0;    // index into Run::conns
  int grant = -1;  // for refresh/release/extend: index of the op that created the grant
  int key = 0;
  OpKind kind = OpKind::kAcquire;
  Path path = Path::kSemAcquire;
  Result result = Result::kNoReply;
  bool session = false;
  bool derived = false;      // JSON owner from pid/host
  bool dup_derived = false;  // one of two waiters with the same pid/host (may be refused early)
  std::int64_t ttl_ms = 0, wait_ms = 0;
  std::string owner;
  std::uint64_t fence = 0;
  std::int64_t count = 0;
  std::string error;
};

struct Conn {
  int worker = 0;
  Nanos open = 0;
  Nanos close_begin = kNever;  // just before close(): the server may see the close from here on
  Nanos close = kNever;        // just after close() returned
  bool rst = false;            // closed with SO_LINGER 0
  bool by_server = false;      // the server went away (kill -9)
  bool peek_clean = false;     // closed with a request pending and nothing received yet
};

// SEMLOCK.INFO answers: from the FIFO observer and after each restart.
struct InfoHolder {
  std::string owner;
  std::uint64_t fence = 0;
  std::int64_t ttl_ms = 0;
};
struct Info {
  Nanos send = 0, recv = 0;
  int key = 0;
  bool null_reply = false;  // key not held
  std::int64_t waiters = 0;
  std::vector<InfoHolder> holders;
  bool after_restart = false;
  bool after_probe = false;  // taken right after a refused ghost probe, to show what held the key
};

struct KeySpec {
  std::string name;
  int limit = 1;
};

// One SEMLOCK.ACQUIREALL as its worker saw it (analysis_multi.cc checks all-or-nothing). Its
// grants are also ops (one per key, path kAcquireAll), so mutual exclusion covers them.
struct MultiObs {
  Nanos send = 0, recv = -1;  // recv = -1: no reply
  int worker = 0;
  std::string owner;
  std::vector<int> keys;
  bool granted = false;
  std::vector<std::uint64_t> fences;  // as the reply gave them
  std::string error;                  // an error reply, or a reply of the wrong shape
  // After a refusal: SEMLOCK.INFO of each key, read at once; true where it showed `owner`.
  std::vector<bool> held_after_refusal;
};

struct Run {
  std::vector<MultiObs> multi;
  std::vector<KeySpec> keys;
  std::vector<Op> ops;
  std::vector<Conn> conns;
  std::vector<Info> infos;
  std::vector<Nanos> kills;  // time just before each SIGKILL
};

}  // namespace semlock::checker
