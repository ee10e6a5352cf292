// Reply encoding for the JSON-lines protocol (SPEC §4), written by hand rather than through a
// DOM: replies are small, their shape is fixed, and this appends straight into the
// connection's output buffer.

#include <charconv>

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

// JSON string with the escapes RFC 8259 requires. Bytes >= 0x80 pass through unchanged: keys
// and owners are whatever bytes the client sent.
void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
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
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void begin_data(std::string& out) {
  out.append("{\"success\":true,\"data\":{");
}

// Closes "data" (when open) and the reply, echoing the id.
void finish(std::string& out, std::string_view id_raw, bool close_data) {
  if (close_data) out.push_back('}');
  if (!id_raw.empty()) {
    out.append(",\"id\":");
    out.append(id_raw);
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
                  std::uint64_t waiters) {
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
    out.push_back('}');
  }
  out.push_back(']');
  field_uint(out, "waiters", waiters);
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

}  // namespace semlock::json
