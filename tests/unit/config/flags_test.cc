// The command line: every flag, precedence over environment and file, --help, --version,
// --check-config and the --config file errors.

#include <boost/test/unit_test.hpp>

#include <regex>

#include "config/build_commit.h"
#include "config/config.h"
#include "config/version.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

using testing::run;
using testing::TempFile;

BOOST_AUTO_TEST_SUITE(flags)

BOOST_AUTO_TEST_CASE(every_flag_sets_its_key) {
  const LoadResult r = run({"--host",
                            "0.0.0.0",
                            "--port",
                            "7000",
                            "--metrics-host",
                            "10.0.0.1",
                            "--metrics-port",
                            "9000",
                            "--max-connections",
                            "5",
                            "--max-locks",
                            "7",
                            "--max-memory-mb",
                            "0",
                            "--warn-threshold",
                            "0.5",
                            "--reject-requests",
                            "false",
                            "--max-waiters",
                            "0",
                            "--max-ttl",
                            "1h",
                            "--log-level",
                            "warn",
                            "--log-format",
                            "json",
                            "--log-file",
                            "/tmp/x.log",
                            "--persistence-dir",
                            "/srv/d",
                            "--fsync",
                            "always",
                            "--persistence",
                            "true",
                            "--repair-journal"});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.action == LoadAction::kRun));
  const Config& c = r.config;
  BOOST_TEST(c.server.host == "0.0.0.0");
  BOOST_TEST(c.server.port == 7000);
  BOOST_TEST(c.metrics.host == "10.0.0.1");
  BOOST_TEST(c.metrics.port == 9000);
  BOOST_TEST(c.server.max_connections == 5u);
  BOOST_TEST(c.limits.max_locks == 7u);
  BOOST_TEST(c.limits.max_memory_mb == 0u);
  BOOST_TEST(c.limits.warn_threshold == 0.5);
  BOOST_TEST(!c.limits.reject_requests);
  BOOST_TEST(c.limits.max_waiters == 0u);
  BOOST_TEST(c.limits.max_ttl == 3600000);
  BOOST_TEST(c.logging.level == "warn");
  BOOST_TEST(c.logging.format == "json");
  BOOST_TEST(c.logging.file == "/tmp/x.log");
  BOOST_TEST(c.persistence.dir == "/srv/d");
  BOOST_TEST((c.persistence.fsync == FsyncMode::kAlways));
  BOOST_TEST(c.persistence.enabled);
  BOOST_TEST(r.repair_journal);
  BOOST_TEST(!run({}).repair_journal);
}

BOOST_AUTO_TEST_CASE(equals_form_and_last_one_wins) {
  const LoadResult r = run({"--port=7001", "--port", "7002"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 7002);
}

BOOST_AUTO_TEST_CASE(switches) {
  BOOST_TEST(!run({"--no-metrics"}).config.metrics.enabled);
  BOOST_TEST(run({"--auth-required"}).error ==
             "security.auth_required: needs at least one key in security.api_keys");
  const LoadResult r = run({"--auth-required"}, {"TTLSEMLOCK_API_KEYS=k"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.security.auth_required);
}

BOOST_AUTO_TEST_CASE(flag_errors_name_the_flag) {
  BOOST_TEST(run({"--port", "70000"}).error == "--port: must be 0..65535, got 70000");
  BOOST_TEST(run({"--port", "http"}).error == "--port: must be an integer, got \"http\"");
  BOOST_TEST(run({"--warn-threshold", "1.5"}).error ==
             "--warn-threshold: must be in (0, 1], got 1.5");
  BOOST_TEST(run({"--reject-requests", "maybe"}).error ==
             "--reject-requests: must be true, false, 1 or 0, got \"maybe\"");
  BOOST_TEST(run({"--persistence", "on"}).error ==
             "--persistence: must be true, false, 1 or 0, got \"on\"");
  BOOST_TEST(run({"--log-level", "verbose"}).error ==
             "--log-level: must be one of debug, info, warn, error, got \"verbose\"");
  BOOST_TEST(run({"--log-format", "xml"}).error ==
             "--log-format: must be one of text, json, got \"xml\"");
  BOOST_TEST(run({"--fsync", "never"}).error ==
             "--fsync: must be one of always, everysec, no, got \"never\"");
  BOOST_TEST(run({"--max-ttl", "0"}).error == "--max-ttl: must be at least 1ms, got 0ms");
  BOOST_TEST(run({"--max-connections", "0"}).error ==
             "--max-connections: must be 1..4294967295, got 0");
  BOOST_TEST(run({"--persistence-dir", ""}).error == "--persistence-dir: must not be empty");
}

BOOST_AUTO_TEST_CASE(command_line_errors) {
  const LoadResult r = run({"--bogus"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.error == "command line: The following argument was not expected: --bogus");
  BOOST_TEST(run({"stray"}).error ==
             "command line: The following argument was not expected: stray");
  BOOST_TEST(run({"--port"}).exit_code == 2);
  BOOST_TEST(run({"--port"}).error.starts_with("command line: "));
}

BOOST_AUTO_TEST_CASE(precedence_flags_env_file_defaults) {
  TempFile file(R"({"server":{"port":7000,"host":"10.0.0.9"},
                    "limits":{"max_locks":11,"max_waiters":12,"max_permits":13}})");
  const LoadResult r = run({"--config", file.path(), "--port", "7200"},
                           {"TTLSEMLOCK_SERVER_PORT=7100", "TTLSEMLOCK_LIMITS_MAX_LOCKS=21"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 7200);           // flag over env and file
  BOOST_TEST(r.config.limits.max_locks == 21u);       // env over file
  BOOST_TEST(r.config.limits.max_waiters == 12u);     // file over default
  BOOST_TEST(r.config.server.host == "10.0.0.9");     // file over default
  BOOST_TEST(r.config.limits.max_key_bytes == 512u);  // default
  BOOST_TEST(r.config.config_path == file.path());
}

BOOST_AUTO_TEST_CASE(no_metrics_beats_env_and_file) {
  TempFile file(R"({"metrics":{"enabled":true}})");
  const LoadResult r =
      run({"--config", file.path(), "--no-metrics"}, {"TTLSEMLOCK_METRICS_ENABLED=true"});
  BOOST_TEST(!r.config.metrics.enabled);
}

BOOST_AUTO_TEST_CASE(flag_can_undo_an_environment_value) {
  const LoadResult r =
      run({"--reject-requests", "true"}, {"TTLSEMLOCK_LIMITS_REJECT_REQUESTS=false"});
  BOOST_TEST(r.config.limits.reject_requests);
}

BOOST_AUTO_TEST_CASE(config_file_errors) {
  const LoadResult missing = run({"--config", "/nonexistent/semlock.json"});
  BOOST_TEST(missing.exit_code == 2);
  BOOST_TEST((missing.action == LoadAction::kExit));
  BOOST_TEST(missing.error ==
             "config: cannot read /nonexistent/semlock.json: No such file or directory");

  TempFile file("{}");
  BOOST_TEST(run({"--config", file.dir()}).error ==
             "config: cannot read " + file.dir() + ": Is a directory");

  TempFile bad("{\"server\": {\"port\": 1,,}}");
  BOOST_TEST(run({"--config", bad.path()}).error ==
             "config " + bad.path() +
                 ": invalid JSON at offset 22: Missing a name for object member.");

  TempFile unknown(R"({"limits":{"max_tttl":"1h"}})");
  BOOST_TEST(run({"--config", unknown.path()}).error == "limits.max_tttl: unknown key");
}

BOOST_AUTO_TEST_CASE(warnings_from_the_file_reach_the_result) {
  TempFile file(R"({"security":{"cache_auth_results":true}})");
  const LoadResult r = run({"--config", file.path()});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{
                  "security.cache_auth_results: no longer used; accepted and ignored"}));
}

BOOST_AUTO_TEST_CASE(help_lists_every_flag) {
  const LoadResult r = run({"--help"}, {"TTLSEMLOCK_BOGUS=1"});
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.error == "");
  for (const char* flag : {"--config",          "--host",          "--port",
                           "--metrics-host",    "--metrics-port",  "--max-connections",
                           "--max-locks",       "--max-memory-mb", "--warn-threshold",
                           "--reject-requests", "--max-waiters",   "--max-ttl",
                           "--log-level",       "--log-format",    "--log-file",
                           "--persistence-dir", "--fsync",         "--persistence",
                           "--auth-required",   "--no-metrics",    "--check-config",
                           "--repair-journal",  "--help",          "--version"}) {
    BOOST_TEST_CONTEXT(flag) {
      BOOST_TEST(r.output.find(std::string(flag) + " ") != std::string::npos);
    }
  }
  BOOST_TEST(r.output.find("default 8765") != std::string::npos);
  BOOST_TEST(r.output.find("TTLSEMLOCK_LIMITS_MAX_LOCKS") != std::string::npos);
  BOOST_TEST(run({"-h"}).output == r.output);
}

BOOST_AUTO_TEST_CASE(version) {
  const LoadResult r = run({"--version"});
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.exit_code == 0);
  // The version comes from project(VERSION) through the generated header; the commit from git.
  BOOST_TEST(r.output == std::string("ttl-semlock " SEMLOCK_VERSION " (commit ") +
                             semlock::config::build_commit() + ")\n");
  BOOST_TEST(std::regex_match(std::string(SEMLOCK_VERSION), std::regex(R"(\d+\.\d+\.\d+)")));
  BOOST_TEST(std::regex_match(std::string(semlock::config::build_commit()),
                              std::regex(R"(([0-9a-f]{7,40}(-dirty)?)|unknown)")));
}

BOOST_AUTO_TEST_CASE(healthcheck_flag) {
  BOOST_TEST(!run({}).healthcheck);
  const LoadResult r = run({"--healthcheck", "--metrics-port", "9999"});
  BOOST_TEST((r.action == LoadAction::kRun));
  BOOST_TEST(r.healthcheck);
  BOOST_TEST(r.config.metrics.port == 9999);
}

BOOST_AUTO_TEST_CASE(check_config_valid) {
  const LoadResult r = run({"--check-config", "--persistence", "true", "--persistence-dir",
                            "/nonexistent/never/created"});
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.output == "configuration OK\n");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.persistence.dir == "/nonexistent/never/created");
  BOOST_TEST(!std::filesystem::exists("/nonexistent/never/created"));
}

BOOST_AUTO_TEST_CASE(check_config_invalid) {
  TempFile file(R"({"limits":{"warn_threshold":1.5}})");
  const LoadResult r = run({"--check-config", "--config", file.path()});
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.output == "");
  BOOST_TEST(r.error == "limits.warn_threshold: must be in (0, 1], got 1.5");
  BOOST_TEST(run({"--check-config"}, {"TTLSEMLOCK_SERVER_PORT=x"}).exit_code == 2);
  // An unknown variable only warns (SPEC §7), under --check-config as at start-up.
  BOOST_TEST(run({"--check-config"}, {"TTLSEMLOCK_NOPE=1"}).exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
