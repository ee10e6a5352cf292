// Argument checks and error replies shared by the RESP command handlers. Each writes its error
// reply and returns false (or nullopt) when the argument is refused.
#pragma once

#include <optional>
#include <string_view>

#include "redis-compat/context.h"

namespace semlock::redis {

// Writes the error for an engine status (and reports limit rejections to the Host); true when
// the status was an error.
bool reply_status_error(CommandContext& ctx, EngineStatus status);
// A millisecond count within 1..max_ttl (0 allowed when `allow_zero`): ERR not-an-integer when it
// is not a number, `range_error` when out of range.
std::optional<Millis> parse_ms(CommandContext& ctx, std::string_view arg,
                               std::string_view range_error, bool allow_zero);
// Non-empty and at most limits.max_key_bytes.
bool check_key(CommandContext& ctx, std::string_view key);
// 1..128 bytes.
bool check_owner(CommandContext& ctx, std::string_view owner);

}  // namespace semlock::redis
