#define BOOST_TEST_MODULE server_unit_tests
#include <boost/test/unit_test.hpp>
