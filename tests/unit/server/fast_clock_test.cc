// FastClock (server/fast_clock.h): stamps are uv_hrtime() nanoseconds until calibrated, and a
// duration never comes out negative.
#include "server/fast_clock.h"

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(fast_clock)

BOOST_AUTO_TEST_CASE(uncalibrated_stamps_are_nanoseconds) {
  semlock::FastClock clock;  // calibrate() never called: no counter in use
  BOOST_TEST(!clock.uses_counter());
  const std::uint64_t a = clock.stamp();
  BOOST_TEST(a > 0u);
  BOOST_TEST(clock.seconds(a, a + 1'500'000'000) == 1.5);
  BOOST_TEST(clock.seconds(a, a) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_counter_going_backwards_gives_zero) {
  semlock::FastClock clock;
  BOOST_TEST(clock.seconds(5000, 3000) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
