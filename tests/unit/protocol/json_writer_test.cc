#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

#include <rapidjson/document.h>

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
             "{\"owner\":\"a\",\"fence\":10,\"ttl_ms\":900,\"holds\":1},"
             "{\"owner\":\"b\",\"fence\":11,\"ttl_ms\":1000,\"holds\":1}],\"waiters\":2,"
             "\"mode\":\"exclusive\"}}\n");
  out.clear();
  json::write_status(out, "", "k", 1, {}, 0);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"key\":\"k\",\"limit\":1,\"holders\":[],"
             "\"waiters\":0,\"mode\":\"exclusive\"}}\n");
  // Readers, one of them reentrant (docs/PROTOCOL.md).
  out.clear();
  json::write_status(out, "", "rw", 1, {{"r1", 5, 100, 3}, {"r2", 6, 200, 1}}, 0, true);
  BOOST_TEST(out ==
             "{\"success\":true,\"data\":{\"key\":\"rw\",\"limit\":1,\"holders\":["
             "{\"owner\":\"r1\",\"fence\":5,\"ttl_ms\":100,\"holds\":3},"
             "{\"owner\":\"r2\",\"fence\":6,\"ttl_ms\":200,\"holds\":1}],\"waiters\":0,"
             "\"mode\":\"shared\"}}\n");
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
  for (int c = 0; c < 128; ++c) key.push_back(static_cast<char>(c));
  key += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // é € 😀: valid UTF-8 goes out as it is
  std::string out;
  json::write_acquired(out, "", key, "o", 1, 1);
  BOOST_TEST(out.find('\n') == out.size() - 1);  // one line, whatever the key holds
  BOOST_TEST(out.find("\\u0000\\u0001") != std::string::npos);
  BOOST_TEST(out.find("\\b\\t\\n\\u000b\\f\\r") != std::string::npos);
  BOOST_TEST(out.find("\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"") != std::string::npos);
  // Feed the reply's data back through the decoder as a request: the key survives.
  const std::string data_start = "\"data\":{";
  const auto begin = out.find(data_start) + data_start.size();
  const std::string request =
      "{\"action\":\"exists\"," + out.substr(begin, out.rfind("}}") - begin) + "}";
  auto decoded = json::decode_request(request);
  BOOST_REQUIRE(std::holds_alternative<json::Request>(decoded));
  BOOST_TEST(std::get<json::Request>(decoded).key == key);
}

namespace {

// The string as the writer encodes it (the "key" member of an acquire reply).
std::string encoded(std::string_view s) {
  std::string out;
  json::write_acquired(out, "", s, "o", 1, 1);
  const std::string_view prefix = "{\"success\":true,\"data\":{\"key\":";
  const std::string_view suffix = ",\"owner\":\"o\",\"fence\":1,\"ttl_ms\":1}}\n";
  BOOST_REQUIRE(out.starts_with(prefix) && out.ends_with(suffix));
  return out.substr(prefix.size(), out.size() - prefix.size() - suffix.size());
}

std::string hex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += kHex[u >> 4];
    out += kHex[u & 15];
    out += ' ';
  }
  return out;
}

// True when `text` parses as JSON under RapidJSON's strict UTF-8 validation.
bool strict_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  return !d.HasParseError();
}

}  // namespace

// Invalid UTF-8 becomes U+FFFD, one per byte that does not start a valid sequence, exactly as Go's
// encoding/json (utf8.DecodeRune's rules) writes it, so every reply is valid UTF-8.
BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_as_go_does) {
  const std::string R = "\\ufffd";
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"", "\"\""},
      {"plain-key:1", "\"plain-key:1\""},
      {"\xff", "\"" + R + "\""},
      {"a\xff"
       "b",
       "\"a" + R + "b\""},
      {"\x80", "\"" + R + "\""},                          // lone continuation byte
      {"\xbf\xbf", "\"" + R + R + "\""},                  // two of them
      {"\xc0\x80", "\"" + R + R + "\""},                  // overlong NUL
      {"\xc1\xbf", "\"" + R + R + "\""},                  // overlong U+007F
      {"\xc2\x80", "\"\xc2\x80\""},                       // U+0080, the first 2-byte one
      {"\xdf\xbf", "\"\xdf\xbf\""},                       // U+07FF
      {"\xe0\x80\x80", "\"" + R + R + R + "\""},          // overlong 3-byte
      {"\xe0\x9f\xbf", "\"" + R + R + R + "\""},          // overlong U+07FF
      {"\xe0\xa0\x80", "\"\xe0\xa0\x80\""},               // U+0800
      {"\xed\x9f\xbf", "\"\xed\x9f\xbf\""},               // U+D7FF
      {"\xed\xa0\x80", "\"" + R + R + R + "\""},          // surrogate U+D800
      {"\xed\xbf\xbf", "\"" + R + R + R + "\""},          // surrogate U+DFFF
      {"\xee\x80\x80", "\"\xee\x80\x80\""},               // U+E000
      {"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},               // U+FFFD itself stays as it is
      {"\xef\xbf\xbf", "\"\xef\xbf\xbf\""},               // U+FFFF
      {"\xf0\x80\x80\x80", "\"" + R + R + R + R + "\""},  // overlong 4-byte
      {"\xf0\x8f\xbf\xbf", "\"" + R + R + R + R + "\""},  // overlong U+FFFF
      {"\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""},       // U+10000
      {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},       // U+10FFFF
      {"\xf4\x90\x80\x80", "\"" + R + R + R + R + "\""},  // U+110000
      {"\xf5\x80\x80\x80", "\"" + R + R + R + R + "\""},
      {"\xf8\x88\x80\x80\x80", "\"" + R + R + R + R + R + "\""},  // old 5-byte form
      {"\xfe\xff", "\"" + R + R + "\""},
      {"\xe2\x82", "\"" + R + R + "\""},  // truncated at the end
      {"\xe2\x82"
       "A",
       "\"" + R + R + "A\""},  // truncated before ASCII
      {"\xf0\x9f\x98", "\"" + R + R + R + "\""},
      {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},  // U+1F600
      {"\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9" + R + "\xc3\xa9\""},
      {"\xe2\x80\xa8", "\"\\u2028\""},  // line separators, escaped as Go does
      {"\xe2\x80\xa9", "\"\\u2029\""},
      {"\xe2\x80\xa7", "\"\xe2\x80\xa7\""},
      {"\x7f<>&/", "\"\x7f<>&/\""},  // sent as they are (see docs/DECISIONS.md)
      {"\"\\\n\x01\xff", "\"\\\"\\\\\\n\\u0001" + R + "\""},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("input bytes: " << hex(c.in)) {
      const std::string got = encoded(c.in);
      BOOST_TEST(got == c.want);
      BOOST_TEST(strict_json(got));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_string_field_and_the_id_are_valid_utf8) {
  const std::string bad = "k\xff\xed\xa0\x80";
  const std::string want = "k\\ufffd\\ufffd\\ufffd\\ufffd";
  std::string out;
  // The id is echoed from its re-serialized JSON text: its strings are checked too.
  json::write_acquired(out, "{\"a\":[\"x\xff\"]}", bad, bad, 1, 1);
  BOOST_TEST(out == "{\"success\":true,\"data\":{\"key\":\"" + want + "\",\"owner\":\"" + want +
                        "\",\"fence\":1,\"ttl_ms\":1},\"id\":{\"a\":[\"x\\ufffd\"]}}\n");
  BOOST_TEST(strict_json(out));
  out.clear();
  json::write_error(out, "\"\xe2\x80\xa8\xc0\"", "action: unknown action '" + bad + "'",
                    "BADREQUEST");
  BOOST_TEST(out == "{\"success\":false,\"error\":\"action: unknown action '" + want +
                        "'\",\"code\":\"BADREQUEST\",\"id\":\"\\u2028\\ufffd\"}\n");
  BOOST_TEST(strict_json(out));
  out.clear();
  json::write_status(out, "", bad, 2, {{bad, 3, 4}}, 0);
  json::write_list(out, "", {bad, "ok"}, 0);
  for (std::size_t line = 0, at = 0; at < out.size(); ++line) {
    const std::size_t nl = out.find('\n', at);
    BOOST_TEST(strict_json(out.substr(at, nl - at)), "line " << line << ": " << out);
    at = nl + 1;
  }
  BOOST_TEST(out.find('\xff') == std::string::npos);
}

// Whatever bytes come in, the reply is strict UTF-8 JSON, and valid input is left as it is.
BOOST_AUTO_TEST_CASE(random_bytes_always_give_valid_json) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 24);
  for (int i = 0; i < 20000; ++i) {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    // Bias towards the interesting range: lead and continuation bytes.
    if (i % 2 == 0) {
      for (char& c : s) c = static_cast<char>(0x80 | (byte(rng) & 0x7f));
    }
    const std::string got = encoded(s);
    BOOST_TEST_REQUIRE(strict_json(got), "input: " << hex(s));
  }
}

BOOST_AUTO_TEST_SUITE_END()
