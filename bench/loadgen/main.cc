// semlock-loadgen: the workloads redis-benchmark cannot run (see workloads.h). bench/run drives
// it; each run prints one JSON line. Example:
//   semlock-loadgen contend --port 8765 --side semlock --clients 32 --keys 4 --duration 3
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "bench/loadgen/conn.h"
#include "bench/loadgen/probe.h"
#include "bench/loadgen/workloads.h"

int main(int argc, char** argv) {
  loadgen::Options o;
  std::string workload;
  CLI::App app{"ttl-semlock load generator: lock workloads against ttl-semlock or Redis"};
  app.add_option("workload", workload,
                 "cycle | contend | json | fill | expiry | idle-rtt | pipeline | probe")
      ->required()
      ->check(CLI::IsMember(
          {"cycle", "contend", "json", "fill", "expiry", "idle-rtt", "pipeline", "probe"}));
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->capture_default_str();
  std::map<std::string, loadgen::Side> sides{{"semlock", loadgen::Side::kSemlock},
                                             {"redis", loadgen::Side::kRedis}};
  app.add_option("--side", o.side, "semlock (SEMLOCK.*, WAIT) or redis (SET NX PX, EVALSHA)")
      ->transform(CLI::CheckedTransformer(sides, CLI::ignore_case));
  app.add_option("--clients", o.clients, "connections, one thread each")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds per run")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--keys", o.keys, "contend: shared keys")->check(CLI::Range(1, 1000000));
  app.add_option("--hold-us", o.hold_us, "contend: microseconds a grant is held; idle-rtt: sleep")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--think-us", o.think_us, "contend: microseconds from a release to the next try")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--retry-ms", o.retry_ms, "contend, redis: polling sleep")
      ->check(CLI::Range(1, 10000));
  app.add_option("--ttl-ms", o.ttl_ms, "lock TTL")->check(CLI::Range(1, 86400000));
  app.add_option("--count", o.count, "fill/expiry: locks")->check(CLI::Range(1, 100000000));
  app.add_option("--waiters", o.waiters, "expiry: queued blocking acquires (semlock)")
      ->check(CLI::Range(0, 10000));
  app.add_flag("--per-connection", o.per_connection, "json: one request per connection");
  app.add_option("--prefix", o.prefix, "key prefix")->capture_default_str();
  app.add_option("--threads", o.threads, "pipeline: client threads")->check(CLI::Range(1, 64));
  app.add_option("--conns", o.conns_per_thread, "pipeline: connections per thread")
      ->check(CLI::Range(1, 1024));
  app.add_option("--pipeline", o.pipeline, "pipeline: commands in flight per connection")
      ->check(CLI::Range(1, 4096));
  app.add_option("--inflight", o.inflight, "pipeline: batches in flight per connection")
      ->check(CLI::Range(1, 64));
  app.add_option("--probe-cpu", o.probe_cpu,
                 "pipeline: before connecting, time a fixed memory walk and arithmetic loop on "
                 "this CPU (the server's, while it is idle), and again after the window; "
                 "probe: the CPU to time readings on for --duration seconds");
  app.add_option("--probe-until", o.probe_until_ns,
                 "pipeline: repeat the first probe every 20 ms until its memory walk is at most "
                 "this many ns per step (a quiet host), for at most --probe-wait seconds")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--probe-wait", o.probe_wait_s, "pipeline: see --probe-until")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--probe-hold-cpu", o.probe_hold_cpu,
                 "pipeline, probe: spin on this CPU while probing (the generator's: under "
                 "SCHED_FIFO the machine's other jobs then stay off it, as during a slice)")
      ->check(CLI::Range(-1, 1023));
  app.add_flag("--busy-poll", o.busy_poll,
               "pipeline, idle-rtt, contend: wait for replies by polling, never sleeping, so no "
               "server write has to wake the generator (its wake-up leaves both sides' figures)");
  app.add_option("--keyspace", o.keyspace, "pipeline: random keys")->check(CLI::Range(1, 1 << 30));
  app.add_option("--requests", o.requests, "pipeline: stop after this many (else --duration)")
      ->check(CLI::Range(0LL, 1LL << 40));
  app.add_option("--command", o.command, "pipeline: acquire | setnx | ping")
      ->check(CLI::IsMember({"acquire", "setnx", "ping"}));
  app.add_option("--warmup", o.warmup_s, "pipeline: seconds run before the measured window")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--server-pid", o.server_pid,
                 "pipeline: report this process's CPU time over the measured window")
      ->check(CLI::Range(0, 1 << 30));
  CLI11_PARSE(app, argc, argv);

  try {
    if (workload == "cycle") return loadgen::run_cycle(o);
    if (workload == "contend") return loadgen::run_contend(o);
    if (workload == "json") return loadgen::run_json(o);
    if (workload == "fill") return loadgen::run_fill(o);
    if (workload == "expiry") return loadgen::run_expiry(o);
    if (workload == "pipeline") return loadgen::run_pipeline(o);
    if (workload == "probe")
      return loadgen::run_probe_only(o.probe_cpu, o.probe_hold_cpu, o.duration_s);
    return loadgen::run_idle_rtt(o);
  } catch (const loadgen::ConnError& e) {
    std::fprintf(stderr, "semlock-loadgen %s: %s\n", workload.c_str(), e.what());
    return 1;
  }
}
