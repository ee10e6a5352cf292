// Small argument helpers shared by the RESP command handlers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace semlock::redis {

// Redis's string2ll: optional '-', digits, no spaces or '+', no leading zeros, fits int64.
std::optional<std::int64_t> parse_int64(std::string_view s);
// Unsigned 64-bit decimal (SCAN cursors).
std::optional<std::uint64_t> parse_uint64(std::string_view s);
// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

}  // namespace semlock::redis
