// HTTP on the lock port against the real binary (SPEC §5): the curl example, status codes per the
// error table of §3, keep-alive per HTTP/1.x, pipelined requests answered in order.
#define BOOST_TEST_MODULE it_http
#include <boost/test/unit_test.hpp>

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
