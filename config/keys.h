#pragma once

// The one table of settings (STYLE habit 8): every key a config file, an environment variable or
// a flag can set, with its section, name, help text, parser and range, and how to show its value.
// The file loader, the environment loader, the flag loader, --help and describe() all read it, so
// a key cannot be settable in one place and unknown in another.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/value.h"

namespace semlock::config::detail {

enum class KeyKind : std::uint8_t {
  kCurrent,     // a key of today's layout: file, environment and describe()
  kLegacy,      // TtlSemLock's top-level host/port/timeout: file only
  kDeprecated,  // accepted and ignored with a warning (file and environment)
};

struct KeySpec {
  std::string_view section;  // "" for TtlSemLock's old top-level keys
  std::string_view name;
  std::string_view help;
  std::string_view value_name;  // for --help: INT, NUMBER, BOOL, TEXT, DURATION, LIST, a|b|c
  KeyKind kind = KeyKind::kCurrent;
  // Parses and range-checks `in`, then stores it. Returns "" or the error after "<path>: ".
  std::function<std::string(Config&, const Input&)> set;
  // The current value as shown by describe() and --help defaults; secrets show as a count.
  std::function<std::string(const Config&)> show;

  std::string path() const;      // "limits.max_ttl", or "port" for a legacy key
  std::string env_name() const;  // "TTLSEMLOCK_LIMITS_MAX_TTL"
};

// metrics.key_prefixes (metrics_keys.cc), appended to `keys`.
void add_metrics_prefix_key(std::vector<KeySpec>& keys);

// The `cluster` section's keys (cluster_keys.cc), appended to `keys`.
void add_cluster_keys(std::vector<KeySpec>& keys);
// Cross-key checks of the `cluster` section; fills raft_listen's default. "" or the error.
std::string finalize_cluster(Config& config);

// The `security` additions (protected_mode, api_keys_file), `tls` and metrics.tls
// (security_keys.cc), appended to `keys`.
void add_security_keys(std::vector<KeySpec>& keys);
// Reads security.api_keys_file into api_keys and checks the tls section against the ports.
// "" or the error. Runs first in finalize().
std::string finalize_security(Config& config);

// All keys, sections in file order.
const std::vector<KeySpec>& all_keys();

// The key at `section`.`name` (section "" for top-level legacy keys), or nullptr.
const KeySpec* find_key(std::string_view section, std::string_view name);

// Whether `name` is a section of the file layout.
bool is_section(std::string_view name);

}  // namespace semlock::config::detail
