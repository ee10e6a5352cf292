// SCAN over live keys and Redis glob matching.
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <string>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

BOOST_AUTO_TEST_SUITE(scan_glob)

BOOST_AUTO_TEST_CASE(scan_covers_every_key_exactly_once) {
  Engine e(test::unlimited(), 1);
  for (int i = 0; i < 5000; ++i) acq(e, test::name("k", i), "o", 100000, 0);
  // Holes in the slot space, and a key whose holder is due: not listed.
  for (int i = 0; i < 5000; i += 7) e.release(test::name("k", i), "o", 0);
  acq(e, "due", "o", 5, 0);
  std::map<std::string, int> seen;
  std::uint64_t cursor = 0;
  int calls = 0;
  do {
    ScanResult r = e.scan(cursor, "", 100, 10);
    BOOST_TEST_REQUIRE(r.keys.size() <= 100u);
    for (auto& k : r.keys) ++seen[k];
    cursor = r.next_cursor;
    ++calls;
  } while (cursor != 0 && calls < 10000);
  BOOST_TEST(cursor == 0u);
  std::size_t expected = 0;
  for (int i = 0; i < 5000; ++i) {
    if (i % 7 == 0) continue;
    ++expected;
    BOOST_TEST_REQUIRE(seen[test::name("k", i)] == 1);
  }
  BOOST_TEST(seen.count("due") == 0u);
  BOOST_TEST(seen.size() == expected);
  BOOST_TEST(e.stats().active_locks == expected);  // the due key was removed on the way
}

BOOST_AUTO_TEST_CASE(scan_match_and_bounded_work) {
  Engine e(test::unlimited(), 1);
  BOOST_TEST(e.scan(0, "", 10, 0).next_cursor == 0u);  // empty engine
  for (int i = 0; i < 300; ++i) {
    acq(e, test::name((i % 3 ? "user:" : "job:"), i), "o", 1000, 0);
  }
  std::set<std::string> jobs;
  std::uint64_t cursor = 0;
  do {
    ScanResult r = e.scan(cursor, "job:*", 10, 0);
    for (auto& k : r.keys) {
      BOOST_TEST(k.rfind("job:", 0) == 0u);
      jobs.insert(k);
    }
    cursor = r.next_cursor;
  } while (cursor != 0);
  BOOST_TEST(jobs.size() == 100u);
  ScanResult one = e.scan(0, "", 0, 0);  // COUNT 0 means Redis's default, 10
  BOOST_TEST(one.keys.size() == 10u);
  BOOST_TEST(one.next_cursor != 0u);
  BOOST_TEST(e.scan(1ull << 40, "", 10, 0).next_cursor == 0u);  // past the end: done
}

// A few keys in a big slab: one call from cursor 0 that saw every key ends the iteration, where it
// used to stop after COUNT x 10 empty slots with cursor 500 (the JSON list through a cluster
// follower looked wrong for it; the single node answered the same).
BOOST_AUTO_TEST_CASE(scan_that_saw_every_key_is_done) {
  Engine e(test::unlimited(), 1);
  acq(e, "j2", "o", 1000, 0);
  acq(e, "j3", "o", 1000, 0);
  ScanResult r = e.scan(0, "", 50, 0);
  BOOST_TEST(r.keys.size() == 2u);
  BOOST_TEST(r.next_cursor == 0u);
  r = e.scan(0, "j2*", 50, 0);  // MATCH filters what is returned, not what is seen
  BOOST_TEST(r.keys == std::vector<std::string>{"j2"}, boost::test_tools::per_element());
  BOOST_TEST(r.next_cursor == 0u);
  // Not all seen (COUNT 1 of 2 keys): the cursor goes on, and the next call finishes.
  r = e.scan(0, "", 1, 0);
  BOOST_TEST(r.keys.size() == 1u);
  BOOST_TEST(r.next_cursor != 0u);
  std::set<std::string> seen(r.keys.begin(), r.keys.end());
  std::uint64_t cursor = r.next_cursor;
  while (cursor != 0) {
    r = e.scan(cursor, "", 1, 0);
    seen.insert(r.keys.begin(), r.keys.end());
    cursor = r.next_cursor;
  }
  BOOST_TEST(seen.size() == 2u);
  // A due key removed on the way still lets the call end at once.
  acq(e, "due", "o", 5, 0);
  r = e.scan(0, "", 50, 10);
  BOOST_TEST(r.keys.size() == 2u);
  BOOST_TEST(r.next_cursor == 0u);
}

BOOST_AUTO_TEST_CASE(glob_cases) {
  BOOST_TEST(!glob_match("*", ""));  // as Redis: the loop never runs on an empty string
  BOOST_TEST(glob_match("*", "anything"));
  BOOST_TEST(glob_match("", ""));
  BOOST_TEST(!glob_match("", "a"));
  BOOST_TEST(glob_match("h?llo", "hello"));
  BOOST_TEST(!glob_match("h?llo", "hllo"));
  BOOST_TEST(glob_match("h*llo", "hllo"));
  BOOST_TEST(glob_match("h*llo", "heeeello"));
  BOOST_TEST(glob_match("h[ae]llo", "hallo"));
  BOOST_TEST(!glob_match("h[ae]llo", "hillo"));
  BOOST_TEST(glob_match("h[^e]llo", "hallo"));
  BOOST_TEST(!glob_match("h[^e]llo", "hello"));
  BOOST_TEST(glob_match("h[a-b]llo", "hbllo"));
  BOOST_TEST(glob_match("h[b-a]llo", "hallo"));  // reversed range, as Redis
  BOOST_TEST(!glob_match("h[a-b]llo", "hcllo"));
  BOOST_TEST(glob_match("a\\*b", "a*b"));
  BOOST_TEST(!glob_match("a\\*b", "axb"));
  BOOST_TEST(glob_match("[\\]]", "]"));
  BOOST_TEST(glob_match("[\\-]", "-"));
  BOOST_TEST(glob_match("a*b*c", "a-b-c"));
  BOOST_TEST(!glob_match("a*b*c", "a-b-d"));
  BOOST_TEST(glob_match("a**", "a"));
  BOOST_TEST(glob_match("lock:*:x", "lock:1:2:x"));
  BOOST_TEST(!glob_match("[abc", "d"));  // unterminated class
  BOOST_TEST(glob_match("[abc", "a"));
  BOOST_TEST(glob_match("ab\\", "ab\\"));  // a trailing backslash matches itself
  BOOST_TEST(!glob_match("?", ""));
  BOOST_TEST(glob_match("\xe9*", "\xe9t\xe9"));   // bytes, not characters
  BOOST_TEST(glob_match("[\x01-\xff]", "\x80"));  // unsigned ranges
  // Pathological pattern returns (skipLongerMatches): no exponential blow-up.
  BOOST_TEST(!glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", std::string(60, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()
