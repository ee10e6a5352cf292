// Key commands over the whole keyspace (lock keys and data keys): TYPE, UNLINK, PERSIST,
// EXPIREAT/PEXPIREAT, SCAN (MATCH/COUNT/TYPE) and KEYS.
//
// SCAN's cursor walks the lock keys first (the engine's slab cursor, below 2^62), then the data
// keys (2^62 + the data store's slot cursor); 0 starts and ends, as in Redis.
#include <algorithm>
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

constexpr std::uint64_t kDataPhase = 1ull << 62;

std::string_view lock_type(CommandContext& ctx, std::string_view key) {
  const auto info = ctx.engine.info(key, ctx.now);
  if (!info) return "none";
  return info->limit > 1 || info->shared ? "semaphore" : "string";
}

// One SCAN step: appends matching keys to `out`, returns the next cursor.
std::uint64_t scan_step(CommandContext& ctx, std::uint64_t cursor, std::string_view match,
                        std::size_t count, std::string_view type, std::vector<std::string>& out) {
  if (cursor < kDataPhase) {
    ScanResult r = ctx.engine.scan(cursor, match, count, ctx.now);
    for (auto& k : r.keys) {
      if (!type.empty() && !iequals(lock_type(ctx, k), type)) continue;
      out.push_back(std::move(k));
    }
    return r.next_cursor == 0 ? kDataPhase : r.next_cursor;
  }
  const std::uint64_t next =
      ctx.engine.data().scan(cursor - kDataPhase, count, ctx.now, [&](const DataEntry& e) {
        if (!type.empty() && !iequals(data_type_name(e.type), type)) return;
        if (!match.empty() && !glob_match(match, e.key)) return;
        out.emplace_back(e.key);
      });
  return next == 0 ? 0 : kDataPhase + next;
}

}  // namespace

Outcome cmd_type(CommandContext& ctx, Args argv) {
  if (DataEntry* e = ctx.engine.data().find(argv[1], ctx.now)) {
    ctx.w.simple(data_type_name(e->type));
  } else {
    ctx.w.simple(lock_type(ctx, argv[1]));
  }
  return Outcome::kDone;
}

Outcome cmd_unlink(CommandContext& ctx, Args argv) {
  return cmd_del(ctx, argv);
}

Outcome cmd_persist(CommandContext& ctx, Args argv) {
  DataEntry* e = ctx.engine.data().find(argv[1], ctx.now);
  if (!e || e->deadline == kNoDeadline) {
    ctx.w.integer(0);  // a mutex holder always expires (SPEC §3): nothing to persist
    return Outcome::kDone;
  }
  ctx.engine.data().set_deadline(e, kNoDeadline);
  ctx.w.integer(1);
  return Outcome::kDone;
}

namespace {
// EXPIREAT/PEXPIREAT: the PEXPIRE of the remaining time.
Outcome expireat_generic(CommandContext& ctx, Args argv, std::int64_t unit_ms,
                         std::string_view name) {
  const auto v = parse_int64(argv[2]);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  if (*v > std::numeric_limits<std::int64_t>::max() / unit_ms ||
      *v < std::numeric_limits<std::int64_t>::min() / unit_ms) {
    ctx.w.error("ERR invalid expire time in '" + std::string(name) + "' command");
    return Outcome::kDone;
  }
  const std::int64_t now_ms = (ctx.host.unix_time_us() + 999) / 1000;
  const std::int64_t at = *v * unit_ms;
  const std::string ttl = std::to_string(at < 0 && now_ms > 0 ? -1 : at - now_ms);
  std::vector<std::string_view> args{"pexpire", argv[1], ttl};
  for (std::size_t i = 3; i < argv.size(); ++i) args.push_back(argv[i]);
  return cmd_pexpire(ctx, args);
}
}  // namespace

Outcome cmd_expireat(CommandContext& ctx, Args argv) {
  return expireat_generic(ctx, argv, 1000, "expireat");
}
Outcome cmd_pexpireat(CommandContext& ctx, Args argv) {
  return expireat_generic(ctx, argv, 1, "pexpireat");
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
Outcome cmd_scan_keys(CommandContext& ctx, Args argv) {
  const auto cursor = parse_uint64(argv[1]);
  if (!cursor) {
    ctx.w.error("ERR invalid cursor");
    return Outcome::kDone;
  }
  std::string_view match, type;
  std::size_t count = 10;
  for (std::size_t i = 2; i < argv.size(); ++i) {
    const bool next = i + 1 < argv.size();
    if (next && iequals(argv[i], "MATCH")) {
      match = argv[++i];
      if (match == "*") match = {};
    } else if (next && iequals(argv[i], "COUNT")) {
      const auto n = parse_int64(argv[++i]);
      if (!n) {
        ctx.w.error(errors::kNotInteger);
        return Outcome::kDone;
      }
      if (*n < 1) {
        ctx.w.error(errors::kSyntax);
        return Outcome::kDone;
      }
      count = static_cast<std::size_t>(std::min<std::int64_t>(*n, 100000));
      // Past what the reply can hold (each key at least 7 bytes) it is "reply too large" anyway.
      count = std::min(count, ctx.w.room() / 7 + 1);
    } else if (next && iequals(argv[i], "TYPE")) {
      type = argv[++i];
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  std::vector<std::string> keys;
  const std::uint64_t next = scan_step(ctx, *cursor, match, count, type, keys);
  ctx.w.array(2);
  ctx.w.bulk(std::to_string(next));
  ctx.w.array(keys.size());
  for (const auto& k : keys) ctx.w.bulk(k);
  return Outcome::kDone;
}

// KEYS pattern: every key (an admin command here, as it walks the whole keyspace).
Outcome cmd_keys(CommandContext& ctx, Args argv) {
  std::string_view match = argv[1];
  if (match == "*") match = {};
  std::vector<std::string> keys;
  std::uint64_t cursor = 0;
  // Past what the reply can hold (each key at least 7 bytes) it is "reply too large" anyway:
  // the keyspace is not walked on.
  const std::size_t cap = ctx.w.room() / 7 + 1;
  do {
    cursor = scan_step(ctx, cursor, match, 1024, {}, keys);
  } while (cursor != 0 && keys.size() < cap);
  ctx.w.array(keys.size());
  for (const auto& k : keys) ctx.w.bulk(k);
  return Outcome::kDone;
}

}  // namespace semlock::redis
