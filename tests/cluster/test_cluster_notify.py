"""Lost-lock notices in cluster mode (label `cluster`): the NOTIFY mark replicates, every member
tells its own listeners, a RESP3 client on a follower gets the leader's push relayed (once), and
when the leader dies it gets its member's `failover` notice.

Usage: test_cluster_notify.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import socket
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, encode  # noqa: E402


class Resp3:
    """A raw RESP3 connection that tells pushes (>) from replies."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.pushes = []
        self.call("HELLO", "3")

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _value(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":", b"_", b"#", b","):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind in (b"*", b"~", b">"):
            items = [self._value() for _ in range(int(rest))]
            return ("push", items) if kind == b">" else items
        if kind == b"%":
            return [self._value() for _ in range(2 * int(rest))]
        raise ValueError(line)

    def reply(self):
        while True:
            v = self._value()
            if isinstance(v, tuple):
                self.pushes.append(v[1])
                continue
            return v

    def call(self, *args):
        self.s.sendall(encode(*args))
        return self.reply()

    def wait_pushes(self, n, timeout):
        deadline = time.time() + timeout
        self.s.settimeout(0.1)
        while len(self.pushes) < n and time.time() < deadline:
            try:
                v = self._value()
            except socket.timeout:
                continue
            if isinstance(v, tuple):
                self.pushes.append(v[1])
        self.s.settimeout(10)
        return self.pushes


def messages(p, n, timeout):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "message":
            out.append(m["data"].decode())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)
        fr = redis.Redis(port=f.port, socket_timeout=10)
        lr = redis.Redis(port=leader.port, socket_timeout=10)
        fsub = fr.pubsub()
        fsub.subscribe("__semlock__:lost:c:k1", "__semlock__:lost:c:k3")
        lsub = lr.pubsub()
        lsub.subscribe("__semlock__:lost:c:k1")
        for p in (fsub, lsub):
            deadline = time.time() + 5
            seen = 0
            while seen < (2 if p is fsub else 1) and time.time() < deadline:
                m = p.get_message(timeout=0.1)
                seen += 1 if m and m["type"] == "subscribe" else 0

        # Forged notices: PUBLISH on either member, and the members' own SEMLOCK.PUBLISH sent by
        # a client, are refused; the subscribers' first message below is the server's own.
        refused = "channels starting with '__semlock__:' are reserved for the server's own notices"
        for r, where in ((fr, "follower"), (lr, "leader")):
            for cmd in (("PUBLISH", "__semlock__:lost:c:k1", "semlock-lost c:k1 a 1 expired"),
                        ("SEMLOCK.PUBLISH", "99", "__semlock__:lost:c:k1",
                         "semlock-lost c:k1 a 1 forced")):
                try:
                    r.execute_command(*cmd)
                    check(False, "%s: %s was accepted" % (where, cmd[0]))
                except redis.ResponseError as e:
                    check(str(e) == refused, "%s: %s to a lost channel refused" % (where, cmd[0]))

        # A forwarded RESP3 NOTIFY acquire: the leader's push comes back through the follower.
        c = Resp3(f.port)
        owner, fence = c.call("SEMLOCK.ACQUIRE", "c:k1", 300, "OWNER", "a", "NOTIFY")
        check(owner == "a", "follower: NOTIFY acquire granted")
        info = lr.execute_command("SEMLOCK.INFO", "c:k1")
        check(info[-2:] == [b"notify", [int(fence)]], "the leader has the mark")
        c.wait_pushes(1, 5)
        time.sleep(0.5)  # a second push would be here by now
        check(c.pushes == [["semlock-lost", "c:k1", "a", fence, "expired"]],
              "the RESP3 client on the follower got exactly one push: %r" % c.pushes)
        want = "semlock-lost c:k1 a %s expired" % fence
        check(messages(fsub, 1, 5) == [want], "the follower's subscriber heard it")
        check(messages(lsub, 1, 5) == [want], "the leader's subscriber heard it")
        check(c.call("PING") == "PONG", "the client's reply stream is intact")

        # A JSON watch on the follower: a forwarded JSON NOTIFY acquire, force-released on the
        # leader, reaches it through the replicated drop.
        w = socket.create_connection(("127.0.0.1", f.port), timeout=10)
        w.sendall(b'{"action":"watch","keys":["c:k2"]}\n')
        wbuf = b""
        while wbuf.count(b"\n") < 1:
            wbuf += w.recv(65536)
        check(b'"watching":["c:k2"]' in wbuf, "follower: watch acked")
        j = socket.create_connection(("127.0.0.1", f.port), timeout=10)
        j.sendall(b'{"action":"acquire","key":"c:k2","ttl_ms":60000,"owner":"j","notify":true}\n')
        jr = b""
        while b"\n" not in jr:
            jr += j.recv(65536)
        jfence = json.loads(jr)["data"]["fence"]
        check(lr.execute_command("SEMLOCK.FORCERELEASE", "c:k2") == 1, "leader: force release")
        wbuf = wbuf.split(b"\n", 1)[1]
        while b"\n" not in wbuf:
            wbuf += w.recv(65536)
        check(json.loads(wbuf.split(b"\n")[0]) ==
              {"event": "semlock-lost", "key": "c:k2", "owner": "j", "fence": jfence,
               "reason": "forced"}, "follower's watch: forced")

        # The leader dies while the follower's client holds with NOTIFY: failover, once.
        owner, fence3 = c.call("SEMLOCK.ACQUIRE", "c:k3", 60000, "OWNER", "b", "NOTIFY")
        check(owner == "b", "follower: second NOTIFY acquire")
        leader.kill9()
        c.wait_pushes(2, 15)
        check(c.pushes[1:] == [["semlock-lost", "c:k3", "b", fence3, "failover"]],
              "the follower's client got its member's failover push: %r" % c.pushes)
        check(messages(fsub, 1, 5) == ["semlock-lost c:k3 b %s failover" % fence3],
              "the follower's subscriber heard the failover")
        new = cl.wait_leader(exclude=[leader])
        check(new is not None, "a new leader")
        time.sleep(0.5)
        c.wait_pushes(3, 0.5)
        check(len(c.pushes) == 2, "no second notice for the failed-over holder")
        for s in (w, j):
            s.close()
    print("PASS")


if __name__ == "__main__":
    main()
