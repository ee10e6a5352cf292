// The worker's targeted scenarios, on its private mutex (no other client touches it), where the
// outcome the SPEC demands is known exactly: a grant to a waiter that closed must not be kept, a
// waiter whose WAIT ends after the holder's TTL must be granted, two JSON waiters with one pid/host
// must not both hold. Shared-key scenarios are in worker.h.
#include "tests/checker/worker.h"

namespace semlock::checker::detail {

// Acquires the worker's private mutex without waiting; true when granted (holding_ set).
bool Worker::hold_own_key(std::int64_t ttl_ms) {
  Op op;
  op.kind = OpKind::kAcquire;
  op.key = own_key();
  op.owner = fresh_owner();
  op.ttl_ms = ttl_ms;
  op.path = proto_ == Proto::kSet    ? Path::kSetNx
            : proto_ == Proto::kJson ? Path::kJsonAcquire
                                     : Path::kSemAcquire;
  int i = execute(wire_, proto_, op, acquire_bytes(proto_, op, 1, nullptr));
  const Op& done = shard_.ops[static_cast<std::size_t>(i)];
  if (done.result != Result::kGranted) return false;
  Holding h;
  h.op = i;
  h.key = op.key;
  h.owner = op.owner;
  h.fence = done.fence;
  h.acquired_send = done.send;
  h.ttl_ms = ttl_ms;
  h.proto = proto_;
  holding_ = h;
  last_deadline_lo_ = done.send + ttl_ms * kMs;
  return true;
}

// A waiter queues on our private mutex while we hold it (a third of them also pipeline past
// the input cap), goes away unanswered (FIN or RST), and only 20 to 60 ms later we release. A
// grant to it then would land on a closed connection and must not be kept (SPEC §1): a probe sent
// 10 ms after the waiter's TTL counted from its close must find the key free (a kept grant would
// live until release + TTL).
void Worker::ghost_probe() {
  if (!hold_own_key(400)) return;
  Wire temp;
  if (!open_wire(temp)) return;
  Proto tp = chance(0.5) ? Proto::kResp : Proto::kJson;
  Op w;
  w.kind = OpKind::kAcquire;
  w.key = own_key();
  w.owner = fresh_owner();
  w.ttl_ms = between(100, 300);
  w.wait_ms = between(150, 250);
  w.path = tp == Proto::kJson ? Path::kJsonAcquire : Path::kSemAcquire;
  if (!send(temp, w, acquire_bytes(tp, w, 1, nullptr))) {
    lost_wire(temp);
    record(std::move(w));
    return;
  }
  sleep_ms(between(1, 5));
  if (chance(0.33)) {
    // Pipeline past the server's input cap for a blocked client (the runs set
    // server.max_request_bytes to 4096: cap 2 * 4096 + 64 KiB), so that a server that stops
    // reading it would not see the close.
    std::string one =
        tp == Proto::kJson ? std::string("{\"action\":\"ping\"}\n") : it::resp_command({"PING"});
    std::string filler;
    while (filler.size() < 100 * 1024) filler += one;
    try {
      temp.raw->send(filler, it::Ms{2000});
    } catch (const std::exception&) {
      // the server closed it (past the cap): fine, that is a close too
    }
  }
  close_wire(temp, chance(0.5), true);
  Nanos closed = shard_.conns[static_cast<std::size_t>(w.conn)].close;
  std::int64_t ttl_ms = w.ttl_ms;
  record(std::move(w));
  sleep_ms(between(20, 60));
  release();
  if (!wire_.raw) return;
  sleep_until(closed + (ttl_ms + 10) * kMs);
  if (hold_own_key(20)) {
    release();
  } else {
    snapshot_own_key();  // what the server holds there, for the report
  }
}

void Worker::snapshot_own_key() {
  try {
    it::RespConn c(opt_.port);
    Info info;
    info.key = own_key();
    info.after_probe = true;
    info.send = steady_now();
    auto v = c.cmd({"SEMLOCK.INFO", key_name(info.key)});
    info.recv = steady_now();
    fill_info(info, v);
    shard_.infos.push_back(std::move(info));
  } catch (const std::exception&) {
    // the server went away: nothing to show
  }
}

// We hold our private mutex; another connection waits with a WAIT that ends a few ms after our
// TTL. Expiries come before waiter timeouts (SPEC §1): it must be granted.
void Worker::expiry_handoff() {
  if (!hold_own_key(between(10, 40))) return;
  Nanos dl = last_deadline_lo_;
  holding_ = Holding{};  // let it expire
  Wire temp;
  if (!open_wire(temp)) return;
  Proto tp = chance(0.5) ? Proto::kResp : Proto::kJson;
  Op w;
  w.kind = OpKind::kAcquire;
  w.key = own_key();
  w.owner = fresh_owner();
  w.ttl_ms = 20;
  w.wait_ms = std::max<std::int64_t>(1, (dl - steady_now()) / kMs + between(6, 24));
  w.path = tp == Proto::kJson ? Path::kJsonAcquire : Path::kSemAcquire;
  execute(temp, tp, w, acquire_bytes(tp, w, 1, nullptr));
  if (temp.raw) close_wire(temp, false, false);  // a non-SESSION grant lives out its 20 ms
}

// Two JSON waiters with one pid/host on one key: at most one may be granted (SPEC §1: a
// derived owner gets no re-acquire; the second is "not acquired").
void Worker::double_derived_wait() {
  Wire second;
  if (!open_wire(second)) return;
  Holding h;
  h.key = pick_key(false);
  h.proto = Proto::kJson;
  h.derived = true;
  h.pid = std::to_string(index_ * 1'000'000 + ++owner_seq_);
  h.host = "h" + std::to_string(index_);
  h.owner = h.pid + "@" + h.host;
  Op a;
  a.kind = OpKind::kAcquire;
  a.path = Path::kJsonAcquire;
  a.key = h.key;
  a.owner = h.owner;
  a.derived = a.dup_derived = true;
  a.ttl_ms = between(20, 100);
  a.wait_ms = between(20, 100);
  Op b = a;
  std::string bytes = acquire_bytes(Proto::kJson, a, key_limit(h.key), &h);
  bool sent_a = send(wire_, a, bytes);
  bool sent_b = send(second, b, bytes);
  int ia = -1, ib = -1;
  auto finish = [&](Wire& w, Op& op, bool sent) {
    RespValue resp;
    std::string line;
    bool timed_out = false;
    if (!sent) {
      lost_wire(w);
    } else if (!read_reply(w, Proto::kJson, op.send + op.wait_ms * kMs + kReplyGrace, resp, line,
                           timed_out)) {
      if (timed_out) op.error = "timeout";
      lost_wire(w);
    } else {
      op.recv = steady_now();
      interpret(op, Proto::kJson, resp, line);
    }
    return record(Op(op));
  };
  ia = finish(wire_, a, sent_a);
  ib = finish(second, b, sent_b);
  if (second.raw) close_wire(second, false, false);
  // Both granted (one after the other's expiry, or wrongly together): a release by pid/host
  // could hit either, so leave both to expire.
  bool both = shard_.ops[static_cast<std::size_t>(ia)].result == Result::kGranted &&
              shard_.ops[static_cast<std::size_t>(ib)].result == Result::kGranted;
  for (int i : {ia, ib}) {
    const Op& op = shard_.ops[static_cast<std::size_t>(i)];
    if (op.result == Result::kGranted && holding_.op < 0 && wire_.raw && !both) {
      h.op = i;
      h.fence = op.fence;
      h.acquired_send = op.send;
      h.ttl_ms = op.ttl_ms;
      holding_ = h;
      last_deadline_lo_ = op.send + op.ttl_ms * kMs;
    }
  }
  if (holding_.op >= 0) release();
}

}  // namespace semlock::checker::detail
