#include "bench/loadgen/core_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <string>

namespace loadgen {
namespace {

// The "processor" field (39) of /proc/PID/stat: the CPU the task last ran on.
int last_cpu(int pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(f, line)) return -1;
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Field 3 (state) is the first after the name; "processor" is field 39.
  for (int i = 3; i <= 39; ++i) {
    if (!(rest >> field)) return -1;
  }
  return std::stoi(field);
}

int64_t core_idle_us(int cpu) {
  int64_t total = 0;
  bool any = false;
  for (int state = 0;; ++state) {
    std::ifstream f(fmt::format("/sys/devices/system/cpu/cpu{}/cpuidle/state{}/time", cpu, state));
    long long us = 0;
    if (!(f >> us)) break;
    total += us;
    any = true;
  }
  return any ? total : -1;
}

int64_t core_steal_ticks(int cpu) {
  std::ifstream f("/proc/stat");
  std::string want = fmt::format("cpu{} ", cpu);
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, want.size(), want) != 0) continue;
    std::istringstream in(line.substr(want.size()));
    long long v[8] = {};
    for (long long& x : v) {
      if (!(in >> x)) return -1;
    }
    return v[7];  // user nice system idle iowait irq softirq steal
  }
  return -1;
}

}  // namespace

CoreSample sample_core(int pid) {
  CoreSample s;
  if (pid <= 0) return s;
  std::string dir = fmt::format("/proc/{}/task", pid);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return s;
  s.server_cpu_ns = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/schedstat");
    long long cpu = 0, wait = 0, slices = 0;
    if (f >> cpu >> wait >> slices) {
      s.server_cpu_ns += cpu;
      // The main thread's wait only: a server's own helper thread (Redis's bio and jemalloc
      // threads) that waits behind the busy main thread is no sign of another task.
      if (std::to_string(pid) == e->d_name) {
        s.server_wait_ns = wait;
        s.server_slices = slices;
      }
    }
  }
  closedir(d);
  s.cpu = last_cpu(pid);
  if (s.cpu >= 0) {
    s.idle_us = core_idle_us(s.cpu);
    s.steal_ticks = core_steal_ticks(s.cpu);
  }
  return s;
}

std::string core_window_json(const CoreSample& a, const CoreSample& b, double wall_s,
                             int64_t window_requests) {
  if (a.server_cpu_ns < 0 || b.server_cpu_ns < 0) return {};
  double scpu = static_cast<double>(b.server_cpu_ns - a.server_cpu_ns) / 1e9;
  std::string out = fmt::format(
      ",\"server_cpu_s\":{:.6f},\"server_cpu_util\":{:.3f},\"server_cpu_us_per_op\":{:.4f},"
      "\"server_wait_s\":{:.6f},\"server_slices\":{}",
      scpu, wall_s > 0 ? scpu / wall_s : 0,
      window_requests > 0 ? scpu * 1e6 / static_cast<double>(window_requests) : 0,
      static_cast<double>(b.server_wait_ns - a.server_wait_ns) / 1e9,
      b.server_slices - a.server_slices);
  // The core's time not spent idle, in the server or stolen by the hypervisor: another task,
  // or interrupts charged to none of them. Only when the server stayed on one core.
  if (a.cpu >= 0 && a.cpu == b.cpu && a.idle_us >= 0 && b.idle_us >= 0 && a.steal_ticks >= 0 &&
      b.steal_ticks >= 0) {
    double idle = static_cast<double>(b.idle_us - a.idle_us) / 1e6;
    double steal = static_cast<double>(b.steal_ticks - a.steal_ticks) /
                   static_cast<double>(sysconf(_SC_CLK_TCK));
    out += fmt::format(",\"server_core\":{},\"core_idle_s\":{:.6f},\"core_steal_s\":{:.4f},"
                       "\"core_foreign_s\":{:.6f}",
                       b.cpu, idle, steal, wall_s - idle - scpu - steal);
  }
  return out;
}

}  // namespace loadgen
