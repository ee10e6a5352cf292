#define BOOST_TEST_MODULE redis_compat_tests
#include <boost/test/unit_test.hpp>
