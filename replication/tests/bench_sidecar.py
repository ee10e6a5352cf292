#!/usr/bin/env python3
"""Measures the sidecar alone (3 members on loopback, real WAL fsyncs):

  * round trip: PROPOSE to a follower, which answers PROPOSE_FAILED at once without touching
    Raft: the cost of one frame each way through the socketpair and the sidecar's goroutines;
  * propose -> commit latency with one proposal in flight (PROPOSE on the leader until its
    ENTRIES frame arrives from the leader);
  * commits/s with W proposals in flight (what the server's one-PROPOSE-per-loop-iteration
    group commit looks like under load), and how many entries one ENTRIES frame carried.

The driver is Python, so every figure includes Python's own per-frame cost: the C++ server
pays less. Not a test: no pass/fail.

Usage: bench_sidecar.py --bin build-release/server/ttl-semlock-raft [--seconds 3]
"""

import argparse
import os
import select
import shutil
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sidecar import ENTRIES, LEADER, PROPOSE_FAILED, STATUS, Cluster  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def us(x):
    return "%.0f us" % (x * 1e6)


def round_trips(follower, n):
    """Main-thread send and recv, no reader thread: the frame's cost, not Python's threads."""
    lat = []
    for i in range(n):
        tag = 10_000_000 + i
        t0 = time.perf_counter()
        follower.propose(tag, b"x")
        while True:
            typ, r = follower.recv_frame()
            if typ == PROPOSE_FAILED and r.take("<Q") == tag:
                break
        lat.append(time.perf_counter() - t0)
    return lat


def commit_latency(leader, n, size):
    """One proposal in flight; the time until the leader's ENTRIES frame carries it."""
    lat = []
    for i in range(n):
        data = (b"lat-%d-" % i).ljust(size, b".")
        t0 = time.perf_counter()
        leader.propose(i, data)
        found = False
        while not found:
            typ, r = leader.recv_frame()
            if typ != ENTRIES:
                continue
            for _ in range(r.take("<I")):
                r.take("<Q"), r.take("<Q"), r.take("<B")
                if r.bytes() == data:
                    found = True
        lat.append(time.perf_counter() - t0)
    return lat


def throughput(leader, window, seconds, size, first_tag):
    """Keeps `window` proposals in flight for `seconds`; returns (commits/s, entries/frame)."""
    sent = done = 0
    frames0, ents0 = leader.entries_frames, leader.entries_count
    t_end = time.perf_counter() + seconds
    t0 = time.perf_counter()
    base = leader.data_count
    while time.perf_counter() < t_end:
        with leader.cv:
            done = leader.data_count - base
            while sent - done >= window:
                leader.cv.wait(1)
                done = leader.data_count - base
        burst = window - (sent - done)
        for _ in range(burst):
            leader.propose(first_tag + sent, b"t".ljust(size, b"."))
            sent += 1
    leader.wait(lambda: leader.data_count - base >= sent, 30, "drain")
    el = time.perf_counter() - t0
    frames = leader.entries_frames - frames0
    ents = leader.entries_count - ents0
    return sent / el, ents / max(frames, 1)


def raw_wait_leader(ms, timeout):
    """Reads STATUS frames on the main thread until one member reports itself leader."""
    deadline = time.monotonic() + timeout
    socks = {m.sock: m for m in ms}
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(socks), [], [], 0.1)
        for sk in ready:
            m = socks[sk]
            typ, r = m.recv_frame()
            if typ == STATUS:
                mid, lead, _, role = r.take("<Q"), r.take("<Q"), r.take("<Q"), r.take("<B")
                if role == LEADER and lead == mid:
                    return m
    raise AssertionError("no leader within %.0fs" % timeout)


def instrument(m):
    """Adds counters to a Member's frame handler (frames, entries, last datum)."""
    m.entries_count = m.data_count = 0  # entries_frames: counted by Member itself
    m.last_data = None
    orig = m._handle

    def handle(typ, r):
        if typ == ENTRIES:
            n = struct.unpack_from("<I", r.b, 0)[0]
            orig(typ, r)
            with m.cv:
                m.entries_count += n
                # Count non-empty normal data by scanning the frame again.
                o = 4
                for _ in range(n):
                    kind = r.b[o + 16]
                    ln = struct.unpack_from("<I", r.b, o + 17)[0]
                    data = r.b[o + 21:o + 21 + ln]
                    o += 21 + ln
                    if kind == 0 and ln:
                        m.data_count += 1
                        m.last_data = data
                m.cv.notify_all()
            return
        orig(typ, r)
    m._handle = handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=100, help="bytes per entry")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="raft-bench-")
    # Members start without reader threads: the latency phases read frames on the main thread.
    c = Cluster(a.bin, work, 3, 1000, 100, reader=False)
    try:
        leader = raw_wait_leader(list(c.m.values()), 15)
        follower = next(m for m in c.m.values() if m is not leader)
        print("3 members on loopback, WAL in %s, %d-byte entries" % (work, a.size))
        rt = round_trips(follower, 3000)
        print("socket round trip (PROPOSE on a follower -> PROPOSE_FAILED), n=%d: "
              "p50 %s  p99 %s" % (len(rt), us(pct(rt, 50)), us(pct(rt, 99))))
        lat = commit_latency(leader, 500, a.size)
        print("propose -> commit on the leader, 1 in flight, n=%d: p50 %s  p99 %s  max %s"
              % (len(lat), us(pct(lat, 50)), us(pct(lat, 99)), us(max(lat))))
        for m in c.m.values():
            instrument(m)
            m.start_reader()
        leader = c.leader(10)
        tag = 1_000_000
        for w in (1, 8, 64, 256):
            rate, per_frame = throughput(leader, w, a.seconds, a.size, tag)
            tag += 10_000_000
            print("window %3d: %8.0f commits/s, %.1f entries per ENTRIES frame"
                  % (w, rate, per_frame))
    finally:
        c.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
