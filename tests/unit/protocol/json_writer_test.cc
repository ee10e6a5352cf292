#include <boost/test/unit_test.hpp>

#include <string>

#include "protocol/json_codec.h"

namespace json = semlock::json;

BOOST_AUTO_TEST_SUITE(json_writer)

BOOST_AUTO_TEST_CASE(fail_ok_and_error) {
  std::string out;
  json::write_fail(out, "");
  json::write_fail(out, "7");
  json::write_ok(out, "");
  json::write_ok(out, "\"a\"");
  json::write_error(out, "", "key: required", "BADREQUEST");
  json::write_error(out, "{\"x\":1}", "say \"hi\"\n", "ERR");
  BOOST_TEST(
      out ==
      "{\"success\":false}\n"
      "{\"success\":false,\"id\":7}\n"
      "{\"success\":true}\n"
      "{\"success\":true,\"id\":\"a\"}\n"
      "{\"success\":false,\"error\":\"key: required\",\"code\":\"BADREQUEST\"}\n"
      "{\"success\":false,\"error\":\"say \\\"hi\\\"\\n\",\"code\":\"ERR\",\"id\":{\"x\":1}}\n");
}

BOOST_AUTO_TEST_CASE(acquired) {
  std::string out;
  json::write_acquired(out, "1", "k", "owner-1", 1732700000000001ULL, 30000);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"key\":\"k\",\"owner\":\"owner-1\","
             "\"fence\":1732700000000001,\"ttl_ms\":30000},\"id\":1}\n");
}

BOOST_AUTO_TEST_CASE(released_extended_exists_force_pong) {
  std::string out;
  json::write_released(out, "", 1);
  json::write_extended(out, "", 5000);
  json::write_exists(out, "");
  json::write_force_released(out, "2", 3);
  json::write_pong(out, "");
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"released\":1}}\n"
             "{\"success\":true,\"data\":{\"ttl_ms\":5000}}\n"
             "{\"success\":true,\"data\":{\"exists\":true}}\n"
             "{\"success\":true,\"data\":{\"released\":3},\"id\":2}\n"
             "{\"success\":true,\"data\":{\"pong\":true}}\n");
}

BOOST_AUTO_TEST_CASE(status) {
  std::string out;
  json::write_status(out, "", "sem", 3, {{"a", 10, 900}, {"b", 11, 1000}}, 2);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"key\":\"sem\",\"limit\":3,\"holders\":["
             "{\"owner\":\"a\",\"fence\":10,\"ttl_ms\":900},"
             "{\"owner\":\"b\",\"fence\":11,\"ttl_ms\":1000}],\"waiters\":2}}\n");
  out.clear();
  json::write_status(out, "", "k", 1, {}, 0);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"key\":\"k\",\"limit\":1,\"holders\":[],"
             "\"waiters\":0}}\n");
}

BOOST_AUTO_TEST_CASE(stats) {
  std::string out;
  json::write_stats(out, "", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"TotalRequests\":1,\"ActiveLocks\":2,\"Holders\":3,"
             "\"Waiters\":4,\"AcquireRequests\":5,\"ReleaseRequests\":6,\"ExtendRequests\":7,"
             "\"RejectedRequests\":8,\"ExpiredLocks\":9,\"Connections\":10,"
             "\"MemoryUsageBytes\":11,\"MemoryLimitBytes\":12,\"LocksLimit\":13,"
             "\"UptimeSeconds\":14}}\n");
}

BOOST_AUTO_TEST_CASE(list) {
  std::string out;
  json::write_list(out, "", {"a", "b"}, 17);
  json::write_list(out, "9", {}, 0);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"keys\":[\"a\",\"b\"],\"cursor\":17}}\n"
             "{\"success\":true,\"data\":{\"keys\":[],\"cursor\":0},\"id\":9}\n");
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_and_decode_back) {
  std::string key;
  for (int c = 0; c < 256; ++c) key.push_back(static_cast<char>(c));
  std::string out;
  json::write_acquired(out, "", key, "o", 1, 1);
  BOOST_TEST(out.find('\n') == out.size() - 1);  // one line, whatever the key holds
  BOOST_TEST(out.find("\\u0000\\u0001") != std::string::npos);
  BOOST_TEST(out.find("\\b\\t\\n\\u000b\\f\\r") != std::string::npos);
  // Feed the reply's data back through the decoder as a request: the key survives.
  const std::string data_start = "\"data\":{";
  const auto begin = out.find(data_start) + data_start.size();
  const std::string request =
      "{\"action\":\"exists\"," + out.substr(begin, out.rfind("}}") - begin) + "}";
  auto decoded = json::decode_request(request);
  BOOST_REQUIRE(std::holds_alternative<json::Request>(decoded));
  BOOST_TEST(std::get<json::Request>(decoded).key == key);
}

BOOST_AUTO_TEST_SUITE_END()
