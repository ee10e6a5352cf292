#include "config/duration.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace semlock::config {
namespace {

constexpr std::uint64_t kNanosPerMilli = 1'000'000;
// Exact integer nanoseconds keep "0.3s" at 300 ms (a double would round it either way) and bound
// every duration at about 292 years, far past any TTL or interval worth configuring.
constexpr std::uint64_t kMaxNanos = static_cast<std::uint64_t>(std::numeric_limits<Millis>::max());

struct Unit {
  std::string_view suffix;
  std::uint64_t nanos;
};
// Longer suffixes first so "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1'000},
                           {"ms", 1'000'000},
                           {"s", 1'000'000'000},
                           {"m", 60'000'000'000},
                           {"h", 3'600'000'000'000}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool add_checked(std::uint64_t& total, std::uint64_t add) {
  if (add > kMaxNanos - total) return false;
  total += add;
  return true;
}

// Reads one "digits[.digits]" and an optional unit (seconds when absent) starting at `pos`.
// Adds the value to `total_ns`. Returns false on a malformed number or overflow.
bool read_segment(std::string_view text, std::size_t& pos, std::uint64_t& total_ns,
                  bool& had_unit) {
  const std::size_t int_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  const std::string_view int_digits = text.substr(int_begin, pos - int_begin);
  std::string_view frac_digits;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    frac_digits = text.substr(frac_begin, pos - frac_begin);
  }
  if (int_digits.empty() && frac_digits.empty()) return false;

  std::uint64_t unit_nanos = 1'000'000'000;
  had_unit = false;
  for (const Unit& unit : kUnits) {
    if (text.substr(pos).starts_with(unit.suffix)) {
      unit_nanos = unit.nanos;
      pos += unit.suffix.size();
      had_unit = true;
      break;
    }
  }

  std::uint64_t whole = 0;
  for (char c : int_digits) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (whole > (kMaxNanos - digit) / 10) return false;
    whole = whole * 10 + digit;
  }
  if (whole != 0 && whole > kMaxNanos / unit_nanos) return false;
  if (!add_checked(total_ns, whole * unit_nanos)) return false;

  // Fraction digit by digit; digits finer than a nanosecond only round the total up.
  std::uint64_t scale = unit_nanos;
  bool below_nanosecond = false;
  for (char c : frac_digits) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (scale % 10 == 0) {
      scale /= 10;
      if (!add_checked(total_ns, digit * scale)) return false;
    } else if (digit != 0) {
      below_nanosecond = true;
    }
  }
  if (below_nanosecond && !add_checked(total_ns, 1)) return false;
  return true;
}

}  // namespace

std::optional<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t total_ns = 0;
  std::size_t pos = 0;
  int segments = 0;
  bool last_had_unit = true;
  while (pos < text.size()) {
    // A unitless number means seconds, and only on its own ("90", not "1m30").
    if (!last_had_unit) return std::nullopt;
    if (!read_segment(text, pos, total_ns, last_had_unit)) return std::nullopt;
    ++segments;
  }
  if (!last_had_unit && segments > 1) return std::nullopt;
  return static_cast<Millis>((total_ns + kNanosPerMilli - 1) / kNanosPerMilli);
}

std::string format_duration(Millis ms) {
  if (ms == 0) return "0ms";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace semlock::config
