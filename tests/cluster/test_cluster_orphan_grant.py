"""A follower's orphan WAIT grant is given back exactly (label `cluster`).

A client waits (WAIT) through a follower and leaves before the grant reaches it: the follower
gives the grant back on the leader. The leader takes back only what that grant added, as a single
node does for a grant it could not deliver:
- a grant that only refreshed a holder its (explicit) owner already had (another connection of the
  same owner was served first) leaves that holder alone: it belongs to the request that created
  it, which was told it holds the key (regression: the follower's plain RELEASE by owner took it);
- a reentrant re-acquire's added hold goes back (the count drops by one, the holder stays);
- a grant that created its holder is released (the key is free at once, not held for its TTL);
in RESP and in JSON lines (the follower's upstream speaks its client's framing).

Each case waits for conditions (the leader's waiter count, the members' client counts) with
generous deadlines; nothing depends on timing.

Usage: test_cluster_orphan_grant.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, encode, wait_for  # noqa: E402

TIMEOUT = 30  # seconds; conditions are asked every 50 ms


def key_info(member, key):
    """SEMLOCK.INFO as a dict (None: nobody holds the key)."""
    rep = member.call("SEMLOCK.INFO", key)
    if rep is None:
        return None
    return dict(zip(rep[0::2], rep[1::2]))


def waiters(member, key):
    info = key_info(member, key)
    return 0 if info is None else int(info["waiters"])


def holders(member, key):
    """{owner: (fence, holds)} of the key's holders."""
    info = key_info(member, key)
    if info is None:
        return {}
    return {h[0]: (int(h[1]), int(n)) for h, n in zip(info["holders"], info["holds"])}


def clients(member):
    """connected_clients of INFO clients (the asking connection included)."""
    for line in member.call("INFO", "clients").splitlines():
        if line.startswith("connected_clients:"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no connected_clients in INFO clients")


def json_send(port, obj):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((json.dumps(obj) + "\n").encode())
    return s


def orphan(cl, leader, follower, key, send_wait, queued_before):
    """`send_wait()` opens a client on the follower whose WAIT acquire queues on `key` behind
    `queued_before` waiters; the client leaves once the follower forwards it. Returns when the
    follower has noticed the close. The caller then frees the key; wait_orphan_done() waits until
    the follower's upstream (kept until the grant came and was given back) has closed."""
    leader_base = clients(leader)
    follower_base = clients(follower)
    s = send_wait()
    wait_for(lambda: waiters(leader, key) == queued_before + 1, TIMEOUT,
             "%s: the follower's WAIT acquire queues on the leader" % key)
    wait_for(lambda: clients(leader) == leader_base + 1, TIMEOUT,
             "%s: the follower forwards it on an upstream of its own" % key)
    s.close()
    wait_for(lambda: clients(follower) == follower_base, TIMEOUT,
             "%s: the follower has seen its client leave" % key)
    return leader_base


def wait_orphan_done(leader, key, leader_base):
    wait_for(lambda: waiters(leader, key) == 0 and clients(leader) == leader_base, TIMEOUT,
             "%s: the grant reached the follower, was given back, and the upstream closed" % key)


def refreshed_case(cl, leader, follower, key, send_wait, reentrant):
    """Owner o waits on `key` (limit 2, held by x and y) on the leader and, second in the queue,
    through a follower whose client leaves. x's release grants the first (o's holder is created);
    y's release serves the follower's waiter, which only refreshes o's holder (or adds a hold)."""
    leader.call("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "x", "LIMIT", 2)
    leader.call("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "y", "LIMIT", 2)
    a = leader.connect(timeout=TIMEOUT)
    a.send("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "o", "LIMIT", 2, "WAIT", 60000)
    wait_for(lambda: waiters(leader, key) == 1, TIMEOUT, "%s: o waits on the leader" % key)
    base = orphan(cl, leader, follower, key, send_wait, 1)
    leader.call("SEMLOCK.RELEASE", key, "x")
    rep = a.reply()
    check(isinstance(rep, list) and rep[0] == "o", "%s: o's first wait is granted: %r" % (key, rep))
    fence = int(rep[1])
    leader.call("SEMLOCK.RELEASE", key, "y")
    wait_orphan_done(leader, key, base)
    got = holders(leader, key)
    check(got.get("o") == (fence, 1),
          "%s: o still holds with its fence and one hold (%s): %r" %
          (key, "the added hold went back" if reentrant else "the refresh took nothing", got))
    a.close()


def created_case(cl, leader, follower, key, send_wait):
    """The follower's waiter is the only one: its grant creates the holder and goes at once."""
    leader.call("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "x")
    base = orphan(cl, leader, follower, key, send_wait, 0)
    leader.call("SEMLOCK.RELEASE", key, "x")
    wait_orphan_done(leader, key, base)
    check(holders(leader, key) == {},
          "%s: the grant that created its holder was released (not kept for 60 s)" % key)


def resp_created(follower, key):
    s = socket.create_connection(("127.0.0.1", follower.port), timeout=10)
    s.sendall(encode("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "o", "WAIT", 60000))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        follower = next(m for m in cl.members if m is not leader)

        def resp_wait(key, *extra):
            def send():
                s = socket.create_connection(("127.0.0.1", follower.port), timeout=10)
                s.sendall(encode("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "o", "LIMIT", 2,
                                 "WAIT", 60000, *extra))
                return s
            return send

        def json_wait(key, limit=2):
            return lambda: json_send(follower.port, {
                "action": "acquire", "key": key, "ttl_ms": 60000, "owner": "o", "limit": limit,
                "wait_ms": 60000, "id": 1})

        refreshed_case(cl, leader, follower, "r1", resp_wait("r1"), False)
        refreshed_case(cl, leader, follower, "r2", resp_wait("r2", "REENTRANT"), True)
        refreshed_case(cl, leader, follower, "j1", json_wait("j1"), False)
        created_case(cl, leader, follower, "c1", lambda: resp_created(follower, "c1"))
        created_case(cl, leader, follower, "c2", json_wait("c2", 1))
        check(leader.call("SEMLOCK.ACQUIRE", "c1", 1000, "OWNER", "next")[0] == "next",
              "c1: free for the next client")
    print("cluster orphan grant: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
