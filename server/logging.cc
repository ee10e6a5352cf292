#include "server/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>

namespace semlock::log {
namespace {

Options g_options;
bool g_json = false;

std::string timestamp(bool utc) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  char buf[40];
  if (utc) {
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  std::string s(buf);
  if (s.size() >= 5) s.insert(s.size() - 2, ":");  // +0300 -> +03:00
  return s;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

spdlog::level::level_enum parse_level(std::string_view name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return spdlog::level::info;
}

std::string install(const Options& options) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (options.file.empty()) {
      logger = std::make_shared<spdlog::logger>("ttl-semlock",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    } else {
      logger = std::make_shared<spdlog::logger>(
          "ttl-semlock", std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, false));
    }
  } catch (const spdlog::spdlog_ex& e) {
    return std::string("logging.file: cannot open ") + options.file + ": " + e.what();
  }
  // The whole line is composed in write(): timestamp and level names are TtlSemLock's.
  logger->set_pattern("%v");
  logger->set_level(parse_level(options.level));
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  return "";
}

}  // namespace

Value::Value(double v) {
  if (!std::isfinite(v)) {
    text_ = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // the shortest form that reads back
  text_.assign(buf, r.ptr);
  kind_ = Kind::kNumber;
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    default:
      return "error";
  }
}

std::string setup(const Options& options) {
  g_options = options;
  g_json = options.format == "json";
  return install(options);
}

std::string reopen() {
  if (g_options.file.empty()) return "";
  return install(g_options);
}

void write(spdlog::level::level_enum level, std::string_view message, const Fields& fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  std::string line;
  if (g_json) {
    line = "{\"timestamp\":";
    append_json_string(line, timestamp(true));
    line += ",\"level\":";
    append_json_string(line, level_name(level));
    line += ",\"message\":";
    append_json_string(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      append_json_string(line, key);
      line += ':';
      if (value.kind() == Value::Kind::kString) {
        append_json_string(line, value.text());
      } else {
        line += value.text();
      }
    }
    line += '}';
  } else {
    line = "[" + timestamp(false) + "] ";
    line += level_name(level);
    line += ": ";
    line += message;
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      line += value.text();
    }
  }
  logger->log(level, "{}", line);
}

void set_level(const std::string& level) {
  if (auto logger = spdlog::default_logger()) logger->set_level(parse_level(level));
}

}  // namespace semlock::log
