// SHARED and REENTRANT on SEMLOCK.ACQUIRE: replies, SEMLOCK.INFO's mode and holds, exact error
// texts of the bad combinations, and the Redis string commands on a key held by readers.
#include <boost/test/unit_test.hpp>

#include "tests/unit/redis-compat/test_host.h"

using semlock::test::Fixture;

BOOST_FIXTURE_TEST_SUITE(rwlock_commands, Fixture)

BOOST_AUTO_TEST_CASE(shared_readers_and_info_mode) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "r1", "SHARED"}) ==
             "*2\r\n$2\r\nr1\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "shared", "OWNER", "r2"}) ==
             "*2\r\n$2\r\nr2\r\n:1001\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "w"}) == "$-1\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}) ==
             "*14\r\n$5\r\nlimit\r\n:1\r\n$7\r\nholders\r\n*2\r\n"
             "*3\r\n$2\r\nr1\r\n:1000\r\n:1000\r\n*3\r\n$2\r\nr2\r\n:1001\r\n:1000\r\n"
             "$7\r\nwaiters\r\n:0\r\n$11\r\nwaiter_ages\r\n*0\r\n"
             "$4\r\nmode\r\n$6\r\nshared\r\n$5\r\nholds\r\n*2\r\n:1\r\n:1\r\n$6\r\nnotify\r\n*0\r\n");
  // Redis's string commands treat a key held by readers as they treat a semaphore.
  BOOST_TEST(run({"GET", "k"}) ==
             "-WRONGTYPE Operation against a key holding a semaphore (limit > 1)\r\n");
  BOOST_TEST(run({"SET", "k", "x"}) ==
             "-WRONGTYPE Operation against a key holding a semaphore (limit > 1)\r\n");
  BOOST_TEST(run({"TYPE", "k"}) == "+semaphore\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "r1"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "r2"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "w"}) == "*2\r\n$1\r\nw\r\n:1002\r\n");
}

BOOST_AUTO_TEST_CASE(bad_combinations_exact_texts) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "SHARED", "LIMIT", "2"}) ==
             "-ERR SHARED (mode shared) cannot be combined with a LIMIT above 1\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "LIMIT", "3", "OWNER", "a"}) ==
             "*2\r\n$1\r\na\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "s", "1000", "SHARED"}) ==
             "-WRONGTYPE Operation against a key holding a semaphore (limit > 1)\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "o", "SHARED", "LIMIT", "1"}) ==
             "*2\r\n$1\r\no\r\n:1001\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "o"}) ==
             "-MISMATCH the owner holds this key in the other mode (shared/exclusive)\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "o", "SHARED", "SHARED"}) ==
             "*2\r\n$1\r\no\r\n:1001\r\n");  // a flag given twice is the flag
}

BOOST_AUTO_TEST_CASE(reentrant_counts_and_releases) {
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "me", "REENTRANT"}) ==
             "*2\r\n$2\r\nme\r\n:1000\r\n");
  advance(100);
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "5000", "OWNER", "me", "REENTRANT"}) ==
             "*2\r\n$2\r\nme\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "5000", "REENTRANT", "OWNER", "me"}) ==
             "*2\r\n$2\r\nme\r\n:1000\r\n");
  BOOST_TEST(run({"SEMLOCK.INFO", "k"}) ==
             "*14\r\n$5\r\nlimit\r\n:1\r\n$7\r\nholders\r\n*1\r\n*3\r\n$2\r\nme\r\n:1000\r\n:5000\r\n"
             "$7\r\nwaiters\r\n:0\r\n$11\r\nwaiter_ages\r\n*0\r\n"
             "$4\r\nmode\r\n$9\r\nexclusive\r\n$5\r\nholds\r\n*1\r\n:3\r\n$6\r\nnotify\r\n*0\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "me"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "me"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "me"}) == ":1\r\n");
  BOOST_TEST(run({"SEMLOCK.EXISTS", "k"}) == ":0\r\n");
  BOOST_TEST(run({"SEMLOCK.RELEASE", "k", "me"}) == ":0\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
