"""A leader's SIGTERM never acknowledges a grant that was not committed (label `cluster`).

CI's checker.cluster once found two grants with one fence after "leader 2 stopped" in a rolling
restart. The leader's shutdown failed its uncommitted batches, which closes their connections; a
closed connection gives back its undelivered WAIT grant and the engine grants the next waiter at
once. That grant's reply was written although nothing would ever propose it, and the next leader,
which never heard of it, handed out its fence again.

Here: C holds `k`, A and B wait on it; both followers are frozen (nothing can commit); C's release
grants A (held: uncommitted); SIGTERM to the leader. A must not be answered a grant, and neither
may B (its grant comes from A's connection being closed). After the followers resume, the new
leader's next fences are above every fence a client was told.

Usage: test_cluster_shutdown_grant.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, Connection, check, freeze, wait_for  # noqa: E402


def reply_or_none(conn, timeout):
    conn.sock.settimeout(timeout)
    try:
        return conn.reply()
    except (OSError, ConnectionError, ValueError) as e:
        return "no reply (%s)" % type(e).__name__


def waiters(leader, key):
    info = leader.call("SEMLOCK.INFO", key)
    return int(info[info.index("waiters") + 1]) if "waiters" in info else -1


def attempt(bin_path):
    """One run of the scenario: None when the SIGTERM came before the leader had executed the
    release (nothing was pending: try again), else True after the checks."""
    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        c, a, b = Connection(leader.port), Connection(leader.port), Connection(leader.port)
        rc = c.call("SEMLOCK.ACQUIRE", "k", 30000, "OWNER", "c")
        check(isinstance(rc, list), "C holds k")
        told = [int(rc[1])]
        a.send("SEMLOCK.ACQUIRE", "k", 30000, "OWNER", "a", "WAIT", 30000)
        wait_for(lambda: waiters(leader, "k") == 1, 30, "A waits on k")
        b.send("SEMLOCK.ACQUIRE", "k", 30000, "OWNER", "b", "WAIT", 30000)
        wait_for(lambda: waiters(leader, "k") == 2, 30, "B waits behind A")

        followers = [m for m in cl.members if m is not leader]
        for m in followers:
            freeze(m, signal.SIGSTOP)
        try:
            # Grants A in the leader's engine; its entry cannot commit. Every reply of the leader
            # now waits for that commit (INFO too), so the release is given time rather than
            # watched; the leader's shutdown log line tells whether it was pending.
            c.send("SEMLOCK.RELEASE", "k", "c")
            time.sleep(0.5)
            leader.proc.send_signal(signal.SIGTERM)
            ra = reply_or_none(a, 10)
            rb = reply_or_none(b, 10)
            leader.proc.wait(30)
        finally:
            for m in followers:
                freeze(m, signal.SIGCONT)
        with open(leader.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        print("A:", ra, "B:", rb)
        if "uncommitted batches fail" not in log and not isinstance(rb, list):
            print("the release had not run when SIGTERM came; again")
            return None
        check(not isinstance(ra, list), "A's uncommitted grant is not acknowledged")
        check(not isinstance(rb, list),
              "B is not told it holds k: its grant came after nothing could commit")
        for r in (ra, rb):
            if isinstance(r, list):
                told.append(int(r[1]))

        new = cl.wait_leader(exclude=[leader])
        print("new leader's k:", new.call("SEMLOCK.INFO", "k"))
        for i in range(4):
            r = new.call("SEMLOCK.ACQUIRE", "fresh%d" % i, 5000, "OWNER", "d%d" % i)
            check(isinstance(r, list) and int(r[1]) > max(told),
                  "the new leader's grant %d has a fence above every fence told before" % i)
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    for _ in range(5):
        if attempt(args.bin):
            print("cluster shutdown grant: passed")
            return
    raise AssertionError("the scenario never had the release pending at SIGTERM in 5 tries")


if __name__ == "__main__":
    main()
