// What a RESP command handler sees: the engine, the client's state, the reply writer, the request
// time, and the Host — the few things only the server knows (connections, randomness, auth keys,
// process facts). Handlers never touch sockets; the server implements Host.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "protocol/json_codec.h"
#include "protocol/resp_writer.h"

namespace semlock::redis {

// The Redis API level spoken (INFO server redis_version, HELLO version).
inline constexpr std::string_view kRedisApiVersion = "7.2.0";

enum class Outcome : std::uint8_t {
  kDone,     // the reply is written
  kBlocked,  // the request waits in the engine; the server answers when the event comes
  kClose,    // the reply is written; close the connection after it is sent
};

struct ClientState {
  std::uint64_t id = 0;
  int proto = 2;
  bool authenticated = false;
  bool admin = false;
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  std::string addr;
  std::string laddr;
  std::int64_t created_unix_ms = 0;
  std::string last_command;
  // MULTI state.
  bool in_multi = false;
  bool multi_error = false;  // a command failed to queue: EXEC aborts
  std::vector<std::vector<std::string>> multi_queue;
  std::size_t multi_bytes = 0;  // what the queue holds; capped, and counted as used memory
};

class Scripting;

enum class AuthResult : std::uint8_t { kOk, kOkAdmin, kWrongPass, kNotConfigured };

class Host {
 public:
  virtual ~Host() = default;
  // 32 lowercase hex characters of 128 random bits.
  virtual std::string generate_owner() = 0;
  // A new, never reused tag for a waiter.
  virtual std::uint64_t next_wait_tag() = 0;
  // The engine queued this client's acquire: block the client until its WaiterEvent arrives.
  virtual void on_blocked(ClientState& client, std::uint64_t tag, WaiterId waiter,
                          std::string_view key, std::string_view owner, bool session) = 0;
  // A SESSION holder was granted to this client: release it when the connection closes.
  virtual void on_session_grant(ClientState& client, std::string_view key, std::string_view owner,
                                std::uint64_t fence) = 0;
  // Checks a key in constant time (counts and logs failures without the key).
  virtual AuthResult check_api_key(std::string_view password) = 0;
  virtual bool auth_required() const = 0;
  virtual bool admin_keys_configured() const = 0;
  // An acquire was refused at a limit (rate-limited log line).
  virtual void on_limit_rejection(EngineStatus status) = 0;
  // INFO text for a section ("" or "all"/"default"/"everything" = all sections).
  virtual std::string info(std::string_view section) = 0;
  virtual std::string client_list() = 0;
  virtual std::string client_info(const ClientState& client) = 0;
  virtual json::StatsView stats_view() = 0;
  virtual std::int64_t unix_time_us() = 0;
  // The server's script engine (Lua state and script cache), created on first use.
  virtual Scripting& scripting() = 0;
  // The Lua heap now holds `bytes`: counted as used memory with the connection buffers (SPEC §2).
  virtual void on_script_heap(std::uint64_t bytes) = 0;
  // CONFIG GET: (name, value) of every setting whose name matches one of the glob patterns.
  virtual std::vector<std::pair<std::string, std::string>> config_get(
      std::span<const std::string_view> patterns) {
    (void)patterns;
    return {};
  }
  // CONFIG SET name value [name value ...]: "" or the error reply (without "-").
  virtual std::string config_set(std::span<const std::string_view> name_values) {
    (void)name_values;
    return "ERR CONFIG SET is not available";
  }
  // CONFIG REWRITE: "" or the error reply.
  virtual std::string config_rewrite() { return "ERR no writable config file"; }
};

struct CommandContext {
  Engine& engine;
  Host& host;
  ClientState& client;
  resp::Writer& w;
  Millis now;             // when the request was read (monotonic ms, rounded up)
  bool may_block = true;  // false inside MULTI/EXEC and scripts: WAIT is ignored
};

}  // namespace semlock::redis
