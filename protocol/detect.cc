#include "protocol/detect.h"

#include <cstddef>

namespace semlock {
namespace {

constexpr std::size_t kMaxFirstLine = 8 * 1024;

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_target_char(char c) {
  return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) != 0x7f;
}

// Outcome of matching a (possibly partial) first line against "METHOD /target HTTP/1.d\r?\n".
enum class Match : std::uint8_t { kYes, kNo, kPrefix };

Match match_request_line(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n && is_upper(s[i])) ++i;
  if (i == n) return Match::kPrefix;
  if (i == 0 || s[i] != ' ') return Match::kNo;
  ++i;
  if (i == n) return Match::kPrefix;
  if (s[i] != '/') return Match::kNo;
  while (i < n && is_target_char(s[i])) ++i;
  if (i == n) return Match::kPrefix;
  if (s[i] != ' ') return Match::kNo;
  ++i;
  constexpr std::string_view kVersion = "HTTP/1.";
  for (const char c : kVersion) {
    if (i == n) return Match::kPrefix;
    if (s[i] != c) return Match::kNo;
    ++i;
  }
  if (i == n) return Match::kPrefix;
  if (!is_digit(s[i])) return Match::kNo;
  ++i;
  if (i < n && s[i] == '\r') ++i;
  if (i == n) return Match::kPrefix;
  return s[i] == '\n' ? Match::kYes : Match::kNo;
}

}  // namespace

WireProtocol detect_protocol(std::string_view first_bytes) {
  std::size_t i = 0;
  while (i < first_bytes.size() && is_blank(first_bytes[i])) ++i;
  // Blanks alone are not a protocol; past the look-ahead bound the RESP reader deals with them.
  if (i > kMaxFirstLine) return WireProtocol::kResp;
  if (i == first_bytes.size()) return WireProtocol::kUnknown;
  if (first_bytes[i] == '{') return WireProtocol::kJson;
  if (first_bytes[i] == '*') return WireProtocol::kResp;
  std::string_view line = first_bytes.substr(i);
  const bool truncated = line.size() > kMaxFirstLine;
  if (truncated) line = line.substr(0, kMaxFirstLine);
  switch (match_request_line(line)) {
    case Match::kYes:
      return WireProtocol::kHttp;
    case Match::kNo:
      return WireProtocol::kResp;
    case Match::kPrefix:
      return truncated ? WireProtocol::kResp : WireProtocol::kUnknown;
  }
  return WireProtocol::kResp;
}

}  // namespace semlock
