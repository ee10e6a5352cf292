// A fixed piece of work timed on one CPU: how fast that CPU (and the memory behind it) is right
// now. The pipelined generator runs it on the server's CPU before each slice, while the server
// is idle, and again right after the slice, so a slice measured while the host slowed the VM
// down shows and can be measured again (bench/README.md, "Gating on the memory walk").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

// One reading: ns per step of a dependent walk through a 4 MiB random cycle (cache and memory
// latency) and of an arithmetic loop (the core alone).
struct ProbeReading {
  double walk_ns = 0;
  double alu_ns = 0;
};

class Probe {
 public:
  Probe();  // builds the 4 MiB cycle (on the calling thread's CPU)
  // Runs the walk and the loop pinned to `cpu`. With hold_cpu >= 0 a thread spins on that CPU
  // meanwhile (arithmetic only), so that under SCHED_FIFO no other task of this machine runs
  // there: the reading then sees what a slice sees (the generator busy-polling on its CPU, the
  // machine's other jobs kept off both) and the host's contention alone.
  ProbeReading run(int cpu, int hold_cpu = -1) const;

 private:
  std::vector<uint32_t> next_;
};

// --probe-cpu's readings before the slice: repeated every 20 ms until the walk is at most
// `until_ns` (0: once) or `wait_s` seconds have passed; the last reading counts. JSON members
// (leading comma); empty when cpu < 0.
struct ProbeBefore {
  int cpu = -1;
  ProbeReading last;
  int tries = 0;
  double waited_s = 0;
  std::string json() const;
};
ProbeBefore probe_before(const Probe& p, int cpu, int hold_cpu, double until_ns, double wait_s);

// The `probe` workload: readings every 20 ms for o.duration_s on --probe-cpu (--probe-hold-cpu
// held meanwhile); one JSON line
// with their minimum, median and all values (bench/run calibrates its floor from it).
int run_probe_only(int cpu, int hold_cpu, double duration_s);

}  // namespace loadgen
