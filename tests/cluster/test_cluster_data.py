"""Cluster mode: data keys in snapshots, and PUBLISH across members (label `cluster`).

- snapshots carry data keys: hashes, sorted sets, lists and counters (one with an expiry) are
  written on the leader; a follower is killed, the leader writes on until it has compacted its
  log past what the follower has (cluster.snapshot_entries 40, the sidecar keeps 20 entries), the
  follower comes back, catches up by the leader's snapshot, is made the leader (followers forward
  reads) and serves every data key to a real client (redis-py): the values, the expiry, DBSIZE;
- PUBLISH reaches subscribers on every member: redis-py subscribers (a channel and a pattern) on
  two followers and on the leader; a PUBLISH on a follower, one on the leader and one inside a
  script sent to a follower reach each subscriber exactly once, in order; PUBLISH answers the
  number of subscribers of the member the client is connected to; the leader cut off and back
  rebuilds its engine from the log without sending its subscriber the old messages again.

Usage: test_cluster_data.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import shutil
import signal
import stat
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, make_leader, wait_for  # noqa: E402

CATCHUP = 20


def client(member):
    return redis.Redis(host="127.0.0.1", port=member.port, socket_timeout=10,
                       decode_responses=True)


def data_state(r):
    return {
        "h": r.hgetall("h"),
        "z": r.zrange("z", 0, -1, withscores=True),
        "l": r.lrange("l", 0, -1),
        "ctr": r.get("ctr"),
        "big": r.hlen("big"),
        "types": [r.type(k) for k in ("h", "z", "l", "ctr", "tmp")],
    }



def snapshots(cl):
    leader = cl.wait_leader()
    follower = next(m for m in cl.members if m is not leader)
    lc = client(leader)
    lc.hset("h", mapping={"f1": "v1", "f2": "v2"})
    lc.zadd("z", {"a": 1, "b": 2.5, "c": -3})
    lc.rpush("l", "x", "y", "z")
    for _ in range(7):
        lc.incr("ctr")
    lc.incr("tmp")
    lc.expire("tmp", 600)
    cl.wait_applied(int(leader.info()["applied_index"]))
    down_at = int(follower.info()["applied_index"])
    follower.kill9()
    # Enough entries for the leader to snapshot and compact past what the follower has.
    for i in range(300):
        lc.hset("big", "f%d" % i, i)
        lc.incr("ctr")
    need = down_at + CATCHUP + 1
    wait_for(lambda: int(leader.info()["snapshot_index"]) > need, 20,
             "the leader's snapshot passed index %d (the follower was down at %d)" %
             (need, down_at))
    lc.lpop("l")  # a change after the snapshot, sent as an entry
    want = data_state(lc)
    check(want["ctr"] == "307" and want["big"] == 300 and want["l"] == ["y", "z"],
          "the leader's data: %r" % {k: want[k] for k in ("ctr", "big", "l")})
    follower.start()
    cl.wait_applied(int(leader.info()["applied_index"]), members=[follower], timeout=20)
    with open(follower.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    check("snapshot installed" in log, "the follower caught up by a snapshot")
    # Followers forward reads to the leader: the member's own state answers once it leads.
    check(make_leader(cl, follower) is follower, "the member that caught up leads now")
    fc = client(follower)
    got = data_state(fc)
    check(got == want, "the member serves the old leader's data keys: %r" % got)
    ttl = fc.ttl("tmp")
    check(500 < ttl <= 600, "the counter's expiry came with the snapshot (TTL %d)" % ttl)
    check(fc.dbsize() == 6, "DBSIZE counts the 6 keys")


def next_message(p, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m and m["type"] in ("message", "pmessage"):
            return m
    return None


def publish(cl):
    leader = cl.wait_leader()
    f1, f2 = [m for m in cl.members if m is not leader]
    subs = {}
    for name, member, pattern in (("f1", f1, False), ("f2", f2, True), ("leader", leader, False)):
        p = client(member).pubsub()
        if pattern:
            p.psubscribe("wake:*")
        else:
            p.subscribe("wake:lock")
        m = p.get_message(timeout=5)  # the (p)subscribe confirmation
        check(m and m["type"] in ("subscribe", "psubscribe"), "%s subscribed" % name)
        subs[name] = p
    n = client(f1).publish("wake:lock", "from-f1")
    check(n == 1, "PUBLISH on a follower counts that member's subscriber (%d)" % n)
    n = client(leader).publish("wake:lock", "from-leader")
    check(n == 1, "PUBLISH on the leader counts the leader's subscriber (%d)" % n)
    # Redisson's unlock: a script that releases and publishes, sent to a follower.
    client(f2).set("lk", "me", px=10000)
    r = client(f2).eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
        "return redis.call('publish', KEYS[2], ARGV[2]) end return -1",
        2, "lk", "wake:lock", "me", "from-script")
    check(r == 1, "a script's PUBLISH ran on the leader (%r)" % r)
    for name, p in subs.items():
        got = []
        for _ in range(3):
            m = next_message(p)
            got.append((m["type"], m["channel"], m["data"]) if m else None)
        kind = "pmessage" if name == "f2" else "message"
        check(got == [(kind, "wake:lock", d) for d in ("from-f1", "from-leader", "from-script")],
              "subscriber on %s got every message once, in order: %r" % (name, got))
        extra = next_message(p, timeout=1.0)
        check(extra is None, "no copy arrives twice on %s" % name)
    # The leader cut off (its sidecar frozen) and back: it steps down and rebuilds its engine by
    # replaying the log, entries with the messages above included; its subscriber must not get
    # them again, and gets the message published meanwhile once.
    pids = leader.sidecar_pids()
    check(len(pids) == 1, "the leader's sidecar found")
    os.kill(pids[0], signal.SIGSTOP)
    try:
        new = cl.wait_leader(exclude=[leader], timeout=20)
        n = client(f2).publish("wake:lock", "after-failover")
        check(n == 1, "PUBLISH after the failover (%d)" % n)
    finally:
        os.kill(pids[0], signal.SIGCONT)
    wait_for(lambda: leader.info().get("leader_id") == str(new.id) and
             int(leader.info()["applied_index"]) >= int(new.info()["applied_index"]), 20,
             "the old leader follows the new one and has replayed the log")
    for name, p in subs.items():
        got = []
        while True:
            m = next_message(p, timeout=1.5)
            if m is None:
                break
            got.append(m["data"])
        check(got == ["after-failover"],
              "subscriber on %s: the new message once, no old one again (%r)" % (name, got))
    for p in subs.values():
        p.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    # The sidecar keeps --catchup-entries entries behind a snapshot; a small number makes the
    # follower that was down need the leader's snapshot. The server runs the ttl-semlock-raft
    # next to its executable: a copy of the server next to a wrapper.
    raft_bin = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "ttl-semlock-raft")
    tmp = tempfile.mkdtemp(prefix="semlock-cluster-data-")
    try:
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        wrapper = os.path.join(bindir, "ttl-semlock-raft")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "$@" --catchup-entries %d\n' % (raft_bin, CATCHUP))
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
        server_bin = os.path.join(bindir, "ttl-semlock")
        shutil.copy2(args.bin, server_bin)
        # request_timeout 30 s: a message replayed within it is held back only by the applied
        # index (the wall-clock guard against old messages would hide a replay otherwise).
        with Cluster(server_bin, n=3, request_timeout="30s",
                     extra_args=["--cluster-snapshot-entries", "40"]) as cl:
            snapshots(cl)
            publish(cl)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
