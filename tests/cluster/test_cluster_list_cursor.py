"""Cluster mode: JSON `list` through a follower answers what a single server answers.

A follower forwards `list` to the leader and relays its reply. With a few keys, a `list` with
count 50 came back with cursor 500 through the follower — and, it turned out, from the leader and
from a single server too: the scan stopped after count x 10 empty slots of the keys' 1,024-slot
slab, although it had seen every key. Now a scan from cursor 0 that saw every key answers cursor 0.
This test runs the same requests on a single server (the reference) and through a follower and
the leader of a 3-member group: the same keys, the same cursors, and paging with a small count
through the follower visits every key once. SEMLOCK.PUBLISH is in the members' COMMAND table.

Usage: test_cluster_list_cursor.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, Connection, check, free_port, json_line  # noqa: E402

KEYS = ["j2", "j20", "k1", "k2", "other"]
REQUESTS = [
    {"action": "list", "cursor": 0, "count": 50},
    {"action": "list", "cursor": 0, "match": "j2*", "count": 50},
    {"action": "list", "cursor": 0},
    {"action": "list", "cursor": 0, "count": 5},
    {"action": "list", "cursor": 0, "match": "k*", "count": 1000},
]


def single_server(bin_path):
    port = free_port()
    proc = subprocess.Popen([bin_path, "--host", "127.0.0.1", "--port", str(port),
                             "--no-metrics"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            check(proc.poll() is None, "the single server exited")
            time.sleep(0.05)
    raise AssertionError("the single server did not start")


def answers(port):
    out = []
    for req in REQUESTS:
        rep = json_line(port, req)
        check(rep["success"], "list answered: %r" % rep)
        out.append((sorted(rep["data"]["keys"]), rep["data"]["cursor"]))
    return out


def page_all(port, count):
    seen, cursor, calls = [], 0, 0
    while True:
        rep = json_line(port, {"action": "list", "cursor": cursor, "count": count})
        check(rep["success"], "paged list answered: %r" % rep)
        seen += rep["data"]["keys"]
        cursor = rep["data"]["cursor"]
        calls += 1
        check(calls < 10000, "paging ends")
        if cursor == 0:
            return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()

    proc, single = single_server(args.bin)
    try:
        for k in KEYS:
            check(json_line(single, {"action": "acquire", "key": k, "ttl_ms": 60000,
                                     "owner": "o"})["success"], "single: acquire " + k)
        reference = answers(single)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    check(reference[0] == (sorted(KEYS), 0), "single server, count 50: every key, cursor 0: %r"
          % (reference[0],))
    check(reference[1] == (["j2", "j20"], 0), "single server, match: %r" % (reference[1],))

    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        follower = next(m for m in cl.members if m is not leader)
        for k in KEYS:
            rep = json_line(follower.port, {"action": "acquire", "key": k, "ttl_ms": 60000,
                                            "owner": "o"})
            check(rep["success"], "follower: acquire %s forwarded: %r" % (k, rep))
        via_follower = answers(follower.port)
        via_leader = answers(leader.port)
        for req, want, got_f, got_l in zip(REQUESTS, reference, via_follower, via_leader):
            check(got_f == want, "follower %s: %r, single server %r" % (json.dumps(req), got_f,
                                                                        want))
            check(got_l == want, "leader %s: %r, single server %r" % (json.dumps(req), got_l,
                                                                      want))
        # Paging with a small count through the follower: every key exactly once.
        seen = page_all(follower.port, 2)
        check(sorted(seen) == sorted(KEYS), "paged through the follower: %r" % seen)

        # The relay command is in every member's command table.
        conn = Connection(follower.port)
        info = conn.call("COMMAND", "INFO", "semlock.publish")
        check(info[0][0] == "semlock.publish" and info[0][1] == 4,
              "COMMAND INFO semlock.publish on a member: %r" % (info,))
        conn.close()
    print("ok")


if __name__ == "__main__":
    main()
