// The script sandbox on stock Lua 5.1 (internal to scripting.cc; see scripting.h for the rules).
//
// Stock 5.1 has no read-only tables (Redis patches its Lua for them), so protection is built
// from what 5.1 offers:
// - scripts see the globals through an empty proxy table P whose __index is the real globals R
//   (hidden) and whose __newindex raises; every library table and `redis` is such a proxy too,
//   and every metatable involved carries __metatable, so getmetatable/setmetatable cannot reach
//   them; `rawset` refuses the proxies; `getfenv`/`setfenv`, `newproxy`, `debug`, the loaders and
//   `string.dump` are gone; the string metatable is locked;
// - nothing a script can make has a finalizer (newproxy was the only way to a userdata), since
//   finalizers run with hooks off;
// - every C function that can run long without executing a Lua instruction checks the clock
//   (checkpoint) before its work, or runs its loop with a step counter that does (patterns, sort,
//   rep), so the budget bounds the time of any script, not only its VM instructions.
#pragma once

#include <lua.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace semlock::redis::lua {

// The time budget of the run in progress; one per Lua state.
struct Budget {
  using Clock = std::chrono::steady_clock;
  Clock::time_point start{};
  std::int64_t max_ms = 500;
  bool running = false;  // a script runs now (the budget and the heap cap apply)
  bool stopped = false;  // the budget ran out: every further step raises
  std::int64_t stopped_after_ms = 0;
  std::uint64_t steps = 0;  // work done inside C loops since the last clock read
  std::size_t max_string_bytes = 64ull * 1024 * 1024;  // string.rep refuses larger results

  std::int64_t elapsed_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  }
  // Marks the run stopped when past its time; true when stopped.
  bool check_time() {
    if (!stopped && running && elapsed_ms() >= max_ms) {
      stopped = true;
      stopped_after_ms = elapsed_ms();
    }
    return stopped;
  }
};

// The budget of the state `L` belongs to (scripting.cc).
Budget& budget_of(lua_State* L);

// Raises the stop error and makes the hook fire on every instruction of `L` and of the main
// thread from now on, so no pcall, xpcall or coroutine can carry on past it (scripting.cc).
[[noreturn]] void raise_stop(lua_State* L);

// Raises the stop error when the run is stopped or past its time; else returns. Called before
// costly C work and by redis.call.
void checkpoint(lua_State* L);

// Counts `n` units of work done inside a C loop; reads the clock every few thousand.
inline void count_steps(lua_State* L, std::uint64_t n) {
  Budget& b = budget_of(L);
  b.steps += n;
  if (b.steps >= 4096) {
    b.steps = 0;
    checkpoint(L);
  }
}

// Replaces string.find/match/gmatch/gsub of the string table at the top of the stack with
// versions whose matcher counts its steps (lua_pattern.cc). Same results as Lua 5.1's.
void install_patterns(lua_State* L);

// Builds the sandbox in a fresh state whose base, table, string and math libraries are open and
// whose `redis` table is the global `redis`: wraps and removes functions, builds the proxies and
// makes P the globals of the state. Returns with nothing on the stack; R is kept in the registry
// (real_globals()).
void install_sandbox(lua_State* L);

// Pushes R, the real globals (where KEYS and ARGV are set before each run).
void push_real_globals(lua_State* L);

}  // namespace semlock::redis::lua
