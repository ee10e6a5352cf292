#include "protocol/http.h"

#include <boost/test/unit_test.hpp>

#include <string>

namespace http = semlock::http;
using http::Limits;
using http::ParseResult;
using http::Request;
using http::Status;

namespace {

int status_of(const ParseResult& r) {
  return static_cast<int>(r.status);
}
constexpr int kRequest = static_cast<int>(Status::kRequest);
constexpr int kNeedMore = static_cast<int>(Status::kNeedMore);
constexpr int kError = static_cast<int>(Status::kError);

const std::string kPost =
    "POST /lock HTTP/1.1\r\nHost: localhost:8765\r\nContent-Type: application/json\r\n"
    "Authorization: Bearer  tok123 \r\nContent-Length: 17\r\n\r\n{\"action\":\"ping\"}";

void check_error(std::string_view in, int status, std::string_view reason,
                 const Limits& limits = {}) {
  Request req;
  const ParseResult r = http::parse_request(in, limits, req);
  BOOST_TEST_CONTEXT("input: " << in) {
    BOOST_TEST(status_of(r) == kError);
    BOOST_TEST(r.error_status == status);
    BOOST_TEST(r.error_reason == reason);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_framing)

BOOST_AUTO_TEST_CASE(post_with_body) {
  Request req;
  const ParseResult r = http::parse_request(kPost, {}, req);
  BOOST_TEST(status_of(r) == kRequest);
  BOOST_TEST(r.consumed == kPost.size());
  BOOST_TEST(req.method == "POST");
  BOOST_TEST(req.target == "/lock");
  BOOST_TEST(req.body == "{\"action\":\"ping\"}");
  BOOST_TEST(req.authorization == "Bearer  tok123");
  BOOST_TEST(req.minor_version == 1);
  BOOST_TEST(req.keep_alive);
  BOOST_TEST(!req.expect_continue);
}

BOOST_AUTO_TEST_CASE(get_without_body_and_bare_lf) {
  Request req;
  const std::string in = "GET /metrics HTTP/1.1\nHost: x\n\n";
  const ParseResult r = http::parse_request(in, {}, req);
  BOOST_TEST(status_of(r) == kRequest);
  BOOST_TEST(r.consumed == in.size());
  BOOST_TEST(req.body.empty());
  BOOST_TEST(req.authorization.empty());
}

BOOST_AUTO_TEST_CASE(every_prefix_needs_more) {
  for (std::size_t n = 0; n < kPost.size(); ++n) {
    Request req;
    const ParseResult r = http::parse_request(kPost.substr(0, n), {}, req);
    BOOST_TEST_CONTEXT("prefix " << n) {
      BOOST_TEST(status_of(r) == kNeedMore);
      BOOST_TEST(r.consumed == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(pipelined_requests) {
  const std::string second = "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string stream = kPost + "\r\n" + second;
  Request req;
  ParseResult r = http::parse_request(stream, {}, req);
  BOOST_TEST(status_of(r) == kRequest);
  BOOST_TEST(req.method == "POST");
  std::string_view rest = std::string_view(stream).substr(r.consumed);
  r = http::parse_request(rest, {}, req);
  BOOST_TEST(status_of(r) == kRequest);
  BOOST_TEST(r.consumed == rest.size());  // the stray CRLF after a body is skipped
  BOOST_TEST(req.method == "GET");
  BOOST_TEST(req.target == "/health");
  BOOST_TEST(!req.keep_alive);
}

BOOST_AUTO_TEST_CASE(keep_alive_rules) {
  const std::pair<const char*, bool> cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nconnection: Keep-Alive, Upgrade\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false},
  };
  for (const auto& [in, keep_alive] : cases) {
    Request req;
    const ParseResult r = http::parse_request(in, {}, req);
    BOOST_TEST_CONTEXT(in) {
      BOOST_TEST(status_of(r) == kRequest);
      BOOST_TEST(req.keep_alive == keep_alive);
    }
  }
  Request req;
  http::parse_request("GET / HTTP/1.0\r\n\r\n", {}, req);
  BOOST_TEST(req.minor_version == 0);
}

BOOST_AUTO_TEST_CASE(expect_continue) {
  Request req;
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
  const ParseResult r = http::parse_request(head, {}, req);
  BOOST_TEST(status_of(r) == kNeedMore);  // body still to come
  BOOST_TEST(r.send_continue);            // and the client waits for "100 Continue"
  BOOST_TEST(r.consumed == 0u);
  BOOST_TEST(http::parse_request(head + "he", {}, req).send_continue);
  // Not before the head is complete.
  BOOST_TEST(!http::parse_request(head.substr(0, head.size() - 2), {}, req).send_continue);
  const std::string full = head + "hello";
  const ParseResult done = http::parse_request(full, {}, req);
  BOOST_TEST(status_of(done) == kRequest);
  BOOST_TEST(!done.send_continue);
  BOOST_TEST(req.expect_continue);
  BOOST_TEST(req.body == "hello");
}

BOOST_AUTO_TEST_CASE(expect_continue_only_when_a_body_is_awaited) {
  Request req;
  // No expectation: nothing to send.
  BOOST_TEST(
      !http::parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", {}, req).send_continue);
  // HTTP/1.0: the expectation is ignored (RFC 9110 §10.1.1).
  BOOST_TEST(!http::parse_request(
                  "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", {}, req)
                  .send_continue);
  // No body: the request is complete at once.
  BOOST_TEST(status_of(http::parse_request(
                 "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n", {},
                 req)) == kRequest);
  // A body over the limit is refused before it is sent, not invited.
  Limits small;
  small.max_body_bytes = 4;
  check_error("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 413,
              "Payload Too Large", small);
  std::string out;
  http::write_continue(out);
  BOOST_TEST(out == "HTTP/1.1 100 Continue\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(bearer_scheme_is_case_insensitive) {
  BOOST_TEST(http::bearer_token("Bearer tok") == "tok");
  BOOST_TEST(http::bearer_token("bearer tok") == "tok");
  BOOST_TEST(http::bearer_token("BEARER tok") == "tok");
  BOOST_TEST(http::bearer_token("bEaReR   tok") == "tok");
  BOOST_TEST(http::bearer_token("Bearer tok  ") == "tok");
  BOOST_TEST(http::bearer_token("Bearer").empty());
  BOOST_TEST(http::bearer_token("Bearer ").empty());
  BOOST_TEST(http::bearer_token("Bearertok").empty());
  BOOST_TEST(http::bearer_token("Basic dXNlcjpwYXNz").empty());
  BOOST_TEST(http::bearer_token("").empty());
  // The header as the parser hands it over (name in any case, value trimmed).
  Request req;
  http::parse_request("POST / HTTP/1.1\r\nauthorization: bearer k-1\r\nContent-Length: 0\r\n\r\n",
                      {}, req);
  BOOST_TEST(http::bearer_token(req.authorization) == "k-1");
}

BOOST_AUTO_TEST_CASE(header_limit_431) {
  Limits limits;
  limits.max_header_bytes = 64;
  const std::string request_line = "GET / HTTP/1.1\r\n";  // 16 bytes
  Request req;
  // Exactly at the limit, blank line included: accepted.
  const std::string exact = request_line + "X: " + std::string(41, 'a') + "\r\n\r\n";
  BOOST_REQUIRE_EQUAL(exact.size(), 64u);
  BOOST_TEST(status_of(http::parse_request(exact, limits, req)) == kRequest);
  const std::string over = request_line + "X: " + std::string(42, 'a') + "\r\n\r\n";
  check_error(over, 431, "Request Header Fields Too Large", limits);
  check_error(std::string(65, 'G'), 431, "Request Header Fields Too Large", limits);
  check_error("GET / HTTP/1.1\r\n" + std::string(100, 'a'), 431, "Request Header Fields Too Large",
              limits);
}

BOOST_AUTO_TEST_CASE(body_limit_413) {
  Limits limits;
  limits.max_body_bytes = 5;
  Request req;
  BOOST_TEST(status_of(http::parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
                                           limits, req)) == kRequest);
  // Refused from the head alone, before the body is read.
  check_error("POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\n", 413, "Payload Too Large", limits);
}

BOOST_AUTO_TEST_CASE(chunked_411) {
  check_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411,
              "Length Required");
  check_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
              411, "Length Required");
}

BOOST_AUTO_TEST_CASE(version_505) {
  check_error("GET / HTTP/2.0\r\n\r\n", 505, "HTTP Version Not Supported");
  check_error("GET / HTTP/0.9\r\n\r\n", 505, "HTTP Version Not Supported");
}

BOOST_AUTO_TEST_CASE(bad_requests_400) {
  for (const char* in : {
           "GET\r\n\r\n",
           "GET /\r\n\r\n",
           "GET / HTTP/1.1 x\r\n\r\n",
           "GET / HTTX/1.1\r\n\r\n",
           "GET / HTTP/1.a\r\n\r\n",
           " GET / HTTP/1.1\r\n\r\n",
           "GET  / HTTP/1.1\r\n\r\n",
           "G(T / HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET / HTTP/1.1\r\n: empty-name\r\n\r\n",
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
           "GET /\r HTTP/1.1\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
           "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       }) {
    check_error(in, 400, "Bad Request");
  }
  // Repeating the same length is harmless.
  Request req;
  BOOST_TEST(status_of(http::parse_request(
                 "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", {}, req)) ==
             kRequest);
}

BOOST_AUTO_TEST_CASE(write_response_bytes) {
  std::string out;
  http::write_response(out, 200, "application/json", "{\"success\":true}\n", true);
  BOOST_TEST(out ==
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
             "Connection: keep-alive\r\n\r\n{\"success\":true}\n");
  out.clear();
  http::write_response(out, 503, "", "", false);
  BOOST_TEST(out ==
             "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(head_responses_have_no_body_and_405_says_allow) {
  std::string out;
  http::ResponseExtras head;
  head.head_request = true;
  http::write_response(out, 200, "text/plain", "OK\n", true, head);
  // The Content-Length a GET would get, and nothing after the head.
  BOOST_TEST(out ==
             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
             "Connection: keep-alive\r\n\r\n");
  out.clear();
  http::ResponseExtras allow;
  allow.allow = "GET, HEAD";
  http::write_response(out, 405, "text/plain", "no\n", false, allow);
  BOOST_TEST(out ==
             "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nAllow: GET, HEAD\r\n"
             "Content-Length: 3\r\nConnection: close\r\n\r\nno\n");
}

BOOST_AUTO_TEST_CASE(reason_phrases) {
  BOOST_TEST(http::reason_phrase(200) == "OK");
  BOOST_TEST(http::reason_phrase(400) == "Bad Request");
  BOOST_TEST(http::reason_phrase(401) == "Unauthorized");
  BOOST_TEST(http::reason_phrase(403) == "Forbidden");
  BOOST_TEST(http::reason_phrase(404) == "Not Found");
  BOOST_TEST(http::reason_phrase(409) == "Conflict");
  BOOST_TEST(http::reason_phrase(411) == "Length Required");
  BOOST_TEST(http::reason_phrase(413) == "Payload Too Large");
  BOOST_TEST(http::reason_phrase(431) == "Request Header Fields Too Large");
  BOOST_TEST(http::reason_phrase(503) == "Service Unavailable");
  BOOST_TEST(http::reason_phrase(505) == "HTTP Version Not Supported");
  BOOST_TEST(http::reason_phrase(299) == "Unknown");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_cursor)

struct Fed {
  std::vector<std::string> bodies;
  int error_status = 0;
  std::size_t parses = 0;  // full parses of a head (the cursor's job is to keep these few)
};

// Feeds `stream` one byte at a time through one cursor, as the server does.
Fed feed_bytewise(std::string_view stream, const Limits& limits = {}) {
  Fed f;
  std::string buffer;
  http::Cursor cursor;
  for (const char ch : stream) {
    buffer.push_back(ch);
    while (!buffer.empty()) {
      Request req;
      const http::Cursor before = cursor;
      const ParseResult r = http::parse_request(buffer, limits, req, &cursor);
      if (r.status == Status::kNeedMore) {
        if (cursor.need != before.need) ++f.parses;
        break;
      }
      ++f.parses;
      if (r.status == Status::kError) {
        f.error_status = r.error_status;
        return f;
      }
      f.bodies.emplace_back(req.body);
      buffer.erase(0, r.consumed);
    }
  }
  return f;
}

// Regression: an unfinished request was re-parsed from its start on every read (O(head) per
// byte received). With a cursor the head is parsed once, when it is whole.
BOOST_AUTO_TEST_CASE(a_trickled_pipeline_parses_each_head_once) {
  const std::string stream = "\r\n" + kPost + kPost + "GET /x HTTP/1.1\nHost: y\n\n";
  const Fed f = feed_bytewise(stream);
  BOOST_TEST(f.error_status == 0);
  BOOST_REQUIRE_EQUAL(f.bodies.size(), 3u);
  BOOST_TEST(f.bodies[0] == "{\"action\":\"ping\"}");
  BOOST_TEST(f.bodies[1] == "{\"action\":\"ping\"}");
  BOOST_TEST(f.bodies[2] == "");
  BOOST_TEST(f.parses <= 5u);  // two heads that wait for a body, three completions
}

BOOST_AUTO_TEST_CASE(errors_are_the_same_with_a_cursor) {
  Limits small;
  small.max_header_bytes = 64;
  const std::pair<std::string, int> cases[] = {
      {"POST / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 431},
      {std::string(100, '\n'), 400},
  };
  for (const auto& [in, status] : cases) {
    BOOST_TEST_CONTEXT("input: " << in.substr(0, 40)) {
      Request req;
      const ParseResult whole = http::parse_request(in, small, req);
      BOOST_TEST(whole.error_status == status);
      BOOST_TEST(feed_bytewise(in, small).error_status == status);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
