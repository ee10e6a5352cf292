// Blocking acquires and session holders against the real binary (SPEC §1): FIFO grants, waiters
// that disconnect, waits that run out, SESSION release on close, and Redis's rule that a blocked
// connection executes nothing else until answered. Short real waits only; no speed assertions.
#define BOOST_TEST_MODULE it_wait
#include <boost/test/unit_test.hpp>
#include <memory>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
}

long long waiters(RespConn& c, const std::string& key) {
  auto info = c.cmd({"SEMLOCK.INFO", key});
  const auto* w = info.field("waiters");
  return w != nullptr ? w->integer : -1;
}

bool is_grant_to(const std::optional<RespValue>& v, const std::string& owner) {
  return v && v->type == RespValue::Type::kArray && v->elements.size() == 2 &&
         v->elements[0].str == owner;
}

// Nothing arrives on `c` within a short wait.
void check_silent(RespConn& c, const std::string& who) {
  c.raw().read_for(Ms{150});
  BOOST_CHECK_MESSAGE(c.raw().buffer().empty(), who << " got early: " << c.raw().buffer());
}

}  // namespace

BOOST_AUTO_TEST_CASE(three_waiters_granted_in_fifo_order) {
  RespConn admin(port());
  BOOST_REQUIRE(is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", "w:fifo", "30000", "OWNER", "a"}), "a"));
  std::vector<std::unique_ptr<RespConn>> w;
  for (const char* o : {"b", "c", "d"}) {
    w.push_back(std::make_unique<RespConn>(port()));
    w.back()->send({"SEMLOCK.ACQUIRE", "w:fifo", "30000", "OWNER", o, "WAIT", "20000"});
    // Arrival order is fixed by waiting until the server has queued this one.
    auto n = static_cast<long long>(w.size());
    BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:fifo") == n; }));
  }
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:fifo", "a"}).integer, 1);
  BOOST_CHECK(is_grant_to(w[0]->read(), "b"));
  check_silent(*w[1], "c");
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:fifo", "b"}).integer, 1);
  BOOST_CHECK(is_grant_to(w[1]->read(), "c"));
  check_silent(*w[2], "d");
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:fifo", "c"}).integer, 1);
  auto last = w[2]->read();
  BOOST_CHECK(is_grant_to(last, "d"));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:fifo", "d"}).integer, 1);
}

BOOST_AUTO_TEST_CASE(freed_semaphore_permit_goes_to_the_queued_waiter) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:barge", "30000", "OWNER", "a", "LIMIT", "2"});
  admin.cmd({"SEMLOCK.ACQUIRE", "w:barge", "30000", "OWNER", "b", "LIMIT", "2"});
  RespConn waiter(port());
  waiter.send({"SEMLOCK.ACQUIRE", "w:barge", "30000", "OWNER", "c", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:barge") == 1; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:barge", "a"}).integer, 1);
  // The freed permit went to the queued waiter, not to a newcomer.
  BOOST_CHECK(is_grant_to(waiter.read(), "c"));
  BOOST_CHECK(admin.cmd({"SEMLOCK.ACQUIRE", "w:barge", "30000", "OWNER", "n"}).type ==
              RespValue::Type::kNull);
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.FORCERELEASE", "w:barge"}).integer, 2);
}

BOOST_AUTO_TEST_CASE(waiter_that_disconnects_is_skipped) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:gone", "30000", "OWNER", "a"});
  auto quitter = std::make_unique<RespConn>(port());
  quitter->send({"SEMLOCK.ACQUIRE", "w:gone", "30000", "OWNER", "q", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:gone") == 1; }));
  RespConn stayer(port());
  stayer.send({"SEMLOCK.ACQUIRE", "w:gone", "30000", "OWNER", "s", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:gone") == 2; }));
  quitter.reset();
  BOOST_CHECK(eventually([&] { return waiters(admin, "w:gone") == 1; }));
  admin.cmd({"SEMLOCK.RELEASE", "w:gone", "a"});
  BOOST_CHECK(is_grant_to(stayer.read(), "s"));
  auto info = admin.cmd({"SEMLOCK.INFO", "w:gone"});
  BOOST_REQUIRE(info.field("holders"));
  BOOST_CHECK_EQUAL(info.field("holders")->elements.size(), 1u);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:gone"});
}

BOOST_AUTO_TEST_CASE(wait_that_runs_out_answers_not_acquired) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:out", "30000", "OWNER", "a"});
  RespConn r2(port());
  r2.send({"SEMLOCK.ACQUIRE", "w:out", "30000", "OWNER", "b", "WAIT", "200"});
  BOOST_CHECK(r2.raw().read_until([](std::string_view b) { return b == "$-1\r\n"; }));
  RespConn r3(port());
  r3.cmd({"HELLO", "3"});
  r3.send({"SEMLOCK.ACQUIRE", "w:out", "30000", "OWNER", "c", "WAIT", "200"});
  BOOST_CHECK(r3.raw().read_until([](std::string_view b) { return b == "_\r\n"; }));
  JsonClient j(port());
  BOOST_CHECK_EQUAL(
      j.request(R"({"action":"acquire","key":"w:out","ttl":30,"owner":"d","wait_ms":200})"),
      R"({"success":false})");
  BOOST_CHECK_EQUAL(waiters(admin, "w:out"), 0);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:out"});
}

BOOST_AUTO_TEST_CASE(expiry_and_force_release_hand_the_permit_to_a_waiter) {
  RespConn admin(port());
  auto first = admin.cmd({"SEMLOCK.ACQUIRE", "w:exp", "200", "OWNER", "a"});
  RespConn waiter(port());
  waiter.send({"SEMLOCK.ACQUIRE", "w:exp", "30000", "OWNER", "b", "WAIT", "10000"});
  auto got = waiter.read(Ms{5000});
  BOOST_REQUIRE(is_grant_to(got, "b"));
  BOOST_CHECK_GT(got->elements[1].integer, first.elements.at(1).integer);

  JsonClient j(port());
  j.send_line(R"({"action":"acquire","key":"w:exp","ttl":30,"owner":"c","wait_ms":10000})");
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:exp") == 1; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.FORCERELEASE", "w:exp"}).integer, 1);
  auto line = j.read_line();
  BOOST_REQUIRE(line);
  auto d = parse_json(*line);
  BOOST_CHECK(json_bool(d, "success"));
  BOOST_CHECK_EQUAL(json_string(d["data"], "owner"), "c");
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:exp"});
}

BOOST_AUTO_TEST_CASE(session_holders_are_released_on_disconnect) {
  RespConn admin(port());
  auto holder = std::make_unique<RespConn>(port());
  BOOST_REQUIRE(is_grant_to(
      holder->cmd({"SEMLOCK.ACQUIRE", "w:sess", "30000", "OWNER", "s", "SESSION"}), "s"));
  holder->cmd({"SEMLOCK.ACQUIRE", "w:sess2", "30000", "OWNER", "s", "SESSION"});
  RespConn waiter(port());
  waiter.send({"SEMLOCK.ACQUIRE", "w:sess", "30000", "OWNER", "w", "WAIT", "10000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:sess") == 1; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.EXISTS", "w:sess2"}).integer, 1);
  holder.reset();
  BOOST_CHECK(is_grant_to(waiter.read(), "w"));
  BOOST_CHECK(eventually([&] { return admin.cmd({"SEMLOCK.EXISTS", "w:sess2"}).integer == 0; }));
  // A plain (non-session) holder survives its connection.
  {
    RespConn plain(port());
    plain.cmd({"SEMLOCK.ACQUIRE", "w:plain", "30000", "OWNER", "p"});
  }
  sleep_for(Ms{200});
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.EXISTS", "w:plain"}).integer, 1);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:plain"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:sess"});
}

BOOST_AUTO_TEST_CASE(json_session_released_on_disconnect) {
  RespConn admin(port());
  {
    JsonClient j(port());
    auto a = parse_json(
        j.request(R"({"action":"acquire","key":"w:jsess","ttl":30,"owner":"j","session":true})"));
    BOOST_REQUIRE(json_bool(a, "success"));
    BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.EXISTS", "w:jsess"}).integer, 1);
  }
  BOOST_CHECK(eventually([&] { return admin.cmd({"SEMLOCK.EXISTS", "w:jsess"}).integer == 0; }));
}

BOOST_AUTO_TEST_CASE(blocked_connection_executes_nothing_else_and_replies_stay_in_order) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:blk", "30000", "OWNER", "a"});
  RespConn blocked(port());
  blocked.raw().send(
      resp_command({"SEMLOCK.ACQUIRE", "w:blk", "30000", "OWNER", "b", "WAIT", "20000"}) +
      resp_command({"PING"}) +
      resp_command({"SEMLOCK.ACQUIRE", "w:blk-next", "30000", "OWNER", "b"}));
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:blk") == 1; }));
  check_silent(blocked, "blocked connection");
  // The command queued behind the wait has not run.
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.EXISTS", "w:blk-next"}).integer, 0);
  admin.cmd({"SEMLOCK.RELEASE", "w:blk", "a"});
  BOOST_CHECK(is_grant_to(blocked.read(), "b"));
  auto pong = blocked.read();
  BOOST_REQUIRE(pong);
  BOOST_CHECK_EQUAL(pong->str, "PONG");
  BOOST_CHECK(is_grant_to(blocked.read(), "b"));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.EXISTS", "w:blk-next"}).integer, 1);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:blk"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:blk-next"});
}

BOOST_AUTO_TEST_CASE(json_blocked_connection_keeps_order) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:jblk", "30000", "OWNER", "a"});
  JsonClient j(port());
  j.raw().send(R"({"action":"acquire","key":"w:jblk","ttl":30,"owner":"b","wait_ms":20000,"id":1})"
               "\n"
               R"({"action":"ping","id":2})"
               "\n");
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:jblk") == 1; }));
  j.raw().read_for(Ms{150});
  BOOST_CHECK_MESSAGE(j.raw().buffer().empty(), j.raw().buffer());
  admin.cmd({"SEMLOCK.RELEASE", "w:jblk", "a"});
  auto first = j.read_line(), second = j.read_line();
  BOOST_REQUIRE(first && second);
  BOOST_CHECK_EQUAL(json_int(parse_json(*first), "id"), 1);
  BOOST_CHECK(json_bool(parse_json(*first), "success"));
  BOOST_CHECK_EQUAL(json_int(parse_json(*second), "id"), 2);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:jblk"});
}

BOOST_AUTO_TEST_CASE(wait_inside_multi_does_not_block) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:multi", "30000", "OWNER", "a"});
  RespConn c(port());
  BOOST_CHECK_EQUAL(c.cmd({"MULTI"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "w:multi", "30000", "WAIT", "20000"}).str, "QUEUED");
  auto exec = c.cmd({"EXEC"}, Ms{1000});
  BOOST_REQUIRE_MESSAGE(exec.type == RespValue::Type::kArray && exec.elements.size() == 1,
                        exec.debug());
  BOOST_CHECK(exec.elements[0].type == RespValue::Type::kNull);
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:multi"});
}

BOOST_AUTO_TEST_CASE(expired_holder_is_absent_for_every_command_at_once) {
  RespConn c(port());
  auto first = c.cmd({"SEMLOCK.ACQUIRE", "w:ttl", "100", "OWNER", "o"});
  BOOST_REQUIRE(is_grant_to(first, "o"));
  sleep_for(Ms{250});
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "w:ttl"}).integer, 0);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXTEND", "w:ttl", "o", "30000"}).integer, 0);
  auto again = c.cmd({"SEMLOCK.ACQUIRE", "w:ttl", "30000", "OWNER", "o"});
  BOOST_REQUIRE(is_grant_to(again, "o"));
  BOOST_CHECK_GT(again.elements[1].integer, first.elements[1].integer);  // a new grant
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.RELEASE", "w:ttl", "o"}).integer, 1);
}
