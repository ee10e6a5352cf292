// process_stats(): what INFO, scrapes and housekeeping read about the process.
#include "server/process_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <vector>

BOOST_AUTO_TEST_SUITE(process_stats)

// Regression: INFO walked /proc/self/fd on every call (O(open connections): 2,000 pipelined INFO
// with 5,000 connections stalled the loop 9.8 s). The default read is O(1) and leaves the fd count
// to the caller that asks for it (housekeeping, once per interval).
BOOST_AUTO_TEST_CASE(the_fd_count_is_walked_only_when_asked) {
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const semlock::ProcessStats cheap = semlock::process_stats();
  BOOST_TEST(cheap.open_fds == 0u);
  BOOST_TEST(cheap.rss_bytes > 0u);
  const semlock::ProcessStats full = semlock::process_stats(true);
  BOOST_TEST(full.open_fds >= 50u);
  BOOST_TEST(full.rss_bytes > 0u);
  for (const int fd : fds) ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
