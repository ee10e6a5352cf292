// Authentication and admin permissions against the real binary (SPEC §8): Redis's exact NOAUTH /
// WRONGPASS texts, AUTH and HELLO AUTH, JSON per-request and per-connection keys, HTTP bodies and
// Bearer headers, NOPERM for admin commands, keys from the environment, keys never logged.
#define BOOST_TEST_MODULE it_auth
#include <boost/test/unit_test.hpp>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

const std::string kNoAuth = "NOAUTH Authentication required.";
const std::string kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

// api key "user-key"; "admin-key" is both an api key and the admin key.
Server& server() {
  return shared_server(
      ServerOptions().with_config(R"("security":{"api_keys":["user-key","admin-key"],)"
                                  R"("admin_api_keys":["admin-key"]})"));
}
std::uint16_t port() {
  return server().port();
}

void check_json_error(const std::string& reply, const std::string& code) {
  auto d = parse_json(reply);
  BOOST_CHECK_MESSAGE(
      !json_bool(d, "success") && json_has(d, "code") && json_string(d, "code") == code,
      "want " << code << ": " << reply);
}

}  // namespace

BOOST_AUTO_TEST_CASE(resp_needs_auth_before_commands) {
  RespConn c(port());
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "a:k", "1000"}).str, kNoAuth);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.INFO", "a:k"}).str, kNoAuth);
  BOOST_CHECK_EQUAL(c.cmd({"PING"}).str, "PONG");  // allowed before AUTH
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "nope"}).str, kWrongPass);
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "bob", "user-key"}).str, kWrongPass);  // user must be default
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "a:k"}).str, kNoAuth);
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "default", "user-key"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "a:k"}).integer, 0);

  RespConn d(port());
  BOOST_CHECK_EQUAL(d.cmd({"AUTH", "user-key"}).str, "OK");
  BOOST_CHECK(d.cmd({"SEMLOCK.ACQUIRE", "a:k", "1000"}).type == RespValue::Type::kArray);
  d.cmd({"SEMLOCK.RELEASE", "a:k", "x"});
}

BOOST_AUTO_TEST_CASE(hello_3_with_auth) {
  RespConn bad(port());
  BOOST_CHECK_EQUAL(bad.cmd({"HELLO", "3", "AUTH", "default", "wrong"}).str, kWrongPass);
  BOOST_CHECK_EQUAL(bad.cmd({"SEMLOCK.EXISTS", "a:h"}).str, kNoAuth);

  RespConn c(port());
  auto hello = c.cmd({"HELLO", "3", "AUTH", "default", "user-key", "SETNAME", "tester"});
  BOOST_REQUIRE_MESSAGE(hello.type == RespValue::Type::kMap, hello.debug());
  BOOST_CHECK_EQUAL(hello.field("proto")->integer, 3);
  c.send({"SEMLOCK.INFO", "a:absent"});
  BOOST_CHECK(c.raw().read_until([](std::string_view b) { return b == "_\r\n"; }));
  c.raw().buffer().clear();
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "GETNAME"}).str, "tester");
}

BOOST_AUTO_TEST_CASE(pipelined_commands_before_auth_are_rejected) {
  RespConn c(port());
  c.raw().send(resp_command({"SEMLOCK.ACQUIRE", "a:pipe", "30000", "OWNER", "x"}) +
               resp_command({"AUTH", "user-key"}) + resp_command({"SEMLOCK.EXISTS", "a:pipe"}));
  auto r1 = c.read(), r2 = c.read(), r3 = c.read();
  BOOST_REQUIRE(r1 && r2 && r3);
  BOOST_CHECK_EQUAL(r1->str, kNoAuth);
  BOOST_CHECK_EQUAL(r2->str, "OK");
  BOOST_CHECK_EQUAL(r3->integer, 0);  // the first acquire never ran
}

BOOST_AUTO_TEST_CASE(json_keys_per_request_and_per_connection) {
  auto none = json_once(port(), R"({"action":"exists","key":"a:j"})");
  check_json_error(none, "NOAUTH");
  BOOST_CHECK_EQUAL(json_string(parse_json(none), "error"), "authentication failed");
  auto wrong = json_once(port(), R"({"action":"exists","key":"a:j","api_key":"bad"})");
  check_json_error(wrong, "WRONGPASS");
  BOOST_CHECK_EQUAL(json_string(parse_json(wrong), "error"), "authentication failed");
  BOOST_CHECK(json_bool(parse_json(json_once(port(), R"({"action":"stats","api_key":"user-key"})")),
                        "success"));
  // ping needs no key, as RESP's PING before AUTH.
  BOOST_CHECK(json_bool(parse_json(json_once(port(), R"({"action":"ping"})")), "success"));

  JsonClient c(port());
  check_json_error(c.request(R"({"action":"auth","api_key":"bad"})"), "WRONGPASS");
  check_json_error(c.request(R"({"action":"exists","key":"a:j"})"), "NOAUTH");
  BOOST_CHECK(
      json_bool(parse_json(c.request(R"({"action":"auth","api_key":"user-key"})")), "success"));
  auto a = parse_json(c.request(R"({"action":"acquire","key":"a:j","ttl":30,"owner":"o"})"));
  BOOST_CHECK(json_bool(a, "success"));
  BOOST_CHECK(json_bool(parse_json(c.request(R"({"action":"release","key":"a:j","owner":"o"})")),
                        "success"));
}

BOOST_AUTO_TEST_CASE(http_body_key_and_bearer_header) {
  auto none = http_once(port(), "POST", "/", R"({"action":"exists","key":"a:h"})");
  BOOST_CHECK_EQUAL(none.status, 401);
  check_json_error(none.body, "NOAUTH");
  auto wrong =
      http_once(port(), "POST", "/", R"({"action":"stats"})", {"Authorization: Bearer bad"});
  BOOST_CHECK_EQUAL(wrong.status, 401);
  check_json_error(wrong.body, "WRONGPASS");
  auto body_key = http_once(port(), "POST", "/", R"({"action":"stats","api_key":"user-key"})");
  BOOST_CHECK_EQUAL(body_key.status, 200);
  auto bearer =
      http_once(port(), "POST", "/", R"({"action":"stats"})", {"Authorization: Bearer user-key"});
  BOOST_CHECK_EQUAL(bearer.status, 200);
  BOOST_CHECK(json_bool(parse_json(bearer.body), "success"));
}

BOOST_AUTO_TEST_CASE(admin_commands_need_the_admin_key) {
  RespConn user(port());
  user.cmd({"AUTH", "user-key"});
  user.cmd({"SEMLOCK.ACQUIRE", "a:adm", "30000", "OWNER", "o"});
  auto fr = user.cmd({"SEMLOCK.FORCERELEASE", "a:adm"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  auto scan = user.cmd({"SEMLOCK.SCAN", "0"});
  BOOST_CHECK_MESSAGE(scan.is_error() && scan.str.starts_with("NOPERM"), scan.debug());
  BOOST_CHECK_EQUAL(user.cmd({"SEMLOCK.EXISTS", "a:adm"}).integer, 1);

  check_json_error(
      json_once(port(), R"({"action":"force_release","key":"a:adm","api_key":"user-key"})"),
      "NOPERM");
  check_json_error(json_once(port(), R"({"action":"list","api_key":"user-key"})"), "NOPERM");
  auto http = http_once(port(), "POST", "/", R"({"action":"force_release","key":"a:adm"})",
                        {"Authorization: Bearer user-key"});
  BOOST_CHECK_EQUAL(http.status, 403);

  RespConn admin(port());
  admin.cmd({"AUTH", "admin-key"});
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.FORCERELEASE", "a:adm"}).integer, 1);
  auto j = parse_json(
      json_once(port(), R"({"action":"force_release","key":"a:adm","api_key":"admin-key"})"));
  BOOST_CHECK(json_bool(j, "success"));
}

BOOST_AUTO_TEST_CASE(auth_failures_are_counted_and_keys_never_logged) {
  json_once(port(), R"({"action":"ping","api_key":"definitely-wrong"})");
  BOOST_CHECK(eventually([&] {
    return metric_value(scrape_metrics(server().metrics_port()), "ttl_semlock_auth_failures_total")
               .value_or(0) > 0;
  }));
  auto log = server().log();
  BOOST_CHECK(log.find("user-key") == std::string::npos);
  BOOST_CHECK(log.find("admin-key") == std::string::npos);
  BOOST_CHECK(log.find("definitely-wrong") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_from_the_environment) {
  Server s(ServerOptions().with_env({"TTLSEMLOCK_API_KEYS=env-a,env-b"}));
  RespConn c(s.port());
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "k"}).str, kNoAuth);
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "env-b"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "k"}).integer, 0);
}

BOOST_AUTO_TEST_CASE(require_owner_makes_owner_mandatory_on_release) {
  Server s(ServerOptions().with_config(R"("security":{"require_owner":true})"));
  auto a =
      parse_json(json_once(s.port(), R"({"action":"acquire","key":"ro","ttl":30,"owner":"o"})"));
  BOOST_REQUIRE(json_bool(a, "success"));
  auto r = json_once(s.port(), R"({"action":"release","key":"ro"})");
  check_json_error(r, "BADREQUEST");
  BOOST_CHECK_MESSAGE(json_string(parse_json(r), "error").find("owner") != std::string::npos, r);
  BOOST_CHECK(
      json_bool(parse_json(json_once(s.port(), R"({"action":"release","key":"ro","owner":"o"})")),
                "success"));
}

// Redis's tighter limits before AUTH are decided per command: what is pipelined after a successful
// AUTH in the same write gets the full limits.
BOOST_AUTO_TEST_CASE(commands_pipelined_after_auth_get_the_full_limits) {
  RawClient c(port());
  std::vector<std::string> del{"DEL"};
  for (int i = 0; i < 12; ++i) del.push_back("a:many" + std::to_string(i));
  c.send(resp_command({"AUTH", "user-key"}) + resp_command(del) +
         resp_command({"ECHO", std::string(20000, 'e')}));
  const std::string want = "+OK\r\n:0\r\n$20000\r\n" + std::string(20000, 'e') + "\r\n";
  BOOST_CHECK(c.read_until([&](std::string_view b) { return b.size() >= want.size(); }));
  BOOST_CHECK(c.buffer() == want);
}

BOOST_AUTO_TEST_CASE(unauthenticated_limits_use_redis_texts_then_close) {
  RawClient many(port());
  std::vector<std::string> del{"DEL"};
  for (int i = 0; i < 11; ++i) del.push_back("k" + std::to_string(i));
  many.send(resp_command(del));
  BOOST_CHECK(many.wait_closed());
  BOOST_CHECK_EQUAL(many.buffer(), "-ERR Protocol error: unauthenticated multibulk length\r\n");

  RawClient big(port());
  big.send(resp_command({"ECHO", std::string(20000, 'e')}));
  BOOST_CHECK(big.wait_closed());
  BOOST_CHECK_EQUAL(big.buffer(), "-ERR Protocol error: unauthenticated bulk length\r\n");

  RawClient bad(port());  // a count that is invalid anyway keeps Redis's usual text
  bad.send("*abc\r\n");
  BOOST_CHECK(bad.wait_closed());
  BOOST_CHECK_EQUAL(bad.buffer(), "-ERR Protocol error: invalid multibulk length\r\n");
}

// Redis 7 (checked with redis-server 7.0 and ACL WHOAMI): the latest successful AUTH decides the
// connection's rights; a failed AUTH leaves them as they were.
BOOST_AUTO_TEST_CASE(resp_latest_successful_auth_decides_admin_rights) {
  RespConn c(port());
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "admin-key"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "a:re"}).integer, 0);
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "user-key"}).str, "OK");
  auto fr = c.cmd({"SEMLOCK.FORCERELEASE", "a:re"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  auto scan = c.cmd({"SEMLOCK.SCAN", "0"});
  BOOST_CHECK_MESSAGE(scan.is_error() && scan.str.starts_with("NOPERM"), scan.debug());
  // A failed AUTH keeps the user rights: still authenticated, still no admin.
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "wrong"}).str, kWrongPass);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "a:re"}).integer, 0);
  fr = c.cmd({"SEMLOCK.FORCERELEASE", "a:re"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  // Back to admin, then a failed AUTH keeps admin (Redis keeps the authenticated user).
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "default", "admin-key"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "default", "wrong"}).str, kWrongPass);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "a:re"}).integer, 0);
}

BOOST_AUTO_TEST_CASE(hello_auth_with_a_user_key_drops_admin_rights) {
  RespConn c(port());
  BOOST_REQUIRE(c.cmd({"HELLO", "2", "AUTH", "default", "admin-key"}).type ==
                RespValue::Type::kArray);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "a:hre"}).integer, 0);
  BOOST_REQUIRE(c.cmd({"HELLO", "2", "AUTH", "default", "user-key"}).type ==
                RespValue::Type::kArray);
  auto fr = c.cmd({"SEMLOCK.FORCERELEASE", "a:hre"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  BOOST_CHECK_EQUAL(c.cmd({"HELLO", "2", "AUTH", "default", "wrong"}).str, kWrongPass);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "a:hre"}).integer, 0);  // still authenticated
  fr = c.cmd({"SEMLOCK.FORCERELEASE", "a:hre"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
}

BOOST_AUTO_TEST_CASE(json_latest_successful_auth_decides_admin_rights) {
  JsonClient c(port());
  const std::string fr = R"({"action":"force_release","key":"a:jre"})";
  BOOST_CHECK(
      json_bool(parse_json(c.request(R"({"action":"auth","api_key":"admin-key"})")), "success"));
  BOOST_CHECK(json_bool(parse_json(c.request(fr)), "success"));
  BOOST_CHECK(
      json_bool(parse_json(c.request(R"({"action":"auth","api_key":"user-key"})")), "success"));
  check_json_error(c.request(fr), "NOPERM");
  check_json_error(c.request(R"({"action":"list"})"), "NOPERM");
  // A failed auth keeps the connection's user rights.
  check_json_error(c.request(R"({"action":"auth","api_key":"wrong"})"), "WRONGPASS");
  check_json_error(c.request(fr), "NOPERM");
  BOOST_CHECK_EQUAL(c.request(R"({"action":"exists","key":"a:jre"})"), R"({"success":false})");
  // Back to admin; a failed auth keeps admin.
  BOOST_CHECK(
      json_bool(parse_json(c.request(R"({"action":"auth","api_key":"admin-key"})")), "success"));
  check_json_error(c.request(R"({"action":"auth","api_key":"wrong"})"), "WRONGPASS");
  BOOST_CHECK(json_bool(parse_json(c.request(fr)), "success"));
}

// Over HTTP a key is per request: an earlier admin request on the same keep-alive connection
// gives the next one nothing.
BOOST_AUTO_TEST_CASE(http_keys_are_per_request_on_a_keep_alive_connection) {
  RawClient c(port());
  c.send(http_request_bytes("POST", "/", R"({"action":"auth","api_key":"admin-key"})"));
  auto auth = read_http_response(c);
  BOOST_REQUIRE(auth);
  BOOST_CHECK_EQUAL(auth->status, 200);
  c.send(http_request_bytes("POST", "/", R"({"action":"force_release","key":"a:hk"})",
                            {"Authorization: Bearer admin-key"}));
  auto admin = read_http_response(c);
  BOOST_REQUIRE(admin);
  BOOST_CHECK_EQUAL(admin->status, 200);
  c.send(http_request_bytes("POST", "/", R"({"action":"force_release","key":"a:hk"})",
                            {"Authorization: Bearer user-key"}));
  auto user = read_http_response(c);
  BOOST_REQUIRE(user);
  BOOST_CHECK_EQUAL(user->status, 403);
  c.send(http_request_bytes("POST", "/", R"({"action":"force_release","key":"a:hk"})"));
  auto none = read_http_response(c);
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(none->status, 401);
}

// RFC 9110 §11.1: the auth scheme name is case-insensitive (curl, Go and many proxies send
// "Bearer", some clients "bearer"); header names too.
BOOST_AUTO_TEST_CASE(http_bearer_scheme_is_case_insensitive) {
  for (const char* header : {"authorization: bearer user-key", "Authorization: BEARER user-key",
                             "AUTHORIZATION: Bearer   user-key"}) {
    auto r = http_once(port(), "POST", "/", R"({"action":"stats"})", {header});
    BOOST_CHECK_MESSAGE(r.status == 200, header << " -> " << r.status << " " << r.body);
  }
  auto admin = http_once(port(), "POST", "/", R"({"action":"force_release","key":"a:bc"})",
                         {"authorization: bearer admin-key"});
  BOOST_CHECK_EQUAL(admin.status, 200);
  // Another scheme carries no key.
  auto basic = http_once(port(), "POST", "/", R"({"action":"stats"})",
                         {"Authorization: Basic dXNlci1rZXk="});
  BOOST_CHECK_EQUAL(basic.status, 401);
  check_json_error(basic.body, "NOAUTH");
}

// With only admin keys configured no AUTH is required, but admin rights come from AUTH; RESET
// returns the connection to the default user (Redis), without them.
BOOST_AUTO_TEST_CASE(reset_drops_admin_rights_when_only_admin_keys_are_set) {
  Server s(ServerOptions().with_config(R"("security":{"admin_api_keys":["adm-only"]})"));
  RespConn c(s.port());
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "r:k"}).integer, 0);  // no AUTH needed
  auto fr = c.cmd({"SEMLOCK.FORCERELEASE", "r:k"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  BOOST_CHECK_EQUAL(c.cmd({"AUTH", "adm-only"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "r:k"}).integer, 0);
  BOOST_CHECK_EQUAL(c.cmd({"RESET"}).str, "RESET");
  fr = c.cmd({"SEMLOCK.FORCERELEASE", "r:k"});
  BOOST_CHECK_MESSAGE(fr.is_error() && fr.str.starts_with("NOPERM"), fr.debug());
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "r:k"}).integer, 0);
}
