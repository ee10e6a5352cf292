// The all-or-nothing scenario (SEMLOCK.ACQUIREALL) on the shared mutexes, for RESP workers: two
// keys at once, with or without WAIT. A grant becomes one grant op per key (so the mutual
// exclusion analysis counts these holders with everyone else's) and is released key by key with
// SEMLOCK.RELEASE (whose per-key answers the analysis can check). A refusal is followed at once by
// SEMLOCK.INFO on both keys: the owner (fresh, never used elsewhere) must hold neither.
#include "tests/checker/worker.h"

namespace semlock::checker::detail {

void Worker::all_or_nothing() {
  const int k1 = pick_key(true);
  const int k2 = pick_key(true);
  if (k1 == k2) return;
  MultiObs obs;
  obs.worker = index_;
  obs.owner = fresh_owner();
  obs.keys = {k1, k2};
  Op op;
  op.kind = OpKind::kAcquire;
  op.path = Path::kAcquireAll;
  op.owner = obs.owner;
  op.ttl_ms = between(20, 100);
  op.wait_ms = chance(0.4) ? between(5, 100) : 0;
  std::vector<std::string> a{"SEMLOCK.ACQUIREALL", std::to_string(op.ttl_ms), "2", key_name(k1),
                             key_name(k2),         "OWNER",                    obs.owner};
  if (op.wait_ms > 0) {
    a.push_back("WAIT");
    a.push_back(std::to_string(op.wait_ms));
  }
  // One op per key; an unanswered request may have been granted on both.
  auto record_keys = [&](Result result, const std::vector<std::uint64_t>& fences) {
    std::vector<int> ops;
    for (std::size_t i = 0; i < obs.keys.size(); ++i) {
      Op o = op;
      o.key = obs.keys[i];
      o.result = result;
      o.fence = i < fences.size() ? fences[i] : 0;
      ops.push_back(record(std::move(o)));
    }
    return ops;
  };
  if (!send(wire_, op, it::resp_command(a))) {
    lost_wire(wire_);
    record_keys(Result::kNoReply, {});
    return;
  }
  obs.send = op.send;
  RespValue resp;
  std::string line;
  bool timed_out = false;
  if (!read_reply(wire_, Proto::kResp, op.send + op.wait_ms * kMs + kReplyGrace, resp, line,
                  timed_out)) {
    if (timed_out) {
      close_wire(wire_, true, true);
    } else {
      lost_wire(wire_);
    }
    record_keys(Result::kNoReply, {});
    shard_.multi.push_back(std::move(obs));
    return;
  }
  op.recv = steady_now();
  obs.recv = op.recv;
  if (resp.type == RespValue::Type::kNull || resp.null_array) {
    // Refused: neither key may show this owner. A refusal while one key was free is right here
    // (the other was busy), so it is not checked as a refusal (dup_derived); a waiting one is
    // recorded so that the analysis knows a waiter was there.
    if (op.wait_ms > 0) {
      op.dup_derived = true;
      record_keys(Result::kNotGranted, {});
    }
    for (const int k : obs.keys) {
      RespValue info;
      bool held = false;
      try {
        wire_.raw->send(it::resp_command({"SEMLOCK.INFO", key_name(k)}));
        if (!read_reply(wire_, Proto::kResp, steady_now() + kReplyGrace, info, line, timed_out)) {
          lost_wire(wire_);
          break;
        }
      } catch (const std::exception&) {
        lost_wire(wire_);
        break;
      }
      if (const RespValue* hs = info.field("holders")) {
        for (const RespValue& h : hs->elements) {
          held = held || (!h.elements.empty() && h.elements[0].str == obs.owner);
        }
      }
      obs.held_after_refusal.push_back(held);
    }
    shard_.multi.push_back(std::move(obs));
    return;
  }
  if (resp.type != RespValue::Type::kArray || resp.elements.size() != 2 ||
      resp.elements[1].type != RespValue::Type::kArray) {
    obs.error = resp.debug();
    record_keys(Result::kError, {});
    shard_.multi.push_back(std::move(obs));
    return;
  }
  obs.granted = true;
  for (const RespValue& f : resp.elements[1].elements) {
    obs.fences.push_back(static_cast<std::uint64_t>(f.integer));
  }
  const std::vector<int> grants = record_keys(Result::kGranted, obs.fences);
  shard_.multi.push_back(obs);
  if (chance(0.2)) return;  // abandoned: both expire
  sleep_ms(between(0, op.ttl_ms / 2));
  for (std::size_t i = 0; i < grants.size(); ++i) {
    if (!wire_.raw) return;
    Op rel;
    rel.kind = OpKind::kRelease;
    rel.path = Path::kSemRelease;
    rel.key = obs.keys[i];
    rel.owner = obs.owner;
    rel.grant = grants[i];
    execute(wire_, Proto::kResp, rel,
            it::resp_command({"SEMLOCK.RELEASE", key_name(rel.key), rel.owner}));
  }
}

}  // namespace semlock::checker::detail
