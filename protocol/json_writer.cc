// Reply encoding for the JSON-lines protocol (SPEC §4), written by hand rather than through a
// DOM: replies are small, their shape is fixed, and this appends straight into the
// connection's output buffer.

#include <array>
#include <charconv>
#include <cstdint>

#include "protocol/json_codec.h"

namespace semlock::json {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Byte classes for the string encoder: kCopy bytes go out as they are; kEscape are the ASCII bytes
// RFC 8259 makes us escape ('"', '\\', controls); kMulti starts a multi-byte UTF-8 sequence (or is
// not valid UTF-8 at all) and is checked by utf8_length().
enum : std::uint8_t { kCopy, kEscape, kMulti };
constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int b = 0; b < 0x20; ++b) t[b] = kEscape;
  t['"'] = kEscape;
  t['\\'] = kEscape;
  for (int b = 0x80; b < 0x100; ++b) t[b] = kMulti;
  return t;
}();

// Length of the valid UTF-8 sequence at p (2..4), or 0 when the bytes there are not one. The
// rules are Go's utf8.DecodeRune (as RFC 3629): no overlong forms (C0, C1, E0 80..9F, F0 80..8F),
// no surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF), no lone continuation
// bytes, no truncated sequences.
std::size_t utf8_length(const unsigned char* p, const unsigned char* end) {
  const unsigned b0 = p[0];
  std::size_t n = 0;
  unsigned lo = 0x80;
  unsigned hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < n || p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return n;
}

// Appends the non-ASCII sequence at p as Go's encoding/json does and returns its length: a valid
// sequence as it is, except U+2028 and U+2029 (escaped, as they end lines in JavaScript); each byte
// that does not start a valid sequence becomes \ufffd (U+FFFD), so the reply is always valid UTF-8.
std::size_t append_non_ascii(std::string& out, const unsigned char* p, const unsigned char* end) {
  const std::size_t n = utf8_length(p, end);
  if (n == 0) {
    out.append("\\ufffd");
    return 1;
  }
  if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
    out.append(p[2] == 0xA8 ? "\\u2028" : "\\u2029");
  } else {
    out.append(reinterpret_cast<const char*>(p), n);
  }
  return n;
}

// A JSON string: RFC 8259's escapes, and valid UTF-8 whatever bytes the client sent (keys and
// owners are bytes; invalid sequences are replaced, see append_non_ascii). Runs of plain bytes are
// copied at once; ASCII-only strings never reach the UTF-8 checks.
void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  const auto* run = p;
  while (p < end) {
    const std::uint8_t cls = kByteClass[*p];
    if (cls == kCopy) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (cls == kMulti) {
      p += append_non_ascii(out, p, end);
    } else {
      switch (*p) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          out.append("\\u00");
          out.push_back(kHex[*p >> 4]);
          out.push_back(kHex[*p & 0xf]);
      }
      ++p;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
  out.push_back('"');
}

// Appends JSON text (the re-serialized request id) with its invalid UTF-8 replaced. Bytes >= 0x80
// can only stand inside its strings (the serializer writes everything else in ASCII), where
// \ufffd is a valid replacement.
void append_json_text(std::string& out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  const auto* run = p;
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    p += append_non_ascii(out, p, end);
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
}

void begin_data(std::string& out) {
  out.append("{\"success\":true,\"data\":{");
}

// Closes "data" (when open) and the reply, echoing the id.
void finish(std::string& out, std::string_view id_raw, bool close_data) {
  if (close_data) out.push_back('}');
  if (!id_raw.empty()) {
    out.append(",\"id\":");
    append_json_text(out, id_raw);
  }
  out.append("}\n");
}

void field_uint(std::string& out, std::string_view name, std::uint64_t v, bool comma = true) {
  if (comma) out.push_back(',');
  out.push_back('"');
  out.append(name);
  out.append("\":");
  append_uint(out, v);
}

}  // namespace

void write_fail(std::string& out, std::string_view id_raw) {
  out.append("{\"success\":false");
  finish(out, id_raw, false);
}

void write_error(std::string& out, std::string_view id_raw, std::string_view text,
                 std::string_view code) {
  out.append("{\"success\":false,\"error\":");
  append_string(out, text);
  out.append(",\"code\":");
  append_string(out, code);
  finish(out, id_raw, false);
}

void write_ok(std::string& out, std::string_view id_raw) {
  out.append("{\"success\":true");
  finish(out, id_raw, false);
}

void write_acquired(std::string& out, std::string_view id_raw, std::string_view key,
                    std::string_view owner, std::uint64_t fence, std::int64_t ttl_ms) {
  begin_data(out);
  out.append("\"key\":");
  append_string(out, key);
  out.append(",\"owner\":");
  append_string(out, owner);
  field_uint(out, "fence", fence);
  out.append(",\"ttl_ms\":");
  append_int(out, ttl_ms);
  finish(out, id_raw, true);
}

void write_released(std::string& out, std::string_view id_raw, std::uint64_t released) {
  begin_data(out);
  field_uint(out, "released", released, false);
  finish(out, id_raw, true);
}

void write_extended(std::string& out, std::string_view id_raw, std::int64_t ttl_ms) {
  begin_data(out);
  out.append("\"ttl_ms\":");
  append_int(out, ttl_ms);
  finish(out, id_raw, true);
}

void write_exists(std::string& out, std::string_view id_raw) {
  begin_data(out);
  out.append("\"exists\":true");
  finish(out, id_raw, true);
}

void write_status(std::string& out, std::string_view id_raw, std::string_view key,
                  std::uint32_t limit, const std::vector<HolderView>& holders,
                  std::uint64_t waiters, bool shared) {
  begin_data(out);
  out.append("\"key\":");
  append_string(out, key);
  field_uint(out, "limit", limit);
  out.append(",\"holders\":[");
  bool first = true;
  for (const HolderView& h : holders) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"owner\":");
    append_string(out, h.owner);
    field_uint(out, "fence", h.fence);
    out.append(",\"ttl_ms\":");
    append_int(out, h.ttl_ms);
    field_uint(out, "holds", h.holds);
    out.push_back('}');
  }
  out.push_back(']');
  field_uint(out, "waiters", waiters);
  out.append(shared ? ",\"mode\":\"shared\"" : ",\"mode\":\"exclusive\"");
  finish(out, id_raw, true);
}

void write_stats(std::string& out, std::string_view id_raw, const StatsView& s) {
  begin_data(out);
  field_uint(out, "TotalRequests", s.total_requests, false);
  field_uint(out, "ActiveLocks", s.active_locks);
  field_uint(out, "Holders", s.holders);
  field_uint(out, "Waiters", s.waiters);
  field_uint(out, "AcquireRequests", s.acquire_requests);
  field_uint(out, "ReleaseRequests", s.release_requests);
  field_uint(out, "ExtendRequests", s.extend_requests);
  field_uint(out, "RejectedRequests", s.rejected_requests);
  field_uint(out, "ExpiredLocks", s.expired_locks);
  field_uint(out, "Connections", s.connections);
  field_uint(out, "MemoryUsageBytes", s.memory_usage_bytes);
  field_uint(out, "MemoryLimitBytes", s.memory_limit_bytes);
  field_uint(out, "LocksLimit", s.locks_limit);
  field_uint(out, "UptimeSeconds", s.uptime_seconds);
  finish(out, id_raw, true);
}

void write_list(std::string& out, std::string_view id_raw, const std::vector<std::string>& keys,
                std::uint64_t cursor) {
  begin_data(out);
  out.append("\"keys\":[");
  bool first = true;
  for (const std::string& k : keys) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, k);
  }
  out.push_back(']');
  field_uint(out, "cursor", cursor);
  finish(out, id_raw, true);
}

void write_force_released(std::string& out, std::string_view id_raw, std::uint64_t released) {
  write_released(out, id_raw, released);
}

void write_pong(std::string& out, std::string_view id_raw) {
  begin_data(out);
  out.append("\"pong\":true");
  finish(out, id_raw, true);
}

void write_acquired_all(std::string& out, std::string_view id_raw,
                        const std::vector<std::string>& keys, std::string_view owner,
                        const std::vector<std::uint64_t>& fences, std::int64_t ttl_ms) {
  begin_data(out);
  out.append("\"keys\":[");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i != 0) out += ',';
    append_string(out, keys[i]);
  }
  out.append("],\"owner\":");
  append_string(out, owner);
  out.append(",\"fences\":[");
  for (std::size_t i = 0; i < fences.size(); ++i) {
    if (i != 0) out += ',';
    out.append(std::to_string(fences[i]));
  }
  out.append("],\"ttl_ms\":");
  append_int(out, ttl_ms);
  finish(out, id_raw, true);
}

void write_watching(std::string& out, std::string_view id_raw,
                    const std::vector<std::string>& keys) {
  begin_data(out);
  out.append("\"watching\":[");
  bool first = true;
  for (const std::string& k : keys) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, k);
  }
  out.push_back(']');
  finish(out, id_raw, true);
}

void write_lost_event(std::string& out, std::string_view key, std::string_view owner,
                      std::uint64_t fence, std::string_view reason) {
  out.append("{\"event\":\"semlock-lost\",\"key\":");
  append_string(out, key);
  out.append(",\"owner\":");
  append_string(out, owner);
  field_uint(out, "fence", fence);
  out.append(",\"reason\":");
  append_string(out, reason);
  out.append("}\n");
}

}  // namespace semlock::json
