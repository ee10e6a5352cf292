#include "server/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace semlock {

ProcessStats process_stats(bool count_fds) {
  ProcessStats s;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0;
    unsigned long long resident = 0;
    if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) {
      s.rss_bytes = resident * static_cast<unsigned long long>(sysconf(_SC_PAGESIZE));
    }
    std::fclose(f);
  }
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    s.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                    static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  if (!count_fds) return s;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++s.open_fds;
    }
    closedir(d);
    if (s.open_fds > 0) --s.open_fds;  // the directory stream itself
  }
  return s;
}

}  // namespace semlock
