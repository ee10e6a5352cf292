// What an operator's tooling sees of the process: `--healthcheck` (the container image's
// HEALTHCHECK, which has no curl) against a live server over the metrics port and, with metrics
// off, over the lock port, and failing once the server is gone; ttl_semlock_build_info with the
// version and commit of --version; the limit gauges (max_connections, max_waiters,
// memory_limit_bytes); INFO persistence and the ttl_semlock_persistence_* gauges, healthy and
// after a failed journal write (sticky until a restart).
#define BOOST_TEST_MODULE it_ops
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "tests/integration/server_fixture.h"

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
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root to mount a small tmpfs");
    return;
  }
  const std::string mnt = make_temp_dir();
  if (std::system(("mount -t tmpfs -o size=256k tmpfs " + mnt + " 2>/dev/null").c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs");
    std::filesystem::remove_all(mnt);
    return;
  }
  {
    Server server(persistent(mnt + "/data"));
    Hiredis c(server.port());
    {  // fill the file system
      std::FILE* f = std::fopen((mnt + "/filler").c_str(), "wb");
      BOOST_TEST_REQUIRE(f != nullptr);
      const std::string block(4096, 'x');
      while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
      }
      std::fclose(f);
    }
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
    std::filesystem::remove(mnt + "/filler");
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
  BOOST_TEST(std::system(("umount " + mnt).c_str()) == 0);
  std::filesystem::remove_all(mnt);
}
