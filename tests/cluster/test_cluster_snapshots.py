"""Cluster mode: snapshots under constant load, and a prompt SIGTERM (label `cluster`).

- with cluster.snapshot_entries=50 and contended load on the leader that never lets its
  pipeline run empty (mutexes and a semaphore of 3: acquires, releases, extends, pipelined on
  several connections), the LEADER snapshots again and again while the load runs (it used to
  snapshot only when nothing was pending, i.e. never under load);
- after the load every member holds the same holders with the same fences, and a follower
  killed and restarted rebuilds from the snapshots to that same state;
- SIGTERM under load: a follower and then the leader exit within 2 s (one took 5 s).

Usage: test_cluster_snapshots.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check  # noqa: E402

KEYS = ["m%d" % i for i in range(8)]
SEM = "sem"


class Load:
    """Connections pipelining contended commands at a member until stopped."""

    def __init__(self, member, conns=4, depth=16):
        self.member = member
        self.stop_flag = threading.Event()
        self.done = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(c, depth), daemon=True)
                        for c in range(conns)]

    def run(self, n, depth):
        try:
            conn = self.member.connect(timeout=10)
            i = 0
            while not self.stop_flag.is_set():
                cmds = []
                for _ in range(depth):
                    i += 1
                    owner = "c%d-%d" % (n, i % 5)
                    key = KEYS[i % len(KEYS)]
                    kind = i % 5
                    if kind == 0:
                        cmds.append(("SEMLOCK.ACQUIRE", key, 2000, "OWNER", owner))
                    elif kind == 1:
                        cmds.append(("SEMLOCK.RELEASE", key, owner))
                    elif kind == 2:
                        cmds.append(("SEMLOCK.ACQUIRE", SEM, 2000, "LIMIT", 3, "OWNER", owner))
                    elif kind == 3:
                        cmds.append(("SEMLOCK.EXTEND", SEM, owner, 3000))
                    else:
                        cmds.append(("SEMLOCK.RELEASE", SEM, owner))
                for c in cmds:
                    conn.send(*c)
                for _ in cmds:
                    conn.reply()
                self.done += len(cmds)
            conn.close()
        except (OSError, ConnectionError) as e:
            if not self.stop_flag.is_set():
                self.errors.append(repr(e))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(15)


def state(member):
    out = {}
    for key in KEYS + [SEM]:
        info = member.call("SEMLOCK.INFO", key)
        out[key] = sorted((h[0], int(h[1])) for h in info[3]) if info else []
    return out


def wait_same_state(cl, leader, members, timeout=15):
    deadline = time.time() + timeout
    want = None
    while time.time() < deadline:
        cl.wait_applied(int(leader.info()["applied_index"]), members=members)
        want = state(leader)
        if all(state(m) == want for m in members):
            return want
        time.sleep(0.2)
    raise AssertionError("members differ from the leader: %r vs %r" %
                         (want, {m.id: state(m) for m in members}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3, extra_args=["--cluster-snapshot-entries", "50"]) as cl:
        leader = cl.wait_leader()
        followers = [m for m in cl.members if m is not leader]
        load = Load(leader).start()
        seen = set()
        pending_seen = 0
        polls = 0
        t_end = time.time() + 6
        while time.time() < t_end:
            info = leader.info()
            polls += 1
            if int(info["pending_batches"]) > 0:
                pending_seen += 1
            seen.add(int(info["snapshot_index"]))
            time.sleep(0.1)
        load.stop()
        check(not load.errors, "the load ran without errors (%d commands)" % load.done)
        print("leader snapshot indexes seen under load:", sorted(seen),
              "pending in %d of %d polls" % (pending_seen, polls))
        check(len([s for s in seen if s > 0]) >= 2,
              "the leader snapshotted repeatedly while under load")
        want = wait_same_state(cl, leader, followers)
        check(any(want.values()), "the load left holders behind to compare")
        print("same state on every member:", want)

        victim = followers[0]
        victim.kill9()
        load = Load(leader).start()
        time.sleep(1.5)
        load.stop()
        victim.start()
        wait_same_state(cl, leader, [victim])
        check(int(victim.info()["snapshot_index"]) > 0,
              "a restarted follower rebuilt from a snapshot to the leader's state")

        load = Load(leader).start()
        time.sleep(0.5)
        for m in (followers[1], leader):
            t0 = time.time()
            m.proc.terminate()
            m.proc.wait(30)
            took = time.time() - t0
            print("member %d exited %.2f s after SIGTERM" % (m.id, took))
            # Promptly: not after waiting out the 5 s shutdown grace period for replies held for
            # a sidecar already stopped (the defect). Told by its log, not by a wall-clock bound
            # (a loaded machine once needed over 2 s for a prompt exit).
            with open(m.log_path, "rb") as f:
                waited = b"Shutdown grace period over" in f.read()
            check(not waited, "member %d exits on SIGTERM without waiting out the grace period "
                  "(%.2f s)" % (m.id, took))
        load.stop()
    print("PASS")


if __name__ == "__main__":
    main()
