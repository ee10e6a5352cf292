// string.find/match/gmatch/gsub for scripts: Lua 5.1's pattern language and results, with a
// matcher that counts its steps so that the script budget reaches inside it.
//
// Lua 5.1's own matcher backtracks without bound (`string.find(string.rep('a', 40),
// string.rep('a*', 30) .. 'b')` runs for ages) and its plain find is quadratic, all inside one C
// call where the instruction hook never fires. This one does the same matching and calls
// count_steps() on every pattern item tried, every byte expanded and every plain-find candidate,
// so a match stops within a few thousand steps of the time budget. Patterns stay limited to 512
// bytes (each item can nest one C call deep). Errors use Lua 5.1's texts.
//
// Errors raise with longjmp (Lua 5.1): nothing here owns a C++ object.
#include <cctype>
#include <cstddef>
#include <cstring>

#include "redis-compat/lua_sandbox.h"

namespace semlock::redis::lua {
namespace {

constexpr int kMaxCaptures = 32;  // LUA_MAXCAPTURES
constexpr std::ptrdiff_t kCapUnfinished = -1;
constexpr std::ptrdiff_t kCapPosition = -2;
constexpr char kEsc = '%';
constexpr const char* kSpecials = "^$*+?.([%-";
constexpr std::size_t kMaxPatternBytes = 512;

struct MatchState {
  const char* src_init;
  const char* src_end;
  lua_State* L;
  int level;
  struct {
    const char* init;
    std::ptrdiff_t len;
  } capture[kMaxCaptures];
};

int uc(char c) {
  return static_cast<unsigned char>(c);
}

// Raises `text` without a position prefix (as error(text, 0) would).
[[noreturn]] void raise_plain(lua_State* L, const char* text) {
  lua_pushstring(L, text);
  lua_error(L);
  __builtin_unreachable();
}

void check_pattern_length(lua_State* L, std::size_t len) {
  if (len > kMaxPatternBytes) raise_plain(L, "pattern too long (at most 512 bytes in scripts)");
}

int check_capture(MatchState* ms, int l) {
  l -= '1';
  if (l < 0 || l >= ms->level || ms->capture[l].len == kCapUnfinished) {
    return luaL_error(ms->L, "invalid capture index");
  }
  return l;
}

int capture_to_close(MatchState* ms) {
  int level = ms->level;
  for (level--; level >= 0; level--) {
    if (ms->capture[level].len == kCapUnfinished) return level;
  }
  return luaL_error(ms->L, "invalid pattern capture");
}

const char* class_end(MatchState* ms, const char* p) {
  switch (*p++) {
    case kEsc:
      if (*p == '\0') luaL_error(ms->L, "malformed pattern (ends with '%%')");
      return p + 1;
    case '[':
      if (*p == '^') p++;
      do {  // look for the closing ']'
        if (*p == '\0') luaL_error(ms->L, "malformed pattern (missing ']')");
        if (*(p++) == kEsc && *p != '\0') p++;  // skip escapes such as %]
      } while (*p != ']');
      return p + 1;
    default:
      return p;
  }
}

bool match_class(int c, int cl) {
  bool res;
  switch (std::tolower(cl)) {
    case 'a':
      res = std::isalpha(c);
      break;
    case 'c':
      res = std::iscntrl(c);
      break;
    case 'd':
      res = std::isdigit(c);
      break;
    case 'l':
      res = std::islower(c);
      break;
    case 'p':
      res = std::ispunct(c);
      break;
    case 's':
      res = std::isspace(c);
      break;
    case 'u':
      res = std::isupper(c);
      break;
    case 'w':
      res = std::isalnum(c);
      break;
    case 'x':
      res = std::isxdigit(c);
      break;
    case 'z':
      res = c == 0;
      break;
    default:
      return cl == c;
  }
  return std::isupper(cl) ? !res : res;
}

// `p` at the '[' of a set, `ec` at its closing ']'.
bool match_bracket_class(int c, const char* p, const char* ec) {
  bool sig = true;
  if (*(p + 1) == '^') {
    sig = false;
    p++;
  }
  while (++p < ec) {
    if (*p == kEsc) {
      p++;
      if (match_class(c, uc(*p))) return sig;
    } else if (*(p + 1) == '-' && p + 2 < ec) {
      p += 2;
      if (uc(*(p - 2)) <= c && c <= uc(*p)) return sig;
    } else if (uc(*p) == c) {
      return sig;
    }
  }
  return !sig;
}

bool single_match(int c, const char* p, const char* ep) {
  switch (*p) {
    case '.':
      return true;
    case kEsc:
      return match_class(c, uc(*(p + 1)));
    case '[':
      return match_bracket_class(c, p, ep - 1);
    default:
      return uc(*p) == c;
  }
}

const char* match(MatchState* ms, const char* s, const char* p);

const char* match_balance(MatchState* ms, const char* s, const char* p) {
  if (*p == '\0' || *(p + 1) == '\0') luaL_error(ms->L, "unbalanced pattern");
  if (s >= ms->src_end || *s != *p) return nullptr;
  const char b = *p;
  const char e = *(p + 1);
  int cont = 1;
  while (++s < ms->src_end) {
    count_steps(ms->L, 1);
    if (*s == e) {
      if (--cont == 0) return s + 1;
    } else if (*s == b) {
      cont++;
    }
  }
  return nullptr;
}

const char* max_expand(MatchState* ms, const char* s, const char* p, const char* ep) {
  std::ptrdiff_t i = 0;
  while (s + i < ms->src_end && single_match(uc(s[i]), p, ep)) {
    i++;
    count_steps(ms->L, 1);
  }
  while (i >= 0) {  // try the rest with the longest expansion first
    if (const char* res = match(ms, s + i, ep + 1)) return res;
    i--;
  }
  return nullptr;
}

const char* min_expand(MatchState* ms, const char* s, const char* p, const char* ep) {
  for (;;) {
    if (const char* res = match(ms, s, ep + 1)) return res;
    if (s < ms->src_end && single_match(uc(*s), p, ep)) {
      s++;
    } else {
      return nullptr;
    }
  }
}

const char* start_capture(MatchState* ms, const char* s, const char* p, std::ptrdiff_t what) {
  if (ms->level >= kMaxCaptures) luaL_error(ms->L, "too many captures");
  ms->capture[ms->level].init = s;
  ms->capture[ms->level].len = what;
  ms->level++;
  const char* res = match(ms, s, p);
  if (res == nullptr) ms->level--;  // undo the capture
  return res;
}

const char* end_capture(MatchState* ms, const char* s, const char* p) {
  const int l = capture_to_close(ms);
  ms->capture[l].len = s - ms->capture[l].init;
  const char* res = match(ms, s, p);
  if (res == nullptr) ms->capture[l].len = kCapUnfinished;
  return res;
}

const char* match_capture(MatchState* ms, const char* s, int l) {
  l = check_capture(ms, l);
  const std::ptrdiff_t len = ms->capture[l].len;
  count_steps(ms->L, static_cast<std::uint64_t>(len / 64));
  if (ms->src_end - s >= len && std::memcmp(ms->capture[l].init, s, len) == 0) return s + len;
  return nullptr;
}

const char* match(MatchState* ms, const char* s, const char* p) {
  for (;;) {  // one pattern item per turn; tail positions loop instead of recursing
    count_steps(ms->L, 1);
    switch (*p) {
      case '(':
        if (*(p + 1) == ')') return start_capture(ms, s, p + 2, kCapPosition);
        return start_capture(ms, s, p + 1, kCapUnfinished);
      case ')':
        return end_capture(ms, s, p + 1);
      case '\0':  // end of pattern
        return s;
      case '$':
        if (*(p + 1) == '\0') return s == ms->src_end ? s : nullptr;
        break;  // an ordinary character
      case kEsc:
        if (*(p + 1) == 'b') {
          s = match_balance(ms, s, p + 2);
          if (s == nullptr) return nullptr;
          p += 4;
          continue;
        }
        if (*(p + 1) == 'f') {
          p += 2;
          if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
          const char* ep = class_end(ms, p);
          const int previous = s == ms->src_init ? 0 : uc(*(s - 1));
          const int current = s < ms->src_end ? uc(*s) : 0;
          if (match_bracket_class(previous, p, ep - 1) ||
              !match_bracket_class(current, p, ep - 1)) {
            return nullptr;
          }
          p = ep;
          continue;
        }
        if (std::isdigit(uc(*(p + 1)))) {  // back reference %1-%9
          s = match_capture(ms, s, uc(*(p + 1)));
          if (s == nullptr) return nullptr;
          p += 2;
          continue;
        }
        break;  // an ordinary class such as %d
      default:
        break;
    }
    // A single-character item, perhaps followed by a repetition.
    const char* ep = class_end(ms, p);
    const bool m = s < ms->src_end && single_match(uc(*s), p, ep);
    switch (*ep) {
      case '?': {
        if (m) {
          if (const char* res = match(ms, s + 1, ep + 1)) return res;
        }
        p = ep + 1;
        continue;
      }
      case '*':
        return max_expand(ms, s, p, ep);
      case '+':
        return m ? max_expand(ms, s + 1, p, ep) : nullptr;
      case '-':
        return min_expand(ms, s, p, ep);
      default:
        if (!m) return nullptr;
        s++;
        p = ep;
        continue;
    }
  }
}

// Plain substring search with a step per candidate (memcmp's length counted in 64-byte units).
const char* plain_find(lua_State* L, const char* s1, std::size_t l1, const char* s2,
                       std::size_t l2) {
  if (l2 == 0) return s1;
  if (l2 > l1) return nullptr;
  l2--;  // the first character is found by memchr
  l1 -= l2;
  while (l1 > 0) {
    const char* init = static_cast<const char*>(std::memchr(s1, *s2, l1));
    if (init == nullptr) return nullptr;
    init++;
    count_steps(L, 1 + l2 / 64);
    if (std::memcmp(init, s2 + 1, l2) == 0) return init - 1;
    l1 -= static_cast<std::size_t>(init - s1);
    s1 = init;
  }
  return nullptr;
}

void push_onecapture(MatchState* ms, int i, const char* s, const char* e) {
  if (i >= ms->level) {
    if (i == 0) {
      lua_pushlstring(ms->L, s, static_cast<std::size_t>(e - s));  // the whole match
    } else {
      luaL_error(ms->L, "invalid capture index");
    }
    return;
  }
  const std::ptrdiff_t l = ms->capture[i].len;
  if (l == kCapUnfinished) luaL_error(ms->L, "unfinished capture");
  if (l == kCapPosition) {
    lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
  } else {
    lua_pushlstring(ms->L, ms->capture[i].init, static_cast<std::size_t>(l));
  }
}

int push_captures(MatchState* ms, const char* s, const char* e) {
  const int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
  luaL_checkstack(ms->L, nlevels, "too many captures");
  for (int i = 0; i < nlevels; i++) push_onecapture(ms, i, s, e);
  return nlevels;
}

std::ptrdiff_t posrelat(std::ptrdiff_t pos, std::size_t len) {
  if (pos < 0) pos += static_cast<std::ptrdiff_t>(len) + 1;
  return pos >= 0 ? pos : 0;
}

int find_aux(lua_State* L, bool find) {
  std::size_t l1 = 0;
  std::size_t l2 = 0;
  const char* s = luaL_checklstring(L, 1, &l1);
  const char* p = luaL_checklstring(L, 2, &l2);
  std::ptrdiff_t init = posrelat(luaL_optinteger(L, 3, 1), l1) - 1;
  if (init < 0) {
    init = 0;
  } else if (static_cast<std::size_t>(init) > l1) {
    init = static_cast<std::ptrdiff_t>(l1);
  }
  checkpoint(L);
  if (find && (lua_toboolean(L, 4) || std::strpbrk(p, kSpecials) == nullptr)) {
    const char* s2 = plain_find(L, s + init, l1 - static_cast<std::size_t>(init), p, l2);
    if (s2) {
      lua_pushinteger(L, s2 - s + 1);
      lua_pushinteger(L, s2 - s + static_cast<std::ptrdiff_t>(l2));
      return 2;
    }
  } else {
    check_pattern_length(L, l2);
    MatchState ms;
    const bool anchor = *p == '^';
    if (anchor) p++;
    const char* s1 = s + init;
    ms.L = L;
    ms.src_init = s;
    ms.src_end = s + l1;
    do {
      ms.level = 0;
      if (const char* res = match(&ms, s1, p)) {
        if (find) {
          lua_pushinteger(L, s1 - s + 1);  // start
          lua_pushinteger(L, res - s);     // end
          return push_captures(&ms, nullptr, nullptr) + 2;
        }
        return push_captures(&ms, s1, res);
      }
    } while (s1++ < ms.src_end && !anchor);
  }
  lua_pushnil(L);
  return 1;
}

int find_cb(lua_State* L) {
  return find_aux(L, true);
}
int match_cb(lua_State* L) {
  return find_aux(L, false);
}

int gmatch_aux_cb(lua_State* L) {
  std::size_t ls = 0;
  const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char* p = lua_tostring(L, lua_upvalueindex(2));
  checkpoint(L);
  MatchState ms;
  ms.L = L;
  ms.src_init = s;
  ms.src_end = s + ls;
  for (const char* src = s + static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(3)));
       src <= ms.src_end; src++) {
    ms.level = 0;
    if (const char* e = match(&ms, src, p)) {
      lua_Integer newstart = e - s;
      if (e == src) newstart++;  // an empty match: go on at least one position
      lua_pushinteger(L, newstart);
      lua_replace(L, lua_upvalueindex(3));
      return push_captures(&ms, src, e);
    }
  }
  return 0;
}

int gmatch_cb(lua_State* L) {
  luaL_checkstring(L, 1);
  std::size_t lp = 0;
  luaL_checklstring(L, 2, &lp);
  check_pattern_length(L, lp);
  lua_settop(L, 2);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, gmatch_aux_cb, 3);
  return 1;
}

void add_s(MatchState* ms, luaL_Buffer* b, const char* s, const char* e) {
  std::size_t l = 0;
  const char* news = lua_tolstring(ms->L, 3, &l);
  count_steps(ms->L, 1 + l / 64);
  for (std::size_t i = 0; i < l; i++) {
    if (news[i] != kEsc) {
      luaL_addchar(b, news[i]);
      continue;
    }
    i++;  // skip the escape
    if (!std::isdigit(uc(news[i]))) {
      luaL_addchar(b, news[i]);
    } else if (news[i] == '0') {
      luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
    } else {
      push_onecapture(ms, news[i] - '1', s, e);
      luaL_addvalue(b);
    }
  }
}

void add_value(MatchState* ms, luaL_Buffer* b, const char* s, const char* e) {
  lua_State* L = ms->L;
  switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
      add_s(ms, b, s, e);
      return;
    case LUA_TFUNCTION: {
      lua_pushvalue(L, 3);
      const int n = push_captures(ms, s, e);
      lua_call(L, n, 1);
      break;
    }
    case LUA_TTABLE:
      push_onecapture(ms, 0, s, e);
      lua_gettable(L, 3);
      break;
    default:
      break;
  }
  if (!lua_toboolean(L, -1)) {  // nil or false: keep the original text
    lua_pop(L, 1);
    lua_pushlstring(L, s, static_cast<std::size_t>(e - s));
  } else if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(b);
}

int gsub_cb(lua_State* L) {
  std::size_t srcl = 0;
  std::size_t lp = 0;
  const char* src = luaL_checklstring(L, 1, &srcl);
  const char* p = luaL_checklstring(L, 2, &lp);
  check_pattern_length(L, lp);
  const int tr = lua_type(L, 3);
  const int max_s = luaL_optint(L, 4, static_cast<int>(srcl + 1));
  const bool anchor = *p == '^';
  if (anchor) p++;
  luaL_argcheck(L,
                tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                3, "string/function/table expected");
  checkpoint(L);
  int n = 0;
  MatchState ms;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  ms.L = L;
  ms.src_init = src;
  ms.src_end = src + srcl;
  while (n < max_s) {
    ms.level = 0;
    const char* e = match(&ms, src, p);
    if (e) {
      n++;
      add_value(&ms, &b, src, e);
    }
    if (e && e > src) {
      src = e;
    } else if (src < ms.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor) break;
  }
  luaL_addlstring(&b, src, static_cast<std::size_t>(ms.src_end - src));
  luaL_pushresult(&b);
  lua_pushinteger(L, n);
  return 2;
}

}  // namespace

void install_patterns(lua_State* L) {
  const int t = lua_gettop(L);
  lua_pushcfunction(L, find_cb);
  lua_setfield(L, t, "find");
  lua_pushcfunction(L, match_cb);
  lua_setfield(L, t, "match");
  lua_pushcfunction(L, gmatch_cb);
  lua_setfield(L, t, "gmatch");
  lua_pushcfunction(L, gsub_cb);
  lua_setfield(L, t, "gsub");
  // Lua 5.1 built with LUA_COMPAT_GFIND (Debian's) keeps gmatch's old name too.
  lua_getfield(L, t, "gfind");
  const bool has_gfind = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (has_gfind) {
    lua_pushcfunction(L, gmatch_cb);
    lua_setfield(L, t, "gfind");
  }
}

}  // namespace semlock::redis::lua
