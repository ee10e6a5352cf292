#include "protocol/resp_reply.h"

#include <charconv>

namespace semlock::resp {
namespace {

// Position just past the CRLF of the line starting at `pos`, or 0 when incomplete.
std::size_t line_end(std::string_view in, std::size_t pos) {
  const std::size_t cr = in.find("\r\n", pos);
  return cr == std::string_view::npos ? 0 : cr + 2;
}

bool parse_count(std::string_view text, long long& n) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// One value starting at `pos`: its end, 0 when incomplete, kMalformed when not RESP.
std::size_t value_end(std::string_view in, std::size_t pos, int depth) {
  if (depth > 64) return kMalformed;
  if (pos >= in.size()) return 0;
  const char type = in[pos];
  const std::size_t end = line_end(in, pos);
  if (end == 0) return 0;
  const std::string_view head = in.substr(pos + 1, end - 2 - pos - 1);
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case '#':
    case ',':
    case '(':
      return end;
    case '$':
    case '!':
    case '=': {
      long long n = 0;
      if (!parse_count(head, n) || n < -1) return kMalformed;
      if (n == -1) return end;
      const std::size_t total = end + static_cast<std::size_t>(n) + 2;
      return in.size() < total ? 0 : total;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      long long n = 0;
      if (!parse_count(head, n) || n < -1) return kMalformed;
      if (n == -1) return end;
      long long items = (type == '%' || type == '|') ? 2 * n : n;
      std::size_t at = end;
      for (long long i = 0; i < items; ++i) {
        at = value_end(in, at, depth + 1);
        if (at == 0 || at == kMalformed) return at;
      }
      // An attribute annotates the value that follows it: both are one reply.
      if (type == '|') return value_end(in, at, depth + 1);
      return at;
    }
    default:
      return kMalformed;
  }
}

}  // namespace

std::size_t reply_length(std::string_view in) {
  return value_end(in, 0, 0);
}

void encode_command(const std::vector<std::string_view>& argv, std::string& out) {
  out += '*';
  out += std::to_string(argv.size());
  out += "\r\n";
  for (std::string_view a : argv) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a);
    out += "\r\n";
  }
}

void encode_command(std::initializer_list<std::string_view> argv, std::string& out) {
  encode_command(std::vector<std::string_view>(argv), out);
}

std::optional<std::string> granted_owner(std::string_view reply) {
  if (!reply.starts_with("*2\r\n$")) return std::nullopt;
  const std::size_t end = line_end(reply, 4);
  if (end == 0) return std::nullopt;
  long long n = 0;
  if (!parse_count(reply.substr(5, end - 2 - 5), n) || n < 0) return std::nullopt;
  if (reply.size() < end + static_cast<std::size_t>(n)) return std::nullopt;
  return std::string(reply.substr(end, static_cast<std::size_t>(n)));
}

}  // namespace semlock::resp
