// JSON lines on the lock port against the real binary (SPEC §4): every action, the exact reply
// shapes, {"success":false} without error, BADREQUEST naming the field, id echo, pid@host owners,
// one request per connection as TtlSemLock's PHP client sends them.
#define BOOST_TEST_MODULE it_json
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
}

rapidjson::Document once(std::string_view line) {
  return parse_json(json_once(port(), line));
}

// {"success":false} exactly: clients treat any "error" member as an exception.
void check_plain_failure(const std::string& reply) {
  BOOST_CHECK_MESSAGE(reply == R"({"success":false})", "reply: " << reply);
}

void check_error(const std::string& reply, const std::string& code, const std::string& text_part) {
  auto d = parse_json(reply);
  BOOST_CHECK_MESSAGE(!json_bool(d, "success"), reply);
  BOOST_CHECK_MESSAGE(json_has(d, "code") && json_string(d, "code") == code,
                      "want code " << code << ": " << reply);
  BOOST_CHECK_MESSAGE(
      json_has(d, "error") && json_string(d, "error").find(text_part) != std::string::npos,
      "want error naming '" << text_part << "': " << reply);
}

}  // namespace

BOOST_AUTO_TEST_CASE(acquire_reply_shape_and_ttl_units) {
  auto d = once(R"({"action":"acquire","key":"json:a","ttl":300,"owner":"me"})");
  BOOST_REQUIRE(json_bool(d, "success"));
  const auto& data = d["data"];
  BOOST_CHECK_EQUAL(json_string(data, "key"), "json:a");
  BOOST_CHECK_EQUAL(json_string(data, "owner"), "me");
  BOOST_CHECK_GT(json_uint(data, "fence"), 0u);
  BOOST_CHECK_EQUAL(json_int(data, "ttl_ms"), 300000);
  BOOST_CHECK(!json_has(d, "error"));

  auto frac = once(R"({"action":"acquire","key":"json:frac","ttl":1.5})");
  BOOST_REQUIRE(json_bool(frac, "success"));
  BOOST_CHECK_EQUAL(json_int(frac["data"], "ttl_ms"), 1500);
  BOOST_CHECK_EQUAL(json_string(frac["data"], "owner").size(), 32u);  // generated

  // ttl_ms wins over ttl.
  auto ms = once(R"({"action":"acquire","key":"json:ms","ttl":300,"ttl_ms":2500})");
  BOOST_REQUIRE(json_bool(ms, "success"));
  BOOST_CHECK_EQUAL(json_int(ms["data"], "ttl_ms"), 2500);
  for (const char* key : {"json:a", "json:frac", "json:ms"}) {
    once(std::string(R"({"action":"force_release","key":")") + key + "\"}");
  }
}

BOOST_AUTO_TEST_CASE(held_lock_is_success_false_without_error) {
  auto a = once(R"({"action":"acquire","key":"json:held","ttl":30,"owner":"x"})");
  BOOST_REQUIRE(json_bool(a, "success"));
  check_plain_failure(
      json_once(port(), R"({"action":"acquire","key":"json:held","ttl":30,"owner":"y"})"));
  // Explicit owner again: refreshed, same fence.
  auto again = once(R"({"action":"acquire","key":"json:held","ttl":30,"owner":"x"})");
  BOOST_REQUIRE(json_bool(again, "success"));
  BOOST_CHECK_EQUAL(json_uint(again["data"], "fence"), json_uint(a["data"], "fence"));
  once(R"({"action":"force_release","key":"json:held"})");
}

BOOST_AUTO_TEST_CASE(pid_host_owner_has_no_idempotent_reacquire) {
  auto a = once(R"({"action":"acquire","key":"json:pid","ttl":30,"pid":"1234","host":"web1"})");
  BOOST_REQUIRE(json_bool(a, "success"));
  BOOST_CHECK_EQUAL(json_string(a["data"], "owner"), "1234@web1");
  check_plain_failure(json_once(
      port(), R"({"action":"acquire","key":"json:pid","ttl":30,"pid":"1234","host":"web1"})"));
  // The owner can release by the same pid/host.
  auto r = once(R"({"action":"release","key":"json:pid","pid":"1234","host":"web1"})");
  BOOST_CHECK(json_bool(r, "success"));
  // PHP's getmypid() is an integer.
  auto n = once(R"({"action":"acquire","key":"json:pid","ttl":30,"pid":77,"host":"web2"})");
  BOOST_REQUIRE(json_bool(n, "success"));
  BOOST_CHECK_EQUAL(json_string(n["data"], "owner"), "77@web2");
  once(R"({"action":"force_release","key":"json:pid"})");
}

BOOST_AUTO_TEST_CASE(release_by_owner_by_other_and_without_owner) {
  once(R"({"action":"acquire","key":"json:rel","ttl":30,"owner":"o1"})");
  check_plain_failure(json_once(port(), R"({"action":"release","key":"json:rel","owner":"o2"})"));
  auto r = once(R"({"action":"release","key":"json:rel","owner":"o1"})");
  BOOST_CHECK(json_bool(r, "success"));
  BOOST_CHECK_EQUAL(json_uint(r["data"], "released"), 1u);

  // No owner: releases whoever holds it (TtlSemLock's PHP client sends none).
  once(R"({"action":"acquire","key":"json:rel","ttl":30,"owner":"o3","limit":2})");
  once(R"({"action":"acquire","key":"json:rel","ttl":30,"owner":"o4","limit":2})");
  auto all = once(R"({"action":"release","key":"json:rel"})");
  BOOST_CHECK(json_bool(all, "success"));
  BOOST_CHECK_EQUAL(json_uint(all["data"], "released"), 2u);
  check_plain_failure(json_once(port(), R"({"action":"exists","key":"json:rel"})"));
  check_plain_failure(json_once(port(), R"({"action":"release","key":"json:rel","owner":"o1"})"));
}

BOOST_AUTO_TEST_CASE(extend_exists_status) {
  auto a = once(R"({"action":"acquire","key":"json:ext","ttl":10,"owner":"me"})");
  auto e = once(R"({"action":"extend","key":"json:ext","ttl":60,"owner":"me"})");
  BOOST_REQUIRE(json_bool(e, "success"));
  BOOST_CHECK_EQUAL(json_int(e["data"], "ttl_ms"), 60000);
  check_plain_failure(
      json_once(port(), R"({"action":"extend","key":"json:ext","ttl":60,"owner":"you"})"));

  auto x = once(R"({"action":"exists","key":"json:ext"})");
  BOOST_CHECK(json_bool(x, "success"));
  BOOST_CHECK(json_bool(x["data"], "exists"));
  check_plain_failure(json_once(port(), R"({"action":"exists","key":"json:absent"})"));

  auto s = once(R"({"action":"status","key":"json:ext"})");
  BOOST_REQUIRE(json_bool(s, "success"));
  const auto& data = s["data"];
  BOOST_CHECK_EQUAL(json_string(data, "key"), "json:ext");
  BOOST_CHECK_EQUAL(json_int(data, "limit"), 1);
  BOOST_CHECK_EQUAL(json_int(data, "waiters"), 0);
  BOOST_REQUIRE(data["holders"].IsArray() && data["holders"].Size() == 1);
  const auto& h = data["holders"][0];
  BOOST_CHECK_EQUAL(json_string(h, "owner"), "me");
  BOOST_CHECK_EQUAL(json_uint(h, "fence"), json_uint(a["data"], "fence"));
  BOOST_CHECK(json_int(h, "ttl_ms") > 10000 && json_int(h, "ttl_ms") <= 60000);
  check_plain_failure(json_once(port(), R"({"action":"status","key":"json:absent"})"));
  once(R"({"action":"release","key":"json:ext","owner":"me"})");
}

BOOST_AUTO_TEST_CASE(stats_list_force_release_ping) {
  auto st = once(R"({"action":"stats"})");
  BOOST_REQUIRE(json_bool(st, "success"));
  for (const char* name :
       {"TotalRequests", "ActiveLocks", "Holders", "Waiters", "AcquireRequests", "ReleaseRequests",
        "ExtendRequests", "RejectedRequests", "ExpiredLocks", "Connections", "MemoryUsageBytes",
        "MemoryLimitBytes", "LocksLimit", "UptimeSeconds"}) {
    BOOST_CHECK_MESSAGE(json_has(st["data"], name) && st["data"][name].IsNumber(),
                        "stats lacks a number " << name);
  }
  BOOST_CHECK_EQUAL(json_uint(st["data"], "LocksLimit"), 100000u);
  BOOST_CHECK_EQUAL(json_uint(st["data"], "MemoryLimitBytes"), 512u * 1024 * 1024);

  once(R"({"action":"acquire","key":"jlist:1","ttl":30})");
  once(R"({"action":"acquire","key":"jlist:2","ttl":30})");
  // list is a bounded SCAN: follow the cursor until 0.
  std::vector<std::string> keys;
  std::uint64_t cursor = 0;
  int pages = 0;
  do {
    auto l = once(R"({"action":"list","match":"jlist:*","count":10,"cursor":)" +
                  std::to_string(cursor) + "}");
    BOOST_REQUIRE(json_bool(l, "success"));
    BOOST_REQUIRE(l["data"]["keys"].IsArray());
    for (const auto& k : l["data"]["keys"].GetArray()) keys.emplace_back(k.GetString());
    cursor = json_uint(l["data"], "cursor");
  } while (cursor != 0 && ++pages < 100000);
  std::sort(keys.begin(), keys.end());
  BOOST_CHECK(keys == (std::vector<std::string>{"jlist:1", "jlist:2"}));

  auto f = once(R"({"action":"force_release","key":"jlist:1"})");
  BOOST_CHECK(json_bool(f, "success"));
  BOOST_CHECK_EQUAL(json_uint(f["data"], "released"), 1u);
  auto f0 = once(R"({"action":"force_release","key":"jlist:absent"})");
  BOOST_CHECK(json_bool(f0, "success"));  // "always"
  BOOST_CHECK_EQUAL(json_uint(f0["data"], "released"), 0u);
  once(R"({"action":"force_release","key":"jlist:2"})");

  auto p = once(R"({"action":"ping"})");
  BOOST_CHECK(json_bool(p, "success"));
  BOOST_CHECK(json_bool(p["data"], "pong"));
}

BOOST_AUTO_TEST_CASE(bad_requests_name_the_field) {
  check_error(json_once(port(), R"({"action":"acquire","ttl":30})"), "BADREQUEST", "key");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b"})"), "BADREQUEST", "ttl");
  BOOST_CHECK_EQUAL(
      json_once(port(), R"({"action":"acquire","key":"j:b","ttl":-1})"),
      R"({"success":false,"error":"ttl: must be a positive number","code":"BADREQUEST"})");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl":0})"), "BADREQUEST",
              "ttl: must be a positive number");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl":"30"})"), "BADREQUEST",
              "ttl");
  check_error(json_once(port(), R"({"action":"acquire","key":7,"ttl":30})"), "BADREQUEST", "key");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl":30,"limit":"x"})"),
              "BADREQUEST", "limit");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl":30,"wait_ms":"x"})"),
              "BADREQUEST", "wait_ms");
  check_error(json_once(port(), R"({"action":"fly","key":"j:b"})"), "BADREQUEST", "action");
  check_error(json_once(port(), R"({"key":"j:b"})"), "BADREQUEST", "action");
  check_error(json_once(port(), R"({"action":"extend","key":"j:b","owner":"o"})"), "BADREQUEST",
              "ttl");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl_ms":86400001})"),
              "BADREQUEST", "ttl");
  check_error(json_once(port(), R"({"action":"acquire","key":"j:b","ttl":30,"limit":10001})"),
              "BADREQUEST", "limit");
  check_error(json_once(port(), "{\"action\":\"acquire\",\"key\":\"" + std::string(513, 'k') +
                                    "\",\"ttl\":30}"),
              "BADREQUEST", "key");
  check_plain_failure(json_once(port(), R"({"action":"exists","key":"j:b"})"));  // none granted
}

BOOST_AUTO_TEST_CASE(semaphore_and_mismatch_code) {
  for (const char* o : {"s1", "s2"}) {
    auto a =
        once(std::string(R"({"action":"acquire","key":"json:sem","ttl":30,"limit":2,"owner":")") +
             o + "\"}");
    BOOST_CHECK(json_bool(a, "success"));
  }
  check_plain_failure(json_once(
      port(), R"({"action":"acquire","key":"json:sem","ttl":30,"limit":2,"owner":"s3"})"));
  check_error(
      json_once(port(), R"({"action":"acquire","key":"json:sem","ttl":30,"limit":5,"owner":"s3"})"),
      "MISMATCH", "limit");
  auto s = once(R"({"action":"status","key":"json:sem"})");
  BOOST_CHECK_EQUAL(json_int(s["data"], "limit"), 2);
  BOOST_CHECK_EQUAL(s["data"]["holders"].Size(), 2u);
  once(R"({"action":"force_release","key":"json:sem"})");
}

BOOST_AUTO_TEST_CASE(invalid_json_keeps_the_connection) {
  JsonClient c(port());
  c.raw().send("{\"action\":\"acquire\"\nnot json at all\n{\"action\":\"ping\",\"id\":3}\n");
  auto bad1 = c.read_line(), bad2 = c.read_line(), good = c.read_line();
  BOOST_REQUIRE(bad1 && bad2 && good);
  check_error(*bad1, "BADREQUEST", "");
  check_error(*bad2, "BADREQUEST", "");
  auto g = parse_json(*good);
  BOOST_CHECK(json_bool(g, "success"));
  BOOST_CHECK_EQUAL(json_int(g, "id"), 3);
}

BOOST_AUTO_TEST_CASE(id_is_echoed_in_every_reply_form) {
  JsonClient c(port());
  auto ok = parse_json(c.request(R"({"action":"ping","id":"abc"})"));
  BOOST_CHECK_EQUAL(json_string(ok, "id"), "abc");
  auto fail = parse_json(c.request(R"({"action":"exists","key":"json:noid","id":42})"));
  BOOST_CHECK(!json_bool(fail, "success"));
  BOOST_CHECK(!json_has(fail, "error"));
  BOOST_CHECK_EQUAL(json_int(fail, "id"), 42);
  auto err = parse_json(c.request(R"({"action":"fly","id":{"n":[1,2]}})"));
  BOOST_CHECK_EQUAL(json_string(err, "code"), "BADREQUEST");
  BOOST_REQUIRE(json_has(err, "id") && err["id"].IsObject());
  BOOST_CHECK_EQUAL(err["id"]["n"].Size(), 2u);
}

BOOST_AUTO_TEST_CASE(many_requests_on_one_connection_stay_in_order) {
  JsonClient c(port());
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    batch += R"({"action":"ping","id":)" + std::to_string(i) + "}\r\n";  // CR LF accepted
  }
  c.raw().send(batch);
  for (int i = 0; i < 50; ++i) {
    auto line = c.read_line();
    BOOST_REQUIRE(line);
    BOOST_CHECK_EQUAL(json_int(parse_json(*line), "id"), i);
  }
}

BOOST_AUTO_TEST_CASE(one_request_per_connection_then_client_closes) {
  // The PHP client connects, writes one line, reads one line, closes: many times in a row.
  for (int i = 0; i < 20; ++i) {
    auto a = once(R"({"action":"acquire","key":"json:php","ttl":30,"pid":"9","host":"h"})");
    BOOST_REQUIRE(json_bool(a, "success"));
    auto r = once(R"({"action":"release","key":"json:php"})");
    BOOST_REQUIRE(json_bool(r, "success"));
  }
}

BOOST_AUTO_TEST_CASE(too_large_line_is_badrequest_then_closed) {
  RawClient c(port());
  std::string line = R"({"action":"ping","pad":")" + std::string(1100 * 1024, 'x') + "\"}\n";
  try {
    c.send(line);
  } catch (const std::exception&) {
    // The server may close before it has read everything.
  }
  BOOST_CHECK(c.wait_closed());
  auto nl = c.buffer().find('\n');
  BOOST_REQUIRE_MESSAGE(nl != std::string::npos, "no reply: " << c.buffer().substr(0, 200));
  check_error(c.buffer().substr(0, nl), "BADREQUEST", "request too large");
}

BOOST_AUTO_TEST_CASE(api_key_is_ignored_when_no_keys_are_configured) {
  // No keys configured: requests need none, and the server says so rather than failing silently.
  auto p = once(R"({"action":"ping","api_key":"whatever"})");
  BOOST_CHECK(json_bool(p, "success"));
}

// Issue 11 #3 (SPEC §1): the binding stays with the connection that created the holder. A JSON
// acquire with "session" that only refreshed a holder (explicit owner already holding) does not
// bind it: closing that connection leaves the holder alone.
BOOST_AUTO_TEST_CASE(session_refresh_does_not_bind_the_holder_to_the_refreshing_connection) {
  JsonClient a(port());
  auto first =
      parse_json(a.request(R"({"action":"acquire","key":"j:refresh","ttl":600,"owner":"w1"})"));
  BOOST_REQUIRE(json_bool(first, "success"));
  const std::uint64_t fence = json_uint(first["data"], "fence");
  {
    JsonClient b(port());
    auto again = parse_json(b.request(
        R"({"action":"acquire","key":"j:refresh","ttl":600,"owner":"w1","session":true})"));
    BOOST_REQUIRE(json_bool(again, "success"));
    BOOST_CHECK_EQUAL(json_uint(again["data"], "fence"), fence);
  }
  sleep_for(Ms{200});  // b's close is handled: the holder must still be there
  auto st = parse_json(a.request(R"({"action":"status","key":"j:refresh"})"));
  BOOST_REQUIRE_MESSAGE(json_bool(st, "success"), "the refreshed holder was released");
  BOOST_CHECK_EQUAL(json_uint(st["data"]["holders"][0], "fence"), fence);
  BOOST_CHECK_EQUAL(json_string(st["data"]["holders"][0], "owner"), "w1");
  check_plain_failure(
      a.request(R"({"action":"acquire","key":"j:refresh","ttl":600,"owner":"w2"})"));
  auto rel = parse_json(a.request(R"({"action":"release","key":"j:refresh","owner":"w1"})"));
  BOOST_CHECK(json_bool(rel, "success"));

  // A creating session acquire is still bound to its connection.
  {
    JsonClient c(port());
    auto got = parse_json(c.request(
        R"({"action":"acquire","key":"j:refresh","ttl":600,"owner":"s","session":true})"));
    BOOST_REQUIRE(json_bool(got, "success"));
  }
  BOOST_CHECK(eventually([&] {
    return !json_bool(parse_json(a.request(R"({"action":"exists","key":"j:refresh"})")), "success");
  }));
}

namespace {

// Strict JSON: RapidJSON with UTF-8 validation, as strict clients (PHP's json_decode, Python's
// json.loads on bytes) parse a reply.
bool strict_json(const std::string& text, rapidjson::Document& d) {
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  return !d.HasParseError();
}

}  // namespace

// Keys, owners and ids with invalid UTF-8 are echoed with U+FFFD in their place (as Go's encoder
// did in the original server); the key itself stays the bytes the client sent.
BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced_in_replies_and_the_key_keeps_its_bytes) {
  JsonClient c(port());
  const std::string reply = c.request(
      "{\"action\":\"acquire\",\"key\":\"json:bad\xff\",\"ttl\":30,\"owner\":\"o\xc0\xaf\","
      "\"id\":[\"i\xed\xa0\x80\"]}");
  BOOST_CHECK_MESSAGE(reply.find('\xff') == std::string::npos, reply);
  rapidjson::Document d;
  BOOST_REQUIRE_MESSAGE(strict_json(reply, d), "not strict UTF-8 JSON: " << reply);
  BOOST_REQUIRE(json_bool(d, "success"));
  BOOST_CHECK_EQUAL(json_string(d["data"], "key"), "json:bad\xef\xbf\xbd");
  BOOST_CHECK_EQUAL(json_string(d["data"], "owner"), "o\xef\xbf\xbd\xef\xbf\xbd");
  BOOST_REQUIRE(d["id"].IsArray() && d["id"].Size() == 1u);
  BOOST_CHECK_EQUAL(std::string(d["id"][0].GetString()), "i\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  BOOST_CHECK(reply.find(R"("key":"json:bad\ufffd")") != std::string::npos);

  // The lock is under the bytes that were sent, not under the replacement.
  BOOST_CHECK_EQUAL(c.request("{\"action\":\"exists\",\"key\":\"json:bad\\ufffd\"}"),
                    R"({"success":false})");
  const std::string status = c.request("{\"action\":\"status\",\"key\":\"json:bad\xff\"}");
  BOOST_REQUIRE_MESSAGE(strict_json(status, d), "not strict UTF-8 JSON: " << status);
  BOOST_CHECK_EQUAL(json_string(d["data"], "key"), "json:bad\xef\xbf\xbd");
  BOOST_CHECK_EQUAL(
      c.request("{\"action\":\"release\",\"key\":\"json:bad\xff\",\"owner\":\"o\xc0\xaf\"}"),
      R"({"success":true,"data":{"released":1}})");

  // An error that names the bad value is valid UTF-8 too.
  const std::string err = c.request("{\"action\":\"fly\xfe\"}");
  BOOST_REQUIRE_MESSAGE(strict_json(err, d), "not strict UTF-8 JSON: " << err);
  BOOST_CHECK_EQUAL(json_string(d, "code"), "BADREQUEST");
}
