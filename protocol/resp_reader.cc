#include "protocol/resp_reader.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

// Mirrors Redis 7 networking.c: processMultibulkBuffer for frames starting with '*',
// processInlineBuffer (with sds.c sdssplitargs) for anything else. Differences, on purpose:
// - The state between reads is a small cursor the caller keeps (ParseCursor): where the unfinished
//   frame's scan stopped. Bulk payloads are skipped by length, never scanned.
// - Header lines are searched with memchr (binary safe) inside a bounded window, so the result
//   does not depend on how the bytes were split across reads (Redis only notices a missing CR
//   once its buffer passes the limit).
// - An inline line ends at its first NUL byte, as the C string sdssplitargs sees does.

namespace semlock::resp {
namespace {

// Redis's string2ll (util.c): optional '-', no '+', no leading zeros, no spaces, no "-0".
bool string_to_ll(const char* s, std::size_t len, long long& value) {
  if (len == 0 || len > 20) return false;
  if (len == 1 && s[0] == '0') {
    value = 0;
    return true;
  }
  const char* p = s;
  const char* end = s + len;
  bool negative = false;
  if (*p == '-') {
    negative = true;
    ++p;
    if (p == end) return false;
  }
  if (*p < '1' || *p > '9') return false;
  unsigned long long v = static_cast<unsigned long long>(*p - '0');
  ++p;
  constexpr unsigned long long kMax = std::numeric_limits<unsigned long long>::max();
  for (; p != end; ++p) {
    if (*p < '0' || *p > '9') return false;
    const auto digit = static_cast<unsigned long long>(*p - '0');
    if (v > kMax / 10) return false;
    v *= 10;
    if (v > kMax - digit) return false;
    v += digit;
  }
  constexpr auto kLlMax = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (negative) {
    if (v > kLlMax + 1) return false;
    value = v == kLlMax + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(v);
  } else {
    if (v > kLlMax) return false;
    value = static_cast<long long>(v);
  }
  return true;
}

enum class LineScan : std::uint8_t { kFound, kNeedMore, kTooBig };

struct HeaderLine {
  LineScan scan;
  std::size_t cr;  // offset of the '\r' from the line start; for kNeedMore: bytes known CR-free
};

// Finds the CR ending a '*'/'$' header line that starts at `pos`, searching from `from` bytes into
// the line (the caller knows the bytes before hold no CR). Like Redis, the line is complete only
// when one more byte follows the CR (Redis skips it without looking at it).
HeaderLine find_header_cr(std::string_view in, std::size_t pos, std::size_t max_line,
                          std::size_t from, std::uint64_t& scanned) {
  const std::size_t avail = in.size() - pos;
  const std::size_t window = avail < max_line + 1 ? avail : max_line + 1;
  if (from > window) from = window;
  const void* hit = std::memchr(in.data() + pos + from, '\r', window - from);
  if (hit == nullptr) {
    scanned += window - from;
    return {avail > max_line ? LineScan::kTooBig : LineScan::kNeedMore, window};
  }
  const auto cr = static_cast<std::size_t>(static_cast<const char*>(hit) - (in.data() + pos));
  scanned += cr + 1 - from;
  if (cr + 2 > avail) return {LineScan::kNeedMore, cr};
  return {LineScan::kFound, cr};
}

struct Number {
  LineScan scan;
  bool ok;
  long long value;
  std::size_t next;  // position after CR + 1 byte; for kNeedMore: bytes of the line CR-free
};

Number read_header_slow(std::string_view in, std::size_t pos, std::size_t max_line,
                        std::size_t from, std::uint64_t& scanned) {
  const HeaderLine line = find_header_cr(in, pos, max_line, from, scanned);
  if (line.scan != LineScan::kFound) return {line.scan, false, 0, line.cr};
  long long v = 0;
  const bool ok = string_to_ll(in.data() + pos + 1, line.cr - 1, v);
  return {LineScan::kFound, ok, v, pos + line.cr + 2};
}

// Reads the number after the type byte at `pos` ("*123\r\n" / "$5\r\n").
Number read_header_number(std::string_view in, std::size_t pos, std::size_t max_line,
                          std::size_t from, std::uint64_t& scanned) {
  // Fast path for the common short decimal: digits then CR then one more byte. Tried only at the
  // line's first look: a resumed line already failed it.
  const char* p = in.data() + pos + 1;
  if (from > 0) return read_header_slow(in, pos, max_line, from, scanned);
  const char* end = in.data() + in.size();
  const char* q = p;
  while (q != end && q - p < 18 && static_cast<unsigned>(*q - '0') < 10) ++q;
  scanned += static_cast<std::uint64_t>(q - p) + 1;
  if (q != p && q + 1 < end && *q == '\r' && (*p != '0' || q - p == 1) &&
      static_cast<std::size_t>(q - p) + 1 <= max_line) {
    long long v = 0;
    for (const char* d = p; d != q; ++d) v = v * 10 + (*d - '0');
    return {LineScan::kFound, true, v, static_cast<std::size_t>(q + 2 - in.data())};
  }
  return read_header_slow(in, pos, max_line, from, scanned);
}

ParseResult error(ProtocolError e, char got = 0) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error = e;
  r.got = got;
  return r;
}

// Resumes at the cursor: the count header is read once, then each argument once; an argument
// whose header or payload is incomplete is the resume point. Arguments are collected while
// scanning when the scan started at the first one, else by one more pass once the frame is whole.
ParseResult parse_multibulk(std::string_view in, const ReaderLimits& limits,
                            std::vector<std::string_view>& args, ParseCursor& cur) {
  if (cur.count < 0) {
    const Number count =
        read_header_number(in, 0, limits.max_inline_bytes, cur.line_scanned, cur.scanned);
    if (count.scan == LineScan::kNeedMore) {
      cur.line_scanned = count.next;
      return {};
    }
    if (count.scan == LineScan::kTooBig) return error(ProtocolError::kTooBigMultibulkCountString);
    if (!count.ok ||
        (count.value > 0 && static_cast<unsigned long long>(count.value) > limits.max_args)) {
      return error(ProtocolError::kInvalidMultibulkLength);
    }
    if (count.value <= 0) return {ParseStatus::kSkip, count.next, ProtocolError::kNone, 0};
    cur.count = count.value;
    cur.first = count.next;
    cur.pos = count.next;
    cur.args_done = 0;
    cur.line_scanned = 0;
  }

  const auto total = static_cast<std::size_t>(cur.count);
  const bool collect = cur.args_done == 0;
  std::size_t pos = cur.pos;
  std::size_t done = cur.args_done;
  auto suspend = [&](std::size_t line_scanned) {
    cur.pos = pos;
    cur.args_done = done;
    cur.line_scanned = line_scanned;
    cur.bulk = -1;
    return ParseResult{};
  };
  while (done < total) {
    if (pos >= in.size()) return suspend(0);
    const bool resumed = pos == cur.pos;
    if (resumed && cur.bulk >= 0) {
      // Header read on an earlier call: only the payload was missing.
      const auto bulk = static_cast<std::size_t>(cur.bulk);
      if (in.size() - cur.payload < bulk + 2) return ParseResult{};
      if (collect) args.emplace_back(in.data() + cur.payload, bulk);
      pos = cur.payload + bulk + 2;
      cur.bulk = -1;
      ++done;
      continue;
    }
    const std::size_t from = resumed ? cur.line_scanned : 0;
    // Redis waits for the whole length line before looking at its first byte.
    Number len;
    if (in[pos] == '$') {
      len = read_header_number(in, pos, limits.max_inline_bytes, from, cur.scanned);
    } else {
      const HeaderLine line = find_header_cr(in, pos, limits.max_inline_bytes, from, cur.scanned);
      len = {line.scan, false, 0, line.cr};
      if (line.scan == LineScan::kFound) return error(ProtocolError::kExpectedDollar, in[pos]);
    }
    if (len.scan == LineScan::kNeedMore) return suspend(len.next);
    if (len.scan == LineScan::kTooBig) return error(ProtocolError::kTooBigBulkCountString);
    if (!len.ok || len.value < 0 ||
        static_cast<unsigned long long>(len.value) > limits.max_bulk_bytes) {
      return error(ProtocolError::kInvalidBulkLength);
    }
    const auto bulk = static_cast<std::size_t>(len.value);
    if (in.size() - len.next < bulk + 2) {
      // The header is complete, only its payload is missing: remember where it starts.
      suspend(0);
      cur.bulk = len.value;
      cur.payload = len.next;
      return ParseResult{};
    }
    if (collect) args.emplace_back(in.data() + len.next, bulk);
    pos = len.next + bulk + 2;
    ++done;
  }
  if (!collect) {
    // One pass over the now complete frame: every header is known valid.
    std::size_t p = cur.first;
    for (std::size_t i = 0; i < total; ++i) {
      const Number len = read_header_number(in, p, limits.max_inline_bytes, 0, cur.scanned);
      const auto bulk = static_cast<std::size_t>(len.value);
      args.emplace_back(in.data() + len.next, bulk);
      p = len.next + bulk + 2;
    }
  }
  return {ParseStatus::kCommand, pos, ProtocolError::kNone, 0};
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// sdssplitargs over `line` (already cut at its first NUL). Unescaped bytes go to `scratch`,
// reserved up front so the views handed out stay valid. Returns false on unbalanced quotes.
bool split_args(std::string_view line, std::vector<std::string_view>& args, std::string& scratch) {
  scratch.clear();
  scratch.reserve(line.size());
  const char* p = line.data();
  const char* end = p + line.size();
  auto at = [&](const char* x) { return x < end ? *x : '\0'; };
  while (true) {
    while (p < end && is_space(*p)) ++p;
    if (p == end) return true;
    const std::size_t start = scratch.size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && hex_value(at(p + 2)) >= 0 &&
            hex_value(at(p + 3)) >= 0) {
          scratch.push_back(static_cast<char>(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (*p) {
            case 'n':
              scratch.push_back('\n');
              break;
            case 'r':
              scratch.push_back('\r');
              break;
            case 't':
              scratch.push_back('\t');
              break;
            case 'b':
              scratch.push_back('\b');
              break;
            case 'a':
              scratch.push_back('\a');
              break;
            default:
              scratch.push_back(*p);
              break;
          }
        } else if (c == '"') {
          // A closing quote must be followed by a space or nothing at all.
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          scratch.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          scratch.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          scratch.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            scratch.push_back(c);
            break;
        }
      }
      if (p < end) ++p;
    }
    args.emplace_back(scratch.data() + start, scratch.size() - start);
  }
}

ParseResult parse_inline(std::string_view in, const ReaderLimits& limits,
                         std::vector<std::string_view>& args, std::string& scratch,
                         ParseCursor& cur) {
  const std::size_t window =
      in.size() < limits.max_inline_bytes + 1 ? in.size() : limits.max_inline_bytes + 1;
  const std::size_t from = cur.line_scanned < window ? cur.line_scanned : window;
  const void* hit = std::memchr(in.data() + from, '\n', window - from);
  if (hit == nullptr) {
    cur.scanned += window - from;
    if (in.size() > limits.max_inline_bytes) return error(ProtocolError::kTooBigInlineRequest);
    cur.line_scanned = window;
    return {};
  }
  cur.scanned += static_cast<std::size_t>(static_cast<const char*>(hit) - in.data()) + 1 - from;
  const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
  std::size_t len = lf;
  if (len > 0 && in[len - 1] == '\r') --len;
  std::string_view line = in.substr(0, len);
  if (const void* nul = std::memchr(line.data(), '\0', line.size()); nul != nullptr) {
    line = line.substr(0, static_cast<std::size_t>(static_cast<const char*>(nul) - line.data()));
  }
  if (!split_args(line, args, scratch)) {
    args.clear();
    return error(ProtocolError::kUnbalancedQuotes);
  }
  const ParseStatus status = args.empty() ? ParseStatus::kSkip : ParseStatus::kCommand;
  return {status, lf + 1, ProtocolError::kNone, 0};
}

}  // namespace

namespace {

// A header's short decimal at p ("123\r" and one more byte), as read_header_number's fast path
// accepts it: 1..18 digits, no leading zero, CR, one byte after it. Returns the position after
// that byte, or nullptr for anything else (the general parser then decides).
inline const char* fast_number(const char* p, const char* end, std::size_t max_line,
                               long long& v, std::uint64_t& scanned) {
  if (p == end) return nullptr;
  // One or two digits, nearly every header: no loop.
  const unsigned d0 = static_cast<unsigned>(p[0] - '0');
  if (d0 < 10 && end - p >= 3 && p[1] == '\r') {
    v = d0;
    scanned += 2;
    return max_line >= 2 ? p + 3 : nullptr;
  }
  if (d0 - 1 < 9 && end - p >= 4 && p[2] == '\r') {
    const unsigned d1 = static_cast<unsigned>(p[1] - '0');
    if (d1 < 10) {
      v = d0 * 10 + d1;
      scanned += 3;
      return max_line >= 3 ? p + 4 : nullptr;
    }
  }
  const char* q = p;
  v = 0;
  while (q != end && q - p < 18 && static_cast<unsigned>(*q - '0') < 10) {
    v = v * 10 + (*q - '0');
    ++q;
  }
  scanned += static_cast<std::uint64_t>(q - p) + 1;
  if (q == p || q + 1 >= end || *q != '\r' || (*p == '0' && q - p != 1) ||
      static_cast<std::size_t>(q - p) + 1 > max_line) {
    return nullptr;
  }
  return q + 2;
}

// A whole multibulk frame in one pass, for the common case of a fresh frame that has fully
// arrived with plain headers (a pipeline's requests): the same result parse_multibulk would
// give, or false (nothing decided, `args` emptied) to let it run instead.
bool parse_whole_multibulk(std::string_view in, const ReaderLimits& limits,
                           std::vector<std::string_view>& args, std::size_t& consumed,
                           std::uint64_t& scanned) {
  const char* p = in.data();
  const char* end = p + in.size();
  long long count = 0;
  p = fast_number(p + 1, end, limits.max_inline_bytes, count, scanned);
  if (p == nullptr || count <= 0 || static_cast<unsigned long long>(count) > limits.max_args) {
    return false;
  }
  for (long long i = 0; i < count; ++i) {
    long long len = 0;
    if (p == end || *p != '$') break;
    p = fast_number(p + 1, end, limits.max_inline_bytes, len, scanned);
    if (p == nullptr || static_cast<unsigned long long>(len) > limits.max_bulk_bytes ||
        static_cast<std::size_t>(end - p) < static_cast<std::size_t>(len) + 2) {
      break;
    }
    args.emplace_back(p, static_cast<std::size_t>(len));
    p += len + 2;
  }
  if (args.size() != static_cast<std::size_t>(count)) {
    args.clear();
    return false;
  }
  consumed = static_cast<std::size_t>(p - in.data());
  return true;
}

}  // namespace

ParseResult parse_command(std::string_view in, const ReaderLimits& limits,
                          std::vector<std::string_view>& args, std::string& scratch,
                          ParseCursor* cursor) {
  args.clear();
  if (in.empty()) return {};
  ParseCursor local;
  ParseCursor& cur = cursor != nullptr ? *cursor : local;
  if (in[0] == '*' && cur.count < 0) {
    std::size_t consumed = 0;
    std::uint64_t scanned = 0;
    if (parse_whole_multibulk(in, limits, args, consumed, scanned)) {
      cur.scanned += scanned;
      cur.reset();
      return {ParseStatus::kCommand, consumed, ProtocolError::kNone, 0};
    }
  }
  ParseResult r = in[0] == '*' ? parse_multibulk(in, limits, args, cur)
                               : parse_inline(in, limits, args, scratch, cur);
  if (r.status != ParseStatus::kCommand) args.clear();
  if (r.status != ParseStatus::kNeedMore) cur.reset();
  return r;
}

std::string error_text(const ParseResult& r) {
  if (r.status != ParseStatus::kError) return {};
  switch (r.error) {
    case ProtocolError::kNone:
      return {};
    case ProtocolError::kInvalidMultibulkLength:
      return "Protocol error: invalid multibulk length";
    case ProtocolError::kInvalidBulkLength:
      return "Protocol error: invalid bulk length";
    case ProtocolError::kExpectedDollar: {
      std::string s = "Protocol error: expected '$', got '";
      s.push_back(r.got);
      s += "'";
      return s;
    }
    case ProtocolError::kTooBigInlineRequest:
      return "Protocol error: too big inline request";
    case ProtocolError::kUnbalancedQuotes:
      return "Protocol error: unbalanced quotes in request";
    case ProtocolError::kTooBigMultibulkCountString:
      return "Protocol error: too big mbulk count string";
    case ProtocolError::kTooBigBulkCountString:
      return "Protocol error: too big bulk count string";
  }
  return {};
}

namespace {

// Reads "<digits>\r\n" at p: the number, p moved past the CRLF; -1 when not that shape (no digit,
// more than 18, a leading zero as the parser refuses it, no CRLF).
inline long long peek_count(const char*& p, const char* end) {
  const char* q = p;
  const char* const stop = end - q > 18 ? q + 18 : end;
  long long v = 0;
  while (q < stop && static_cast<unsigned char>(*q - '0') < 10) v = v * 10 + (*q++ - '0');
  if (q == p || end - q < 2 || q[0] != '\r' || q[1] != '\n' || (*p == '0' && q - p > 1)) return -1;
  p = q + 2;
  return v;
}

// A bulk header, "$<len>\r\n", at p: its length, p moved past it; -1 when it is not one that
// peek reads. The usual one- and two-digit lengths are matched a word at a time.
[[gnu::always_inline]] inline long long peek_bulk_header(const char*& p, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    if (end - p >= 5) {
      std::uint32_t head;  // "$d\r\n" or "$dd\r"
      std::uint32_t tail;  // "dd\r\n" after the '$'
      std::memcpy(&head, p, 4);
      std::memcpy(&tail, p + 1, 4);
      const unsigned d0 = static_cast<unsigned char>(p[1]) - unsigned{'0'};
      const unsigned d1 = static_cast<unsigned char>(p[2]) - unsigned{'0'};
      if ((head & 0xFFFF00FFu) == 0x0A0D0024u && d0 < 10) {
        p += 4;
        return d0;
      }
      // No leading zero: "$05" is not a length parse_command takes.
      if ((head & 0xFFu) == 0x24u && (tail & 0xFFFF0000u) == 0x0A0D0000u && d0 - 1 < 9 && d1 < 10) {
        p += 5;
        return d0 * 10 + d1;
      }
    }
  }
  if (p == end || *p != '$') return -1;
  ++p;
  return peek_count(p, end);
}

// One bulk argument at p: its bytes, p moved past it and its "\r\n"; false when incomplete or
// not well formed.
[[gnu::always_inline]] inline bool peek_bulk(const char*& p, const char* end,
                                             std::string_view& arg) {
  const long long len = peek_bulk_header(p, end);
  if (len < 0 || end - p < len + 2) return false;
  const char* const data = p;
  p += len;
  if (p[0] != '\r' || p[1] != '\n') return false;
  p += 2;
  arg = std::string_view(data, static_cast<std::size_t>(len));
  return true;
}

}  // namespace

std::size_t peek_key(std::string_view in, std::size_t pos, std::string_view& key) {
  key = {};
  if (pos >= in.size() || in[pos] != '*') return 0;
  const char* const end = in.data() + in.size();
  const char* p = in.data() + pos + 1;
  long long argc;
  if (end - p >= 3 && static_cast<unsigned char>(p[0] - '1') < 9 && p[1] == '\r' && p[2] == '\n') {
    argc = p[0] - '0';  // "*1" to "*9": the usual commands
    p += 3;
  } else {
    argc = peek_count(p, end);
    if (argc <= 0 || argc > kPeekMaxArgs) return 0;
  }
  std::string_view arg;
  if (!peek_bulk(p, end, arg)) return 0;  // the command's name
  std::string_view second;
  if (argc >= 2 && !peek_bulk(p, end, second)) return 0;
  for (long long i = 2; i < argc; ++i) {
    if (!peek_bulk(p, end, arg)) return 0;
  }
  key = second;
  return static_cast<std::size_t>(p - in.data());
}

}  // namespace semlock::resp
