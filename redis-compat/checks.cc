// Argument checks and error replies shared by the lock commands and the Redis lock idiom.
#include "redis-compat/checks.h"

#include "redis-compat/args.h"
#include "redis-compat/errors.h"

namespace semlock::redis {

bool reply_status_error(CommandContext& ctx, EngineStatus status) {
  auto err = errors::status_error(status, ctx.engine);
  if (!err) return false;
  if (!errors::limit_reason(status).empty()) ctx.host.on_limit_rejection(status);
  ctx.w.error(err->resp);
  return true;
}

std::optional<Millis> parse_ms(CommandContext& ctx, std::string_view arg,
                               std::string_view range_error, bool allow_zero) {
  const auto v = parse_int64(arg);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
    return std::nullopt;
  }
  if (*v < 0 || (*v == 0 && !allow_zero) || *v > ctx.engine.limits().max_ttl) {
    ctx.w.error(range_error);
    return std::nullopt;
  }
  return *v;
}

bool check_key(CommandContext& ctx, std::string_view key) {
  if (key.empty()) {
    ctx.w.error(errors::kInvalidKey);
    return false;
  }
  if (key.size() > ctx.engine.limits().max_key_bytes) {
    ctx.w.error(errors::kKeyTooLong);
    return false;
  }
  return true;
}

bool check_owner(CommandContext& ctx, std::string_view owner) {
  if (owner.empty() || owner.size() > kMaxOwnerBytes) {
    ctx.w.error(errors::kInvalidOwner);
    return false;
  }
  return true;
}

}  // namespace semlock::redis
