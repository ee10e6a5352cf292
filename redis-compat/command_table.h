// The declarative Redis command table (STYLE item 4): name, arity, flags, key positions and the
// handler of every command the lock port answers over RESP. Arity and unknown-command checks live
// in one place (dispatch.cc); COMMAND COUNT/INFO/DOCS/LIST are rendered from this table.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace semlock::redis {

struct CommandContext;
enum class Outcome : std::uint8_t;

enum CommandFlag : std::uint32_t {
  kNoAuth = 1u << 0,    // allowed before AUTH (AUTH, HELLO, PING, QUIT)
  kAdmin = 1u << 1,     // needs an admin key when admin_api_keys is set
  kBlocking = 1u << 2,  // may block (WAIT): never inside MULTI or a script
  kWrite = 1u << 3,
  kReadonly = 1u << 4,
  kFast = 1u << 5,
  kNoMulti = 1u << 6,  // executed at once even inside MULTI (EXEC, DISCARD, MULTI, QUIT, ...)
  kLoading = 1u << 7,
  kStale = 1u << 8,
  kNoScript = 1u << 9,  // refused inside scripts (MULTI, EVAL, HELLO, AUTH, ...)
  // Keys as EVAL gives them: a count at argv[2], the keys after it (COMMAND INFO "movablekeys",
  // a keynum key spec). first_key/last_key/key_step are 0 then, as Redis reports them.
  kKeyNum = 1u << 10,
};

using Args = std::span<const std::string_view>;
using Handler = Outcome (*)(CommandContext& ctx, Args argv);

struct CommandSpec {
  std::string_view name;  // lower case, as Redis reports it ("semlock.acquire", "client|setname")
  int arity;              // argc including the name; negative = at least -arity
  std::uint32_t flags;
  int first_key, last_key, key_step;
  std::string_view group;  // COMMAND DOCS group
  std::string_view since;
  std::string_view summary;
  std::string_view syntax;  // arguments after the name, as redis-cli hints show them
  Handler handler;
  std::span<const CommandSpec> subcommands;  // container commands (CLIENT, COMMAND, SCRIPT)
};

// Case-insensitive lookup of a top-level command; nullptr when unknown.
const CommandSpec* find_command(std::string_view name);
// Case-insensitive lookup of a subcommand of a container command; nullptr when unknown.
const CommandSpec* find_subcommand(const CommandSpec& parent, std::string_view name);
std::span<const CommandSpec> all_commands();

// Redis data commands that a lock server does not serve: they get kNotALockServer, not
// "unknown command".
bool is_redis_data_command(std::string_view lower_name);

}  // namespace semlock::redis
