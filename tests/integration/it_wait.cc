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

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
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

// The owners holding `key` now (SEMLOCK.INFO), in the server's order.
std::vector<std::string> holders(RespConn& c, const std::string& key) {
  std::vector<std::string> out;
  auto info = c.cmd({"SEMLOCK.INFO", key});
  if (const auto* hs = info.field("holders")) {
    for (const auto& h : hs->elements) out.push_back(h.elements.at(0).str);
  }
  return out;
}

// How a waiter's client goes away.
enum class Gone { kClose, kHalfClose, kReset };

const char* gone_name(Gone how) {
  switch (how) {
    case Gone::kClose:
      return "close (FIN)";
    case Gone::kHalfClose:
      return "shutdown(SHUT_WR) (FIN, still reading)";
    case Gone::kReset:
      return "close with SO_LINGER 0 (RST)";
  }
  return "?";
}

void go_away(RawClient& raw, Gone how) {
  switch (how) {
    case Gone::kClose:
      raw.close();
      break;
    case Gone::kHalfClose:
      raw.shutdown_write();
      break;
    case Gone::kReset: {
      linger l{1, 0};
      ::setsockopt(raw.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      raw.close();
      break;
    }
  }
}

// Keeps the server's loop busy for a few hundred ms: a script that writes first (so no budget
// stops it before the loop ends or scripting's time limit). Whatever is sent meanwhile is read
// in one batch afterwards, in arrival order.
std::string stall_command() {
  return resp_command({"EVAL",
                       "redis.call('SET', KEYS[1], 'x', 'PX', '1000') "
                       "local i = 0 while i < 12000000 do i = i + 1 end return 1",
                       "1", "w:stall"});
}

// Writes all of `bytes` without reading anything (RawClient::send drains replies meanwhile).
// False if the peer stops taking them for `stuck` or the connection fails.
bool send_without_reading(int fd, std::string_view bytes, Ms stuck = Ms{3000}) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(stuck.count())) <= 0) return false;
    if ((p.revents & (POLLERR | POLLHUP)) != 0) return false;
  }
  return true;
}

// omem (unsent reply bytes the server holds) of the client named `name`, from CLIENT LIST.
long long client_omem(RespConn& admin, const std::string& name) {
  const std::string list = admin.cmd({"CLIENT", "LIST"}).str;
  const auto at = list.find(" name=" + name + " ");
  if (at == std::string::npos) return -1;
  const auto line_start = list.rfind('\n', at);
  const auto o = list.find(" omem=", line_start == std::string::npos ? 0 : line_start);
  return o == std::string::npos ? -1 : std::atoll(list.c_str() + o + 6);
}

// Sends replies `slow` does not read (it names itself `name` first) until the server holds some
// of them (omem > 0: the kernel takes no more) while staying under the 1 MiB output cap that
// would stop it executing requests. Returns omem.
long long fill_unread_output(RespConn& admin, RawClient& slow, const std::string& name) {
  BOOST_REQUIRE(send_without_reading(slow.fd(), resp_command({"CLIENT", "SETNAME", name})));
  const std::string echo = resp_command({"ECHO", std::string(128 * 1024, 'e')});
  long long omem = 0;
  for (int i = 0; i < 400 && omem <= 0; ++i) {
    BOOST_REQUIRE(send_without_reading(slow.fd(), echo));
    sleep_for(Ms{20});
    omem = client_omem(admin, name);
  }
  BOOST_REQUIRE_MESSAGE(omem > 0 && omem < 1024 * 1024, "omem " << omem);
  return omem;
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

// The grant's reply is queued behind replies the client has not read (the kernel's buffers are
// full), and the client goes away before reading them: the kernel never took the grant, so it was
// not delivered and is released and passed on when the connection fails.
BOOST_AUTO_TEST_CASE(grant_queued_behind_unread_replies_is_released_when_the_waiter_goes) {
  RespConn admin(port());
  BOOST_REQUIRE(
      is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", "w:queued", "30000", "OWNER", "a"}), "a"));
  RawClient slow(port(), 4096);
  fill_unread_output(admin, slow, "slowpoke");
  BOOST_REQUIRE(send_without_reading(
      slow.fd(),
      resp_command({"SEMLOCK.ACQUIRE", "w:queued", "30000", "OWNER", "slow", "WAIT", "20000"})));
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:queued") == 1; }));
  RespConn next(port());
  next.send({"SEMLOCK.ACQUIRE", "w:queued", "30000", "OWNER", "next", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:queued") == 2; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:queued", "a"}).integer, 1);
  // Granted to "slow" (alive when decided), its reply stuck behind the unread ones.
  BOOST_CHECK(holders(admin, "w:queued") == std::vector<std::string>{"slow"});
  slow.close();  // unread data: the kernel sends RST
  auto got = next.read(Ms{5000});
  BOOST_CHECK_MESSAGE(is_grant_to(got, "next"),
                      "next waiter: " << (got ? got->debug() : "nothing"));
  BOOST_CHECK(holders(admin, "w:queued") == std::vector<std::string>{"next"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:queued"});
}

// A waiter's grant stuck behind unread replies is released when the waiter goes (above), but not
// once another connection with the same owner has been told it holds the key: its acquire
// refreshed that holder (same fence, a new deadline) and answered "granted" with its own TTL, so
// the holder must last that TTL (SPEC §1) whatever becomes of the waiter's connection.
BOOST_AUTO_TEST_CASE(undelivered_grant_refreshed_by_another_connection_is_kept) {
  RespConn admin(port());
  BOOST_REQUIRE(
      is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", "w:shared", "30000", "OWNER", "a"}), "a"));
  RawClient slow(port(), 4096);
  fill_unread_output(admin, slow, "slowshared");
  BOOST_REQUIRE(send_without_reading(
      slow.fd(),
      resp_command({"SEMLOCK.ACQUIRE", "w:shared", "30000", "OWNER", "shared", "WAIT", "20000"})));
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:shared") == 1; }));
  RespConn next(port());
  next.send({"SEMLOCK.ACQUIRE", "w:shared", "30000", "OWNER", "next", "WAIT", "20000"});
  BOOST_REQUIRE(eventually([&] { return waiters(admin, "w:shared") == 2; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", "w:shared", "a"}).integer, 1);
  BOOST_REQUIRE(holders(admin, "w:shared") == std::vector<std::string>{"shared"});
  // Another connection of the same owner: refreshed, told it holds for 60 s.
  RespConn other(port());
  BOOST_REQUIRE(is_grant_to(other.cmd({"SEMLOCK.ACQUIRE", "w:shared", "60000", "OWNER", "shared"}),
                            "shared"));
  slow.close();  // unread data: the kernel sends RST; the waiter's own reply was never taken
  BOOST_REQUIRE(eventually([&] { return client_omem(admin, "slowshared") < 0; }));
  check_silent(next, "next waiter");
  BOOST_CHECK(holders(admin, "w:shared") == std::vector<std::string>{"shared"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:shared"});
  auto got = next.read(Ms{5000});
  BOOST_CHECK(is_grant_to(got, "next"));
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:shared"});
}

// The crash checker's refused_while_free (a grant kept for a waiter that had closed with RST):
// with fsync=always the loop can stall for tens of ms in fdatasync. Meanwhile the holder's
// RELEASE arrives, then the waiter's WAIT acquire on a fresh connection and its RST. After the
// stall the release is read first, so the acquire finds the key free and is granted at once (not
// through the wait queue): its reply cannot be delivered to a reset peer, yet the grant was kept
// for its whole TTL. An immediate grant the kernel never took is now released like a waiter's.
BOOST_AUTO_TEST_CASE(grant_read_after_the_peer_reset_is_not_kept) {
  enum class Form { kWait, kPlain, kSetNx };
  for (const Form form : {Form::kWait, Form::kPlain, Form::kSetNx}) {
    const char* name = form == Form::kWait    ? "WAIT acquire"
                       : form == Form::kPlain ? "plain acquire"
                                              : "SET NX PX";
    BOOST_TEST_CONTEXT(name) {
      const std::string key = std::string("w:reset") + std::to_string(static_cast<int>(form));
      RespConn admin(port());
      BOOST_REQUIRE(is_grant_to(admin.cmd({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "a"}), "a"));
      RespConn gone(port());
      BOOST_REQUIRE_EQUAL(gone.cmd({"PING"}).str, "PONG");  // accepted and idle
      RespConn busy(port());
      busy.raw().send(stall_command());
      sleep_for(Ms{50});  // the loop is inside the script now
      admin.send({"SEMLOCK.RELEASE", key, "a"});
      sleep_for(Ms{5});
      std::vector<std::string> acquire{"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "gone"};
      if (form == Form::kWait) acquire.insert(acquire.end(), {"WAIT", "20000"});
      if (form == Form::kSetNx) acquire = {"SET", key, "gone", "NX", "PX", "30000"};
      BOOST_REQUIRE(send_without_reading(gone.raw().fd(), resp_command(acquire)));
      sleep_for(Ms{5});
      go_away(gone.raw(), Gone::kReset);
      BOOST_REQUIRE(busy.read(Ms{30000}));
      auto released = admin.read();
      BOOST_REQUIRE(released);
      BOOST_CHECK_EQUAL(released->integer, 1);
      BOOST_CHECK_MESSAGE(eventually([&] { return holders(admin, key).empty(); }),
                          "holders: " << holders(admin, key).size());
      RespConn probe(port());
      BOOST_CHECK(
          is_grant_to(probe.cmd({"SEMLOCK.ACQUIRE", key, "1000", "OWNER", "probe"}), "probe"));
      admin.cmd({"SEMLOCK.FORCERELEASE", key});
    }
  }
}

// A grant made at once whose reply the kernel never took is released when its connection is
// reset (SPEC §1: a grant that cannot be delivered is released and passed on), whatever form the
// acquire took. Regression: the server only refused to run requests read after the client's RST
// had reached the socket (one poll per read); a client reset after its acquire was read, with the
// grant's reply stuck behind unread replies, kept the holder for its whole TTL.
BOOST_AUTO_TEST_CASE(immediate_grant_behind_unread_replies_is_released_on_reset) {
  struct Form {
    const char* name;
    std::vector<std::vector<std::string>> commands;
    std::vector<std::string> keys;
  };
  const std::vector<Form> forms = {
      {"ACQUIRE", {{"SEMLOCK.ACQUIRE", "w:now1", "30000", "OWNER", "slow"}}, {"w:now1"}},
      {"ACQUIRE WAIT",
       {{"SEMLOCK.ACQUIRE", "w:now2", "30000", "OWNER", "slow", "WAIT", "20000"}},
       {"w:now2"}},
      {"ACQUIREALL",
       {{"SEMLOCK.ACQUIREALL", "30000", "2", "w:now3a", "w:now3b", "OWNER", "slow"}},
       {"w:now3a", "w:now3b"}},
      {"MULTI/EXEC",
       {{"MULTI"}, {"SEMLOCK.ACQUIRE", "w:now4", "30000", "OWNER", "slow"}, {"EXEC"}},
       {"w:now4"}},
      {"EVAL",
       {{"EVAL", "return redis.call('SEMLOCK.ACQUIRE', KEYS[1], '30000', 'OWNER', 'slow')", "1",
         "w:now5"}},
       {"w:now5"}},
      {"SET NX PX", {{"SET", "w:now6", "slow", "NX", "PX", "30000"}}, {"w:now6"}},
  };
  for (const Form& form : forms) {
    BOOST_TEST_CONTEXT(form.name) {
      RespConn admin(port());
      RawClient slow(port(), 4096);
      fill_unread_output(admin, slow, "slowgrant");
      std::string bytes;
      for (const auto& cmd : form.commands) bytes += resp_command(cmd);
      BOOST_REQUIRE(send_without_reading(slow.fd(), bytes));
      for (const auto& key : form.keys) {
        BOOST_REQUIRE_MESSAGE(eventually([&] {
                                return holders(admin, key) == std::vector<std::string>{"slow"};
                              }),
                              key << " not granted");
      }
      go_away(slow, Gone::kReset);  // its reply is still in the server's output
      BOOST_REQUIRE(eventually([&] { return client_omem(admin, "slowgrant") < 0; }));
      for (const auto& key : form.keys) {
        BOOST_CHECK_MESSAGE(holders(admin, key).empty(),
                            key << " kept by " << holders(admin, key).size() << " holder(s)");
        RespConn probe(port());
        BOOST_CHECK(
            is_grant_to(probe.cmd({"SEMLOCK.ACQUIRE", key, "1000", "OWNER", "probe"}), "probe"));
        admin.cmd({"SEMLOCK.FORCERELEASE", key});
      }
    }
  }
}

// The other side of the rule above: a grant whose reply the kernel has taken is the client's,
// even when replies after it are still unsent when the client resets. Only what was not delivered
// goes back (a grant's reply is delivered once the kernel has taken its last byte).
BOOST_AUTO_TEST_CASE(immediate_grant_the_kernel_took_is_kept_after_a_reset) {
  RespConn admin(port());
  RawClient slow(port(), 4096);
  BOOST_REQUIRE(send_without_reading(
      slow.fd(), resp_command({"SEMLOCK.ACQUIRE", "w:kept", "30000", "OWNER", "slow"})));
  BOOST_REQUIRE(eventually([&] { return holders(admin, "w:kept") == std::vector<std::string>{"slow"}; }));
  fill_unread_output(admin, slow, "slowkeep");  // replies after the grant's, unsent
  go_away(slow, Gone::kReset);
  BOOST_REQUIRE(eventually([&] { return client_omem(admin, "slowkeep") < 0; }));
  BOOST_CHECK(holders(admin, "w:kept") == std::vector<std::string>{"slow"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:kept"});
}

// A FIN is not a reset: a client that half-closes after its requests still gets every reply
// (SPEC §1), and a grant made at once is its own even when the FIN is read before the kernel took
// the grant's reply (it sat behind unread replies). Only a waiter's grant is undone by a FIN.
BOOST_AUTO_TEST_CASE(half_closed_client_keeps_an_immediate_grant_behind_unread_replies) {
  RespConn admin(port());
  RawClient slow(port(), 4096);
  fill_unread_output(admin, slow, "slowhalf");
  BOOST_REQUIRE(send_without_reading(
      slow.fd(), resp_command({"SEMLOCK.ACQUIRE", "w:half", "30000", "OWNER", "slow"})));
  BOOST_REQUIRE(eventually([&] { return holders(admin, "w:half") == std::vector<std::string>{"slow"}; }));
  go_away(slow, Gone::kHalfClose);
  sleep_for(Ms{100});  // the server reads the FIN while the grant's reply is still unsent
  BOOST_CHECK(holders(admin, "w:half") == std::vector<std::string>{"slow"});
  const std::string grant = "*2\r\n$4\r\nslow\r\n:";
  BOOST_CHECK(slow.read_until(
      [&](std::string_view got) {
        const auto at = got.find(grant);
        return at != std::string_view::npos && got.find("\r\n", at + grant.size()) != got.npos;
      },
      Ms{10000}));
  BOOST_CHECK(slow.wait_closed(Ms{10000}));
  BOOST_CHECK(holders(admin, "w:half") == std::vector<std::string>{"slow"});
  admin.cmd({"SEMLOCK.FORCERELEASE", "w:half"});
}

// A SEMLOCK.STATS counter.
long long stat(RespConn& c, const std::string& name) {
  const auto v = c.cmd({"SEMLOCK.STATS"});
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    if (v.elements[i].str == name) return v.elements[i + 1].integer;
  }
  return -1;
}

// The hold count of the key's first holder (SEMLOCK.INFO "holds"), 0 when not held.
long long holds_of_first(RespConn& c, const std::string& key) {
  const auto info = c.cmd({"SEMLOCK.INFO", key});
  const auto* holds = info.field("holds");
  return holds != nullptr && !holds->elements.empty() ? holds->elements[0].integer : 0;
}

// Regression (review of the change above): a grant made at once, then released by the same
// connection, was still given back when that connection was reset. With REENTRANT the release
// had only taken one hold back, so the give-back took another: the hold a delivered grant on
// another connection had made, and the key went to a third client while its holder held it. The
// release (undelivered like the grant) now cancels the grant's give-back, in one command or two.
BOOST_AUTO_TEST_CASE(immediate_grant_released_by_its_own_connection_is_not_given_back_twice) {
  struct Form {
    const char* name;
    std::vector<std::vector<std::string>> commands;
  };
  const std::vector<Form> forms = {
      {"ACQUIRE then RELEASE",
       {{"SEMLOCK.ACQUIRE", "w:twice", "30000", "OWNER", "o", "REENTRANT"},
        {"SEMLOCK.RELEASE", "w:twice", "o"}}},
      {"EVAL",
       {{"EVAL",
         "redis.call('SEMLOCK.ACQUIRE', KEYS[1], '30000', 'OWNER', 'o', 'REENTRANT') "
         "return redis.call('SEMLOCK.RELEASE', KEYS[1], 'o')",
         "1", "w:twice"}}},
      {"RELEASEALL",
       {{"SEMLOCK.ACQUIRE", "w:twice", "30000", "OWNER", "o", "REENTRANT"},
        {"SEMLOCK.RELEASEALL", "o", "1", "w:twice"}}},
  };
  for (const Form& form : forms) {
    BOOST_TEST_CONTEXT(form.name) {
      RespConn admin(port());
      RespConn holder(port());  // its grant is delivered: it holds w:twice
      BOOST_REQUIRE(is_grant_to(
          holder.cmd({"SEMLOCK.ACQUIRE", "w:twice", "30000", "OWNER", "o", "REENTRANT"}), "o"));
      RawClient slow(port(), 4096);
      fill_unread_output(admin, slow, "slowtwice");
      std::string bytes;
      for (const auto& cmd : form.commands) bytes += resp_command(cmd);
      const long long acquires = stat(admin, "AcquireRequests");
      const long long releases = stat(admin, "ReleaseRequests");
      BOOST_REQUIRE(send_without_reading(slow.fd(), bytes));
      BOOST_REQUIRE(eventually([&] {
        return stat(admin, "AcquireRequests") > acquires && stat(admin, "ReleaseRequests") > releases;
      }));
      BOOST_REQUIRE_EQUAL(holds_of_first(admin, "w:twice"), 1);  // both ran: one hold added, one taken
      BOOST_REQUIRE(client_omem(admin, "slowtwice") > 0);        // and neither reply was taken
      go_away(slow, Gone::kReset);
      BOOST_REQUIRE(eventually([&] { return client_omem(admin, "slowtwice") < 0; }));
      BOOST_CHECK(holders(admin, "w:twice") == std::vector<std::string>{"o"});
      RespConn other(port());
      BOOST_CHECK(!is_grant_to(other.cmd({"SEMLOCK.ACQUIRE", "w:twice", "1000", "OWNER", "z"}), "z"));
      admin.cmd({"SEMLOCK.FORCERELEASE", "w:twice"});
    }
  }
}
