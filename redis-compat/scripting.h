// Redis scripting (EVAL, EVALSHA, SCRIPT) on an embedded Lua 5.1, Redis's Lua.
//
// One Lua state per server, used only from the loop thread: a script runs to its end before any
// other request is read, so it is atomic, as in Redis. redis.call/redis.pcall reach this server's
// own commands through execute() with may_block = false (WAIT is ignored: scripts never block).
//
// Bounds:
// - the script cache holds at most `max_scripts` bodies; loading one more evicts the least
//   recently used (Redis 7.4 evicts EVAL-loaded scripts the same way);
// - the Lua heap is capped by a custom lua_Alloc at `max_heap_bytes`: an allocation past it fails,
//   which Lua turns into a "not enough memory" script error; the heap counts as used memory;
// - Redis's busy-script rule, by instruction count instead of wall time: a script that has run
//   `instruction_budget` VM instructions without a write is stopped with an error (nothing to
//   roll back); one that has written runs to completion, since stopping it would leave a half
//   done change.
//
// Sandbox: only Redis's libraries (base without dofile/loadfile/load/loadstring/print, table,
// string, math) and the `redis` table; globals cannot be created, and reading an undefined
// global is an error (Redis's global protection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "redis-compat/command_table.h"
#include "redis-compat/context.h"

namespace semlock::redis {

struct ScriptLimits {
  std::size_t max_scripts = 1000;
  std::size_t max_heap_bytes = 64ull * 1024 * 1024;
  std::uint64_t instruction_budget = 20'000'000;  // a few tens of ms of pure Lua
};

class Scripting {
 public:
  explicit Scripting(ScriptLimits limits = {});
  ~Scripting();
  Scripting(const Scripting&) = delete;
  Scripting& operator=(const Scripting&) = delete;

  // SCRIPT LOAD: compiles `body` and caches it. Returns its SHA-1, or "" with `error` set to the
  // RESP error text ("ERR Error compiling script (new function): user_script:1: ...").
  std::string load(std::string_view body, std::string& error);
  // SCRIPT EXISTS: whether a (case-insensitive) SHA-1 is cached.
  bool exists(std::string_view sha) const;
  // SCRIPT FLUSH: forgets every cached script and collects the heap.
  void flush();

  // EVAL (`is_sha` false: `script` is a body, cached on the way) or EVALSHA (`script` is a SHA-1;
  // NOSCRIPT when unknown). `keys` and `args` become KEYS and ARGV. Writes the reply to ctx.w.
  Outcome run(CommandContext& ctx, std::string_view script, bool is_sha, Args keys, Args args);

  // Bytes the Lua heap holds now.
  std::size_t heap_bytes() const;
  std::size_t cached_scripts() const;
  const ScriptLimits& limits() const;

  // The Lua side (scripting.cc); public only so that Lua's C callbacks there can reach it.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace semlock::redis
