// SEMLOCK.ACQUIREALL and SEMLOCK.RELEASEALL: all-or-nothing multi-key locks (engine/multi.cc).
// Keys are given EVAL-style, a count then the keys, so COMMAND INFO can describe where they are.
#include <algorithm>
#include <string>
#include <vector>

#include "redis-compat/args.h"
#include "redis-compat/checks.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"

namespace semlock::redis {
namespace {

// Reads `numkeys key...` at argv[2..]: the keys, or nullopt with the error written. `first_opt`
// gets the index of the first argument after the keys.
std::optional<std::vector<std::string_view>> parse_keys(CommandContext& ctx, Args argv,
                                                        std::size_t& first_opt) {
  const auto n = parse_int64(argv[2]);
  if (!n) {
    ctx.w.error(errors::kNotInteger);
    return std::nullopt;
  }
  if (*n < 1 || static_cast<std::uint64_t>(*n) > kMaxAcquireAllKeys) {
    ctx.w.error(errors::kBadNumKeys);
    return std::nullopt;
  }
  if (static_cast<std::size_t>(*n) > argv.size() - 3) {
    ctx.w.error(errors::kTooManyNumKeys);
    return std::nullopt;
  }
  std::vector<std::string_view> keys(argv.begin() + 3, argv.begin() + 3 + *n);
  for (const std::string_view k : keys) {
    if (!check_key(ctx, k)) return std::nullopt;
  }
  std::vector<std::string_view> sorted(keys);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    ctx.w.error(errors::kDuplicateKeys);
    return std::nullopt;
  }
  first_opt = 3 + static_cast<std::size_t>(*n);
  return keys;
}

}  // namespace

void write_acquire_all_reply(resp::Writer& w, std::string_view owner,
                             const std::vector<std::uint64_t>& fences) {
  w.array(2);
  w.bulk(owner);
  w.array(fences.size());
  for (const std::uint64_t f : fences) w.integer(static_cast<std::int64_t>(f));
}

// SEMLOCK.ACQUIREALL ttl numkeys key [key ...] [OWNER o] [WAIT ms]
Outcome cmd_acquireall(CommandContext& ctx, Args argv) {
  const auto ttl = parse_ms(ctx, argv[1], errors::kInvalidTtl, false);
  if (!ttl) return Outcome::kDone;
  std::size_t i = 0;
  auto keys = parse_keys(ctx, argv, i);
  if (!keys) return Outcome::kDone;
  AcquireAllRequest req;
  req.keys = std::move(*keys);
  req.ttl = *ttl;
  std::optional<std::string_view> owner;
  for (; i < argv.size(); ++i) {
    const std::string_view opt = argv[i];
    const bool has_value = i + 1 < argv.size();
    if (iequals(opt, "OWNER") && has_value) {
      owner = argv[++i];
      if (!check_owner(ctx, *owner)) return Outcome::kDone;
    } else if (iequals(opt, "WAIT") && has_value) {
      const auto v = parse_ms(ctx, argv[++i], errors::kInvalidWait, true);
      if (!v) return Outcome::kDone;
      req.wait = *v;
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  if (!ctx.may_block) req.wait = 0;  // MULTI and scripts never block
  std::string generated;
  if (owner) {
    req.owner = *owner;
  } else {
    generated = ctx.host.generate_owner();
    req.owner = generated;
  }
  if (req.wait > 0) req.tag = ctx.host.next_wait_tag();
  const AcquireAllResult r = ctx.engine.acquire_all(req, ctx.now);
  switch (r.status) {
    case EngineStatus::kGranted:
      // As a queued grant: each holder created at once is the grant's to give back if the reply
      // is never taken (and, with WAIT in cluster mode, if the follower's client left).
      for (std::size_t k = 0; k < req.keys.size(); ++k) {
        if (r.created[k] != 0) {
          ctx.host.on_granted_now(ctx.client, req.keys[k], req.owner, r.fences[k],
                                  ctx.now + r.ttl, req.wait > 0);
        }
      }
      write_acquire_all_reply(ctx.w, req.owner, r.fences);
      return Outcome::kDone;
    case EngineStatus::kNotGranted:
      ctx.w.null();
      return Outcome::kDone;
    case EngineStatus::kQueued:
      ctx.host.on_blocked_all(ctx.client, req.tag, r.waiter, req.keys, req.owner);
      return Outcome::kBlocked;
    default:
      if (!reply_status_error(ctx, r.status)) ctx.w.null();
      return Outcome::kDone;
  }
}

// SEMLOCK.RELEASEALL owner numkeys key [key ...]
Outcome cmd_releaseall(CommandContext& ctx, Args argv) {
  if (!check_owner(ctx, argv[1])) return Outcome::kDone;
  std::size_t end = 0;
  const auto keys = parse_keys(ctx, argv, end);
  if (!keys) return Outcome::kDone;
  if (end != argv.size()) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  ctx.w.integer(static_cast<std::int64_t>(ctx.engine.release_keys(*keys, argv[1], ctx.now)));
  for (const std::string_view key : *keys) ctx.host.on_released(ctx.client, key, argv[1]);
  return Outcome::kDone;
}

}  // namespace semlock::redis
