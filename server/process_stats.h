// Facts about this process for housekeeping and process_* metrics, read from /proc and getrusage.
#pragma once

#include <cstdint>

namespace semlock {

struct ProcessStats {
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;  // user + system
  std::uint64_t open_fds = 0;
};

ProcessStats process_stats();

}  // namespace semlock
