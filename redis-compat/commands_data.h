// Handlers of the data commands (SPEC §3, docs/DATA.md) and the hooks the key commands of
// commands_keys.cc call for data keys.
#pragma once

#include <span>

#include "redis-compat/command_table.h"
#include "redis-compat/context.h"

namespace semlock::redis {

// The data commands' table entries (command_table_data.cc).
std::span<const CommandSpec> data_commands();
// The lock, connection, scripting and pub/sub commands' table entries (command_table.cc).
std::span<const CommandSpec> lock_commands();

// Hooks: each answers and returns true when `key` is a data key, else does nothing.
bool data_get(CommandContext& ctx, std::string_view key);
bool data_ttl(CommandContext& ctx, std::string_view key, bool ms);
bool data_expire_key(CommandContext& ctx, std::string_view key, Millis ttl, bool nx, bool xx,
                     bool gt, bool lt);
bool data_set(CommandContext& ctx, std::string_view key, std::string_view owner, bool nx, bool get,
              Millis ttl);

// Strings and counters (commands_string.cc).
Outcome cmd_incr(CommandContext& ctx, Args argv);
Outcome cmd_decr(CommandContext& ctx, Args argv);
Outcome cmd_incrby(CommandContext& ctx, Args argv);
Outcome cmd_decrby(CommandContext& ctx, Args argv);
Outcome cmd_setnx(CommandContext& ctx, Args argv);
Outcome cmd_setex(CommandContext& ctx, Args argv);
Outcome cmd_psetex(CommandContext& ctx, Args argv);
Outcome cmd_getdel(CommandContext& ctx, Args argv);
Outcome cmd_getex(CommandContext& ctx, Args argv);

// Keys (commands_scan.cc).
Outcome cmd_type(CommandContext& ctx, Args argv);
Outcome cmd_unlink(CommandContext& ctx, Args argv);
Outcome cmd_persist(CommandContext& ctx, Args argv);
Outcome cmd_expireat(CommandContext& ctx, Args argv);
Outcome cmd_pexpireat(CommandContext& ctx, Args argv);
Outcome cmd_scan_keys(CommandContext& ctx, Args argv);
Outcome cmd_keys(CommandContext& ctx, Args argv);

// Hashes (commands_hash.cc).
Outcome cmd_hset(CommandContext& ctx, Args argv);
Outcome cmd_hmset(CommandContext& ctx, Args argv);
Outcome cmd_hsetnx(CommandContext& ctx, Args argv);
Outcome cmd_hget(CommandContext& ctx, Args argv);
Outcome cmd_hmget(CommandContext& ctx, Args argv);
Outcome cmd_hgetall(CommandContext& ctx, Args argv);
Outcome cmd_hkeys(CommandContext& ctx, Args argv);
Outcome cmd_hvals(CommandContext& ctx, Args argv);
Outcome cmd_hdel(CommandContext& ctx, Args argv);
Outcome cmd_hexists(CommandContext& ctx, Args argv);
Outcome cmd_hincrby(CommandContext& ctx, Args argv);
Outcome cmd_hlen(CommandContext& ctx, Args argv);

// Sorted sets (commands_zset.cc).
Outcome cmd_zadd(CommandContext& ctx, Args argv);
Outcome cmd_zrem(CommandContext& ctx, Args argv);
Outcome cmd_zscore(CommandContext& ctx, Args argv);
Outcome cmd_zrank(CommandContext& ctx, Args argv);
Outcome cmd_zcard(CommandContext& ctx, Args argv);
Outcome cmd_zcount(CommandContext& ctx, Args argv);
Outcome cmd_zrange(CommandContext& ctx, Args argv);
Outcome cmd_zrangebyscore(CommandContext& ctx, Args argv);
Outcome cmd_zrevrange(CommandContext& ctx, Args argv);
Outcome cmd_zremrangebyscore(CommandContext& ctx, Args argv);
Outcome cmd_zpopmin(CommandContext& ctx, Args argv);
Outcome cmd_zrevrank(CommandContext& ctx, Args argv);
// Range reads (commands_zrange.cc; ZRANGE, ZRANGEBYSCORE and ZREVRANGE too).
Outcome cmd_zrevrangebyscore(CommandContext& ctx, Args argv);
Outcome cmd_zrangebylex(CommandContext& ctx, Args argv);
Outcome cmd_zrevrangebylex(CommandContext& ctx, Args argv);

// Lists (commands_list.cc).
Outcome cmd_lpush(CommandContext& ctx, Args argv);
Outcome cmd_rpush(CommandContext& ctx, Args argv);
Outcome cmd_lpop(CommandContext& ctx, Args argv);
Outcome cmd_rpop(CommandContext& ctx, Args argv);
Outcome cmd_llen(CommandContext& ctx, Args argv);
Outcome cmd_lrange(CommandContext& ctx, Args argv);
Outcome cmd_lrem(CommandContext& ctx, Args argv);
Outcome cmd_blpop(CommandContext& ctx, Args argv);
Outcome cmd_brpop(CommandContext& ctx, Args argv);

}  // namespace semlock::redis
