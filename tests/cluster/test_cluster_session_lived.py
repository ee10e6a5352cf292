"""Cluster mode: a connection-lived lock (SEMLOCK.ACQUIRE key 0 SESSION) at a failover (label
`cluster`).

- granted on the leader, it is replicated with its connection-lived mark: every member shows the
  time left to the limits.max_ttl cap (about 24 h), not a TTL;
- the leader is killed (kill -9): its connection binding is gone with it, so the new leader turns
  the holder into a plain one with the election timeout (1 s) left, instead of keeping it for a
  day; it expires on every member after that, and the key can be taken again;
- a plain TTL holder keeps its TTL (extended by the election timeout, as before).

Usage: test_cluster_session_lived.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check  # noqa: E402


def failover(bin_path):
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        conn = leader.connect()
        owner, fence = conn.call("SEMLOCK.ACQUIRE", "lived", 0, "SESSION", "OWNER", "me")
        check(owner == b"me" or owner == "me", "connection-lived lock granted on the leader")
        leader.call("SEMLOCK.ACQUIRE", "plain", 60000, "OWNER", "p")
        cl.wait_applied(int(leader.info()["applied_index"]))
        followers = [m for m in cl.members if m is not leader]
        for f in followers:
            check(f.call("PTTL", "lived") > 23 * 3600 * 1000,
                  "a follower shows the time left to the max_ttl cap")
        leader.kill9()
        new = cl.wait_leader(exclude=[leader])
        deadline = time.time() + 10
        pttl = new.call("PTTL", "lived")
        while time.time() < deadline and pttl > 23 * 3600 * 1000:
            time.sleep(0.05)
            pttl = new.call("PTTL", "lived")
        check(-2 <= pttl <= 1000, "the new leader left it the election timeout (pttl %d)" % pttl)
        check(new.call("PTTL", "plain") > 50000, "a plain holder keeps its TTL")
        deadline = time.time() + 5
        while time.time() < deadline and new.call("SEMLOCK.EXISTS", "lived") == 1:
            time.sleep(0.05)
        check(new.call("SEMLOCK.EXISTS", "lived") == 0, "it expired after the election timeout")
        got = new.call("SEMLOCK.ACQUIRE", "lived", 5000, "OWNER", "next")
        check(got is not None and got[1] > fence, "the key is taken again, with a larger fence")
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    failover(args.bin)
    print("PASS")


if __name__ == "__main__":
    main()
