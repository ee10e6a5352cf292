// One checker client (a worker thread): a connection at a time, one request in flight, RESP,
// JSON lines or the SET idiom, random acquire/hold/extend/release/close cycles on the shared keys
// (this file) and targeted scenarios on its private mutex (worker_targeted.cc). Every request is
// recorded in the worker's Shard with its send and receive times.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/checker/driver.h"
#include "tests/checker/wire.h"
#include "tests/integration/clients.h"

namespace semlock::checker::detail {

using it::RawClient;
using it::RespValue;

inline constexpr Nanos kReplyGrace = 10'000 * kMs;  // beyond WAIT, a later reply is a stall

// A connection with the record of its life.
struct Wire {
  std::unique_ptr<RawClient> raw;
  int conn = -1;  // index into the shard's conns
};

struct Holding {
  int op = -1;  // grant op index in the shard
  int key = 0;
  std::string owner, pid, host;
  bool derived = false, session = false;
  std::uint64_t fence = 0;
  Nanos acquired_send = 0;
  std::int64_t ttl_ms = 0;
  Proto proto = Proto::kResp;
};

class Worker {
 public:
  Worker(const DriverOptions& options, DriverControl& control, Shard& shard, int index)
      : opt_(options),
        ctl_(control),
        shard_(shard),
        index_(index),
        rng_(options.seed * 1'000'003 + static_cast<std::uint64_t>(index)) {
    proto_ = static_cast<Proto>(index % 3);
  }

  void run() {
    while (!ctl_.stop.load()) {
      if (!ensure_connected()) continue;
      if (holding_.op >= 0) {
        hold();  // crash mode: a non-SESSION holding kept across the restart
      } else if (opt_.enabled("force") && chance(0.02)) {
        force_release();
      } else if (proto_ == Proto::kJson && opt_.enabled("dup-derived") && chance(0.02)) {
        double_derived_wait();
      } else if (opt_.enabled("close-waiting") && chance(0.01)) {
        ghost_probe();
      } else if (opt_.enabled("handoff") && chance(0.01)) {
        expiry_handoff();
      } else if (proto_ == Proto::kResp && opt_.enabled("acquireall") && chance(0.04)) {
        all_or_nothing();  // worker_multi.cc
      } else {
        cycle();
      }
    }
    if (wire_.raw) close_wire(wire_, false, false);
  }

 private:
  // ---- randomness ----
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  int pick_key(bool mutex_only) {
    for (;;) {
      int k = static_cast<int>(between(0, static_cast<std::int64_t>(opt_.shared_keys) - 1));
      if (!mutex_only || opt_.keys[static_cast<std::size_t>(k)].limit == 1) return k;
    }
  }
  const std::string& key_name(int k) { return opt_.keys[static_cast<std::size_t>(k)].name; }
  int key_limit(int k) { return opt_.keys[static_cast<std::size_t>(k)].limit; }
  std::string fresh_owner() {
    return "w" + std::to_string(index_) + "-" + std::to_string(++owner_seq_);
  }
  void sleep_ms(std::int64_t ms) {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  void sleep_us(std::int64_t us) {
    if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
  void sleep_until(Nanos t) {
    Nanos now = steady_now();
    if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
  }

  // ---- connections ----
  bool open_wire(Wire& w) {
    try {
      w.raw = std::make_unique<RawClient>(opt_.port);
    } catch (const std::exception&) {
      w.raw.reset();
      return false;
    }
    Conn c;
    c.worker = index_;
    c.open = steady_now();
    shard_.conns.push_back(c);
    w.conn = static_cast<int>(shard_.conns.size()) - 1;
    return true;
  }

  bool ensure_connected() {
    if (wire_.raw) return true;
    while (ctl_.paused.load() && !ctl_.stop.load()) sleep_ms(2);
    if (ctl_.stop.load()) return false;
    if (!open_wire(wire_)) {
      sleep_ms(5);
      return false;
    }
    if (holding_.op >= 0) {
      proto_ = holding_.proto;
    } else if (chance(0.3)) {
      proto_ = static_cast<Proto>(between(0, 2));
    }
    return true;
  }

  // Closes by us (FIN, or RST via SO_LINGER 0) and records when.
  void close_wire(Wire& w, bool rst, bool pending) {
    if (!w.raw) return;
    Conn& c = shard_.conns[static_cast<std::size_t>(w.conn)];
    if (rst) {
      linger l{1, 0};
      ::setsockopt(w.raw->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    c.peek_clean = pending && w.raw->buffer().empty();
    c.close_begin = steady_now();
    w.raw->close();
    c.close = steady_now();
    c.rst = rst;
    w.raw.reset();
    if (&w == &wire_ && holding_.op >= 0 && holding_.session) holding_ = Holding{};
  }

  // The server closed the connection (or it broke): record and drop it.
  void lost_wire(Wire& w) {
    if (!w.raw) return;
    Conn& c = shard_.conns[static_cast<std::size_t>(w.conn)];
    c.close = steady_now();
    c.close_begin = c.close;
    c.by_server = true;
    w.raw->close();
    w.raw.reset();
    if (&w == &wire_ && holding_.op >= 0 && (holding_.session || !opt_.crash_mode)) {
      holding_ = Holding{};
    }
  }

  // ---- requests ----
  bool send(Wire& w, Op& op, const std::string& bytes) {
    op.worker = index_;
    op.conn = w.conn;
    op.send = steady_now();
    if (!w.raw) return false;
    try {
      w.raw->send(bytes);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  bool read_reply(Wire& w, Proto proto, Nanos deadline, RespValue& resp, std::string& line,
                  bool& timed_out) {
    return read_one_reply(*w.raw, proto, deadline, resp, line, timed_out);
  }

  // Sends, waits for the reply, interprets it; records the op. Returns the op's index.
  int execute(Wire& w, Proto proto, Op op, const std::string& bytes) {
    if (!send(w, op, bytes)) {
      lost_wire(w);
      return record(std::move(op));
    }
    RespValue resp;
    std::string line;
    bool timed_out = false;
    Nanos deadline = op.send + op.wait_ms * kMs + kReplyGrace;
    if (!read_reply(w, proto, deadline, resp, line, timed_out)) {
      if (timed_out) op.error = "timeout";
      if (timed_out) {
        close_wire(w, true, true);
      } else {
        lost_wire(w);
      }
      return record(std::move(op));
    }
    op.recv = steady_now();
    interpret(op, proto, resp, line);
    return record(std::move(op));
  }

  int record(Op op) {
    if (op.result == Result::kGranted && op.kind == OpKind::kAcquire) ctl_.grants.fetch_add(1);
    ctl_.ops.fetch_add(1);
    shard_.ops.push_back(std::move(op));
    return static_cast<int>(shard_.ops.size()) - 1;
  }

  // ---- request texts ----
  std::string acquire_bytes(Proto proto, const Op& op, int limit, const Holding* derived_from) {
    const std::string& key = key_name(op.key);
    if (proto == Proto::kSet) {
      return it::resp_command({"SET", key, op.owner, "NX", "PX", std::to_string(op.ttl_ms)});
    }
    if (proto == Proto::kResp) {
      std::vector<std::string> a{"SEMLOCK.ACQUIRE", key,     std::to_string(op.ttl_ms), "OWNER",
                                 op.owner,          "LIMIT", std::to_string(limit)};
      if (op.wait_ms > 0) {
        a.push_back("WAIT");
        a.push_back(std::to_string(op.wait_ms));
      }
      if (op.session) a.push_back("SESSION");
      return it::resp_command(a);
    }
    std::string j = R"({"action":"acquire","key":)" + json_quote(key) + R"(,"ttl_ms":)" +
                    std::to_string(op.ttl_ms) + R"(,"limit":)" + std::to_string(limit);
    if (derived_from != nullptr) {
      j += R"(,"pid":)" + json_quote(derived_from->pid) + R"(,"host":)" +
           json_quote(derived_from->host);
    } else {
      j += R"(,"owner":)" + json_quote(op.owner);
    }
    if (op.wait_ms > 0) j += R"(,"wait_ms":)" + std::to_string(op.wait_ms);
    if (op.session) j += R"(,"session":true)";
    return j + "}\n";
  }

  std::string owner_fields(const Holding& h) {
    if (h.derived) {
      return R"(,"pid":)" + json_quote(h.pid) + R"(,"host":)" + json_quote(h.host);
    }
    return R"(,"owner":)" + json_quote(h.owner);
  }

  // ---- scenarios ----
  void cycle() {
    Proto proto = proto_;
    bool set_idiom = proto == Proto::kSet;
    int key = pick_key(set_idiom);
    Op op;
    op.kind = OpKind::kAcquire;
    op.key = key;
    op.path = set_idiom               ? Path::kSetNx
              : proto == Proto::kJson ? Path::kJsonAcquire
                                      : Path::kSemAcquire;
    op.ttl_ms = chance(0.8) ? between(5, 60) : between(60, 200);
    bool close_while_waiting = false;
    if (!set_idiom && chance(0.35)) {
      op.wait_ms = between(5, 100);
      if (opt_.enabled("close-waiting") && chance(0.04)) {
        close_while_waiting = true;
        op.wait_ms = between(200, 1500);
        op.ttl_ms = between(300, 1000);
      }
    }
    op.session = !set_idiom && !close_while_waiting && chance(0.12);
    Holding h;
    h.key = key;
    h.proto = proto;
    h.session = op.session;
    if (proto == Proto::kJson && chance(0.3)) {
      h.derived = true;
      h.pid = std::to_string(index_ * 1'000'000 + ++owner_seq_);
      h.host = "h" + std::to_string(index_);
      h.owner = h.pid + "@" + h.host;
      op.derived = true;
    } else {
      h.owner = fresh_owner();
    }
    op.owner = h.owner;
    std::string bytes = acquire_bytes(proto, op, key_limit(key), h.derived ? &h : nullptr);

    if (close_while_waiting) {
      // Send, give up after a few ms without reading, then close (FIN or RST).
      if (!send(wire_, op, bytes)) {
        lost_wire(wire_);
        record(std::move(op));
        return;
      }
      sleep_ms(between(1, 10));
      if (wire_.raw->buffer().empty()) {
        char c;
        ssize_t n = ::recv(wire_.raw->fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) {
          close_wire(wire_, chance(0.5), true);
          record(std::move(op));
          return;
        }
      }
      // Already answered: read it and carry on as a normal acquire.
      RespValue resp;
      std::string line;
      bool timed_out = false;
      if (!read_reply(wire_, proto, op.send + op.wait_ms * kMs + kReplyGrace, resp, line,
                      timed_out)) {
        if (timed_out) op.error = "timeout";
        lost_wire(wire_);
        record(std::move(op));
        return;
      }
      op.recv = steady_now();
      interpret(op, proto, resp, line);
      h.op = record(Op(op));
    } else {
      h.op = execute(wire_, proto, op, bytes);
    }
    const Op& done = shard_.ops[static_cast<std::size_t>(h.op)];
    if (done.result == Result::kNotGranted && done.wait_ms == 0) {
      sleep_us(between(0, 2000));  // back off before retrying, as lock clients do
    }
    if (done.result != Result::kGranted) return;
    h.fence = done.fence;
    h.acquired_send = done.send;
    h.ttl_ms = done.ttl_ms;
    holding_ = h;
    last_deadline_lo_ = done.send + done.ttl_ms * kMs;
    if (close_while_waiting) {
      release();  // a long TTL: do not sit on it
      return;
    }
    hold();
  }

  void hold() {
    int steps = static_cast<int>(between(0, 2));
    for (int i = 0; i < steps && holding_.op >= 0 && wire_.raw; ++i) {
      sleep_ms(chance(0.9) ? between(0, 3) : between(0, holding_.ttl_ms * 8 / 10));
      if (!wire_.raw || holding_.op < 0) return;
      double r = std::uniform_real_distribution<double>(0, 1)(rng_);
      if (r < 0.5) {
        extend();
      } else if (r < 0.65 && holding_.proto != Proto::kSet && !holding_.derived) {
        refresh(wire_, holding_.proto, holding_.session);
      } else if (r < 0.75 && holding_.proto == Proto::kResp && !holding_.session &&
                 opt_.enabled("session-elsewhere")) {
        session_refresh_elsewhere();
      }
    }
    if (!wire_.raw || holding_.op < 0) return;
    double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (r < 0.62) {
      release();
    } else if (r < 0.72) {
      holding_ = Holding{};  // abandon: let it expire
    } else if (r < 0.92) {
      // Release right at the TTL's edge: the early-expiry probe.
      sleep_until(last_deadline_lo_ - between(0, 2) * kMs);
      release();
    } else {
      // RST only when another request followed the grant: a reset right after an unread-looking
      // grant is the "could not be delivered" case, which the server may treat as such.
      close_wire(wire_, steps > 0 && chance(0.5), false);
      holding_ = Holding{};
    }
  }

  void extend() {
    Op op;
    op.kind = OpKind::kExtend;
    op.key = holding_.key;
    op.owner = holding_.owner;
    op.grant = holding_.op;
    op.ttl_ms = chance(0.8) ? between(5, 60) : between(60, 200);
    std::string bytes;
    const std::string& key = key_name(op.key);
    switch (holding_.proto) {
      case Proto::kResp:
        op.path = Path::kSemExtend;
        bytes = it::resp_command({"SEMLOCK.EXTEND", key, op.owner, std::to_string(op.ttl_ms)});
        break;
      case Proto::kSet:
        op.path = Path::kEvalPexpire;
        bytes = it::resp_command(
            {"EVAL", kCasPexpireScript, "1", key, op.owner, std::to_string(op.ttl_ms)});
        break;
      case Proto::kJson:
        op.path = Path::kJsonExtend;
        bytes = R"({"action":"extend","key":)" + json_quote(key) + R"(,"ttl_ms":)" +
                std::to_string(op.ttl_ms) + owner_fields(holding_) + "}\n";
        break;
    }
    int i = execute(wire_, holding_.proto, op, bytes);
    after_update(i);
  }

  // Idempotent re-acquire by the same explicit owner: same fence, deadline refreshed.
  void refresh(Wire& w, Proto proto, bool session) {
    Op op;
    op.kind = OpKind::kRefresh;
    op.key = holding_.key;
    op.owner = holding_.owner;
    op.grant = holding_.op;
    op.session = session;
    op.ttl_ms = chance(0.8) ? between(5, 60) : between(60, 200);
    op.path = proto == Proto::kJson ? Path::kJsonAcquire : Path::kSemAcquire;
    int i = execute(w, proto, op, acquire_bytes(proto, op, key_limit(op.key), nullptr));
    if (&w == &wire_)
      after_update(i);
    else
      after_update_elsewhere(i);
  }

  // Another connection refreshes our holder with SESSION, then goes away. The holder stays
  // bound to the connection that created it (SPEC §1), so it must survive.
  void session_refresh_elsewhere() {
    Wire temp;
    if (!open_wire(temp)) return;
    refresh(temp, Proto::kResp, true);
    if (temp.raw) close_wire(temp, chance(0.5), false);
  }

  void after_update(int i) {
    const Op& op = shard_.ops[static_cast<std::size_t>(i)];
    if (op.result == Result::kOne ||
        (op.result == Result::kGranted && op.fence == holding_.fence)) {
      last_deadline_lo_ = op.send + op.ttl_ms * kMs;
      return;
    }
    if (op.result == Result::kNoReply && opt_.crash_mode && holding_.op >= 0) {
      return;  // kept across the restart (non-SESSION); next op tells
    }
    if (op.result == Result::kGranted) {
      // A new fence: the old holder was gone; this is a new grant.
      holding_.op = i;
      holding_.fence = op.fence;
      last_deadline_lo_ = op.send + op.ttl_ms * kMs;
      return;
    }
    holding_ = Holding{};
  }
  void after_update_elsewhere(int i) {
    const Op& op = shard_.ops[static_cast<std::size_t>(i)];
    if (op.result == Result::kGranted && op.fence == holding_.fence) {
      last_deadline_lo_ = op.send + op.ttl_ms * kMs;
    } else if (op.result == Result::kGranted) {
      holding_.op = i;  // a new grant, bound to the temporary connection's session
      holding_.fence = op.fence;
      holding_.session = true;
      last_deadline_lo_ = op.send + op.ttl_ms * kMs;
    } else if (op.result != Result::kNoReply) {
      holding_ = Holding{};
    }
  }

  void release() {
    Op op;
    op.kind = OpKind::kRelease;
    op.key = holding_.key;
    op.owner = holding_.owner;
    op.grant = holding_.op;
    const std::string& key = key_name(op.key);
    bool mutex = key_limit(op.key) == 1;
    std::string bytes;
    switch (holding_.proto) {
      case Proto::kResp: {
        double r = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (!mutex || r < 0.6) {
          op.path = Path::kSemRelease;
          bytes = it::resp_command({"SEMLOCK.RELEASE", key, op.owner});
        } else if (r < 0.8) {
          op.path = Path::kDelIfEq;
          bytes = it::resp_command({"DELIFEQ", key, op.owner});
        } else {
          op.path = Path::kEvalDel;
          bytes = it::resp_command({"EVAL", kCasDelScript, "1", key, op.owner});
        }
        break;
      }
      case Proto::kSet: {
        double r = std::uniform_real_distribution<double>(0, 1)(rng_);
        if (r < 0.6) {
          op.path = Path::kEvalDel;
          bytes = it::resp_command({"EVAL", kCasDelScript, "1", key, op.owner});
        } else if (r < 0.8) {
          op.path = Path::kDelIfEq;
          bytes = it::resp_command({"DELIFEQ", key, op.owner});
        } else {
          op.path = Path::kDelEx;
          bytes = it::resp_command({"DELEX", key, "IFEQ", op.owner});
        }
        break;
      }
      case Proto::kJson:
        op.path = Path::kJsonRelease;
        bytes = R"({"action":"release","key":)" + json_quote(key) + owner_fields(holding_) + "}\n";
        break;
    }
    Proto proto = holding_.proto;
    holding_ = Holding{};
    execute(wire_, proto, op, bytes);
  }

  void force_release() {
    Op op;
    op.kind = OpKind::kForce;
    op.key = pick_key(proto_ == Proto::kSet);
    const std::string& key = key_name(op.key);
    std::string bytes;
    switch (proto_) {
      case Proto::kResp:
        op.path = Path::kSemForce;
        bytes = it::resp_command({"SEMLOCK.FORCERELEASE", key});
        break;
      case Proto::kSet:
        op.path = Path::kDel;
        bytes = it::resp_command({"DEL", key});
        break;
      case Proto::kJson:
        if (chance(0.5)) {
          op.path = Path::kJsonForce;
          bytes = R"({"action":"force_release","key":)" + json_quote(key) + "}\n";
        } else {
          op.path = Path::kJsonReleaseAll;
          bytes = R"({"action":"release","key":)" + json_quote(key) + "}\n";
        }
        break;
    }
    execute(wire_, proto_, op, bytes);
  }

  int own_key() const { return static_cast<int>(opt_.shared_keys) + index_; }
  // Targeted scenarios on the worker's private mutex (worker_targeted.cc).
  bool hold_own_key(std::int64_t ttl_ms);
  void ghost_probe();
  void snapshot_own_key();
  void expiry_handoff();
  void double_derived_wait();
  // SEMLOCK.ACQUIREALL on two shared mutexes (worker_multi.cc).
  void all_or_nothing();

  const DriverOptions& opt_;
  DriverControl& ctl_;
  Shard& shard_;
  int index_;
  std::mt19937_64 rng_;
  Proto proto_;
  Wire wire_;
  Holding holding_;
  Nanos last_deadline_lo_ = 0;
  std::uint64_t owner_seq_ = 0;
};

}  // namespace semlock::checker::detail
