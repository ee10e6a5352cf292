// WATCH: optimistic locking for MULTI/EXEC. A watched key is "touched" when a write command
// changes it (dispatch calls after_command()), and its state at WATCH is fingerprinted so that a
// change made any other way (JSON/HTTP requests, expiry) is seen at EXEC too. EXEC then replies
// a null array and runs nothing, as Redis does.
#pragma once

#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "redis-compat/command_table.h"
#include "redis-compat/context.h"

namespace semlock::redis {

class WatchRegistry {
 public:
  void watch(ClientState& c, std::string_view key, std::uint64_t fingerprint);
  void unwatch_all(ClientState& c);
  // Marks every client watching `key` dirty.
  void touch(std::string_view key);
  bool empty() const { return by_key_.empty(); }

 private:
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::uint64_t, ClientState*>> by_key_;
};

// The state of a key as WATCH and EXEC compare it: 0 when absent.
std::uint64_t key_fingerprint(Engine& engine, std::string_view key, Millis now);

// After a command ran: touches the keys a write command changed. `reply` is what it answered.
void watch_after_command(CommandContext& ctx, const CommandSpec& spec, Args argv,
                         std::string_view reply);
// At EXEC: true when a watched key changed since WATCH (the transaction must not run).
bool watch_exec_aborts(CommandContext& ctx);
// EXEC, DISCARD, RESET and a closing connection drop the client's watches.
void watch_clear(CommandContext& ctx);

}  // namespace semlock::redis
