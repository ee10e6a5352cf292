#include "protocol/http.h"

#include <algorithm>
#include <charconv>
#include <cstring>

// A deliberately small HTTP/1.x framer: the lock port only needs "POST / + JSON body" and the
// metrics port "GET /metrics". Line ends may be CRLF or bare LF (RFC 9112 §2.2 allows
// accepting LF). Anything ambiguous for request smuggling (Transfer-Encoding, conflicting
// Content-Length, folded headers, space before the colon) is refused.

namespace semlock::http {
namespace {

ParseResult fail(int status) {
  return {Status::kError, 0, status, reason_phrase(status)};
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated, trimmed token of a header value.
template <typename F>
void for_each_token(std::string_view value, F&& f) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    f(trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// Splits off one line (without CR?LF). Returns false when no LF is present.
bool take_line(std::string_view& rest, std::string_view& line) {
  const std::size_t lf = rest.find('\n');
  if (lf == std::string_view::npos) return false;
  line = rest.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  rest.remove_prefix(lf + 1);
  return true;
}

bool parse_request_line(std::string_view line, Request& out) {
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  out.method = line.substr(0, sp1);
  for (const char c : out.method) {
    if (!is_tchar(c)) return false;
  }
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (const char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

namespace {

// The whole parse; `need` gets the request's full size when only the body is missing.
ParseResult parse_whole(std::string_view in, const Limits& limits, Request& out,
                        std::size_t& need) {
  out = Request{};
  // RFC 9112 §2.2: ignore empty lines before the request line (some clients send a CRLF
  // after a POST body).
  std::size_t start = 0;
  while (start < in.size() && (in[start] == '\r' || in[start] == '\n')) ++start;
  if (start == in.size()) return start > limits.max_header_bytes ? fail(400) : ParseResult{};

  // The head must end within max_header_bytes; look no further so that the outcome does not
  // depend on how much was buffered.
  std::string_view window = in.substr(start, limits.max_header_bytes);
  std::string_view rest = window;
  std::string_view line;
  if (!take_line(rest, line)) {
    return window.size() >= limits.max_header_bytes ? fail(431) : ParseResult{};
  }
  // A CR inside a line (not before its LF) is a smuggling vector (RFC 9112 §2.2).
  if (line.find('\r') != std::string_view::npos || !parse_request_line(line, out)) {
    return fail(400);
  }
  const std::string_view version = line.substr(out.method.size() + out.target.size() + 2);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(400);
  }
  if (version[5] != '1') return fail(505);
  out.minor_version = version[7] - '0';
  out.keep_alive = out.minor_version >= 1;

  bool have_length = false;
  std::size_t content_length = 0;
  bool close = false;
  bool keep_alive = false;
  while (true) {
    if (!take_line(rest, line)) {
      return window.size() >= limits.max_header_bytes ? fail(431) : ParseResult{};
    }
    if (line.empty()) break;
    if (line.find('\r') != std::string_view::npos) return fail(400);
    if (line.front() == ' ' || line.front() == '\t') return fail(400);  // obsolete folding
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400);
    const std::string_view name = line.substr(0, colon);
    for (const char c : name) {
      if (!is_tchar(c)) return fail(400);
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      const auto res = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || res.ec != std::errc() || res.ptr != value.data() + value.size()) {
        return fail(400);
      }
      if (have_length && n != content_length) return fail(400);
      have_length = true;
      content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      return fail(411);
    } else if (iequals(name, "connection")) {
      for_each_token(value, [&](std::string_view t) {
        if (iequals(t, "close")) close = true;
        if (iequals(t, "keep-alive")) keep_alive = true;
      });
    } else if (iequals(name, "expect")) {
      if (iequals(value, "100-continue")) out.expect_continue = true;
    } else if (iequals(name, "authorization")) {
      out.authorization = value;
    }
  }
  if (close) {
    out.keep_alive = false;
  } else if (keep_alive) {
    out.keep_alive = true;
  }
  if (content_length > limits.max_body_bytes) return fail(413);

  const std::size_t head = start + (window.size() - rest.size());
  if (in.size() - head < content_length) {
    need = head + content_length;
    // RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored.
    ParseResult more;
    more.send_continue = out.expect_continue && out.minor_version >= 1;
    return more;
  }
  out.body = in.substr(head, content_length);
  return {Status::kRequest, head + content_length, 0, {}};
}

// Offset just past the first empty line (LF LF or LF CR LF) in in[from, end), or 0. `from` is
// moved to where the next search should begin.
std::size_t find_head_end(std::string_view in, std::size_t& from, std::size_t end) {
  while (from < end) {
    const void* hit = std::memchr(in.data() + from, '\n', end - from);
    if (hit == nullptr) {
      from = end;
      return 0;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
    if (lf + 1 >= end) {
      from = lf;  // look at this LF again once more bytes follow it
      return 0;
    }
    if (in[lf + 1] == '\n') return lf + 2;
    if (in[lf + 1] == '\r') {
      if (lf + 2 >= end) {
        from = lf;
        return 0;
      }
      if (in[lf + 2] == '\n') return lf + 3;
    }
    from = lf + 1;
  }
  return 0;
}

}  // namespace

ParseResult parse_request(std::string_view in, const Limits& limits, Request& out, Cursor* cursor) {
  std::size_t need = 0;
  if (cursor == nullptr) return parse_whole(in, limits, out, need);
  Cursor& c = *cursor;
  out = Request{};
  if (c.need > 0) {
    if (in.size() < c.need) return {};
  } else {
    // Skip blank lines once, then look for the end of the head in the new bytes only.
    while (c.start < in.size() && (in[c.start] == '\r' || in[c.start] == '\n')) ++c.start;
    if (c.start == in.size()) {
      if (c.start <= limits.max_header_bytes) return {};
    } else {
      const std::size_t window_end = std::min(in.size(), c.start + limits.max_header_bytes);
      if (c.scanned < c.start) c.scanned = c.start;
      const std::size_t end_of_head = find_head_end(in, c.scanned, window_end);
      if (end_of_head == 0 && window_end - c.start < limits.max_header_bytes) return {};
    }
  }
  const ParseResult r = parse_whole(in, limits, out, need);
  if (r.status == Status::kNeedMore) {
    c.need = need;  // 0 if the head still is not whole (cannot happen; then scan on)
  } else {
    c = Cursor{};
  }
  return r;
}

void write_response(std::string& out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive, const ResponseExtras& extras) {
  char num[24];
  out.append("HTTP/1.1 ");
  auto res = std::to_chars(num, num + sizeof num, status);
  out.append(num, res.ptr);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\n");
  if (!content_type.empty()) {
    out.append("Content-Type: ");
    out.append(content_type);
    out.append("\r\n");
  }
  if (!extras.allow.empty()) {
    out.append("Allow: ");
    out.append(extras.allow);
    out.append("\r\n");
  }
  out.append("Content-Length: ");
  res = std::to_chars(num, num + sizeof num, body.size());
  out.append(num, res.ptr);
  out.append(keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  if (!extras.head_request) out.append(body);
}

void write_continue(std::string& out) {
  out.append("HTTP/1.1 100 Continue\r\n\r\n");
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return {};
  }
  return trim(authorization.substr(kScheme.size()));
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace semlock::http
