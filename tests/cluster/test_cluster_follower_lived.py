"""Connection-lived locks held through a follower (label `cluster`).

The holder and its binding live on the leader, bound to the follower's upstream connection for
this client; the leader's server.session_heartbeat_timeout (6 s here) watches that upstream.
Regression: SEMLOCK.HEARTBEAT (and JSON ping, and any request answered on the follower) stayed on
the follower, so the leader saw a silent upstream and released the lock of a client that
heartbeat diligently.

- RESP: `SEMLOCK.ACQUIRE k 0 SESSION` on a follower, then only `SEMLOCK.HEARTBEAT` for 7.5 s: still
  held on the leader; then only PINGs (answered by the follower) less than the timeout apart:
  still held; then silence: the leader releases it after the timeout;
- JSON: `ttl_ms 0` with `session` on a follower, then only `ping` for 7.5 s: still held;
- the client's connection to the follower drops: the holder goes on the leader at once;
- a heartbeat on a follower connection that never forwarded anything is answered there.

Usage: test_cluster_follower_lived.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster  # noqa: E402

TIMEOUT_S = 6.0


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def held(leader, key):
    return leader.call("SEMLOCK.EXISTS", key) == 1


def wait_gone(leader, key, within):
    t0 = time.time()
    while time.time() - t0 < within:
        if not held(leader, key):
            return time.time() - t0
        time.sleep(0.05)
    return None


def keep_calling(conn, args, seconds, want):
    end = time.time() + seconds
    while time.time() < end:
        got = conn.call(*args)
        if got != want:
            return got
        time.sleep(0.3)
    return want


class Json:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def call(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    os.environ["TTLSEMLOCK_SERVER_SESSION_HEARTBEAT_TIMEOUT"] = "%dms" % int(TIMEOUT_S * 1000)
    os.environ["TTLSEMLOCK_CLEANUP_INTERVAL"] = "100ms"  # the timeout is checked this often
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)

        fresh = f.connect()
        check(fresh.call("SEMLOCK.HEARTBEAT") == "OK",
              "a heartbeat on a follower connection with nothing forwarded: OK from the follower")
        fresh.close()

        c = f.connect()
        got = c.call("SEMLOCK.ACQUIRE", "hb", 0, "SESSION", "OWNER", "h")
        check(got is not None and got[0] == "h", "follower: connection-lived lock granted")
        check(leader.call("PTTL", "hb") > 23 * 3600 * 1000, "the leader holds it to the cap")
        check(keep_calling(c, ["SEMLOCK.HEARTBEAT"], TIMEOUT_S + 1.5, "OK") == "OK",
              "heartbeats through the follower answer OK")
        check(held(leader, "hb"), "after %.1f s of heartbeats only (timeout %.1f s) the leader "
                                  "still holds it" % (TIMEOUT_S + 1.5, TIMEOUT_S))
        # PINGs (answered by the follower) less than the timeout apart, the first one soon after
        # the last heartbeat: each must reach the leader as a heartbeat, not only some of them.
        for gap in (0.5, TIMEOUT_S - 0.4):
            time.sleep(gap)
            check(c.call("PING") == "PONG", "PING after %.1f s" % gap)
        check(held(leader, "hb"), "after %.1f s of PINGs only (any request is a heartbeat) the "
                                  "leader still holds it" % (TIMEOUT_S + 0.1))
        t = wait_gone(leader, "hb", TIMEOUT_S + 3)
        check(t is not None, "silence: the leader releases it after the heartbeat timeout "
                             "(%.2f s)" % (t or -1))
        c.close()

        j = Json(f.port)
        r = j.call({"action": "acquire", "key": "hj", "ttl_ms": 0, "session": True,
                    "owner": "jo"})
        check(r.get("success") is True, "follower: JSON connection-lived lock granted")
        end = time.time() + TIMEOUT_S + 1.5
        while time.time() < end:
            r = j.call({"action": "ping", "id": 7})
            if r.get("success") is not True or r.get("id") != 7:
                break
            time.sleep(0.3)
        check(r.get("success") is True and r.get("id") == 7, "JSON pings answered: %r" % r)
        check(held(leader, "hj"), "after %.1f s of JSON pings only the leader still holds it"
              % (TIMEOUT_S + 1.5))
        j.s.close()
        t = wait_gone(leader, "hj", 2)
        check(t is not None, "the JSON client's connection closed: released on the leader "
                             "(%.2f s)" % (t or -1))

        d = f.connect()
        got = d.call("SEMLOCK.ACQUIRE", "dr", 0, "SESSION", "OWNER", "d")
        check(got is not None and held(leader, "dr"), "follower: another connection-lived lock")
        d.sock.shutdown(socket.SHUT_RDWR)
        d.close()
        t = wait_gone(leader, "dr", 1)
        check(t is not None, "its client's connection dropped: the holder is gone on the leader "
                             "(%.2f s)" % (t or -1))
    print("PASS")


if __name__ == "__main__":
    main()
