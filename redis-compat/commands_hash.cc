// Hashes (SPEC §3): HSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL, HEXISTS, HINCRBY,
// HLEN, with Redis 7's replies. An emptied hash is deleted, as in Redis.
#include <limits>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/commands_data.h"
#include "redis-compat/data_common.h"
#include "redis-compat/errors.h"

// GCC 12 at -O3 reports iterator dereferences inside libstdc++'s unordered_map of pmr strings as
// potential null dereferences (every one is checked against end() first).
#pragma GCC diagnostic ignored "-Wnull-dereference"

namespace semlock::redis {

namespace {

void put(DataEntry* e, std::string_view f, std::string_view v) {
  e->hash->set(f, v);
}

}  // namespace

Outcome cmd_hset(CommandContext& ctx, Args argv) {
  if (argv.size() % 2 != 0) {
    wrong_arity(ctx, "hset");
    return Outcome::kDone;
  }
  const bool existed = ctx.engine.data().find(argv[1], ctx.now) != nullptr;
  DataEntry* e = lookup_or_create(ctx, argv[1], DataType::kHash);
  if (!e || (existed && !admit_growth(ctx))) return Outcome::kDone;
  std::int64_t added = 0;
  std::vector<std::string> op{"hset"};
  for (std::size_t i = 2; i + 1 < argv.size(); i += 2) {
    if (!e->hash->contains(argv[i])) ++added;
    put(e, argv[i], argv[i + 1]);
    if (ctx.engine.data().logging()) {
      op.emplace_back(argv[i]);
      op.emplace_back(argv[i + 1]);
    }
  }
  ctx.engine.data().log(e, std::move(op));
  ctx.w.integer(added);
  return Outcome::kDone;
}

Outcome cmd_hmset(CommandContext& ctx, Args argv) {
  if (argv.size() % 2 != 0) {
    wrong_arity(ctx, "hmset");
    return Outcome::kDone;
  }
  std::string out;
  resp::Writer w(out, ctx.client.proto);
  CommandContext inner{ctx.engine, ctx.host, ctx.client, w, ctx.now, ctx.may_block};
  cmd_hset(inner, argv);
  if (out.starts_with(":")) {
    ctx.w.simple("OK");
  } else {
    ctx.w.raw(out);
  }
  return Outcome::kDone;
}

Outcome cmd_hsetnx(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  if (e && e->hash->contains(argv[2])) {
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  if (e ? !admit_growth(ctx) : !(e = lookup_or_create(ctx, argv[1], DataType::kHash))) {
    return Outcome::kDone;
  }
  put(e, argv[2], argv[3]);
  ctx.engine.data().log(e, {"hset", std::string(argv[2]), std::string(argv[3])});
  ctx.w.integer(1);
  return Outcome::kDone;
}

Outcome cmd_hget(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  const PStr* v = e ? e->hash->find(argv[2]) : nullptr;
  v ? ctx.w.bulk(*v) : ctx.w.null();
  return Outcome::kDone;
}

Outcome cmd_hmget(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  ctx.w.array(argv.size() - 2);
  for (std::size_t i = 2; i < argv.size(); ++i) {
    const PStr* v = e ? e->hash->find(argv[i]) : nullptr;
    v ? ctx.w.bulk(*v) : ctx.w.null();
  }
  return Outcome::kDone;
}

namespace {
// HGETALL (both), HKEYS (keys), HVALS (values).
Outcome hash_dump(CommandContext& ctx, Args argv, bool keys, bool values) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  const std::size_t n = e ? e->hash->size() : 0;
  if (keys && values) {
    ctx.w.map(n);
  } else {
    ctx.w.array(n);
  }
  if (!e) return Outcome::kDone;
  e->hash->for_each_while([&](std::string_view f, std::string_view v) {
    if (keys) ctx.w.bulk(f);
    if (values) ctx.w.bulk(v);
    return !ctx.w.over_limit();  // answered "reply too large": no need to walk on
  });
  return Outcome::kDone;
}
}  // namespace

Outcome cmd_hgetall(CommandContext& ctx, Args argv) {
  return hash_dump(ctx, argv, true, true);
}
Outcome cmd_hkeys(CommandContext& ctx, Args argv) {
  return hash_dump(ctx, argv, true, false);
}
Outcome cmd_hvals(CommandContext& ctx, Args argv) {
  return hash_dump(ctx, argv, false, true);
}

Outcome cmd_hdel(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  std::int64_t removed = 0;
  std::vector<std::string> op{"hdel"};
  for (std::size_t i = 2; e && i < argv.size(); ++i) {
    if (!e->hash->erase(argv[i])) continue;
    ++removed;
    if (ctx.engine.data().logging()) op.emplace_back(argv[i]);
  }
  if (removed > 0) {
    ctx.engine.data().log(e, std::move(op));
    ctx.engine.data().remove_if_empty(e);
  }
  ctx.w.integer(removed);
  return Outcome::kDone;
}

Outcome cmd_hexists(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (!failed) ctx.w.integer(e && e->hash->contains(argv[2]) ? 1 : 0);
  return Outcome::kDone;
}

Outcome cmd_hincrby(CommandContext& ctx, Args argv) {
  const auto delta = parse_int64(argv[3]);
  if (!delta) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (failed) return Outcome::kDone;
  std::int64_t old = 0;
  const bool had = e && e->hash->contains(argv[2]);
  if (had) {
    const auto v = parse_int64(*e->hash->find(argv[2]));
    if (!v) {
      ctx.w.error(data_errors::kHashNotInteger);
      return Outcome::kDone;
    }
    old = *v;
  }
  if ((*delta < 0 && old < 0 && *delta < std::numeric_limits<std::int64_t>::min() - old) ||
      (*delta > 0 && old > 0 && *delta > std::numeric_limits<std::int64_t>::max() - old)) {
    ctx.w.error(data_errors::kOverflow);
    return Outcome::kDone;
  }
  if (e ? !admit_growth(ctx) : !(e = lookup_or_create(ctx, argv[1], DataType::kHash))) {
    return Outcome::kDone;
  }
  const std::string value = std::to_string(old + *delta);
  put(e, argv[2], value);
  ctx.engine.data().log(e, {"hset", std::string(argv[2]), value});
  ctx.w.integer(old + *delta);
  return Outcome::kDone;
}

Outcome cmd_hlen(CommandContext& ctx, Args argv) {
  bool failed = false;
  DataEntry* e = lookup(ctx, argv[1], DataType::kHash, failed);
  if (!failed) ctx.w.integer(e ? static_cast<std::int64_t>(e->hash->size()) : 0);
  return Outcome::kDone;
}

}  // namespace semlock::redis
