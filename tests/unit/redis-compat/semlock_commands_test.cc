// SEMLOCK.* commands, their error texts, and the dispatcher's unknown-command and arity texts.
#include <boost/test/unit_test.hpp>
#include <set>

#include "tests/unit/redis-compat/test_host.h"

using semlock::EngineLimits;
using semlock::redis::Outcome;
using semlock::test::Fixture;

BOOST_FIXTURE_TEST_SUITE(semlock_commands, Fixture)

BOOST_AUTO_TEST_CASE(acquire_generates_owner_and_fences_increase) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000"}) == "*2\r\n$7\r\nowner-1\r\n:1000\r\n");
  BOOST_TEST(run({"semlock.acquire", "k", "1000"}) == "$-1\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k2", "1000", "OWNER", "me"}) ==
             "*2\r\n$2\r\nme\r\n:1001\r\n");
  // Idempotent re-acquire by an explicit owner: same fence.
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k2", "1000", "OWNER", "me"}) ==
             "*2\r\n$2\r\nme\r\n:1001\r\n");
}

BOOST_AUTO_TEST_CASE(acquire_semaphore_limit_and_mismatch) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "2"}) ==
             "*2\r\n$7\r\nowner-1\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "2"}) ==
             "*2\r\n$7\r\nowner-2\r\n:1001\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "2"}) == "$-1\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"}) ==
             "-MISMATCH key exists with a different limit\r\n");
}

BOOST_AUTO_TEST_CASE(acquire_argument_errors) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "x"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "0"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "-5"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "3600001"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "", "10"}) == "-ERR invalid key\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", std::string(17, 'k'), "10"}) == "-ERR key too long\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "OWNER", ""}) == "-ERR invalid owner\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "OWNER", std::string(129, 'o')}) ==
             "-ERR invalid owner\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "LIMIT", "0"}) == "-ERR invalid LIMIT\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "LIMIT", "101"}) == "-ERR invalid LIMIT\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "LIMIT", "two"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "WAIT", "-1"}) == "-ERR invalid WAIT\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "WAIT", "3600001"}) == "-ERR invalid WAIT\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "BOGUS"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "10", "OWNER"}) == "-ERR syntax error\r\n");
  BOOST_TEST(engine.stats().active_locks == 0u);
}

BOOST_AUTO_TEST_CASE(acquire_wait_blocks_through_the_host) {
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a"});
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "b", "WAIT", "500"}).empty());
  BOOST_TEST(last_outcome == Outcome::kBlocked);
  BOOST_REQUIRE(host.blocked.size() == 1u);
  BOOST_TEST(host.blocked[0].key == "k");
  BOOST_TEST(host.blocked[0].owner == "b");
  BOOST_TEST(host.blocked[0].tag == 1u);
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "a"}) == ":1\r\n");
  const auto events = engine.take_events();
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0].granted);
  BOOST_TEST(events[0].tag == 1u);
}

BOOST_AUTO_TEST_CASE(wait_is_ignored_when_blocking_is_not_allowed) {
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a"});
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "WAIT", "500"}, false) == "$-1\r\n");
  BOOST_TEST(host.blocked.empty());
}

BOOST_AUTO_TEST_CASE(session_grant_is_reported) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a", "SESSION"}) ==
             "*2\r\n$1\r\na\r\n:1000\r\n");
  BOOST_REQUIRE(host.sessions.size() == 1u);
  BOOST_TEST(host.sessions[0].fence == 1000u);
}

// Issue 11 #3: SPEC §1, the binding stays with the connection that created the holder. A SESSION
// acquire that only refreshed an existing holder (explicit owner already holding) binds nothing.
BOOST_AUTO_TEST_CASE(session_refresh_of_an_existing_holder_binds_nothing) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "w1"}) == "*2\r\n$2\r\nw1\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "5000", "OWNER", "w1", "SESSION"}) ==
             "*2\r\n$2\r\nw1\r\n:1000\r\n");
  BOOST_TEST(host.sessions.empty());
  advance(4000);  // the refresh itself happened: the holder now lives 5 s from the refresh
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":1\r\n");
  // A SESSION acquire that creates a holder is bound; refreshing it again binds nothing more.
  run({"SEMLOCK.ACQUIRE", "s", "1000", "OWNER", "w2", "SESSION"});
  run({"SEMLOCK.ACQUIRE", "s", "1000", "OWNER", "w2", "SESSION"});
  BOOST_REQUIRE(host.sessions.size() == 1u);
  BOOST_TEST(host.sessions[0].key == "s");
  BOOST_TEST(host.sessions[0].owner == "w2");
}

BOOST_AUTO_TEST_CASE(release_extend_exists) {
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a"});
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "b", "5000"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "a", "5000"}) == ":1\r\n");
  advance(4000);
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "a", "0"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "a", "x"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "", "10"}) == "-ERR invalid owner\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "b"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "a"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "a"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "", "a"}) == "-ERR invalid key\r\n");
}

BOOST_AUTO_TEST_CASE(expiry_is_seen_at_once) {
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a"});
  now += 1001;  // no tick: the access itself finds the holder due (once now > deadline)
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "a", "1000"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(acquire_notify_marks_the_holder_and_tells_the_host) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a", "notify"}) ==
             "*2\r\n$1\r\na\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "b", "WAIT", "50", "NOTIFY"}).empty());
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "p", "1000", "OWNER", "c"}) == "*2\r\n$1\r\nc\r\n:1001\r\n");
  BOOST_REQUIRE(host.notified.size() == 2u);
  BOOST_TEST(host.notified[0] == "k a 1000 0");
  BOOST_TEST(host.notified[1] == "k b 0 1");  // queued: the wait tag
  BOOST_TEST(engine.notify_marked(1000));
  BOOST_TEST(!engine.notify_marked(1001));
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}).ends_with("$6\r\nnotify\r\n*1\r\n:1000\r\n"));
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE", "k"}) == ":1\r\n");
  const auto lost = engine.take_lost();
  BOOST_REQUIRE(lost.size() == 1u);
  BOOST_TEST(lost[0].fence == 1000u);
  BOOST_TEST((lost[0].reason == semlock::LostReason::kForced));
}

BOOST_AUTO_TEST_CASE(info_resp2_and_resp3) {
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}) == "$-1\r\n");
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a", "LIMIT", "2"});
  advance(100);
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}) ==
             "*14\r\n$5\r\nlimit\r\n:2\r\n$7\r\nholders\r\n*1\r\n*3\r\n$1\r\na\r\n:1000\r\n:900\r\n"
             "$7\r\nwaiters\r\n:0\r\n$11\r\nwaiter_ages\r\n*0\r\n"
             "$4\r\nmode\r\n$9\r\nexclusive\r\n$5\r\nholds\r\n*1\r\n:1\r\n$6\r\nnotify\r\n*0\r\n");
  client.proto = 3;
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}) ==
             "%7\r\n$5\r\nlimit\r\n:2\r\n$7\r\nholders\r\n*1\r\n*3\r\n$1\r\na\r\n:1000\r\n:900\r\n"
             "$7\r\nwaiters\r\n:0\r\n$11\r\nwaiter_ages\r\n*0\r\n"
             "$4\r\nmode\r\n$9\r\nexclusive\r\n$5\r\nholds\r\n*1\r\n:1\r\n$6\r\nnotify\r\n*0\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "absent"}) == "_\r\n");
}

BOOST_AUTO_TEST_CASE(forcerelease_counts_holders_and_needs_admin_when_configured) {
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"});
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"});
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE", "s"}) == ":2\r\n");
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE", "s"}) == ":0\r\n");
  host.admin_keys = {"adm"};
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE", "s"}) ==
             "-NOPERM this command needs an admin API key\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "0"}) == "-NOPERM this command needs an admin API key\r\n");
  BOOST_TEST(run({"SEMLOCK.LIST"}) == "-NOPERM this command needs an admin API key\r\n");
  BOOST_TEST(run({"AUTH", "adm"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE", "s"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(scan_walks_every_key_once_and_ends_at_cursor_zero) {
  for (int i = 0; i < 25; ++i) run({"SEMLOCK.ACQUIRE", "key" + std::to_string(i), "1000"});
  run({"SEMLOCK.ACQUIRE", "other", "1000"});
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    std::vector<std::string_view> argv;
    std::vector<std::string> args = {"SEMLOCK.SCAN", cursor, "MATCH", "key*", "COUNT", "7"};
    const std::string out = run(args);
    // *2\r\n$<n>\r\n<cursor>\r\n*<k>\r\n($<len>\r\n<key>\r\n)*
    BOOST_REQUIRE(out.rfind("*2\r\n$", 0) == 0);
    std::size_t p = out.find("\r\n", 4) + 2;
    const std::size_t e = out.find("\r\n", p);
    cursor = out.substr(p, e - p);
    p = out.find("\r\n", e + 2) + 2;  // past *<k>
    while (p < out.size()) {
      const std::size_t len_end = out.find("\r\n", p);
      const std::size_t len = std::stoul(out.substr(p + 1, len_end - p - 1));
      const std::string key = out.substr(len_end + 2, len);
      BOOST_TEST(seen.insert(key).second, "key returned twice: " << key);
      p = len_end + 2 + len + 2;
    }
    BOOST_REQUIRE(++calls < 100);
  } while (cursor != "0");
  BOOST_TEST(seen.size() == 25u);
  BOOST_TEST(!seen.contains("other"));
  BOOST_TEST(calls > 1);  // bounded work per call
}

BOOST_AUTO_TEST_CASE(scan_and_list_errors) {
  BOOST_TEST(run({"SEMLOCK.SCAN", "x"}) == "-ERR invalid cursor\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "-1"}) == "-ERR invalid cursor\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "0", "COUNT", "0"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "0", "COUNT", "x"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "0", "MATCH"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN", "0"}) == "*2\r\n$1\r\n0\r\n*0\r\n");
  BOOST_TEST(run({"SEMLOCK.LIST", "BAD"}) == "-ERR syntax error\r\n");
  run({"SEMLOCK.ACQUIRE", "a1", "1000"});
  run({"SEMLOCK.ACQUIRE", "b1", "1000"});
  BOOST_TEST(run({"SEMLOCK.LIST", "MATCH", "a*"}) == "*1\r\n$2\r\na1\r\n");
  BOOST_TEST(run({"SEMLOCK.LIST", "COUNT", "1"}).rfind("*1\r\n", 0) == 0);
}

BOOST_AUTO_TEST_CASE(stats_resp2_and_resp3) {
  const std::string body =
      "$13\r\nTotalRequests\r\n:1\r\n$11\r\nActiveLocks\r\n:2\r\n$7\r\nHolders\r\n:3\r\n"
      "$7\r\nWaiters\r\n:4\r\n$15\r\nAcquireRequests\r\n:5\r\n$15\r\nReleaseRequests\r\n:6\r\n"
      "$14\r\nExtendRequests\r\n:7\r\n$16\r\nRejectedRequests\r\n:8\r\n$12\r\nExpiredLocks\r\n:"
      "9\r\n"
      "$11\r\nConnections\r\n:10\r\n$16\r\nMemoryUsageBytes\r\n:11\r\n$16\r\nMemoryLimitBytes\r\n"
      ":12\r\n$10\r\nLocksLimit\r\n:13\r\n$13\r\nUptimeSeconds\r\n:14\r\n";
  BOOST_TEST(run({"SEMLOCK.STATS"}) == "*28\r\n" + body);
  client.proto = 3;
  BOOST_TEST(run({"SEMLOCK.STATS"}) == "%14\r\n" + body);
}

BOOST_AUTO_TEST_CASE(limit_rejection_text_and_host_notice) {
  EngineLimits l = semlock::test::test_limits();
  l.max_locks = 1;
  engine.set_limits(l);
  run({"SEMLOCK.ACQUIRE", "a", "1000"});
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "b", "1000"}) ==
             "-OVERLIMIT maximum locks limit reached: 1/1\r\n");
  BOOST_REQUIRE(host.rejections.size() == 1u);
  BOOST_TEST(host.rejections[0] == semlock::EngineStatus::kOverMaxLocks);
}

BOOST_AUTO_TEST_CASE(unknown_commands_and_arity_use_redis_texts) {
  BOOST_TEST(run({"NOPE", "a", "b"}) ==
             "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n");
  BOOST_TEST(run({"nope"}) == "-ERR unknown command 'nope', with args beginning with: \r\n");
  BOOST_TEST(run({"x\r\ny", "a\nb"}) ==
             "-ERR unknown command 'x  y', with args beginning with: 'a b' \r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k"}) ==
             "-ERR wrong number of arguments for 'semlock.acquire' command\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k"}) ==
             "-ERR wrong number of arguments for 'semlock.release' command\r\n");
  BOOST_TEST(run({"SEMLOCK.EXTEND", "k", "a"}) ==
             "-ERR wrong number of arguments for 'semlock.extend' command\r\n");
  BOOST_TEST(run({"SEMLOCK.EXISTS"}) ==
             "-ERR wrong number of arguments for 'semlock.exists' command\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "a", "b"}) ==
             "-ERR wrong number of arguments for 'semlock.info' command\r\n");
  BOOST_TEST(run({"SEMLOCK.FORCERELEASE"}) ==
             "-ERR wrong number of arguments for 'semlock.forcerelease' command\r\n");
  BOOST_TEST(run({"SEMLOCK.SCAN"}) ==
             "-ERR wrong number of arguments for 'semlock.scan' command\r\n");
  BOOST_TEST(run({"SEMLOCK.STATS", "x"}) ==
             "-ERR wrong number of arguments for 'semlock.stats' command\r\n");
  BOOST_TEST(run({"CLIENT", "BOGUS"}) == "-ERR unknown subcommand 'BOGUS'. Try CLIENT HELP.\r\n");
  BOOST_TEST(run({"CLIENT"}) == "-ERR wrong number of arguments for 'client' command\r\n");
  BOOST_TEST(run({"SCRIPT", "NOPE"}) == "-ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.\r\n");
}

BOOST_AUTO_TEST_CASE(data_commands_say_this_is_a_lock_server) {
  // Counters, hashes, sorted sets and lists are served (docs/DATA.md); other types are not.
  BOOST_TEST(run({"SADD", "s", "m"}) ==
             "-ERR this is a lock server (ttl-semlock): 'SADD' is not a lock command\r\n");
  BOOST_TEST(run({"append", "x", "y"}) ==
             "-ERR this is a lock server (ttl-semlock): 'append' is not a lock command\r\n");
  BOOST_TEST(run({"XADD", "x", "*", "f", "v"}) ==
             "-ERR this is a lock server (ttl-semlock): 'XADD' is not a lock command\r\n");
  BOOST_TEST(run({"HSET", "h", "f", "v"}) == ":1\r\n");
}

BOOST_AUTO_TEST_CASE(auth_required_gates_everything_but_the_handshake) {
  host.require_auth = true;
  host.api_keys = {"secret"};
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000"}) == "-NOAUTH Authentication required.\r\n");
  BOOST_TEST(run({"GET", "k"}) == "-NOAUTH Authentication required.\r\n");
  BOOST_TEST(run({"PING"}) == "+PONG\r\n");
  // Arity is checked before auth, as Redis does.
  BOOST_TEST(run({"SEMLOCK.ACQUIRE"}) ==
             "-ERR wrong number of arguments for 'semlock.acquire' command\r\n");
  BOOST_TEST(run({"AUTH", "wrong"}) ==
             "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  BOOST_TEST(run({"AUTH", "someone", "secret"}) ==
             "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  BOOST_TEST(run({"AUTH", "default", "secret"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000"}) == "*2\r\n$7\r\nowner-1\r\n:1000\r\n");
}

// Regression: a WAIT ACQUIREALL granted at once was not recorded for an orphan give-back (only
// a queued one was), so a follower whose client left within the round trip could not give it
// back. Each key it created is reported, as a single-key acquire's; a key it only refreshed is
// not (nothing of it is the grant's own). Every grant made at once is reported (the server keeps
// it until the kernel takes the reply), marked "wait" when the request asked to wait.
BOOST_AUTO_TEST_CASE(acquireall_wait_granted_at_once_reports_each_created_key) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "a", "5000", "OWNER", "o"}) == "*2\r\n$1\r\no\r\n:1000\r\n");
  BOOST_TEST(host.granted_now == (std::vector<std::string>{"a o 1000 1005000"}));
  host.granted_now.clear();
  BOOST_TEST(run({"SEMLOCK.ACQUIREALL", "1000", "3", "a", "b", "c", "OWNER", "o", "WAIT", "100"}) ==
             "*2\r\n$1\r\no\r\n*3\r\n:1000\r\n:1001\r\n:1002\r\n");
  BOOST_TEST(host.granted_now ==
             (std::vector<std::string>{"b o 1001 1001000 wait", "c o 1002 1001000 wait"}));
  host.granted_now.clear();
  BOOST_TEST(run({"SEMLOCK.ACQUIREALL", "1000", "1", "d", "OWNER", "o"}) ==
             "*2\r\n$1\r\no\r\n*1\r\n:1003\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIREALL", "1000", "1", "e", "WAIT", "100"}, false) ==
             "*2\r\n$7\r\nowner-1\r\n*1\r\n:1004\r\n");  // MULTI, scripts: no wait
  BOOST_TEST(host.granted_now ==
             (std::vector<std::string>{"d o 1003 1001000", "e owner-1 1004 1001000"}));
  host.granted_now.clear();
  // A refresh (the owner holds already) creates nothing; a reentrant one adds a hold, its own.
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "a", "5000", "OWNER", "o"}) == "*2\r\n$1\r\no\r\n:1000\r\n");
  BOOST_TEST(host.granted_now.empty());
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "a", "5000", "OWNER", "o", "REENTRANT"}) ==
             "*2\r\n$1\r\no\r\n:1000\r\n");
  BOOST_TEST(host.granted_now == (std::vector<std::string>{"a o 1000 1005000"}));
}

// SEMLOCK.CLUSTER is in the command table like every SEMLOCK.* command (COMMAND COUNT, INFO,
// DOCS, LIST): a container of ADD, REMOVE, MEMBERS (no keys) and ORPHAN (its key at argv[2],
// Redis 7's key spec). Cluster mode answers it before the table; a server that is no cluster
// member says cluster mode is off. Regression: it was missing (COMMAND INFO answered null).
BOOST_AUTO_TEST_CASE(semlock_cluster_is_in_the_command_table) {
  BOOST_TEST(semlock::redis::find_command("SEMLOCK.CLUSTER") != nullptr);
  const std::size_t count = semlock::redis::all_commands().size();
  BOOST_TEST(run({"COMMAND", "COUNT"}) == ":" + std::to_string(count) + "\r\n");
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "PATTERN", "semlock.c*"}) ==
             "*1\r\n$15\r\nsemlock.cluster\r\n");
  const std::string no_keys = ":0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n*0\r\n";
  const std::string admin = "*3\r\n+admin\r\n+no_multi\r\n+noscript\r\n";
  BOOST_TEST(run({"COMMAND", "INFO", "semlock.cluster"}) ==
             "*1\r\n*10\r\n$15\r\nsemlock.cluster\r\n:-2\r\n*2\r\n+no_multi\r\n+noscript\r\n"
             ":0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n*4\r\n"
             "*10\r\n$19\r\nsemlock.cluster|add\r\n:5\r\n" +
                 admin + no_keys + "*10\r\n$22\r\nsemlock.cluster|remove\r\n:3\r\n" + admin +
                 no_keys + "*10\r\n$23\r\nsemlock.cluster|members\r\n:2\r\n" + admin + no_keys +
                 "*10\r\n$22\r\nsemlock.cluster|orphan\r\n:5\r\n"
                 "*5\r\n+write\r\n+admin\r\n+no_multi\r\n+noscript\r\n+fast\r\n:2\r\n:2\r\n:1\r\n"
                 "*0\r\n*0\r\n*1\r\n*8\r\n$5\r\nflags\r\n*1\r\n+RW\r\n$12\r\nbegin_search\r\n*4\r\n"
                 "$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_"
                 "keys\r\n"
                 "*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n"
                 "$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n$5\r\nnotes\r\n$0\r\n\r\n*0\r\n");
  // DOCS: ORPHAN's first argument is the key (key spec 0); ADD's are plain strings.
  const std::string docs = run({"COMMAND", "DOCS", "semlock.cluster"});
  BOOST_TEST(docs.find("$11\r\nsubcommands\r\n*8\r\n$19\r\nsemlock.cluster|add\r\n") !=
             std::string::npos);
  BOOST_TEST(docs.find("$22\r\nsemlock.cluster|orphan\r\n") != std::string::npos);
  BOOST_TEST(docs.find("$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\n"
                       "display_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n") !=
             std::string::npos);
  BOOST_TEST(docs.find("$4\r\nname\r\n$9\r\nraft-addr\r\n$4\r\ntype\r\n$6\r\nstring\r\n") !=
             std::string::npos);

  // Not a cluster member: every subcommand says so, after Redis's arity and permission checks.
  BOOST_TEST(run({"SEMLOCK.CLUSTER", "MEMBERS"}) == "-ERR cluster mode is off\r\n");
  BOOST_TEST(run({"semlock.cluster", "orphan", "k", "o", "5"}) == "-ERR cluster mode is off\r\n");
  BOOST_TEST(run({"SEMLOCK.CLUSTER", "ADD", "4"}) ==
             "-ERR wrong number of arguments for 'semlock.cluster|add' command\r\n");
  BOOST_TEST(run({"SEMLOCK.CLUSTER"}) ==
             "-ERR wrong number of arguments for 'semlock.cluster' command\r\n");
  BOOST_TEST(run({"SEMLOCK.CLUSTER", "NOPE"}) ==
             "-ERR unknown subcommand 'NOPE'. Try SEMLOCK.CLUSTER HELP.\r\n");
  // Never from a script; inside MULTI it runs at once, as a cluster member runs it.
  BOOST_TEST(run({"EVAL", "return redis.call('semlock.cluster', 'members')", "0"})
                 .find("This Redis command is not allowed from script") != std::string::npos);
  BOOST_TEST(run({"MULTI"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.CLUSTER", "MEMBERS"}) == "-ERR cluster mode is off\r\n");
  BOOST_TEST(run({"EXEC"}) == "*0\r\n");
  host.admin_keys = {"adm"};
  BOOST_TEST(run({"SEMLOCK.CLUSTER", "REMOVE", "2"}).rfind("-NOPERM", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
