// What a RESP command handler sees: the engine, the client's state, the reply writer, the request
// time, and the Host — the few things only the server knows (connections, randomness, auth keys,
// process facts). Handlers never touch sockets; the server implements Host.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
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

class PubSub;         // pubsub.h
class WatchRegistry;  // watch.h

struct WatchedKey {
  std::string key;
  std::uint64_t fingerprint = 0;  // the key's state at WATCH (0: absent)
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
  std::string_view last_command;  // the last command's CommandSpec name (static storage)
  // MULTI state.
  bool in_multi = false;
  bool multi_error = false;  // a command failed to queue: EXEC aborts
  std::vector<std::vector<std::string>> multi_queue;
  std::size_t multi_bytes = 0;  // what the queue holds; capped, and counted as used memory
  // Pub/sub (pubsub.cc) and WATCH (watch.cc) state. Counted with the connection's buffers.
  absl::flat_hash_set<std::string> channels;
  absl::flat_hash_set<std::string> patterns;
  std::vector<WatchedKey> watched;
  bool watch_dirty = false;      // a watched key was touched: EXEC fails
  std::size_t compat_bytes = 0;  // what channels, patterns and watched keys hold
  std::size_t subscriptions() const { return channels.size() + patterns.size(); }
};

class Scripting;

enum class AuthResult : std::uint8_t { kOk, kOkAdmin, kWrongPass, kNotConfigured };

class Host {
 public:
  virtual ~Host() = default;
  // 32 lowercase hex characters of 128 random bits.
  virtual std::string generate_owner() = 0;
  // The same written into `out`, no allocation (the acquire path); returns the owner's text.
  virtual std::string_view generate_owner_to(std::array<char, 32>& out) {
    const std::string owner = generate_owner();
    const std::size_t n = std::min(owner.size(), out.size());
    std::memcpy(out.data(), owner.data(), n);
    return {out.data(), n};
  }
  // A new, never reused tag for a waiter.
  virtual std::uint64_t next_wait_tag() = 0;
  // The engine queued this client's acquire: block the client until its WaiterEvent arrives.
  // `lived`: a connection-lived holder (TTL 0 with SESSION) once granted.
  virtual void on_blocked(ClientState& client, std::uint64_t tag, WaiterId waiter,
                          std::string_view key, std::string_view owner, bool session,
                          bool lived = false) = 0;
  // The engine queued this client's SEMLOCK.ACQUIREALL: block it until its WaiterEvent arrives.
  virtual void on_blocked_all(ClientState& client, std::uint64_t tag, WaiterId waiter,
                              const std::vector<std::string_view>& keys, std::string_view owner) {
    (void)client, (void)tag, (void)waiter, (void)keys, (void)owner;
  }
  // A SESSION holder was granted to this client: release it when the connection closes.
  // `lived`: connection-lived (TTL 0 with SESSION; capped at limits.max_ttl).
  virtual void on_session_grant(ClientState& client, std::string_view key, std::string_view owner,
                                std::uint64_t fence, bool lived = false) = 0;
  // An acquire of this client was granted at once and created the holder or added a reentrant
  // hold (an ACQUIREALL: called for each key whose holder it created), `deadline` as the grant
  // set it. The server keeps it until the kernel has taken the reply: a connection reset before
  // that gives it back (SPEC §1). `waited`: the request asked to WAIT; cluster mode also keeps
  // such a grant for an orphan give-back (server/orphan_grants.cc).
  virtual void on_granted_now(ClientState& client, std::string_view key, std::string_view owner,
                              std::uint64_t fence, Millis deadline, bool waited) {
    (void)client, (void)key, (void)owner, (void)fence, (void)deadline, (void)waited;
  }
  // This client's request released (or tried to release) one hold of `key` by `owner`: the
  // server no longer gives back this connection's latest undelivered grant of them (the release
  // is undelivered too; server/grant_list.h).
  virtual void on_released(ClientState& client, std::string_view key, std::string_view owner) {
    (void)client, (void)key, (void)owner;
  }
  // A NOTIFY acquire of this client was granted (`fence`, wait_tag 0) or queued (`wait_tag`):
  // a RESP3 client gets its lost-lock notice as a push (server/notify.cc).
  virtual void on_notify_acquire(ClientState& client, std::string_view key, std::string_view owner,
                                 std::uint64_t fence, std::uint64_t wait_tag) {
    (void)client, (void)key, (void)owner, (void)fence, (void)wait_tag;
  }
  // The client subscribed to `channel` (restart notices replayed to late subscribers).
  virtual void on_subscribed(ClientState& client, std::string_view channel) {
    (void)client, (void)channel;
  }
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
  // The longest one EXEC may run its queued commands, ms (scripting.max_ms; 0 = no bound).
  virtual std::int64_t exec_budget_ms() const { return 0; }
  // The Lua heap now holds `bytes`: counted as used memory with the connection buffers (SPEC §2).
  virtual void on_script_heap(std::uint64_t bytes) = 0;
  // Pub/sub channels and WATCHed keys of every connection (nullptr: not served by this host).
  virtual PubSub* pubsub() { return nullptr; }
  virtual WatchRegistry* watches() { return nullptr; }
  // A PUBLISH reached this host's subscribers; in cluster mode the other members' subscribers
  // get it too (server/cluster_pubsub.cc).
  virtual void on_publish(ClientState& /*client*/, std::string_view /*channel*/,
                          std::string_view /*message*/) {}
  // The client's PUBLISH needs later ticks (pubsub.h): it waits, holding `bytes`, for its count.
  virtual void on_publish_paced(ClientState& /*client*/, std::size_t /*bytes*/) {}
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
