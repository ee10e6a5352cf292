"""Orphan WAIT grants: only the latest reply is named, immediate grants count (label `cluster`).

A client of a follower pipelines two requests: a WAIT acquire that blocks on the leader (on a
key another client holds), then a WAIT acquire on the key under test, and leaves. The follower
keeps its upstream until the blocked acquire is answered; once the blocker releases, the leader
grants that one and then answers the second AT ONCE (no queueing). Neither reply has a client, so
the follower gives both back (orphan_grants.cc). Checked:
- a grant that created its holder at once is released (not held by nobody for its TTL), and a
  reentrant hold added at once goes back (the count drops by one);
- an ACQUIREALL granted at once gives back every key it created and none it only refreshed;
- an orphan of a grant that only refreshed the owner's holder takes nothing, even though an
  earlier grant on the same connection created that holder with the same fence (regression: the
  leader matched that earlier, delivered grant and took away a hold another client was told of).

Waits for conditions (waiter counts, the blocked upstream's buffered request, client counts)
with generous deadlines; nothing depends on timing.

Usage: test_cluster_orphan_immediate.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, encode, wait_for  # noqa: E402
from test_cluster_orphan_grant import TIMEOUT, clients, holders, waiters  # noqa: E402


def blocked_with_input(leader):
    """True when a blocked client of the leader has a request buffered behind its wait."""
    for line in leader.call("CLIENT", "LIST").splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("flags") == "b" and int(fields.get("qbuf", "0")) > 0:
            return True
    return False


def orphan_behind_block(leader, follower, blk, sock, *acquire):
    """`sock` (a follower client) pipelines a WAIT acquire blocking on `blk` and `acquire`, then
    leaves; the blocker's release lets both be answered with nobody to deliver them to. Returns
    once the follower has given both back and its upstream has closed."""
    leader.call("SEMLOCK.ACQUIRE", blk, 60000, "OWNER", "z")
    sock.sendall(encode("SEMLOCK.ACQUIRE", blk, 60000, "OWNER", "c", "WAIT", 60000) +
                 encode(*acquire))
    wait_for(lambda: waiters(leader, blk) == 1, TIMEOUT, "%s: the pipelined wait blocks" % blk)
    wait_for(lambda: blocked_with_input(leader), TIMEOUT,
             "%s: the second request waits behind it on the leader" % blk)
    leader_base = clients(leader)  # the upstream included
    follower_base = clients(follower)
    sock.close()
    wait_for(lambda: clients(follower) == follower_base - 1, TIMEOUT,
             "%s: the follower has seen its client leave" % blk)
    leader.call("SEMLOCK.RELEASE", blk, "z")
    wait_for(lambda: clients(leader) == leader_base - 1 and holders(leader, blk) == {}, TIMEOUT,
             "%s: both grants reached the follower, were given back, the upstream closed" % blk)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        follower = next(m for m in cl.members if m is not leader)

        # An immediate WAIT grant that created its holder: released.
        s = socket.create_connection(("127.0.0.1", follower.port), timeout=TIMEOUT)
        orphan_behind_block(leader, follower, "b1", s,
                            "SEMLOCK.ACQUIRE", "i1", 60000, "OWNER", "o", "WAIT", 60000)
        check(holders(leader, "i1") == {},
              "i1: the immediate grant that created its holder was released (not kept 60 s)")

        # An immediate reentrant hold: goes back, the holder stays with its one hold.
        leader.call("SEMLOCK.ACQUIRE", "i2", 60000, "OWNER", "o", "REENTRANT")
        fence = holders(leader, "i2")["o"][0]
        s = socket.create_connection(("127.0.0.1", follower.port), timeout=TIMEOUT)
        orphan_behind_block(leader, follower, "b2", s, "SEMLOCK.ACQUIRE", "i2", 60000, "OWNER",
                            "o", "REENTRANT", "WAIT", 60000)
        got = holders(leader, "i2")
        check(got.get("o") == (fence, 1), "i2: the added hold went back, one stays: %r" % got)

        # An immediate WAIT ACQUIREALL (regression: not recorded, so nothing went back and the
        # keys it created stayed held by nobody for 60 s): every key it created goes back, one
        # it only refreshed (o held it already) stays with its holder.
        leader.call("SEMLOCK.ACQUIRE", "m1", 60000, "OWNER", "o")
        fence = holders(leader, "m1")["o"][0]
        s = socket.create_connection(("127.0.0.1", follower.port), timeout=TIMEOUT)
        orphan_behind_block(leader, follower, "b4", s, "SEMLOCK.ACQUIREALL", 60000, 3, "m1", "m2",
                            "m3", "OWNER", "o", "WAIT", 60000)
        got = {k: holders(leader, k) for k in ("m1", "m2", "m3")}
        check(got["m2"] == {} and got["m3"] == {},
              "m2, m3: the keys the immediate ACQUIREALL created were released: %r" % got)
        check(got["m1"] == {"o": (fence, 1)}, "m1: the refreshed holder stays: %r" % got)
        check(leader.call("SEMLOCK.RELEASE", "m1", "o") == 1, "m1: its holder releases it")

        # F4: C's queue-served grant creates o's holder (recorded, delivered); two reentrant
        # holds of o (D, E) follow; C releases one; C's next WAIT acquire only refreshes, and
        # its client is gone: the orphan must not take D's or E's hold.
        leader.call("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "x")
        s = socket.create_connection(("127.0.0.1", follower.port), timeout=TIMEOUT)
        c = s.makefile("rb")
        s.sendall(encode("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "o", "WAIT", 60000))
        wait_for(lambda: waiters(leader, "k") == 1, TIMEOUT, "k: C waits on the leader")
        leader.call("SEMLOCK.RELEASE", "k", "x")
        check(c.readline() == b"*2\r\n", "k: C is granted")
        c.readline(), c.readline()  # $1 o
        fence = int(c.readline()[1:])
        d = leader.connect(timeout=TIMEOUT)
        e = leader.connect(timeout=TIMEOUT)
        check(int(d.call("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "o", "REENTRANT")[1]) == fence,
              "k: D holds")
        check(int(e.call("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "o", "REENTRANT")[1]) == fence,
              "k: E holds")
        s.sendall(encode("SEMLOCK.RELEASE", "k", "o"))
        check(c.readline() == b":1\r\n", "k: C releases its hold")
        check(holders(leader, "k").get("o") == (fence, 2), "k: D's and E's holds remain")
        c.close()  # the socket closes with `s` below
        orphan_behind_block(leader, follower, "b3", s,
                            "SEMLOCK.ACQUIRE", "k", 30000, "OWNER", "o", "WAIT", 5000)
        got = holders(leader, "k")
        check(got.get("o") == (fence, 2),
              "k: the refresh-only orphan took nothing (D's and E's holds remain): %r" % got)
        check(d.call("SEMLOCK.RELEASE", "k", "o") == 1, "k: D releases")
        check(holders(leader, "k").get("o") == (fence, 1), "k: E still holds")
        d.close()
        e.close()
    print("cluster orphan immediate: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
