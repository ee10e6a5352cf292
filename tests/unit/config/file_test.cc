// The JSON layer through load_json_text(): every key, comments, TtlSemLock's old keys, and each
// error message exactly.

#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

using testing::json_error;

BOOST_AUTO_TEST_SUITE(file)

BOOST_AUTO_TEST_CASE(empty_object_gives_defaults) {
  const LoadResult r = load_json_text("{}");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST((r.action == LoadAction::kRun));
  const Config& c = r.config;
  BOOST_TEST(c.server.host == "127.0.0.1");
  BOOST_TEST(c.server.port == 8765);
  BOOST_TEST(c.server.max_connections == 10000u);
  BOOST_TEST(c.server.max_request_bytes == 1048576u);
  BOOST_TEST(c.server.idle_timeout == 0);
  BOOST_TEST(c.server.tcp_keepalive == 60000);
  BOOST_TEST(c.server.request_timeout == 10000);
  BOOST_TEST(c.server.max_reply_bytes == 16777216u);
  BOOST_TEST(c.server.max_client_memory_mb == 64u);
  BOOST_TEST(c.limits.max_locks == 100000u);
  BOOST_TEST(c.limits.max_memory_mb == 512u);
  BOOST_TEST(c.limits.warn_threshold == 0.8);
  BOOST_TEST(c.limits.reject_requests);
  BOOST_TEST(c.limits.max_waiters == 100000u);
  BOOST_TEST(c.limits.max_permits == 10000u);
  BOOST_TEST(c.limits.max_ttl == 86400000);
  BOOST_TEST(c.limits.max_key_bytes == 512u);
  BOOST_TEST(c.cleanup.interval == 1000);
  BOOST_TEST(c.cleanup.resolution == 10);
  BOOST_TEST(c.cleanup.max_expiries_per_tick == 100000u);
  BOOST_TEST(!c.security.auth_required);
  BOOST_TEST(c.security.api_keys.empty());
  BOOST_TEST(c.security.admin_api_keys.empty());
  BOOST_TEST(!c.security.require_owner);
  BOOST_TEST(c.metrics.host == "127.0.0.1");
  BOOST_TEST(c.metrics.port == 9765);
  BOOST_TEST(c.metrics.enabled);
  BOOST_TEST(c.logging.level == "info");
  BOOST_TEST(c.logging.format == "text");
  BOOST_TEST(c.logging.file == "");
  BOOST_TEST(!c.persistence.enabled);
  BOOST_TEST(c.persistence.dir == "./data");
  BOOST_TEST((c.persistence.fsync == FsyncMode::kEverysec));
  BOOST_TEST(c.persistence.snapshot_every_bytes == 64u * 1024 * 1024);
  BOOST_TEST(c.persistence.snapshot_interval == 3600000);
  BOOST_TEST(c.config_path == "");
  BOOST_TEST(c.warnings.empty());
}

BOOST_AUTO_TEST_CASE(every_key_loads) {
  const LoadResult r = load_json_text(R"({
    "server": {"host": "0.0.0.0", "port": 7000, "max_connections": 5, "max_request_bytes": 2048,
               "idle_timeout": "30s", "tcp_keepalive": 0},
    "limits": {"max_locks": 7, "max_memory_mb": 0, "warn_threshold": 0.5,
               "reject_requests": false, "max_waiters": 0, "max_permits": 3, "max_ttl": "1h",
               "max_key_bytes": 64},
    "cleanup": {"interval": "2s", "resolution": "5ms", "max_expiries_per_tick": 10},
    "security": {"auth_required": true, "api_keys": ["k1", "k2"], "admin_api_keys": ["a1"],
                 "require_owner": true},
    "metrics": {"host": "10.0.0.1", "port": 9000, "enabled": false},
    "logging": {"level": "debug", "format": "json", "file": "/tmp/x.log"},
    "persistence": {"enabled": true, "dir": "/srv/d", "fsync": "always",
                    "snapshot_every_bytes": 1000, "snapshot_interval": 60}
  })");
  BOOST_TEST(r.error == "");
  testing::check_every_key(r.config);
  BOOST_TEST((r.config.persistence.fsync == FsyncMode::kAlways));
}

BOOST_AUTO_TEST_CASE(fsync_modes) {
  BOOST_TEST((load_json_text(R"({"persistence":{"fsync":"no"}})").config.persistence.fsync ==
              FsyncMode::kNo));
  BOOST_TEST((load_json_text(R"({"persistence":{"fsync":"everysec"}})").config.persistence.fsync ==
              FsyncMode::kEverysec));
  BOOST_TEST(fsync_mode_name(FsyncMode::kAlways) == "always");
  BOOST_TEST(fsync_mode_name(FsyncMode::kEverysec) == "everysec");
  BOOST_TEST(fsync_mode_name(FsyncMode::kNo) == "no");
}

BOOST_AUTO_TEST_CASE(durations_as_numbers_of_seconds) {
  BOOST_TEST(load_json_text(R"({"limits":{"max_ttl":90}})").config.limits.max_ttl == 90000);
  BOOST_TEST(load_json_text(R"({"limits":{"max_ttl":1.5}})").config.limits.max_ttl == 1500);
  BOOST_TEST(load_json_text(R"({"limits":{"max_ttl":0.25}})").config.limits.max_ttl == 250);
  BOOST_TEST(load_json_text(R"({"limits":{"max_ttl":"250ms"}})").config.limits.max_ttl == 250);
  BOOST_TEST(load_json_text(R"({"limits":{"max_ttl":0.0001}})").config.limits.max_ttl == 1);
}

BOOST_AUTO_TEST_CASE(comments_and_trailing_commas) {
  const LoadResult r = load_json_text(R"(
    // a line comment
    {
      /* a block
         comment */
      "server": {"port": 7001, },  // trailing comma
      "limits": {"max_locks": 5 /* inline */},
    })");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 7001);
  BOOST_TEST(r.config.limits.max_locks == 5u);
}

BOOST_AUTO_TEST_CASE(old_top_level_keys) {
  const LoadResult r = load_json_text(R"({"port": 8766, "host": "0.0.0.0", "timeout": 60})");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.server.port == 8766);
  BOOST_TEST(r.config.server.host == "0.0.0.0");
  BOOST_TEST(r.config.server.idle_timeout == 60000);
  BOOST_TEST(r.config.warnings.empty());
}

BOOST_AUTO_TEST_CASE(section_keys_win_over_old_ones_in_any_order) {
  BOOST_TEST(load_json_text(R"({"server":{"port":1111},"port":2222})").config.server.port == 1111);
  BOOST_TEST(load_json_text(R"({"port":2222,"server":{"port":1111}})").config.server.port == 1111);
}

BOOST_AUTO_TEST_CASE(old_keys_are_checked_under_their_own_name) {
  BOOST_TEST(json_error(R"({"port": 0})") == "port: must be 1..65535, got 0");
  BOOST_TEST(json_error(R"({"host": 5})") == "host: must be a string");
  BOOST_TEST(json_error(R"({"timeout": "soon"})") ==
             "timeout: must be a duration such as \"5s\", \"250ms\", \"24h\" or a number of "
             "seconds, got \"soon\"");
}

BOOST_AUTO_TEST_CASE(ttlsemlock_security_example_loads_with_warnings) {
  const LoadResult r = load_json_text(R"({
    "server": {"host": "0.0.0.0", "port": 8765},
    "security": {"auth_required": true,
                 "api_keys": ["production-key-32-chars-minimum", "backup-key-for-emergencies-only"],
                 "cache_auth_results": true, "cache_ttl_seconds": 300}
  })");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.security.auth_required);
  BOOST_TEST(r.config.security.api_keys.size() == 2u);
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{
                  "security.cache_auth_results: no longer used; accepted and ignored",
                  "security.cache_ttl_seconds: no longer used; accepted and ignored"}));
}

BOOST_AUTO_TEST_CASE(ttlsemlock_retry_section_is_ignored_with_a_warning) {
  const LoadResult r =
      load_json_text(R"({"retry": {"enabled": true, "max_attempts": 5, "initial_delay_ms": 100}})");
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.config.warnings ==
              std::vector<std::string>{"retry: no longer used; accepted and ignored"}));
}

BOOST_AUTO_TEST_CASE(unknown_keys_name_the_full_path) {
  BOOST_TEST(json_error(R"({"limits":{"max_tttl":"1h"}})") == "limits.max_tttl: unknown key");
  BOOST_TEST(json_error(R"({"serverr":{}})") == "serverr: unknown key");
  BOOST_TEST(json_error(R"({"max_locks":5})") == "max_locks: unknown key");
  BOOST_TEST(json_error(R"({"logging":{"levle":"info"}})") == "logging.levle: unknown key");
}

BOOST_AUTO_TEST_CASE(structure_errors) {
  BOOST_TEST(json_error(R"({"server": 5})") == "server: must be an object");
  BOOST_TEST(json_error(R"([1, 2])") == "config: must be a JSON object");
  BOOST_TEST(json_error(R"({"server": {"port": 1},})") == "");
}

BOOST_AUTO_TEST_CASE(invalid_json_gives_the_offset) {
  BOOST_TEST(json_error(R"({"server": {"port": 1}})") == "");
  BOOST_TEST(json_error("{\"server\": {\"port\" 1}}") ==
             "config: invalid JSON at offset 19: Missing a colon after a name of object member.");
  BOOST_TEST(json_error("") == "config: invalid JSON at offset 0: The document is empty.");
  BOOST_TEST(json_error("{} {}") ==
             "config: invalid JSON at offset 3: The document root must not be followed by other "
             "values.");
}

BOOST_AUTO_TEST_CASE(type_errors) {
  BOOST_TEST(json_error(R"({"server":{"port":"8765"}})") == "server.port: must be an integer");
  BOOST_TEST(json_error(R"({"server":{"port":8765.5}})") == "server.port: must be an integer");
  BOOST_TEST(json_error(R"({"server":{"host":1}})") == "server.host: must be a string");
  BOOST_TEST(json_error(R"({"limits":{"warn_threshold":"high"}})") ==
             "limits.warn_threshold: must be a number");
  BOOST_TEST(json_error(R"({"limits":{"reject_requests":1}})") ==
             "limits.reject_requests: must be true or false");
  BOOST_TEST(json_error(R"({"limits":{"max_ttl":true}})") ==
             "limits.max_ttl: must be a duration such as \"5s\", \"250ms\", \"24h\" or a number "
             "of seconds");
  BOOST_TEST(json_error(R"({"limits":{"max_ttl":-1}})") ==
             "limits.max_ttl: must be a duration such as \"5s\", \"250ms\", \"24h\" or a number "
             "of seconds");
  BOOST_TEST(json_error(R"({"security":{"api_keys":"k1"}})") ==
             "security.api_keys: must be an array of non-empty strings");
  BOOST_TEST(json_error(R"({"security":{"api_keys":["k1", 2]}})") ==
             "security.api_keys: must be an array of non-empty strings");
  BOOST_TEST(json_error(R"({"security":{"admin_api_keys":[""]}})") ==
             "security.admin_api_keys: must be an array of non-empty strings");
  BOOST_TEST(json_error(R"({"logging":{"level":3}})") ==
             "logging.level: must be one of debug, info, warn, error");
  BOOST_TEST(json_error(R"({"metrics":{"enabled":null}})") ==
             "metrics.enabled: must be true or false");
}

BOOST_AUTO_TEST_CASE(choice_errors) {
  BOOST_TEST(json_error(R"({"logging":{"level":"verbose"}})") ==
             "logging.level: must be one of debug, info, warn, error, got \"verbose\"");
  BOOST_TEST(json_error(R"({"logging":{"level":"warning"}})") ==
             "logging.level: must be one of debug, info, warn, error, got \"warning\"");
  BOOST_TEST(json_error(R"({"logging":{"format":"xml"}})") ==
             "logging.format: must be one of text, json, got \"xml\"");
  BOOST_TEST(json_error(R"({"persistence":{"fsync":"sometimes"}})") ==
             "persistence.fsync: must be one of always, everysec, no, got \"sometimes\"");
}

BOOST_AUTO_TEST_CASE(range_errors) {
  BOOST_TEST(json_error(R"({"limits":{"warn_threshold":1.5}})") ==
             "limits.warn_threshold: must be in (0, 1], got 1.5");
  BOOST_TEST(json_error(R"({"limits":{"warn_threshold":0}})") ==
             "limits.warn_threshold: must be in (0, 1], got 0");
  BOOST_TEST(json_error(R"({"limits":{"warn_threshold":1}})") == "");
  BOOST_TEST(json_error(R"({"server":{"port":70000}})") ==
             "server.port: must be 0..65535, got 70000");
  BOOST_TEST(json_error(R"({"server":{"port":0}})") ==
             "server.port: 0 turns the plain port off, which needs tls.enabled");
  BOOST_TEST(json_error(R"({"server":{"port":-1}})") == "server.port: must be 0..65535, got -1");
  BOOST_TEST(json_error(R"({"metrics":{"port":65536}})") ==
             "metrics.port: must be 1..65535, got 65536");
  BOOST_TEST(json_error(R"({"metrics":{"port":0}})") == "metrics.port: must be 1..65535, got 0");
  BOOST_TEST(json_error(R"({"server":{"max_connections":0}})") ==
             "server.max_connections: must be 1..4294967295, got 0");
  BOOST_TEST(json_error(R"({"server":{"max_request_bytes":1023}})") ==
             "server.max_request_bytes: must be 1024..536870912, got 1023");
  BOOST_TEST(json_error(R"({"server":{"max_request_bytes":536870913}})") ==
             "server.max_request_bytes: must be 1024..536870912, got 536870913");
  BOOST_TEST(json_error(R"({"server":{"max_request_bytes":536870912}})") == "");
  BOOST_TEST(json_error(R"({"server":{"max_reply_bytes":65535}})") ==
             "server.max_reply_bytes: must be 65536..4294967296, got 65535");
  BOOST_TEST(json_error(R"({"server":{"max_reply_bytes":4294967296}})") == "");
  BOOST_TEST(json_error(R"({"server":{"max_client_memory_mb":-1}})") ==
             "server.max_client_memory_mb: must be 0..1099511627776, got -1");
  BOOST_TEST(json_error(R"({"server":{"max_client_memory_mb":0}})") == "");
  BOOST_TEST(json_error(R"({"server":{"request_timeout":"-1s"}})") != "");
  BOOST_TEST(json_error(R"({"server":{"request_timeout":"250ms"}})") == "");
  BOOST_TEST(json_error(R"({"limits":{"max_permits":0}})") ==
             "limits.max_permits: must be 1..4294967295, got 0");
  BOOST_TEST(json_error(R"({"limits":{"max_waiters":-5}})") ==
             "limits.max_waiters: must be at least 0, got -5");
  BOOST_TEST(json_error(R"({"limits":{"max_locks":-1}})") ==
             "limits.max_locks: must be at least 0, got -1");
  BOOST_TEST(json_error(R"({"limits":{"max_memory_mb":1099511627777}})") ==
             "limits.max_memory_mb: must be 0..1099511627776, got 1099511627777");
  BOOST_TEST(json_error(R"({"limits":{"max_ttl":0}})") ==
             "limits.max_ttl: must be at least 1ms, got 0ms");
  BOOST_TEST(json_error(R"({"limits":{"max_key_bytes":0}})") ==
             "limits.max_key_bytes: must be 1..65535, got 0");
  BOOST_TEST(json_error(R"({"limits":{"max_key_bytes":65537}})") ==
             "limits.max_key_bytes: must be 1..65535, got 65537");
  BOOST_TEST(json_error(R"({"cleanup":{"resolution":"0ms"}})") ==
             "cleanup.resolution: must be 1ms..1s, got 0ms");
  BOOST_TEST(json_error(R"({"cleanup":{"resolution":"2s", "interval":"5s"}})") ==
             "cleanup.resolution: must be 1ms..1s, got 2s");
  BOOST_TEST(json_error(R"({"cleanup":{"resolution":"1s", "interval":"5s"}})") == "");
  BOOST_TEST(json_error(R"({"cleanup":{"max_expiries_per_tick":0}})") ==
             "cleanup.max_expiries_per_tick: must be 1..4294967295, got 0");
  BOOST_TEST(json_error(R"({"server":{"host":""}})") == "server.host: must not be empty");
  BOOST_TEST(json_error(R"({"persistence":{"dir":""}})") == "persistence.dir: must not be empty");
  BOOST_TEST(json_error(R"({"persistence":{"snapshot_interval":0}})") ==
             "persistence.snapshot_interval: must be at least 1ms, got 0ms");
  BOOST_TEST(json_error(R"({"persistence":{"snapshot_every_bytes":0}})") ==
             "persistence.snapshot_every_bytes: must be at least 1, got 0");
}

BOOST_AUTO_TEST_CASE(interval_must_cover_resolution) {
  BOOST_TEST(json_error(R"({"cleanup":{"interval":"5ms"}})") ==
             "cleanup.interval: must be at least cleanup.resolution (10ms), got 5ms");
  BOOST_TEST(json_error(R"({"cleanup":{"interval":"10ms"}})") == "");
}

BOOST_AUTO_TEST_CASE(api_keys_imply_auth) {
  const LoadResult r = load_json_text(R"({"security":{"api_keys":["k"],"auth_required":false}})");
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.security.auth_required);
}

BOOST_AUTO_TEST_CASE(auth_without_keys_is_an_error) {
  const LoadResult r = load_json_text(R"({"security":{"auth_required":true}})");
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST((r.action == LoadAction::kExit));
  BOOST_TEST(r.error == "security.auth_required: needs at least one key in security.api_keys");
  BOOST_TEST(json_error(R"({"security":{"auth_required":true,"admin_api_keys":["a"]}})") ==
             "security.auth_required: needs at least one key in security.api_keys");
}

BOOST_AUTO_TEST_CASE(ports_must_not_collide) {
  BOOST_TEST(json_error(R"({"metrics":{"port":8765}})") ==
             "metrics.port: must differ from server.port (8765)");
  BOOST_TEST(json_error(R"({"server":{"host":"0.0.0.0"},"metrics":{"port":8765}})") ==
             "metrics.port: must differ from server.port (8765)");
  BOOST_TEST(json_error(R"({"metrics":{"port":8765,"host":"10.0.0.2"}})") == "");
  BOOST_TEST(json_error(R"({"metrics":{"port":8765,"enabled":false}})") == "");
}

BOOST_AUTO_TEST_CASE(describe_shows_values_without_secrets) {
  const LoadResult r = load_json_text(
      R"({"security":{"api_keys":["secret-one","secret-two"],"admin_api_keys":["adm-secret"]}})");
  const std::string line = describe(r.config);
  BOOST_TEST(line.find("secret") == std::string::npos);
  BOOST_TEST(line.find("security.api_keys=[2 keys]") != std::string::npos);
  BOOST_TEST(line.find("security.admin_api_keys=[1 key] ") != std::string::npos);
  BOOST_TEST(line.find("security.auth_required=true") != std::string::npos);
  BOOST_TEST(line.find('\n') == std::string::npos);
  BOOST_TEST(describe(Config{}) ==
             "server.host=\"127.0.0.1\" server.port=8765 server.max_connections=10000 "
             "server.max_request_bytes=1048576 server.idle_timeout=0ms server.tcp_keepalive=1m "
             "server.request_timeout=10s server.max_reply_bytes=16777216 "
             "server.max_client_memory_mb=64 server.session_heartbeat_timeout=0ms "
             "limits.max_locks=100000 limits.max_memory_mb=512 limits.warn_threshold=0.8 "
             "limits.reject_requests=true limits.max_waiters=100000 limits.max_permits=10000 "
             "limits.max_ttl=24h limits.max_key_bytes=512 cleanup.interval=1s "
             "cleanup.resolution=10ms cleanup.max_expiries_per_tick=100000 scripting.max_ms=500 "
             "security.auth_required=false security.api_keys=[0 keys] "
             "security.admin_api_keys=[0 keys] security.require_owner=false "
                 "security.protected_mode=true security.api_keys_file=\"\" tls.enabled=false "
                 "tls.port=8766 tls.cert_file=\"\" tls.key_file=\"\" tls.ca_file=\"\" "
                 "tls.client_auth=none tls.protocols=\"TLSv1.2 TLSv1.3\" tls.ciphers=\"\" "
                 "metrics.tls=false "
             "metrics.host=\"127.0.0.1\" metrics.port=9765 metrics.enabled=true metrics.key_prefixes=[] "
             "logging.level=info logging.format=text logging.file=\"\" "
             "persistence.enabled=false persistence.dir=\"./data\" persistence.fsync=everysec "
             "persistence.snapshot_every_bytes=67108864 persistence.snapshot_interval=1h "
             "cluster.enabled=false cluster.node_id=0 cluster.members={} cluster.dir=\"./raft\" "
             "cluster.election_timeout=1s cluster.heartbeat_interval=100ms "
             "cluster.request_timeout=5s cluster.snapshot_entries=10000 cluster.raft_listen=\"\"");
}

// scripting.max_ms (SPEC §7): default 500, 1..60000, from the file and TTLSEMLOCK_SCRIPTING_MAX_MS.
BOOST_AUTO_TEST_CASE(scripting_max_ms_loads_and_is_range_checked) {
  BOOST_TEST(load_json_text("{}").config.scripting.max_ms == 500);
  BOOST_TEST(load_json_text(R"({"scripting":{"max_ms":1}})").config.scripting.max_ms == 1);
  BOOST_TEST(load_json_text(R"({"scripting":{"max_ms":60000}})").config.scripting.max_ms == 60000);
  BOOST_TEST(json_error(R"({"scripting":{"max_ms":0}})") ==
             "scripting.max_ms: must be 1..60000, got 0");
  BOOST_TEST(json_error(R"({"scripting":{"max_ms":60001}})") ==
             "scripting.max_ms: must be 1..60000, got 60001");
  BOOST_TEST(json_error(R"({"scripting":{"max_ms":"fast"}})") != "");
  BOOST_TEST(json_error(R"({"scripting":{"budget":1}})") != "");
  const LoadResult env = testing::run({}, {"TTLSEMLOCK_SCRIPTING_MAX_MS=250"});
  BOOST_TEST((env.action == LoadAction::kRun));
  BOOST_TEST(env.config.scripting.max_ms == 250);
  const LoadResult bad = testing::run({}, {"TTLSEMLOCK_SCRIPTING_MAX_MS=0"});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.error == "TTLSEMLOCK_SCRIPTING_MAX_MS: must be 1..60000, got 0");
}

// The engine stores a key's length in 16 bits and refuses longer keys: the configured limit
// ends at 65535, so a configuration can never promise keys the engine would refuse.
BOOST_AUTO_TEST_CASE(max_key_bytes_ends_where_the_engine_does) {
  BOOST_TEST(load_json_text(R"({"limits":{"max_key_bytes":65535}})").config.limits.max_key_bytes ==
             65535u);
  BOOST_TEST(json_error(R"({"limits":{"max_key_bytes":65536}})") ==
             "limits.max_key_bytes: must be 1..65535, got 65536");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
