// What else happened on the server's CPU while the pipelined generator measured it: the
// server's own run-queue wait and CPU time, and its core's idle and steal time. bench/run uses
// them to recognise a slice disturbed by another process or by the hypervisor (bench/README.md,
// "Keeping the CPU per operation steady").
#pragma once

#include <cstdint>
#include <string>

namespace loadgen {

struct CoreSample {
  int64_t server_cpu_ns = -1;   // user+system of every server thread (schedstat field 1)
  int64_t server_wait_ns = 0;   // main thread: runnable but not running (schedstat field 2)
  int64_t server_slices = 0;    // main thread: times put on the CPU (schedstat field 3)
  int cpu = -1;                 // the core the server's main thread last ran on
  int64_t idle_us = -1;         // that core's idle time (cpuidle states, µs)
  int64_t steal_ticks = -1;     // that core's steal time (/proc/stat, USER_HZ ticks)
};

// Reads the counters for process `pid` (pid <= 0: an empty sample).
CoreSample sample_core(int pid);

// The JSON members (leading comma) describing the window between two samples of `wall_s`
// seconds: server CPU, its run-queue wait, the core's idle, steal and foreign time.
std::string core_window_json(const CoreSample& a, const CoreSample& b, double wall_s,
                             int64_t window_requests);

}  // namespace loadgen
