#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "config/duration.h"

namespace semlock::config {
namespace {

BOOST_AUTO_TEST_SUITE(duration)

BOOST_AUTO_TEST_CASE(units) {
  BOOST_TEST(parse_duration("250ms").value() == 250);
  BOOST_TEST(parse_duration("5s").value() == 5000);
  BOOST_TEST(parse_duration("1m").value() == 60000);
  BOOST_TEST(parse_duration("24h").value() == 86400000);
  BOOST_TEST(parse_duration("0").value() == 0);
  BOOST_TEST(parse_duration("0s").value() == 0);
}

BOOST_AUTO_TEST_CASE(plain_numbers_are_seconds) {
  BOOST_TEST(parse_duration("2").value() == 2000);
  BOOST_TEST(parse_duration("0.5").value() == 500);
  BOOST_TEST(parse_duration("86400").value() == 86400000);
}

BOOST_AUTO_TEST_CASE(fractions_are_exact) {
  BOOST_TEST(parse_duration("1.5s").value() == 1500);
  BOOST_TEST(parse_duration("0.3s").value() == 300);
  BOOST_TEST(parse_duration("0.1s").value() == 100);
  BOOST_TEST(parse_duration("1.5h").value() == 5400000);
  BOOST_TEST(parse_duration(".5s").value() == 500);
}

BOOST_AUTO_TEST_CASE(sub_millisecond_rounds_up) {
  BOOST_TEST(parse_duration("1us").value() == 1);
  BOOST_TEST(parse_duration("1ns").value() == 1);
  BOOST_TEST(parse_duration("1000us").value() == 1);
  BOOST_TEST(parse_duration("1001us").value() == 2);
  BOOST_TEST(parse_duration("0.0001s").value() == 1);
  BOOST_TEST(parse_duration("1.0000000001s").value() == 1001);
}

BOOST_AUTO_TEST_CASE(compound_like_go) {
  BOOST_TEST(parse_duration("1h30m").value() == 5400000);
  BOOST_TEST(parse_duration("1m30s").value() == 90000);
  BOOST_TEST(parse_duration("2s500ms").value() == 2500);
}

BOOST_AUTO_TEST_CASE(rejects_malformed) {
  for (const char* bad : {"", "s", "ms", "-1s", "+1s", "5 s", " 5s", "5s ", "5x", "5sec", "1m30",
                          "abc", ".", "1..5s", "1.5.s", "5S", "1e3", "0x10"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(!parse_duration(bad).has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_overflow) {
  BOOST_TEST(!parse_duration("99999999999999999999h").has_value());
  BOOST_TEST(!parse_duration("3000000h").has_value());  // ~342 years: past int64 nanoseconds
  BOOST_TEST(parse_duration("2000000h").value() == 7200000000000LL);
}

BOOST_AUTO_TEST_CASE(format_picks_largest_exact_unit) {
  BOOST_TEST(format_duration(0) == "0ms");
  BOOST_TEST(format_duration(10) == "10ms");
  BOOST_TEST(format_duration(1500) == "1500ms");
  BOOST_TEST(format_duration(1000) == "1s");
  BOOST_TEST(format_duration(90000) == "90s");
  BOOST_TEST(format_duration(60000) == "1m");
  BOOST_TEST(format_duration(86400000) == "24h");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
