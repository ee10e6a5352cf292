"""Lost-lock notices are not told again when a member replays its log (label `cluster`).

A leader that steps down rebuilds its engine from the committed log (snapshot + entries). Applying
a NOTIFY holder's replicated drop tells the member's listeners of the loss; regression: the replay
applied the old drops again, so the old leader's subscribers and watchers got every past notice a
second time (an `expired` or `forced` for a lock lost long before), and so did the listeners of
a member that restarted.

- a subscriber of `__semlock__:lost:<key>` and a JSON watch on the leader each get one `expired`
  and one `forced` notice;
- the leader hangs (SIGSTOP), another member is elected, it resumes and follows (its engine is
  rebuilt from the log): neither listener hears anything more;
- a new loss after that is still told, once;
- the member restarts, listeners connect before its Raft log replays: they hear nothing of the
  replayed drops either.

Usage: test_cluster_notify_replay.py --bin build-release/server/ttl-semlock
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


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


class Listener:
    """A RESP subscriber and a JSON watch on one member, for keys `keys`."""

    def __init__(self, member, keys):
        self.sub = member.connect()
        self.sub.send("SUBSCRIBE", *["__semlock__:lost:" + k for k in keys])
        for _ in keys:
            assert self.sub.reply()[0] == "subscribe"
        self.watch = socket.create_connection(("127.0.0.1", member.port), timeout=10)
        self.watch.sendall(json.dumps({"action": "watch", "keys": keys}).encode() + b"\n")
        self.wbuf = b""
        self.messages = []
        self.lines = []
        while not self.lines:
            self.poll(0.2)
        assert "watching" in json.dumps(self.lines[0])
        self.lines = []

    def poll(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            self.sub.sock.settimeout(0.05)
            try:
                m = self.sub.reply()
                self.messages.append(m[2])
            except socket.timeout:
                pass
            self.watch.settimeout(0.05)
            try:
                chunk = self.watch.recv(65536)
                if chunk:
                    self.wbuf += chunk
            except socket.timeout:
                pass
            while b"\n" in self.wbuf:
                line, self.wbuf = self.wbuf.split(b"\n", 1)
                self.lines.append(json.loads(line))
        self.sub.sock.settimeout(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        ls = Listener(leader, ["r:exp", "r:forced", "r:new"])
        e = leader.call("SEMLOCK.ACQUIRE", "r:exp", 200, "OWNER", "a", "NOTIFY")
        f = leader.call("SEMLOCK.ACQUIRE", "r:forced", 60000, "OWNER", "b", "NOTIFY")
        check(leader.call("SEMLOCK.FORCERELEASE", "r:forced") == 1, "force release")
        ls.poll(1.5)
        want = sorted(["semlock-lost r:exp a %s expired" % e[1],
                       "semlock-lost r:forced b %s forced" % f[1]])
        check(sorted(ls.messages) == want, "the subscriber heard both once: %r" % ls.messages)
        check(len(ls.lines) == 2, "the watch heard both once: %r" % ls.lines)
        ls.messages, ls.lines = [], []

        # The leader hangs; another member leads; it resumes, steps down and replays the log.
        leader.proc.send_signal(signal.SIGSTOP)
        try:
            new = cl.wait_leader(timeout=15, exclude=[leader])
        finally:
            leader.proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 10
        while time.time() < deadline and leader.info().get("leader_id") != str(new.id):
            time.sleep(0.05)
        check(leader.info().get("role") == "follower", "the old leader follows")
        cl.wait_applied(int(new.info()["applied_index"]), members=[leader])
        ls.poll(1.5)
        check(ls.messages == [], "after the replay its subscriber heard nothing again: %r"
              % ls.messages)
        check(ls.lines == [], "nor did its watch: %r" % ls.lines)

        n = new.call("SEMLOCK.ACQUIRE", "r:new", 60000, "OWNER", "c", "NOTIFY")
        check(new.call("SEMLOCK.FORCERELEASE", "r:new") == 1, "a new loss on the new leader")
        ls.poll(1.5)
        check(ls.messages == ["semlock-lost r:new c %s forced" % n[1]],
              "is told once on the old leader: %r" % ls.messages)
        check(len(ls.lines) == 1 and ls.lines[0]["fence"] == n[1],
              "and to its watch: %r" % ls.lines)

        # The member restarts: its Raft log replays every entry it held committed. Its sidecar
        # starts 2 s late here, so that new listeners are there before the replay.
        old = leader
        applied = int(new.info()["applied_index"])
        cl.wait_applied(applied, members=[old])
        old.terminate()
        real = os.environ.get("TTLSEMLOCK_RAFT_BIN") or os.path.join(
            os.path.dirname(os.path.abspath(args.bin)), "ttl-semlock-raft")
        slow = os.path.join(cl.workdir, "slow-raft.sh")
        with open(slow, "w") as fh:
            fh.write('#!/bin/sh\nsleep 2\nexec "%s" "$@"\n' % real)
        os.chmod(slow, 0o755)
        saved = os.environ.get("TTLSEMLOCK_RAFT_BIN")
        os.environ["TTLSEMLOCK_RAFT_BIN"] = slow
        try:
            old.start()
        finally:
            if saved is None:
                del os.environ["TTLSEMLOCK_RAFT_BIN"]
            else:
                os.environ["TTLSEMLOCK_RAFT_BIN"] = saved
        ls2 = Listener(old, ["r:exp", "r:forced", "r:new"])
        check(int(old.info().get("applied_index", 0)) == 0, "listeners in before the replay")
        cl.wait_applied(applied, members=[old], timeout=20)
        ls2.poll(1.0)
        check(ls2.messages == [] and ls2.lines == [],
              "the restarted member's replay told them nothing: %r %r"
              % (ls2.messages, ls2.lines))
    print("PASS")


if __name__ == "__main__":
    main()
