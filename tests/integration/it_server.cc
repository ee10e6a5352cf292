// The process as an operator sees it (SPEC §3, §6, §7): config errors with exit code 2 naming the
// key, --version / --help / --check-config, precedence of flags > environment > file, connection
// limits, slow readers, half-close, SIGTERM, and the metrics port's endpoints.
#define BOOST_TEST_MODULE it_server
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <regex>
#include <sstream>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

namespace {

// Writes `json` to a temp config file and runs the binary on it with `flags`.
RunResult run_with_config(const std::string& json, const std::vector<std::string>& flags = {}) {
  std::string dir = make_temp_dir();
  write_file(dir + "/c.json", json);
  std::vector<std::string> args{"--config", dir + "/c.json"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto r = run_binary(args);
  std::filesystem::remove_all(dir);
  return r;
}

void check_config_error(const std::string& json, const std::string& message) {
  // Loopback ports that nothing uses, so a wrongly accepted config cannot hang on a busy port.
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--port", std::to_string(free_port()), "--metrics-port", std::to_string(free_port())},
           {"--check-config"}}) {
    auto r = run_with_config(json, flags);
    BOOST_CHECK_MESSAGE(r.exit_code == 2, json << " " << flags[0] << ": exit " << r.exit_code);
    BOOST_CHECK_MESSAGE(r.err.find(message) != std::string::npos,
                        json << ": stderr '" << r.err << "' lacks '" << message << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(config_errors_exit_2_naming_the_key) {
  check_config_error(R"({"limits":{"warn_threshold":1.5}})",
                     "limits.warn_threshold: must be in (0, 1], got 1.5");
  check_config_error(R"({"limits":{"no_such_key":1}})", "limits.no_such_key");
  check_config_error(R"({"nonsense":{}})", "nonsense");
  check_config_error(R"({"server":{"port":"eighty"}})", "server.port");
  check_config_error(R"({"server":{"port":70000}})", "server.port");
  check_config_error(R"({"limits":{"max_ttl":"forever"}})", "limits.max_ttl");
  check_config_error(R"({"persistence":{"fsync":"sometimes"}})", "persistence.fsync");
  check_config_error(R"({"limits":)", "");  // truncated JSON: still exit 2
  auto missing = run_binary({"--config", "/nonexistent/semlock.json"});
  BOOST_CHECK_EQUAL(missing.exit_code, 2);
  auto bad_flag = run_binary({"--warn-threshold", "0"});
  BOOST_CHECK_EQUAL(bad_flag.exit_code, 2);
  BOOST_CHECK(bad_flag.err.find("warn_threshold") != std::string::npos ||
              bad_flag.err.find("warn-threshold") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_help_and_check_config) {
  auto v = run_binary({"--version"});
  BOOST_CHECK_EQUAL(v.exit_code, 0);
  BOOST_CHECK_MESSAGE(v.out.find("0.8.0") != std::string::npos, v.out);

  auto h = run_binary({"--help"});
  BOOST_CHECK_EQUAL(h.exit_code, 0);
  for (const char* flag :
       {"--config", "--host", "--port", "--metrics-port", "--max-locks", "--max-memory-mb",
        "--warn-threshold", "--reject-requests", "--log-level", "--log-format", "--persistence-dir",
        "--fsync", "--version", "--check-config"}) {
    BOOST_CHECK_MESSAGE(h.out.find(flag) != std::string::npos, "--help lacks " << flag);
  }

  // Valid config with comments (TtlSemLock's examples carry them); nothing is created.
  std::string dir = make_temp_dir();
  std::string data_dir = dir + "/never-created";
  auto ok = run_with_config(
      "{\n  // the lock port\n  \"server\": {\"port\": 8765},\n"
      "  /* persistence */ \"persistence\": {\"enabled\": true, \"dir\": \"" +
          data_dir + "\"}\n}\n",
      {"--check-config"});
  BOOST_CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  BOOST_CHECK(!std::filesystem::exists(data_dir));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(flags_beat_environment_beat_file) {
  std::uint16_t flag_port = free_port();
  Server s(ServerOptions()
               .with_config(R"("limits":{"max_locks":1})")
               .with_args({"--port", std::to_string(flag_port), "--max-locks", "3"})
               .with_env({"TTLSEMLOCK_LIMITS_MAX_LOCKS=2"})
               .expecting_port(flag_port));  // start-up fails unless the flag's port serves
  RespConn c(flag_port);
  auto stats = c.cmd({"SEMLOCK.STATS"});
  BOOST_REQUIRE(stats.field("LocksLimit"));
  BOOST_CHECK_EQUAL(stats.field("LocksLimit")->integer, 3);

  Server e(ServerOptions()
               .with_config(R"("limits":{"max_locks":1})")
               .with_env({"TTLSEMLOCK_LIMITS_MAX_LOCKS=2"}));
  RespConn d(e.port());
  BOOST_CHECK_EQUAL(d.cmd({"SEMLOCK.STATS"}).field("LocksLimit")->integer, 2);
}

BOOST_AUTO_TEST_CASE(max_connections_refuses_the_next_client_as_redis_does) {
  Server s(ServerOptions().with_server(R"("max_connections":2)"));
  auto a = std::make_unique<RespConn>(s.port());
  BOOST_REQUIRE_EQUAL(a->cmd({"PING"}).str, "PONG");
  // The fixture's readiness probe may not have been reaped yet: wait until only `a` counts.
  BOOST_REQUIRE(eventually([&] {
    const auto stats = a->cmd({"SEMLOCK.STATS"});  // keep the reply alive while reading it
    const auto* n = stats.field("Connections");
    return n != nullptr && n->integer == 1;
  }));
  RespConn b(s.port());
  BOOST_REQUIRE_EQUAL(b.cmd({"PING"}).str, "PONG");
  RawClient third(s.port());
  BOOST_CHECK(third.wait_closed());
  BOOST_CHECK_EQUAL(third.buffer(), "-ERR max number of clients reached\r\n");
  BOOST_CHECK_EQUAL(b.cmd({"PING"}).str, "PONG");  // the others are untouched
  a.reset();
  // A slot frees once the server has seen the close.
  BOOST_CHECK(eventually([&] {
    RespConn again(s.port());
    again.send({"PING"});
    auto v = again.read(Ms{500});
    return v && v->str == "PONG";
  }));
}

BOOST_AUTO_TEST_CASE(client_that_never_reads_is_cut_off_while_others_are_served) {
  Server s;
  RawClient hog(s.port(), 4096);
  RespConn other(s.port());
  const std::string echo = resp_command({"ECHO", std::string(256 * 1024, 'e')});
  bool cut = false;
  long long sent = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ::fcntl(hog.fd(), F_SETFL, ::fcntl(hog.fd(), F_GETFL) | O_NONBLOCK);
  std::size_t offset = 0;
  int pings = 0;
  while (!cut && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::send(hog.fd(), echo.data() + offset, echo.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      offset = (offset + static_cast<std::size_t>(n)) % echo.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      cut = true;  // EPIPE / ECONNRESET: the server closed the hog
      break;
    }
    // The hog is stalled; meanwhile everyone else is served.
    BOOST_REQUIRE_EQUAL(other.cmd({"PING"}).str, "PONG");
    ++pings;
    char probe;
    ssize_t r = ::recv(hog.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) cut = true;
    sleep_for(Ms{20});
  }
  BOOST_CHECK_MESSAGE(cut,
                      "a client that never reads was not cut off after " << sent << " bytes sent");
  BOOST_CHECK_EQUAL(other.cmd({"PING"}).str, "PONG");
  BOOST_CHECK(s.running());
}

BOOST_AUTO_TEST_CASE(half_close_after_sending_still_gets_every_reply) {
  Server s;
  RawClient c(s.port());
  c.send(resp_command({"SEMLOCK.ACQUIRE", "hc:k", "30000", "OWNER", "o"}) +
         resp_command({"SEMLOCK.EXISTS", "hc:k"}) + resp_command({"SEMLOCK.RELEASE", "hc:k", "o"}));
  c.shutdown_write();
  BOOST_CHECK(c.wait_closed());
  std::size_t used = 0, total = 0;
  int replies = 0;
  std::string_view buf = c.buffer();
  while (auto v = parse_resp(buf.substr(total), used)) {
    total += used;
    ++replies;
  }
  BOOST_CHECK_EQUAL(replies, 3);
  BOOST_CHECK(buf.ends_with(":1\r\n:1\r\n"));

  RawClient j(s.port());
  j.send("{\"action\":\"ping\",\"id\":1}\n{\"action\":\"ping\",\"id\":2}\n");
  j.shutdown_write();
  BOOST_CHECK(j.wait_closed());
  BOOST_CHECK_EQUAL(std::count(j.buffer().begin(), j.buffer().end(), '\n'), 2);
}

BOOST_AUTO_TEST_CASE(sigterm_answers_a_blocked_waiter_and_exits_0) {
  Server s;
  RespConn holder(s.port());
  holder.cmd({"SEMLOCK.ACQUIRE", "term:k", "30000", "OWNER", "a"});
  RespConn waiter(s.port());
  waiter.send({"SEMLOCK.ACQUIRE", "term:k", "30000", "OWNER", "b", "WAIT", "60000"});
  BOOST_REQUIRE(eventually([&] {
    auto info = holder.cmd({"SEMLOCK.INFO", "term:k"});
    return info.field("waiters") && info.field("waiters")->integer == 1;
  }));
  BOOST_CHECK_EQUAL(s.terminate(), 0);
  auto answer = waiter.read(Ms{100});
  BOOST_CHECK_MESSAGE(
      answer && (answer->type == RespValue::Type::kNull || answer->is_error()),
      "blocked waiter got: " << (answer ? answer->debug() : "nothing, " + waiter.raw().buffer()));
  BOOST_CHECK(waiter.raw().wait_closed(Ms{100}));
}

BOOST_AUTO_TEST_CASE(metrics_port_health_ready_and_every_metric_name) {
  Server s;
  RespConn c(s.port());
  c.cmd({"SEMLOCK.ACQUIRE", "m:k", "30000"});
  auto health = http_once(s.metrics_port(), "GET", "/health");
  BOOST_CHECK_EQUAL(health.status, 200);
  auto ready = http_once(s.metrics_port(), "GET", "/ready");
  BOOST_CHECK_EQUAL(ready.status, 200);
  auto m = scrape_metrics(s.metrics_port());
  for (const char* name :
       {"ttl_semlock_active_locks", "ttl_semlock_memory_usage_mb", "ttl_semlock_memory_limit_mb",
        "ttl_semlock_locks_limit", "ttl_semlock_rejected_requests_total",
        "ttl_semlock_requests_total", "ttl_semlock_request_duration_seconds",
        "ttl_semlock_limit_exceeded_total", "ttl_semlock_connections", "ttl_semlock_holders",
        "ttl_semlock_waiters", "ttl_semlock_expired_total", "ttl_semlock_memory_usage_bytes",
        "ttl_semlock_auth_failures_total", "process_resident_memory_bytes"}) {
    BOOST_CHECK_MESSAGE(m.find(name) != std::string::npos, "/metrics lacks " << name);
  }
  BOOST_CHECK_EQUAL(metric_value(m, "ttl_semlock_memory_limit_mb").value_or(-1), 512.0);
  BOOST_CHECK_EQUAL(metric_value(m, "ttl_semlock_locks_limit").value_or(-1), 100000.0);
  BOOST_CHECK(eventually([&] {
    auto text = scrape_metrics(s.metrics_port());
    return metric_value(text, "ttl_semlock_requests_total",
                        {{"command", "semlock.acquire"}, {"protocol", "resp"}})
                   .value_or(0) >= 1 ||
           metric_value(text, "ttl_semlock_requests_total", {{"protocol", "resp"}}).value_or(0) >=
               1;
  }));
  // A command the server does not know is labelled "other", never by its (unbounded) name.
  c.cmd({"NOSUCHCOMMAND-xyz"});
  sleep_for(Ms{100});
  BOOST_CHECK(scrape_metrics(s.metrics_port()).find("xyz") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(legacy_keys_load_and_client_variables_are_not_read) {
  auto legacy = run_with_config(R"({"host":"127.0.0.1","port":8765,"timeout":30,)"
                                R"("security":{"cache_auth_results":true,"cache_ttl_seconds":60}})",
                                {"--check-config"});
  BOOST_CHECK_MESSAGE(legacy.exit_code == 0, legacy.err);

  // TTLSEMLOCK_PORT / _HOST / _API_KEY belong to the clients: the server ignores them.
  Server s(ServerOptions().with_env(
      {"TTLSEMLOCK_PORT=1", "TTLSEMLOCK_HOST=192.0.2.1", "TTLSEMLOCK_API_KEY=client-side"}));
  RespConn c(s.port());
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "k"}).integer, 0);  // no auth required
}

BOOST_AUTO_TEST_CASE(json_log_format_writes_one_object_a_line) {
  const std::string dir = make_temp_dir();
  Server s(ServerOptions().with_config(
      R"("logging":{"format":"json","level":"debug"},"limits":{"max_locks":1},)"
      R"("persistence":{"enabled":true,"dir":")" +
      dir + R"("})"));
  RespConn c(s.port());
  c.cmd({"SEMLOCK.ACQUIRE", "jl:1", "30000"});
  c.cmd({"SEMLOCK.ACQUIRE", "jl:2", "30000"});  // rejected: logs "Acquire rejected due to limits"
  BOOST_REQUIRE(s.wait_for_log("Acquire rejected due to limits"));
  BOOST_CHECK_EQUAL(s.terminate(), 0);
  std::istringstream lines(s.log());
  std::string line;
  int n = 0, typed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++n;
    rapidjson::Document d;
    d.Parse(line.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError() && d.IsObject(), "not a JSON object: " << line);
    BOOST_CHECK(json_has(d, "timestamp") && json_has(d, "message"));
    auto level = json_string(d, "level");
    BOOST_CHECK_MESSAGE(level == "debug" || level == "info" || level == "warn" || level == "error",
                        level);
    // Issue 16: numbers are JSON numbers, never quoted digits.
    for (const auto& m : d.GetObject()) {
      if (!m.value.IsString()) continue;
      const std::string v(m.value.GetString(), m.value.GetStringLength());
      BOOST_CHECK_MESSAGE(!std::regex_match(v, std::regex(R"(-?[0-9]+(\.[0-9]+)?)")),
                          "a number written as a string: " << line);
    }
    if (json_string(d, "message") == "Persistence loaded") {
      ++typed;
      BOOST_CHECK(d.HasMember("restored_holders") && d["restored_holders"].IsUint64());
      BOOST_CHECK(d.HasMember("journal_bytes") && d["journal_bytes"].IsUint64());
      BOOST_CHECK(d.HasMember("dir") && d["dir"].IsString());
    }
  }
  BOOST_CHECK_GT(n, 0);
  BOOST_CHECK_EQUAL(typed, 1);
}

// Backpressure must hold requests back, never drop or reorder them: a pipeline whose replies are
// larger than the output cap (1 MiB) is answered completely and in order once the client reads.
BOOST_AUTO_TEST_CASE(pipeline_past_the_output_cap_is_answered_completely_in_order) {
  Server s;
  RawClient c(s.port());
  constexpr int kCount = 300000;  // 1.8 MB of requests, 2.1 MB of replies
  std::string pipeline;
  for (int i = 0; i < kCount; ++i) pipeline += "PING\r\n";
  pipeline += "ECHO last\r\n";
  // The server stops reading while its replies wait: RawClient::send reads what arrives while it
  // waits to send more, as a pipelining client must.
  c.send(pipeline, Ms{60000});
  const std::size_t want = kCount * 7 + std::string("$4\r\nlast\r\n").size();
  BOOST_REQUIRE(c.read_until([&](std::string_view b) { return b.size() >= want; }, Ms{60000}));
  BOOST_CHECK_EQUAL(c.buffer().size(), want);
  std::size_t pongs = 0;
  for (std::size_t pos = 0; c.buffer().compare(pos, 7, "+PONG\r\n") == 0; pos += 7) ++pongs;
  BOOST_CHECK_EQUAL(pongs, static_cast<std::size_t>(kCount));
  BOOST_CHECK(c.buffer().ends_with("$4\r\nlast\r\n"));
}
