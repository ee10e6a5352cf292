// The sandbox of lua_sandbox.h: proxies, removed functions and wrapped C functions.
//
// Errors raise with longjmp (Lua 5.1): nothing here owns a C++ object.
#include "redis-compat/lua_sandbox.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace semlock::redis::lua {
namespace {

constexpr const char* kReadonly = "Attempt to modify a readonly table";
// unpack pushes every value onto the Lua stack: Lua 5.1's own ceiling (LUAI_MAXCSTACK).
constexpr long long kMaxUnpack = 8000;

// Registry keys (their addresses).
const char kProtectedKey = 0;    // the set of proxies rawset must refuse
const char kRealGlobalsKey = 0;  // R

int readonly_newindex_cb(lua_State* L) {
  return luaL_error(L, kReadonly);
}

int missing_global_cb(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    name ? name : "?");
}

bool is_protected(lua_State* L, int index) {
  lua_pushlightuserdata(L, const_cast<char*>(&kProtectedKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, index);
  lua_rawget(L, -2);
  const bool yes = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return yes;
}

// Pushes a read-only proxy of the table at `index`: empty, reads fall through to the table,
// writes raise, and the metatable is hidden.
void push_proxy(lua_State* L, int index) {
  lua_newtable(L);  // the proxy
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, readonly_newindex_cb);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, const_cast<char*>(&kProtectedKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

lua_CFunction original(lua_State* L) {
  return lua_tocfunction(L, lua_upvalueindex(1));
}

// A C function that checks the clock before its work (the original is upvalue 1).
int checked_cb(lua_State* L) {
  checkpoint(L);
  return original(L)(L);
}

// coroutine.resume: returns what the original does, unless the run was stopped inside.
int resume_cb(lua_State* L) {
  const int n = original(L)(L);
  if (budget_of(L).stopped) raise_stop(L);
  return n;
}

int rawset_cb(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (is_protected(L, 1)) return luaL_error(L, kReadonly);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

// Lua 5.1's pcall, except that a stopped run is never reported as a caught error.
int pcall_cb(lua_State* L) {
  luaL_checkany(L, 1);
  const int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (budget_of(L).stopped) raise_stop(L);
  lua_pushboolean(L, status == 0);
  lua_insert(L, 1);
  return lua_gettop(L);
}

// xpcall's message handler runs before the stack unwinds; when the error is the stop raised
// from the hook, Lua 5.1 runs it with hooks off, so the script's handler is skipped then.
int xpcall_handler_cb(lua_State* L) {
  if (budget_of(L).stopped) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

int xpcall_cb(lua_State* L) {
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  lua_pushcclosure(L, xpcall_handler_cb, 1);  // the handler, wrapped
  lua_insert(L, 1);                           // below the function
  const int status = lua_pcall(L, 0, LUA_MULTRET, 1);
  if (budget_of(L).stopped) raise_stop(L);
  lua_pushboolean(L, status == 0);
  lua_replace(L, 1);
  return lua_gettop(L);
}

// collectgarbage: "count", "collect" and "step"; the options that change how the shared heap is
// collected for every later script ("stop", "setpause", ...) are refused.
int collectgarbage_cb(lua_State* L) {
  const char* opt = luaL_optstring(L, 1, "collect");
  if (std::strcmp(opt, "count") == 0) {
    const int kb = lua_gc(L, LUA_GCCOUNT, 0);
    const int b = lua_gc(L, LUA_GCCOUNTB, 0);
    lua_pushnumber(L, kb + static_cast<lua_Number>(b) / 1024);
    return 1;
  }
  if (std::strcmp(opt, "collect") == 0) {
    checkpoint(L);
    lua_pushinteger(L, lua_gc(L, LUA_GCCOLLECT, 0));
    return 1;
  }
  if (std::strcmp(opt, "step") == 0) {
    checkpoint(L);
    lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, luaL_optint(L, 2, 0)));
    return 1;
  }
  return luaL_error(L, "collectgarbage option '%s' is not allowed in scripts", opt);
}

int unpack_cb(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const long long i = luaL_optint(L, 2, 1);
  const long long e = luaL_opt(L, luaL_checkint, 3, static_cast<int>(lua_objlen(L, 1)));
  if (i <= e && e - i >= kMaxUnpack) return luaL_error(L, "too many results to unpack");
  checkpoint(L);
  return original(L)(L);
}

// string.rep(s, n): copies in buffer-sized blocks (Lua 5.1 adds byte by byte, and loops n times
// even when s is empty); results past the heap cap are refused before any work.
int rep_cb(lua_State* L) {
  std::size_t l = 0;
  const char* s = luaL_checklstring(L, 1, &l);
  const lua_Integer n = luaL_checkinteger(L, 2);
  if (n <= 0 || l == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (static_cast<std::uint64_t>(n) > budget_of(L).max_string_bytes / l) {
    return luaL_error(L, "resulting string too large");
  }
  checkpoint(L);
  // Short strings are first repeated into one block of about a buffer, so that each buffer is
  // filled by a few memcpy calls whatever the length of s.
  char block[LUAL_BUFFERSIZE];
  const char* unit = s;
  std::size_t unit_len = l;
  if (l < LUAL_BUFFERSIZE / 2) {
    unit_len = LUAL_BUFFERSIZE / l * l;
    std::memcpy(block, s, l);
    for (std::size_t filled = l; filled < unit_len; filled *= 2) {  // doubling
      std::memcpy(block + filled, block, std::min(filled, unit_len - filled));
    }
    unit = block;
  }
  std::size_t total = l * static_cast<std::size_t>(n);
  std::size_t pos = 0;  // offset in unit of the next byte
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (total > 0) {
    char* out = luaL_prepbuffer(&b);
    const std::size_t chunk = total < LUAL_BUFFERSIZE ? total : LUAL_BUFFERSIZE;
    for (std::size_t done = 0; done < chunk;) {
      const std::size_t k = std::min(unit_len - pos, chunk - done);
      std::memcpy(out + done, unit + pos, k);
      done += k;
      pos += k;
      if (pos == unit_len) pos = 0;
    }
    luaL_addsize(&b, chunk);
    total -= chunk;
    count_steps(L, 1);
  }
  luaL_pushresult(&b);
  return 1;
}

// table.sort's comparator: the script's (upvalue 1) or `<`, counted, so that a sort stops
// within a few thousand comparisons of the budget even with a C comparator.
int sort_less_cb(lua_State* L) {
  count_steps(L, 1);
  if (lua_isnil(L, lua_upvalueindex(1))) {
    lua_pushboolean(L, lua_lessthan(L, 1, 2));
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  return 1;
}

int sort_cb(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_pushcclosure(L, sort_less_cb, 1);  // replaces the comparator
  checkpoint(L);
  return original(L)(L);
}

// Wraps field `name` of the table at `index` in a closure of `wrapper` over the original.
void wrap(lua_State* L, int index, const char* name, lua_CFunction wrapper) {
  lua_getfield(L, index, name);
  lua_pushcclosure(L, wrapper, 1);
  lua_setfield(L, index, name);
}

void set(lua_State* L, int index, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, index, name);
}

void remove(lua_State* L, int index, const char* name) {
  lua_pushnil(L);
  lua_setfield(L, index, name);
}

}  // namespace

void install_sandbox(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<char*>(&kProtectedKey));
  lua_newtable(L);
  lua_rawset(L, LUA_REGISTRYINDEX);

  lua_pushvalue(L, LUA_GLOBALSINDEX);
  const int R = lua_gettop(L);
  // Nothing that reads files, compiles code at run time (Lua 5.1's loader accepts bytecode,
  // which is not memory safe), writes to stdout, makes a userdata with a finalizer (newproxy)
  // or reaches a function's environment (which for library functions is R).
  for (const char* name : {"dofile", "loadfile", "load", "loadstring", "print", "newproxy",
                           "getfenv", "setfenv", "gcinfo", "module", "require"}) {
    remove(L, R, name);
  }
  set(L, R, "rawset", rawset_cb);
  set(L, R, "pcall", pcall_cb);
  set(L, R, "xpcall", xpcall_cb);
  set(L, R, "collectgarbage", collectgarbage_cb);
  wrap(L, R, "unpack", unpack_cb);
  wrap(L, R, "tostring", checked_cb);

  lua_getfield(L, R, "string");
  const int S = lua_gettop(L);
  remove(L, S, "dump");
  set(L, S, "rep", rep_cb);
  install_patterns(L);
  for (const char* name : {"format", "lower", "upper", "reverse", "sub", "byte", "char"}) {
    wrap(L, S, name, checked_cb);
  }
  lua_getfield(L, R, "table");
  const int T = lua_gettop(L);
  wrap(L, T, "sort", sort_cb);
  for (const char* name : {"concat", "insert", "remove", "maxn", "foreach", "foreachi", "getn"}) {
    wrap(L, T, name, checked_cb);
  }
  lua_getfield(L, R, "coroutine");
  wrap(L, lua_gettop(L), "resume", resume_cb);
  lua_settop(L, R);

  // The string metatable's __index is the real string table: hide it.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_settop(L, R);

  for (const char* name : {"string", "table", "math", "coroutine", "redis"}) {
    lua_getfield(L, R, name);
    push_proxy(L, lua_gettop(L));
    lua_setfield(L, R, name);
    lua_settop(L, R);
  }
  // Reading a missing global is an error (Redis's global protection).
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, missing_global_cb);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, R);

  push_proxy(L, R);  // P
  const int P = lua_gettop(L);
  lua_pushvalue(L, P);
  lua_setfield(L, R, "_G");
  lua_pushlightuserdata(L, const_cast<char*>(&kRealGlobalsKey));
  lua_pushvalue(L, R);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, P);
  lua_replace(L, LUA_GLOBALSINDEX);  // scripts compiled from now on see P
  lua_settop(L, 0);
}

void push_real_globals(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<char*>(&kRealGlobalsKey));
  lua_rawget(L, LUA_REGISTRYINDEX);
}

}  // namespace semlock::redis::lua
