#include "redis-compat/command_table.h"

#include <algorithm>
#include <array>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"

namespace semlock::redis {
namespace {

constexpr std::uint32_t kLockWrite = kWrite | kFast;
constexpr std::uint32_t kConn = kFast | kLoading | kStale;

constexpr CommandSpec kClientSubcommands[] = {
    {"client|setname", 3, kConn, 0, 0, 0, "connection", "2.6.9", "Sets the connection name.",
     "connection-name", cmd_client_setname, {}},
    {"client|getname", 2, kConn, 0, 0, 0, "connection", "2.6.9",
     "Returns the name of the connection.", "", cmd_client_getname, {}},
    {"client|id", 2, kConn, 0, 0, 0, "connection", "5.0.0",
     "Returns the unique client ID of the connection.", "", cmd_client_id, {}},
    {"client|setinfo", 4, kConn, 0, 0, 0, "connection", "7.2.0",
     "Sets information specific to the client or connection.", "LIB-NAME libname | LIB-VER libver",
     cmd_client_setinfo, {}},
    {"client|info", 2, kConn, 0, 0, 0, "connection", "6.2.0",
     "Returns information about the connection.", "", cmd_client_info, {}},
    {"client|list", -2, kAdmin | kLoading | kStale, 0, 0, 0, "connection", "2.4.0",
     "Lists open connections.", "[TYPE type] [ID client-id ...]", cmd_client_list, {}},
};

constexpr CommandSpec kCommandSubcommands[] = {
    {"command|count", 2, kConn, 0, 0, 0, "server", "2.8.13",
     "Returns a count of commands.", "", cmd_command_count, {}},
    {"command|info", -2, kConn, 0, 0, 0, "server", "2.8.13",
     "Returns information about one, multiple or all commands.", "[command-name ...]",
     cmd_command_info, {}},
    {"command|docs", -2, kConn, 0, 0, 0, "server", "7.0.0",
     "Returns documentary information about one, multiple or all commands.",
     "[command-name ...]", cmd_command_docs, {}},
    {"command|list", -2, kConn, 0, 0, 0, "server", "7.0.0", "Returns a list of command names.",
     "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]", cmd_command_list, {}},
};

constexpr CommandSpec kCommands[] = {
    // The lock commands (SPEC §3).
    {"semlock.acquire", -3, kLockWrite | kBlocking, 1, 1, 1, "semlock", "0.8.0",
     "Acquires a permit of a TTL lock or counting semaphore; replies [owner, fence] or null.",
     "key ttl-ms [OWNER owner] [LIMIT n] [WAIT ms] [SESSION]", cmd_acquire, {}},
    {"semlock.release", 3, kLockWrite, 1, 1, 1, "semlock", "0.8.0",
     "Releases the permit held by owner: 1 released, 0 not held.", "key owner", cmd_release, {}},
    {"semlock.extend", 4, kLockWrite, 1, 1, 1, "semlock", "0.8.0",
     "Sets the deadline of owner's permit to now + ttl-ms: 1 extended, 0 not held.",
     "key owner ttl-ms", cmd_extend, {}},
    {"semlock.exists", 2, kReadonly | kFast, 1, 1, 1, "semlock", "0.8.0",
     "1 when the key has a live holder, else 0.", "key", cmd_exists, {}},
    {"semlock.info", 2, kReadonly | kFast, 1, 1, 1, "semlock", "0.8.0",
     "Limit, holders [owner, fence, ttl-ms] and waiter count of a key; null when not held.", "key",
     cmd_info, {}},
    {"semlock.forcerelease", 2, kWrite | kAdmin, 1, 1, 1, "semlock", "0.8.0",
     "Removes every holder of a key; replies how many.", "key", cmd_forcerelease, {}},
    {"semlock.scan", -2, kReadonly | kAdmin, 0, 0, 0, "semlock", "0.8.0",
     "Iterates held keys with a cursor, as SCAN.", "cursor [MATCH pattern] [COUNT count]",
     cmd_scan, {}},
    {"semlock.list", -1, kReadonly | kAdmin, 0, 0, 0, "semlock", "0.8.0",
     "Up to COUNT (default 100) held keys.", "[MATCH pattern] [COUNT count]", cmd_list, {}},
    {"semlock.stats", 1, kReadonly | kFast, 0, 0, 0, "semlock", "0.8.0", "Server counters.", "",
     cmd_stats, {}},
    // Connection and introspection commands, answered as Redis answers them.
    {"ping", -1, kConn | kNoAuth, 0, 0, 0, "connection", "1.0.0", "Returns the server's liveliness response.",
     "[message]", cmd_ping, {}},
    {"echo", 2, kConn, 0, 0, 0, "connection", "1.0.0", "Returns the given string.", "message",
     cmd_echo, {}},
    {"quit", -1, kConn | kNoAuth | kNoMulti, 0, 0, 0, "connection", "1.0.0",
     "Closes the connection.", "", cmd_quit, {}},
    {"reset", 1, kConn | kNoAuth | kNoMulti, 0, 0, 0, "connection", "6.2.0",
     "Resets the connection.", "", cmd_reset, {}},
    {"hello", -1, kConn | kNoAuth | kNoMulti, 0, 0, 0, "connection", "6.0.0",
     "Handshakes with the server.",
     "[protover [AUTH username password] [SETNAME clientname]]", cmd_hello, {}},
    {"auth", -2, kConn | kNoAuth | kNoMulti, 0, 0, 0, "connection", "1.0.0",
     "Authenticates the connection.", "[username] password", cmd_auth, {}},
    {"select", 2, kConn, 0, 0, 0, "connection", "1.0.0",
     "Changes the selected database (only 0 exists).", "index", cmd_select, {}},
    {"client", -2, kConn, 0, 0, 0, "connection", "2.4.0",
     "A container for client connection commands.", "", nullptr, kClientSubcommands},
    {"info", -1, kLoading | kStale, 0, 0, 0, "server", "1.0.0",
     "Returns information and statistics about the server.", "[section [section ...]]",
     cmd_info_server, {}},
    {"command", -1, kConn, 0, 0, 0, "server", "2.8.13",
     "Returns detailed information about all commands.", "", cmd_command, kCommandSubcommands},
    {"dbsize", 1, kReadonly | kFast, 0, 0, 0, "server", "1.0.0",
     "Returns the number of lock keys.", "", cmd_dbsize, {}},
    {"time", 1, kConn, 0, 0, 0, "server", "2.6.0", "Returns the server time.", "", cmd_time, {}},
    {"multi", 1, kConn | kNoMulti, 0, 0, 0, "transactions", "1.2.0", "Starts a transaction.", "",
     cmd_multi, {}},
    {"exec", 1, kNoMulti, 0, 0, 0, "transactions", "1.2.0",
     "Executes all commands in a transaction.", "", cmd_exec, {}},
    {"discard", 1, kConn | kNoMulti, 0, 0, 0, "transactions", "2.0.0",
     "Discards a transaction.", "", cmd_discard, {}},
};

// Redis data commands (lower case, sorted): a lock server answers them with a clear error.
constexpr std::array<std::string_view, 96> kDataCommands = {
    "append",     "bitcount",   "bitfield",  "bitop",      "bitpos",      "blmove",
    "blmpop",     "blpop",      "brpop",     "brpoplpush", "bzmpop",      "bzpopmax",
    "bzpopmin",   "copy",       "decr",      "decrby",     "dump",        "expireat",
    "expiretime", "flushall",   "flushdb",   "geoadd",     "geodist",     "geohash",
    "geopos",     "geosearch",  "getdel",    "getex",      "getrange",    "getset",
    "hdel",       "hexists",    "hget",      "hgetall",    "hincrby",     "hkeys",
    "hlen",       "hmget",      "hmset",     "hset",       "hsetnx",      "hvals",
    "incr",       "incrby",     "incrbyfloat", "keys",     "lindex",      "linsert",
    "llen",       "lmove",      "lpop",      "lpos",       "lpush",       "lrange",
    "lrem",       "lset",       "ltrim",     "mget",       "move",        "mset",
    "msetnx",     "persist",    "pexpireat", "pexpiretime", "pfadd",      "pfcount",
    "psetex",     "publish",    "randomkey", "rename",     "renamenx",    "restore",
    "rpop",       "rpush",      "sadd",      "scard",      "setex",       "setrange",
    "sismember",  "smembers",   "sort",      "spop",       "srem",        "strlen",
    "subscribe",  "type",       "unlink",    "xadd",       "xrange",      "xread",
    "zadd",       "zcard",      "zincrby",   "zrange",     "zrem",        "zscore",
};

const CommandSpec* find_in(std::span<const CommandSpec> table, std::string_view name,
                           std::size_t prefix) {
  for (const auto& spec : table) {
    if (iequals(spec.name.substr(prefix), name)) return &spec;
  }
  return nullptr;
}

}  // namespace

const CommandSpec* find_command(std::string_view name) { return find_in(kCommands, name, 0); }

const CommandSpec* find_subcommand(const CommandSpec& parent, std::string_view name) {
  return find_in(parent.subcommands, name, parent.name.size() + 1);
}

std::span<const CommandSpec> all_commands() { return kCommands; }

bool is_redis_data_command(std::string_view lower_name) {
  return std::binary_search(kDataCommands.begin(), kDataCommands.end(), lower_name);
}

}  // namespace semlock::redis
