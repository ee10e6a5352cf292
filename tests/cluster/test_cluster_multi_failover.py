"""MULTI/EXEC across leader changes (label `cluster`).

- Failover: a write sent to a follower while there is no leader waits for the new one and
  succeeds; a client of a follower has a MULTI queued on the leader (forwarded); the leader is
  killed: the rest of the transaction and its EXEC answer CLUSTERDOWN, nothing of it runs, and a
  new MULTI on the same connection works against the new leader.
- Stepdown: a client of the leader has a MULTI queued there; the leader steps down (its server
  hangs, its sidecar hands leadership over, the server resumes as a follower): EXEC answers
  CLUSTERDOWN (not "EXEC without MULTI" from the new leader), nothing of it runs, and a new MULTI
  on the same connection is forwarded whole.

Usage: test_cluster_multi_failover.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check  # noqa: E402

DOWN = "CLUSTERDOWN The cluster is down"


def failover(bin_path):
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)
        c = f.connect(timeout=20)
        check(c.call("MULTI") == "OK", "failover: MULTI through the follower")
        check(c.call("SET", "fa", "v", "PX", 30000) == "QUEUED", "failover: SET queued")
        leader.kill9()
        # A write sent while there is no leader waits for one (up to request_timeout), then runs.
        parked = f.connect(timeout=20)
        t0 = time.time()
        rep = parked.call("SEMLOCK.ACQUIRE", "parked", 30000, "OWNER", "p")
        check(rep[0] == "p", "failover: a write sent during the election is granted by the new "
                             "leader (%.2f s)" % (time.time() - t0))
        new_leader = cl.wait_leader(timeout=15, exclude=[leader])
        check(c.call("SET", "fb", "v", "PX", 30000) == DOWN,
              "failover: a command after the leader died answers CLUSTERDOWN")
        check(c.call("EXEC") == DOWN, "failover: EXEC answers CLUSTERDOWN")
        check(new_leader.call("EXISTS", "fa") == 0 and new_leader.call("EXISTS", "fb") == 0,
              "failover: nothing of the transaction ran")
        check(c.call("MULTI") == "OK" and c.call("SET", "fc", "v", "PX", 30000) == "QUEUED",
              "failover: a new MULTI on the same connection")
        check(c.call("EXEC") == ["OK"], "failover: its EXEC runs on the new leader")
        check(new_leader.call("EXISTS", "fc") == 1, "failover: the retried transaction ran")


def stepdown(bin_path):
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        c = leader.connect(timeout=20)
        check(c.call("MULTI") == "OK", "stepdown: MULTI on the leader")
        check(c.call("SET", "sa", "v", "PX", 30000) == "QUEUED", "stepdown: SET queued")
        leader.proc.send_signal(signal.SIGSTOP)
        try:
            new_leader = cl.wait_leader(timeout=15, exclude=[leader])
        finally:
            leader.proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 10
        while time.time() < deadline and leader.info().get("leader_id") != str(new_leader.id):
            time.sleep(0.05)
        check(leader.info().get("role") == "follower", "stepdown: the old leader follows")
        check(c.call("EXEC") == DOWN, "stepdown: EXEC of a MULTI queued on the old leader "
                                      "answers CLUSTERDOWN")
        check(new_leader.call("EXISTS", "sa") == 0, "stepdown: nothing of it ran")
        check(c.call("MULTI") == "OK" and c.call("SET", "sb", "v", "PX", 30000) == "QUEUED",
              "stepdown: a new MULTI on the same connection (forwarded now)")
        check(c.call("EXEC") == ["OK"], "stepdown: its EXEC runs on the new leader")
        check(new_leader.call("EXISTS", "sb") == 1, "stepdown: the retried transaction ran")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t = time.time()
    failover(args.bin)
    stepdown(args.bin)
    print("cluster multi_failover: passed in %.1f s" % (time.time() - t))


if __name__ == "__main__":
    main()
