// Facts about this process for housekeeping and process_* metrics, read from /proc and getrusage.
#pragma once

#include <cstdint>

namespace semlock {

struct ProcessStats {
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;  // user + system
  std::uint64_t open_fds = 0;
};

// RSS and CPU are O(1) reads. Counting open fds walks /proc/self/fd, O(open connections): only
// housekeeping asks for it (once per cleanup.interval); INFO and scrapes use that value.
ProcessStats process_stats(bool count_fds = false);

}  // namespace semlock
