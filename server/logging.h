// Logging as TtlSemLock writes it (SPEC §6): text lines
//   [2024-12-20T15:30:45+03:00] warn: Lock count warning: 85.2% of limit (85234/100000)
// or, with logging.format "json", one object a line
//   {"timestamp":"2024-12-20T15:30:45Z","level":"warn","message":"...", ...fields}
// Level names are TtlSemLock's: debug, info, warn, error (spdlog's own say "warning").
#pragma once

#include <spdlog/spdlog.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace semlock::log {

struct Options {
  std::string level = "info";   // debug | info | warn | error
  std::string format = "text";  // text | json
  std::string file;             // "" = stderr
};

// Installs the default logger. Returns an error text when the file cannot be opened.
std::string setup(const Options& options);
// Changes the level (CONFIG SET logging.level, SIGHUP): debug | info | warn | error.
void set_level(const std::string& level);
// Reopens the log file (SIGHUP, after logrotate moved it). No-op for stderr.
std::string reopen();

// One structured field's value, typed by what the caller passes: strings stay strings, integers
// and finite floating-point numbers are numbers, bool is a boolean. JSON logs write numbers and
// booleans bare (log pipelines then index them as numbers: "ms > 100" works), text logs write
// every kind as k=v.
class Value {
 public:
  enum class Kind : std::uint8_t { kString, kNumber, kBool };
  Value(std::string s) : text_(std::move(s)) {}                       // NOLINT: implicit on purpose
  Value(std::string_view s) : text_(s) {}                             // NOLINT
  Value(const char* s) : text_(s) {}                                  // NOLINT
  Value(bool b) : text_(b ? "true" : "false"), kind_(Kind::kBool) {}  // NOLINT
  template <std::integral T>  // bool takes the exact overload above
  Value(T v) : text_(std::to_string(v)), kind_(Kind::kNumber) {}  // NOLINT
  Value(double v);                                                // NOLINT: NaN/inf: a string
  const std::string& text() const { return text_; }
  Kind kind() const { return kind_; }

 private:
  std::string text_;
  Kind kind_ = Kind::kString;
};

// Structured fields: JSON format appends them to the object; text format appends " k=v".
using Fields = std::vector<std::pair<std::string_view, Value>>;
void write(spdlog::level::level_enum level, std::string_view message, const Fields& fields = {});

inline void info(std::string_view m, const Fields& f = {}) {
  write(spdlog::level::info, m, f);
}
inline void warn(std::string_view m, const Fields& f = {}) {
  write(spdlog::level::warn, m, f);
}
inline void error(std::string_view m, const Fields& f = {}) {
  write(spdlog::level::err, m, f);
}
inline void debug(std::string_view m, const Fields& f = {}) {
  write(spdlog::level::debug, m, f);
}

// TtlSemLock's name of a level.
std::string_view level_name(spdlog::level::level_enum level);

}  // namespace semlock::log
