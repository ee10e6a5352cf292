// Counters and the string commands lock recipes use besides SET (SPEC §3): INCR/INCRBY/DECR/DECRBY
// create counter keys (an integer, no fence, no expiry unless given one); SETNX/SETEX/PSETEX are
// SET with options (mutex keys); GETDEL/GETEX work on both; and the key commands' data side (the
// hooks commands_keys.cc calls for GET, SET, PEXPIRE/EXPIRE, PTTL/TTL).
#include <limits>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/checks.h"
#include "redis-compat/commands.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"

// GCC 12 at -O3 reports dereferences inside libstdc++'s pmr containers and strings as potential
// null dereferences (false positives: every element access is checked first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock::redis {

namespace {

// A mutex key's value is its owner (never an integer a counter could continue from).
Outcome incr_generic(CommandContext& ctx, std::string_view key, std::int64_t delta) {
  DataStore& data = ctx.engine.data();
  DataEntry* e = data.find(key, ctx.now);
  if (!e && data.lock_key_exists(key, ctx.now)) {
    const auto info = ctx.engine.info(key, ctx.now);
    ctx.w.error(info && (info->limit > 1 || info->shared) ? data_errors::kWrongKind
                                                          : errors::kNotInteger);
    return Outcome::kDone;
  }
  if (e && e->type != DataType::kCounter) {
    ctx.w.error(data_errors::kWrongKind);
    return Outcome::kDone;
  }
  const std::int64_t old = e ? e->counter : 0;
  if ((delta < 0 && old < 0 && delta < std::numeric_limits<std::int64_t>::min() - old) ||
      (delta > 0 && old > 0 && delta > std::numeric_limits<std::int64_t>::max() - old)) {
    ctx.w.error(data_errors::kOverflow);
    return Outcome::kDone;
  }
  if (!e) {
    e = lookup_or_create(ctx, key, DataType::kCounter);
    if (!e) return Outcome::kDone;
  }
  e->counter = old + delta;
  data.log(e, {"ctr", std::to_string(e->counter)});
  ctx.w.integer(e->counter);
  return Outcome::kDone;
}

Outcome incrby_generic(CommandContext& ctx, Args argv, bool negate) {
  const auto v = parse_int64(argv[2]);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  if (negate && *v == std::numeric_limits<std::int64_t>::min()) {
    ctx.w.error("ERR decrement would overflow");
    return Outcome::kDone;
  }
  return incr_generic(ctx, argv[1], negate ? -*v : *v);
}

}  // namespace

Outcome cmd_incr(CommandContext& ctx, Args argv) {
  return incr_generic(ctx, argv[1], 1);
}
Outcome cmd_decr(CommandContext& ctx, Args argv) {
  return incr_generic(ctx, argv[1], -1);
}
Outcome cmd_incrby(CommandContext& ctx, Args argv) {
  return incrby_generic(ctx, argv, false);
}
Outcome cmd_decrby(CommandContext& ctx, Args argv) {
  return incrby_generic(ctx, argv, true);
}

// SETNX key value: SET key value NX, answered 1/0.
Outcome cmd_setnx(CommandContext& ctx, Args argv) {
  const std::string r = run_into(ctx, cmd_set, {"set", argv[1], argv[2], "NX"});
  if (r.starts_with("+OK")) {
    ctx.w.integer(1);
  } else if (r.starts_with("-")) {
    ctx.w.raw(r);
  } else {
    ctx.w.integer(0);
  }
  return Outcome::kDone;
}

namespace {
Outcome setex_generic(CommandContext& ctx, Args argv, std::string_view name, std::string_view unit) {
  std::string r = run_into(ctx, cmd_set, {"set", argv[1], argv[3], unit, argv[2]});
  const std::string from = "in 'set' command";
  if (const auto at = r.find(from); at != std::string::npos) {
    r.replace(at, from.size(), "in '" + std::string(name) + "' command");
  }
  ctx.w.raw(r);
  return Outcome::kDone;
}
}  // namespace

Outcome cmd_setex(CommandContext& ctx, Args argv) {
  return setex_generic(ctx, argv, "setex", "EX");
}
Outcome cmd_psetex(CommandContext& ctx, Args argv) {
  return setex_generic(ctx, argv, "psetex", "PX");
}

// GETDEL key: the value (a counter's number or a mutex's owner), and the key is gone.
Outcome cmd_getdel(CommandContext& ctx, Args argv) {
  if (DataEntry* e = ctx.engine.data().find(argv[1], ctx.now)) {
    if (e->type != DataType::kCounter) {
      ctx.w.error(data_errors::kWrongKind);
      return Outcome::kDone;
    }
    ctx.w.bulk(std::to_string(e->counter));
    ctx.engine.data().remove(argv[1], ctx.now);
    return Outcome::kDone;
  }
  const std::string r = run_into(ctx, cmd_get, {"get", argv[1]});
  if (r.starts_with("$") && !r.starts_with("$-1")) ctx.engine.release_all(argv[1], ctx.now);
  ctx.w.raw(r);
  return Outcome::kDone;
}

// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]
Outcome cmd_getex(CommandContext& ctx, Args argv) {
  std::int64_t unit = 0;  // ms per unit; 0: no expiry option
  bool at = false, persist = false;
  std::string_view value_arg;
  for (std::size_t i = 2; i < argv.size(); ++i) {
    const bool next = i + 1 < argv.size();
    const bool free = unit == 0 && !persist;
    if (free && next && (iequals(argv[i], "EX") || iequals(argv[i], "EXAT"))) {
      unit = 1000;
      at = iequals(argv[i], "EXAT");
      value_arg = argv[++i];
    } else if (free && next && (iequals(argv[i], "PX") || iequals(argv[i], "PXAT"))) {
      unit = 1;
      at = iequals(argv[i], "PXAT");
      value_arg = argv[++i];
    } else if (free && iequals(argv[i], "PERSIST")) {
      persist = true;
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  Millis ttl = 0;
  if (unit != 0) {
    const auto v = parse_int64(value_arg);
    if (!v) {
      ctx.w.error(errors::kNotInteger);
      return Outcome::kDone;
    }
    if (*v <= 0 || *v > std::numeric_limits<std::int64_t>::max() / unit) {
      ctx.w.error("ERR invalid expire time in 'getex' command");
      return Outcome::kDone;
    }
    ttl = *v * unit;
    if (at) ttl -= (ctx.host.unix_time_us() + 999) / 1000;
  }
  if (DataEntry* e = ctx.engine.data().find(argv[1], ctx.now)) {
    if (e->type != DataType::kCounter) {
      ctx.w.error(data_errors::kWrongKind);
      return Outcome::kDone;
    }
    ctx.w.bulk(std::to_string(e->counter));
    if (persist && e->deadline != kNoDeadline) ctx.engine.data().set_deadline(e, kNoDeadline);
    if (unit != 0 && ttl <= 0) {
      ctx.engine.data().remove(argv[1], ctx.now);
    } else if (unit != 0) {
      ctx.engine.data().set_deadline(e, ctx.now + ttl);
    }
    return Outcome::kDone;
  }
  const auto info = ctx.engine.info(argv[1], ctx.now);
  if (info && (info->limit > 1 || info->shared)) {  // a semaphore, or readers
    ctx.w.error(errors::kWrongType);
    return Outcome::kDone;
  }
  if (!info || info->holders.empty()) {
    ctx.w.null();
    return Outcome::kDone;
  }
  const std::string owner = info->holders.front().owner;
  // A mutex holder always expires (SPEC §3): PERSIST leaves it as it is.
  if (unit != 0 && ttl <= 0) {
    ctx.engine.release_all(argv[1], ctx.now);
  } else if (unit != 0) {
    if (ttl > ctx.engine.limits().max_ttl) {
      ctx.w.error(errors::kInvalidTtl);
      return Outcome::kDone;
    }
    ctx.engine.extend(argv[1], owner, ttl, ctx.now);
  }
  ctx.w.bulk(owner);
  return Outcome::kDone;
}

// --- hooks for commands_keys.cc ---

bool data_get(CommandContext& ctx, std::string_view key) {
  DataEntry* e = ctx.engine.data().find(key, ctx.now);
  if (!e) return false;
  if (e->type == DataType::kCounter) {
    ctx.w.bulk(std::to_string(e->counter));
  } else {
    ctx.w.error(data_errors::kWrongKind);
  }
  return true;
}

bool data_ttl(CommandContext& ctx, std::string_view key, bool ms) {
  DataEntry* e = ctx.engine.data().find(key, ctx.now);
  if (!e) return false;
  if (e->deadline == kNoDeadline) {
    ctx.w.integer(-1);
  } else {
    const Millis left = e->deadline - ctx.now;
    ctx.w.integer(ms ? left : (left + 500) / 1000);
  }
  return true;
}

bool data_expire_key(CommandContext& ctx, std::string_view key, Millis ttl, bool nx, bool xx,
                     bool gt, bool lt) {
  DataEntry* e = ctx.engine.data().find(key, ctx.now);
  if (!e) return false;
  data_expire(ctx, e, ttl, nx, xx, gt, lt);
  return true;
}

// SET over a data key: Redis's SET replaces any value (a counter then becomes a mutex key).
bool data_set(CommandContext& ctx, std::string_view key, std::string_view owner, bool nx, bool get,
              Millis ttl) {
  DataEntry* e = ctx.engine.data().find(key, ctx.now);
  if (!e) return false;
  if (get && e->type != DataType::kCounter) {
    ctx.w.error(data_errors::kWrongKind);
    return true;
  }
  const std::string old = std::to_string(e->counter);
  if (!nx) {
    if (ttl <= 0) {
      ctx.engine.data().remove(key, ctx.now);
    } else {
      const AcquireResult r = ctx.engine.set_holder(key, owner, ttl, ctx.now);
      if (reply_status_error(ctx, r.status)) return true;
    }
  }
  if (get) {
    ctx.w.bulk(old);
  } else if (nx) {
    ctx.w.null();
  } else {
    ctx.w.simple("OK");
  }
  return true;
}

}  // namespace semlock::redis
