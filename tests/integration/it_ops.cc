// What an operator's tooling sees of the process: `--healthcheck` (the container image's
// HEALTHCHECK, which has no curl) against a live server over the metrics port and, with metrics
// off, over the lock port, and failing once the server is gone; ttl_semlock_build_info with the
// version and commit of --version; the limit gauges (max_connections, max_waiters,
// memory_limit_bytes); INFO persistence and the ttl_semlock_persistence_* gauges, healthy and
// after a failed journal write (sticky until a restart); the wait metrics per key prefix
// (metrics.key_prefixes) and the longest current wait.
#define BOOST_TEST_MODULE it_ops
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "tests/integration/server_fixture.h"
#include "tests/integration/small_disk.h"

using namespace semlock::it;

BOOST_AUTO_TEST_CASE(healthcheck_probes_the_metrics_port) {
  Server server;
  const std::string port = std::to_string(server.metrics_port());
  auto healthy = run_binary({"--healthcheck", "--metrics-port", port});
  BOOST_TEST(healthy.exit_code == 0);
  BOOST_TEST(healthy.out == "healthy: GET /health on 127.0.0.1:" + port + "\n");

  // The environment reaches --healthcheck as it reaches the server (the image sets the port so).
  auto from_env = run_binary({"--healthcheck"}, {"TTLSEMLOCK_METRICS_PORT=" + port});
  BOOST_TEST(from_env.exit_code == 0);

  BOOST_TEST(server.terminate() == 0);
  auto gone = run_binary({"--healthcheck", "--metrics-port", port});
  BOOST_TEST(gone.exit_code == 1);
  BOOST_TEST(gone.out == "unhealthy: GET /health on 127.0.0.1:" + port +
                             ": cannot connect to 127.0.0.1:" + port + "\n");
}

BOOST_AUTO_TEST_CASE(healthcheck_with_metrics_off_pings_the_lock_port) {
  ServerOptions o;
  o.with_args({"--no-metrics"});
  o.wait_metrics = false;
  Server server(o);
  const std::string port = std::to_string(server.port());
  auto healthy = run_binary({"--healthcheck", "--no-metrics", "--port", port});
  BOOST_TEST(healthy.exit_code == 0);
  BOOST_TEST(healthy.out == "healthy: PING on 127.0.0.1:" + port + "\n");
  // A wrong port (nothing listens there) is unhealthy, exit 1.
  auto wrong = run_binary({"--healthcheck", "--no-metrics", "--port", std::to_string(free_port())});
  BOOST_TEST(wrong.exit_code == 1);
  BOOST_TEST(wrong.out.rfind("unhealthy: PING on 127.0.0.1:", 0) == 0);
}

BOOST_AUTO_TEST_CASE(build_info_and_limit_gauges) {
  ServerOptions o;
  o.with_server(R"("max_connections":321)")
      .with_config(R"("limits":{"max_waiters":77,"max_memory_mb":3})");
  Server server(o);
  const std::string text = scrape_metrics(server.metrics_port());
  const std::string version_line = run_binary({"--version"}).out;  // "ttl-semlock V (commit C)\n"
  const std::string version = version_line.substr(12, version_line.find(' ', 12) - 12);
  const std::size_t c = version_line.find("(commit ") + 8;
  const std::string commit = version_line.substr(c, version_line.find(')', c) - c);
  BOOST_TEST(
      metric_value(text, "ttl_semlock_build_info", {{"version", version}, {"commit", commit}})
          .value_or(-1) == 1.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_max_connections").value_or(-1) == 321.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_max_waiters").value_or(-1) == 77.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_memory_limit_bytes").value_or(-1) ==
             3.0 * 1024 * 1024);
  BOOST_TEST(metric_value(text, "ttl_semlock_memory_limit_mb").value_or(-1) == 3.0);
}

namespace {

ServerOptions persistent(const std::string& dir) {
  ServerOptions o;
  o.with_config(R"("persistence":{"enabled":true,"dir":")" + dir + R"(","fsync":"always"})");
  return o;
}

std::string info_persistence(Hiredis& c) {
  const Reply r = c.cmd({"INFO", "persistence"});
  return r->str ? std::string(r->str, r->len) : std::string();
}

bool has_line(const std::string& info, const std::string& line) {
  return info.find(line + "\r\n") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(info_persistence_off) {
  Server server;
  Hiredis c(server.port());
  const std::string info = info_persistence(c);
  BOOST_TEST(info.rfind("# Persistence\r\n", 0) == 0, info);
  BOOST_TEST(has_line(info, "persistence_enabled:0"), info);
  BOOST_TEST(has_line(info, "loading:0"), info);
  const std::string text = scrape_metrics(server.metrics_port());
  BOOST_TEST(metric_value(text, "ttl_semlock_persistence_enabled").value_or(-1) == 0.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_persistence_failed").value_or(-1) == 0.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_ready").value_or(-1) == 1.0);
}

BOOST_AUTO_TEST_CASE(info_persistence_and_gauges_while_healthy) {
  const std::string dir = make_temp_dir();
  Server server(persistent(dir + "/data"));
  Hiredis c(server.port());
  BOOST_TEST(c.cmd({"SEMLOCK.ACQUIRE", "p:1", "60000"})->type == REDIS_REPLY_ARRAY);
  const std::string info = info_persistence(c);
  for (const char* line :
       {"persistence_enabled:1", "loading:0", "fsync:always", "journal_status:ok",
        "journal_error:", "journal_unsynced:0", "snapshot_in_progress:0"}) {
    BOOST_TEST(has_line(info, line), line << " in " << info);
  }
  BOOST_TEST(has_line(info, "persistence_dir:" + dir + "/data"), info);
  BOOST_TEST(info.find("journal_bytes:0\r\n") == std::string::npos, info);
  const std::string text = scrape_metrics(server.metrics_port());
  BOOST_TEST(
      metric_value(text, "ttl_semlock_persistence_enabled", {{"fsync", "always"}}).value_or(-1) ==
      1.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_persistence_failed").value_or(-1) == 0.0);
  BOOST_TEST(metric_value(text, "ttl_semlock_persistence_journal_bytes").value_or(0) > 0.0);
  const double synced =
      metric_value(text, "ttl_semlock_persistence_last_fsync_timestamp_seconds").value_or(0);
  const double now = static_cast<double>(std::time(nullptr));
  BOOST_TEST(synced > now - 60);
  BOOST_TEST(synced < now + 2);
  BOOST_TEST(server.terminate() == 0);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_failed_journal_shows_in_info_and_metrics_and_stays) {
  const SmallDisk disk;  // unmounted at the end, after the server stops
  if (!disk.mounted()) return;
  {
    Server server(persistent(disk.path() + "/data"));
    Hiredis c(server.port());
    disk.fill();
    bool failed = false;
    for (int i = 0; i < 2000 && !failed; ++i) {
      Hiredis one(server.port());
      try {
        const Reply r = one.cmd({"SEMLOCK.ACQUIRE", "fill:" + std::to_string(i), "60000"});
        failed = r && r->type == REDIS_REPLY_ERROR;
      } catch (const std::exception&) {
      }
    }
    BOOST_TEST_REQUIRE(failed);
    // Freeing the space does not clear it: the state is sticky until a restart.
    disk.unfill();
    const std::string info = info_persistence(c);
    BOOST_TEST(has_line(info, "journal_status:failed"), info);
    BOOST_TEST(has_line(info,
                        "journal_error:ERR persistence: cannot write the journal (No space "
                        "left on device)"),
               info);
    const std::string text = scrape_metrics(server.metrics_port());
    BOOST_TEST(metric_value(text, "ttl_semlock_persistence_failed").value_or(-1) == 1.0);
    server.terminate();
  }
}

BOOST_AUTO_TEST_CASE(wait_metrics_per_key_prefix) {
  ServerOptions o;
  o.with_config(R"("metrics":{"key_prefixes":["jobs:","jobs:nightly:"]})");
  Server server(o);
  Hiredis holder(server.port());
  BOOST_TEST(holder.cmd({"SEMLOCK.ACQUIRE", "jobs:nightly:1", "60000", "OWNER", "h"})->type ==
             REDIS_REPLY_ARRAY);
  BOOST_TEST(holder.cmd({"SEMLOCK.ACQUIRE", "misc:1", "60000", "OWNER", "h"})->type ==
             REDIS_REPLY_ARRAY);
  BOOST_TEST(holder.cmd({"SEMLOCK.ACQUIRE", "jobs:x", "60000", "OWNER", "h"})->type ==
             REDIS_REPLY_ARRAY);
  // Two waits run out: one under the longest matching prefix, one under no prefix.
  Hiredis waiter(server.port());
  BOOST_TEST(waiter.cmd({"SEMLOCK.ACQUIRE", "jobs:nightly:1", "1000", "WAIT", "50"})->type ==
             REDIS_REPLY_NIL);
  BOOST_TEST(waiter.cmd({"SEMLOCK.ACQUIRE", "misc:1", "1000", "WAIT", "50"})->type ==
             REDIS_REPLY_NIL);
  // One is granted after a release: queued first, the release comes from another connection.
  RespConn queued(server.port());
  queued.send({"SEMLOCK.ACQUIRE", "jobs:x", "1000", "OWNER", "w", "WAIT", "10000"});
  BOOST_TEST(eventually([&] {
    return metric_value(scrape_metrics(server.metrics_port()), "ttl_semlock_waiters").value_or(0) ==
           1.0;
  }));
  sleep_for(Ms{300});  // the oldest wait is now at least 0.3 s old
  const std::string during = scrape_metrics(server.metrics_port());
  BOOST_TEST(metric_value(during, "ttl_semlock_longest_wait_seconds").value_or(0) >= 0.3);
  BOOST_TEST(metric_value(during, "ttl_semlock_longest_wait_seconds").value_or(99) < 10.0);
  BOOST_TEST(holder.cmd({"SEMLOCK.RELEASE", "jobs:x", "h"})->integer == 1);
  const auto granted = queued.read();
  BOOST_TEST_REQUIRE(granted.has_value());
  BOOST_TEST(granted->elements.size() == 2u, granted->debug());

  const std::string text = scrape_metrics(server.metrics_port());
  auto value = [&](std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& labels) {
    return metric_value(text, name, labels).value_or(-1);
  };
  BOOST_TEST(value("ttl_semlock_waiter_timeouts_total", {{"prefix", "jobs:nightly:"}}) == 1.0);
  BOOST_TEST(value("ttl_semlock_waiter_timeouts_total", {{"prefix", "other"}}) == 1.0);
  BOOST_TEST(value("ttl_semlock_waiter_timeouts_total", {{"prefix", "jobs:"}}) == 0.0);
  BOOST_TEST(value("ttl_semlock_wait_duration_seconds_count",
                   {{"prefix", "jobs:"}, {"result", "granted"}}) == 1.0);
  BOOST_TEST(value("ttl_semlock_wait_duration_seconds_sum",
                   {{"prefix", "jobs:"}, {"result", "granted"}}) >= 0.3);
  BOOST_TEST(value("ttl_semlock_wait_duration_seconds_count",
                   {{"prefix", "other"}, {"result", "timeout"}}) == 1.0);
  BOOST_TEST(value("ttl_semlock_wait_duration_seconds_sum",
                   {{"prefix", "other"}, {"result", "timeout"}}) >= 0.05);
  // Nobody waits any more.
  BOOST_TEST(value("ttl_semlock_longest_wait_seconds", {}) == 0.0);
  // The label values are a closed set: only the configured prefixes and "other".
  for (std::size_t at = text.find("prefix=\""); at != std::string::npos;
       at = text.find("prefix=\"", at + 1)) {
    const std::string label = text.substr(at + 8, text.find('"', at + 8) - at - 8);
    BOOST_TEST((label == "jobs:" || label == "jobs:nightly:" || label == "other"), label);
  }
}

BOOST_AUTO_TEST_CASE(key_prefixes_are_checked) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/c.json", R"({"metrics":{"key_prefixes":["a",""]}})");
  auto empty = run_binary({"--check-config", "--config", dir + "/c.json"});
  BOOST_TEST(empty.exit_code == 2);
  BOOST_TEST(empty.err.find("metrics.key_prefixes: must be an array of non-empty strings") !=
                 std::string::npos,
             empty.err);
  write_file(dir + "/c.json", R"({"metrics":{"key_prefixes":["other"]}})");
  auto other = run_binary({"--check-config", "--config", dir + "/c.json"});
  BOOST_TEST(other.exit_code == 2);
  auto from_env = run_binary({"--check-config"}, {"TTLSEMLOCK_METRICS_KEY_PREFIXES=jobs:,cron:"});
  BOOST_TEST(from_env.exit_code == 0, from_env.err);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(semlock_info_ends_with_the_waiters_ages) {
  Server server;
  Hiredis holder(server.port());
  BOOST_TEST(holder.cmd({"SEMLOCK.ACQUIRE", "aged", "60000", "OWNER", "h"})->type ==
             REDIS_REPLY_ARRAY);
  RespConn first(server.port());
  first.send({"SEMLOCK.ACQUIRE", "aged", "1000", "OWNER", "w1", "WAIT", "30000"});
  BOOST_TEST(eventually([&] {
    return holder.cmd({"SEMLOCK.INFO", "aged"})->element[5]->integer == 1;
  }));
  sleep_for(Ms{200});
  RespConn second(server.port());
  second.send({"SEMLOCK.ACQUIRE", "aged", "1000", "OWNER", "w2", "WAIT", "30000"});
  BOOST_TEST(eventually([&] {
    return holder.cmd({"SEMLOCK.INFO", "aged"})->element[5]->integer == 2;
  }));
  RespConn c(server.port());
  const RespValue info = c.cmd({"SEMLOCK.INFO", "aged"});
  // RESP2: limit, holders, waiters (unchanged, a count), then waiter_ages, then (read-write and
  // reentrant holds) mode and holds, then (lost-lock notices) notify.
  BOOST_TEST_REQUIRE(info.elements.size() == 14u, info.debug());
  BOOST_TEST(info.elements[8].str == "mode");
  BOOST_TEST(info.elements[9].str == "exclusive");
  BOOST_TEST(info.elements[10].str == "holds");
  BOOST_TEST(info.elements[12].str == "notify");
  BOOST_TEST(info.elements[4].str == "waiters");
  BOOST_TEST(info.elements[5].integer == 2);
  BOOST_TEST(info.elements[6].str == "waiter_ages");
  const auto& ages = info.elements[7].elements;
  BOOST_TEST_REQUIRE(ages.size() == 2u, info.debug());
  BOOST_TEST(ages[0].integer >= ages[1].integer + 150, info.debug());  // oldest first
  BOOST_TEST(ages[1].integer >= 0);
  BOOST_TEST(ages[0].integer < 30000);
  // RESP3: the same as a map.
  RespConn r3(server.port());
  BOOST_TEST(!r3.cmd({"HELLO", "3"}).is_error());
  const RespValue map = r3.cmd({"SEMLOCK.INFO", "aged"});
  BOOST_TEST_REQUIRE(map.field("waiter_ages") != nullptr, map.debug());
  BOOST_TEST(map.field("waiter_ages")->elements.size() == 2u);
  BOOST_TEST(holder.cmd({"SEMLOCK.RELEASE", "aged", "h"})->integer == 1);
  BOOST_TEST(first.read().has_value());
}
