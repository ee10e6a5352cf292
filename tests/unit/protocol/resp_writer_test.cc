#include "protocol/resp_writer.h"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>

using semlock::resp::Writer;

BOOST_AUTO_TEST_SUITE(resp_writer)

BOOST_AUTO_TEST_CASE(scalars_resp2) {
  std::string out;
  Writer w(out, 2);
  w.simple("OK");
  w.error("ERR bad\r\nthing");
  w.integer(-42);
  w.integer(std::numeric_limits<std::int64_t>::min());
  w.bulk(std::string("a\0b", 3));
  w.bulk("");
  w.null();
  w.null_array();
  w.boolean(true);
  w.boolean(false);
  constexpr char kExpected[] =
      "+OK\r\n-ERR badthing\r\n:-42\r\n:-9223372036854775808\r\n"
      "$3\r\na\0b\r\n$0\r\n\r\n$-1\r\n*-1\r\n:1\r\n:0\r\n";
  BOOST_TEST(out == std::string(kExpected, sizeof kExpected - 1));
}

BOOST_AUTO_TEST_CASE(scalars_resp3) {
  std::string out;
  Writer w(out, 3);
  w.null();
  w.null_array();
  w.boolean(true);
  w.boolean(false);
  w.simple("a\rb\nc");
  BOOST_TEST(out == "_\r\n_\r\n#t\r\n#f\r\n+abc\r\n");
}

BOOST_AUTO_TEST_CASE(aggregates) {
  std::string out2;
  Writer w2(out2, 2);
  w2.array(0);
  w2.array(3);
  w2.map(2);
  w2.set(5);
  BOOST_TEST(out2 == "*0\r\n*3\r\n*4\r\n*5\r\n");
  std::string out3;
  Writer w3(out3, 3);
  w3.array(3);
  w3.map(2);
  w3.set(5);
  BOOST_TEST(out3 == "*3\r\n%2\r\n~5\r\n");
}

BOOST_AUTO_TEST_CASE(doubles) {
  std::string out3;
  Writer w3(out3, 3);
  w3.dbl(1.5);
  w3.dbl(-0.25);
  w3.dbl(3);
  w3.dbl(std::numeric_limits<double>::infinity());
  w3.dbl(-std::numeric_limits<double>::infinity());
  w3.dbl(std::nan(""));
  BOOST_TEST(out3 == ",1.5\r\n,-0.25\r\n,3\r\n,inf\r\n,-inf\r\n,nan\r\n");
  std::string out2;
  Writer w2(out2, 2);
  w2.dbl(0.1);
  w2.dbl(-std::numeric_limits<double>::infinity());
  BOOST_TEST(out2 == "$3\r\n0.1\r\n$4\r\n-inf\r\n");
}

BOOST_AUTO_TEST_CASE(verbatim_and_raw) {
  std::string out3;
  Writer w3(out3, 3);
  w3.verbatim("hello");
  w3.raw("+RAW\r\n");
  BOOST_TEST(out3 == "=9\r\ntxt:hello\r\n+RAW\r\n");
  std::string out2;
  Writer w2(out2, 2);
  w2.verbatim("hello");
  BOOST_TEST(out2 == "$5\r\nhello\r\n");
}

BOOST_AUTO_TEST_CASE(proto_can_be_switched_and_output_is_appended) {
  std::string out = "prefix";
  Writer w(out, 2);
  BOOST_TEST(w.proto() == 2);
  w.null();
  w.set_proto(3);
  BOOST_TEST(w.proto() == 3);
  w.null();
  BOOST_TEST(&w.out() == &out);
  BOOST_TEST(out == "prefix$-1\r\n_\r\n");
}

BOOST_AUTO_TEST_CASE(no_allocation_once_capacity_is_reserved) {
  std::string out;
  out.reserve(4096);
  const char* data = out.data();
  Writer w(out, 2);
  for (int i = 0; i < 50; ++i) {
    w.array(2);
    w.bulk("owner-0123456789abcdef");
    w.integer(1234567890123);
  }
  BOOST_TEST(out.data() == data);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resp_writer_limit)

// Regression (server.max_reply_bytes): a reply past the bound stops growing at once, so a request
// asking for a huge reply never makes the server hold it.
BOOST_AUTO_TEST_CASE(appends_past_the_reply_limit_are_dropped) {
  std::string out = "+earlier\r\n";
  semlock::resp::Writer w(out, 2);
  w.limit_reply(100);
  w.array(1000);
  for (int i = 0; i < 1000; ++i) w.bulk(std::string(10, 'x'));
  BOOST_TEST(w.over_limit());
  BOOST_TEST(out.size() <= 10 + 100 + 16);  // one element overshoots at most
  BOOST_TEST(out.starts_with("+earlier\r\n*1000\r\n"));
  out.resize(10);
  w.clear_limit();
  BOOST_TEST(!w.over_limit());
  w.error("ERR reply too large");
  BOOST_TEST(out == "+earlier\r\n-ERR reply too large\r\n");
}

BOOST_AUTO_TEST_CASE(a_reply_within_the_limit_is_whole) {
  std::string out;
  semlock::resp::Writer w(out, 3);
  w.limit_reply(64);
  w.map(1);
  w.bulk("k");
  w.dbl(1.5);
  BOOST_TEST(!w.over_limit());
  BOOST_TEST(out == "%1\r\n$1\r\nk\r\n,1.5\r\n");
}

// Regression: a bounded reply's buffer never takes twice the bound. std::string doubles its
// capacity, so a reply just past half of server.max_reply_bytes held about twice the bound, and
// that memory counts against server.max_client_memory_mb: an EXEC answered at the 16 MiB bound
// held 31.5 MB and got its client closed by the 32 MiB client-memory bound.
BOOST_AUTO_TEST_CASE(a_bounded_reply_never_holds_twice_its_bound) {
  constexpr std::size_t kBound = 1 << 20;
  for (const std::size_t element : {std::size_t{10}, std::size_t{1000}, std::size_t{70000}}) {
    std::string out = "+earlier\r\n";
    semlock::resp::Writer w(out, 2);
    w.limit_reply(kBound);
    w.array(1u << 20);
    const std::string value(element, 'x');
    while (!w.over_limit()) w.bulk(value);
    BOOST_TEST(out.size() > kBound);
    // The bound and one element past it, grown by at most an eighth (see Writer::grow).
    BOOST_TEST(out.capacity() <= (10 + kBound + element + 64) * 9 / 8, "element " << element);
  }
  // A bound that moves up a little before each element (as EXEC's does, keeping room for the
  // commands left): growth stays geometric, never a copy of the whole buffer per append.
  {
    std::string out;
    semlock::resp::Writer w(out, 2);
    std::size_t end = kBound / 2;
    const std::string value(1000, 'v');
    std::size_t reallocations = 0;
    while (!w.over_limit()) {
      end += 83;
      w.limit_reply(end - out.size());
      const char* before = out.data();
      w.bulk(value);
      if (out.data() != before) ++reallocations;
    }
    BOOST_TEST(reallocations < 80u);
    BOOST_TEST(out.capacity() <= (end + 1000 + 64) * 9 / 8);
  }
  // Unbounded, appends still grow geometrically (amortized O(1)), not by what each one needs.
  std::string out;
  semlock::resp::Writer w(out, 2);
  std::size_t reallocations = 0;
  for (int i = 0; i < 100000; ++i) {
    const char* before = out.data();
    w.bulk("0123456789");
    if (out.data() != before) ++reallocations;
  }
  BOOST_TEST(reallocations < 40u);
}

BOOST_AUTO_TEST_SUITE_END()
