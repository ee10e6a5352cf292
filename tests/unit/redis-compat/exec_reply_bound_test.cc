// ExecReplyBound (redis-compat/exec_reply_bound.h): how EXEC keeps its whole reply within
// server.max_reply_bytes, and what that costs the reply buffer.
#include "redis-compat/exec_reply_bound.h"

#include <boost/test/unit_test.hpp>

#include <string>

#include "protocol/resp_writer.h"

BOOST_AUTO_TEST_SUITE(exec_reply_bound)

// Regression (review): EXEC's "did not run" lines were written with the bound lifted, so the first
// one that did not fit a buffer sized to the bound doubled it (15 MiB -> 31.5 MB at a 16 MiB
// bound, the capacity that got a client closed in CI).
BOOST_AUTO_TEST_CASE(exec_stop_lines_do_not_double_a_bounded_buffer) {
  constexpr std::size_t kBound = 1 << 20;
  std::string out;
  semlock::resp::Writer w(out, 2);
  w.limit_reply(kBound);
  w.array(3);
  semlock::redis::ExecReplyBound bound(w, 3);
  BOOST_TEST(bound.begin_command());
  w.bulk(std::string(kBound - kBound / 16, 'x'));
  bound.end_command();
  for (int i = 0; i < 2; ++i) {
    bound.write_unbounded("ERR transaction stopped after 7 ms; this command did not run");
  }
  bound.finish();
  BOOST_TEST(out.ends_with("this command did not run\r\n"));
  BOOST_TEST(out.capacity() <= (kBound + 64) * 9 / 8);
}

BOOST_AUTO_TEST_SUITE_END()
