#include "protocol/resp_reply.h"

#include <boost/test/unit_test.hpp>

#include <string>

using semlock::resp::encode_command;
using semlock::resp::granted_owner;
using semlock::resp::kMalformed;
using semlock::resp::reply_length;

BOOST_AUTO_TEST_SUITE(resp_reply)

BOOST_AUTO_TEST_CASE(scalars) {
  BOOST_TEST(reply_length("+OK\r\n") == 5u);
  BOOST_TEST(reply_length("-CLUSTERDOWN The cluster is down\r\n+OK\r\n") == 34u);
  BOOST_TEST(reply_length(":12\r\n") == 5u);
  BOOST_TEST(reply_length("_\r\n") == 3u);
  BOOST_TEST(reply_length("#t\r\n,1.5\r\n(123\r\n") == 4u);
  BOOST_TEST(reply_length("$3\r\nabc\r\n") == 9u);
  BOOST_TEST(reply_length("$-1\r\n") == 5u);
  BOOST_TEST(reply_length("$0\r\n\r\n") == 6u);
  // A bulk may hold CRLF: its length frames it, not the line.
  BOOST_TEST(reply_length("$4\r\na\r\nb\r\n") == 10u);
  BOOST_TEST(reply_length("=7\r\ntxt:abc\r\n") == 13u);
}

BOOST_AUTO_TEST_CASE(incomplete_is_zero) {
  BOOST_TEST(reply_length("") == 0u);
  BOOST_TEST(reply_length("+OK\r") == 0u);
  BOOST_TEST(reply_length("$3\r\nab") == 0u);
  BOOST_TEST(reply_length("$3\r\nabc\r") == 0u);
  BOOST_TEST(reply_length("*2\r\n$1\r\na\r\n") == 0u);
  BOOST_TEST(reply_length("%1\r\n+k\r\n") == 0u);
  BOOST_TEST(reply_length("|1\r\n+a\r\n+b\r\n") == 0u);  // the attribute's value not yet there
}

BOOST_AUTO_TEST_CASE(aggregates) {
  const std::string grant = "*2\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n:1796270041532013\r\n";
  BOOST_TEST(reply_length(grant + "+PONG\r\n") == grant.size());
  BOOST_TEST(reply_length("*-1\r\n") == 5u);
  BOOST_TEST(reply_length("*0\r\n") == 4u);
  const std::string info3 =
      "%3\r\n+limit\r\n:1\r\n+holders\r\n*1\r\n*3\r\n$1\r\no\r\n:5\r\n:100\r\n+waiters\r\n:0\r\n";
  BOOST_TEST(reply_length(info3) == info3.size());
  const std::string nested = "*2\r\n*2\r\n:1\r\n~1\r\n+x\r\n>2\r\n+a\r\n_\r\n";
  BOOST_TEST(reply_length(nested) == nested.size());
  const std::string attr = "|1\r\n+key\r\n+val\r\n:7\r\n";
  BOOST_TEST(reply_length(attr) == attr.size());
}

BOOST_AUTO_TEST_CASE(malformed) {
  BOOST_TEST(reply_length("?what\r\n") == kMalformed);
  BOOST_TEST(reply_length("$x\r\n") == kMalformed);
  BOOST_TEST(reply_length("$-2\r\n") == kMalformed);
  BOOST_TEST(reply_length("*2\r\n:1\r\n!x\r\n") == kMalformed);
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  BOOST_TEST(reply_length(deep) == kMalformed);  // nesting is bounded
}

BOOST_AUTO_TEST_CASE(encode) {
  std::string out;
  encode_command({"SEMLOCK.RELEASE", "k", std::string_view("a\0b", 3)}, out);
  BOOST_TEST(out == std::string("*3\r\n$15\r\nSEMLOCK.RELEASE\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 42));
}

BOOST_AUTO_TEST_CASE(grant_owner) {
  BOOST_TEST(granted_owner("*2\r\n$5\r\nowner\r\n:42\r\n").value_or("") == "owner");
  BOOST_TEST(!granted_owner("$-1\r\n").has_value());
  BOOST_TEST(!granted_owner("_\r\n").has_value());
  BOOST_TEST(!granted_owner("-CLUSTERDOWN The cluster is down\r\n").has_value());
  BOOST_TEST(!granted_owner("*2\r\n$9\r\nshort\r\n").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
