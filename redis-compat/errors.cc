#include "redis-compat/errors.h"

#include <fmt/format.h>

namespace semlock::errors {
namespace {

struct CodeMap {
  std::string_view resp_code;
  std::string_view json_code;
  int http_status;
};

// SPEC §3's table: one code word, the same in every protocol.
constexpr CodeMap kCodes[] = {
    {"ERR", "BADREQUEST", 400},      {"NOAUTH", "NOAUTH", 401},
    {"WRONGPASS", "WRONGPASS", 401}, {"NOPERM", "NOPERM", 403},
    {"OVERLIMIT", "OVERLIMIT", 503}, {"MISMATCH", "MISMATCH", 409},
    {"WRONGTYPE", "WRONGTYPE", 409}, {"CLUSTERDOWN", "UNAVAILABLE", 503},
};

}  // namespace

ErrorReply from_resp(std::string_view resp_text) {
  ErrorReply reply;
  reply.resp = std::string(resp_text);
  const auto space = resp_text.find(' ');
  const std::string_view code = resp_text.substr(0, space);
  reply.json_text = space == std::string_view::npos ? std::string(resp_text)
                                                    : std::string(resp_text.substr(space + 1));
  reply.json_code = "BADREQUEST";
  reply.http_status = 400;
  for (const auto& c : kCodes) {
    if (c.resp_code == code) {
      reply.json_code = c.json_code;
      reply.http_status = c.http_status;
      break;
    }
  }
  return reply;
}

std::optional<ErrorReply> status_error(EngineStatus status, const Engine& engine) {
  const EngineLimits& limits = engine.limits();
  switch (status) {
    case EngineStatus::kGranted:
    case EngineStatus::kRefreshed:
    case EngineStatus::kNotGranted:
    case EngineStatus::kQueued:
    case EngineStatus::kOk:
    case EngineStatus::kNotHeld:
      return std::nullopt;
    case EngineStatus::kMismatch:
      return from_resp(kMismatch);
    case EngineStatus::kWrongType:
      return from_resp(kWrongType);
    case EngineStatus::kOverMaxLocks: {
      const auto stats = engine.stats();
      return from_resp(fmt::format("OVERLIMIT maximum locks limit reached: {}/{}",
                                   stats.active_locks + stats.data_keys, limits.max_locks));
    }
    case EngineStatus::kOverMemory: {
      const auto stats = engine.stats();
      const double used_mb = static_cast<double>(stats.memory_bytes) / (1024.0 * 1024.0);
      return from_resp(fmt::format("OVERLIMIT memory limit reached: {:.1f}/{} MB", used_mb,
                                   limits.max_memory_bytes / (1024 * 1024)));
    }
    case EngineStatus::kOverMaxWaiters: {
      const auto stats = engine.stats();
      return from_resp(fmt::format("OVERLIMIT maximum waiters limit reached: {}/{}", stats.waiters,
                                   limits.max_waiters));
    }
    case EngineStatus::kBadKey:
      return from_resp(kKeyTooLong);
    case EngineStatus::kBadOwner:
      return from_resp(kInvalidOwner);
    case EngineStatus::kBadTtl:
      return from_resp(kInvalidTtl);
    case EngineStatus::kBadLimit:
      return from_resp(kInvalidLimit);
    case EngineStatus::kBadWait:
      return from_resp(kInvalidWait);
    case EngineStatus::kBadShared:
      return from_resp(kBadShared);
    case EngineStatus::kModeConflict:
      return from_resp(kModeConflict);
  }
  return from_resp(kSyntax);
}

std::string_view limit_reason(EngineStatus status) {
  switch (status) {
    case EngineStatus::kOverMaxLocks:
      return "max_locks_reached";
    case EngineStatus::kOverMemory:
      return "memory_limit_reached";
    case EngineStatus::kOverMaxWaiters:
      return "max_waiters_reached";
    default:
      return "";
  }
}

}  // namespace semlock::errors
