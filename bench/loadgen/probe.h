// A fixed piece of work timed on one CPU: how fast that CPU (and the memory behind it) is right
// now. The pipelined generator runs it on the server's CPU before each slice, while the server
// is idle, so a slice measured while the host slowed the VM down shows (bench/README.md).
#pragma once

#include <string>

namespace loadgen {

// Runs the probe pinned to `cpu` and returns JSON members (leading comma): the time per step of
// a dependent walk through a 4 MiB random cycle (cache and memory latency) and of an
// arithmetic loop (the core alone). Empty when cpu < 0.
std::string run_probe(int cpu);

}  // namespace loadgen
