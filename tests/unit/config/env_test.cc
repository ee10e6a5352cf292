// The environment layer: TTLSEMLOCK_<SECTION>_<KEY> for every key, the key lists, the client-side
// variables that must be skipped, and errors naming the variable.

#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

using testing::run;

BOOST_AUTO_TEST_SUITE(env)

BOOST_AUTO_TEST_CASE(no_environment_gives_defaults) {
  const LoadResult r = run({}, {});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.action == LoadAction::kRun));
  BOOST_TEST(describe(r.config) == describe(Config{}));
  const char* const argv[] = {"ttl-semlock", nullptr};
  BOOST_TEST(load(1, argv, nullptr).error == "");
}

BOOST_AUTO_TEST_CASE(every_key_loads) {
  const LoadResult r = run({}, {"TTLSEMLOCK_SERVER_HOST=0.0.0.0",
                                "TTLSEMLOCK_SERVER_PORT=7000",
                                "TTLSEMLOCK_SERVER_MAX_CONNECTIONS=5",
                                "TTLSEMLOCK_SERVER_MAX_REQUEST_BYTES=2048",
                                "TTLSEMLOCK_SERVER_IDLE_TIMEOUT=30s",
                                "TTLSEMLOCK_SERVER_TCP_KEEPALIVE=0",
                                "TTLSEMLOCK_SERVER_REQUEST_TIMEOUT=2s",
                                "TTLSEMLOCK_SERVER_MAX_REPLY_BYTES=65536",
                                "TTLSEMLOCK_SERVER_MAX_CLIENT_MEMORY_MB=8",
                                "TTLSEMLOCK_LIMITS_MAX_LOCKS=7",
                                "TTLSEMLOCK_LIMITS_MAX_MEMORY_MB=0",
                                "TTLSEMLOCK_LIMITS_WARN_THRESHOLD=0.5",
                                "TTLSEMLOCK_LIMITS_REJECT_REQUESTS=0",
                                "TTLSEMLOCK_LIMITS_MAX_WAITERS=0",
                                "TTLSEMLOCK_LIMITS_MAX_PERMITS=3",
                                "TTLSEMLOCK_LIMITS_MAX_TTL=1h",
                                "TTLSEMLOCK_LIMITS_MAX_KEY_BYTES=64",
                                "TTLSEMLOCK_CLEANUP_INTERVAL=2",
                                "TTLSEMLOCK_CLEANUP_RESOLUTION=5ms",
                                "TTLSEMLOCK_CLEANUP_MAX_EXPIRIES_PER_TICK=10",
                                "TTLSEMLOCK_SECURITY_AUTH_REQUIRED=true",
                                "TTLSEMLOCK_SECURITY_API_KEYS=k1,k2",
                                "TTLSEMLOCK_SECURITY_ADMIN_API_KEYS=a1",
                                "TTLSEMLOCK_SECURITY_REQUIRE_OWNER=1",
                                "TTLSEMLOCK_METRICS_HOST=10.0.0.1",
                                "TTLSEMLOCK_METRICS_PORT=9000",
                                "TTLSEMLOCK_METRICS_ENABLED=false",
                                "TTLSEMLOCK_LOGGING_LEVEL=debug",
                                "TTLSEMLOCK_LOGGING_FORMAT=json",
                                "TTLSEMLOCK_LOGGING_FILE=/tmp/x.log",
                                "TTLSEMLOCK_PERSISTENCE_ENABLED=true",
                                "TTLSEMLOCK_PERSISTENCE_DIR=/srv/d",
                                "TTLSEMLOCK_PERSISTENCE_FSYNC=no",
                                "TTLSEMLOCK_PERSISTENCE_SNAPSHOT_EVERY_BYTES=1000",
                                "TTLSEMLOCK_PERSISTENCE_SNAPSHOT_INTERVAL=1m"});
  BOOST_TEST(r.error == "");
  testing::check_every_key(r.config);
  const Config& c = r.config;
  BOOST_TEST(c.server.request_timeout == 2000);
  BOOST_TEST(c.server.max_reply_bytes == 65536u);
  BOOST_TEST(c.server.max_client_memory_mb == 8u);
  BOOST_TEST((c.persistence.fsync == FsyncMode::kNo));
}

BOOST_AUTO_TEST_CASE(short_key_list_names) {
  const LoadResult r =
      run({}, {"TTLSEMLOCK_API_KEYS= k1 , k2,,", "TTLSEMLOCK_ADMIN_API_KEYS=a1,a2"});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.config.security.api_keys == std::vector<std::string>{"k1", "k2"}));
  BOOST_TEST((r.config.security.admin_api_keys == std::vector<std::string>{"a1", "a2"}));
  BOOST_TEST(r.config.security.auth_required);
}

BOOST_AUTO_TEST_CASE(empty_key_list_clears_the_file_keys) {
  testing::TempFile file(R"({"security":{"api_keys":["k"]}})");
  const LoadResult r = run({"--config", file.path()}, {"TTLSEMLOCK_API_KEYS="});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.security.api_keys.empty());
  BOOST_TEST(!r.config.security.auth_required);
}

BOOST_AUTO_TEST_CASE(client_side_variables_are_not_read) {
  const LoadResult r = run({}, {"TTLSEMLOCK_HOST=10.1.1.1", "TTLSEMLOCK_PORT=1",
                                "TTLSEMLOCK_API_KEY=client-key", "PATH=/bin", "HOME=/root"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.host == "127.0.0.1");
  BOOST_TEST(r.config.server.port == 8765);
  BOOST_TEST(r.config.security.api_keys.empty());
  BOOST_TEST(!r.config.security.auth_required);
}

// The sidecar's path (docs/CLUSTER.md) is read by the cluster code, not the config loader: it is
// neither a setting nor an unknown variable.
BOOST_AUTO_TEST_CASE(raft_bin_is_known_and_not_a_setting) {
  const LoadResult r = run({}, {"TTLSEMLOCK_RAFT_BIN=/opt/ttl-semlock/ttl-semlock-raft"});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.action == LoadAction::kRun));
  BOOST_TEST(r.config.warnings.empty());
}

BOOST_AUTO_TEST_CASE(old_top_level_names_are_not_environment_keys) {
  const LoadResult r = run({}, {"TTLSEMLOCK_TIMEOUT=5"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.idle_timeout == 0);
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{"TTLSEMLOCK_TIMEOUT: unknown variable; ignored"}));
}

// SPEC §7: the environment is not only the operator's (Kubernetes injects
// TTLSEMLOCK_SERVICE_HOST/_PORT for a Service named ttlsemlock): unknown names warn.
BOOST_AUTO_TEST_CASE(unknown_variable_warns_and_starts) {
  const LoadResult r = run({}, {"TTLSEMLOCK_LIMITS_MAX_TTTL=1h", "TTLSEMLOCK_SERVICE_HOST=10.0.0.7",
                                "TTLSEMLOCK_SERVICE_PORT=8765"});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.action == LoadAction::kRun));
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{"TTLSEMLOCK_LIMITS_MAX_TTTL: unknown variable; ignored",
                                       "TTLSEMLOCK_SERVICE_HOST: unknown variable; ignored",
                                       "TTLSEMLOCK_SERVICE_PORT: unknown variable; ignored"}));
  BOOST_TEST(run({}, {"TTLSEMLOCK_CONFIG=/x"}).error == "");
  // A known key with a bad value is still an error.
  BOOST_TEST(run({}, {"TTLSEMLOCK_SERVER_PORT"}).error ==
             "TTLSEMLOCK_SERVER_PORT: must be an integer, got \"\"");
  // Lower case is not ours: only TTLSEMLOCK_ (upper case) is the server's namespace.
  BOOST_TEST(run({}, {"ttlsemlock_server_port=1"}).error == "");
  BOOST_TEST(run({}, {"ttlsemlock_server_port=1"}).config.warnings.empty());
}

// A Service named ttlsemlock-server injects TTLSEMLOCK_SERVER_PORT=tcp://...: a real key's name,
// never its value.
BOOST_AUTO_TEST_CASE(service_link_values_are_ignored) {
  const LoadResult r = run({}, {"TTLSEMLOCK_SERVER_PORT=tcp://10.0.0.7:8765",
                                "TTLSEMLOCK_SERVER_PORT_8765_TCP=tcp://10.0.0.7:8765",
                                "TTLSEMLOCK_LIMITS_MAX_LOCKS=9"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 8765);
  BOOST_TEST(r.config.limits.max_locks == 9u);
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{
                  "TTLSEMLOCK_SERVER_PORT: a Kubernetes service link (tcp://...), not a setting; "
                  "ignored",
                  "TTLSEMLOCK_SERVER_PORT_8765_TCP: a Kubernetes service link (tcp://...), not a "
                  "setting; ignored"}));
  // Flags still win over everything.
  BOOST_TEST(run({"--port", "7001"}, {"TTLSEMLOCK_SERVER_PORT=tcp://1.2.3.4:1"}).config.server.port ==
             7001);
}

BOOST_AUTO_TEST_CASE(deprecated_keys_warn) {
  const LoadResult r = run({}, {"TTLSEMLOCK_SECURITY_CACHE_TTL_SECONDS=300"});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{
                  "TTLSEMLOCK_SECURITY_CACHE_TTL_SECONDS: no longer used; accepted and ignored"}));
}

BOOST_AUTO_TEST_CASE(errors_name_the_variable) {
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=abc"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be an integer, got \"abc\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=12abc"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be an integer, got \"12abc\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS= 12"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be an integer, got \" 12\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=+12"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be an integer, got \"+12\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=-3"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be at least 0, got -3");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=99999999999999999999"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be at least 0, got 99999999999999999999");
  BOOST_TEST(run({}, {"TTLSEMLOCK_SERVER_PORT=70000"}).error ==
             "TTLSEMLOCK_SERVER_PORT: must be 0..65535, got 70000");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_WARN_THRESHOLD=1.5"}).error ==
             "TTLSEMLOCK_LIMITS_WARN_THRESHOLD: must be in (0, 1], got 1.5");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_WARN_THRESHOLD=most"}).error ==
             "TTLSEMLOCK_LIMITS_WARN_THRESHOLD: must be a number, got \"most\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_WARN_THRESHOLD=nan"}).error ==
             "TTLSEMLOCK_LIMITS_WARN_THRESHOLD: must be a number, got \"nan\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_REJECT_REQUESTS=yes"}).error ==
             "TTLSEMLOCK_LIMITS_REJECT_REQUESTS: must be true, false, 1 or 0, got \"yes\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_TTL=forever"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_TTL: must be a duration such as \"5s\", \"250ms\", \"24h\" or "
             "a number of seconds, got \"forever\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LOGGING_LEVEL=verbose"}).error ==
             "TTLSEMLOCK_LOGGING_LEVEL: must be one of debug, info, warn, error, got \"verbose\"");
  BOOST_TEST(run({}, {"TTLSEMLOCK_SERVER_HOST="}).error ==
             "TTLSEMLOCK_SERVER_HOST: must not be empty");
  BOOST_TEST(run({}, {"TTLSEMLOCK_LIMITS_MAX_LOCKS=a\nb"}).error ==
             "TTLSEMLOCK_LIMITS_MAX_LOCKS: must be an integer, got \"ab\"");
}

BOOST_AUTO_TEST_CASE(booleans_accept_words_and_digits) {
  BOOST_TEST(!run({}, {"TTLSEMLOCK_METRICS_ENABLED=0"}).config.metrics.enabled);
  BOOST_TEST(!run({}, {"TTLSEMLOCK_METRICS_ENABLED=false"}).config.metrics.enabled);
  BOOST_TEST(run({}, {"TTLSEMLOCK_METRICS_ENABLED=1"}).config.metrics.enabled);
  BOOST_TEST(run({}, {"TTLSEMLOCK_METRICS_ENABLED=true"}).config.metrics.enabled);
}

BOOST_AUTO_TEST_CASE(environment_beats_file) {
  testing::TempFile file(R"({"server":{"port":7000},"limits":{"max_locks":5}})");
  const LoadResult r = run({"--config", file.path()}, {"TTLSEMLOCK_SERVER_PORT=7100"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 7100);
  BOOST_TEST(r.config.limits.max_locks == 5u);
}

BOOST_AUTO_TEST_CASE(auth_rule_sees_every_layer) {
  BOOST_TEST(run({}, {"TTLSEMLOCK_SECURITY_AUTH_REQUIRED=true"}).error ==
             "security.auth_required: needs at least one key in security.api_keys");
  testing::TempFile file(R"({"security":{"auth_required":true}})");
  BOOST_TEST(run({"--config", file.path()}, {"TTLSEMLOCK_API_KEYS=k"}).error == "");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
