// Redis scripting (EVAL, EVALSHA, SCRIPT) on an embedded Lua 5.1, Redis's Lua.
//
// One Lua state per server, used only from the loop thread: a script runs to its end before any
// other request is read, so it is atomic, as in Redis. redis.call/redis.pcall reach this server's
// own commands through execute() with may_block = false (WAIT is ignored: scripts never block).
//
// Bounds (a client may send anything; every other client must keep being served):
// - time: no script holds the loop longer than `max_ms` (scripting.max_ms), whether or not it has
//   written. The instruction hook reads a steady clock every kHookEvery instructions; C functions
//   that can run long without an instruction check it too (lua_sandbox.h), and so does the
//   allocator every 256 KiB. Past it the script is stopped: nothing is rolled back, and the reply
//   says whether it had written (kStoppedKept / kStoppedNothing). Once stopped, the hook fires
//   on every instruction and pcall, xpcall and coroutine.resume re-raise, so the stop cannot be
//   caught. (Redis lets a script that wrote run to completion; a lock server chooses
//   availability.)
// - memory: the Lua heap is capped by a custom lua_Alloc at `max_heap_bytes` (a failed
//   allocation is Lua's "not enough memory" error) and counted as used memory. The script cache
//   is bounded in scripts and in bytes: a body over `max_script_bytes` is refused, and cached
//   scripts are evicted, least recently used first, so that they hold at most a quarter of the
//   heap; the rest stays free for runs, so a lock library's release script always has room.
//   After a run, a heap grown past the cache and some slack is collected at once.
// - replies: a script's reply is converted only when it stays within `max_reply_elements` and
//   `max_reply_bytes` (a table that contains itself is a huge reply): else kReplyTooLarge.
//
// Sandbox (lua_sandbox.h): Redis's libraries (base without dofile/loadfile/load/loadstring/print/
// newproxy/getfenv/setfenv, table, string without dump, math, coroutine) and the `redis` table,
// all read-only; reading an undefined global or writing any global is an error with Redis 7's
// texts, so every script starts from the same environment. Nothing a script can make has a
// finalizer, every Lua call of the server runs protected, and a Lua panic handler exists only as
// a last resort that abandons the state instead of exiting.
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
  std::int64_t max_ms = 500;  // scripting.max_ms
  std::size_t max_scripts = 1000;
  std::size_t max_heap_bytes = 64ull * 1024 * 1024;
  std::size_t max_script_bytes = 1024 * 1024;
  std::size_t max_reply_elements = 1'000'000;
  std::size_t max_reply_bytes = 16ull * 1024 * 1024;
};

// Reply texts of the bounds above.
inline constexpr std::string_view kStoppedKept = "; its writes were kept";
inline constexpr std::string_view kStoppedNothing = "; it had written nothing";
inline constexpr std::string_view kReplyTooLarge = "ERR reply too large";

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
  // Heap bytes charged to the cached scripts (what their compilation added to the heap).
  std::size_t cached_bytes() const;
  const ScriptLimits& limits() const;

  // The Lua side (scripting.cc); public only so that Lua's C callbacks there can reach it.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace semlock::redis
