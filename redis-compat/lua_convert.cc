#include "redis-compat/lua_convert.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "redis-compat/args.h"

namespace semlock::redis {
namespace {

constexpr int kMaxDepth = 64;

// The text of one CRLF-terminated line at the front of `in`, advancing past the CRLF.
std::string_view take_line(std::string_view& in) {
  const std::size_t end = in.find("\r\n");
  const std::string_view line = in.substr(0, end);
  in.remove_prefix(end == std::string_view::npos ? in.size() : end + 2);
  return line;
}

void push_field_table(lua_State* L, const char* field, std::string_view text) {
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, text.data(), text.size());
  lua_setfield(L, -2, field);
}

void push_reply_depth(lua_State* L, std::string_view& in, int depth) {
  luaL_checkstack(L, 4, "reply too deep");
  if (in.empty()) {
    lua_pushboolean(L, 0);
    return;
  }
  const char type = in[0];
  in.remove_prefix(1);
  const std::string_view line = take_line(in);
  switch (type) {
    case '+':
      push_field_table(L, "ok", line);
      return;
    case '-':
      push_field_table(L, "err", line);
      return;
    case ':':
      lua_pushnumber(L, static_cast<lua_Number>(parse_int64(line).value_or(0)));
      return;
    case '$': {
      const auto n = parse_int64(line).value_or(-1);
      if (n < 0) {
        lua_pushboolean(L, 0);
        return;
      }
      const auto len = static_cast<std::size_t>(n);
      lua_pushlstring(L, in.data(), std::min(len, in.size()));
      in.remove_prefix(std::min(len + 2, in.size()));
      return;
    }
    case '*': {
      const auto n = parse_int64(line).value_or(-1);
      if (n < 0) {
        lua_pushboolean(L, 0);
        return;
      }
      lua_createtable(L, static_cast<int>(n), 0);
      for (std::int64_t i = 1; i <= n; ++i) {
        if (depth >= kMaxDepth) {
          lua_pushboolean(L, 0);
        } else {
          push_reply_depth(L, in, depth + 1);
        }
        lua_rawseti(L, -2, static_cast<int>(i));
      }
      return;
    }
    default:
      lua_pushboolean(L, 0);
      return;
  }
}

// The string field `name` of the table at `index`, if it has one. The view stays valid while
// the table holds the string and nothing runs the collector.
bool string_field(lua_State* L, int index, const char* name, std::string_view& out) {
  lua_pushstring(L, name);
  lua_rawget(L, index);
  const bool ok = lua_type(L, -1) == LUA_TSTRING;
  if (ok) {
    std::size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    out = std::string_view(s, len);
  }
  lua_pop(L, 1);
  return ok;
}

// Redis's rule: an array ends at its first nil.
std::size_t array_length(lua_State* L, int index) {
  std::size_t n = 0;
  for (;; ++n) {
    lua_rawgeti(L, index, static_cast<int>(n + 1));
    const bool nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (nil) return n;
  }
}

struct Size {
  std::size_t elements = 0;
  std::size_t bytes = 0;
  std::size_t max_elements = 0;
  std::size_t max_bytes = 0;
  bool over() const { return elements > max_elements || bytes > max_bytes; }
};

constexpr std::size_t kHeaderBytes = 16;  // a RESP type byte, a length and CRLFs, about

// Adds the size of the value at `index` to `size`; false as soon as it passes the limits.
bool measure(lua_State* L, int index, int depth, Size& size) {
  if (index < 0) index = lua_gettop(L) + index + 1;
  luaL_checkstack(L, 4, "reply too deep");
  size.elements += 1;
  size.bytes += kHeaderBytes;
  if (lua_type(L, index) == LUA_TSTRING) {
    size.bytes += lua_objlen(L, index);
  } else if (lua_type(L, index) == LUA_TTABLE) {
    std::string_view text;
    if (string_field(L, index, "err", text) || string_field(L, index, "ok", text)) {
      size.bytes += text.size();
    } else if (depth < kMaxDepth) {
      // Counted as it goes, so that a huge array stops the scan early.
      for (int i = 1;; ++i) {
        if (size.over()) return false;
        lua_rawgeti(L, index, i);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          break;
        }
        const bool ok = measure(L, -1, depth + 1, size);
        lua_pop(L, 1);
        if (!ok) return false;
      }
    }
  }
  return !size.over();
}

void write_value_depth(lua_State* L, int index, resp::Writer& w, int depth) {
  if (index < 0) index = lua_gettop(L) + index + 1;
  luaL_checkstack(L, 4, "reply too deep");
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      std::size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      w.bulk(std::string_view(s, len));
      return;
    }
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, index)) {
        w.integer(1);
      } else {
        w.null();
      }
      return;
    case LUA_TNUMBER: {
      const double v = lua_tonumber(L, index);
      // Redis truncates toward zero; out-of-range values are clamped rather than undefined.
      if (!(v == v)) {
        w.integer(0);
      } else if (v >= 9.2233720368547758e18) {
        w.integer(INT64_MAX);
      } else if (v <= -9.2233720368547758e18) {
        w.integer(INT64_MIN);
      } else {
        w.integer(static_cast<std::int64_t>(v));
      }
      return;
    }
    case LUA_TTABLE: {
      std::string_view text;
      if (string_field(L, index, "err", text)) {
        w.error(text);
        return;
      }
      if (string_field(L, index, "ok", text)) {
        w.simple(text);
        return;
      }
      if (depth >= kMaxDepth) {
        w.null();
        return;
      }
      const std::size_t n = array_length(L, index);
      w.array(n);
      for (std::size_t i = 1; i <= n; ++i) {
        lua_rawgeti(L, index, static_cast<int>(i));
        write_value_depth(L, -1, w, depth + 1);
        lua_pop(L, 1);
      }
      return;
    }
    default:
      w.null();
      return;
  }
}

}  // namespace

void push_reply(lua_State* L, std::string_view& reply) {
  push_reply_depth(L, reply, 0);
}

bool is_error_table(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE) return false;
  // Raw access: a metamethod could run script code (and raise) outside a protected call. No C++
  // object lives here, since pushing can still raise (out of memory) and longjmp past it.
  if (index < 0) index = lua_gettop(L) + index + 1;
  lua_pushliteral(L, "err");
  lua_rawget(L, index);
  const bool is_error = lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 1);
  return is_error;
}

bool write_value(lua_State* L, int index, resp::Writer& w, std::size_t max_elements,
                 std::size_t max_bytes) {
  Size size;
  size.max_elements = max_elements;
  size.max_bytes = max_bytes;
  if (!measure(L, index, 0, size)) return false;
  write_value_depth(L, index, w, 0);
  return true;
}

}  // namespace semlock::redis
