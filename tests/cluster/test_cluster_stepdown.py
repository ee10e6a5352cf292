"""Cluster mode: snapshots and a leader that loses its quorum (label `cluster`).

- with cluster.snapshot_entries=20, every member snapshots its engine and the Raft log is
  compacted behind it; a member killed and restarted rebuilds from the snapshot plus the log
  (holders with short TTLs that ran out meanwhile included) and matches the leader;
- a lease survives its leader's kill -9 until its TTL has passed, then the new leader expires it
  (by proposal) on every member;
- both followers killed: the leader steps down within about an election timeout (CheckQuorum);
  a client blocked in WAIT on it is answered -CLUSTERDOWN; an acquire sent to it meanwhile is
  never acknowledged (closed unanswered, or CLUSTERDOWN); once down, writes answer CLUSTERDOWN.

Usage: test_cluster_stepdown.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, RespError, check  # noqa: E402


def snapshots(bin_path):
    with Cluster(bin_path, n=3, extra_args=["--cluster-snapshot-entries", "20"]) as cl:
        leader = cl.wait_leader()
        for i in range(120):
            # One request at a time: each is its own entry.
            leader.call("SEMLOCK.ACQUIRE", "a%d" % i, 60000 if i % 2 else 300)
        cl.wait_applied(int(leader.info()["applied_index"]))
        deadline = time.time() + 10
        while time.time() < deadline and not all(
                int(m.info()["snapshot_index"]) > 0 for m in cl.members):
            time.sleep(0.1)
        check(all(int(m.info()["snapshot_index"]) > 0 for m in cl.members),
              "every member snapshotted its engine")
        follower = next(m for m in cl.members if m is not leader)
        follower.kill9()
        time.sleep(0.5)  # the 300 ms holders run out while it is down
        for i in range(120, 200):
            leader.call("SEMLOCK.ACQUIRE", "a%d" % i, 60000)
        follower.start()
        cl.wait_applied(int(leader.info()["applied_index"]), members=[follower])
        check(int(follower.info()["snapshot_index"]) > 0,
              "the restarted member rebuilt from a snapshot")
        keys = ["a%d" % i for i in range(200)]
        want = leader.call("EXISTS", *keys)
        check(want == 60 + 80, "the leader holds the 140 long-TTL keys, the short ones ran out")
        check(follower.call("EXISTS", *keys) == want,
              "the restarted member sees the same holders as the leader (%d)" % want)
        check(follower.call("SEMLOCK.INFO", "a199")[3][0][1] ==
              leader.call("SEMLOCK.INFO", "a199")[3][0][1], "with the same fences")


def quorum_loss(bin_path):
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        check(leader.call("SEMLOCK.ACQUIRE", "busy", 60000, "OWNER", "a") is not None,
              "busy is held")
        waiter = leader.connect(timeout=20)
        waiter.send("SEMLOCK.ACQUIRE", "busy", 60000, "OWNER", "b", "WAIT", 15000)
        time.sleep(0.2)
        for m in cl.members:
            if m is not leader:
                m.kill9()
        # Their sidecars (the Raft voters) exit on the socket's EOF: until then they may still
        # acknowledge appends, and an entry they acknowledge IS committed.
        deadline = time.time() + 5
        while time.time() < deadline and any(m.sidecar_pids() for m in cl.members
                                             if m is not leader):
            time.sleep(0.02)
        check(not any(m.sidecar_pids() for m in cl.members if m is not leader),
              "the followers' sidecars exited with their servers")
        t0 = time.time()
        late = leader.connect(timeout=20)
        late.send("SEMLOCK.ACQUIRE", "late", 60000)
        reply = waiter.reply()
        waited = time.time() - t0
        print("waiter answered after %.3f s: %r" % (waited, reply))
        check(isinstance(reply, RespError) and reply == "CLUSTERDOWN The cluster is down",
              "the blocked WAIT client is answered CLUSTERDOWN when the leader steps down")
        check(waited < 5, "within a few election timeouts")
        try:
            got = late.reply()
        except (ConnectionError, OSError):
            got = "closed"
        check(got == "closed" or got == "CLUSTERDOWN The cluster is down",
              "an acquire sent to a leader without quorum is never acknowledged (%r)" % got)
        check(leader.info()["role"] != "leader" or leader.info()["serving"] == "0",
              "the old leader no longer serves")
        check(leader.call("SEMLOCK.ACQUIRE", "x", 1000) == "CLUSTERDOWN The cluster is down",
              "writes answer CLUSTERDOWN while there is no quorum")


def ttl_across_failover(bin_path):
    """A TTL is a lower bound across a failover; the new leader still expires it, by proposal."""
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        t0 = time.time()
        check(leader.call("SEMLOCK.ACQUIRE", "lease", 2000, "OWNER", "a") is not None,
              "lease granted for 2 s")
        cl.wait_applied(int(leader.info()["applied_index"]))
        leader.kill9()
        new = cl.wait_leader(exclude=[leader])
        others = [m for m in cl.members if m.alive()]
        # Until the TTL has passed the holder must be there on the new leader (it also gets the
        # election timeout on top). Checked for as long as the failover leaves before 2 s.
        while time.time() - t0 < 1.9:
            check(new.call("EXISTS", "lease") == 1, "the lease is held before its TTL ran out")
            time.sleep(0.2)
        deadline = time.time() + 6
        while time.time() < deadline and any(m.call("EXISTS", "lease") for m in others):
            time.sleep(0.1)
        gone = time.time() - t0
        check(not any(m.call("EXISTS", "lease") for m in others),
              "the new leader expires the lease (proposed, applied everywhere) %.2f s after "
              "the grant" % gone)
        check(new.call("SEMLOCK.ACQUIRE", "lease", 1000, "OWNER", "b") is not None,
              "and grants it again")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t = time.time()
    snapshots(args.bin)
    quorum_loss(args.bin)
    ttl_across_failover(args.bin)
    print("cluster stepdown: passed in %.1f s" % (time.time() - t))


if __name__ == "__main__":
    main()
