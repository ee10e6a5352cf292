"""All-or-nothing multi-key locks through followers (label `cluster`).

- RESP SEMLOCK.ACQUIREALL / RELEASEALL on a follower are forwarded: the leader grants every key
  or none (a second ACQUIREALL overlapping a held key, on the other follower, takes nothing);
- a waiting ACQUIREALL on a follower is granted when the last of its keys frees, with fences
  above every earlier one;
- a waiting ACQUIREALL whose client disconnects from the follower leaves nothing behind on the
  leader (no holder, no reservation blocking others);
- (regression) a waiting ACQUIREALL granted as its client leaves the follower is released, not
  left held for its TTL;
- JSON acquire_all / release_all on a follower;
- the leader dies while a follower's client waits in ACQUIREALL: it gets CLUSTERDOWN (waiters do
  not survive a failover), and its retry on the new leader is granted.

Usage: test_cluster_multi_keys.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster  # noqa: E402

DOWN = "CLUSTERDOWN The cluster is down"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def holders(member, key):
    info = member.call("SEMLOCK.INFO", key)
    if not info:
        return []
    m = dict(zip(info[::2], info[1::2]))
    return [(h[0], int(h[1])) for h in m["holders"]]


def waiters(member, key):
    info = member.call("SEMLOCK.INFO", key)
    if not info:
        return 0
    return int(dict(zip(info[::2], info[1::2]))["waiters"])


def wait_for(cond, seconds):
    """Polls cond until it holds or `seconds` pass; its last value. (Fixed sleeps before a check
    were too short on a loaded machine.)"""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def json_call(port, obj):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(json.dumps(obj).encode() + b"\n")
    buf = b""
    while b"\n" not in buf:
        buf += s.recv(65536)
    s.close()
    return json.loads(buf.split(b"\n")[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        f1, f2 = [m for m in cl.members if m is not leader]

        a = f1.connect()
        got = a.call("SEMLOCK.ACQUIREALL", 30000, 2, "m:a", "m:b", "OWNER", "o")
        check(got is not None and got[0] == "o" and len(got[1]) == 2,
              "follower: ACQUIREALL granted both keys: %r" % (got,))
        fa, fb = got[1]
        check(holders(leader, "m:a") == [("o", fa)] and holders(leader, "m:b") == [("o", fb)],
              "the leader holds both with those fences")
        b = f2.connect(timeout=20)
        check(b.call("SEMLOCK.ACQUIREALL", 30000, 2, "m:b", "m:c", "OWNER", "p") is None,
              "other follower: an overlapping ACQUIREALL is not granted")
        check(holders(leader, "m:c") == [], "and took nothing (m:c free)")

        # A waiting one, granted when the last key frees.
        b.send("SEMLOCK.ACQUIREALL", 30000, 2, "m:b", "m:c", "OWNER", "p", "WAIT", 10000)
        check(wait_for(lambda: waiters(leader, "m:b") == 1, 30), "the waiter is on the leader")
        check(a.call("SEMLOCK.RELEASEALL", "o", 2, "m:a", "m:b") == 2,
              "follower: RELEASEALL released both")
        got = b.reply()
        check(got is not None and got[0] == "p" and min(got[1]) > max(fa, fb),
              "the waiting ACQUIREALL is granted, with larger fences: %r" % (got,))
        check(b.call("SEMLOCK.RELEASEALL", "p", 2, "m:b", "m:c") == 2, "and released")

        # A waiter that disconnects leaves nothing on the leader.
        check(a.call("SEMLOCK.ACQUIRE", "m:d", 30000, "OWNER", "x") is not None, "m:d held")
        w = f2.connect()
        w.send("SEMLOCK.ACQUIREALL", 30000, 2, "m:d", "m:e", "OWNER", "w", "WAIT", 10000)
        check(wait_for(lambda: waiters(leader, "m:d") == 1, 30), "the waiter is on the leader")
        w.sock.shutdown(socket.SHUT_RDWR)
        w.close()
        time.sleep(0.3)
        check(a.call("SEMLOCK.RELEASE", "m:d", "x") == 1, "m:d released")
        # Within the wait (10 s) and far from the TTL (30 s): either side of the race between
        # the follower seeing the close and the leader's grant ends with nothing held.
        gone = time.time()
        check(wait_for(lambda: holders(leader, "m:d") == [] and holders(leader, "m:e") == [],
                       8), "the gone waiter was not granted (or its grant was released)")
        check(wait_for(lambda: leader.call("SEMLOCK.ACQUIRE", "m:e", 5000, "OWNER", "y")
                       is not None, max(0.5, 9 - (time.time() - gone))),
              "and holds no reservation on m:e")

        # Regression: a WAIT ACQUIREALL granted just as its client leaves the follower. The
        # follower read the client's close first and dropped its connection to the leader
        # without reading the grant: both keys stayed held for their TTL (60 s) by nobody. Now
        # the grant is read and released, as a WAIT SEMLOCK.ACQUIRE's is.
        check(leader.call("SEMLOCK.ACQUIRE", "o:x", 60000, "OWNER", "h") is not None, "o:x held")
        g = f1.connect()
        g.send("SEMLOCK.ACQUIREALL", 60000, 2, "o:x", "o:y", "OWNER", "g", "WAIT", 20000)
        check(wait_for(lambda: waiters(leader, "o:x") == 1, 30), "the waiter is on the leader")
        f1.proc.send_signal(signal.SIGSTOP)  # its server only: its Raft sidecar goes on
        try:
            g.sock.shutdown(socket.SHUT_RDWR)  # the follower sees this close first ...
            g.close()
            time.sleep(0.2)
            check(leader.call("SEMLOCK.RELEASE", "o:x", "h") == 1, "o:x released")
            time.sleep(0.5)  # ... and the grant after it
        finally:
            f1.proc.send_signal(signal.SIGCONT)
        # Far from the TTL (60 s) that held them in the defect.
        wait_for(lambda: not holders(leader, "o:x") and not holders(leader, "o:y"), 30)
        check(holders(leader, "o:x") == [] and holders(leader, "o:y") == [],
              "the grant of the client that left is released: %r %r"
              % (holders(leader, "o:x"), holders(leader, "o:y")))

        # JSON through a follower.
        r = json_call(f1.port, {"action": "acquire_all", "keys": ["j:a", "j:b"], "ttl_ms": 30000,
                                "owner": "jo", "id": 3})
        check(r.get("success") is True and r["data"]["owner"] == "jo" and
              len(r["data"]["fences"]) == 2 and r.get("id") == 3,
              "follower: JSON acquire_all: %r" % r)
        check([o for o, _ in holders(leader, "j:b")] == ["jo"], "the leader holds j:b for jo")
        r = json_call(f2.port, {"action": "release_all", "keys": ["j:a", "j:b"], "owner": "jo"})
        check(r.get("success") is True and r["data"]["released"] == 2,
              "follower: JSON release_all: %r" % r)

        # Failover while a follower's client waits.
        check(leader.call("SEMLOCK.ACQUIRE", "f:a", 60000, "OWNER", "z") is not None, "f:a held")
        q = f1.connect(timeout=30)
        q.send("SEMLOCK.ACQUIREALL", 5000, 2, "f:a", "f:b", "OWNER", "q", "WAIT", 20000)
        check(wait_for(lambda: waiters(leader, "f:a") == 1, 30), "the waiter is on the leader")
        leader.kill9()
        check(q.reply() == DOWN, "the waiting ACQUIREALL gets CLUSTERDOWN at the failover")
        new = cl.wait_leader(exclude=[leader])
        check(new.call("SEMLOCK.RELEASE", "f:a", "z") == 1, "f:a survived the failover")
        got = q.call("SEMLOCK.ACQUIREALL", 5000, 2, "f:a", "f:b", "OWNER", "q")
        check(got is not None and got[0] == "q", "the retry is granted by the new leader")
    print("PASS")


if __name__ == "__main__":
    main()
