// Readable output of a recorded history: the name of each request path and one line per op, as
// the checker's report prints them (analysis.cc decides, this file only describes).
#include <cstdio>
#include <string>

#include "tests/checker/analysis.h"

namespace semlock::checker {

const char* path_name(Path p) {
  switch (p) {
    case Path::kSemAcquire:
      return "SEMLOCK.ACQUIRE";
    case Path::kJsonAcquire:
      return "json acquire";
    case Path::kSetNx:
      return "SET NX PX";
    case Path::kSemRelease:
      return "SEMLOCK.RELEASE";
    case Path::kDelIfEq:
      return "DELIFEQ";
    case Path::kDelEx:
      return "DELEX IFEQ";
    case Path::kEvalDel:
      return "EVAL compare-and-delete";
    case Path::kJsonRelease:
      return "json release";
    case Path::kSemExtend:
      return "SEMLOCK.EXTEND";
    case Path::kEvalPexpire:
      return "EVAL compare-and-pexpire";
    case Path::kJsonExtend:
      return "json extend";
    case Path::kSemForce:
      return "SEMLOCK.FORCERELEASE";
    case Path::kDel:
      return "DEL";
    case Path::kJsonForce:
      return "json force_release";
    case Path::kJsonReleaseAll:
      return "json release (no owner)";
    case Path::kAcquireAll:
      return "SEMLOCK.ACQUIREALL";
  }
  return "?";
}

std::string describe(const Run& run, const Op& op, Nanos origin) {
  auto rel = [&](Nanos t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.3f", static_cast<double>(t - origin) / 1e6);
    return std::string(buf);
  };
  const Conn& c = run.conns[static_cast<std::size_t>(op.conn)];
  std::string s = "[" + rel(op.send) + " -> " + (op.recv >= 0 ? rel(op.recv) : "no reply") +
                  " ms] w" + std::to_string(op.worker) + " conn" + std::to_string(op.conn) + " " +
                  path_name(op.path) + " " + run.keys[static_cast<std::size_t>(op.key)].name;
  if (!op.owner.empty()) s += " owner=" + op.owner;
  if (op.ttl_ms > 0) s += " ttl=" + std::to_string(op.ttl_ms);
  if (op.wait_ms > 0) s += " wait=" + std::to_string(op.wait_ms);
  if (op.session) s += " SESSION";
  if (op.kind == OpKind::kRefresh) s += " (re-acquire)";
  s += " => ";
  switch (op.result) {
    case Result::kNoReply:
      s += "no reply";
      break;
    case Result::kGranted:
      s += "granted fence=" + std::to_string(op.fence);
      break;
    case Result::kNotGranted:
      s += "not granted";
      break;
    case Result::kOne:
      s += "1";
      break;
    case Result::kZero:
      s += "0";
      break;
    case Result::kCount:
      s += "removed " + std::to_string(op.count);
      break;
    case Result::kError:
      s += "error " + op.error;
      break;
  }
  if (c.close < kNever) {
    s += std::string("; conn closed ") +
         (c.by_server ? "by server"
          : c.rst     ? "by RST"
                      : "by FIN") +
         " at " + rel(c.close);
  }
  return s;
}

}  // namespace semlock::checker
