// The Redis lock idiom on mutex keys (SPEC §3): SET/GET/DEL/EXISTS/PEXPIRE/EXPIRE/PTTL/TTL and
// compare-and-delete (DELEX, DELIFEQ). The value of a key is its holder's owner; the key's "TTL"
// is the holder's remaining time. A key with limit > 1 is a semaphore, not a string: WRONGTYPE,
// except for DEL and EXISTS, which work on any key.
#include <limits>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/checks.h"
#include "redis-compat/commands.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "engine/data.h"
#include "redis-compat/errors.h"

namespace semlock::redis {
namespace {

// The live mutex holder of a key, if any. `wrongtype` is set (and nothing returned) when the key
// is a semaphore.
struct Current {
  bool wrongtype = false;
  std::optional<HolderInfo> holder;
};

Current current(CommandContext& ctx, std::string_view key) {
  Current c;
  auto info = ctx.engine.info(key, ctx.now);
  if (!info) return c;
  if (info->limit > 1 || info->shared) {  // a semaphore, or a key held by readers
    c.wrongtype = true;
    return c;
  }
  if (!info->holders.empty()) c.holder = std::move(info->holders.front());
  return c;
}

std::string invalid_expire(std::string_view command) {
  return "ERR invalid expire time in '" + std::string(command) + "' command";
}

// SET's options, parsed in any order as Redis's parseExtendedStringArgumentsOrReply does: an
// option may repeat (NX NX, EX 10 EX 20: the last value wins) but not clash (NX XX, PX 10 EX 1,
// EX 1 KEEPTTL); the expire value is read only once every option is known, so only the last one
// must be a valid number (Redis 7: `SET k v EX x EX 10` is OK).
struct SetOptions {
  bool nx = false, xx = false, get = false, keepttl = false;
  enum class Unit : std::uint8_t { kNone, kEx, kPx, kExat, kPxat } unit = Unit::kNone;
  std::string_view expire_arg;
  std::int64_t expire = 0;
};

// Returns false after writing the error.
bool parse_set_options(CommandContext& ctx, Args argv, SetOptions& o) {
  for (std::size_t i = 3; i < argv.size(); ++i) {
    const std::string_view a = argv[i];
    const bool has_next = i + 1 < argv.size();
    using U = SetOptions::Unit;
    auto expiry = [&](U unit) {
      if ((o.unit != U::kNone && o.unit != unit) || o.keepttl || !has_next) return false;
      o.unit = unit;
      return true;
    };
    if (iequals(a, "NX") && !o.xx) {
      o.nx = true;
    } else if (iequals(a, "XX") && !o.nx) {
      o.xx = true;
    } else if (iequals(a, "GET")) {
      o.get = true;
    } else if (iequals(a, "KEEPTTL") && o.unit == U::kNone) {
      o.keepttl = true;
    } else if ((iequals(a, "EX") && expiry(U::kEx)) || (iequals(a, "PX") && expiry(U::kPx)) ||
               (iequals(a, "EXAT") && expiry(U::kExat)) ||
               (iequals(a, "PXAT") && expiry(U::kPxat))) {
      o.expire_arg = argv[++i];
    } else {
      ctx.w.error(errors::kSyntax);
      return false;
    }
  }
  if (o.unit == SetOptions::Unit::kNone) return true;
  const auto v = parse_int64(o.expire_arg);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
    return false;
  }
  if (*v <= 0) {
    ctx.w.error(invalid_expire("set"));
    return false;
  }
  o.expire = *v;
  return true;
}

// The TTL a SET asks for, in ms from now. No expiry: limits.max_ttl (no lock lives forever).
// KEEPTTL keeps the current holder's remaining time. Returns false after writing the error;
// `ttl` <= 0 means the time named is already past (Redis sets and deletes at once).
bool set_ttl(CommandContext& ctx, const SetOptions& o, const Current& cur, Millis& ttl) {
  const Millis max_ttl = ctx.engine.limits().max_ttl;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 1000;
  using U = SetOptions::Unit;
  switch (o.unit) {
    case U::kNone:
      ttl = (o.keepttl && cur.holder) ? cur.holder->remaining : max_ttl;
      return true;
    case U::kEx:
    case U::kExat:
      if (o.expire > kMax) {
        ctx.w.error(invalid_expire("set"));
        return false;
      }
      ttl = o.expire * 1000;
      break;
    case U::kPx:
    case U::kPxat:
      ttl = o.expire;
      break;
  }
  if (o.unit == U::kExat || o.unit == U::kPxat) {
    // Unix times: the remaining time from the wall clock, rounded up to whole milliseconds.
    const std::int64_t now_us = ctx.host.unix_time_us();
    ttl = ttl - (now_us + 999) / 1000;
    if (ttl <= 0) return true;
  }
  if (ttl > max_ttl) {
    ctx.w.error(errors::kInvalidTtl);
    return false;
  }
  return true;
}

// `SET key value NX PX|EX n`, the lock idiom, answered with one engine acquire and nothing read
// first (no holder list built and copied): the answers are the general path's. A held key (by
// anyone, this owner too) is not granted: null; a semaphore's limit mismatches: WRONGTYPE; a
// limit of SPEC §2 is the same error. False (nothing written) for any other form, or a TTL the
// general path must reject, so that its errors keep their order.
bool set_nx_lock(CommandContext& ctx, std::string_view key, std::string_view owner,
                 const SetOptions& o) {
  using U = SetOptions::Unit;
  if (!o.nx || o.get || o.keepttl || (o.unit != U::kPx && o.unit != U::kEx)) return false;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 1000;
  if (o.unit == U::kEx && o.expire > kMax) return false;
  const Millis ttl = o.unit == U::kEx ? o.expire * 1000 : o.expire;
  if (ttl <= 0 || ttl > ctx.engine.limits().max_ttl) return false;
  AcquireRequest req;
  req.key = key;
  req.owner = owner;
  req.ttl = ttl;
  req.limit = 1;
  req.reacquire = false;
  const AcquireResult r = ctx.engine.acquire(req, ctx.now);
  if (r.status == EngineStatus::kGranted) {
    // A lock holder like SEMLOCK.ACQUIRE's: given back if the reply is never delivered.
    ctx.host.on_granted_now(ctx.client, key, owner, r.fence, ctx.now + r.ttl, false);
    ctx.w.simple("OK");
  } else if (r.status == EngineStatus::kNotGranted) {  // the usual answer: no error to look up
    ctx.w.null();
  } else if (r.status == EngineStatus::kMismatch) {
    ctx.w.error(errors::kWrongType);
  } else if (!reply_status_error(ctx, r.status)) {
    ctx.w.null();
  }
  return true;
}

}  // namespace

Outcome cmd_set(CommandContext& ctx, Args argv) {
  const std::string_view key = argv[1];
  const std::string_view owner = argv[2];
  SetOptions o;
  if (!parse_set_options(ctx, argv, o) || !check_key(ctx, key)) return Outcome::kDone;
  if (owner.empty() || owner.size() > kMaxOwnerBytes) {
    ctx.w.error(errors::kInvalidOwner);
    return Outcome::kDone;
  }
  if (ctx.engine.data_key_count() != 0) {  // SET over a data key (commands_string.cc)
    Millis data_ttl_ms = 0;
    if (ctx.engine.data().find(key, ctx.now) && !set_ttl(ctx, o, Current{}, data_ttl_ms)) {
      return Outcome::kDone;
    }
    if (data_set(ctx, key, owner, o.nx, o.get, data_ttl_ms)) return Outcome::kDone;
  }
  if (set_nx_lock(ctx, key, owner, o)) return Outcome::kDone;
  const Current cur = current(ctx, key);
  if (cur.wrongtype) {
    ctx.w.error(errors::kWrongType);
    return Outcome::kDone;
  }
  Millis ttl = 0;
  if (!set_ttl(ctx, o, cur, ttl)) return Outcome::kDone;

  // What the reply says when the condition holds or not: OK / null, or the old value with GET.
  auto reply = [&](bool done) {
    if (o.get) {
      cur.holder ? ctx.w.bulk(cur.holder->owner) : ctx.w.null();
    } else if (done) {
      ctx.w.simple("OK");
    } else {
      ctx.w.null();
    }
    return Outcome::kDone;
  };
  if ((o.nx && cur.holder) || (o.xx && !cur.holder)) return reply(false);
  if (ttl <= 0) {  // a time already past: set and expired at once, as Redis does
    if (cur.holder) ctx.engine.release_all(key, ctx.now);
    return reply(true);
  }
  if (o.nx) {
    // An acquire, so that queued waiters keep their turn (no barging).
    AcquireRequest req;
    req.key = key;
    req.owner = owner;
    req.ttl = ttl;
    req.limit = 1;
    req.reacquire = false;
    const AcquireResult r = ctx.engine.acquire(req, ctx.now);
    if (r.status == EngineStatus::kGranted) {
      ctx.host.on_granted_now(ctx.client, key, owner, r.fence, ctx.now + r.ttl, false);
      return reply(true);
    }
    if (r.status == EngineStatus::kMismatch) {
      ctx.w.error(errors::kWrongType);
      return Outcome::kDone;
    }
    if (reply_status_error(ctx, r.status)) return Outcome::kDone;
    return reply(false);
  }
  const AcquireResult r = ctx.engine.set_holder(key, owner, ttl, ctx.now);
  if (reply_status_error(ctx, r.status)) return Outcome::kDone;
  return reply(true);
}

Outcome cmd_get(CommandContext& ctx, Args argv) {
  if (data_get(ctx, argv[1])) return Outcome::kDone;
  const Current cur = current(ctx, argv[1]);
  if (cur.wrongtype) {
    ctx.w.error(errors::kWrongType);
  } else if (cur.holder) {
    ctx.w.bulk(cur.holder->owner);
  } else {
    ctx.w.null();
  }
  return Outcome::kDone;
}

Outcome cmd_del(CommandContext& ctx, Args argv) {
  std::int64_t removed = 0;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (ctx.engine.data().remove(argv[i], ctx.now)) ++removed;
    if (ctx.engine.release_all(argv[i], ctx.now) > 0) ++removed;
  }
  ctx.w.integer(removed);
  return Outcome::kDone;
}

Outcome cmd_exists_keys(CommandContext& ctx, Args argv) {
  std::int64_t count = 0;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    if (ctx.engine.exists(argv[i], ctx.now) || ctx.engine.data().find(argv[i], ctx.now)) ++count;
  }
  ctx.w.integer(count);
  return Outcome::kDone;
}

namespace {

// PEXPIRE/EXPIRE: `unit_ms` is 1 or 1000.
Outcome expire_generic(CommandContext& ctx, Args argv, std::int64_t unit_ms) {
  const std::string_view command = unit_ms == 1 ? "pexpire" : "expire";
  const auto v = parse_int64(argv[2]);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < argv.size(); ++i) {
    if (iequals(argv[i], "NX")) {
      nx = true;
    } else if (iequals(argv[i], "XX")) {
      xx = true;
    } else if (iequals(argv[i], "GT")) {
      gt = true;
    } else if (iequals(argv[i], "LT")) {
      lt = true;
    } else {
      std::string opt(argv[i]);
      for (char& c : opt) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      ctx.w.error("ERR Unsupported option " + opt);
      return Outcome::kDone;
    }
  }
  if (nx && (xx || gt || lt)) {
    ctx.w.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return Outcome::kDone;
  }
  if (gt && lt) {
    ctx.w.error("ERR GT and LT options at the same time are not compatible");
    return Outcome::kDone;
  }
  if (*v > std::numeric_limits<std::int64_t>::max() / unit_ms ||
      *v < std::numeric_limits<std::int64_t>::min() / unit_ms) {
    ctx.w.error(invalid_expire(command));
    return Outcome::kDone;
  }
  const Millis ttl = *v * unit_ms;
  if (ttl > 0 && ttl > std::numeric_limits<std::int64_t>::max() - ctx.now) {
    ctx.w.error(invalid_expire(command));
    return Outcome::kDone;
  }
  if (data_expire_key(ctx, argv[1], ttl, nx, xx, gt, lt)) return Outcome::kDone;
  const Current cur = current(ctx, argv[1]);
  if (cur.wrongtype) {
    ctx.w.error(errors::kWrongType);
    return Outcome::kDone;
  }
  if (!cur.holder) {
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  // Every holder has an expiry: NX never applies, XX always does.
  if (nx || (gt && ttl <= cur.holder->remaining) || (lt && ttl >= cur.holder->remaining)) {
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  if (ttl <= 0) {  // Redis deletes a key given a past expiry
    ctx.engine.release_all(argv[1], ctx.now);
    ctx.w.integer(1);
    return Outcome::kDone;
  }
  if (ttl > ctx.engine.limits().max_ttl) {
    ctx.w.error(errors::kInvalidTtl);
    return Outcome::kDone;
  }
  const EngineStatus s = ctx.engine.extend(argv[1], cur.holder->owner, ttl, ctx.now);
  if (!reply_status_error(ctx, s)) ctx.w.integer(s == EngineStatus::kOk ? 1 : 0);
  return Outcome::kDone;
}

Outcome ttl_generic(CommandContext& ctx, Args argv, bool ms) {
  if (data_ttl(ctx, argv[1], ms)) return Outcome::kDone;
  const Current cur = current(ctx, argv[1]);
  if (cur.wrongtype) {
    ctx.w.error(errors::kWrongType);
  } else if (!cur.holder) {
    ctx.w.integer(-2);
  } else {
    const Millis left = cur.holder->remaining;
    ctx.w.integer(ms ? left : (left + 500) / 1000);  // Redis rounds seconds to nearest
  }
  return Outcome::kDone;
}

// Deletes the key when `delete_it` says so for its current owner; replies 1 deleted, 0 not.
// A data key: a counter is a string whose value is its number (compared as Redis compares the
// string); a hash, sorted set or list is not a string: WRONGTYPE, nothing deleted.
template <typename Pred>
Outcome delete_if(CommandContext& ctx, std::string_view key, Pred delete_it) {
  if (ctx.engine.data_key_count() != 0) {
    if (const DataEntry* e = ctx.engine.data().find(key, ctx.now)) {
      if (e->type != DataType::kCounter) {
        ctx.w.error(data_errors::kWrongKind);
      } else if (!delete_it(std::to_string(e->counter))) {
        ctx.w.integer(0);
      } else {
        ctx.w.integer(ctx.engine.data().remove(key, ctx.now) ? 1 : 0);
      }
      return Outcome::kDone;
    }
  }
  const Current cur = current(ctx, key);
  if (cur.wrongtype) {
    ctx.w.error(errors::kWrongType);
  } else if (!cur.holder || !delete_it(cur.holder->owner)) {
    ctx.w.integer(0);
  } else {
    const std::string owner = cur.holder->owner;
    const bool released = ctx.engine.release(key, owner, ctx.now) == EngineStatus::kOk;
    if (released) ctx.host.on_released(ctx.client, key, owner);
    ctx.w.integer(released ? 1 : 0);
  }
  return Outcome::kDone;
}

}  // namespace

Outcome cmd_pexpire(CommandContext& ctx, Args argv) {
  return expire_generic(ctx, argv, 1);
}
Outcome cmd_expire(CommandContext& ctx, Args argv) {
  return expire_generic(ctx, argv, 1000);
}
Outcome cmd_pttl(CommandContext& ctx, Args argv) {
  return ttl_generic(ctx, argv, true);
}
Outcome cmd_ttl(CommandContext& ctx, Args argv) {
  return ttl_generic(ctx, argv, false);
}

// DELEX key [IFEQ value | IFNE value] (Redis 8.4). The digest forms (IFDEQ/IFDNE) need Redis's
// XXH3 value digest, which a lock server has no use for: syntax error.
Outcome cmd_delex(CommandContext& ctx, Args argv) {
  if (argv.size() == 2) {
    const Current cur = current(ctx, argv[1]);
    if (cur.wrongtype) {
      ctx.w.error(errors::kWrongType);
      return Outcome::kDone;
    }
    return cmd_del(ctx, argv);
  }
  if (argv.size() != 4) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  const std::string_view value = argv[3];
  if (iequals(argv[2], "IFEQ")) {
    return delete_if(ctx, argv[1], [&](std::string_view owner) { return owner == value; });
  }
  if (iequals(argv[2], "IFNE")) {
    return delete_if(ctx, argv[1], [&](std::string_view owner) { return owner != value; });
  }
  ctx.w.error(errors::kSyntax);
  return Outcome::kDone;
}

// DELIFEQ key value (Valkey 9).
Outcome cmd_delifeq(CommandContext& ctx, Args argv) {
  const std::string_view value = argv[2];
  return delete_if(ctx, argv[1], [&](std::string_view owner) { return owner == value; });
}

}  // namespace semlock::redis
