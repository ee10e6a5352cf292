// Sorted sets (SPEC §3): ZADD (NX/XX/GT/LT/CH/INCR), ZREM, ZSCORE, ZRANK/ZREVRANK (WITHSCORE),
// ZCARD, ZCOUNT, ZREMRANGEBYSCORE, ZPOPMIN, with Redis 7's replies; the range reads are in
// commands_zrange.cc. Scores are written as Redis 7.2 writes them (the shortest form that reads
// back as the same double; Redis 7.0 wrote 17 digits).
#include <cmath>
#include <string>
#include <tuple>

#include "redis-compat/args.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"
#include "redis-compat/zset_common.h"

// GCC 12 at -O3 reports dereferences inside libstdc++'s pmr containers and strings as potential
// null dereferences (false positives: every element access is checked first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock::redis {

namespace {

void log_removed(CommandContext& ctx, DataEntry* e, std::vector<std::string> members) {
  if (members.empty()) return;
  members.insert(members.begin(), "zrem");
  ctx.engine.data().log(e, std::move(members));
}

}  // namespace

Outcome cmd_zadd(CommandContext& ctx, Args argv) {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  std::size_t i = 2;
  for (; i < argv.size(); ++i) {
    const std::string_view a = argv[i];
    if (iequals(a, "NX")) {
      nx = true;
    } else if (iequals(a, "XX")) {
      xx = true;
    } else if (iequals(a, "GT")) {
      gt = true;
    } else if (iequals(a, "LT")) {
      lt = true;
    } else if (iequals(a, "CH")) {
      ch = true;
    } else if (iequals(a, "INCR")) {
      incr = true;
    } else {
      break;
    }
  }
  const std::size_t pairs = argv.size() - i;
  if (pairs == 0 || pairs % 2 != 0) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  if (nx && xx) {
    ctx.w.error("ERR XX and NX options at the same time are not compatible");
    return Outcome::kDone;
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    ctx.w.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    return Outcome::kDone;
  }
  if (incr && pairs > 2) {
    ctx.w.error("ERR INCR option supports a single increment-element pair");
    return Outcome::kDone;
  }
  std::vector<double> scores;
  for (std::size_t j = i; j < argv.size(); j += 2) {
    auto s = parse_score(argv[j]);
    if (!s) {
      ctx.w.error(data_errors::kNotFloat);
      return Outcome::kDone;
    }
    scores.push_back(*s);
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  if (!e && xx) {  // nothing to update: no key is created
    incr ? ctx.w.null() : ctx.w.integer(0);
    return Outcome::kDone;
  }
  if (e ? !admit_growth(ctx) : !(e = lookup_or_create(ctx, argv[1], DataType::kZSet))) {
    return Outcome::kDone;
  }
  std::int64_t added = 0, changed = 0;
  std::optional<double> incr_result;
  std::vector<std::string> op{"zadd"};
  for (std::size_t j = i, k = 0; j < argv.size(); j += 2, ++k) {
    const std::string_view member = argv[j + 1];
    double score = scores[k];
    const auto cur = e->zset->score(member);
    if (cur) {
      if (nx) continue;
      if (incr) {
        score = *cur + score;
        if (std::isnan(score)) {
          ctx.w.error("ERR resulting score is not a number (NaN)");
          ctx.engine.data().remove_if_empty(e);
          return Outcome::kDone;
        }
      }
      if ((gt && score <= *cur) || (lt && score >= *cur)) continue;
      incr_result = score;
      if (score != *cur) {
        e->zset->set(member, score);
        ++changed;
        op.push_back(format_score(score));
        op.emplace_back(member);
      }
    } else {
      if (xx) continue;
      e->zset->set(member, score);
      ++added;
      incr_result = score;
      op.push_back(format_score(score));
      op.emplace_back(member);
    }
  }
  if (op.size() > 1) ctx.engine.data().log(e, std::move(op));
  ctx.engine.data().remove_if_empty(e);
  if (incr) {
    incr_result ? ctx.w.dbl(*incr_result) : ctx.w.null();
  } else {
    ctx.w.integer(ch ? added + changed : added);
  }
  return Outcome::kDone;
}

Outcome cmd_zrem(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  std::vector<std::string> removed;
  for (std::size_t i = 2; e && i < argv.size(); ++i) {
    if (e->zset->remove(argv[i])) removed.emplace_back(argv[i]);
  }
  ctx.w.integer(static_cast<std::int64_t>(removed.size()));
  if (e) {
    log_removed(ctx, e, std::move(removed));
    ctx.engine.data().remove_if_empty(e);
  }
  return Outcome::kDone;
}

Outcome cmd_zscore(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  const auto s = e ? e->zset->score(argv[2]) : std::nullopt;
  s ? ctx.w.dbl(*s) : ctx.w.null();
  return Outcome::kDone;
}

namespace {

// ZRANK / ZREVRANK key member [WITHSCORE] (WITHSCORE: Redis 7.2, a [rank, score] pair).
Outcome zrank_generic(CommandContext& ctx, Args argv, bool rev) {
  if (argv.size() > 4) {
    wrong_arity(ctx, rev ? "zrevrank" : "zrank");
    return Outcome::kDone;
  }
  const bool withscore = argv.size() == 4;
  if (withscore && !iequals(argv[3], "WITHSCORE")) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  const auto r = e ? e->zset->rank(argv[2]) : std::nullopt;
  if (!r) {
    withscore ? ctx.w.null_array() : ctx.w.null();
    return Outcome::kDone;
  }
  const std::size_t rank = rev ? e->zset->size() - 1 - *r : *r;
  if (withscore) ctx.w.array(2);
  ctx.w.integer(static_cast<std::int64_t>(rank));
  if (withscore) ctx.w.dbl(e->zset->at(*r).first);
  return Outcome::kDone;
}

}  // namespace

Outcome cmd_zrank(CommandContext& ctx, Args argv) {
  return zrank_generic(ctx, argv, false);
}

Outcome cmd_zrevrank(CommandContext& ctx, Args argv) {
  return zrank_generic(ctx, argv, true);
}

Outcome cmd_zcard(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (!failed) ctx.w.integer(e ? static_cast<std::int64_t>(e->zset->size()) : 0);
  return Outcome::kDone;
}

namespace {

// ZCOUNT's and ZREMRANGEBYSCORE's start: key argv[1] and the positions [first, last) of its
// members scored within argv[2]..argv[3]. Null when the reply is written already: a bound that is
// not a float, a key of another type, or no key (0).
DataEntry* zset_score_range(CommandContext& ctx, Args argv, std::size_t& first, std::size_t& last) {
  const auto min = parse_score_bound(argv[2]);
  const auto max = parse_score_bound(argv[3]);
  if (!min || !max) {
    ctx.w.error(data_errors::kMinMaxNotFloat);
    return nullptr;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return nullptr;
  if (!e) {
    ctx.w.integer(0);
    return nullptr;
  }
  std::tie(first, last) = score_span(*e->zset, *min, *max);
  return e;
}

}  // namespace

Outcome cmd_zcount(CommandContext& ctx, Args argv) {
  std::size_t first = 0;
  std::size_t last = 0;
  if (zset_score_range(ctx, argv, first, last) != nullptr) {
    ctx.w.integer(static_cast<std::int64_t>(last - first));
  }
  return Outcome::kDone;
}

Outcome cmd_zremrangebyscore(CommandContext& ctx, Args argv) {
  std::size_t first = 0;
  std::size_t last = 0;
  DataEntry* e = zset_score_range(ctx, argv, first, last);
  if (e == nullptr) return Outcome::kDone;
  std::vector<std::string> members;
  for (std::size_t k = first; k < last; ++k) members.emplace_back(e->zset->at(k).second);
  for (const auto& m : members) e->zset->remove(m);
  ctx.w.integer(static_cast<std::int64_t>(members.size()));
  log_removed(ctx, e, std::move(members));
  ctx.engine.data().remove_if_empty(e);
  return Outcome::kDone;
}

// ZPOPMIN key [count]
Outcome cmd_zpopmin(CommandContext& ctx, Args argv) {
  std::int64_t count = 1;
  if (argv.size() > 3) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  if (argv.size() == 3) {
    const auto c = parse_int64(argv[2]);
    if (!c || *c < 0) {
      ctx.w.error(!c ? errors::kNotInteger : data_errors::kMustBePositive);
      return Outcome::kDone;
    }
    count = *c;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  const std::size_t n =
      e ? static_cast<std::size_t>(std::min<std::int64_t>(count, static_cast<std::int64_t>(
                                                                      e->zset->size())))
        : 0;
  // RESP3 with a count: an array of [member, score] pairs; otherwise flat.
  const bool pairs = ctx.w.proto() >= 3 && argv.size() == 3;
  // The reply must fit before anything is popped (what is popped is only in the reply); a score
  // takes at most 32 bytes in either protocol.
  std::size_t bytes = 16;
  for (std::size_t k = 0; k < n && bytes <= ctx.w.room(); ++k) {
    bytes += resp::Writer::bulk_size(e->zset->at(k).second.size()) + 32 + (pairs ? 4 : 0);
  }
  if (refuse_reply_over(ctx, bytes)) return Outcome::kDone;
  ctx.w.array(pairs ? n : n * 2);
  std::vector<std::string> members;
  for (std::size_t k = 0; k < n; ++k) {
    const auto [s, m] = e->zset->at(0);
    if (pairs) ctx.w.array(2);
    ctx.w.bulk(m);
    ctx.w.dbl(s);
    members.emplace_back(m);
    e->zset->remove(members.back());
  }
  if (e) {
    log_removed(ctx, e, std::move(members));
    ctx.engine.data().remove_if_empty(e);
  }
  return Outcome::kDone;
}

}  // namespace semlock::redis
