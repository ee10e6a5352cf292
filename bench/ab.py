#!/usr/bin/env python3
"""A/B of two ttl-semlock binaries on pipelined lock traffic: server CPU time per request.

For judging one change to the hot path (bench/run compares us with Redis; this compares us with
ourselves). Each round starts a fresh server from each binary in turn (the order alternates per
round), on CPU 1 under SCHED_FIFO, and drives it with semlock-loadgen's pipelined workload on
CPU 0 (as bench/run's headline: 8 connections, 16 commands per batch, 2 batches in flight,
busy-polling client), then reads the server's CPU time from /proc. Reports each binary's median
and range, and the new/old ratio per round with its median: rounds next to each other see the
same host, so their ratio moves far less than either side (bench/README.md, "Judging whole
rounds").

  bench/ab.py OLD_BINARY NEW_BINARY [--rounds 8] [--keyspace 100000] [-- LOADGEN_ARGS...]

Examples (from the repository root, after a Release build in build-release/):
  # acquires that find the key held (the headline: mostly "not acquired")
  bench/ab.py /tmp/ttl-semlock-old build-release/server/ttl-semlock
  # acquires that create a holder every time (a 1 ms TTL: the key is free again by the next one)
  bench/ab.py /tmp/ttl-semlock-old build-release/server/ttl-semlock -- --ttl-ms 1

Needs root for chrt (without it, runs unpinned from the scheduler's point of view).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rt_prefix(cpu):
    prefix = ["taskset", "-c", str(cpu)]
    if os.geteuid() == 0:
        prefix = ["chrt", "-f", "1"] + prefix
    return prefix


def one_slice(binary, loadgen, keyspace, extra):
    port = free_port()
    server = subprocess.Popen(
        rt_prefix(1) + [binary, "--host", "127.0.0.1", "--port", str(port), "--no-metrics",
                        "--max-locks", "0", "--max-memory-mb", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        out = subprocess.run(
            rt_prefix(0) + [loadgen, "pipeline", "--port", str(port), "--side", "semlock",
                            "--command", "acquire", "--threads", "1", "--conns", "8",
                            "--pipeline", "16", "--inflight", "2", "--keyspace", str(keyspace),
                            *extra, "--warmup", "1", "--duration", "2",
                            "--server-pid", str(server.pid), "--busy-poll"],
            capture_output=True, text=True, check=True).stdout
    finally:
        server.terminate()
        server.wait()
    m = json.loads(out)
    return m["server_cpu_us_per_op"], m["ops_per_s"]


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--loadgen",
                    default=os.path.join(ROOT, "build-release", "bench", "loadgen",
                                         "semlock-loadgen"))
    a = ap.parse_args(argv)
    sides = {"old": [], "new": []}
    for r in range(a.rounds):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for side in order:
            sides[side].append(one_slice(getattr(a, side), a.loadgen, a.keyspace, extra))
            time.sleep(0.1)
    for side in ("old", "new"):
        cpu = [x[0] for x in sides[side]]
        ops = [x[1] for x in sides[side]]
        print("%-4s cpu/op median %.3f us (%.3f-%.3f)  requests/s median %.0f" %
              (side, statistics.median(cpu), min(cpu), max(cpu), statistics.median(ops)))
    ratios = [n[0] / o[0] for n, o in zip(sides["new"], sides["old"])]
    print("new/old cpu/op per round: " + " ".join("%.3f" % x for x in ratios) +
          "  median %.3f" % statistics.median(ratios))


if __name__ == "__main__":
    main()
