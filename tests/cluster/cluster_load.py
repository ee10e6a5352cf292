"""The cluster checker's load (cluster_checker.py): clients that record a history.

Workers acquire, extend and release (or abandon) the contended keys on the member they believe is
the leader, recording each request as an Op; the Observer reads SEMLOCK.INFO on random live
members; a Filler pipelines acquire+release pairs on private keys to reach many operations
quickly (a member down for N operations).
"""
import random
import threading
import time

from cluster_fixture import Connection, RespError
from cluster_history import KEYS, Op, now


class State:
    def __init__(self, cluster):
        self.cluster = cluster
        self.leader = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ops = []          # appended by workers (list.append is atomic)
        self.infos = []        # (member id, key, reply, send, recv)
        self.acked = 0         # acknowledged ops, for "down for N operations"


class Worker(threading.Thread):
    def __init__(self, state, index, seed):
        super().__init__(daemon=True)
        self.s = state
        self.index = index
        self.rng = random.Random(seed)
        self.conn = None
        self.member = None
        self.n = 0

    def connect(self):
        leader = self.s.leader
        if leader is None or not leader.alive():
            return False
        try:
            self.conn = Connection(leader.port, timeout=3)
            self.member = leader
            return True
        except OSError:
            return False

    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def call(self, kind, key, owner, ttl, wait, *args):
        if self.conn is None and not self.connect():
            time.sleep(0.02)
            return None
        op = Op(kind, key, owner, ttl, wait, self.member.id)
        self.s.ops.append(op)
        try:
            self.conn.send(*args)
            op.reply = self.conn.reply()
            op.recv = now()
        except (OSError, ConnectionError, ValueError):
            self.drop()
            return op
        if isinstance(op.reply, RespError):
            self.drop()  # the leader may have moved: ask again
            time.sleep(0.01)
        else:
            self.s.acked += 1
        return op

    def run(self):
        rng = self.rng
        while not self.s.stop.is_set():
            key, limit = rng.choice(KEYS)
            self.n += 1
            owner = "w%d-%d" % (self.index, self.n)
            ttl = rng.choice((150, 400, 1000, 2500))
            wait = rng.choice((0, 0, 100, 400))
            args = ["SEMLOCK.ACQUIRE", key, ttl, "OWNER", owner, "LIMIT", limit]
            if wait:
                args += ["WAIT", wait]
            op = self.call("acquire", key, owner, ttl, wait, *args)
            if op is None or not op.known() or not isinstance(op.reply, list):
                continue
            # Holding: maybe extend, then release, or abandon.
            hold = min(ttl / 4000, 0.05)
            for _ in range(rng.choice((0, 0, 1, 2))):
                time.sleep(rng.uniform(0, hold))
                ext = rng.choice((200, 800, 2000))
                op = self.call("extend", key, owner, ext, 0, "SEMLOCK.EXTEND", key, owner, ext)
                if op is None or not op.known() or op.reply != 1:
                    break
            else:
                time.sleep(rng.uniform(0, hold))
                if rng.random() < 0.95:
                    self.call("release", key, owner, 0, 0, "SEMLOCK.RELEASE", key, owner)
        self.drop()


class Observer(threading.Thread):
    """SEMLOCK.INFO of a random key on a random live member."""

    def __init__(self, state):
        super().__init__(daemon=True)
        self.s = state

    def run(self):
        rng = random.Random(7)
        while not self.s.stop.is_set():
            live = [m for m in self.s.cluster.members if m.alive()]
            if not live:
                time.sleep(0.05)
                continue
            m = rng.choice(live)
            key = rng.choice(KEYS)[0]
            t0 = now()
            try:
                reply = m.call("SEMLOCK.INFO", key)
            except (OSError, ConnectionError):
                continue
            self.s.infos.append((m.id, key, reply, t0, now()))
            time.sleep(0.02)


class Filler(threading.Thread):
    """Pipelined acquire+release pairs on private keys, to reach many operations quickly."""

    def __init__(self, state, target):
        super().__init__(daemon=True)
        self.s = state
        self.target = target
        self.done = 0

    def run(self):
        i = 0
        while self.done < self.target and not self.s.stop.is_set():
            leader = self.s.leader
            if leader is None:
                time.sleep(0.05)
                continue
            try:
                c = Connection(leader.port, timeout=5)
                for _ in range(100):
                    if self.done >= self.target:
                        break
                    n = 200
                    for j in range(n):
                        c.send("SEMLOCK.ACQUIRE", "fill%d" % ((i + j) % 64), 5000, "OWNER", "f")
                        c.send("SEMLOCK.RELEASE", "fill%d" % ((i + j) % 64), "f")
                    i += n
                    ok = 0
                    for _ in range(2 * n):
                        if not isinstance(c.reply(), RespError):
                            ok += 1
                    self.done += ok
                    self.s.acked += ok
                c.close()
            except (OSError, ConnectionError):
                time.sleep(0.05)
