#include "redis-compat/data_common.h"

#include <limits>

#include "redis-compat/checks.h"
#include "redis-compat/errors.h"

namespace semlock::redis {

bool reply_data_error(CommandContext& ctx, DataStatus st) {
  switch (st) {
    case DataStatus::kOk:
      return false;
    case DataStatus::kWrongType:
      ctx.w.error(data_errors::kWrongKind);
      return true;
    case DataStatus::kOverMaxLocks:
      return reply_status_error(ctx, EngineStatus::kOverMaxLocks);
    case DataStatus::kOverMemory:
      return reply_status_error(ctx, EngineStatus::kOverMemory);
    case DataStatus::kBadKey:
      check_key(ctx, "");  // writes the key error
      return true;
  }
  return false;
}

DataEntry* lookup(CommandContext& ctx, std::string_view key, DataType t, bool& failed) {
  DataStatus st = DataStatus::kOk;
  DataEntry* e = ctx.engine.data().find_typed(key, t, ctx.now, st);
  failed = reply_data_error(ctx, st);
  return e;
}

DataEntry* lookup_or_create(CommandContext& ctx, std::string_view key, DataType t) {
  if (!check_key(ctx, key)) return nullptr;
  DataStatus st = DataStatus::kOk;
  DataEntry* e = ctx.engine.data().find_or_create(key, t, ctx.now, st);
  if (reply_data_error(ctx, st)) return nullptr;
  return e;
}

bool admit_growth(CommandContext& ctx) {
  return !reply_data_error(ctx, ctx.engine.data().admit_growth(ctx.now));
}

bool refuse_reply_over(CommandContext& ctx, std::size_t bytes) {
  if (bytes <= ctx.w.room()) return false;
  ctx.w.error("ERR reply too large");
  return true;
}

void wrong_arity(CommandContext& ctx, std::string_view command) {
  ctx.w.error("ERR wrong number of arguments for '" + std::string(command) + "' command");
}

std::string run_into(CommandContext& ctx, Outcome (*handler)(CommandContext&, Args),
                     std::initializer_list<std::string_view> argv) {
  std::string out;
  resp::Writer w(out, ctx.client.proto);
  CommandContext inner{ctx.engine, ctx.host, ctx.client, w, ctx.now, false};
  std::vector<std::string_view> args(argv);
  handler(inner, args);
  return out;
}

void data_expire(CommandContext& ctx, DataEntry* e, Millis ttl, bool nx, bool xx, bool gt,
                 bool lt) {
  const bool has = e->deadline != kNoDeadline;
  const Millis current = has ? e->deadline - ctx.now : 0;
  // Redis's rules: no expiry counts as an infinite TTL for GT and LT.
  if ((nx && has) || (xx && !has) || (gt && (!has || ttl <= current)) ||
      (lt && has && ttl >= current)) {
    ctx.w.integer(0);
    return;
  }
  if (ttl <= 0) {
    ctx.engine.data().remove(e->key, ctx.now);
    ctx.w.integer(1);
    return;
  }
  ctx.engine.data().set_deadline(e, ctx.now + ttl);
  ctx.w.integer(1);
}

}  // namespace semlock::redis
