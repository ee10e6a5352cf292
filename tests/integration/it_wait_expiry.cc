// Expiry and waits against the real binary (SPEC §1; issue 11 defects 1, 7, 8, 9). Every assertion
// is about correctness, not speed: a client-side clock only ever proves that something happened
// early (a reply received before a moment is a reply the server sent before it), never that the
// server was fast.
#define BOOST_TEST_MODULE it_wait_expiry
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;
using Clock = std::chrono::steady_clock;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
}

}  // namespace

// Defect 1: `SET k me NX PX 20`, then EXISTS in a tight loop. The server read the SET after we
// sent it, so the holder may not be gone before send time + 20 ms: an EXISTS reply of 0 received
// before that moment proves an early expiry. (The old server: most trials early by up to 1 ms.)
BOOST_AUTO_TEST_CASE(set_nx_px_holder_is_never_gone_before_send_time_plus_ttl) {
  RespConn c(port());
  const int trials = 200;
  int early = 0;
  int never_gone = 0;
  Clock::duration worst{};
  for (int i = 0; i < trials; ++i) {
    const std::string key = "exp:set:" + std::to_string(i);
    const auto sent = Clock::now();
    const RespValue ok = c.cmd({"SET", key, "me", "NX", "PX", "20"});
    BOOST_REQUIRE_MESSAGE(ok.str == "OK", ok.debug());
    std::this_thread::sleep_until(sent + std::chrono::milliseconds(18));
    bool gone = false;
    while (Clock::now() < sent + std::chrono::seconds(2)) {
      const RespValue r = c.cmd({"EXISTS", key});
      const auto received = Clock::now();
      if (r.integer == 0) {
        gone = true;
        if (received < sent + std::chrono::milliseconds(20)) {
          ++early;
          worst = std::max(worst, sent + std::chrono::milliseconds(20) - received);
        }
        break;
      }
    }
    if (!gone) ++never_gone;
  }
  const double worst_us = std::chrono::duration<double, std::micro>(worst).count();
  BOOST_TEST_MESSAGE("early: " << early << "/" << trials << ", worst by " << worst_us << " us");
  BOOST_TEST(early == 0);
  BOOST_TEST(never_gone == 0);
}

// The same through the lock commands, for a semaphore's extra holders and the SET idiom's PTTL:
// PTTL never says more than the TTL asked.
BOOST_AUTO_TEST_CASE(semaphore_holders_are_never_gone_early_and_pttl_never_exceeds_the_ttl) {
  RespConn c(port());
  const int trials = 60;
  int early = 0;
  for (int i = 0; i < trials; ++i) {
    const std::string key = "exp:sem:" + std::to_string(i);
    BOOST_REQUIRE(c.cmd({"SEMLOCK.ACQUIRE", key, "60000", "OWNER", "long", "LIMIT", "2"}).type ==
                  RespValue::Type::kArray);
    const auto sent = Clock::now();
    BOOST_REQUIRE(c.cmd({"SEMLOCK.ACQUIRE", key, "15", "OWNER", "short", "LIMIT", "2"}).type ==
                  RespValue::Type::kArray);
    std::this_thread::sleep_until(sent + std::chrono::milliseconds(13));
    while (Clock::now() < sent + std::chrono::seconds(2)) {
      const RespValue r = c.cmd({"SEMLOCK.INFO", key});
      const auto received = Clock::now();
      const RespValue* holders = r.field("holders");
      BOOST_REQUIRE(holders != nullptr);
      if (holders->elements.size() == 1) {
        if (received < sent + std::chrono::milliseconds(15)) ++early;
        break;
      }
    }
    c.cmd({"SEMLOCK.FORCERELEASE", key});
  }
  BOOST_TEST(early == 0);
  for (int i = 0; i < 20; ++i) {
    const std::string key = "exp:pttl:" + std::to_string(i);
    BOOST_REQUIRE(c.cmd({"SET", key, "me", "PX", "500"}).str == "OK");
    const RespValue p = c.cmd({"PTTL", key});
    BOOST_TEST(p.integer <= 500);
    BOOST_TEST(p.integer >= 0);
    c.cmd({"DEL", key});
  }
}

// Defect 7: a waiter whose wait ends no earlier than the holder's TTL is granted when the holder
// expires (the permit frees while it still waits), whatever tick the server processes both in.
// The waiter is sent after the holder's acquire was answered, with WAIT equal to the TTL: its wait
// cannot have run out before the TTL did. (The old server: 0 of 30 granted.)
BOOST_AUTO_TEST_CASE(waiter_with_wait_equal_to_the_holders_ttl_is_granted_at_expiry) {
  const int n = 30;
  RespConn admin(port());
  std::vector<std::unique_ptr<RespConn>> w;
  for (int i = 0; i < n; ++i) {
    const std::string key = "exp:wait:" + std::to_string(i);
    BOOST_REQUIRE(admin.cmd({"SEMLOCK.ACQUIRE", key, "100", "OWNER", "h"}).type ==
                  RespValue::Type::kArray);
    w.push_back(std::make_unique<RespConn>(port()));
    w.back()->send(
        {"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "w" + std::to_string(i), "WAIT", "100"});
  }
  int granted = 0;
  for (int i = 0; i < n; ++i) {
    const auto r = w[static_cast<std::size_t>(i)]->read(Ms{5000});
    BOOST_REQUIRE(r.has_value());
    if (r->type == RespValue::Type::kArray && r->elements.size() == 2 &&
        r->elements[0].str == "w" + std::to_string(i)) {
      ++granted;
    }
    admin.cmd({"SEMLOCK.FORCERELEASE", "exp:wait:" + std::to_string(i)});
  }
  BOOST_TEST(granted == n);
}

// Defect 9: two JSON waiters with the same pid/host (a derived owner) get one grant between them,
// never two with one fence; the permit the second cannot take goes on to the next waiter.
BOOST_AUTO_TEST_CASE(json_waiters_with_the_same_pid_and_host_get_one_grant) {
  const std::string key = "exp:json:pid";
  RespConn admin(port());
  BOOST_REQUIRE(admin.cmd({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "s1", "LIMIT", "2"}).type ==
                RespValue::Type::kArray);
  BOOST_REQUIRE(admin.cmd({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "s2", "LIMIT", "2"}).type ==
                RespValue::Type::kArray);
  const std::string same = R"({"action":"acquire","key":")" + key +
                           R"(","ttl":30,"limit":2,"pid":"4242","host":"web1","wait_ms":10000})";
  const std::string other = R"({"action":"acquire","key":")" + key +
                            R"(","ttl":30,"limit":2,"owner":"x","wait_ms":10000})";
  JsonClient a(port()), b(port()), x(port());
  a.send_line(same);
  BOOST_REQUIRE(eventually([&] { return waiters(admin, key) == 1; }));
  b.send_line(same);
  BOOST_REQUIRE(eventually([&] { return waiters(admin, key) == 2; }));
  x.send_line(other);
  BOOST_REQUIRE(eventually([&] { return waiters(admin, key) == 3; }));
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", key, "s1"}).integer, 1);
  BOOST_CHECK_EQUAL(admin.cmd({"SEMLOCK.RELEASE", key, "s2"}).integer, 1);
  const auto ra = a.read_line();
  const auto rb = b.read_line();
  const auto rx = x.read_line();
  BOOST_REQUIRE(ra && rb && rx);
  const auto da = parse_json(*ra);
  BOOST_REQUIRE_MESSAGE(json_bool(da, "success"), *ra);
  BOOST_CHECK_EQUAL(json_string(da["data"], "owner"), "4242@web1");
  BOOST_CHECK_MESSAGE(*rb == R"({"success":false})", "second pid/host waiter: " << *rb);
  const auto dx = parse_json(*rx);
  BOOST_REQUIRE_MESSAGE(json_bool(dx, "success"), *rx);
  BOOST_CHECK_NE(json_uint(dx["data"], "fence"), json_uint(da["data"], "fence"));
  auto info = admin.cmd({"SEMLOCK.INFO", key});
  const auto* holders = info.field("holders");
  BOOST_REQUIRE(holders != nullptr);
  BOOST_CHECK_EQUAL(holders->elements.size(), 2u);
  BOOST_CHECK_EQUAL(waiters(admin, key), 0);
  admin.cmd({"SEMLOCK.FORCERELEASE", key});
}

// Defect 8: with the server ticking once a second, three holders past their deadline still
// stored must not make a fourth key "over max_locks": due holders are removed before rejecting.
// (The old server filed holders in 1 s wheel slots and only removed whole slots: rejected.)
BOOST_AUTO_TEST_CASE(acquire_at_max_locks_succeeds_when_every_holder_is_past_its_deadline) {
  Server s(ServerOptions().with_config(
      R"("limits":{"max_locks":3},"cleanup":{"resolution":"1s","interval":"1s"})"));
  RespConn c(s.port());
  for (int round = 0; round < 5; ++round) {
    Clock::time_point last{};
    for (int i = 0; i < 3; ++i) {
      const std::string key = "full:" + std::to_string(round) + ":" + std::to_string(i);
      BOOST_REQUIRE(c.cmd({"SEMLOCK.ACQUIRE", key, "30", "OWNER", "o"}).type ==
                    RespValue::Type::kArray);
      last = Clock::now();
    }
    // Every TTL has certainly passed: the last grant was answered before `last`.
    std::this_thread::sleep_until(last + std::chrono::milliseconds(40));
    const RespValue r =
        c.cmd({"SEMLOCK.ACQUIRE", "full:new:" + std::to_string(round), "30", "OWNER", "o"});
    BOOST_CHECK_MESSAGE(r.type == RespValue::Type::kArray, "round " << round << ": " << r.debug());
    std::this_thread::sleep_for(std::chrono::milliseconds(40));  // and this one too
  }
}
