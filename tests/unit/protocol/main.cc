#define BOOST_TEST_MODULE protocol_tests
#include <boost/test/unit_test.hpp>
