// Shared by the data command handlers (commands_string/hash/zset/list/scan.cc): Redis's texts for
// data commands and the lookups every handler starts with.
#pragma once

#include <string>
#include <string_view>

#include "engine/data.h"
#include "redis-compat/command_table.h"
#include "redis-compat/context.h"

namespace semlock::redis {

namespace data_errors {
inline constexpr std::string_view kWrongKind =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kHashNotInteger = "ERR hash value is not an integer";
inline constexpr std::string_view kMinMaxNotFloat = "ERR min or max is not a float";
inline constexpr std::string_view kMustBePositive = "ERR value is out of range, must be positive";
}  // namespace data_errors

// Writes the error of a non-kOk status (WRONGTYPE, the limit texts, key errors); true if it did.
bool reply_data_error(CommandContext& ctx, DataStatus st);

// The key of type `t`: nullptr when absent (nothing written) or when the key holds another type
// (WRONGTYPE written, `failed` set).
DataEntry* lookup(CommandContext& ctx, std::string_view key, DataType t, bool& failed);
// The key of type `t`, created when absent; nullptr after writing the error.
DataEntry* lookup_or_create(CommandContext& ctx, std::string_view key, DataType t);
// Admission for a command that grows an existing value; false after writing the error.
bool admit_growth(CommandContext& ctx);

// server.max_reply_bytes for a command that removes what it answers (LPOP/RPOP/ZPOPMIN with a
// count): true, after writing `ERR reply too large`, when a reply of `bytes` would not fit, so
// the command refuses before it removes anything (the server would otherwise drop the reply and
// the elements with it).
bool refuse_reply_over(CommandContext& ctx, std::size_t bytes);

// A wrong-arity error as the dispatcher words it.
void wrong_arity(CommandContext& ctx, std::string_view command);

// Runs `argv` as another command into a scratch buffer (SETNX, SETEX, ... on top of SET), and
// returns the raw reply bytes.
std::string run_into(CommandContext& ctx, Outcome (*handler)(CommandContext&, Args),
                     std::initializer_list<std::string_view> argv);

// Expiry of a data key (EXPIRE family with NX/XX/GT/LT); `ttl` in ms from now. Writes the reply.
void data_expire(CommandContext& ctx, DataEntry* e, Millis ttl, bool nx, bool xx, bool gt, bool lt);

}  // namespace semlock::redis
