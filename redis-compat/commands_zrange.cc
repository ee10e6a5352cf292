// Sorted-set range reads (SPEC §3, docs/DATA.md): ZRANGE (by rank, BYSCORE or BYLEX; REV,
// LIMIT, WITHSCORES), ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREVRANGE.
// All of them go through one option parser and one range walk, as Redis 7's
// zrangeGenericCommand does, so that the same arguments give the same errors in the same order:
// option syntax and LIMIT's integers first, then the option conflicts, then the range, then the
// key's type.
//
// Lexicographic ranges are defined by Redis only when every member has the same score. With
// mixed scores we walk as Redis does for its small (listpack) sets: from the first member (in
// score order) at or above min, while members stay at or below max; a large set is searched by
// bisection, as Redis's skiplist descends.
#include <algorithm>
#include <string>
#include <vector>

#include "redis-compat/args.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"
#include "redis-compat/zset_common.h"

namespace semlock::redis {

std::optional<ScoreBound> parse_score_bound(std::string_view s) {
  ScoreBound b;
  if (!s.empty() && s[0] == '(') {
    b.excl = true;
    s.remove_prefix(1);
  }
  auto v = parse_score(s);
  if (!v) return std::nullopt;
  b.v = *v;
  return b;
}

std::pair<std::size_t, std::size_t> score_span(const ZSet& z, ScoreBound min, ScoreBound max) {
  const std::size_t first = z.count_below(min.v, min.excl);
  const std::size_t last = z.count_below(max.v, !max.excl);
  return {first, std::max(first, last)};
}

namespace {

// A ZRANGEBYLEX bound: "-" and "+" are below and above every string; "[x" includes x, "(x" not.
struct LexBound {
  std::string_view s;
  int inf = 0;  // -1: "-", +1: "+"
  bool excl = false;
};

std::optional<LexBound> parse_lex_bound(std::string_view s) {
  if (s.empty()) return std::nullopt;
  LexBound b;
  switch (s[0]) {
    case '-':
    case '+':
      if (s.size() != 1) return std::nullopt;
      b.inf = s[0] == '-' ? -1 : 1;
      b.excl = true;
      return b;
    case '(':
    case '[':
      b.excl = s[0] == '(';
      b.s = s.substr(1);
      return b;
    default:
      return std::nullopt;
  }
}

// Compares a member (or a bound, when `a` is one) with a bound, as Redis's sdscmplex.
int compare_lex(const LexBound& a, const LexBound& b) {
  if (a.inf != 0 && a.inf == b.inf) return 0;
  if (a.inf < 0 || b.inf > 0) return -1;
  if (a.inf > 0 || b.inf < 0) return 1;
  const int c = a.s.compare(b.s);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

struct LexRange {
  LexBound min, max;
  bool gte_min(std::string_view m) const {
    const int c = compare_lex(LexBound{m}, min);
    return min.excl ? c > 0 : c >= 0;
  }
  bool lte_max(std::string_view m) const {
    const int c = compare_lex(LexBound{m}, max);
    return max.excl ? c < 0 : c <= 0;
  }
  bool empty() const {
    const int c = compare_lex(min, max);
    return c > 0 || (c == 0 && (min.excl || max.excl));
  }
};

// Sets up to Redis's listpack size are walked member by member; larger ones bisected.
constexpr std::size_t kLexLinearMax = 128;

// The rank where a forward (or, with `rev`, backward) walk over `r` starts, or nullopt.
std::optional<std::size_t> lex_start(const ZSet& z, const LexRange& r, bool rev) {
  const std::size_t n = z.size();
  if (n == 0 || r.empty()) return std::nullopt;
  if (!r.gte_min(z.at(n - 1).second) || !r.lte_max(z.at(0).second)) return std::nullopt;
  std::size_t i = 0;
  if (!rev) {
    if (n <= kLexLinearMax) {
      while (i < n && !r.gte_min(z.at(i).second)) ++i;
    } else {
      std::size_t lo = 0, hi = n;  // first rank with gte_min
      while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        r.gte_min(z.at(mid).second) ? hi = mid : lo = mid + 1;
      }
      i = lo;
    }
    if (i == n || !r.lte_max(z.at(i).second)) return std::nullopt;
    return i;
  }
  std::size_t past = n;  // one past the last rank with lte_max
  if (n <= kLexLinearMax) {
    while (past > 0 && !r.lte_max(z.at(past - 1).second)) --past;
  } else {
    std::size_t lo = 0, hi = n;  // first rank without lte_max
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      r.lte_max(z.at(mid).second) ? lo = mid + 1 : hi = mid;
    }
    past = lo;
  }
  if (past == 0 || !r.gte_min(z.at(past - 1).second)) return std::nullopt;
  return past - 1;
}

enum class RangeBy : std::uint8_t { kAuto, kRank, kScore, kLex };
enum class Direction : std::uint8_t { kAuto, kForward, kReverse };

struct RangeArgs {
  RangeBy by = RangeBy::kAuto;
  Direction dir = Direction::kAuto;
  bool withscores = false;
  std::int64_t offset = 0, count = -1;
};

void write_element(CommandContext& ctx, const ZSet& z, std::size_t i, bool withscores) {
  const auto [s, m] = z.at(i);
  if (withscores && ctx.w.proto() >= 3) {
    ctx.w.array(2);
    ctx.w.bulk(m);
    ctx.w.dbl(s);
  } else {
    ctx.w.bulk(m);
    if (withscores) ctx.w.dbl(s);  // a bulk string in RESP2
  }
}

// Writes elements at ranks `idx` (already chosen and ordered).
void write_elements(CommandContext& ctx, const ZSet* z, const std::vector<std::size_t>& idx,
                    bool withscores) {
  const bool pairs = withscores && ctx.w.proto() >= 3;
  ctx.w.array(idx.size() * (withscores && !pairs ? 2 : 1));
  for (std::size_t i : idx) {
    if (ctx.w.over_limit()) break;  // answered "reply too large": no need to walk on
    write_element(ctx, *z, i, withscores);
  }
}

// Reads the options after `key min max` into `o` (whose `by` and `dir` the command may have
// fixed already); false after writing the error.
bool parse_range_options(CommandContext& ctx, Args argv, RangeArgs& o) {
  for (std::size_t i = 4; i < argv.size(); ++i) {
    const std::string_view a = argv[i];
    if (iequals(a, "WITHSCORES")) {
      o.withscores = true;
    } else if (iequals(a, "LIMIT") && argv.size() - i - 1 >= 2) {
      const auto off = parse_int64(argv[i + 1]);
      if (!off) {
        ctx.w.error(errors::kNotInteger);
        return false;
      }
      const auto cnt = parse_int64(argv[i + 2]);
      if (!cnt) {
        ctx.w.error(errors::kNotInteger);
        return false;
      }
      o.offset = *off;
      o.count = *cnt;
      i += 2;
    } else if (o.dir == Direction::kAuto && iequals(a, "REV")) {
      o.dir = Direction::kReverse;
    } else if (o.by == RangeBy::kAuto && iequals(a, "BYLEX")) {
      o.by = RangeBy::kLex;
    } else if (o.by == RangeBy::kAuto && iequals(a, "BYSCORE")) {
      o.by = RangeBy::kScore;
    } else {
      ctx.w.error(errors::kSyntax);
      return false;
    }
  }
  if (o.dir == Direction::kAuto) o.dir = Direction::kForward;
  if (o.by == RangeBy::kAuto) o.by = RangeBy::kRank;
  // Redis tells a LIMIT apart by its count: "LIMIT 0 -1" passes with a rank range.
  if (o.count != -1 && o.by == RangeBy::kRank) {
    ctx.w.error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return false;
  }
  if (o.withscores && o.by == RangeBy::kLex) {
    ctx.w.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    return false;
  }
  return true;
}

// Ranks from `start` stepping by `step` while `in_range` holds, after skipping `offset` (a
// negative offset skips everything) and at most `count` of them (negative: no bound), nor more
// than `cap` (see reply_cap()).
template <typename InRange>
void walk(std::vector<std::size_t>& idx, std::size_t n, std::size_t start, int step,
          std::int64_t offset, std::int64_t count, std::size_t cap, InRange in_range) {
  if (offset < 0 || offset >= static_cast<std::int64_t>(n)) return;
  auto i = static_cast<std::int64_t>(start) + step * offset;
  std::int64_t left = count < 0 ? INT64_MAX : count;
  if (cap < static_cast<std::uint64_t>(left)) left = static_cast<std::int64_t>(cap);
  for (; i >= 0 && i < static_cast<std::int64_t>(n) && left > 0; i += step, --left) {
    if (!in_range(static_cast<std::size_t>(i))) break;
    idx.push_back(static_cast<std::size_t>(i));
  }
}

// More elements than this cannot fit in what the reply may still take (server.max_reply_bytes;
// every element is at least an empty bulk string, 6 bytes): a range is not collected past it,
// as the reply is then "reply too large" anyway.
std::size_t reply_cap(const CommandContext& ctx) {
  return ctx.w.room() / 6 + 1;
}

// Parses the options and the range, then answers: the shared body of every range command.
Outcome zrange_generic(CommandContext& ctx, Args argv, RangeArgs o) {
  if (!parse_range_options(ctx, argv, o)) return Outcome::kDone;
  const bool rev = o.dir == Direction::kReverse;
  // With REV a score or lex range is given max first.
  const std::string_view lo_arg = argv[rev && o.by != RangeBy::kRank ? 3 : 2];
  const std::string_view hi_arg = argv[rev && o.by != RangeBy::kRank ? 2 : 3];
  std::optional<ScoreBound> smin, smax;
  LexRange lex;
  std::int64_t start = 0, stop = 0;
  if (o.by == RangeBy::kScore) {
    smin = parse_score_bound(lo_arg);
    smax = parse_score_bound(hi_arg);
    if (!smin || !smax) {
      ctx.w.error(data_errors::kMinMaxNotFloat);
      return Outcome::kDone;
    }
  } else if (o.by == RangeBy::kLex) {
    const auto a = parse_lex_bound(lo_arg);
    const auto b = parse_lex_bound(hi_arg);
    if (!a || !b) {
      ctx.w.error("ERR min or max not valid string range item");
      return Outcome::kDone;
    }
    lex = LexRange{*a, *b};
  } else {
    const auto a = parse_int64(lo_arg);
    if (!a) {
      ctx.w.error(errors::kNotInteger);
      return Outcome::kDone;
    }
    const auto b = parse_int64(hi_arg);
    if (!b) {
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
    const ZSet& z = *e->zset;
    const std::size_t n = z.size();
    const int step = rev ? -1 : 1;
    if (o.by == RangeBy::kScore) {
      const auto [first, last] = score_span(z, *smin, *smax);
      if (first < last) {
        walk(idx, n, rev ? last - 1 : first, step, o.offset, o.count, reply_cap(ctx),
             [&, f = first, l = last](std::size_t i) { return i >= f && i < l; });
      }
    } else if (o.by == RangeBy::kLex) {
      if (const auto s = lex_start(z, lex, rev)) {
        walk(idx, n, *s, step, o.offset, o.count, reply_cap(ctx), [&](std::size_t i) {
          return rev ? lex.gte_min(z.at(i).second) : lex.lte_max(z.at(i).second);
        });
      }
    } else {
      const auto len = static_cast<std::int64_t>(n);
      if (start < 0) start = std::max<std::int64_t>(0, len + start);
      if (stop < 0) stop = len + stop;
      if (stop >= len) stop = len - 1;
      const std::size_t cap = reply_cap(ctx);
      for (std::int64_t k = start; k <= stop && idx.size() < cap; ++k) {
        idx.push_back(static_cast<std::size_t>(rev ? len - 1 - k : k));
      }
    }
  }
  write_elements(ctx, e ? e->zset : nullptr, idx, o.withscores);
  return Outcome::kDone;
}

}  // namespace

// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
Outcome cmd_zrange(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{});
}

// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
Outcome cmd_zrangebyscore(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{RangeBy::kScore, Direction::kForward});
}

// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
Outcome cmd_zrevrangebyscore(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{RangeBy::kScore, Direction::kReverse});
}

// ZRANGEBYLEX key min max [LIMIT offset count]
Outcome cmd_zrangebylex(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{RangeBy::kLex, Direction::kForward});
}

// ZREVRANGEBYLEX key max min [LIMIT offset count]
Outcome cmd_zrevrangebylex(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{RangeBy::kLex, Direction::kReverse});
}

// ZREVRANGE key start stop [WITHSCORES]
Outcome cmd_zrevrange(CommandContext& ctx, Args argv) {
  return zrange_generic(ctx, argv, RangeArgs{RangeBy::kRank, Direction::kReverse});
}

}  // namespace semlock::redis
