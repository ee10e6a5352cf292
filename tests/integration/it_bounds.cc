// What a client can make the server hold or spend (issue "hostile clients"): buffers before
// authentication, reply amplification, the bound on all connection buffers together, request
// deadlines (slowloris), the metrics port under a flood of idle connections, and the file
// descriptor limit. Each case is a regression test against the real binary.
#define BOOST_TEST_MODULE it_bounds
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

namespace {

std::optional<double> metric(const Server& s, std::string_view name,
                             const std::vector<std::pair<std::string, std::string>>& labels = {}) {
  return metric_value(scrape_metrics(s.metrics_port()), name, labels);
}

bool granted(const RespValue& v) {
  return v.type == RespValue::Type::kArray;
}

constexpr const char* kKeys = R"("security":{"api_keys":["user-key"]})";

// "COMMAND DOCS client client ..." : ~1.8 KB of reply per 12 bytes of request.
std::string docs_request(std::size_t names) {
  std::vector<std::string> args{"COMMAND", "DOCS"};
  for (std::size_t i = 0; i < names; ++i) args.emplace_back("client");
  return resp_command(args);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bounds)

// Regression: before auth, JSON and HTTP connections could buffer ~2 MB each (RESP 256 KiB).
BOOST_AUTO_TEST_CASE(unauthenticated_input_is_capped_at_16k_on_every_protocol) {
  Server s(ServerOptions().with_config(kKeys));
  const std::string pad(20000, 'x');

  RawClient resp(s.port());  // an inline request that never ends
  resp.send("PING " + pad);
  BOOST_CHECK(resp.wait_closed());
  BOOST_CHECK_EQUAL(resp.buffer(), "-ERR Protocol error: unauthenticated request too large\r\n");

  RawClient json(s.port());
  json.send(R"({"action":"ping","pad":")" + pad);
  BOOST_CHECK(json.wait_closed());
  BOOST_CHECK_EQUAL(
      json.buffer(),
      R"({"success":false,"error":"unauthenticated request too large","code":"BADREQUEST"})"
      "\n");

  RawClient http(s.port());
  http.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n" + pad);
  auto r = read_http_response(http);
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->status, 413);
  BOOST_CHECK_EQUAL(
      r->body,
      R"({"success":false,"error":"unauthenticated request too large","code":"BADREQUEST"})"
      "\n");
  BOOST_CHECK(http.wait_closed());

  // Requests under the cap are answered as before, and keyed clients get the full limits.
  RespConn small(s.port());
  BOOST_CHECK_EQUAL(small.cmd({"PING"}).str, "PONG");
  BOOST_CHECK_EQUAL(small.cmd({"AUTH", "user-key"}).str, "OK");
  BOOST_CHECK_EQUAL(small.cmd({"ECHO", std::string(100000, 'e')}).str.size(), 100000u);
  JsonClient keyed(s.port());
  BOOST_CHECK(keyed.request(R"({"action":"auth","api_key":"user-key"})").find("true") !=
              std::string::npos);
  const std::string reply = keyed.request(R"({"action":"acquire","key":"k","ttl":5,"owner":")" +
                                          std::string(50000, 'o') + "\"}");
  BOOST_CHECK_MESSAGE(reply.find("owner: must be 1..128 bytes") != std::string::npos, reply);
  BOOST_CHECK(keyed.request(R"({"action":"ping"})").find("true") != std::string::npos);
}

// Regression: buffered bytes counted as used memory, so keyless connections pushed keyed clients
// into OVERLIMIT.
BOOST_AUTO_TEST_CASE(buffered_requests_never_push_keyed_clients_into_overlimit) {
  Server s(ServerOptions().with_config(
      std::string(kKeys) + R"(,"limits":{"max_memory_mb":1},"cleanup":{"interval":"50ms"})"));
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<RawClient>(s.port()));
    idle.back()->send(R"({"action":"ping","pad":")" + std::string(15000, 'p'));
  }
  sleep_for(Ms{300});  // several housekeeping rounds
  RespConn keyed(s.port());
  BOOST_CHECK_EQUAL(keyed.cmd({"AUTH", "user-key"}).str, "OK");
  for (int i = 0; i < 20; ++i) {
    const RespValue v = keyed.cmd({"SEMLOCK.ACQUIRE", "k" + std::to_string(i), "30000"});
    BOOST_REQUIRE_MESSAGE(granted(v), v.debug());
  }
  // The buffers are reported, apart from used memory.
  const RespValue info = keyed.cmd({"INFO", "memory"});
  BOOST_CHECK_MESSAGE(info.str.find("used_memory_clients_unauthenticated:") != std::string::npos,
                      info.str);
  for (auto& c : idle) BOOST_CHECK(!c->peer_closed());
}

// Regression: CLIENT SETNAME / SETINFO took 1 MB values, uncounted (200 clients: +600 MB RSS).
BOOST_AUTO_TEST_CASE(client_names_are_capped_and_count_as_connection_memory) {
  Server s;
  RespConn c(s.port());
  auto tot_mem = [&] {
    const std::string info = c.cmd({"CLIENT", "INFO"}).str;
    const std::size_t at = info.find(" tot-mem=");
    BOOST_REQUIRE(at != std::string::npos);
    return std::stoull(info.substr(at + 9));
  };
  const unsigned long long before = tot_mem();
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "SETNAME", std::string(1024, 'n')}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "SETINFO", "LIB-NAME", std::string(128, 'l')}).str, "OK");
  BOOST_CHECK_GE(tot_mem(), before + 1000);  // 1024 + 128, less the inline (SSO) room
  const RespValue big = c.cmd({"CLIENT", "SETNAME", std::string(1 << 20, 'n')});
  BOOST_CHECK_EQUAL(big.str, "ERR Client names cannot be longer than 1024 bytes.");
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "SETINFO", "LIB-VER", std::string(129, '1')}).str,
                    "ERR lib-name and lib-ver cannot be longer than 128 bytes.");
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "GETNAME"}).str, std::string(1024, 'n'));
}

// Regression: one request could ask for a reply of hundreds of MB (COMMAND DOCS x170,000).
BOOST_AUTO_TEST_CASE(a_reply_past_max_reply_bytes_is_refused_and_nothing_else_is_lost) {
  Server s(ServerOptions().with_server(R"("max_reply_bytes":65536)"));
  RawClient c(s.port());
  c.send(resp_command({"PING"}) + docs_request(100) + resp_command({"ECHO", "after"}) +
         docs_request(10));
  const std::string head = "+PONG\r\n-ERR reply too large\r\n$5\r\nafter\r\n*20\r\n";
  BOOST_CHECK(c.read_until([&](std::string_view b) { return b.size() > head.size() + 10000; }));
  BOOST_CHECK_EQUAL(c.buffer().substr(0, head.size()), head);
  // JSON: a list reply is bounded the same way (fewer keys, with a cursor, never too large).
  JsonClient j(s.port());
  BOOST_CHECK(j.request(R"({"action":"acquire","key":"a","ttl":30})").find("true") !=
              std::string::npos);
  BOOST_CHECK(j.request(R"({"action":"list","count":1000000})").find("\"a\"") != std::string::npos);
}

// Regression: 20 connections that asked for large replies and never read took RSS past 1 GB and
// used_memory past the limit, so every acquire was refused.
BOOST_AUTO_TEST_CASE(clients_that_never_read_large_replies_are_bounded_and_others_served) {
  Server s(ServerOptions()
               .with_server(R"("max_client_memory_mb":16)")
               .with_config(R"("limits":{"max_memory_mb":64},"cleanup":{"interval":"100ms"})"));
  RespConn other(s.port());
  BOOST_REQUIRE(granted(other.cmd({"SEMLOCK.ACQUIRE", "before", "60000"})));
  const double rss_before = metric(s, "process_resident_memory_bytes").value_or(0);
  std::vector<std::unique_ptr<RawClient>> hogs;
  const std::string big = docs_request(3000);  // ~5.5 MB of reply for 36 KB of request
  for (int i = 0; i < 20; ++i) {
    hogs.push_back(std::make_unique<RawClient>(s.port(), 4096));
    hogs.back()->send(big);
  }
  sleep_for(Ms{1000});
  for (int i = 0; i < 20; ++i) {
    // Not a latency check: the first acquire may wait for all 20 replies of 5.5 MB to be built,
    // which took over 30 s with ASan on a loaded machine (2 of 3 runs at load ~12).
    const RespValue v =
        other.cmd({"SEMLOCK.ACQUIRE", "k" + std::to_string(i), "60000"}, Ms{i == 0 ? 90000 : 30000});
    BOOST_REQUIRE_MESSAGE(granted(v), v.debug());
  }
  const double rss_after = metric(s, "process_resident_memory_bytes").value_or(0);
  BOOST_TEST_MESSAGE("RSS before " << rss_before / 1e6 << " MB, after " << rss_after / 1e6
                                   << " MB");
  // 16 MiB of buffers, plus the reply being built when the bound was crossed, plus allocator
  // slack; 20 unbounded replies would be 110 MB of data in 160 MB of buffers.
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's allocator keeps freed memory in quarantine: RSS says nothing there.
  BOOST_TEST_MESSAGE("RSS bound not checked under AddressSanitizer");
#else
  BOOST_CHECK_LT(rss_after - rss_before, 64e6);
#endif
  BOOST_CHECK_GE(metric(s, "ttl_semlock_clients_closed_total", {{"reason", "memory"}}).value_or(0),
                 1.0);
  BOOST_CHECK(s.wait_for_log("server.max_client_memory_mb reached"));
  // Hogs that never read keep it for its 5 s shutdown grace: 30 s, not the fixture's 10 s.
  BOOST_CHECK_EQUAL(s.terminate(Ms{30000}), 0);
}

// Regression: any byte reset the idle timer and no deadline bounded a request, so clients
// sending one byte a second held every connection slot.
BOOST_AUTO_TEST_CASE(a_request_not_finished_within_request_timeout_is_closed) {
  Server s(ServerOptions()
               .with_server(R"("request_timeout":"600ms")")
               .with_config(R"("cleanup":{"interval":"100ms"})"));
  RawClient resp(s.port());
  RawClient json(s.port());
  RawClient http(s.port());
  RespConn idle(s.port());  // between requests: only idle_timeout (off) applies
  BOOST_CHECK_EQUAL(idle.cmd({"PING"}).str, "PONG");
  const std::string resp_bytes = "*2\r\n$4\r\nECHO\r\n$100\r\n" + std::string(100, 'a');
  const std::string json_bytes = R"({"action":"ping","pad":")" + std::string(100, 'a');
  // The request line at once: the server tells HTTP by it (17 bytes trickled took most of the
  // 600 ms, all of it on a loaded machine: the connection was then closed as an unknown protocol,
  // without its 408).
  http.send("POST / HTTP/1.1\r\n");
  const std::string http_bytes = "Host: x\r\nX-Slow: " + std::string(100, 'a');
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < 100 && !(resp.peer_closed() && json.peer_closed()); ++i) {
    // One byte each every 30 ms: always active, never finishing.
    for (auto [client, bytes] : {std::pair{&resp, &resp_bytes}, std::pair{&json, &json_bytes},
                                 std::pair{&http, &http_bytes}}) {
      if (client->peer_closed()) continue;
      try {
        client->send(bytes->substr(i, 1));
      } catch (const std::exception&) {
      }
      client->read_for(Ms{10});
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_CHECK(resp.wait_closed(Ms{2000}));
  BOOST_CHECK(json.wait_closed(Ms{2000}));
  BOOST_CHECK(http.wait_closed(Ms{2000}));
  BOOST_CHECK_EQUAL(resp.buffer(), "");
  BOOST_CHECK_EQUAL(json.buffer(), "");
  BOOST_CHECK_MESSAGE(http.buffer().starts_with("HTTP/1.1 408 Request Timeout\r\n"), http.buffer());
  BOOST_CHECK(took >= Ms{600});  // not before the deadline
  BOOST_CHECK_EQUAL(idle.cmd({"PING"}).str, "PONG");
  BOOST_CHECK_EQUAL(
      metric(s, "ttl_semlock_clients_closed_total", {{"reason", "request_timeout"}}).value_or(0),
      3.0);
}

// Regression: the sweep that enforces server.request_timeout runs from a timer, and the loop runs
// due timers before it reads. A client whose request was completed while the loop was held up
// (here a script running 2.5 s; on CI, a starved ASan server behind 16,500 expiries) was closed
// as too slow with the rest of its request unread in the socket (clients.notify_flood: its
// pipelining client got "Connection reset by peer"). Bytes waiting to be read are not a slow
// client: it is served.
BOOST_AUTO_TEST_CASE(a_request_completed_while_the_loop_was_held_up_is_not_timed_out) {
  Server s(ServerOptions()
               .with_server(R"("request_timeout":"1s")")
               .with_config(R"("scripting":{"max_ms":2500},"cleanup":{"interval":"100ms"})"));
  RawClient a(s.port());
  // A whole PING, then a request begun: its deadline runs from here.
  a.send("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhel");
  BOOST_REQUIRE(a.read_until([](std::string_view got) { return got == "+PONG\r\n"; }, Ms{30000}));
  RespConn b(s.port());
  b.send({"EVAL", "while true do end", "0"});  // holds the loop for scripting.max_ms
  sleep_for(Ms{300});  // (were the script not running yet, the request would simply finish now)
  a.send("lo\r\n");  // the request is complete, and waits in the socket
  const auto stopped = b.read(Ms{60000});
  BOOST_REQUIRE(stopped.has_value());
  BOOST_CHECK(stopped->type == RespValue::Type::kError);
  BOOST_CHECK_MESSAGE(
      a.read_until([](std::string_view got) { return got == "+PONG\r\n$5\r\nhello\r\n"; },
                   Ms{30000}),
      "reply: '" << a.buffer() << "', closed: " << a.peer_closed());
  BOOST_CHECK(!a.peer_closed());
  BOOST_CHECK_EQUAL(
      metric(s, "ttl_semlock_clients_closed_total", {{"reason", "request_timeout"}}).value_or(0),
      0.0);
}

// Regression: 64 idle connections locked the metrics port out (/health unanswered).
BOOST_AUTO_TEST_CASE(health_probes_get_through_a_flood_of_idle_metrics_connections) {
  Server s;
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 150; ++i) idle.push_back(std::make_unique<RawClient>(s.metrics_port()));
  sleep_for(Ms{100});
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r = http_once(s.metrics_port(), "GET", "/health");
    BOOST_CHECK_EQUAL(r.status, 200);
  }
  BOOST_CHECK(metric(s, "ttl_semlock_clients_closed_total", {{"reason", "idle"}}).value_or(0) >=
              80.0);
}

// The metrics port's idle timeout (10 s, fixed): scrapers reconnect, and nothing else should park.
BOOST_AUTO_TEST_CASE(idle_metrics_connections_close_after_10_s) {
  Server s;
  RawClient idle(s.metrics_port());
  RawClient keeps_asking(s.metrics_port());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {  // a scraper on a 2 s interval stays connected
    keeps_asking.send(http_request_bytes("GET", "/health", ""));
    auto r = read_http_response(keeps_asking);
    BOOST_REQUIRE(r);
    BOOST_CHECK_EQUAL(r->status, 200);
    sleep_for(Ms{2000});
  }
  BOOST_CHECK(idle.wait_closed(Ms{5000}));
  BOOST_CHECK(std::chrono::steady_clock::now() - start >= Ms{10000});
  keeps_asking.send(http_request_bytes("GET", "/health", ""));
  auto r = read_http_response(keeps_asking);
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->status, 200);
}

// Regression: at the descriptor limit new connections vanished without a word.
BOOST_AUTO_TEST_CASE(at_the_fd_limit_new_clients_are_told_and_counted) {
  Server s;
  RespConn first(s.port());
  BOOST_CHECK_EQUAL(first.cmd({"PING"}).str, "PONG");
  std::size_t open_fds = 0;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(s.pid()) + "/fd")) {
    (void)e;
    ++open_fds;
  }
  rlimit rl{};
  rl.rlim_cur = open_fds + 48;
  rl.rlim_max = open_fds + 48;
  BOOST_REQUIRE_EQUAL(::prlimit(s.pid(), RLIMIT_NOFILE, &rl, nullptr), 0);
  std::vector<std::unique_ptr<RawClient>> clients;
  std::string refused;
  for (int i = 0; i < 100 && refused.empty(); ++i) {
    clients.push_back(std::make_unique<RawClient>(s.port()));
    RawClient& c = *clients.back();
    c.send(resp_command({"PING"}));
    c.read_until([](std::string_view b) { return b.find("\r\n") != std::string_view::npos; });
    if (c.buffer() != "+PONG\r\n") refused = c.buffer();
  }
  BOOST_CHECK_EQUAL(refused, "-ERR max number of clients reached\r\n");
  BOOST_CHECK_EQUAL(first.cmd({"PING"}).str, "PONG");
  BOOST_CHECK_EQUAL(http_once(s.metrics_port(), "GET", "/health").status, 200);
  BOOST_CHECK_GE(
      metric(s, "ttl_semlock_rejected_connections_total", {{"reason", "fd_limit"}}).value_or(0),
      1.0);
  BOOST_CHECK(s.wait_for_log("New connection refused"));
  clients.clear();
}

BOOST_AUTO_TEST_SUITE_END()
