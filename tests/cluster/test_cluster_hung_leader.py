"""A hung leader server (label `cluster`): SIGSTOP of the leader's ttl-semlock while its Raft
sidecar keeps running. The sidecar hears no PING from its server for an election timeout and
gives up leadership (hands it to a follower, stops its Raft clock): a new leader serves within
3x the election timeout, writes through the surviving follower work again, and after SIGCONT
the old leader is a follower of the new one (one leader).

Usage: test_cluster_hung_leader.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check  # noqa: E402

ELECTION_S = 1.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    times = []
    with Cluster(args.bin, n=3, election_timeout="1s") as cl:
        for run in range(3):
            leader = cl.wait_leader()
            check(len(leader.sidecar_pids()) == 1, "run %d: the leader's sidecar runs" % run)
            rep = leader.call("SEMLOCK.ACQUIRE", "held%d" % run, 30000, "OWNER", "o")
            check(rep[0] == "o", "run %d: a holder before the hang" % run)
            t0 = time.time()
            leader.proc.send_signal(signal.SIGSTOP)
            try:
                new_leader = cl.wait_leader(timeout=15, exclude=[leader])
                took = time.time() - t0
                times.append(took)
                print("run %d: new leader %d serving %.3f s after SIGSTOP" %
                      (run, new_leader.id, took))
                check(took <= 3 * ELECTION_S + 0.5,
                      "run %d: a new leader within 3x the election timeout (+0.5 s polling)" % run)
                check(new_leader.call("SEMLOCK.EXISTS", "held%d" % run) == 1,
                      "run %d: the acknowledged holder survives" % run)
                other = next(m for m in cl.members if m is not leader and m is not new_leader)
                rep = other.call("SEMLOCK.ACQUIRE", "after%d" % run, 5000, "OWNER", "p")
                check(rep[0] == "p", "run %d: writes through the other follower work" % run)
            finally:
                leader.proc.send_signal(signal.SIGCONT)
            back = cl.wait_leader(timeout=15)
            check(back is new_leader, "run %d: after SIGCONT one leader, the new one" % run)
            deadline = time.time() + 10
            while time.time() < deadline and leader.info().get("leader_id") != str(back.id):
                time.sleep(0.05)
            check(leader.info().get("role") == "follower" and
                  leader.info().get("leader_id") == str(back.id),
                  "run %d: the resumed member follows the new leader" % run)
    print("hung leader: failover after SIGSTOP p50 %.3f s max %.3f s" %
          (sorted(times)[(len(times) - 1) // 2], max(times)))
    print("cluster hung_leader: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
