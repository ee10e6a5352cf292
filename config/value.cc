#include "config/value.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "config/duration.h"

namespace semlock::config::detail {
namespace {

const rapidjson::Value* json_of(const Input& in) {
  const auto* json = std::get_if<const rapidjson::Value*>(&in);
  return json != nullptr ? *json : nullptr;
}

std::string_view text_of(const Input& in) {
  return std::get<std::string_view>(in);
}

// " , got \"abc\"" for text sources; JSON type errors stay short (`must be an integer`).
std::string with_got(std::string message, const Input& in) {
  if (json_of(in) != nullptr) return message;
  return message + ", got " + quote(text_of(in));
}

std::string uint_range(std::uint64_t min, std::uint64_t max) {
  if (max == std::numeric_limits<std::uint64_t>::max()) {
    return "must be at least " + std::to_string(min);
  }
  return "must be " + std::to_string(min) + ".." + std::to_string(max);
}

std::string duration_range(Millis min, Millis max) {
  if (max == std::numeric_limits<Millis>::max()) return "must be at least " + format_duration(min);
  return "must be " + format_duration(min) + ".." + format_duration(max);
}

template <typename T>
Parsed<T> fail(std::string error) {
  return Parsed<T>{std::nullopt, std::move(error)};
}

template <typename T>
Parsed<T> ok(T value) {
  return Parsed<T>{std::move(value), {}};
}

constexpr std::string_view kDurationShape =
    "must be a duration such as \"5s\", \"250ms\", \"24h\" or a number of seconds";

}  // namespace

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  }
  out += '"';
  return out;
}

Parsed<std::uint64_t> read_uint(const Input& in, std::uint64_t min, std::uint64_t max) {
  std::uint64_t value = 0;
  if (const rapidjson::Value* json = json_of(in)) {
    if (json->IsUint64()) {
      value = json->GetUint64();
    } else if (json->IsInt64()) {
      return fail<std::uint64_t>(uint_range(min, max) + ", got " +
                                 std::to_string(json->GetInt64()));
    } else {
      return fail<std::uint64_t>("must be an integer");
    }
  } else {
    const std::string_view text = text_of(in);
    const char* end = text.data() + text.size();
    const bool negative = text.starts_with('-');
    const char* begin = text.data() + (negative ? 1 : 0);
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    const bool all_digits =
        begin != end && ptr == end && (ec == std::errc{} || ec == std::errc::result_out_of_range);
    if (!all_digits) {
      return fail<std::uint64_t>(with_got("must be an integer", in));
    }
    if (negative || ec == std::errc::result_out_of_range) {
      return fail<std::uint64_t>(uint_range(min, max) + ", got " + std::string(text));
    }
  }
  if (value < min || value > max) {
    return fail<std::uint64_t>(uint_range(min, max) + ", got " + std::to_string(value));
  }
  return ok(value);
}

Parsed<double> read_number(const Input& in) {
  if (const rapidjson::Value* json = json_of(in)) {
    if (!json->IsNumber()) return fail<double>("must be a number");
    return ok(json->GetDouble());
  }
  const std::string_view text = text_of(in);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    return fail<double>(with_got("must be a number", in));
  }
  return ok(value);
}

Parsed<bool> read_bool(const Input& in) {
  if (const rapidjson::Value* json = json_of(in)) {
    if (!json->IsBool()) return fail<bool>("must be true or false");
    return ok(json->GetBool());
  }
  const std::string_view text = text_of(in);
  if (text == "true" || text == "1") return ok(true);
  if (text == "false" || text == "0") return ok(false);
  return fail<bool>(with_got("must be true, false, 1 or 0", in));
}

Parsed<std::string> read_string(const Input& in, bool non_empty) {
  std::string value;
  if (const rapidjson::Value* json = json_of(in)) {
    if (!json->IsString()) return fail<std::string>("must be a string");
    value.assign(json->GetString(), json->GetStringLength());
  } else {
    value = std::string(text_of(in));
  }
  if (non_empty && value.empty()) return fail<std::string>("must not be empty");
  return ok(std::move(value));
}

Parsed<std::string> read_choice(const Input& in, const std::vector<std::string_view>& choices) {
  std::string allowed = "must be one of ";
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i != 0) allowed += ", ";
    allowed += choices[i];
  }
  std::string_view value;
  if (const rapidjson::Value* json = json_of(in)) {
    if (!json->IsString()) return fail<std::string>(allowed);
    value = std::string_view(json->GetString(), json->GetStringLength());
  } else {
    value = text_of(in);
  }
  for (std::string_view choice : choices) {
    if (value == choice) return ok(std::string(choice));
  }
  return fail<std::string>(allowed + ", got " + quote(value));
}

Parsed<Millis> read_duration(const Input& in, Millis min, Millis max) {
  std::optional<Millis> value;
  if (const rapidjson::Value* json = json_of(in)) {
    if (json->IsUint64()) {
      const std::uint64_t seconds = json->GetUint64();
      if (seconds <= static_cast<std::uint64_t>(std::numeric_limits<Millis>::max() / 1000)) {
        value = static_cast<Millis>(seconds) * 1000;
      }
    } else if (json->IsNumber()) {
      const double seconds = json->GetDouble();
      // 9e15 ms is ~285,000 years: anything above is a typo, and it keeps the cast defined.
      if (seconds >= 0 && seconds < 9e12) {
        value = static_cast<Millis>(std::ceil(seconds * 1000.0 - 1e-9));
      }
    } else if (json->IsString()) {
      value = parse_duration(std::string_view(json->GetString(), json->GetStringLength()));
      if (!value) {
        return fail<Millis>(std::string(kDurationShape) + ", got " +
                            quote(std::string_view(json->GetString(), json->GetStringLength())));
      }
    }
    if (!value) return fail<Millis>(std::string(kDurationShape));
  } else {
    value = parse_duration(text_of(in));
    if (!value) return fail<Millis>(with_got(std::string(kDurationShape), in));
  }
  if (*value < min || *value > max) {
    return fail<Millis>(duration_range(min, max) + ", got " + format_duration(*value));
  }
  return ok(*value);
}

Parsed<std::vector<std::string>> read_list(const Input& in) {
  std::vector<std::string> items;
  if (const rapidjson::Value* json = json_of(in)) {
    constexpr std::string_view kShape = "must be an array of non-empty strings";
    if (!json->IsArray()) return fail<std::vector<std::string>>(std::string(kShape));
    for (const rapidjson::Value& item : json->GetArray()) {
      if (!item.IsString() || item.GetStringLength() == 0) {
        return fail<std::vector<std::string>>(std::string(kShape));
      }
      items.emplace_back(item.GetString(), item.GetStringLength());
    }
    return ok(std::move(items));
  }
  std::string_view rest = text_of(in);
  while (true) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return ok(std::move(items));
}

}  // namespace semlock::config::detail
