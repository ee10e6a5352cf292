// The per-request helpers the profile of pipelined acquires pointed at (issue 18): the command
// lookup with its last-name cache, and the integer parser's short-number path. Both must answer
// exactly as the slow paths do.
#include <boost/test/unit_test.hpp>

#include "redis-compat/args.h"
#include "redis-compat/command_table.h"

using semlock::redis::find_command;
using semlock::redis::parse_int64;

BOOST_AUTO_TEST_SUITE(lookup)

BOOST_AUTO_TEST_CASE(the_cached_name_never_answers_for_another_name) {
  const auto* get = find_command("GET");
  const auto* set = find_command("set");
  BOOST_REQUIRE(get != nullptr);
  BOOST_REQUIRE(set != nullptr);
  BOOST_TEST(get != set);
  BOOST_TEST(find_command("GET") == get);  // cached spelling
  BOOST_TEST(find_command("GET") == get);
  BOOST_TEST(find_command("gEt") == get);  // another spelling: looked up, same command
  BOOST_TEST(find_command("SET") == set);  // same length as the cached name, other bytes
  BOOST_TEST(find_command("SETX") == nullptr);
  BOOST_TEST(find_command("SET") == set);  // an unknown name did not replace the cache
  BOOST_TEST(find_command("") == nullptr);
  BOOST_TEST(find_command(std::string(40, 'a')) == nullptr);
  BOOST_TEST(find_command("SEMLOCK.ACQUIRE") == find_command("semlock.acquire"));
}

BOOST_AUTO_TEST_CASE(parse_int64_short_numbers_match_redis_rules) {
  BOOST_TEST(parse_int64("0").value() == 0);
  BOOST_TEST(parse_int64("30000").value() == 30000);
  BOOST_TEST(parse_int64("-17").value() == -17);
  BOOST_TEST(parse_int64("999999999999999999").value() == 999999999999999999LL);  // 18 digits
  BOOST_TEST(parse_int64("-999999999999999999").value() == -999999999999999999LL);
  BOOST_TEST(!parse_int64("-0").has_value());
  BOOST_TEST(!parse_int64("007").has_value());
  BOOST_TEST(!parse_int64("12a").has_value());
  BOOST_TEST(!parse_int64("1 ").has_value());
  BOOST_TEST(!parse_int64("-").has_value());
  BOOST_TEST(!parse_int64("").has_value());
  BOOST_TEST(!parse_int64("+5").has_value());
  BOOST_TEST(!parse_int64("/").has_value());  // the byte below '0'
  BOOST_TEST(!parse_int64(":").has_value());  // the byte above '9'
}

BOOST_AUTO_TEST_CASE(parse_int64_long_numbers_keep_the_overflow_checks) {
  BOOST_TEST(parse_int64("9223372036854775807").value() == INT64_MAX);
  BOOST_TEST(parse_int64("-9223372036854775808").value() == INT64_MIN);
  BOOST_TEST(!parse_int64("9223372036854775808").has_value());
  BOOST_TEST(!parse_int64("-9223372036854775809").has_value());
  BOOST_TEST(!parse_int64("18446744073709551616").has_value());
  BOOST_TEST(parse_int64("1000000000000000000").value() == 1000000000000000000LL);  // 19 digits
}

BOOST_AUTO_TEST_SUITE_END()
