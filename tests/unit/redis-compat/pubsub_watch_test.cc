// Pub/sub and WATCH through the dispatcher, with the virtual clock (expiry without sleeping).
#include <boost/test/unit_test.hpp>

#include "engine/data.h"
#include "tests/unit/redis-compat/test_host.h"

using semlock::test::Fixture;

namespace {

// A second client on the same engine and host.
std::string run_as(Fixture& f, semlock::redis::ClientState& c, std::vector<std::string> args) {
  std::vector<std::string_view> argv(args.begin(), args.end());
  std::string out;
  semlock::resp::Writer w(out, c.proto);
  semlock::redis::CommandContext ctx{f.engine, f.host, c, w, f.now, true};
  semlock::redis::execute(ctx, argv);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch)

BOOST_FIXTURE_TEST_CASE(untouched_key_runs, Fixture) {
  BOOST_TEST(run({"SET", "k", "a", "PX", "5000"}) == "+OK\r\n");
  BOOST_TEST(run({"WATCH", "k"}) == "+OK\r\n");
  BOOST_TEST(run({"MULTI"}) == "+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*1\r\n$1\r\na\r\n");
  BOOST_TEST(client.watched.empty());
}

BOOST_FIXTURE_TEST_CASE(write_by_another_client_aborts, Fixture) {
  semlock::redis::ClientState other;
  other.id = 8;
  BOOST_TEST(run({"WATCH", "k"}) == "+OK\r\n");
  BOOST_TEST(run_as(*this, other, {"SET", "k", "b", "PX", "5000"}) == "+OK\r\n");
  BOOST_TEST(run({"MULTI"}) == "+OK\r\n");
  BOOST_TEST(run({"SET", "k", "mine", "PX", "5000"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nb\r\n");
  // The watch ended with EXEC: the next transaction runs.
  BOOST_TEST(run_as(*this, other, {"SET", "k", "c", "PX", "5000"}) == "+OK\r\n");
  run({"MULTI"});
  run({"GET", "k"});
  BOOST_TEST(run({"EXEC"}) == "*1\r\n$1\r\nc\r\n");
}

BOOST_FIXTURE_TEST_CASE(write_that_changed_nothing_does_not_abort, Fixture) {
  semlock::redis::ClientState other;
  other.id = 8;
  run({"SET", "k", "a", "PX", "5000"});
  run({"WATCH", "k", "absent"});
  BOOST_TEST(run_as(*this, other, {"SET", "k", "b", "NX", "PX", "5000"}) == "$-1\r\n");
  BOOST_TEST(run_as(*this, other, {"DEL", "absent"}) == ":0\r\n");
  run({"MULTI"});
  run({"GET", "k"});
  BOOST_TEST(run({"EXEC"}) == "*1\r\n$1\r\na\r\n");
}

BOOST_FIXTURE_TEST_CASE(expiry_aborts, Fixture) {
  run({"SET", "k", "a", "PX", "100"});
  run({"WATCH", "k"});
  advance(200);
  run({"MULTI"});
  run({"GET", "k"});
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
}

BOOST_FIXTURE_TEST_CASE(write_inside_a_script_aborts, Fixture) {
  semlock::redis::ClientState other;
  other.id = 8;
  run({"WATCH", "k"});
  run_as(*this, other, {"EVAL", "return redis.call('set', KEYS[1], 'x', 'px', 5000)", "1", "k"});
  run({"MULTI"});
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
}

// Regression: a blocked BLPOP served after the push that woke it (the server serves waiters
// once the pushing command, EXEC or script has finished, and again when an element popped for a
// closed client is put back) changes the list without a command on it. The watch must see that:
// a list's fingerprint does not cover its contents.
BOOST_FIXTURE_TEST_CASE(a_blocked_pop_served_later_aborts, Fixture) {
  semlock::redis::ClientState waiter;
  waiter.id = 8;
  semlock::redis::ClientState pusher;
  pusher.id = 9;
  BOOST_TEST(run_as(*this, waiter, {"BLPOP", "l", "0"}).empty());  // blocked
  BOOST_TEST(run_as(*this, pusher, {"RPUSH", "l", "a", "b", "c"}) == ":3\r\n");
  BOOST_TEST(run({"WATCH", "l", "other"}) == "+OK\r\n");
  engine.data().serve_pop_waiters(now);  // the waiter pops "a": the list is now b, c
  const auto events = engine.data().take_pop_events();
  BOOST_TEST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0].value == "a");
  run({"MULTI"});
  run({"LRANGE", "l", "0", "-1"});
  BOOST_TEST(run({"EXEC"}) == "*-1\r\n");
  // Only the list that was popped from: a watch on another key still runs.
  BOOST_TEST(run({"WATCH", "other"}) == "+OK\r\n");
  BOOST_TEST(run_as(*this, waiter, {"BLPOP", "l2", "0"}).empty());
  BOOST_TEST(run_as(*this, pusher, {"RPUSH", "l2", "x", "y"}) == ":2\r\n");
  engine.data().serve_pop_waiters(now);
  run({"MULTI"});
  run({"LRANGE", "l", "0", "-1"});
  BOOST_TEST(run({"EXEC"}) == "*1\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

BOOST_FIXTURE_TEST_CASE(watch_inside_multi_and_unwatch, Fixture) {
  run({"WATCH", "k"});
  BOOST_TEST(run({"UNWATCH"}) == "+OK\r\n");
  BOOST_TEST(client.watched.empty());
  run({"MULTI"});
  BOOST_TEST(run({"WATCH", "k"}) == "-ERR WATCH inside MULTI is not allowed\r\n");
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
  BOOST_TEST(run({"WATCH"}) == "-ERR wrong number of arguments for 'watch' command\r\n");
}

BOOST_FIXTURE_TEST_CASE(discard_and_reset_drop_the_watch, Fixture) {
  run({"WATCH", "k"});
  run({"MULTI"});
  run({"DISCARD"});
  BOOST_TEST(client.watched.empty());
  run({"WATCH", "k"});
  run({"RESET"});
  BOOST_TEST(client.watched.empty());
  BOOST_TEST(client.compat_bytes == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pubsub)

BOOST_FIXTURE_TEST_CASE(resp2_messages_and_subscribed_mode, Fixture) {
  semlock::redis::ClientState pub;
  pub.id = 9;
  BOOST_TEST(run({"SUBSCRIBE", "c"}) == "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
  BOOST_TEST(run({"PSUBSCRIBE", "c*"}) == "*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n");
  BOOST_TEST(client.compat_bytes > 0u);
  BOOST_TEST(run({"SET", "k", "v"}) ==
             "-ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
             "RESET are allowed in this context\r\n");
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "c", "hi"}) == ":2\r\n");
  BOOST_REQUIRE(host.delivered.size() == 2u);
  BOOST_TEST(host.delivered[0].first == client.id);
  BOOST_TEST(host.delivered[0].second == "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
  BOOST_TEST(host.delivered[1].second ==
             "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$1\r\nc\r\n$2\r\nhi\r\n");
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "d", "hi"}) == ":0\r\n");
  BOOST_TEST(run({"RESET"}) == "+RESET\r\n");
  BOOST_TEST(client.subscriptions() == 0u);
  BOOST_TEST(client.compat_bytes == 0u);
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "c", "hi"}) == ":0\r\n");
}

BOOST_FIXTURE_TEST_CASE(resp3_push_and_commands_while_subscribed, Fixture) {
  client.proto = 3;
  semlock::redis::ClientState pub;
  pub.id = 9;
  BOOST_TEST(run({"SUBSCRIBE", "c"}) == ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "_\r\n");
  BOOST_TEST(run({"PING"}) == "+PONG\r\n");
  run_as(*this, pub, {"PUBLISH", "c", "x"});
  BOOST_REQUIRE(host.delivered.size() == 1u);
  BOOST_TEST(host.delivered[0].second == ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n");
  BOOST_TEST(run({"UNSUBSCRIBE"}) == ">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n");
  BOOST_TEST(run({"UNSUBSCRIBE"}) == ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

BOOST_FIXTURE_TEST_CASE(publish_to_the_servers_own_channels_is_refused, Fixture) {
  // A forged lost-lock notice: refused before any subscriber sees it, from a script too.
  semlock::redis::ClientState pub;
  pub.id = 9;
  run({"SUBSCRIBE", "__semlock__:lost:k"});
  const std::string refused =
      "-ERR channels starting with '__semlock__:' are reserved for the server's own notices\r\n";
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "__semlock__:lost:k", "semlock-lost k o 1 expired"}) ==
             refused);
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "__semlock__:", "x"}) == refused);
  BOOST_TEST(run_as(*this, pub,
                    {"EVAL", "return redis.pcall('publish', '__semlock__:lost:k', 'x')", "0"}) ==
             refused);
  BOOST_TEST(host.delivered.empty());
  BOOST_TEST(run_as(*this, pub, {"PUBLISH", "__semlock__", "x"}) == ":0\r\n");
}

BOOST_FIXTURE_TEST_CASE(subscribe_is_refused_in_scripts, Fixture) {
  BOOST_TEST(run({"EVAL", "return redis.call('subscribe', 'c')", "0"}).starts_with("-"));
  BOOST_TEST(client.subscriptions() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
