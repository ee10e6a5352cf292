// What an operator's tooling sees of the process: `--healthcheck` (the container image's
// HEALTHCHECK, which has no curl) against a live server over the metrics port and, with metrics
// off, over the lock port, and failing once the server is gone; ttl_semlock_build_info with the
// version and commit of --version; the limit gauges (max_connections, max_waiters,
// memory_limit_bytes).
#define BOOST_TEST_MODULE it_ops
#include <boost/test/unit_test.hpp>

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
