// JSON "mode" and "reentrant" on acquire (docs/PROTOCOL.md): decoding and the exact errors.
#include <boost/test/unit_test.hpp>
#include <string>

#include "protocol/json_codec.h"

using semlock::json::decode_request;
using semlock::json::DecodeError;
using semlock::json::Request;

BOOST_AUTO_TEST_SUITE(json_modes)

BOOST_AUTO_TEST_CASE(mode_and_reentrant_decode) {
  auto r = decode_request(R"({"action":"acquire","key":"k","ttl":1,"mode":"shared","reentrant":true})");
  BOOST_REQUIRE(std::holds_alternative<Request>(r));
  BOOST_TEST(std::get<Request>(r).shared);
  BOOST_TEST(std::get<Request>(r).reentrant);
  r = decode_request(R"({"action":"acquire","key":"k","ttl":1,"mode":"exclusive"})");
  BOOST_REQUIRE(std::holds_alternative<Request>(r));
  BOOST_TEST(!std::get<Request>(r).shared);
  BOOST_TEST(!std::get<Request>(r).reentrant);
  r = decode_request(R"({"action":"acquire","key":"k","ttl":1})");
  BOOST_TEST(!std::get<Request>(r).shared);
}

BOOST_AUTO_TEST_CASE(bad_mode_and_reentrant) {
  auto r = decode_request(R"({"action":"acquire","key":"k","ttl":1,"mode":"read"})");
  BOOST_REQUIRE(std::holds_alternative<DecodeError>(r));
  BOOST_TEST(std::get<DecodeError>(r).message == R"(mode: must be "shared" or "exclusive")");
  r = decode_request(R"({"action":"acquire","key":"k","ttl":1,"mode":1})");
  BOOST_REQUIRE(std::holds_alternative<DecodeError>(r));
  BOOST_TEST(std::get<DecodeError>(r).message == "mode: must be a string");
  r = decode_request(R"({"action":"acquire","key":"k","ttl":1,"reentrant":"yes"})");
  BOOST_REQUIRE(std::holds_alternative<DecodeError>(r));
  BOOST_TEST(std::get<DecodeError>(r).message == "reentrant: must be a boolean");
}

BOOST_AUTO_TEST_SUITE_END()
