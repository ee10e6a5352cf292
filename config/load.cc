// load(): the command line (CLI11) on top of the environment, the file and the defaults, plus
// load_json_text(), describe() and the --help/--version/--check-config exits.

#include <array>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "config/config.h"
#include "config/keys.h"
#include "config/sources.h"
#include "config/build_commit.h"
#include "config/version.h"

namespace semlock::config {
namespace {

struct FlagSpec {
  std::string_view flag;
  std::string_view section;
  std::string_view name;
};

// Flags that set one key each, by the key's own parser (same values and messages as the file).
constexpr std::array<FlagSpec, 29> kKeyFlags = {{
    {"--host", "server", "host"},
    {"--port", "server", "port"},
    {"--metrics-host", "metrics", "host"},
    {"--metrics-port", "metrics", "port"},
    {"--max-connections", "server", "max_connections"},
    {"--max-locks", "limits", "max_locks"},
    {"--max-memory-mb", "limits", "max_memory_mb"},
    {"--warn-threshold", "limits", "warn_threshold"},
    {"--reject-requests", "limits", "reject_requests"},
    {"--max-waiters", "limits", "max_waiters"},
    {"--max-ttl", "limits", "max_ttl"},
    {"--log-level", "logging", "level"},
    {"--log-format", "logging", "format"},
    {"--log-file", "logging", "file"},
    {"--persistence-dir", "persistence", "dir"},
    {"--fsync", "persistence", "fsync"},
    {"--persistence", "persistence", "enabled"},
    {"--cluster", "cluster", "enabled"},
    {"--cluster-node-id", "cluster", "node_id"},
    {"--cluster-members", "cluster", "members"},
    {"--cluster-dir", "cluster", "dir"},
    {"--cluster-election-timeout", "cluster", "election_timeout"},
    {"--cluster-heartbeat-interval", "cluster", "heartbeat_interval"},
    {"--cluster-request-timeout", "cluster", "request_timeout"},
    {"--cluster-snapshot-entries", "cluster", "snapshot_entries"},
    {"--cluster-raft-listen", "cluster", "raft_listen"},
    {"--tls-port", "tls", "port"},
    {"--tls-cert-file", "tls", "cert_file"},
    {"--tls-key-file", "tls", "key_file"},
}};

LoadResult exit_with_error(std::string error) {
  LoadResult result;
  result.action = LoadAction::kExit;
  result.exit_code = 2;
  result.error = std::move(error);
  return result;
}

LoadResult exit_with_output(std::string output) {
  LoadResult result;
  result.action = LoadAction::kExit;
  result.exit_code = 0;
  result.output = std::move(output);
  return result;
}

std::string flag_help(const detail::KeySpec& key, const Config& defaults) {
  return std::string(key.help) + " [" + key.path() + ", env " + key.env_name() + ", default " +
         key.show(defaults) + "]";
}

}  // namespace

std::string_view fsync_mode_name(FsyncMode mode) {
  switch (mode) {
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kEverysec:
      return "everysec";
    case FsyncMode::kNo:
      return "no";
  }
  return "everysec";
}

LoadResult load_json_text(std::string_view json_text) {
  LoadResult result;
  if (std::string error = detail::apply_json_text(result.config, json_text, "config");
      !error.empty()) {
    return exit_with_error(std::move(error));
  }
  if (std::string error = detail::finalize(result.config); !error.empty()) {
    return exit_with_error(std::move(error));
  }
  return result;
}

LoadResult load(int argc, const char* const* argv, const char* const* env) {
  const Config defaults;
  CLI::App app{"ttl-semlock " SEMLOCK_VERSION
               ": TTL locks and counting semaphores over RESP, JSON lines and HTTP",
               "ttl-semlock"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(
      "Precedence: flags > environment (TTLSEMLOCK_<SECTION>_<KEY>, TTLSEMLOCK_API_KEYS=a,b) > "
      "--config file > defaults.\nDurations: \"250ms\", \"5s\", \"1m\", \"24h\" or a number of "
      "seconds.");

  std::string config_path;
  app.add_option("--config", config_path, "JSON config file (// and /* */ comments allowed)")
      ->type_name("FILE");

  std::array<std::string, kKeyFlags.size()> flag_values;
  std::array<CLI::Option*, kKeyFlags.size()> flag_options{};
  for (std::size_t i = 0; i < kKeyFlags.size(); ++i) {
    const detail::KeySpec* key = detail::find_key(kKeyFlags[i].section, kKeyFlags[i].name);
    flag_options[i] =
        app.add_option(std::string(kKeyFlags[i].flag), flag_values[i], flag_help(*key, defaults))
            ->type_name(std::string(key->value_name));
  }

  bool auth_required = false;
  bool no_metrics = false;
  bool check_config = false;
  bool repair_journal = false;
  bool version = false;
  app.add_flag("--auth-required", auth_required,
               "Require clients to authenticate (needs security.api_keys)");
  app.add_flag("--no-metrics", no_metrics, "Do not serve the metrics port");
  app.add_flag("--check-config", check_config,
               "Validate the configuration, print \"configuration OK\" and exit (0 valid, 2 "
               "invalid); creates and requires no directories");
  app.add_flag("--repair-journal", repair_journal,
               "Start despite persisted damage: cut a damaged journal at its first bad record, "
               "keep only the lowest fences of a key persisted over its limit");
  app.add_flag("--version", version, "Print the version and the commit, and exit");
  bool healthcheck = false;
  app.add_flag("--healthcheck", healthcheck,
               "Probe the running server (GET /health on the metrics port, or PING on the lock "
               "port when metrics are off) with this configuration; exit 0 healthy, 1 not");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return exit_with_output(app.help());
  } catch (const CLI::ParseError& e) {
    return exit_with_error(std::string("command line: ") + e.what());
  }
  if (version) {
    return exit_with_output("ttl-semlock " SEMLOCK_VERSION " (commit " + std::string(build_commit()) +
                            ")\n");
  }

  LoadResult result;
  result.repair_journal = repair_journal;
  result.healthcheck = healthcheck;
  Config& config = result.config;
  if (!config_path.empty()) {
    if (std::string error = detail::apply_json_file(config, config_path); !error.empty()) {
      return exit_with_error(std::move(error));
    }
  }
  if (std::string error = detail::apply_env(config, env); !error.empty()) {
    return exit_with_error(std::move(error));
  }
  for (std::size_t i = 0; i < kKeyFlags.size(); ++i) {
    if (flag_options[i]->count() == 0) continue;
    const detail::KeySpec* key = detail::find_key(kKeyFlags[i].section, kKeyFlags[i].name);
    if (std::string error = key->set(config, detail::Input{std::string_view(flag_values[i])});
        !error.empty()) {
      return exit_with_error(std::string(kKeyFlags[i].flag) + ": " + error);
    }
  }
  if (auth_required) config.security.auth_required = true;
  if (no_metrics) config.metrics.enabled = false;
  if (std::string error = detail::finalize(config); !error.empty()) {
    return exit_with_error(std::move(error));
  }
  if (check_config) {
    result.check_config = true;
    result.action = LoadAction::kExit;
    result.exit_code = 0;
    result.output = "configuration OK\n";
  }
  return result;
}

std::string describe(const Config& c) {
  std::string out;
  for (const detail::KeySpec& key : detail::all_keys()) {
    if (key.kind != detail::KeyKind::kCurrent) continue;
    if (!out.empty()) out += ' ';
    out += key.path() + "=" + key.show(c);
  }
  if (!c.config_path.empty()) out += " config=" + detail::quote(c.config_path);
  return out;
}

}  // namespace semlock::config
