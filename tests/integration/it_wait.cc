// Blocking acquires and session holders against the real binary (SPEC §1): FIFO grants, waiters
// that disconnect, waits that run out, SESSION release on close, and Redis's rule that a blocked
// connection executes nothing else until answered. Short real waits only; no speed assertions.
#define BOOST_TEST_MODULE it_wait
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <filesystem>
#include <memory>

#include "tests/integration/server_fixture.h"
#include "tests/integration/wait_helpers.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);


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

// Issue 11 #3 (SPEC §1): the binding stays with the connection that created the holder. B's
// SESSION acquire only refreshed w1's holder (explicit owner already holding): B's close must not
// release it.
BOOST_AUTO_TEST_CASE(session_refresh_from_another_connection_does_not_bind_the_holder) {
  RespConn a(port());
  auto first = a.cmd({"SEMLOCK.ACQUIRE", "w:refresh", "600000", "OWNER", "w1"});
  BOOST_REQUIRE(is_grant_to(first, "w1"));
  {
    RespConn b(port());
    auto again = b.cmd({"SEMLOCK.ACQUIRE", "w:refresh", "600000", "OWNER", "w1", "SESSION"});
    BOOST_REQUIRE(is_grant_to(again, "w1"));
    BOOST_CHECK_EQUAL(again.elements[1].integer, first.elements[1].integer);  // refreshed
  }
  sleep_for(Ms{200});  // B's close is handled by now
  BOOST_CHECK(holders(a, "w:refresh") == std::vector<std::string>{"w1"});
  BOOST_CHECK(a.cmd({"SEMLOCK.ACQUIRE", "w:refresh", "600000", "OWNER", "w2"}).type ==
              RespValue::Type::kNull);
  BOOST_CHECK_EQUAL(a.cmd({"SEMLOCK.RELEASE", "w:refresh", "w1"}).integer, 1);
}

// The same through the waiter path: a SESSION waiter whose owner came to hold the key while it
// waited (another connection's waiter with the same owner was served first) is told "granted"
// with that holder's fence, but the holder is not its connection's to release.
BOOST_AUTO_TEST_CASE(session_waiter_granted_a_refresh_does_not_bind_the_holder) {
  RespConn admin(port());
  admin.cmd({"SEMLOCK.ACQUIRE", "w:wref", "600000", "OWNER", "a", "LIMIT", "2"});
  admin.cmd({"SEMLOCK.ACQUIRE", "w:wref", "600000", "OWNER", "b", "LIMIT", "2"});
  RespConn first(port());
  first.send({"SEMLOCK.ACQUIRE", "w:wref", "600000", "OWNER", "x", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:wref") == 1; }));
  auto second = std::make_unique<RespConn>(port());
  second->send({"SEMLOCK.ACQUIRE", "w:wref", "600000", "OWNER", "x", "WAIT", "20000", "SESSION"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:wref") == 2; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:wref", "a"}).integer, 1);
  auto made = first.read();
  BOOST_REQUIRE(is_grant_to(made, "x"));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:wref", "b"}).integer, 1);
  auto refreshed = second->read();
  BOOST_REQUIRE(is_grant_to(refreshed, "x"));
  BOOST_CHECK_EQUAL(refreshed->elements[1].integer, made->elements[1].integer);
  second.reset();
  sleep_for(Ms{200});
  BOOST_CHECK(holders(admin, "w:wref") == std::vector<std::string>{"x"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:wref"});
}

// Issue 11 #2: the journal scenario. A refresh with SESSION from another connection used to bind
// w1's holder to B, which hid the holder's later records from the journal; after B's close and a
// new grant to w2, kill -9 and a restart showed both w1 and w2 on a mutex. Now B's close leaves w1
// held, w2 is not granted, and every later record (the refresh, the release, w2's grant) is in the
// journal: each restart shows exactly the one holder there was.
BOOST_AUTO_TEST_CASE(session_refresh_keeps_the_holder_in_the_journal_across_kill_9) {
  const std::string dir = make_temp_dir();
  ServerOptions options;
  options.with_config(R"("persistence":{"enabled":true,"dir":")" + dir + R"(","fsync":"always"})");
  long long fence_w1 = 0;
  {
    Server s(options);
    RespConn a(s.port());
    auto got = a.cmd({"SEMLOCK.ACQUIRE", "job", "600000", "OWNER", "w1"});
    BOOST_REQUIRE(is_grant_to(got, "w1"));
    fence_w1 = got.elements[1].integer;
    {
      RespConn b(s.port());
      BOOST_REQUIRE(
          is_grant_to(b.cmd({"SEMLOCK.ACQUIRE", "job", "600000", "OWNER", "w1", "SESSION"}), "w1"));
    }
    sleep_for(Ms{200});
    BOOST_CHECK(a.cmd({"SEMLOCK.ACQUIRE", "job", "600000", "OWNER", "w2"}).type ==
                RespValue::Type::kNull);
    ::kill(s.pid(), SIGKILL);
    BOOST_CHECK_EQUAL(s.terminate(), 128 + SIGKILL);
  }
  {
    Server s(options);
    RespConn a(s.port());
    auto info = a.cmd({"SEMLOCK.INFO", "job"});
    const auto* hs = info.field("holders");
    BOOST_REQUIRE_MESSAGE(hs && hs->elements.size() == 1, info.debug());
    BOOST_CHECK_EQUAL(hs->elements[0].elements.at(0).str, "w1");
    BOOST_CHECK_EQUAL(hs->elements[0].elements.at(1).integer, fence_w1);
    BOOST_CHECK_EQUAL(a.cmd({"SEMLOCK.RELEASE", "job", "w1"}).integer, 1);
    BOOST_REQUIRE(is_grant_to(a.cmd({"SEMLOCK.ACQUIRE", "job", "600000", "OWNER", "w2"}), "w2"));
    ::kill(s.pid(), SIGKILL);
    BOOST_CHECK_EQUAL(s.terminate(), 128 + SIGKILL);
  }
  {
    Server s(options);
    RespConn a(s.port());
    BOOST_CHECK(holders(a, "job") == std::vector<std::string>{"w2"});
  }
  std::filesystem::remove_all(dir);
}

// Issue 11 #4 (SPEC §1): a grant that cannot be delivered is released and passed on. The waiter's
// FIN or RST reaches the server while its loop is busy, after the release that frees the permit:
// both are read in the same batch, the release first, so the grant is decided for a connection
// whose close is already in the socket. It must not be kept: the next waiter gets the lock within
// a short bound (not after the 30 s TTL), and the closed waiter is never sent a grant.
BOOST_AUTO_TEST_CASE(waiter_that_closes_as_the_permit_frees_is_passed_over) {
  for (const Gone how : {Gone::kClose, Gone::kHalfClose, Gone::kReset}) {
    BOOST_TEST_CONTEXT(gone_name(how)) {
      const std::string key = "w:race" + std::to_string(static_cast<int>(how));
      RespConn admin(port());
      BOOST_REQUIRE(is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "a"}), "a"));
      RespConn gone(port());
      gone.send({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "gone", "WAIT", "20000"});
      BOOST_REQUIRE(eventually([&] { return waiters(admin, key) == 1; }));
      RespConn next(port());
      next.send({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "next", "WAIT", "20000"});
      BOOST_REQUIRE(eventually([&] { return waiters(admin, key) == 2; }));

      RespConn busy(port());
      busy.raw().send(stall_command());
      sleep_for(Ms{50});  // the loop is inside the script now
      admin.send({"SEMLOCK.RELEASE", key, "a"});
      go_away(gone.raw(), how);
      BOOST_REQUIRE(busy.read(Ms{30000}));
      auto released = admin.read();
      BOOST_REQUIRE(released);
      BOOST_CHECK_EQUAL(released->integer, 1);

      auto got = next.read(Ms{5000});
      BOOST_CHECK_MESSAGE(is_grant_to(got, "next"),
                          "next waiter: " << (got ? got->debug() : "nothing")
                                          << "; holders: " << holders(admin, key).size());
      BOOST_CHECK(holders(admin, key) == std::vector<std::string>{"next"});
      if (how == Gone::kHalfClose) {
        // Still reading: it sees the server close, and no grant before that.
        BOOST_CHECK(gone.raw().wait_closed());
        BOOST_CHECK_MESSAGE(gone.raw().buffer().empty(), gone.raw().buffer());
      }
      admin.cmd({"SEMLOCK.FORCERELEASE", key});
    }
  }
}

// A blocked client that pipelined more than the server buffers (so today's server stopped reading
// it) and then went away: its close sat unread behind its data and the grant was written into the
// dead connection and kept for its TTL. A blocked connection is now always read and closed past its
// input cap, so its wait ends and the permit goes to the next waiter.
BOOST_AUTO_TEST_CASE(held_back_waiter_that_goes_away_is_passed_over) {
  RespConn admin(port());
  BOOST_REQUIRE(is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", "w:held", "30000", "OWNER", "a"}), "a"));
  RawClient flood(port());
  BOOST_REQUIRE(send_without_reading(flood.fd(), resp_command({"SEMLOCK.ACQUIRE", "w:held", "30000",
                                                               "OWNER", "f", "WAIT", "20000"})));
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:held") == 1; }));
  RespConn next(port());
  next.send({"SEMLOCK.ACQUIRE", "w:held", "30000", "OWNER", "next", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:held") == 2; }));
  // Pipeline until the connection takes no more (or the server closes it): far more than the
  // server's input cap (2 x max_request_bytes + 64 KiB) plus what the kernels buffer.
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += "PING\r\n";
  std::size_t sent = 0;
  while (sent < 256u * 1024 * 1024 && send_without_reading(flood.fd(), chunk, Ms{500})) {
    sent += chunk.size();
  }
  BOOST_TEST_MESSAGE("pipelined before the connection stopped taking bytes: " << sent);
  flood.close();
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:held", "a"}).integer, 1);
  auto got = next.read(Ms{5000});
  BOOST_CHECK_MESSAGE(is_grant_to(got, "next"),
                      "next waiter: " << (got ? got->debug() : "nothing"));
  BOOST_CHECK(holders(admin, "w:held") == std::vector<std::string>{"next"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:held"});
}
