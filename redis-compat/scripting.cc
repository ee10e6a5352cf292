// The Lua state, the script cache and script runs (see scripting.h for the rules).
//
// Lua 5.1 (Debian's build) raises errors with longjmp, which skips C++ destructors. So every
// function that Lua calls keeps its C++ objects in Impl (reused buffers) or in a helper that has
// returned before anything can raise, and conversions that run outside a protected call lift the
// heap cap so that they cannot fail (an error there would reach Lua's panic handler).
#include "redis-compat/scripting.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "redis-compat/lua_convert.h"
#include "redis-compat/sha1.h"

namespace semlock::redis {
namespace {

constexpr int kHookEvery = 1000;  // VM instructions between two budget checks
// What one redis.call/pcall costs against the budget, in VM instructions: a command takes about
// as long as a thousand Lua instructions, and a read-only loop of calls must be stopped too.
constexpr std::uint64_t kCallCost = 1000;
constexpr std::string_view kBudgetError =
    "ERR script stopped: it ran past its instruction budget before its first write";

// Wraps string.find/match/gmatch/gsub with a pattern length check (see Impl::open()).
constexpr const char* kPatternGuard = R"lua(
    local find, match, gmatch, gsub, type = string.find, string.match, string.gmatch, string.gsub, type
    local function check(p)
      if type(p) == "string" and #p > 512 then
        error("pattern too long (at most 512 bytes in scripts)", 0)
      end
    end
    string.find = function(s, p, ...) check(p) return find(s, p, ...) end
    string.match = function(s, p, ...) check(p) return match(s, p, ...) end
    string.gmatch = function(s, p) check(p) return gmatch(s, p) end
    string.gsub = function(s, p, ...) check(p) return gsub(s, p, ...) end
  )lua";

}  // namespace

struct Scripting::Impl {
  ScriptLimits limits;
  lua_State* L = nullptr;
  std::size_t heap = 0;
  bool capped = false;  // the heap cap applies (only while Lua runs protected)

  struct Entry {
    int ref = LUA_NOREF;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Entry> cache;
  std::list<std::string> lru;  // most recently used first

  // The run in progress.
  CommandContext* ctx = nullptr;
  bool wrote = false;
  bool stopped = false;
  std::uint64_t executed = 0;

  // redis.call's reused buffers (see the note at the top).
  std::vector<std::string> call_args;
  std::vector<std::string_view> call_argv;
  std::string call_out;

  static Impl& of(lua_State* L) {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return *static_cast<Impl*>(ud);
  }

  static void* alloc_cb(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
    Impl& m = *static_cast<Impl*>(ud);
    if (nsize == 0) {
      std::free(ptr);
      m.heap -= osize;
      return nullptr;
    }
    if (m.capped && nsize > osize && m.heap - osize + nsize > m.limits.max_heap_bytes) {
      return nullptr;  // Lua raises "not enough memory"
    }
    void* p = std::realloc(ptr, nsize);
    if (p) m.heap = m.heap - osize + nsize;
    return p;
  }

  void open();
  bool compile(std::string_view body, const std::string& sha, std::string& error);
  void remember(const std::string& sha);
  // Reads redis.call's arguments into call_args; returns an error text or nullptr.
  const char* read_call_args(lua_State* state);
  void execute_call(std::size_t argc);
};

namespace {

void budget_hook_cb(lua_State* L, lua_Debug*);

// Charges `cost` instructions; past the budget before the first write, stops the script.
void charge(lua_State* L, std::uint64_t cost) {
  auto& m = Scripting::Impl::of(L);
  m.executed += cost;
  if (m.stopped || (!m.wrote && m.executed > m.limits.instruction_budget)) {
    // Once stopped, check every line and instruction, so that a pcall in a loop cannot catch
    // the error and carry on.
    m.stopped = true;
    lua_sethook(L, budget_hook_cb, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    lua_pushlstring(L, kBudgetError.data(), kBudgetError.size());
    lua_error(L);
  }
}

void budget_hook_cb(lua_State* L, lua_Debug*) {
  charge(L, kHookEvery);
}

void push_error_table(lua_State* L, const char* text) {
  lua_createtable(L, 0, 1);
  lua_pushstring(L, text);
  lua_setfield(L, -2, "err");
}

int redis_call_generic(lua_State* L, bool raise) {
  auto& m = Scripting::Impl::of(L);
  const int argc = lua_gettop(L);
  if (argc == 0) {
    push_error_table(L, "ERR Please specify at least one argument for this redis lib call");
    return lua_error(L);
  }
  charge(L, kCallCost);
  if (const char* err = m.read_call_args(L)) {
    push_error_table(L, err);
    return lua_error(L);
  }
  m.execute_call(static_cast<std::size_t>(argc));
  std::string_view reply = m.call_out;
  push_reply(L, reply);
  if (raise && is_error_table(L, -1)) return lua_error(L);
  return 1;
}

int redis_call_cb(lua_State* L) {
  return redis_call_generic(L, true);
}
int redis_pcall_cb(lua_State* L) {
  return redis_call_generic(L, false);
}

int redis_sha1hex_cb(lua_State* L) {
  if (lua_gettop(L) != 1) return luaL_error(L, "wrong number of arguments");
  std::size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  char hex[41];
  {
    const std::string h = sha1_hex(std::string_view(s ? s : "", s ? len : 0));
    h.copy(hex, 40);
  }
  lua_pushlstring(L, hex, 40);
  return 1;
}

// redis.error_reply / redis.status_reply: {err=s} / {ok=s}.
int reply_table(lua_State* L, const char* field) {
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
    return luaL_error(L, "wrong number or type of arguments");
  }
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, field);
  return 1;
}
int redis_error_reply_cb(lua_State* L) {
  return reply_table(L, "err");
}
int redis_status_reply_cb(lua_State* L) {
  return reply_table(L, "ok");
}

// redis.log: accepted and dropped; script output does not belong in a lock server's log.
int redis_log_cb(lua_State* L) {
  if (lua_gettop(L) < 2) return luaL_error(L, "redis.log() requires two arguments or more.");
  return 0;
}

int redis_setresp_cb(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_tonumber(L, 1) != 2) {
    return luaL_error(L, "RESP version must be 2 (RESP3 replies are not supported in scripts)");
  }
  return 0;
}

int redis_noop_cb(lua_State*) {
  return 0;
}
int redis_true_cb(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}

// Redis's global protection.
int global_index_cb(lua_State* L) {
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                    lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}
int global_newindex_cb(lua_State* L) {
  return luaL_error(L, "Attempt to modify a readonly table");
}

void open_lib(lua_State* L, lua_CFunction open, const char* name) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

void set_function(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

void set_number(lua_State* L, const char* name, int v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, name);
}

}  // namespace

void Scripting::Impl::open() {
  L = lua_newstate(alloc_cb, this);
  open_lib(L, luaopen_base, "");
  open_lib(L, luaopen_table, LUA_TABLIBNAME);
  open_lib(L, luaopen_string, LUA_STRLIBNAME);
  open_lib(L, luaopen_math, LUA_MATHLIBNAME);
  // Lua 5.1's pattern matcher recurses on the C stack once per pattern item, where the budget
  // hook cannot reach: a bounded pattern length bounds that depth.
  luaL_dostring(L, kPatternGuard);
  // Nothing that reads files, compiles code at run time (Lua 5.1's loader accepts bytecode,
  // which is not memory safe) or writes to the server's stdout.
  for (const char* name : {"dofile", "loadfile", "load", "loadstring", "print"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  lua_newtable(L);
  set_function(L, "call", redis_call_cb);
  set_function(L, "pcall", redis_pcall_cb);
  set_function(L, "sha1hex", redis_sha1hex_cb);
  set_function(L, "error_reply", redis_error_reply_cb);
  set_function(L, "status_reply", redis_status_reply_cb);
  set_function(L, "log", redis_log_cb);
  set_function(L, "setresp", redis_setresp_cb);
  set_function(L, "set_repl", redis_noop_cb);
  set_function(L, "replicate_commands", redis_true_cb);
  set_number(L, "LOG_DEBUG", 0);
  set_number(L, "LOG_VERBOSE", 1);
  set_number(L, "LOG_NOTICE", 2);
  set_number(L, "LOG_WARNING", 3);
  set_number(L, "REPL_NONE", 0);
  set_number(L, "REPL_AOF", 1);
  set_number(L, "REPL_SLAVE", 2);
  set_number(L, "REPL_REPLICA", 2);
  set_number(L, "REPL_ALL", 3);
  lua_setglobal(L, "redis");
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, global_index_cb);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, global_newindex_cb);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

bool Scripting::Impl::compile(std::string_view body, const std::string& sha, std::string& error) {
  capped = true;
  const int rc = luaL_loadbuffer(L, body.data(), body.size(), "@user_script");
  capped = false;
  if (rc != 0) {
    const char* msg = lua_tostring(L, -1);
    error = "ERR Error compiling script (new function): ";
    error += msg ? msg : "unknown error";
    lua_pop(L, 1);
    return false;
  }
  if (cache.size() >= limits.max_scripts && !lru.empty()) {
    auto victim = cache.find(lru.back());
    luaL_unref(L, LUA_REGISTRYINDEX, victim->second.ref);
    cache.erase(victim);
    lru.pop_back();
  }
  lru.push_front(sha);
  cache[sha] = Entry{luaL_ref(L, LUA_REGISTRYINDEX), lru.begin()};
  return true;
}

void Scripting::Impl::remember(const std::string& sha) {
  auto it = cache.find(sha);
  if (it != cache.end()) lru.splice(lru.begin(), lru, it->second.lru);
}

const char* Scripting::Impl::read_call_args(lua_State* state) {
  const int argc = lua_gettop(state);
  if (call_args.size() < static_cast<std::size_t>(argc)) call_args.resize(argc);
  for (int i = 1; i <= argc; ++i) {
    std::string& arg = call_args[i - 1];
    if (lua_type(state, i) == LUA_TNUMBER) {
      // Redis formats numbers as the shortest text: integers without a fraction.
      const double v = lua_tonumber(state, i);
      char buf[64];
      if (std::floor(v) == v && std::fabs(v) < 1e17) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
      } else {
        std::snprintf(buf, sizeof buf, "%.17g", v);
      }
      arg.assign(buf);
    } else if (lua_type(state, i) == LUA_TSTRING) {
      std::size_t len = 0;
      const char* s = lua_tolstring(state, i, &len);
      arg.assign(s, len);
    } else {
      return "ERR Lua redis lib command arguments must be strings or integers";
    }
  }
  return nullptr;
}

void Scripting::Impl::execute_call(std::size_t argc) {
  call_argv.assign(call_args.begin(), call_args.begin() + static_cast<std::ptrdiff_t>(argc));
  call_out.clear();
  resp::Writer w(call_out, 2);
  const CommandSpec* spec = find_command(call_argv[0]);
  if (spec && (spec->flags & kNoScript)) {
    w.error(errors::kNotAllowedFromScript);
    return;
  }
  CommandContext inner{ctx->engine, ctx->host, ctx->client, w, ctx->now, false};
  const CommandSpec* ran = nullptr;
  execute(inner, call_argv, &ran);
  if (ran && (ran->flags & kWrite)) wrote = true;
}

Scripting::Scripting(ScriptLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->open();
}

Scripting::~Scripting() {
  lua_close(impl_->L);
}

std::string Scripting::load(std::string_view body, std::string& error) {
  Impl& m = *impl_;
  std::string sha = sha1_hex(body);
  if (m.cache.contains(sha)) {
    m.remember(sha);
    return sha;
  }
  if (!m.compile(body, sha, error)) return "";
  return sha;
}

bool Scripting::exists(std::string_view sha) const {
  std::string lower(sha);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return impl_->cache.contains(lower);
}

void Scripting::flush() {
  Impl& m = *impl_;
  for (auto& [sha, entry] : m.cache) luaL_unref(m.L, LUA_REGISTRYINDEX, entry.ref);
  m.cache.clear();
  m.lru.clear();
  lua_gc(m.L, LUA_GCCOLLECT, 0);
}

Outcome Scripting::run(CommandContext& ctx, std::string_view script, bool is_sha, Args keys,
                       Args args) {
  Impl& m = *impl_;
  lua_State* L = m.L;
  std::string sha;
  if (is_sha) {
    sha.assign(script);
    for (char& c : sha) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (!m.cache.contains(sha)) {
      ctx.w.error(errors::kNoScript);
      return Outcome::kDone;
    }
    m.remember(sha);
  } else {
    std::string error;
    sha = load(script, error);
    if (sha.empty()) {
      ctx.w.error(error);
      return Outcome::kDone;
    }
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, m.cache[sha].ref);
  // KEYS and ARGV, set past the global protection.
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  for (const auto& [name, values] : {std::pair{"KEYS", keys}, std::pair{"ARGV", args}}) {
    lua_pushstring(L, name);
    lua_createtable(L, static_cast<int>(values.size()), 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
      lua_pushlstring(L, values[i].data(), values[i].size());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);

  m.ctx = &ctx;
  m.wrote = false;
  m.stopped = false;
  m.executed = 0;
  lua_sethook(L, budget_hook_cb, LUA_MASKCOUNT, kHookEvery);
  m.capped = true;
  const int rc = lua_pcall(L, 0, 1, 0);
  m.capped = false;
  lua_sethook(L, nullptr, 0, 0);
  m.ctx = nullptr;

  if (rc == 0) {
    write_value(L, -1, ctx.w);
  } else if (is_error_table(L, -1)) {
    write_value(L, -1, ctx.w);  // {err=...}: raised by redis.call or error({err=...})
  } else if (m.stopped) {
    ctx.w.error(kBudgetError);
  } else {
    const char* msg = lua_tostring(L, -1);
    std::string text = rc == LUA_ERRMEM ? "ERR script heap limit reached: " : "ERR ";
    text += msg ? msg : "unknown Lua error";
    ctx.w.error(text);
  }
  lua_settop(L, 0);
  // Garbage from this run goes now, so that the heap counted as used memory is the live one.
  lua_gc(L, LUA_GCSTEP, 64);
  ctx.host.on_script_heap(m.heap);
  return Outcome::kDone;
}

std::size_t Scripting::heap_bytes() const {
  return impl_->heap;
}
std::size_t Scripting::cached_scripts() const {
  return impl_->cache.size();
}
const ScriptLimits& Scripting::limits() const {
  return impl_->limits;
}

}  // namespace semlock::redis
