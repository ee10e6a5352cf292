// SEMLOCK.* handlers (SPEC §3): parse arguments into engine requests, answer in RESP.
#include <algorithm>
#include <array>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/checks.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"

namespace semlock::redis {
namespace {

void write_holder_reply(resp::Writer& w, std::string_view owner, std::uint64_t fence) {
  w.array(2);
  w.bulk(owner);
  w.integer(static_cast<std::int64_t>(fence));
}

// True when SEMLOCK.ACQUIRE's options (argv[3..]) name SESSION, read as the option loop reads
// them (so OWNER SESSION is an owner, not the flag).
bool has_session_option(Args argv) {
  for (std::size_t i = 3; i < argv.size(); ++i) {
    const bool has_value = i + 1 < argv.size();
    if ((iequals(argv[i], "OWNER") || iequals(argv[i], "LIMIT") || iequals(argv[i], "WAIT")) &&
        has_value) {
      ++i;
    } else if (iequals(argv[i], "SESSION")) {
      return true;
    }
  }
  return false;
}

}  // namespace

Outcome cmd_acquire(CommandContext& ctx, Args argv) {
  const std::string_view key = argv[1];
  if (!check_key(ctx, key)) return Outcome::kDone;
  // TTL 0 with SESSION: a connection-lived holder (session_lock.cc); without SESSION it stays
  // "ERR invalid TTL", reported before any option is looked at.
  const bool lived = argv[2] == "0" && has_session_option(argv);
  const auto ttl = lived ? std::optional<Millis>(ctx.engine.limits().max_ttl)
                         : parse_ms(ctx, argv[2], errors::kInvalidTtl, false);
  if (!ttl) return Outcome::kDone;

  AcquireRequest req;
  req.key = key;
  req.ttl = *ttl;
  bool session = false;
  std::optional<std::string_view> owner;
  for (std::size_t i = 3; i < argv.size(); ++i) {
    const std::string_view opt = argv[i];
    const bool has_value = i + 1 < argv.size();
    if (iequals(opt, "OWNER") && has_value) {
      owner = argv[++i];
      if (!check_owner(ctx, *owner)) return Outcome::kDone;
    } else if (iequals(opt, "LIMIT") && has_value) {
      const auto v = parse_int64(argv[++i]);
      if (!v) {
        ctx.w.error(errors::kNotInteger);
        return Outcome::kDone;
      }
      if (*v < 1 || static_cast<std::uint64_t>(*v) > ctx.engine.limits().max_permits) {
        ctx.w.error(errors::kInvalidLimit);
        return Outcome::kDone;
      }
      req.limit = static_cast<std::uint32_t>(*v);
    } else if (iequals(opt, "WAIT") && has_value) {
      const auto v = parse_ms(ctx, argv[++i], errors::kInvalidWait, true);
      if (!v) return Outcome::kDone;
      req.wait = *v;
    } else if (iequals(opt, "SESSION")) {
      session = true;
    } else if (iequals(opt, "SHARED")) {
      req.shared = true;  // a reader (docs/PROTOCOL.md "Read-write locks")
    } else if (iequals(opt, "REENTRANT")) {
      req.reentrant = true;
    } else if (iequals(opt, "NOTIFY")) {
      req.notify = true;
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  if (!ctx.may_block) req.wait = 0;  // Redis's rule for blocking commands in MULTI and scripts

  // No owner named: the engine has one made only when it grants or queues, so a try refused
  // at once costs no randomness.
  struct Generated final : OwnerMaker {
    explicit Generated(Host& h) : host(h) {}
    std::string_view make() override { return host.generate_owner_to(buf); }
    Host& host;
    std::array<char, 32> buf;
  } generated(ctx.host);
  if (owner) {
    req.owner = *owner;
    req.reacquire = true;
  } else {
    req.make_owner = &generated;
    req.reacquire = false;
  }
  if (req.wait > 0) req.tag = ctx.host.next_wait_tag();

  const AcquireResult r = ctx.engine.acquire(req, ctx.now);
  if (!owner) req.owner = r.made_owner;
  switch (r.status) {
    case EngineStatus::kGranted:
    case EngineStatus::kRefreshed:
      // SPEC §1: the binding stays with the connection that created the holder. A refresh (an
      // explicit owner that already holds) creates nothing, so SESSION binds nothing: closing
      // this connection must not release a holder another connection made.
      // A connection-lived acquire (TTL 0) that refreshed the owner's holder did set it to the
      // max_ttl cap: it is bound to this connection too, or nothing would ever end it early.
      if (session && (r.status == EngineStatus::kGranted || lived)) {
        ctx.host.on_session_grant(ctx.client, key, req.owner, r.fence, lived);
      }
      if (req.notify) ctx.host.on_notify_acquire(ctx.client, key, req.owner, r.fence, 0);
      if (r.status == EngineStatus::kGranted || req.reentrant) {  // a reentrant hold is its own
        ctx.host.on_granted_now(ctx.client, key, req.owner, r.fence, ctx.now + r.ttl,
                                req.wait > 0);
      }
      write_holder_reply(ctx.w, req.owner, r.fence);
      return Outcome::kDone;
    case EngineStatus::kNotGranted:
      ctx.w.null();
      return Outcome::kDone;
    case EngineStatus::kQueued:
      ctx.host.on_blocked(ctx.client, req.tag, r.waiter, key, req.owner, session, lived);
      if (req.notify) ctx.host.on_notify_acquire(ctx.client, key, req.owner, 0, req.tag);
      return Outcome::kBlocked;
    default:
      if (!reply_status_error(ctx, r.status)) ctx.w.null();
      return Outcome::kDone;
  }
}

// SEMLOCK.HEARTBEAT: keeps this connection's connection-lived locks (TTL 0 SESSION) alive under
// server.session_heartbeat_timeout. Any request counts as one; this is the one that does nothing.
Outcome cmd_heartbeat(CommandContext& ctx, Args) {
  ctx.w.simple("OK");
  return Outcome::kDone;
}

// SEMLOCK.CLUSTER ADD|REMOVE|MEMBERS|ORPHAN: a cluster member answers them before the command
// table (server/cluster_admin.cc); a server that is no member says so.
Outcome cmd_semlock_cluster(CommandContext& ctx, Args) {
  ctx.w.error("ERR cluster mode is off");
  return Outcome::kDone;
}

Outcome cmd_release(CommandContext& ctx, Args argv) {
  if (!check_key(ctx, argv[1]) || !check_owner(ctx, argv[2])) return Outcome::kDone;
  const EngineStatus s = ctx.engine.release(argv[1], argv[2], ctx.now);
  if (s == EngineStatus::kOk) ctx.host.on_released(ctx.client, argv[1], argv[2]);
  if (!reply_status_error(ctx, s)) ctx.w.integer(s == EngineStatus::kOk ? 1 : 0);
  return Outcome::kDone;
}

Outcome cmd_extend(CommandContext& ctx, Args argv) {
  if (!check_key(ctx, argv[1]) || !check_owner(ctx, argv[2])) return Outcome::kDone;
  const auto ttl = parse_ms(ctx, argv[3], errors::kInvalidTtl, false);
  if (!ttl) return Outcome::kDone;
  const EngineStatus s = ctx.engine.extend(argv[1], argv[2], *ttl, ctx.now);
  if (!reply_status_error(ctx, s)) ctx.w.integer(s == EngineStatus::kOk ? 1 : 0);
  return Outcome::kDone;
}

Outcome cmd_exists(CommandContext& ctx, Args argv) {
  ctx.w.integer(ctx.engine.exists(argv[1], ctx.now) ? 1 : 0);
  return Outcome::kDone;
}

Outcome cmd_info(CommandContext& ctx, Args argv) {
  const auto info = ctx.engine.info(argv[1], ctx.now);
  if (!info || info->holders.empty()) {
    ctx.w.null();
    return Outcome::kDone;
  }
  resp::Writer& w = ctx.w;
  w.map(7);
  w.bulk("limit");
  w.integer(info->limit);
  w.bulk("holders");
  w.array(info->holders.size());
  for (const auto& h : info->holders) {
    w.array(3);
    w.bulk(h.owner);
    w.integer(static_cast<std::int64_t>(h.fence));
    w.integer(h.remaining);
  }
  w.bulk("waiters");
  w.integer(static_cast<std::int64_t>(info->waiters));
  // Last, so that clients reading the fields above by position keep working.
  w.bulk("waiter_ages");
  w.array(info->waiter_ages.size());
  for (const Millis age : info->waiter_ages) w.integer(age);
  w.bulk("mode");
  w.bulk(info->shared ? "shared" : "exclusive");
  w.bulk("holds");  // reentrant hold counts, in the holders' order
  w.array(info->holders.size());
  for (const auto& h : info->holders) w.integer(h.holds);
  // The fences of the holders marked NOTIFY (lost-lock notices), in grant order.
  std::size_t marked = 0;
  for (const auto& h : info->holders) marked += h.notify ? 1 : 0;
  w.bulk("notify");
  w.array(marked);
  for (const auto& h : info->holders) {
    if (h.notify) w.integer(static_cast<std::int64_t>(h.fence));
  }
  return Outcome::kDone;
}

Outcome cmd_forcerelease(CommandContext& ctx, Args argv) {
  ctx.w.integer(static_cast<std::int64_t>(ctx.engine.release_all(argv[1], ctx.now)));
  return Outcome::kDone;
}

namespace {

// Parses [MATCH glob] [COUNT n] from argv[first..]; writes the error and returns false when bad.
bool parse_scan_options(CommandContext& ctx, Args argv, std::size_t first, std::string_view& match,
                        std::size_t& count) {
  for (std::size_t i = first; i < argv.size(); ++i) {
    const bool has_value = i + 1 < argv.size();
    if (iequals(argv[i], "MATCH") && has_value) {
      match = argv[++i];
    } else if (iequals(argv[i], "COUNT") && has_value) {
      const auto v = parse_int64(argv[++i]);
      if (!v) {
        ctx.w.error(errors::kNotInteger);
        return false;
      }
      if (*v < 1) {
        ctx.w.error(errors::kSyntax);
        return false;
      }
      count = static_cast<std::size_t>(std::min<std::int64_t>(*v, 1'000'000));
    } else {
      ctx.w.error(errors::kSyntax);
      return false;
    }
  }
  return true;
}

}  // namespace

Outcome cmd_scan(CommandContext& ctx, Args argv) {
  const auto cursor = parse_uint64(argv[1]);
  if (!cursor) {
    ctx.w.error("ERR invalid cursor");
    return Outcome::kDone;
  }
  std::string_view match;
  std::size_t count = 10;
  if (!parse_scan_options(ctx, argv, 2, match, count)) return Outcome::kDone;
  // Past what the reply can hold (each key at least 7 bytes) it is "reply too large" anyway.
  count = std::min(count, ctx.w.room() / 7 + 1);
  const ScanResult r = ctx.engine.scan(*cursor, match, count, ctx.now);
  ctx.w.array(2);
  ctx.w.bulk(std::to_string(r.next_cursor));
  ctx.w.array(r.keys.size());
  for (const auto& k : r.keys) ctx.w.bulk(k);
  return Outcome::kDone;
}

std::vector<std::string> list_keys(Engine& engine, std::string_view match, std::size_t count,
                                   Millis now) {
  std::vector<std::string> keys;
  std::uint64_t cursor = 0;
  do {
    ScanResult r = engine.scan(cursor, match, count - keys.size(), now);
    for (auto& k : r.keys) {
      if (keys.size() < count) keys.push_back(std::move(k));
    }
    cursor = r.next_cursor;
  } while (cursor != 0 && keys.size() < count);
  return keys;
}

Outcome cmd_list(CommandContext& ctx, Args argv) {
  std::string_view match;
  std::size_t count = 100;
  if (!parse_scan_options(ctx, argv, 1, match, count)) return Outcome::kDone;
  count = std::min(count, ctx.w.room() / 7 + 1);  // as SEMLOCK.SCAN
  const auto keys = list_keys(ctx.engine, match, count, ctx.now);
  ctx.w.array(keys.size());
  for (const auto& k : keys) ctx.w.bulk(k);
  return Outcome::kDone;
}

Outcome cmd_stats(CommandContext& ctx, Args) {
  const json::StatsView s = ctx.host.stats_view();
  const std::pair<std::string_view, std::uint64_t> fields[] = {
      {"TotalRequests", s.total_requests},
      {"ActiveLocks", s.active_locks},
      {"Holders", s.holders},
      {"Waiters", s.waiters},
      {"AcquireRequests", s.acquire_requests},
      {"ReleaseRequests", s.release_requests},
      {"ExtendRequests", s.extend_requests},
      {"RejectedRequests", s.rejected_requests},
      {"ExpiredLocks", s.expired_locks},
      {"Connections", s.connections},
      {"MemoryUsageBytes", s.memory_usage_bytes},
      {"MemoryLimitBytes", s.memory_limit_bytes},
      {"LocksLimit", s.locks_limit},
      {"UptimeSeconds", s.uptime_seconds},
  };
  ctx.w.map(std::size(fields));
  for (const auto& [name, value] : fields) {
    ctx.w.bulk(name);
    ctx.w.integer(static_cast<std::int64_t>(value));
  }
  return Outcome::kDone;
}

}  // namespace semlock::redis
