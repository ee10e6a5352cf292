// The Redis lock idiom on mutex keys (SPEC §3): SET with every option in any order, GET, DEL,
// EXISTS, PEXPIRE/EXPIRE, PTTL/TTL, DELEX, DELIFEQ, and WRONGTYPE on semaphores.
#include <boost/test/unit_test.hpp>

#include "tests/unit/redis-compat/test_host.h"

using semlock::EngineLimits;
using semlock::test::Fixture;

BOOST_FIXTURE_TEST_SUITE(keys, Fixture)

BOOST_AUTO_TEST_CASE(set_nx_acquires_and_get_returns_the_owner) {
  BOOST_TEST(run({"SET", "k", "tok1", "NX", "PX", "1000"}) == "+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$4\r\ntok1\r\n");
  BOOST_TEST(run({"SET", "k", "tok2", "PX", "1000", "NX"}) == "$-1\r\n");  // redis-py <= 5 order
  BOOST_TEST(run({"set", "k", "tok2", "nx", "ex", "1"}) == "$-1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$4\r\ntok1\r\n");
  // The holder is a real lock: SEMLOCK.* see it with its fence.
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "tok1"}) ==
             "*2\r\n$4\r\ntok1\r\n:1000\r\n");
  BOOST_TEST(run({"GET", "absent"}) == "$-1\r\n");
}

BOOST_AUTO_TEST_CASE(set_without_expiry_lives_max_ttl) {
  BOOST_TEST(run({"SET", "k", "tok", "NX"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":3600000\r\n");
  BOOST_TEST(run({"TTL", "k"}) == ":3600\r\n");
}

BOOST_AUTO_TEST_CASE(plain_set_replaces_the_holder) {
  run({"SET", "k", "a", "PX", "1000"});
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}).find("$1\r\na\r\n:1000\r\n") != std::string::npos);
  advance(500);
  // Same owner: deadline refreshed, same fence.
  BOOST_TEST(run({"SET", "k", "a", "PX", "2000"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}).find("$1\r\na\r\n:1000\r\n:2000\r\n") != std::string::npos);
  // New owner: new fence.
  BOOST_TEST(run({"SET", "k", "b", "PX", "3000"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}).find("$1\r\nb\r\n:1001\r\n:3000\r\n") != std::string::npos);
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "a"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(set_xx_only_when_held_and_get_returns_old_value) {
  BOOST_TEST(run({"SET", "k", "a", "XX"}) == "$-1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  BOOST_TEST(run({"SET", "k", "a", "GET"}) == "$-1\r\n");
  BOOST_TEST(run({"SET", "k", "b", "XX", "GET", "PX", "100"}) == "$1\r\na\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nb\r\n");
  BOOST_TEST(run({"SET", "k", "c", "NX", "GET"}) == "$1\r\nb\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nb\r\n");
  BOOST_TEST(run({"SET", "new", "c", "GET", "NX"}) == "$-1\r\n");
  BOOST_TEST(run({"GET", "new"}) == "$1\r\nc\r\n");
}

BOOST_AUTO_TEST_CASE(set_keepttl_keeps_the_remaining_time) {
  run({"SET", "k", "a", "PX", "1000"});
  advance(300);
  BOOST_TEST(run({"SET", "k", "a", "KEEPTTL"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":700\r\n");
  BOOST_TEST(run({"SET", "k2", "a", "KEEPTTL"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k2"}) == ":3600000\r\n");
}

BOOST_AUTO_TEST_CASE(set_exat_and_pxat_are_unix_times) {
  const std::int64_t now_ms = host.unix_us / 1000;
  BOOST_TEST(run({"SET", "k", "a", "PXAT", std::to_string(now_ms + 2500)}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":2500\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EXAT", std::to_string(now_ms / 1000 + 10)}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":10000\r\n");
  // A time already past: set and gone at once, as in Redis.
  BOOST_TEST(run({"SET", "k", "a", "PXAT", std::to_string(now_ms - 1)}) == "+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  BOOST_TEST(run({"EXISTS", "k"}) == ":0\r\n");
}

// Issue 11 #10: Redis 7 (checked against redis-server 7.0.15, same parser as 7.2) lets an option
// repeat (the last expire wins) and reads only the last expire value; clashing options are still
// a syntax error.
BOOST_AUTO_TEST_CASE(set_repeated_options_as_redis) {
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "EX", "10"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":10000\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "EX", "20"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":20000\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "1500", "px", "2500"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":2500\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "x", "EX", "30"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":30000\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "0", "EX", "40"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":40000\r\n");
  BOOST_TEST(run({"SET", "k", "b", "KEEPTTL", "KEEPTTL"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":40000\r\n");
  BOOST_TEST(run({"SET", "k", "c", "XX", "XX", "GET", "GET", "KEEPTTL"}) == "$1\r\nb\r\n");
  BOOST_TEST(run({"SET", "k", "d", "NX", "NX"}) == "$-1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nc\r\n");  // nothing else changed
  // The last value is the one checked; a clash or a missing value is a syntax error first.
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "EX", "0"}) ==
             "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "EX", "y"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "x", "BOGUS"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "EX"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "10", "EX", "10"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "PX", "10000"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "10", "KEEPTTL"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nc\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":40000\r\n");
}

BOOST_AUTO_TEST_CASE(set_option_errors) {
  BOOST_TEST(run({"SET", "k", "a", "NX", "XX"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "10", "EX", "1"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "10", "KEEPTTL"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "KEEPTTL", "PX", "10"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "BOGUS"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "x"}) ==
             "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "0"}) == "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "-1"}) == "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "a", "EX", "9223372036854775807"}) ==
             "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "a", "PX", "3600001"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SET", "k", "", "NX"}) == "-ERR invalid owner\r\n");
  BOOST_TEST(run({"SET", "k", std::string(129, 'x')}) == "-ERR invalid owner\r\n");
  BOOST_TEST(run({"SET", std::string(17, 'k'), "a"}) == "-ERR key too long\r\n");
  BOOST_TEST(run({"SET", "", "a"}) == "-ERR invalid key\r\n");
  BOOST_TEST(run({"SET", "k"}) == "-ERR wrong number of arguments for 'set' command\r\n");
  BOOST_TEST(engine.stats().active_locks == 0u);
}

BOOST_AUTO_TEST_CASE(set_nx_does_not_barge_past_waiters_and_respects_limits) {
  EngineLimits l = semlock::test::test_limits();
  l.max_locks = 1;
  engine.set_limits(l);
  run({"SET", "a", "x", "NX"});
  BOOST_TEST(run({"SET", "b", "x", "NX"}) == "-OVERLIMIT maximum locks limit reached: 1/1\r\n");
  BOOST_TEST(run({"SET", "b", "x"}) == "-OVERLIMIT maximum locks limit reached: 1/1\r\n");
  BOOST_TEST(host.rejections.size() == 2u);
  // Replacing the holder of an existing key is not a new key.
  BOOST_TEST(run({"SET", "a", "y"}) == "+OK\r\n");
}

BOOST_AUTO_TEST_CASE(del_counts_keys_and_force_releases) {
  run({"SET", "a", "x"});
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"});
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"});
  BOOST_TEST(run({"DEL", "a", "s", "absent"}) == ":2\r\n");
  BOOST_TEST(run({"DEL", "a"}) == ":0\r\n");
  BOOST_TEST(run({"DEL"}) == "-ERR wrong number of arguments for 'del' command\r\n");
}

BOOST_AUTO_TEST_CASE(exists_counts_every_named_key) {
  run({"SET", "a", "x"});
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3"});
  BOOST_TEST(run({"EXISTS", "a", "s", "absent", "a"}) == ":3\r\n");
  BOOST_TEST(run({"EXISTS", "absent"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(pexpire_and_expire_extend_the_holder) {
  BOOST_TEST(run({"PEXPIRE", "k", "1000"}) == ":0\r\n");
  run({"SET", "k", "a", "PX", "1000"});
  BOOST_TEST(run({"PEXPIRE", "k", "5000"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":5000\r\n");
  BOOST_TEST(run({"EXPIRE", "k", "7"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":7000\r\n");
  BOOST_TEST(run({"TTL", "k"}) == ":7\r\n");
  advance(6400);
  BOOST_TEST(run({"TTL", "k"}) == ":1\r\n");  // 600 ms rounds to 1 s, as Redis
  advance(200);
  BOOST_TEST(run({"TTL", "k"}) == ":0\r\n");
  // Options: every holder has an expiry, so NX never applies and XX always does.
  BOOST_TEST(run({"PEXPIRE", "k", "9000", "NX"}) == ":0\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "9000", "XX"}) == ":1\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "8000", "GT"}) == ":0\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "9500", "gt"}) == ":1\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "9600", "LT"}) == ":0\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "100", "XX", "LT"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":100\r\n");
  // A past expiry deletes, as in Redis.
  BOOST_TEST(run({"PEXPIRE", "k", "0"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":-2\r\n");
}

BOOST_AUTO_TEST_CASE(pexpire_errors) {
  run({"SET", "k", "a", "PX", "1000"});
  BOOST_TEST(run({"PEXPIRE", "k", "x"}) == "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "10", "NX", "XX"}) ==
             "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "10", "GT", "LT"}) ==
             "-ERR GT and LT options at the same time are not compatible\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "10", "FOO"}) == "-ERR Unsupported option FOO\r\n");
  BOOST_TEST(run({"EXPIRE", "k", "9223372036854775807"}) ==
             "-ERR invalid expire time in 'expire' command\r\n");
  BOOST_TEST(run({"PEXPIRE", "k", "3600001"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"PEXPIRE", "k"}) == "-ERR wrong number of arguments for 'pexpire' command\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":1000\r\n");
}

BOOST_AUTO_TEST_CASE(ttl_of_absent_and_expired_keys) {
  BOOST_TEST(run({"PTTL", "k"}) == ":-2\r\n");
  BOOST_TEST(run({"TTL", "k"}) == ":-2\r\n");
  run({"SET", "k", "a", "PX", "10"});
  now += 10;  // the clock is rounded up: the TTL may not have passed in this millisecond
  BOOST_TEST(run({"PTTL", "k"}) == ":0\r\n");
  now += 1;
  BOOST_TEST(run({"PTTL", "k"}) == ":-2\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  BOOST_TEST(run({"SET", "k", "b", "NX"}) == "+OK\r\n");
}

BOOST_AUTO_TEST_CASE(delex_and_delifeq_compare_then_delete) {
  run({"SET", "k", "a"});
  BOOST_TEST(run({"DELEX", "k", "IFEQ", "b"}) == ":0\r\n");
  BOOST_TEST(run({"DELEX", "k", "IFNE", "a"}) == ":0\r\n");
  BOOST_TEST(run({"DELEX", "k", "ifeq", "a"}) == ":1\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  BOOST_TEST(run({"DELEX", "k", "IFEQ", "a"}) == ":0\r\n");
  run({"SET", "k", "a"});
  BOOST_TEST(run({"DELEX", "k", "IFNE", "b"}) == ":1\r\n");
  run({"SET", "k", "a"});
  BOOST_TEST(run({"DELEX", "k"}) == ":1\r\n");
  BOOST_TEST(run({"DELEX", "k", "IFEQ"}) == "-ERR syntax error\r\n");
  BOOST_TEST(run({"DELEX", "k", "IFDEQ", "abc"}) == "-ERR syntax error\r\n");
  run({"SET", "k", "a"});
  BOOST_TEST(run({"DELIFEQ", "k", "b"}) == ":0\r\n");
  BOOST_TEST(run({"DELIFEQ", "k", "a"}) == ":1\r\n");
  BOOST_TEST(run({"DELIFEQ", "k", "a"}) == ":0\r\n");
  BOOST_TEST(run({"DELIFEQ", "k"}) == "-ERR wrong number of arguments for 'delifeq' command\r\n");
}

// On data keys, as Redis 8.4 and Valkey 9 define them: a counter is a string (its value is its
// number); a hash, sorted set or list is not (WRONGTYPE, kept); DELEX without a condition
// deletes any type.
BOOST_AUTO_TEST_CASE(delex_and_delifeq_on_data_keys) {
  const std::string wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
  BOOST_TEST(run({"INCRBY", "c", "42"}) == ":42\r\n");
  BOOST_TEST(run({"DELIFEQ", "c", "41"}) == ":0\r\n");
  BOOST_TEST(run({"DELEX", "c", "IFEQ", "042"}) == ":0\r\n");
  BOOST_TEST(run({"DELEX", "c", "IFNE", "42"}) == ":0\r\n");
  BOOST_TEST(run({"GET", "c"}) == "$2\r\n42\r\n");
  BOOST_TEST(run({"DELIFEQ", "c", "42"}) == ":1\r\n");
  BOOST_TEST(run({"EXISTS", "c"}) == ":0\r\n");
  BOOST_TEST(run({"DECR", "c"}) == ":-1\r\n");
  BOOST_TEST(run({"DELEX", "c", "IFEQ", "-1"}) == ":1\r\n");
  BOOST_TEST(run({"INCR", "c"}) == ":1\r\n");  // a new counter: the old one is gone
  BOOST_TEST(run({"DELEX", "c", "IFNE", "2"}) == ":1\r\n");
  BOOST_TEST(run({"EXISTS", "c"}) == ":0\r\n");
  run({"HSET", "h", "f", "v"});
  run({"ZADD", "z", "1", "m"});
  run({"RPUSH", "l", "x"});
  for (const char* key : {"h", "z", "l"}) {
    BOOST_TEST(run({"DELIFEQ", key, "v"}) == wrongtype, key);
    BOOST_TEST(run({"DELEX", key, "IFEQ", "x"}) == wrongtype, key);
    BOOST_TEST(run({"DELEX", key, "IFNE", "x"}) == wrongtype, key);
    BOOST_TEST(run({"EXISTS", key}) == ":1\r\n", key);
    BOOST_TEST(run({"DELEX", key}) == ":1\r\n", key);
    BOOST_TEST(run({"EXISTS", key}) == ":0\r\n", key);
  }
}

BOOST_AUTO_TEST_CASE(semaphores_are_wrongtype_except_for_del_and_exists) {
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "2"});
  const std::string wrongtype =
      "-WRONGTYPE Operation against a key holding a semaphore (limit > 1)\r\n";
  BOOST_TEST(run({"GET", "s"}) == wrongtype);
  BOOST_TEST(run({"SET", "s", "x"}) == wrongtype);
  BOOST_TEST(run({"SET", "s", "x", "NX"}) == wrongtype);
  BOOST_TEST(run({"PEXPIRE", "s", "10"}) == wrongtype);
  BOOST_TEST(run({"EXPIRE", "s", "10"}) == wrongtype);
  BOOST_TEST(run({"PTTL", "s"}) == wrongtype);
  BOOST_TEST(run({"TTL", "s"}) == wrongtype);
  BOOST_TEST(run({"DELEX", "s", "IFEQ", "x"}) == wrongtype);
  BOOST_TEST(run({"DELEX", "s"}) == wrongtype);
  BOOST_TEST(run({"DELIFEQ", "s", "x"}) == wrongtype);
  BOOST_TEST(run({"EXISTS", "s"}) == ":1\r\n");
  BOOST_TEST(run({"DEL", "s"}) == ":1\r\n");
}

// SET NX PX|EX (the lock idiom) is one engine acquire with nothing read first (issue 18): every
// answer stays the general path's, errors in the same order.
BOOST_AUTO_TEST_CASE(set_nx_with_expiry_answers_as_the_general_path) {
  run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "2"});
  const std::string wrongtype =
      "-WRONGTYPE Operation against a key holding a semaphore (limit > 1)\r\n";
  BOOST_TEST(run({"SET", "s", "x", "NX", "PX", "1000"}) == wrongtype);
  BOOST_TEST(run({"SET", "s", "x", "NX", "PX", "99999999999"}) == wrongtype);  // before the TTL
  BOOST_TEST(run({"SET", "k", "x", "NX", "PX", "3600001"}) == "-ERR invalid TTL\r\n");
  BOOST_TEST(run({"SET", "k", "x", "NX", "EX", "9223372036854776"}) ==
             "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "x", "NX", "PX", "0"}) ==
             "-ERR invalid expire time in 'set' command\r\n");
  BOOST_TEST(run({"EXISTS", "k"}) == ":0\r\n");
  BOOST_TEST(run({"SET", "k", "x", "NX", "EX", "2"}) == "+OK\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":2000\r\n");
  BOOST_TEST(run({"SET", "k", "x", "NX", "PX", "5000"}) == "$-1\r\n");  // its own owner too
  BOOST_TEST(run({"SET", "k", "y", "NX", "PX", "5000"}) == "$-1\r\n");
  BOOST_TEST(run({"PTTL", "k"}) == ":2000\r\n");  // untouched
  advance(2001);
  BOOST_TEST(run({"SET", "k", "y", "NX", "PX", "5000"}) == "+OK\r\n");  // expired: free again
  BOOST_TEST(run({"GET", "k"}) == "$1\r\ny\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
