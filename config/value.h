#pragma once

// Typed readers shared by the three sources of a setting. A file gives typed JSON values, an
// environment variable or a flag gives text; both go through the same reader so a key accepts the
// same values and gives the same range message wherever it comes from. A reader's error is the
// part after "<key path>: " (e.g. `must be 1..65535, got 70000`); the caller adds the path.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <rapidjson/document.h>

#include "config/config.h"

namespace semlock::config::detail {

// A JSON value from the config file, or the text of an environment variable or flag.
using Input = std::variant<const rapidjson::Value*, std::string_view>;

// A value, or why it was refused.
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;
};

// Unsigned integer in [min, max]. JSON must be an integer; text must be decimal digits.
Parsed<std::uint64_t> read_uint(const Input& in, std::uint64_t min, std::uint64_t max);

// Any finite number (range checks are the key's, as their wording differs).
Parsed<double> read_number(const Input& in);

// JSON true/false; text true, false, 1 or 0.
Parsed<bool> read_bool(const Input& in);

// JSON string or any text; `non_empty` refuses "".
Parsed<std::string> read_string(const Input& in, bool non_empty);

// One of `choices` exactly (case-sensitive, as the JSON examples spell them).
Parsed<std::string> read_choice(const Input& in, const std::vector<std::string_view>& choices);

// Duration in [min, max]: JSON number of seconds or duration string; text as parse_duration.
Parsed<Millis> read_duration(const Input& in, Millis min, Millis max);

// JSON array of non-empty strings; text "a,b,c" (items trimmed, empty items dropped).
Parsed<std::vector<std::string>> read_list(const Input& in);

// `"text"` for messages, with control characters dropped so a message stays one line.
std::string quote(std::string_view text);

}  // namespace semlock::config::detail
