// The Lua state, the script cache and script runs (see scripting.h for the rules).
//
// Lua 5.1 (Debian's build) raises errors with longjmp, which skips C++ destructors, and an error
// outside any protected call ends in Lua's panic handler, which exits the process. So every use
// of the Lua API here runs inside lua_cpcall (protected()), and the functions that Lua calls keep
// their C++ objects in Impl (reused buffers) or in helpers that have returned before anything
// can raise.
#include "redis-compat/scripting.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "redis-compat/lua_convert.h"
#include "redis-compat/lua_sandbox.h"
#include "redis-compat/sha1.h"

namespace semlock::redis {
namespace {

// VM instructions between two clock reads: about a microsecond of plain Lua.
constexpr int kHookEvery = 100;
// Allocated bytes between two clock reads by the allocator (string building, table growth).
constexpr std::size_t kAllocCheckBytes = 256 * 1024;
// After a run, a heap larger than the cached scripts plus this is collected at once, so that
// the next script (another client's release script) finds the heap free.
constexpr std::size_t kRunSlackBytes = 4 * 1024 * 1024;
// A redis.call reply buffer larger than this is released after use, not kept for the next call.
constexpr std::size_t kCallOutKeep = 1024 * 1024;

}  // namespace

struct Scripting::Impl {
  ScriptLimits limits;
  lua_State* L = nullptr;
  std::size_t heap = 0;
  bool capped = false;  // the heap cap applies (only while Lua runs protected)
  lua::Budget budget;
  std::size_t allocated_since_check = 0;
  std::jmp_buf* panic_jump = nullptr;  // where the panic handler returns to (protected())

  struct Entry {
    int ref = LUA_NOREF;
    std::list<std::string>::iterator lru;
    std::size_t bytes = 0;
  };
  std::unordered_map<std::string, Entry> cache;
  std::list<std::string> lru;  // most recently used first
  std::size_t cache_bytes = 0;

  // The run in progress.
  CommandContext* ctx = nullptr;
  bool wrote = false;

  // redis.call's reused buffers (see the note at the top).
  std::vector<std::string> call_args;
  std::vector<std::string_view> call_argv;
  std::string call_out;
  std::string text;  // error texts built inside protected calls

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
    if (m.capped && nsize > osize) {
      if (m.heap - osize + nsize > m.limits.max_heap_bytes) return nullptr;  // "not enough memory"
      if (m.budget.running) {
        // Building strings and tables costs time in C: the clock is read here too.
        if (m.budget.stopped) return nullptr;
        m.allocated_since_check += nsize - osize;
        if (m.allocated_since_check >= kAllocCheckBytes) {
          m.allocated_since_check = 0;
          if (m.budget.check_time()) {
            m.stop_hooks(m.L);
            return nullptr;
          }
        }
      }
    }
    void* p = std::realloc(ptr, nsize);
    if (p) m.heap = m.heap - osize + nsize;
    return p;
  }

  std::size_t cache_limit() const { return limits.max_heap_bytes / 4; }

  void open();
  // Runs f(ud) inside lua_cpcall; returns its status. A panic (which no path here should reach)
  // abandons the state for a fresh one instead of ending the process.
  int protected_call(lua_CFunction f, void* ud);
  // Makes the hook fire on every instruction of `state` and of the main thread.
  void stop_hooks(lua_State* state);
  bool compile(std::string_view body, const std::string& sha, std::string& error);
  void evict_lru();
  void remember(const std::string& sha);
  // Reads redis.call's arguments into call_args; returns an error text or nullptr.
  const char* read_call_args(lua_State* state);
  void execute_call(std::size_t argc);
};

namespace lua {

Budget& budget_of(lua_State* L) {
  return Scripting::Impl::of(L).budget;
}

void hook_cb(lua_State* L, lua_Debug*) {
  checkpoint(L);
}

void raise_stop(lua_State* L) {
  Scripting::Impl& m = Scripting::Impl::of(L);
  if (!m.budget.stopped) {
    m.budget.stopped = true;
    m.budget.stopped_after_ms = m.budget.elapsed_ms();
  }
  m.stop_hooks(L);
  lua_pushliteral(L, "script stopped: it ran past scripting.max_ms");
  lua_error(L);
  __builtin_unreachable();
}

void checkpoint(lua_State* L) {
  if (budget_of(L).check_time()) raise_stop(L);
}

}  // namespace lua

void Scripting::Impl::stop_hooks(lua_State* state) {
  lua_sethook(state, lua::hook_cb, LUA_MASKCOUNT, 1);
  if (state != L) lua_sethook(L, lua::hook_cb, LUA_MASKCOUNT, 1);
}

namespace {

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
  lua::checkpoint(L);
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

int panic_cb(lua_State* L) {
  Scripting::Impl& m = Scripting::Impl::of(L);
  const char* msg = lua_tostring(L, -1);
  std::fprintf(stderr, "scripting: Lua panic (%s); the script state is reset\n",
               msg ? msg : "no message");
  if (m.panic_jump) std::longjmp(*m.panic_jump, 1);
  std::abort();  // unreachable: every call is made through protected_call
}

int open_cb(lua_State* L) {
  open_lib(L, luaopen_base, "");
  open_lib(L, luaopen_table, LUA_TABLIBNAME);
  open_lib(L, luaopen_string, LUA_STRLIBNAME);
  open_lib(L, luaopen_math, LUA_MATHLIBNAME);
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
  lua::install_sandbox(L);
  return 0;
}

struct CompileCall {
  const char* body;
  std::size_t size;
  int status;
  int ref;  // the function, or the error message
};

int compile_cb(lua_State* L) {
  auto* c = static_cast<CompileCall*>(lua_touserdata(L, 1));
  c->status = luaL_loadbuffer(L, c->body, c->size, "@user_script");
  c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct RefCall {
  int ref;
  std::string* out;  // for read_error_cb
};

// Copies the string at registry[ref] into *out and frees the reference.
int read_error_cb(lua_State* L) {
  auto* c = static_cast<RefCall*>(lua_touserdata(L, 1));
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  std::size_t len = 0;
  const char* msg = lua_tolstring(L, -1, &len);
  c->out->append(msg ? std::string_view(msg, len) : std::string_view("unknown error"));
  luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
  return 0;
}

int unref_cb(lua_State* L) {
  auto* c = static_cast<RefCall*>(lua_touserdata(L, 1));
  luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
  return 0;
}

int full_gc_cb(lua_State* L) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

int flush_cb(lua_State* L) {
  auto& m = Scripting::Impl::of(L);
  for (auto& [sha, entry] : m.cache) luaL_unref(L, LUA_REGISTRYINDEX, entry.ref);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

struct RunCall {
  int ref;
  Args keys;
  Args args;
  resp::Writer* w;
};

void set_array(lua_State* L, int table, const char* name, Args values) {
  lua_pushstring(L, name);
  lua_createtable(L, static_cast<int>(values.size()), 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    lua_pushlstring(L, values[i].data(), values[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_rawset(L, table);
}

// One script run, protected as a whole: KEYS/ARGV, the call under the budget, the reply, the
// collection of its garbage.
int run_cb(lua_State* L) {
  auto* c = static_cast<RunCall*>(lua_touserdata(L, 1));
  auto& m = Scripting::Impl::of(L);
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
  lua::push_real_globals(L);
  set_array(L, 2, "KEYS", c->keys);
  set_array(L, 2, "ARGV", c->args);
  lua_pop(L, 1);

  m.budget.start = lua::Budget::Clock::now();
  m.budget.max_ms = m.limits.max_ms;
  m.budget.max_string_bytes = m.limits.max_heap_bytes;
  m.budget.running = true;
  m.budget.stopped = false;
  m.budget.steps = 0;
  m.allocated_since_check = 0;
  lua_sethook(L, lua::hook_cb, LUA_MASKCOUNT, kHookEvery);
  m.capped = true;
  const int rc = lua_pcall(L, 0, 1, 0);
  m.capped = false;
  m.budget.running = false;
  lua_sethook(L, nullptr, 0, 0);

  resp::Writer& w = *c->w;
  if (m.budget.stopped) {
    m.text.assign("ERR script stopped after ");
    m.text.append(std::to_string(m.budget.stopped_after_ms));
    m.text.append(" ms");
    m.text.append(m.wrote ? kStoppedKept : kStoppedNothing);
    w.error(m.text);
  } else if (rc == 0 || is_error_table(L, -1)) {  // {err=...}: redis.call or error({err=...})
    if (!write_value(L, -1, w, m.limits.max_reply_elements, m.limits.max_reply_bytes)) {
      w.error(kReplyTooLarge);
    }
  } else {
    std::size_t len = 0;
    const char* msg = lua_tolstring(L, -1, &len);
    if (len > m.limits.max_reply_bytes) {
      w.error(kReplyTooLarge);  // error(string.rep('x', 1e8))
    } else {
      m.text.assign(rc == LUA_ERRMEM ? "ERR script heap limit reached: " : "ERR ");
      m.text.append(msg ? std::string_view(msg, len) : std::string_view("unknown Lua error"));
      w.error(m.text);
    }
  }
  // KEYS and ARGV of this run are garbage now.
  lua_settop(L, 0);
  lua::push_real_globals(L);
  for (const char* name : {"KEYS", "ARGV"}) {
    lua_pushstring(L, name);
    lua_pushnil(L);
    lua_rawset(L, 1);
  }
  lua_settop(L, 0);
  // Garbage from this run goes now, so that the heap counted as used memory is the live one and
  // the next script finds room.
  if (m.heap > m.cache_bytes + kRunSlackBytes) {
    lua_gc(L, LUA_GCCOLLECT, 0);
  } else {
    lua_gc(L, LUA_GCSTEP, 64);
  }
  return 0;
}

}  // namespace

void Scripting::Impl::open() {
  L = lua_newstate(alloc_cb, this);
  if (L == nullptr) throw std::bad_alloc();
  lua_atpanic(L, panic_cb);
  if (protected_call(open_cb, nullptr) != 0) throw std::runtime_error("cannot open the Lua state");
}

int Scripting::Impl::protected_call(lua_CFunction f, void* ud) {
  std::jmp_buf jump;
  std::jmp_buf* outer = panic_jump;
  panic_jump = &jump;
  // NOLINTNEXTLINE(cert-err52-cpp): the panic handler's only way back; no C++ object lives
  // between here and the longjmp (see the note at the top).
  if (setjmp(jump) != 0) {
    panic_jump = outer;
    // The state may be inconsistent: leave it (its memory is lost) and start a fresh one.
    capped = false;
    budget.running = false;
    cache.clear();
    lru.clear();
    cache_bytes = 0;
    heap = 0;
    L = nullptr;
    open();
    return LUA_ERRRUN;
  }
  const int rc = lua_cpcall(L, f, ud);
  panic_jump = outer;
  return rc;
}

bool Scripting::Impl::compile(std::string_view body, const std::string& sha, std::string& error) {
  if (body.size() > limits.max_script_bytes) {
    error = "ERR script too large (at most " + std::to_string(limits.max_script_bytes) + " bytes)";
    return false;
  }
  CompileCall c{body.data(), body.size(), 0, LUA_NOREF};
  const std::size_t before = heap;
  capped = true;
  int rc = protected_call(compile_cb, &c);
  if (rc == 0 && c.status == LUA_ERRMEM) {
    // The garbage of earlier runs goes, then the compile is tried once more. (The cache holds
    // at most a quarter of the heap and a body at most max_script_bytes, so this is rare.)
    RefCall drop{c.ref, nullptr};
    protected_call(unref_cb, &drop);
    protected_call(full_gc_cb, nullptr);
    c = CompileCall{body.data(), body.size(), 0, LUA_NOREF};
    rc = protected_call(compile_cb, &c);
  }
  capped = false;
  if (rc != 0 || c.status == LUA_ERRMEM) {
    if (rc == 0) {
      RefCall drop{c.ref, nullptr};
      protected_call(unref_cb, &drop);
    }
    error = "ERR Error compiling script (new function): not enough memory in the script heap";
    return false;
  }
  if (c.status != 0) {
    error = "ERR Error compiling script (new function): ";
    RefCall read{c.ref, &error};
    protected_call(read_error_cb, &read);
    return false;
  }
  // What compiling added to the heap is what the script costs while cached.
  const std::size_t bytes = std::max(heap > before ? heap - before : 0, body.size());
  while (!lru.empty() &&
         (cache.size() >= limits.max_scripts || cache_bytes + bytes > cache_limit())) {
    evict_lru();
  }
  lru.push_front(sha);
  cache[sha] = Entry{c.ref, lru.begin(), bytes};
  cache_bytes += bytes;
  return true;
}

void Scripting::Impl::evict_lru() {
  auto victim = cache.find(lru.back());
  RefCall drop{victim->second.ref, nullptr};
  protected_call(unref_cb, &drop);
  cache_bytes -= victim->second.bytes;
  cache.erase(victim);
  lru.pop_back();
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
  // A reply that held a whole large value once is not kept for the next call.
  if (call_out.capacity() > kCallOutKeep) std::string().swap(call_out);
  call_out.clear();
  resp::Writer w(call_out, 2);
  // A command's reply to the script is bounded as a client's is: past it the call fails (and a
  // pop with a count refuses before it removes anything) instead of copying a huge value.
  w.limit_reply(limits.max_reply_bytes);
  const CommandSpec* spec = find_command(call_argv[0]);
  if (spec && (spec->flags & kNoScript)) {
    w.error(errors::kNotAllowedFromScript);
    return;
  }
  CommandContext inner{ctx->engine, ctx->host, ctx->client, w, ctx->now, false};
  const CommandSpec* ran = nullptr;
  execute(inner, call_argv, &ran);
  if (w.over_limit()) {
    call_out.clear();
    w.clear_limit();
    w.error(kReplyTooLarge);
  }
  // A write command that failed (redis.pcall('del') without a key) changed nothing.
  if (ran && (ran->flags & kWrite) && !call_out.starts_with('-')) wrote = true;
}

Scripting::Scripting(ScriptLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->open();
}

Scripting::~Scripting() {
  if (impl_->L) lua_close(impl_->L);
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
  m.protected_call(flush_cb, nullptr);
  m.cache.clear();
  m.lru.clear();
  m.cache_bytes = 0;
}

Outcome Scripting::run(CommandContext& ctx, std::string_view script, bool is_sha, Args keys,
                       Args args) {
  Impl& m = *impl_;
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
      ctx.host.on_script_heap(m.heap);
      return Outcome::kDone;
    }
  }
  m.ctx = &ctx;
  m.wrote = false;
  RunCall call{m.cache[sha].ref, keys, args, &ctx.w};
  const std::size_t reply_start = ctx.w.out().size();
  if (m.protected_call(run_cb, &call) != 0) {
    // Only an allocation failure of the run's set-up or of its reply lands here.
    m.capped = false;
    m.budget.running = false;
    ctx.w.out().resize(reply_start);
    ctx.w.error("ERR script heap limit reached: not enough memory");
  }
  m.ctx = nullptr;
  ctx.host.on_script_heap(m.heap);
  return Outcome::kDone;
}

std::size_t Scripting::heap_bytes() const {
  return impl_->heap;
}
std::size_t Scripting::cached_scripts() const {
  return impl_->cache.size();
}
std::size_t Scripting::cached_bytes() const {
  return impl_->cache_bytes;
}
const ScriptLimits& Scripting::limits() const {
  return impl_->limits;
}

}  // namespace semlock::redis
