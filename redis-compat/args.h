// Small argument helpers shared by the RESP command handlers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace semlock::redis {

// Redis's string2ll: optional '-', digits, no spaces or '+', no leading zeros, fits int64.
std::optional<std::int64_t> parse_int64(std::string_view s);
// Unsigned 64-bit decimal (SCAN cursors).
std::optional<std::uint64_t> parse_uint64(std::string_view s);
// ASCII case-insensitive equality. Inline: option parsing calls it a few times per command.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace semlock::redis
