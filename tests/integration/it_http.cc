// HTTP on the lock port against the real binary (SPEC §5): the curl example, status codes per the
// error table of §3, keep-alive per HTTP/1.x, pipelined requests answered in order.
#define BOOST_TEST_MODULE it_http
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
}

HttpResponse post(std::string_view body, const std::vector<std::string>& headers = {}) {
  return http_once(port(), "POST", "/", body, headers);
}

}  // namespace

BOOST_AUTO_TEST_CASE(curl_post_example) {
  // What `curl -X POST localhost:8765 -d '{...}'` sends.
  RawClient c(port());
  std::string body = R"({"action":"acquire","key":"test","ttl":300})";
  c.send(
      "POST / HTTP/1.1\r\nHost: localhost:8765\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n" +
      body);
  auto r = read_http_response(c);
  BOOST_REQUIRE_MESSAGE(r, "no response: " << c.buffer());
  BOOST_CHECK_EQUAL(r->status, 200);
  BOOST_CHECK_MESSAGE(r->headers["content-type"].find("application/json") == 0,
                      r->headers["content-type"]);
  auto d = parse_json(r->body);
  BOOST_CHECK(json_bool(d, "success"));
  BOOST_CHECK_EQUAL(json_string(d["data"], "key"), "test");
  BOOST_CHECK_EQUAL(json_int(d["data"], "ttl_ms"), 300000);
  // Held: 200 with the plain failure, exactly as on the JSON-lines protocol.
  auto again = post(body);
  BOOST_CHECK_EQUAL(again.status, 200);
  BOOST_CHECK_EQUAL(again.body.substr(0, again.body.find_last_not_of("\r\n") + 1),
                    R"({"success":false})");
  BOOST_CHECK(json_bool(parse_json(post(R"({"action":"release","key":"test"})").body), "success"));
}

BOOST_AUTO_TEST_CASE(any_path_is_served) {
  auto r = http_once(port(), "POST", "/api/v1/lock?x=1", R"({"action":"ping"})");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(json_bool(parse_json(r.body), "success"));
}

BOOST_AUTO_TEST_CASE(error_status_codes) {
  auto bad_json = post("{not json");
  BOOST_CHECK_EQUAL(bad_json.status, 400);
  BOOST_CHECK_EQUAL(json_string(parse_json(bad_json.body), "code"), "BADREQUEST");

  auto no_key = post(R"({"action":"acquire","ttl":3})");
  BOOST_CHECK_EQUAL(no_key.status, 400);
  BOOST_CHECK(json_string(parse_json(no_key.body), "error").find("key") != std::string::npos);

  auto session = post(R"({"action":"acquire","key":"http:s","ttl":3,"session":true})");
  BOOST_CHECK_EQUAL(session.status, 400);
  BOOST_CHECK(json_string(parse_json(session.body), "error").find("session") != std::string::npos);

  BOOST_CHECK_EQUAL(post(R"({"action":"acquire","key":"http:m","ttl":30,"limit":2})").status, 200);
  auto mismatch = post(R"({"action":"acquire","key":"http:m","ttl":30,"limit":3})");
  BOOST_CHECK_EQUAL(mismatch.status, 409);
  BOOST_CHECK_EQUAL(json_string(parse_json(mismatch.body), "code"), "MISMATCH");
  post(R"({"action":"force_release","key":"http:m"})");

  auto absent = post(R"({"action":"status","key":"http:absent"})");
  BOOST_CHECK_EQUAL(absent.status, 200);  // not an error: a plain {"success":false}
  BOOST_CHECK(!json_has(parse_json(absent.body), "error"));
}

BOOST_AUTO_TEST_CASE(http11_keep_alive_serves_many_requests) {
  RawClient c(port());
  for (int i = 0; i < 3; ++i) {
    c.send(http_request_bytes("POST", "/", R"({"action":"ping","id":)" + std::to_string(i) + "}"));
    auto r = read_http_response(c);
    BOOST_REQUIRE(r);
    BOOST_CHECK_EQUAL(r->status, 200);
    BOOST_CHECK_EQUAL(json_int(parse_json(r->body), "id"), i);
  }
  c.read_for(Ms{100});
  BOOST_CHECK(!c.peer_closed());
}

BOOST_AUTO_TEST_CASE(pipelined_http_requests_answered_in_order) {
  RawClient c(port());
  std::string both = http_request_bytes("POST", "/", R"({"action":"ping","id":1})") +
                     http_request_bytes("POST", "/", R"({"action":"ping","id":2})");
  c.send(both);
  auto a = read_http_response(c), b = read_http_response(c);
  BOOST_REQUIRE(a && b);
  BOOST_CHECK_EQUAL(json_int(parse_json(a->body), "id"), 1);
  BOOST_CHECK_EQUAL(json_int(parse_json(b->body), "id"), 2);
}

BOOST_AUTO_TEST_CASE(connection_close_and_http10_close_after_reply) {
  {
    RawClient c(port());
    c.send(http_request_bytes("POST", "/", R"({"action":"ping"})", {"Connection: close"}));
    BOOST_CHECK(c.wait_closed());
    BOOST_CHECK(c.buffer().starts_with("HTTP/1.1 200"));
  }
  {
    RawClient c(port());
    c.send(http_request_bytes("POST", "/", R"({"action":"ping"})", {}, "HTTP/1.0"));
    BOOST_CHECK(c.wait_closed());
    BOOST_CHECK(c.buffer().starts_with("HTTP/1.0 200") || c.buffer().starts_with("HTTP/1.1 200"));
  }
  {
    // HTTP/1.0 asking for keep-alive keeps the connection.
    RawClient c(port());
    c.send(http_request_bytes("POST", "/", R"({"action":"ping"})", {"Connection: keep-alive"},
                              "HTTP/1.0"));
    auto r = read_http_response(c);
    BOOST_REQUIRE(r);
    BOOST_CHECK_EQUAL(r->status, 200);
    c.send(http_request_bytes("POST", "/", R"({"action":"ping"})", {"Connection: keep-alive"},
                              "HTTP/1.0"));
    BOOST_CHECK(read_http_response(c));
  }
}

BOOST_AUTO_TEST_CASE(body_split_across_writes) {
  RawClient c(port());
  std::string req = http_request_bytes("POST", "/", R"({"action":"ping","id":"split"})");
  for (std::size_t i = 0; i < req.size(); i += 7) {
    c.send(req.substr(i, 7));
    sleep_for(Ms{1});
  }
  auto r = read_http_response(c);
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(json_string(parse_json(r->body), "id"), "split");
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  RawClient c(port());
  const std::string body = R"({"action":"ping","id":"cont"})";
  c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n");
  // The client waits for this before it sends the body (curl: up to 1 s).
  BOOST_REQUIRE_MESSAGE(c.read_until([](std::string_view b) { return b.size() >= 25; }),
                        "no interim response: '" << c.buffer() << "'");
  BOOST_CHECK_EQUAL(c.buffer(), "HTTP/1.1 100 Continue\r\n\r\n");
  c.buffer().clear();
  c.send(body);
  auto r = read_http_response(c);
  BOOST_REQUIRE(r);
  BOOST_CHECK_EQUAL(r->status, 200);
  BOOST_CHECK_EQUAL(json_string(parse_json(r->body), "id"), "cont");
  // One interim response per request: a second request on the connection gets its own, once, even
  // when its body comes in pieces.
  c.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n");
  BOOST_REQUIRE(c.read_until([](std::string_view b) { return b.size() >= 25; }));
  BOOST_CHECK_EQUAL(c.buffer(), "HTTP/1.1 100 Continue\r\n\r\n");
  c.buffer().clear();
  c.send(body.substr(0, 5));
  sleep_for(Ms{20});
  c.send(body.substr(5));
  auto second = read_http_response(c);
  BOOST_REQUIRE_MESSAGE(second, "no response: " << c.buffer());
  BOOST_CHECK_EQUAL(second->status, 200);
  BOOST_CHECK(c.buffer().empty());
}

BOOST_AUTO_TEST_CASE(curl_expect_100_continue_gets_the_interim_response) {
  if (std::system("curl --version >/dev/null 2>&1") != 0) {
    BOOST_TEST_MESSAGE("curl is not installed: skipped");
    return;
  }
  const std::string cmd =
      "curl -sS -v -m 5 -H 'Expect: 100-continue' --data-binary "
      "'{\"action\":\"ping\",\"id\":\"curl\"}' http://127.0.0.1:" +
      std::to_string(port()) + "/ 2>&1";
  std::string output;
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  BOOST_CHECK_EQUAL(::pclose(p), 0);
  BOOST_CHECK_MESSAGE(output.find("< HTTP/1.1 100 Continue") != std::string::npos, output);
  BOOST_CHECK_MESSAGE(output.find("\"id\":\"curl\"") != std::string::npos, output);
}

BOOST_AUTO_TEST_CASE(head_gets_405_with_allow_and_no_body) {
  RawClient c(port());
  // HEAD then POST on one connection: the POST's response must follow the HEAD's head directly.
  c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" +
         http_request_bytes("POST", "/", R"({"action":"ping","id":"after-head"})"));
  BOOST_REQUIRE(c.read_until([](std::string_view b) { return b.find("after-head") != b.npos; }));
  const std::string& b = c.buffer();
  const std::size_t head_end = b.find("\r\n\r\n");
  BOOST_REQUIRE(head_end != std::string::npos);
  BOOST_CHECK_MESSAGE(b.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), b);
  BOOST_CHECK_MESSAGE(b.substr(0, head_end).find("\r\nAllow: POST") != std::string::npos, b);
  BOOST_CHECK_MESSAGE(b.substr(head_end + 4).starts_with("HTTP/1.1 200 OK\r\n"), b);

  auto put = http_once(port(), "PUT", "/", R"({"action":"ping"})");
  BOOST_CHECK_EQUAL(put.status, 405);
  BOOST_CHECK_EQUAL(put.headers["allow"], "POST");
  BOOST_CHECK_EQUAL(json_string(parse_json(put.body), "code"), "BADREQUEST");
}

BOOST_AUTO_TEST_CASE(metrics_port_head_has_no_body_and_405_says_allow) {
  RawClient c(shared_server().metrics_port());
  c.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_REQUIRE(c.read_until([](std::string_view b) { return b.ends_with("\r\n\r\nOK\n"); }));
  const std::string want_head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
      "Connection: keep-alive\r\n\r\n";
  BOOST_CHECK_EQUAL(c.buffer(), want_head + want_head + "OK\n");

  auto post = http_once(shared_server().metrics_port(), "POST", "/metrics", "x");
  BOOST_CHECK_EQUAL(post.status, 405);
  BOOST_CHECK_EQUAL(post.headers["allow"], "GET, HEAD");
}

namespace {

// The status of GET `path` on a fresh connection; 0 when the connection is refused or dropped.
int status_of(std::uint16_t p, std::string_view path) {
  try {
    return http_once(p, "GET", path).status;
  } catch (const std::exception&) {
    return 0;
  }
}

bool refused(std::uint16_t p) {
  const int fd = connect_loopback(p);
  if (fd >= 0) ::close(fd);
  return fd < 0;
}

}  // namespace

// SIGTERM starts the grace: the lock port stops accepting, replies still owed are flushed (up to
// 5 s), and meanwhile the metrics port answers /ready 503 and /health 200 rather than refusing.
BOOST_AUTO_TEST_CASE(ready_is_503_during_the_shutdown_grace) {
  Server s;
  // A client that never reads holds the grace open: the server owes it more than the kernel takes.
  RawClient hog(s.port(), 4096);
  ::fcntl(hog.fd(), F_SETFL, ::fcntl(hog.fd(), F_GETFL) | O_NONBLOCK);
  const std::string echo = resp_command({"ECHO", std::string(256 * 1024, 'e')});
  std::size_t offset = 0;
  for (int stalls = 0; stalls < 6;) {
    const ssize_t n = ::send(hog.fd(), echo.data() + offset, echo.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      offset = (offset + static_cast<std::size_t>(n)) % echo.size();
      stalls = 0;
    } else {
      BOOST_REQUIRE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
      ++stalls;
      sleep_for(Ms{50});
    }
  }
  BOOST_REQUIRE_EQUAL(status_of(s.metrics_port(), "/ready"), 200);
  RawClient idle_probe(s.metrics_port());  // a kept-open scraper connection must not hold the exit
  ::kill(s.pid(), SIGTERM);
  BOOST_CHECK_MESSAGE(eventually([&] { return status_of(s.metrics_port(), "/ready") == 503; }),
                      "last /ready status: " << status_of(s.metrics_port(), "/ready"));
  auto ready = http_once(s.metrics_port(), "GET", "/ready");
  BOOST_CHECK_EQUAL(ready.status, 503);
  BOOST_CHECK_EQUAL(ready.body, "shutting down\n");
  auto health = http_once(s.metrics_port(), "GET", "/health");
  BOOST_CHECK_EQUAL(health.status, 200);
  BOOST_CHECK_EQUAL(health.headers["connection"], "close");  // no keep-alive while stopping
  BOOST_CHECK(s.running());
  BOOST_CHECK(refused(s.port()));  // the lock port no longer accepts

  // Once the last lock connection is gone the process ends, metrics port and all.
  hog.close();
  BOOST_CHECK(eventually([&] { return !s.running(); }, Ms{10000}));
  BOOST_CHECK_EQUAL(s.terminate(), 0);
  BOOST_CHECK(idle_probe.wait_closed());
  BOOST_CHECK(refused(s.metrics_port()));
}
