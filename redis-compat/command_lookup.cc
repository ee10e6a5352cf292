// Looking commands up: the index over both tables (command_table.cc, command_table_data.cc) that
// the dispatcher consults on every request, and the Redis data commands this server refuses.
#include "absl/container/flat_hash_map.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "redis-compat/args.h"
#include "redis-compat/command_table.h"
#include "redis-compat/commands_data.h"

namespace semlock::redis {
namespace {

// Redis data commands (lower case, sorted): a lock server answers them with a clear error.
constexpr std::array<std::string_view, 94> kDataCommands = {
    "append",      "bitcount",  "bitfield",    "bitop",    "bitpos",     "blmove",    "blmpop",
    "blpop",       "brpop",     "brpoplpush",  "bzmpop",   "bzpopmax",   "bzpopmin",  "copy",
    "decr",        "decrby",    "dump",        "expireat", "expiretime", "flushall",  "flushdb",
    "geoadd",      "geodist",   "geohash",     "geopos",   "geosearch",  "getdel",    "getex",
    "getrange",    "getset",    "hdel",        "hexists",  "hget",       "hgetall",   "hincrby",
    "hkeys",       "hlen",      "hmget",       "hmset",    "hset",       "hsetnx",    "hvals",
    "incr",        "incrby",    "incrbyfloat", "keys",     "lindex",     "linsert",   "llen",
    "lmove",       "lpop",      "lpos",        "lpush",    "lrange",     "lrem",      "lset",
    "ltrim",       "mget",      "move",        "mset",     "msetnx",     "persist",   "pexpireat",
    "pexpiretime", "pfadd",     "pfcount",     "psetex",   "randomkey", "rename",
    "renamenx",    "restore",   "rpop",        "rpush",    "sadd",       "scard",     "setex",
    "setrange",    "sismember", "smembers",    "sort",     "spop",       "srem",      "strlen",
    "type",      "unlink",      "xadd",     "xrange",     "xread",     "zadd",
    "zcard",       "zincrby",   "zrange",      "zrem",     "zscore",
};

const CommandSpec* find_in(std::span<const CommandSpec> table, std::string_view name,
                           std::size_t prefix) {
  for (const auto& spec : table) {
    if (iequals(spec.name.substr(prefix), name)) return &spec;
  }
  return nullptr;
}

}  // namespace

// Top-level lookup is on every request's path: a hash of the lower-cased name instead of a scan.
const CommandSpec* find_command(std::string_view name) {
  static const absl::flat_hash_map<std::string_view, const CommandSpec*> index = [] {
    absl::flat_hash_map<std::string_view, const CommandSpec*> m;
    for (const auto& spec : all_commands()) m.emplace(spec.name, &spec);
    return m;
  }();
  char lower[32];
  if (name.size() > sizeof lower) return nullptr;  // longer than any command name
  // The last name found, spelled as the client spelled it: pipelines repeat one command, and a
  // byte compare is ~10 instructions where lowercasing and hashing are ~300 (issue 18 profile).
  thread_local char last_name[sizeof lower];
  thread_local std::size_t last_len = 0;
  thread_local const CommandSpec* last_spec = nullptr;
  if (last_spec != nullptr && name.size() == last_len &&
      std::memcmp(name.data(), last_name, last_len) == 0) {
    return last_spec;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const auto it = index.find(std::string_view(lower, name.size()));
  if (it == index.end()) return nullptr;
  std::memcpy(last_name, name.data(), name.size());
  last_len = name.size();
  last_spec = it->second;
  return it->second;
}

const CommandSpec* find_subcommand(const CommandSpec& parent, std::string_view name) {
  return find_in(parent.subcommands, name, parent.name.size() + 1);
}

std::span<const CommandSpec> all_commands() {
  // The lock and connection commands, then the data commands (command_table_data.cc).
  static const std::vector<CommandSpec> all = [] {
    const auto lock = lock_commands();
    std::vector<CommandSpec> v(lock.begin(), lock.end());
    const auto data = data_commands();
    v.insert(v.end(), data.begin(), data.end());
    return v;
  }();
  return all;
}

bool is_redis_data_command(std::string_view lower_name) {
  return std::binary_search(kDataCommands.begin(), kDataCommands.end(), lower_name);
}

}  // namespace semlock::redis
