#include "config/keys.h"

#include <cctype>
#include <cstdio>
#include <limits>
#include <type_traits>
#include <utility>

#include "config/duration.h"

namespace semlock::config::detail {
namespace {

constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();
constexpr Millis kNoMaxMillis = std::numeric_limits<Millis>::max();

// `(c.*S).*F` names one field, e.g. S = &Config::server, F = &ServerConfig::port.
template <auto S, auto F>
auto& field(Config& c) {
  return (c.*S).*F;
}
template <auto S, auto F>
const auto& field(const Config& c) {
  return (c.*S).*F;
}

template <auto S, auto F>
KeySpec uint_key(std::string_view section, std::string_view name, std::string_view help,
                 std::uint64_t min, std::uint64_t max, KeyKind kind = KeyKind::kCurrent) {
  using T = std::remove_cvref_t<decltype(field<S, F>(std::declval<Config&>()))>;
  const std::uint64_t type_max = std::numeric_limits<T>::max();
  const std::uint64_t bound = max < type_max ? max : type_max;
  return KeySpec{section,
                 name,
                 help,
                 "INT",
                 kind,
                 [min, bound](Config& c, const Input& in) -> std::string {
                   auto parsed = read_uint(in, min, bound);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = static_cast<T>(*parsed.value);
                   return {};
                 },
                 [](const Config& c) { return std::to_string(field<S, F>(c)); }};
}

template <auto S, auto F>
KeySpec bool_key(std::string_view section, std::string_view name, std::string_view help) {
  return KeySpec{section,
                 name,
                 help,
                 "BOOL",
                 KeyKind::kCurrent,
                 [](Config& c, const Input& in) -> std::string {
                   auto parsed = read_bool(in);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = *parsed.value;
                   return {};
                 },
                 [](const Config& c) -> std::string { return field<S, F>(c) ? "true" : "false"; }};
}

template <auto S, auto F>
KeySpec string_key(std::string_view section, std::string_view name, std::string_view help,
                   bool non_empty, KeyKind kind = KeyKind::kCurrent) {
  return KeySpec{section,
                 name,
                 help,
                 "TEXT",
                 kind,
                 [non_empty](Config& c, const Input& in) -> std::string {
                   auto parsed = read_string(in, non_empty);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = std::move(*parsed.value);
                   return {};
                 },
                 [](const Config& c) { return quote(field<S, F>(c)); }};
}

template <auto S, auto F>
KeySpec choice_key(std::string_view section, std::string_view name, std::string_view help,
                   std::string_view value_name, std::vector<std::string_view> choices) {
  return KeySpec{section,
                 name,
                 help,
                 value_name,
                 KeyKind::kCurrent,
                 [choices](Config& c, const Input& in) -> std::string {
                   auto parsed = read_choice(in, choices);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = std::move(*parsed.value);
                   return {};
                 },
                 [](const Config& c) { return field<S, F>(c); }};
}

template <auto S, auto F>
KeySpec duration_key(std::string_view section, std::string_view name, std::string_view help,
                     Millis min, Millis max, KeyKind kind = KeyKind::kCurrent) {
  return KeySpec{section,
                 name,
                 help,
                 "DURATION",
                 kind,
                 [min, max](Config& c, const Input& in) -> std::string {
                   auto parsed = read_duration(in, min, max);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = *parsed.value;
                   return {};
                 },
                 [](const Config& c) { return format_duration(field<S, F>(c)); }};
}

// Key lists are secrets: shown only as a count.
template <auto S, auto F>
KeySpec list_key(std::string_view section, std::string_view name, std::string_view help) {
  return KeySpec{section,
                 name,
                 help,
                 "LIST",
                 KeyKind::kCurrent,
                 [](Config& c, const Input& in) -> std::string {
                   auto parsed = read_list(in);
                   if (!parsed.value) return parsed.error;
                   field<S, F>(c) = std::move(*parsed.value);
                   return {};
                 },
                 [](const Config& c) {
                   // Built step by step: GCC 12 -O3 flags the one-expression form with a false
                   // -Werror=restrict.
                   const std::size_t n = field<S, F>(c).size();
                   std::string s = "[";
                   s += std::to_string(n);
                   s += n == 1 ? " key]" : " keys]";
                   return s;
                 }};
}

// TtlSemLock 0.4's auth cache settings: there is no cache to configure (keys are compared in
// constant time on each request), so they are accepted for old files and otherwise ignored.
KeySpec deprecated_key(std::string_view section, std::string_view name) {
  return KeySpec{section,
                 name,
                 "no longer used; accepted and ignored",
                 "ANY",
                 KeyKind::kDeprecated,
                 [](Config&, const Input&) -> std::string { return {}; },
                 [](const Config&) -> std::string { return {}; }};
}

std::string show_double(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

KeySpec warn_threshold_key() {
  return KeySpec{"limits",
                 "warn_threshold",
                 "fraction of max_locks or max_memory_mb at which a warning is logged, in (0, 1]",
                 "NUMBER",
                 KeyKind::kCurrent,
                 [](Config& c, const Input& in) -> std::string {
                   auto parsed = read_number(in);
                   if (!parsed.value) return parsed.error;
                   if (!(*parsed.value > 0.0 && *parsed.value <= 1.0)) {
                     return "must be in (0, 1], got " + show_double(*parsed.value);
                   }
                   c.limits.warn_threshold = *parsed.value;
                   return {};
                 },
                 [](const Config& c) { return show_double(c.limits.warn_threshold); }};
}

KeySpec fsync_key() {
  return KeySpec{"persistence",
                 "fsync",
                 "when the journal is flushed to disk",
                 "always|everysec|no",
                 KeyKind::kCurrent,
                 [](Config& c, const Input& in) -> std::string {
                   auto parsed = read_choice(in, {"always", "everysec", "no"});
                   if (!parsed.value) return parsed.error;
                   c.persistence.fsync = *parsed.value == "always"     ? FsyncMode::kAlways
                                         : *parsed.value == "everysec" ? FsyncMode::kEverysec
                                                                       : FsyncMode::kNo;
                   return {};
                 },
                 [](const Config& c) { return std::string(fsync_mode_name(c.persistence.fsync)); }};
}

// MiB are multiplied into bytes by the server: 2^40 MiB keeps that product inside 64 bits.
constexpr std::uint64_t kMaxMemoryMb = 1ull << 40;

std::vector<KeySpec> make_keys() {
  using C = Config;
  std::vector<KeySpec> keys;
  keys.push_back(string_key<&C::server, &ServerConfig::host>(
      "server", "host", "address the lock port binds to", true));
  keys.push_back(uint_key<&C::server, &ServerConfig::port>(
      "server", "port", "lock port (RESP, JSON lines, HTTP); 0 = off (TLS port only)", 0, 65535));
  keys.push_back(uint_key<&C::server, &ServerConfig::max_connections>(
      "server", "max_connections", "most open client connections", 1, kNoMax));
  keys.push_back(uint_key<&C::server, &ServerConfig::max_request_bytes>(
      "server", "max_request_bytes", "largest bulk argument or JSON line, bytes", 1024,
      512ull * 1024 * 1024));
  keys.push_back(duration_key<&C::server, &ServerConfig::idle_timeout>(
      "server", "idle_timeout", "close connections idle this long (0 = never)", 0, kNoMaxMillis));
  keys.push_back(duration_key<&C::server, &ServerConfig::tcp_keepalive>(
      "server", "tcp_keepalive", "TCP keepalive idle time (0 = off)", 0, kNoMaxMillis));
  keys.push_back(duration_key<&C::server, &ServerConfig::request_timeout>(
      "server", "request_timeout",
      "close a connection that has begun a request and not finished it within this (0 = never)", 0,
      kNoMaxMillis));
  keys.push_back(uint_key<&C::server, &ServerConfig::max_reply_bytes>(
      "server", "max_reply_bytes", "largest reply to one request, bytes (past it: reply too large)",
      65536, 1ull << 32));
  keys.push_back(uint_key<&C::server, &ServerConfig::max_client_memory_mb>(
      "server", "max_client_memory_mb",
      "all connection buffers together, MiB; the largest connection is closed past it (0 = "
      "unlimited)",
      0, kMaxMemoryMb));
  keys.push_back(duration_key<&C::server, &ServerConfig::session_heartbeat_timeout>(
      "server", "session_heartbeat_timeout",
      "close a connection holding connection-lived locks (TTL 0 SESSION) that sends nothing this "
      "long (0 = TCP keepalive only)",
      0, kNoMaxMillis));

  keys.push_back(uint_key<&C::limits, &LimitsConfig::max_locks>(
      "limits", "max_locks", "most lock keys (0 = unlimited)", 0, kNoMax));
  keys.push_back(uint_key<&C::limits, &LimitsConfig::max_memory_mb>(
      "limits", "max_memory_mb", "most used memory, MiB (0 = unlimited)", 0, kMaxMemoryMb));
  keys.push_back(warn_threshold_key());
  keys.push_back(bool_key<&C::limits, &LimitsConfig::reject_requests>(
      "limits", "reject_requests", "at a limit, reject acquires (false = grant and warn)"));
  keys.push_back(uint_key<&C::limits, &LimitsConfig::max_waiters>(
      "limits", "max_waiters", "most queued blocking acquires, server-wide", 0, kNoMax));
  keys.push_back(uint_key<&C::limits, &LimitsConfig::max_permits>(
      "limits", "max_permits", "largest LIMIT of a semaphore", 1, kNoMax));
  keys.push_back(duration_key<&C::limits, &LimitsConfig::max_ttl>(
      "limits", "max_ttl", "longest TTL or WAIT accepted", 1, kNoMaxMillis));
  keys.push_back(uint_key<&C::limits, &LimitsConfig::max_key_bytes>(
      "limits", "max_key_bytes", "longest key, bytes (1..65535)", 1, 65535));

  keys.push_back(duration_key<&C::cleanup, &CleanupConfig::interval>(
      "cleanup", "interval", "housekeeping period (memory sample, limit warnings, gauges)", 1,
      kNoMaxMillis));
  keys.push_back(duration_key<&C::cleanup, &CleanupConfig::resolution>(
      "cleanup", "resolution", "expiry wheel tick", 1, 1000));
  keys.push_back(uint_key<&C::cleanup, &CleanupConfig::max_expiries_per_tick>(
      "cleanup", "max_expiries_per_tick", "most holders expired in one tick", 1, kNoMax));

  keys.push_back(uint_key<&C::scripting, &ScriptingConfig::max_ms>(
      "scripting", "max_ms", "longest a script may run, ms (it is stopped past it)", 1, 60000));

  keys.push_back(bool_key<&C::security, &SecurityConfig::auth_required>(
      "security", "auth_required", "clients must authenticate (implied by api_keys)"));
  keys.push_back(list_key<&C::security, &SecurityConfig::api_keys>("security", "api_keys",
                                                                   "accepted API keys"));
  keys.push_back(list_key<&C::security, &SecurityConfig::admin_api_keys>(
      "security", "admin_api_keys", "API keys allowed to run admin commands"));
  keys.push_back(bool_key<&C::security, &SecurityConfig::require_owner>(
      "security", "require_owner", "JSON release must name an owner"));
  keys.push_back(deprecated_key("security", "cache_auth_results"));
  keys.push_back(deprecated_key("security", "cache_ttl_seconds"));
  add_security_keys(keys);

  keys.push_back(string_key<&C::metrics, &MetricsConfig::host>(
      "metrics", "host", "address the metrics port binds to", true));
  keys.push_back(uint_key<&C::metrics, &MetricsConfig::port>(
      "metrics", "port", "metrics port (/metrics, /health, /ready)", 1, 65535));
  keys.push_back(bool_key<&C::metrics, &MetricsConfig::enabled>("metrics", "enabled",
                                                                "serve the metrics port"));
  add_metrics_prefix_key(keys);

  keys.push_back(choice_key<&C::logging, &LoggingConfig::level>(
      "logging", "level", "log level", "debug|info|warn|error",
      {"debug", "info", "warn", "error"}));
  keys.push_back(choice_key<&C::logging, &LoggingConfig::format>(
      "logging", "format", "log line format", "text|json", {"text", "json"}));
  keys.push_back(string_key<&C::logging, &LoggingConfig::file>(
      "logging", "file", "log file, reopened on SIGHUP (\"\" = stderr)", false));

  keys.push_back(bool_key<&C::persistence, &PersistenceConfig::enabled>(
      "persistence", "enabled", "journal grants to disk and restore them on start"));
  keys.push_back(string_key<&C::persistence, &PersistenceConfig::dir>(
      "persistence", "dir", "directory of the journal and snapshots", true));
  keys.push_back(fsync_key());
  keys.push_back(uint_key<&C::persistence, &PersistenceConfig::snapshot_every_bytes>(
      "persistence", "snapshot_every_bytes", "journal size that triggers a snapshot, bytes", 1,
      kNoMax));
  keys.push_back(duration_key<&C::persistence, &PersistenceConfig::snapshot_interval>(
      "persistence", "snapshot_interval", "longest time between snapshots", 1, kNoMaxMillis));

  add_cluster_keys(keys);

  // TtlSemLock's first layout had these at the top level.
  keys.push_back(string_key<&C::server, &ServerConfig::host>("", "host", "old name of server.host",
                                                             true, KeyKind::kLegacy));
  keys.push_back(uint_key<&C::server, &ServerConfig::port>("", "port", "old name of server.port", 1,
                                                           65535, KeyKind::kLegacy));
  keys.push_back(duration_key<&C::server, &ServerConfig::idle_timeout>(
      "", "timeout", "old name of server.idle_timeout", 0, kNoMaxMillis, KeyKind::kLegacy));
  return keys;
}

}  // namespace

std::string KeySpec::path() const {
  if (section.empty()) return std::string(name);
  return std::string(section) + "." + std::string(name);
}

std::string KeySpec::env_name() const {
  std::string out = "TTLSEMLOCK_";
  for (char c : path()) {
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

const std::vector<KeySpec>& all_keys() {
  static const std::vector<KeySpec> keys = make_keys();
  return keys;
}

const KeySpec* find_key(std::string_view section, std::string_view name) {
  for (const KeySpec& key : all_keys()) {
    if (key.section == section && key.name == name) return &key;
  }
  return nullptr;
}

bool is_section(std::string_view name) {
  for (const KeySpec& key : all_keys()) {
    if (!key.section.empty() && key.section == name) return true;
  }
  return false;
}

}  // namespace semlock::config::detail
