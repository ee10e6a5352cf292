#include "protocol/json_codec.h"

#include <boost/test/unit_test.hpp>

#include <string>

using semlock::json::Action;
using semlock::json::decode_request;
using semlock::json::DecodeError;
using semlock::json::LineStatus;
using semlock::json::next_line;
using semlock::json::Request;

namespace {

Request ok(std::string_view line) {
  auto r = decode_request(line);
  if (auto* e = std::get_if<DecodeError>(&r)) {
    BOOST_FAIL("unexpected error for " << line << ": " << e->message);
  }
  return std::get<Request>(std::move(r));
}

DecodeError bad(std::string_view line) {
  auto r = decode_request(line);
  if (!std::holds_alternative<DecodeError>(r)) BOOST_FAIL("expected an error for " << line);
  return std::get<DecodeError>(std::move(r));
}

void check_bad(std::string_view line, std::string_view message) {
  BOOST_TEST_CONTEXT("line: " << line) {
    BOOST_TEST(bad(line).message == message);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_codec)

BOOST_AUTO_TEST_CASE(full_acquire) {
  const Request r =
      ok(R"({"action":"acquire","key":"k","ttl_ms":30000,"owner":"me","limit":3,"wait_ms":500,)"
         R"("session":true,"api_key":"secret","id":7,"extra":[1,2]})");
  BOOST_TEST(static_cast<int>(r.action) == static_cast<int>(Action::kAcquire));
  BOOST_TEST(r.key == "k");
  BOOST_TEST(*r.ttl_ms == 30000);
  BOOST_TEST(*r.owner == "me");
  BOOST_TEST(!r.owner_from_pid_host);
  BOOST_TEST(*r.limit == 3u);
  BOOST_TEST(r.wait_ms == 500);
  BOOST_TEST(r.session);
  BOOST_TEST(*r.api_key == "secret");
  BOOST_TEST(r.id_raw == "7");
}

BOOST_AUTO_TEST_CASE(defaults) {
  const Request r = ok(R"({"action":"ping"})");
  BOOST_TEST(static_cast<int>(r.action) == static_cast<int>(Action::kPing));
  BOOST_TEST(r.key.empty());
  BOOST_TEST(!r.ttl_ms);
  BOOST_TEST(!r.owner);
  BOOST_TEST(!r.limit);
  BOOST_TEST(r.wait_ms == 0);
  BOOST_TEST(!r.session);
  BOOST_TEST(!r.api_key);
  BOOST_TEST(r.id_raw.empty());
  BOOST_TEST(r.cursor == 0u);
  BOOST_TEST(r.match.empty());
  BOOST_TEST(!r.count);
}

BOOST_AUTO_TEST_CASE(every_action_name) {
  const std::pair<const char*, Action> names[] = {
      {R"({"action":"acquire","key":"k","ttl":1})", Action::kAcquire},
      {R"({"action":"release","key":"k"})", Action::kRelease},
      {R"({"action":"extend","key":"k","ttl":1})", Action::kExtend},
      {R"({"action":"exists","key":"k"})", Action::kExists},
      {R"({"action":"status","key":"k"})", Action::kStatus},
      {R"({"action":"stats"})", Action::kStats},
      {R"({"action":"list","cursor":5,"match":"a*","count":10})", Action::kList},
      {R"({"action":"force_release","key":"k"})", Action::kForceRelease},
      {R"({"action":"ping"})", Action::kPing},
      {R"({"action":"auth","api_key":"x"})", Action::kAuth},
  };
  for (const auto& [line, action] : names) {
    BOOST_TEST(static_cast<int>(ok(line).action) == static_cast<int>(action));
  }
  const Request list = ok(R"({"action":"list","cursor":5,"match":"a*","count":10})");
  BOOST_TEST(list.cursor == 5u);
  BOOST_TEST(list.match == "a*");
  BOOST_TEST(*list.count == 10u);
}

BOOST_AUTO_TEST_CASE(ttl_seconds_round_up_to_ms) {
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":300})").ttl_ms == 300000);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":1.5})").ttl_ms == 1500);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":1.1})").ttl_ms == 1100);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":0.0001})").ttl_ms == 1);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":0.0015})").ttl_ms == 2);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":2.0001})").ttl_ms == 2001);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":1e300})").ttl_ms ==
             std::numeric_limits<std::int64_t>::max());
}

BOOST_AUTO_TEST_CASE(ttl_ms_wins_over_ttl) {
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl":5,"ttl_ms":250})").ttl_ms == 250);
  BOOST_TEST(*ok(R"({"action":"extend","key":"k","ttl_ms":250,"ttl":5})").ttl_ms == 250);
  BOOST_TEST(*ok(R"({"action":"acquire","key":"k","ttl_ms":3e4})").ttl_ms == 30000);
}

BOOST_AUTO_TEST_CASE(owner_from_pid_and_host) {
  const Request both = ok(R"({"action":"acquire","key":"k","ttl":1,"pid":1234,"host":"web1"})");
  BOOST_TEST(*both.owner == "1234@web1");
  BOOST_TEST(both.owner_from_pid_host);
  BOOST_TEST(*ok(R"({"action":"release","key":"k","pid":"77"})").owner == "77@");
  BOOST_TEST(*ok(R"({"action":"release","key":"k","host":"h"})").owner == "@h");
  const Request explicit_owner =
      ok(R"({"action":"acquire","key":"k","ttl":1,"owner":"o","pid":1,"host":"h"})");
  BOOST_TEST(*explicit_owner.owner == "o");
  BOOST_TEST(!explicit_owner.owner_from_pid_host);
}

BOOST_AUTO_TEST_CASE(id_is_echoed_as_json_text) {
  BOOST_TEST(ok(R"({"action":"ping","id":42})").id_raw == "42");
  BOOST_TEST(ok(R"({"action":"ping","id":"req-1"})").id_raw == R"("req-1")");
  BOOST_TEST(ok(R"({"action":"ping","id":{"a" : [1, "x\n"], "b":null}})").id_raw ==
             R"({"a":[1,"x\n"],"b":null})");
  BOOST_TEST(ok(R"({"action":"ping","id":null})").id_raw == "null");
  BOOST_TEST(ok(R"({"action":"ping","id":-1.5})").id_raw == "-1.5");
  // The id is echoed on errors too, once the JSON could be read.
  BOOST_TEST(bad(R"({"action":"nope","id":"x"})").id_raw == R"("x")");
  BOOST_TEST(bad(R"({"action":"acquire","id":3})").id_raw == "3");
  BOOST_TEST(bad(R"({"action":"ping","id":3)").id_raw.empty());
}

BOOST_AUTO_TEST_CASE(trailing_cr_and_blanks_are_ignored) {
  BOOST_TEST(static_cast<int>(ok("{\"action\":\"ping\"}\r").action) ==
             static_cast<int>(Action::kPing));
  BOOST_TEST(static_cast<int>(ok("  {\"action\":\"ping\"}  \t").action) ==
             static_cast<int>(Action::kPing));
}

BOOST_AUTO_TEST_CASE(invalid_json) {
  for (const char* line :
       {"", "{", "not json", "{\"action\":\"ping\"} x", "{\"action\":'ping'}",
        "{\"action\":\"ping\",}", "{\"action\":\"ping\"}{}", "{\"action\":\"ping\",\"ttl\":NaN}"}) {
    check_bad(line, "invalid JSON");
  }
  check_bad("[1]", "request: must be a JSON object");
  check_bad("\"ping\"", "request: must be a JSON object");
}

BOOST_AUTO_TEST_CASE(deep_nesting_does_not_crash) {
  const std::string deep =
      "{\"action\":\"ping\",\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  BOOST_TEST(static_cast<int>(ok(deep).action) == static_cast<int>(Action::kPing));
  const std::string deep_id =
      "{\"action\":\"ping\",\"id\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
  check_bad(deep_id, "id: nested too deeply");
}

BOOST_AUTO_TEST_CASE(action_errors) {
  check_bad(R"({"key":"k"})", "action: required");
  check_bad(R"({"action":1})", "action: must be a string");
  check_bad(R"({"action":"x"})", "action: unknown action 'x'");
  check_bad(R"({"action":"ACQUIRE"})", "action: unknown action 'ACQUIRE'");
  check_bad(R"({"action":"a\r\nb"})", "action: unknown action 'ab'");
}

BOOST_AUTO_TEST_CASE(required_fields_per_action) {
  check_bad(R"({"action":"acquire","ttl":1})", "key: required");
  check_bad(R"({"action":"acquire","key":"","ttl":1})", "key: must not be empty");
  check_bad(R"({"action":"acquire","key":"k"})", "ttl: required");
  check_bad(R"({"action":"extend","key":"k"})", "ttl: required");
  for (const char* a : {"release", "extend", "exists", "status", "force_release"}) {
    check_bad(std::string(R"({"action":")") + a + R"(","ttl":1})", "key: required");
  }
  check_bad(R"({"action":"auth"})", "api_key: required");
}

BOOST_AUTO_TEST_CASE(every_type_error_names_its_field) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("key":1)", "key: must be a string"},
      {R"("ttl":"5")", "ttl: must be a positive number"},
      {R"("ttl":0)", "ttl: must be a positive number"},
      {R"("ttl":-1.5)", "ttl: must be a positive number"},
      {R"("ttl_ms":1.5)", "ttl_ms: must be a positive integer"},
      {R"("ttl_ms":0)", "ttl_ms: must be a positive integer"},
      {R"("ttl_ms":"100")", "ttl_ms: must be a positive integer"},
      {R"("owner":5)", "owner: must be a string"},
      {R"("pid":true)", "pid: must be an integer or a string"},
      {R"("pid":1.5)", "pid: must be an integer or a string"},
      {R"("host":[])", "host: must be a string"},
      {R"("limit":0)", "limit: must be a positive integer"},
      {R"("limit":"2")", "limit: must be a positive integer"},
      {R"("limit":2.5)", "limit: must be a positive integer"},
      {R"("wait_ms":-1)", "wait_ms: must be a non-negative integer"},
      {R"("wait_ms":null)", "wait_ms: must be a non-negative integer"},
      {R"("session":1)", "session: must be a boolean"},
      {R"("session":"true")", "session: must be a boolean"},
      {R"("api_key":1)", "api_key: must be a string"},
      {R"("cursor":-1)", "cursor: must be a non-negative integer"},
      {R"("cursor":"0")", "cursor: must be a non-negative integer"},
      {R"("match":1)", "match: must be a string"},
      {R"("count":0)", "count: must be a positive integer"},
      {R"("count":{})", "count: must be a positive integer"},
  };
  for (const auto& [field, message] : cases) {
    check_bad(std::string(R"({"action":"ping",)") + field + "}", message);
  }
}

BOOST_AUTO_TEST_CASE(large_values_saturate_for_the_server_to_reject) {
  const Request r =
      ok(R"({"action":"acquire","key":"k","ttl_ms":99999999999999999999,"limit":99999999999,)"
         R"("wait_ms":9223372036854775807,"cursor":18446744073709551615})");
  BOOST_TEST(*r.ttl_ms == std::numeric_limits<std::int64_t>::max());
  BOOST_TEST(*r.limit == std::numeric_limits<std::uint32_t>::max());
  BOOST_TEST(r.wait_ms == std::numeric_limits<std::int64_t>::max());
  BOOST_TEST(r.cursor == std::numeric_limits<std::uint64_t>::max());
}

BOOST_AUTO_TEST_CASE(binary_strings_survive) {
  const Request r = ok(R"({"action":"exists","key":"a\u0000b\n"})");
  BOOST_TEST(r.key == std::string("a\0b\n", 4));
}

// --- line framing ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(next_line_framing) {
  auto r = next_line("{\"a\":1}\r\n{\"b\":2}\n", 100);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kLine));
  BOOST_TEST(r.line == "{\"a\":1}");
  BOOST_TEST(r.consumed == 9u);
  r = next_line("\n", 100);
  BOOST_TEST(r.line.empty());
  BOOST_TEST(r.consumed == 1u);
  r = next_line("{\"a\":1}", 100);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kNeedMore));
  BOOST_TEST(r.consumed == 0u);
}

// Regression: a JSON line trickled in was re-scanned from its start on every read. With `from`
// (the bytes already known to hold no LF), each byte is looked at once; results are unchanged.
BOOST_AUTO_TEST_CASE(next_line_resumes_where_the_last_scan_stopped) {
  const std::string stream = "{\"a\":1}\r\n" + std::string(1000, ' ') + "{\"b\":2}\n";
  std::string buffer;
  std::size_t from = 0;
  std::vector<std::string> lines;
  for (const char ch : stream) {
    buffer.push_back(ch);
    auto r = next_line(buffer, 2000, from);
    if (r.status == semlock::json::LineStatus::kNeedMore) {
      from = buffer.size();
      continue;
    }
    BOOST_REQUIRE((r.status == semlock::json::LineStatus::kLine));
    lines.emplace_back(r.line);
    buffer.erase(0, r.consumed);
    from = 0;
  }
  BOOST_TEST(buffer.empty());
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  BOOST_TEST(lines[0] == "{\"a\":1}");
  BOOST_TEST(lines[1] == std::string(1000, ' ') + "{\"b\":2}");
  // Past the limit with a resume point: still kTooLong.
  const std::string over(11, 'x');
  BOOST_TEST((next_line(over, 10, 10).status == semlock::json::LineStatus::kTooLong));
  BOOST_TEST((next_line(over, 10, 50).status == semlock::json::LineStatus::kTooLong));
}

BOOST_AUTO_TEST_CASE(next_line_limit_boundary) {
  const std::string line(10, 'x');
  const std::string framed = line + "\n";
  auto r = next_line(framed, 10);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kLine));
  BOOST_TEST(r.line == line);
  r = next_line(line, 10);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kNeedMore));
  const std::string over = line + "x";
  r = next_line(over, 10);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kTooLong));
  const std::string over_framed = line + "x\n";
  r = next_line(over_framed, 10);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(LineStatus::kTooLong));
}

// The cluster forwards a request under this name: it must decode back to the same action.
BOOST_AUTO_TEST_CASE(action_name_decodes_to_its_action) {
  BOOST_TEST(semlock::json::action_name(Action::kAcquireAll) == "acquire_all");
  BOOST_TEST(semlock::json::action_name(Action::kForceRelease) == "force_release");
  for (int i = 0; i <= static_cast<int>(Action::kReleaseGrant); ++i) {
    const auto action = static_cast<Action>(i);
    const std::string line = std::string(R"({"action":")") +
                             std::string(semlock::json::action_name(action)) +
                             R"(","key":"k","keys":["k"],"ttl":1,"owner":"o","api_key":"x","fence":7})";
    BOOST_TEST_CONTEXT("line: " << line) {
      BOOST_TEST(static_cast<int>(ok(line).action) == i);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
