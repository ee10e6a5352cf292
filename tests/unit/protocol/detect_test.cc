#include "protocol/detect.h"

#include <boost/test/unit_test.hpp>

#include <string>

using semlock::detect_protocol;
using semlock::WireProtocol;

namespace {
int detected(std::string_view s) {
  return static_cast<int>(detect_protocol(s));
}
constexpr int kUnknown = static_cast<int>(WireProtocol::kUnknown);
constexpr int kResp = static_cast<int>(WireProtocol::kResp);
constexpr int kJson = static_cast<int>(WireProtocol::kJson);
constexpr int kHttp = static_cast<int>(WireProtocol::kHttp);
}  // namespace

BOOST_AUTO_TEST_SUITE(detect_protocol_rules)

BOOST_AUTO_TEST_CASE(blanks_only_is_unknown) {
  BOOST_TEST(detected("") == kUnknown);
  BOOST_TEST(detected(" \t\r\n") == kUnknown);
}

BOOST_AUTO_TEST_CASE(first_byte_rules) {
  BOOST_TEST(detected("{") == kJson);
  BOOST_TEST(detected("\r\n  {\"action\":\"ping\"}\n") == kJson);
  BOOST_TEST(detected("*") == kResp);
  BOOST_TEST(detected("\n*1\r\n$4\r\nPING\r\n") == kResp);
}

BOOST_AUTO_TEST_CASE(inline_resp) {
  BOOST_TEST(detected("GET key\r\n") == kResp);
  BOOST_TEST(detected("GET key") == kResp);  // no '/' after the method: decided early
  BOOST_TEST(detected("PING\r\n") == kResp);
  BOOST_TEST(detected("ping\r\n") == kResp);
  BOOST_TEST(detected("get /metrics HTTP/1.1\r\n") == kResp);  // method must be uppercase
  BOOST_TEST(detected("GET /x\r\n") == kResp);                 // no version
  BOOST_TEST(detected("GET /x HTTP/2.0\r\n") == kResp);
  BOOST_TEST(detected("GET /x HTTP/1.1 \r\n") == kResp);
  BOOST_TEST(detected("GET  /x HTTP/1.1\r\n") == kResp);
  BOOST_TEST(detected("$1\r\n") == kResp);
}

BOOST_AUTO_TEST_CASE(http_request_lines) {
  BOOST_TEST(detected("GET /metrics HTTP/1.1\r\n") == kHttp);
  BOOST_TEST(detected("POST / HTTP/1.0\n") == kHttp);
  BOOST_TEST(detected("\r\nPOST /lock?x=1 HTTP/1.1\r\nHost: a\r\n\r\n") == kHttp);
}

BOOST_AUTO_TEST_CASE(every_prefix_of_an_http_line_is_unknown) {
  const std::string line = "POST /api/lock HTTP/1.1\r\n";
  for (std::size_t n = 1; n < line.size(); ++n) {
    BOOST_TEST_CONTEXT("prefix " << n) {
      BOOST_TEST(detected(line.substr(0, n)) == kUnknown);
    }
  }
  BOOST_TEST(detected(line) == kHttp);
}

BOOST_AUTO_TEST_CASE(look_ahead_is_bounded) {
  const std::string long_target = "GET /" + std::string(8 * 1024, 'a');
  BOOST_TEST(detected(long_target) == kResp);
  const std::string long_method(8 * 1024, 'A');
  BOOST_TEST(detected(long_method) == kUnknown);
  BOOST_TEST(detected(long_method + "A") == kResp);
  BOOST_TEST(detected(std::string(8 * 1024, ' ')) == kUnknown);
  BOOST_TEST(detected(std::string(8 * 1024 + 1, ' ')) == kResp);
}

BOOST_AUTO_TEST_SUITE_END()
