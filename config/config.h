#pragma once

// Configuration of ttl-semlock: typed structs with units and defaults, loaded from defaults <- JSON
// file <- environment (TTLSEMLOCK_*) <- command-line flags, and validated with messages that name
// the key path (SPEC §7). Pure: no sockets, no clock, no filesystem writes; the only I/O is
// reading the --config file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semlock::config {

using Millis = std::int64_t;

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8765;
  std::uint32_t max_connections = 10000;
  std::uint64_t max_request_bytes = 1024 * 1024;
  Millis idle_timeout = 0;       // 0 = none
  Millis tcp_keepalive = 60000;  // 0 = off
  // A request begun (any byte of it buffered) must be complete within this (0 = no deadline).
  Millis request_timeout = 10000;
  // Largest reply to one request; past it the reply is replaced by "-ERR reply too large".
  std::uint64_t max_reply_bytes = 16 * 1024 * 1024;
  // All connection buffers together (input and output), MiB; past it the connection holding
  // the most is closed first (Redis's maxmemory-clients). 0 = unlimited.
  std::uint64_t max_client_memory_mb = 64;
  // A connection holding connection-lived locks (TTL 0 with SESSION) that sends nothing this long
  // (SEMLOCK.HEARTBEAT or any request) is closed as dead, releasing them. 0 = TCP keepalive only.
  Millis session_heartbeat_timeout = 0;
};

struct LimitsConfig {
  std::uint64_t max_locks = 100000;   // 0 = unlimited
  std::uint64_t max_memory_mb = 512;  // 0 = unlimited (MiB)
  double warn_threshold = 0.8;        // (0, 1]
  bool reject_requests = true;
  std::uint64_t max_waiters = 100000;
  std::uint32_t max_permits = 10000;
  Millis max_ttl = 24LL * 3600 * 1000;
  std::uint32_t max_key_bytes = 512;
};

struct CleanupConfig {
  Millis interval = 1000;  // housekeeping (RSS sample, limit warnings, gauges)
  Millis resolution = 10;  // expiry wheel tick
  std::uint32_t max_expiries_per_tick = 100000;
};

struct ScriptingConfig {
  // No script holds the loop longer than this, whether or not it has written (SPEC §3).
  std::int64_t max_ms = 500;  // 1..60000
};

struct SecurityConfig {
  // Becomes true after loading when api_keys is non-empty; true with no keys is a load error.
  bool auth_required = false;
  std::vector<std::string> api_keys;
  std::vector<std::string> admin_api_keys;
  bool require_owner = false;
  // SPEC §8: with no key and a non-loopback listen address, only loopback clients are served.
  bool protected_mode = true;
  // One key a line (blank lines and lines starting with '#' skipped), added to api_keys.
  std::string api_keys_file;
};

// SPEC §8: a separate TLS lock port (Redis's tls-port), OpenSSL 3 in server/tls.cc.
struct TlsConfig {
  bool enabled = false;
  std::uint16_t port = 8766;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;                     // client certificates are checked against it
  std::string client_auth = "none";        // none | optional | required
  std::string protocols = "TLSv1.2 TLSv1.3";  // the versions allowed, space or comma separated
  std::string ciphers;                     // OpenSSL cipher list for TLS 1.2 ("" = its default)
};

struct MetricsConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9765;
  bool enabled = true;
  std::vector<std::string> key_prefixes;  // label values of the per-prefix wait metrics
  bool tls = false;  // serve the metrics port over TLS with tls.cert_file/key_file
};

struct LoggingConfig {
  std::string level = "info";   // debug | info | warn | error
  std::string format = "text";  // text | json
  std::string file;             // "" = stderr
};

enum class FsyncMode : std::uint8_t { kAlways, kEverysec, kNo };

struct PersistenceConfig {
  bool enabled = false;
  std::string dir = "./data";
  FsyncMode fsync = FsyncMode::kEverysec;
  std::uint64_t snapshot_every_bytes =
      64ull * 1024 * 1024;  // journal size that triggers a snapshot
  Millis snapshot_interval = 3600 * 1000;
};

// SPEC §9: a member of a replicated group (etcd's Raft in the ttl-semlock-raft sidecar).
struct ClusterMemberConfig {
  std::uint64_t id = 0;  // 1..2^63
  std::string raft;      // host:port of the Raft transport
  std::string client;    // host:port of the member's lock port
};

struct ClusterConfig {
  bool enabled = false;
  std::uint64_t node_id = 0;                 // this member; must be in `members`
  std::vector<ClusterMemberConfig> members;  // bootstraps an empty `dir` only; sorted by id
  std::string dir = "./raft";                // Raft log and snapshots (replaces the journal)
  Millis election_timeout = 1000;
  Millis heartbeat_interval = 100;
  Millis request_timeout = 5000;  // no leader this long: CLUSTERDOWN
  std::uint64_t snapshot_entries = 10000;
  std::string raft_listen;  // "" = members[node_id].raft
};

// The members as the JSON object the config takes: {"1":{"raft":"h:p","client":"h:p"},...}.
std::string members_json(const std::vector<ClusterMemberConfig>& members);

struct Config {
  ServerConfig server;
  LimitsConfig limits;
  CleanupConfig cleanup;
  ScriptingConfig scripting;
  SecurityConfig security;
  TlsConfig tls;
  MetricsConfig metrics;
  LoggingConfig logging;
  PersistenceConfig persistence;
  ClusterConfig cluster;
  std::string config_path;            // "" when none
  std::vector<std::string> warnings;  // e.g. deprecated keys accepted and ignored: log them
};

enum class LoadAction : std::uint8_t { kRun, kExit };

struct LoadResult {
  LoadAction action = LoadAction::kRun;
  int exit_code = 0;   // for kExit: 0 (--help, --version, --check-config ok) or 2 (invalid)
  std::string output;  // text for stdout (--help, --version, "configuration OK"), ends in \n
  std::string error;   // one line for stderr when exit_code != 0, names the key path; no \n
  Config config;
  bool repair_journal = false;  // --repair-journal flag (persistence, later)
  // --check-config: the caller runs its own preflight (names resolve, certificates load) before
  // printing `output`.
  bool check_config = false;
  bool healthcheck = false;     // --healthcheck: probe the server this config describes, exit
};

// Loads defaults <- file (--config) <- environment (TTLSEMLOCK_*) <- flags. `env` is the process
// environment as "NAME=value" strings (pass `environ`; may be null); injected so tests don't touch
// the real one. Never throws; any invalid input gives action kExit, exit_code 2 and `error`.
LoadResult load(int argc, const char* const* argv, const char* const* env);

// Loads only a JSON text on top of defaults (for tests and --check-config of presets). On error:
// action kExit, exit_code 2, `error` naming the key path.
LoadResult load_json_text(std::string_view json_text);

// Parses "5s", "250ms", "24h", "1m", "1.5s" or a plain number of seconds ("2", "0.5"); rounds
// up to whole milliseconds. nullopt on anything else (negative, empty, unknown unit, overflow).
std::optional<Millis> parse_duration(std::string_view text);

// One line describing the effective config without secrets (api keys shown as a count).
std::string describe(const Config& c);

// "always" | "everysec" | "no".
std::string_view fsync_mode_name(FsyncMode mode);

}  // namespace semlock::config
