// The limits of SPEC §2 against the real binary: the exact OVERLIMIT texts on every protocol,
// rejection and limit-exceeded counters in /metrics, the lock-count warning in the log, draining
// a full server, and reject_requests=false.
#define BOOST_TEST_MODULE it_limits
#include <boost/test/unit_test.hpp>
#include <regex>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

namespace {

bool granted(const RespValue& v) {
  return v.type == RespValue::Type::kArray;
}

std::optional<double> metric(const Server& s, std::string_view name, const std::string& reason) {
  return metric_value(scrape_metrics(s.metrics_port()), name, {{"reason", reason}});
}

}  // namespace

BOOST_AUTO_TEST_CASE(max_locks_rejects_on_every_protocol_and_counts) {
  Server s(ServerOptions().with_config(R"("limits":{"max_locks":3})"));
  RespConn c(s.port());
  for (const char* k : {"l:1", "l:2", "l:3"}) {
    BOOST_REQUIRE(granted(c.cmd({"SEMLOCK.ACQUIRE", k, "30000", "OWNER", "o"})));
  }
  c.send({"SEMLOCK.ACQUIRE", "l:4", "30000"});
  const std::string text = "maximum locks limit reached: 3/3";
  BOOST_CHECK(
      c.raw().read_until([&](std::string_view b) { return b == "-OVERLIMIT " + text + "\r\n"; }));
  c.raw().buffer().clear();

  auto j = parse_json(json_once(s.port(), R"({"action":"acquire","key":"l:4","ttl":30})"));
  BOOST_CHECK(!json_bool(j, "success"));
  BOOST_CHECK_EQUAL(json_string(j, "code"), "OVERLIMIT");
  BOOST_CHECK_EQUAL(json_string(j, "error"), text);

  auto h = http_once(s.port(), "POST", "/", R"({"action":"acquire","key":"l:4","ttl":30})");
  BOOST_CHECK_EQUAL(h.status, 503);
  BOOST_CHECK_EQUAL(json_string(parse_json(h.body), "code"), "OVERLIMIT");

  // A full server still serves everything that does not add a key.
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "l:1", "30000", "OWNER", "o"})));  // refresh
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXTEND", "l:2", "o", "30000"}).integer, 1);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "l:3"}).integer, 1);
  BOOST_CHECK(c.cmd({"SEMLOCK.INFO", "l:3"}).type == RespValue::Type::kArray);
  // Drain one, and a new key fits again.
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.RELEASE", "l:3", "o"}).integer, 1);
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "l:4", "30000", "OWNER", "o"})));
  BOOST_CHECK(c.cmd({"SEMLOCK.ACQUIRE", "l:5", "30000"}).is_error());

  // Four rejections so far, one per protocol plus the last; all counted with their reason.
  BOOST_CHECK(eventually([&] {
    return metric(s, "ttl_semlock_rejected_requests_total", "max_locks_reached") == 4.0;
  }));
  auto m = scrape_metrics(s.metrics_port());
  BOOST_CHECK_EQUAL(metric_value(m, "ttl_semlock_locks_limit").value_or(-1), 3.0);
  // Each protocol's rejection is labelled as one, apart from other errors and plain "not granted".
  for (const char* protocol : {"resp", "json", "http"}) {
    BOOST_CHECK_MESSAGE(
        metric_value(m, "ttl_semlock_requests_total",
                     {{"command", "acquire"}, {"protocol", protocol}, {"result", "rejected"}})
                .value_or(0) >= 1.0,
        protocol);
  }
  BOOST_CHECK_EQUAL(metric_value(m, "ttl_semlock_requests_total",
                                 {{"command", "acquire"}, {"protocol", "json"}, {"result", "ok"}})
                        .value_or(-1),
                    -1.0);  // no JSON acquire was granted here
  BOOST_CHECK(eventually([&] {
    return metric_value(scrape_metrics(s.metrics_port()), "ttl_semlock_active_locks") == 3.0;
  }));
  BOOST_CHECK(s.wait_for_log("Acquire rejected due to limits"));
  auto stats = c.cmd({"SEMLOCK.STATS"});
  BOOST_REQUIRE(stats.field("RejectedRequests"));
  BOOST_CHECK_EQUAL(stats.field("RejectedRequests")->integer, 4);
  BOOST_CHECK_EQUAL(stats.field("LocksLimit")->integer, 3);
}

BOOST_AUTO_TEST_CASE(lock_count_warning_is_logged_at_threshold) {
  Server s(ServerOptions().with_config(
      R"("limits":{"max_locks":10,"warn_threshold":0.5},"cleanup":{"interval":"100ms"})"));
  RespConn c(s.port());
  for (int i = 0; i < 4; ++i) c.cmd({"SEMLOCK.ACQUIRE", "warn:" + std::to_string(i), "30000"});
  sleep_for(Ms{300});
  BOOST_CHECK_MESSAGE(s.log().find("Lock count warning") == std::string::npos,
                      "warned below the threshold: " << s.log_tail());
  c.cmd({"SEMLOCK.ACQUIRE", "warn:4", "30000"});
  BOOST_REQUIRE_MESSAGE(s.wait_for_log("Lock count warning: "), s.log_tail());
  std::regex line(R"(\[[0-9T:+\-Z]+\] warn: Lock count warning: 50\.0% of limit \(5/10\))");
  BOOST_CHECK_MESSAGE(std::regex_search(s.log(), line), s.log_tail());
}

BOOST_AUTO_TEST_CASE(reject_requests_false_grants_and_counts_limit_exceeded) {
  Server s(ServerOptions().with_config(R"("limits":{"max_locks":2,"reject_requests":false})"));
  RespConn c(s.port());
  for (const char* k : {"x:1", "x:2", "x:3", "x:4"}) {
    BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", k, "30000"})));
  }
  BOOST_CHECK(eventually(
      [&] { return metric(s, "ttl_semlock_limit_exceeded_total", "max_locks_reached") == 2.0; }));
  BOOST_CHECK_EQUAL(
      metric(s, "ttl_semlock_rejected_requests_total", "max_locks_reached").value_or(0), 0.0);
}

BOOST_AUTO_TEST_CASE(max_waiters_permits_ttl_key_bytes) {
  Server s(ServerOptions().with_config(
      R"("limits":{"max_waiters":1,"max_permits":4,"max_ttl":"10s","max_key_bytes":8})"));
  RespConn c(s.port());
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "mw", "10000", "OWNER", "a"})));
  RespConn w(s.port());
  w.send({"SEMLOCK.ACQUIRE", "mw", "10000", "OWNER", "b", "WAIT", "5000"});
  BOOST_REQUIRE(eventually([&] {
    auto info = c.cmd({"SEMLOCK.INFO", "mw"});
    return info.field("waiters") != nullptr && info.field("waiters")->integer == 1;
  }));
  auto over = c.cmd({"SEMLOCK.ACQUIRE", "mw", "10000", "OWNER", "c", "WAIT", "5000"});
  BOOST_CHECK_EQUAL(over.str, "OVERLIMIT maximum waiters limit reached: 1/1");
  auto j = parse_json(
      json_once(s.port(), R"({"action":"acquire","key":"mw","ttl":5,"owner":"d","wait_ms":5000})"));
  BOOST_CHECK_EQUAL(json_string(j, "error"), "maximum waiters limit reached: 1/1");
  BOOST_CHECK(eventually([&] {
    return metric(s, "ttl_semlock_rejected_requests_total", "max_waiters_reached") == 2.0;
  }));
  c.cmd({"SEMLOCK.RELEASE", "mw", "a"});
  BOOST_CHECK(w.read().has_value());

  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "p", "1000", "LIMIT", "5"}).str, "ERR invalid LIMIT");
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "p", "1000", "LIMIT", "4"})));
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "t", "10001"}).str, "ERR invalid TTL");
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "t", "10000"})));
  BOOST_CHECK(c.cmd({"SEMLOCK.ACQUIRE", "t2", "1000", "WAIT", "10001"}).str.starts_with("ERR "));
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "123456789", "1000"}).str, "ERR key too long");
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "12345678", "1000"})));
}

BOOST_AUTO_TEST_CASE(memory_limit_rejects_with_its_text_and_reason) {
  Server s(ServerOptions().with_config(R"("limits":{"max_memory_mb":1,"max_key_bytes":512})"));
  RespConn c(s.port());
  // Batches of 100, so the connection's own buffer (counted as used memory) stays small.
  const int n = 4000;  // 4000 keys of 400 bytes: well past 1 MiB of accounted engine memory
  int granted_n = 0, rejected = 0;
  std::string first_error;
  for (int start = 0; start < n; start += 100) {
    std::string batch;
    for (int i = start; i < start + 100; ++i) {
      batch +=
          resp_command({"SEMLOCK.ACQUIRE", std::to_string(i) + std::string(400, 'm'), "30000"});
    }
    c.raw().send(batch);
    for (int i = 0; i < 100; ++i) {
      auto v = c.read(Ms{10000});
      BOOST_REQUIRE(v);
      if (granted(*v)) ++granted_n;
      if (v->is_error()) {
        ++rejected;
        if (first_error.empty()) first_error = v->str;
      }
    }
  }
  BOOST_CHECK_GT(granted_n, 0);
  BOOST_CHECK_GT(rejected, 0);
  std::regex text(R"(OVERLIMIT memory limit reached: [0-9]+\.[0-9]/1 MB)");
  BOOST_CHECK_MESSAGE(std::regex_match(first_error, text), first_error);
  BOOST_CHECK(eventually([&] {
    return metric(s, "ttl_semlock_rejected_requests_total", "memory_limit_reached") ==
           static_cast<double>(rejected);
  }));
  // Releases are never rejected: drain everything through a full server.
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto page = c.cmd({"SEMLOCK.SCAN", cursor, "COUNT", "1000"});
    BOOST_REQUIRE_MESSAGE(page.type == RespValue::Type::kArray && page.elements.size() == 2,
                          page.debug().substr(0, 200));
    cursor = page.elements[0].str;
    for (const auto& k : page.elements[1].elements) keys.push_back(k.str);
  } while (cursor != "0");
  BOOST_CHECK_EQUAL(keys.size(), static_cast<std::size_t>(granted_n));
  for (const auto& k : keys) BOOST_REQUIRE_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", k}).integer, 1);
  BOOST_CHECK(granted(c.cmd({"SEMLOCK.ACQUIRE", "after-drain", "30000"})));
}

BOOST_AUTO_TEST_CASE(max_request_bytes_caps_bulk_arguments_and_json_lines) {
  Server s(ServerOptions().with_server(R"("max_request_bytes":4096)"));
  RawClient r(s.port());
  r.send(resp_command({"ECHO", std::string(4000, 'a')}));  // under the cap: served
  BOOST_CHECK(r.read_until([](std::string_view b) { return b.size() >= 4000 + 9; }));
  r.buffer().clear();
  r.send("*2\r\n$4\r\nECHO\r\n$5000\r\n");
  BOOST_CHECK(r.wait_closed());
  BOOST_CHECK_EQUAL(r.buffer(), "-ERR Protocol error: invalid bulk length\r\n");

  RawClient j(s.port());
  try {
    j.send(R"({"action":"ping","pad":")" + std::string(6000, 'p') + "\"}\n");
  } catch (const std::exception&) {
    // Closed while we were still writing: the reply was sent first.
  }
  BOOST_CHECK(j.wait_closed());
  BOOST_CHECK_MESSAGE(j.buffer().find("request too large") != std::string::npos, j.buffer());
  BOOST_CHECK(j.buffer().find("BADREQUEST") != std::string::npos);
}
