"""SESSION holders and a follower cut off from the leader (label `cluster`).

A client of follower F holds a SESSION lock (its binding: F's connection to the leader). Both
other members are then frozen (SIGSTOP of their servers and sidecars), so F knows no leader:
- a new SESSION acquire on F (RESP and JSON) answers CLUSTERDOWN (JSON UNAVAILABLE) within
  request_timeout, so does a read (F forwards reads to the leader too), and nothing is granted;
- the holder's client stays connected; F losing the leader does not release the holder: after
  the others resume it is still held (session holders keep their TTL across leader changes);
- when the client finally closes, a leader that still has the binding (same member, same term)
  releases it.

Usage: test_cluster_session_isolated_follower.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, freeze  # noqa: E402

DOWN = "CLUSTERDOWN The cluster is down"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3, request_timeout="2s") as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)
        others = [m for m in cl.members if m is not f]
        holder = f.connect(timeout=20)
        rep = holder.call("SEMLOCK.ACQUIRE", "sess", 60000, "SESSION")
        check(isinstance(rep, list) and rep[1] > 0, "a SESSION holder through follower %d" % f.id)
        check(leader.call("SEMLOCK.EXISTS", "sess") == 1, "held on the leader")
        term = leader.info()["term"]
        for m in others:
            freeze(m, signal.SIGSTOP)
        try:
            deadline = time.time() + 10
            while time.time() < deadline and f.info().get("leader_id") != "0":
                time.sleep(0.05)
            check(f.info().get("leader_id") == "0", "the follower knows no leader")
            t0 = time.time()
            rep = f.call("SEMLOCK.ACQUIRE", "sess2", 60000, "SESSION")
            took = time.time() - t0
            check(rep == DOWN and took < 2.0 + 1.0,
                  "SESSION acquire on the isolated follower: CLUSTERDOWN (%.2f s)" % took)
            with socket.create_connection(("127.0.0.1", f.port), timeout=10) as s:
                s.sendall(b'{"action":"acquire","key":"sess3","ttl_ms":60000,"session":true}\n')
                buf = b""
                while not buf.endswith(b"\n"):
                    buf += s.recv(65536)
            body = json.loads(buf)
            check(body.get("code") == "UNAVAILABLE", "JSON SESSION acquire: UNAVAILABLE")
            # Reads need the leader too (a follower forwards them): CLUSTERDOWN, not its state.
            check(f.call("SEMLOCK.EXISTS", "sess2") == DOWN,
                  "a read on the isolated follower: CLUSTERDOWN")
        finally:
            for m in others:
                freeze(m, signal.SIGCONT)
        # The resumed members may still hold an election (the old leader heard nobody while it
        # was frozen): wait until one leader has kept its term for two election timeouts.
        new_leader, stable_since, seen = None, time.time(), None
        deadline = time.time() + 30
        while time.time() < deadline:
            cur = cl.wait_leader(timeout=15)
            now_seen = (cur.id, cur.info()["term"])
            if now_seen != seen:
                seen, stable_since = now_seen, time.time()
            elif time.time() - stable_since >= 2.0:
                new_leader = cur
                break
            time.sleep(0.1)
        check(new_leader is not None, "one leader, stable for 2 s, after the others resumed")
        check(new_leader.call("SEMLOCK.EXISTS", "sess") == 1,
              "the SESSION holder survived its follower losing the leader")
        check(new_leader.call("EXISTS", "sess2", "sess3") == 0,
              "nothing of the refused SESSION acquires was granted")
        check(holder.call("PING") == "PONG", "the holder's connection is still served")
        # The binding lives on the leader's connection from F; a leader that stepped down (a new
        # term, even if the same member won it again) dropped it: the holder then keeps its TTL.
        same = new_leader is leader and new_leader.info()["term"] == term
        holder.close()
        if same:
            deadline = time.time() + 5
            while time.time() < deadline and leader.call("SEMLOCK.EXISTS", "sess") == 1:
                time.sleep(0.05)
            held = leader.call("SEMLOCK.EXISTS", "sess")
            if held != 0 and cl.wait_leader(timeout=15).info()["term"] != term:
                # Leadership changed after all (a loaded machine): the binding went with it.
                print("the term changed before the close was seen: the holder keeps its TTL")
            else:
                check(held == 0,
                      "the client's close releases the holder (the leader kept its binding)")
        else:
            print("leader or term changed: the holder keeps its TTL (no binding there)")
    print("cluster session_isolated_follower: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
