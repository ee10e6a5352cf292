// Lists (SPEC §3): LPUSH/RPUSH, LPOP/RPOP, LLEN, LRANGE, LREM and the blocking BLPOP/BRPOP, with
// Redis 7's replies. A push makes the key "ready": its blocked poppers are served after the command
// (the server calls DataStore::serve_pop_waiters once the command, a whole EXEC or a whole script
// has run, so a push inside MULTI serves nobody before EXEC). Inside MULTI and scripts BLPOP does
// not block (Redis's rule): it answers null when every list is empty.
#include <cmath>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/checks.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"

// GCC 12 at -O3 reports dereferences inside libstdc++'s pmr containers and strings as potential
// null dereferences (false positives: every element access is checked first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock::redis {

namespace {

Outcome push_generic(CommandContext& ctx, Args argv, bool left) {
  const bool existed = ctx.engine.data().find(argv[1], ctx.now) != nullptr;
  DataEntry* e = lookup_or_create(ctx, argv[1], DataType::kList);
  if (!e || (existed && !admit_growth(ctx))) return Outcome::kDone;
  std::vector<std::string> op{left ? "lpush" : "rpush"};
  for (std::size_t i = 2; i < argv.size(); ++i) {
    if (left) {
      e->list->emplace_front(argv[i]);
    } else {
      e->list->emplace_back(argv[i]);
    }
    if (ctx.engine.data().logging()) op.emplace_back(argv[i]);
  }
  ctx.engine.data().log(e, std::move(op));
  ctx.engine.data().note_list_ready(argv[1]);
  ctx.w.integer(static_cast<std::int64_t>(e->list->size()));
  return Outcome::kDone;
}

std::string pop_one(DataEntry* e, bool left) {
  std::string v;
  if (left) {
    v = std::string(e->list->front());
    e->list->pop_front();
  } else {
    v = std::string(e->list->back());
    e->list->pop_back();
  }
  return v;
}

Outcome pop_generic(CommandContext& ctx, Args argv, bool left) {
  if (argv.size() > 3) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  std::int64_t count = -1;  // no count: one bulk reply
  if (argv.size() == 3) {
    const auto c = parse_int64(argv[2]);
    if (!c || *c < 0) {
      ctx.w.error(data_errors::kMustBePositive);
      return Outcome::kDone;
    }
    count = *c;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kList, failed);
  if (failed) return Outcome::kDone;
  if (!e) {
    count < 0 ? ctx.w.null() : ctx.w.null_array();
    return Outcome::kDone;
  }
  const std::size_t n =
      count < 0 ? 1 : std::min<std::size_t>(static_cast<std::size_t>(count), e->list->size());
  if (count >= 0) {
    // The reply must fit before anything is popped (what is popped is only in the reply).
    std::size_t bytes = 16;
    for (std::size_t i = 0; i < n && bytes <= ctx.w.room(); ++i) {
      bytes += resp::Writer::bulk_size((*e->list)[left ? i : e->list->size() - 1 - i].size());
    }
    if (refuse_reply_over(ctx, bytes)) return Outcome::kDone;
    ctx.w.array(n);
  }
  for (std::size_t i = 0; i < n; ++i) ctx.w.bulk(pop_one(e, left));
  if (n > 0) ctx.engine.data().log(e, {left ? "lpop" : "rpop", std::to_string(n)});
  ctx.engine.data().remove_if_empty(e);
  return Outcome::kDone;
}

// BLPOP/BRPOP key [key ...] timeout (seconds, a float; 0 = forever).
Outcome bpop_generic(CommandContext& ctx, Args argv, bool left) {
  const auto t = parse_score(argv.back());
  if (!t || std::isinf(*t)) {
    ctx.w.error("ERR timeout is not a float or out of range");
    return Outcome::kDone;
  }
  if (*t < 0) {
    ctx.w.error("ERR timeout is negative");
    return Outcome::kDone;
  }
  const double wait_ms_d = std::ceil(*t * 1000.0);
  if (wait_ms_d > static_cast<double>(ctx.engine.limits().max_ttl)) {
    ctx.w.error(errors::kInvalidWait);
    return Outcome::kDone;
  }
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    bool failed = false;
    DataEntry* e = lookup(ctx, argv[i], DataType::kList, failed);
    if (failed) return Outcome::kDone;
    if (!e || e->list->empty()) continue;
    ctx.w.array(2);
    ctx.w.bulk(argv[i]);
    ctx.w.bulk(pop_one(e, left));
    ctx.engine.data().log(e, {left ? "lpop" : "rpop", "1"});
    ctx.engine.data().remove_if_empty(e);
    return Outcome::kDone;
  }
  if (!ctx.may_block) {
    ctx.w.null_array();
    return Outcome::kDone;
  }
  std::vector<std::string> keys;
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) keys.emplace_back(argv[i]);
  const auto wait_ms = static_cast<Millis>(wait_ms_d);
  const std::uint64_t tag = ctx.host.next_wait_tag();
  EngineStatus st = EngineStatus::kOk;
  if (!ctx.engine.data().add_pop_waiter(tag, keys, left,
                                        wait_ms == 0 ? kNoDeadline : ctx.now + wait_ms, ctx.now,
                                        st)) {
    reply_status_error(ctx, st);
    return Outcome::kDone;
  }
  // The server answers when the DataStore's ListPopEvent for `tag` comes (server/data_glue.cc);
  // the owner names the pop's end (an element that cannot be delivered goes back there).
  ctx.host.on_blocked(ctx.client, tag, WaiterId{}, argv[1], left ? "blpop" : "brpop", false);
  return Outcome::kBlocked;
}

}  // namespace

Outcome cmd_lpush(CommandContext& ctx, Args argv) {
  return push_generic(ctx, argv, true);
}
Outcome cmd_rpush(CommandContext& ctx, Args argv) {
  return push_generic(ctx, argv, false);
}
Outcome cmd_lpop(CommandContext& ctx, Args argv) {
  return pop_generic(ctx, argv, true);
}
Outcome cmd_rpop(CommandContext& ctx, Args argv) {
  return pop_generic(ctx, argv, false);
}

Outcome cmd_llen(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kList, failed);
  if (!failed) ctx.w.integer(e ? static_cast<std::int64_t>(e->list->size()) : 0);
  return Outcome::kDone;
}

Outcome cmd_lrange(CommandContext& ctx, Args argv) {
  const auto a = parse_int64(argv[2]);
  const auto b = parse_int64(argv[3]);
  if (!a || !b) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kList, failed);
  if (failed) return Outcome::kDone;
  const auto n = e ? static_cast<std::int64_t>(e->list->size()) : 0;
  std::int64_t start = *a, stop = *b;
  if (start < 0) start = std::max<std::int64_t>(0, n + start);
  if (stop < 0) stop = n + stop;
  if (stop >= n) stop = n - 1;
  if (start > stop || start >= n) {
    ctx.w.array(0);
    return Outcome::kDone;
  }
  ctx.w.array(static_cast<std::size_t>(stop - start + 1));
  for (std::int64_t i = start; i <= stop && !ctx.w.over_limit(); ++i) {
    ctx.w.bulk((*e->list)[static_cast<std::size_t>(i)]);
  }
  return Outcome::kDone;
}

Outcome cmd_lrem(CommandContext& ctx, Args argv) {
  const auto c = parse_int64(argv[2]);
  if (!c) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kList, failed);
  if (failed) return Outcome::kDone;
  const std::int64_t removed = e ? list_remove(*e->list, *c, argv[3]) : 0;
  if (removed > 0) {
    ctx.engine.data().log(e, {"lrem", std::to_string(*c), std::string(argv[3])});
    ctx.engine.data().remove_if_empty(e);
  }
  ctx.w.integer(removed);
  return Outcome::kDone;
}

Outcome cmd_blpop(CommandContext& ctx, Args argv) {
  return bpop_generic(ctx, argv, true);
}
Outcome cmd_brpop(CommandContext& ctx, Args argv) {
  return bpop_generic(ctx, argv, false);
}

}  // namespace semlock::redis
