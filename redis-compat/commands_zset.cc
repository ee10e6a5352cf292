// Sorted sets (SPEC §3): ZADD (NX/XX/GT/LT/CH/INCR), ZREM, ZSCORE, ZRANK, ZCARD, ZCOUNT, ZRANGE
// (by rank or BYSCORE, REV, LIMIT, WITHSCORES), ZRANGEBYSCORE, ZREVRANGE, ZREMRANGEBYSCORE,
// ZPOPMIN, with Redis 7's replies. Scores are written as Redis 7.0 writes them (%.17g).
#include <cmath>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"

// GCC 12 at -O3 reports dereferences inside libstdc++'s pmr containers and strings as potential
// null dereferences (false positives: every element access is checked first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock::redis {

namespace {

// A ZRANGEBYSCORE bound: "(" exclusive, "-inf"/"+inf".
struct Bound {
  double v = 0;
  bool excl = false;
};
std::optional<Bound> parse_bound(std::string_view s) {
  Bound b;
  if (!s.empty() && s[0] == '(') {
    b.excl = true;
    s.remove_prefix(1);
  }
  auto v = parse_score(s);
  if (!v) return std::nullopt;
  b.v = *v;
  return b;
}

// [first, last) of the elements within [min, max].
std::pair<std::size_t, std::size_t> score_span(const ZSet& z, Bound min, Bound max) {
  const std::size_t first = z.count_below(min.v, min.excl);
  const std::size_t last = z.count_below(max.v, !max.excl);
  return {first, std::max(first, last)};
}

void write_element(CommandContext& ctx, const ZSet& z, std::size_t i, bool withscores) {
  const auto [s, m] = z.at(i);
  if (withscores && ctx.client.proto >= 3) {
    ctx.w.array(2);
    ctx.w.bulk(m);
    ctx.w.dbl(s);
  } else {
    ctx.w.bulk(m);
    if (withscores) ctx.w.bulk(format_score(s));
  }
}

// Writes elements at ranks `idx` (already chosen and ordered).
void write_elements(CommandContext& ctx, const ZSet* z, const std::vector<std::size_t>& idx,
                    bool withscores) {
  const bool pairs = withscores && ctx.client.proto >= 3;
  ctx.w.array(idx.size() * (withscores && !pairs ? 2 : 1));
  for (std::size_t i : idx) write_element(ctx, *z, i, withscores);
}

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

Outcome cmd_zrank(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  const auto r = e ? e->zset->rank(argv[2]) : std::nullopt;
  r ? ctx.w.integer(static_cast<std::int64_t>(*r)) : ctx.w.null();
  return Outcome::kDone;
}

Outcome cmd_zcard(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (!failed) ctx.w.integer(e ? static_cast<std::int64_t>(e->zset->size()) : 0);
  return Outcome::kDone;
}

Outcome cmd_zcount(CommandContext& ctx, Args argv) {
  const auto min = parse_bound(argv[2]);
  const auto max = parse_bound(argv[3]);
  if (!min || !max) {
    ctx.w.error(data_errors::kMinMaxNotFloat);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  if (!e) {
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  const auto [first, last] = score_span(*e->zset, *min, *max);
  ctx.w.integer(static_cast<std::int64_t>(last - first));
  return Outcome::kDone;
}

namespace {

struct RangeArgs {
  bool byscore = false, rev = false, withscores = false, limit = false;
  std::int64_t offset = 0, count = -1;
};

// The shared body of ZRANGE, ZRANGEBYSCORE and ZREVRANGE: argv[2], argv[3] are the range.
Outcome range_generic(CommandContext& ctx, Args argv, const RangeArgs& o) {
  std::optional<Bound> min, max;
  std::int64_t start = 0, stop = 0;
  if (o.byscore) {
    // With REV the range is given max first.
    min = parse_bound(argv[o.rev ? 3 : 2]);
    max = parse_bound(argv[o.rev ? 2 : 3]);
    if (!min || !max) {
      ctx.w.error(data_errors::kMinMaxNotFloat);
      return Outcome::kDone;
    }
  } else {
    const auto a = parse_int64(argv[2]);
    const auto b = parse_int64(argv[3]);
    if (!a || !b) {
      ctx.w.error(errors::kNotInteger);
      return Outcome::kDone;
    }
    start = *a;
    stop = *b;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  std::vector<std::size_t> idx;
  if (e) {
    const auto n = static_cast<std::int64_t>(e->zset->size());
    if (o.byscore) {
      const auto [first, last] = score_span(*e->zset, *min, *max);
      std::int64_t skip = o.offset;
      std::int64_t left = o.count < 0 ? INT64_MAX : o.count;
      if (skip >= 0) {
        const auto span = static_cast<std::int64_t>(last - first);
        for (std::int64_t k = skip; k < span && left > 0; ++k, --left) {
          idx.push_back(o.rev ? last - 1 - static_cast<std::size_t>(k)
                              : first + static_cast<std::size_t>(k));
        }
      }
    } else {
      if (start < 0) start = std::max<std::int64_t>(0, n + start);
      if (stop < 0) stop = n + stop;
      if (stop >= n) stop = n - 1;
      for (std::int64_t k = start; k <= stop; ++k) {
        idx.push_back(static_cast<std::size_t>(o.rev ? n - 1 - k : k));
      }
    }
  }
  write_elements(ctx, e ? e->zset : nullptr, idx, o.withscores);
  return Outcome::kDone;
}

// Parses LIMIT offset count into `o`; false after writing the error.
bool parse_limit(CommandContext& ctx, Args argv, std::size_t& i, RangeArgs& o) {
  if (i + 2 >= argv.size()) {
    ctx.w.error(errors::kSyntax);
    return false;
  }
  const auto off = parse_int64(argv[i + 1]);
  const auto cnt = parse_int64(argv[i + 2]);
  if (!off || !cnt) {
    ctx.w.error(errors::kNotInteger);
    return false;
  }
  o.limit = true;
  o.offset = *off;
  o.count = *cnt;
  i += 2;
  return true;
}

}  // namespace

// ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES]
Outcome cmd_zrange(CommandContext& ctx, Args argv) {
  RangeArgs o;
  for (std::size_t i = 4; i < argv.size(); ++i) {
    if (iequals(argv[i], "BYSCORE")) {
      o.byscore = true;
    } else if (iequals(argv[i], "REV")) {
      o.rev = true;
    } else if (iequals(argv[i], "WITHSCORES")) {
      o.withscores = true;
    } else if (iequals(argv[i], "LIMIT")) {
      if (!parse_limit(ctx, argv, i, o)) return Outcome::kDone;
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  if (o.limit && !o.byscore) {
    ctx.w.error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return Outcome::kDone;
  }
  return range_generic(ctx, argv, o);
}

// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
Outcome cmd_zrangebyscore(CommandContext& ctx, Args argv) {
  RangeArgs o;
  o.byscore = true;
  for (std::size_t i = 4; i < argv.size(); ++i) {
    if (iequals(argv[i], "WITHSCORES")) {
      o.withscores = true;
    } else if (iequals(argv[i], "LIMIT")) {
      if (!parse_limit(ctx, argv, i, o)) return Outcome::kDone;
    } else {
      ctx.w.error(errors::kSyntax);
      return Outcome::kDone;
    }
  }
  return range_generic(ctx, argv, o);
}

// ZREVRANGE key start stop [WITHSCORES]
Outcome cmd_zrevrange(CommandContext& ctx, Args argv) {
  RangeArgs o;
  o.rev = true;
  if (argv.size() == 5 && iequals(argv[4], "WITHSCORES")) {
    o.withscores = true;
  } else if (argv.size() != 4) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  return range_generic(ctx, argv, o);
}

Outcome cmd_zremrangebyscore(CommandContext& ctx, Args argv) {
  const auto min = parse_bound(argv[2]);
  const auto max = parse_bound(argv[3]);
  if (!min || !max) {
    ctx.w.error(data_errors::kMinMaxNotFloat);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kZSet, failed);
  if (failed) return Outcome::kDone;
  if (!e) {
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  const auto [first, last] = score_span(*e->zset, *min, *max);
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
  const bool pairs = ctx.client.proto >= 3 && argv.size() == 3;
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
