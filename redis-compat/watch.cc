// WATCH / UNWATCH and the bookkeeping that makes EXEC fail when a watched key changed.
#include "redis-compat/watch.h"

#include <algorithm>

#include "engine/data.h"
#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"

namespace semlock::redis {
namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

std::uint64_t mix(std::uint64_t h, std::string_view s) {
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return mix(h, s.size());
}

// Replies of write commands that mean "nothing was changed": an error, a null, or 0 from the
// commands whose integer counts what they changed.
bool changed_nothing(std::string_view name, std::string_view reply) {
  if (reply.empty()) return true;
  if (reply[0] == '-' || reply[0] == '_' || reply.starts_with("$-1") || reply.starts_with("*-1")) {
    return true;
  }
  if (reply == ":0\r\n") {
    static constexpr std::string_view kCounting[] = {
        "del",     "unlink",    "expire", "pexpire", "expireat", "pexpireat", "persist",
        "hsetnx",  "setnx",     "hdel",   "zrem",    "lrem",     "srem",      "delifeq",
        "msetnx",  "zremrangebyscore",    "zremrangebyrank",     "semlock.release",
        "semlock.extend", "semlock.forcerelease"};
    return std::find(std::begin(kCounting), std::end(kCounting), name) != std::end(kCounting);
  }
  return false;
}

}  // namespace

void WatchRegistry::watch(ClientState& c, std::string_view key, std::uint64_t fingerprint) {
  // Already watched: the first WATCH's state counts. Looked up in the key index, not by scanning
  // the client's list: WATCH of n keys was O(n^2) (20,000 keys held the loop for 7 s).
  auto& watchers = by_key_[absl::string_view(key.data(), key.size())];
  if (!watchers.emplace(c.id, &c).second) return;
  c.watched.push_back({std::string(key), fingerprint});
  c.compat_bytes += key.size() + sizeof(WatchedKey) + 16;
}

void WatchRegistry::unwatch_all(ClientState& c) {
  for (const auto& w : c.watched) {
    const auto it = by_key_.find(w.key);
    if (it == by_key_.end()) continue;
    it->second.erase(c.id);
    if (it->second.empty()) by_key_.erase(it);
    c.compat_bytes -= std::min(c.compat_bytes, w.key.size() + sizeof(WatchedKey) + 16);
  }
  c.watched.clear();
  c.watch_dirty = false;
}

void WatchRegistry::touch(std::string_view key) {
  const auto it = by_key_.find(absl::string_view(key.data(), key.size()));
  if (it == by_key_.end()) return;
  for (auto& [id, c] : it->second) c->watch_dirty = true;
}

std::uint64_t key_fingerprint(Engine& engine, std::string_view key, Millis now) {
  // A data key: its identity, type, deadline and counter (contents changed through RESP are
  // seen by touch(); this catches expiry and re-creation).
  if (const DataEntry* e = engine.data().find(key, now)) {
    std::uint64_t h = mix(0x84222325cbf29ce4ULL, static_cast<std::uint64_t>(e->type));
    h = mix(h, reinterpret_cast<std::uintptr_t>(e));
    h = mix(h, static_cast<std::uint64_t>(e->deadline));
    h = mix(h, static_cast<std::uint64_t>(e->counter));
    return h == 0 ? 1 : h;
  }
  const auto info = engine.info(key, now);
  if (!info || info->holders.empty()) return 0;
  std::uint64_t h = mix(0xcbf29ce484222325ULL, info->limit);
  for (const auto& holder : info->holders) {
    h = mix(h, holder.owner);
    h = mix(h, holder.fence);
    h = mix(h, static_cast<std::uint64_t>(now + holder.remaining));  // the deadline
  }
  return h == 0 ? 1 : h;
}

void watch_after_command(CommandContext& ctx, const CommandSpec& spec, Args argv,
                         std::string_view reply) {
  WatchRegistry* reg = ctx.host.watches();
  if (reg == nullptr || reg->empty() || !(spec.flags & kWrite) || spec.first_key <= 0) return;
  if (changed_nothing(spec.name, reply)) return;
  const long n = static_cast<long>(argv.size());
  const long last = spec.last_key < 0 ? n + spec.last_key : spec.last_key;
  const long step = spec.key_step > 0 ? spec.key_step : 1;
  for (long i = spec.first_key; i <= last && i < n; i += step) {
    reg->touch(argv[static_cast<std::size_t>(i)]);
  }
}

bool watch_exec_aborts(CommandContext& ctx) {
  if (ctx.client.watch_dirty) return true;
  for (const auto& w : ctx.client.watched) {
    if (key_fingerprint(ctx.engine, w.key, ctx.now) != w.fingerprint) return true;
  }
  return false;
}

void watch_clear(CommandContext& ctx) {
  if (WatchRegistry* reg = ctx.host.watches()) reg->unwatch_all(ctx.client);
}

Outcome cmd_watch(CommandContext& ctx, Args argv) {
  if (ctx.client.in_multi) {
    ctx.w.error("ERR WATCH inside MULTI is not allowed");
    return Outcome::kDone;
  }
  WatchRegistry* reg = ctx.host.watches();
  if (reg == nullptr) {
    ctx.w.error("ERR WATCH is not available here");
    return Outcome::kDone;
  }
  for (std::size_t i = 1; i < argv.size(); ++i) {
    reg->watch(ctx.client, argv[i], key_fingerprint(ctx.engine, argv[i], ctx.now));
  }
  // A blocked BLPOP/BRPOP served later pops from a list without running a command on it: the
  // store reports each such pop (the fingerprint does not cover a list's contents).
  ctx.engine.data().set_pop_hook([reg](std::string_view key) { reg->touch(key); });
  ctx.w.simple("OK");
  return Outcome::kDone;
}

Outcome cmd_unwatch(CommandContext& ctx, Args) {
  watch_clear(ctx);
  ctx.w.simple("OK");
  return Outcome::kDone;
}

}  // namespace semlock::redis
