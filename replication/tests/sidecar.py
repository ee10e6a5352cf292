"""Drives real ttl-semlock-raft processes over the fd-3 frame protocol (replication/README.md).

Each Member owns one sidecar process and the server's end of its socketpair; a reader thread
decodes the sidecar's frames into plain Python state that the tests wait on.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

PROPOSE, CONF_CHANGE, SNAPSHOT_TAKEN, READ_INDEX, RESYNC, TRANSFER = 1, 2, 3, 4, 5, 6
STATUS, ENTRIES, PROPOSE_FAILED, SNAPSHOT_INSTALL = 10, 11, 12, 13
READ_INDEX_OK, READ_INDEX_FAILED, CONF_RESULT = 14, 15, 16
FOLLOWER, CANDIDATE, LEADER, PRE_CANDIDATE = 0, 1, 2, 3


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def frame(typ, payload=b""):
    return struct.pack("<IB", len(payload) + 1, typ) + payload


def bstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("<I", len(b)) + b


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)
        self.o += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def bytes(self):
        n = self.take("<I")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v


class Member:
    def __init__(self, binary, mid, workdir, raft_port, members, election_ms=1000,
                 heartbeat_ms=100, extra=(), resync=True, reader=True):
        self.binary, self.id, self.members = binary, mid, members
        self.dir = os.path.join(workdir, "m%d" % mid)
        self.raft_port = raft_port
        self.election_ms, self.heartbeat_ms, self.extra = election_ms, heartbeat_ms, list(extra)
        self.cv = threading.Condition()
        self.start(resync, reader)

    # -- process ---------------------------------------------------------------------------
    def start(self, resync=True, reader=True):
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cfd = child.fileno()
        args = [self.binary, "--id", str(self.id), "--dir", self.dir,
                "--raft-listen", "127.0.0.1:%d" % self.raft_port,
                "--election-ms", str(self.election_ms), "--heartbeat-ms", str(self.heartbeat_ms),
                "--members", json.dumps(self.members)] + self.extra
        self.stderr_path = self.dir + ".stderr"
        os.makedirs(os.path.dirname(self.stderr_path), exist_ok=True)
        errf = open(self.stderr_path, "ab")
        def to_fd3():
            # Our descriptors are close-on-exec; only fd 3 (made inheritable here) survives.
            if cfd != 3:
                os.dup2(cfd, 3)
            else:
                os.set_inheritable(3, True)

        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                                     close_fds=False, preexec_fn=to_fd3)
        errf.close()
        child.close()
        self.sock = parent
        self.status = None
        self.statuses = []
        self.entries = {}      # index -> (term, kind, data)
        self.order = []        # indices in arrival order
        self.installs = []     # (index, term, data)
        self.failed = {}       # tag -> reason
        self.reads = {}        # tag -> ("ok", index) | ("failed", reason)
        self.confs = {}        # tag -> (ok, error)
        self.entry_times = {}  # index -> arrival time
        self.entries_frames = 0
        self.eof = False
        self.wlock = threading.Lock()
        self.thread = None
        if reader:
            self.start_reader()
        if resync:
            self.send(RESYNC)

    def close_ctl(self):
        """The server's end goes away (shutdown wakes our own reader thread too)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait()
            self.close_ctl()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close_ctl()

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    # -- output ----------------------------------------------------------------------------
    def send(self, typ, payload=b""):
        with self.wlock:
            self.sock.sendall(frame(typ, payload))

    def send_raw(self, raw):
        with self.wlock:
            self.sock.sendall(raw)

    def propose(self, tag, data):
        self.send(PROPOSE, struct.pack("<Q", tag) + bstr(data))

    def conf_change(self, tag, op, mid, raft="", client=""):
        self.send(CONF_CHANGE, struct.pack("<QBQ", tag, op, mid) + bstr(raft) + bstr(client))

    def snapshot_taken(self, index, path):
        self.send(SNAPSHOT_TAKEN, struct.pack("<Q", index) + bstr(path))

    def read_index(self, tag):
        self.send(READ_INDEX, struct.pack("<Q", tag))

    def transfer(self, target):
        self.send(TRANSFER, struct.pack("<Q", target))

    # -- input -----------------------------------------------------------------------------
    def start_reader(self):
        """Frames are decoded by a thread from now on (until then: recv_frame)."""
        self.thread = threading.Thread(target=self._read_loop, daemon=True)
        self.thread.start()

    def recv_frame(self):
        """Without a reader thread: the next frame as (type, Reader)."""
        n = struct.unpack("<I", self._recv_exact(4))[0]
        body = self._recv_exact(n)
        return body[0], Reader(body[1:])

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _read_loop(self):
        try:
            while True:
                n = struct.unpack("<I", self._recv_exact(4))[0]
                body = self._recv_exact(n)
                self._handle(body[0], Reader(body[1:]))
        except (EOFError, OSError):
            with self.cv:
                self.eof = True
                self.cv.notify_all()

    def _handle(self, typ, r):
        now = time.monotonic()
        with self.cv:
            if typ == STATUS:
                mid, leader, term = r.take("<Q"), r.take("<Q"), r.take("<Q")
                role, commit, applied = r.take("<B"), r.take("<Q"), r.take("<Q")
                mem = {}
                for _ in range(r.take("<I")):
                    i = r.take("<Q")
                    mem[i] = (r.bytes().decode(), r.bytes().decode())
                self.status = dict(id=mid, leader=leader, term=term, role=role, commit=commit,
                                   applied=applied, members=mem, at=now)
                self.statuses.append(self.status)
            elif typ == ENTRIES:
                self.entries_frames += 1
                for _ in range(r.take("<I")):
                    idx, term, kind = r.take("<Q"), r.take("<Q"), r.take("<B")
                    data = r.bytes()
                    if idx in self.entries and self.entries[idx] != (term, kind, data):
                        raise AssertionError("member %d: entry %d changed" % (self.id, idx))
                    self.entries[idx] = (term, kind, data)
                    self.order.append(idx)
                    self.entry_times[idx] = now
            elif typ == PROPOSE_FAILED:
                tag = r.take("<Q")
                self.failed[tag] = r.bytes().decode()
            elif typ == SNAPSHOT_INSTALL:
                idx, term = r.take("<Q"), r.take("<Q")
                self.installs.append((idx, term, r.bytes()))
                self.order.append(("install", idx))
                # The engine state is replaced: entries after idx follow.
                self.entries = {i: e for i, e in self.entries.items() if i > idx}
            elif typ == READ_INDEX_OK:
                tag = r.take("<Q")
                self.reads[tag] = ("ok", r.take("<Q"))
            elif typ == READ_INDEX_FAILED:
                tag = r.take("<Q")
                self.reads[tag] = ("failed", r.bytes().decode())
            elif typ == CONF_RESULT:
                tag, ok = r.take("<Q"), r.take("<B")
                self.confs[tag] = (bool(ok), r.bytes().decode())
            else:
                raise AssertionError("member %d: unknown frame type %d" % (self.id, typ))
            if r.o != len(r.b):
                raise AssertionError("member %d: frame %d has %d trailing bytes"
                                     % (self.id, typ, len(r.b) - r.o))
            self.cv.notify_all()

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("member %d: timed out waiting for %s (status %s)"
                                         % (self.id, what, self.status))
                self.cv.wait(left)

    def normal_data(self):
        """Data of the non-empty normal entries, in index order."""
        with self.cv:
            return [(i, self.entries[i][2]) for i in sorted(self.entries)
                    if self.entries[i][1] == 0 and self.entries[i][2]]


class Cluster:
    def __init__(self, binary, workdir, n=3, election_ms=1000, heartbeat_ms=100, extra=(),
                 reader=True):
        self.binary, self.workdir, self.reader = binary, workdir, reader
        self.election_ms, self.heartbeat_ms, self.extra = election_ms, heartbeat_ms, list(extra)
        self.ports = {}
        ports = free_ports(2 * n)
        self.members_map = {}
        for i in range(1, n + 1):
            self.ports[i] = (ports[2 * i - 2], ports[2 * i - 1])
            self.members_map[str(i)] = {"raft": "127.0.0.1:%d" % ports[2 * i - 2],
                                        "client": "127.0.0.1:%d" % ports[2 * i - 1]}
        self.m = {}
        for i in range(1, n + 1):
            self.m[i] = self.new_member(i, self.members_map)

    def new_ports(self, mid):
        """Ports for a member added later: (raft address, client address)."""
        self.ports[mid] = tuple(free_ports(2))
        return tuple("127.0.0.1:%d" % p for p in self.ports[mid])

    def new_member(self, mid, members_map, extra=()):
        if mid not in self.ports:
            self.ports[mid] = tuple(free_ports(2))
        return Member(self.binary, mid, self.workdir, self.ports[mid][0], members_map,
                      self.election_ms, self.heartbeat_ms, self.extra + list(extra),
                      reader=self.reader)

    def live(self):
        return [m for m in self.m.values() if m.proc.poll() is None]

    def leader(self, timeout, among=None):
        """Waits until every live member (or `among`) agrees on one leader that says it leads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ms = among or self.live()
            st = [m.status for m in ms]
            if all(st):
                leaders = {s["leader"] for s in st}
                if len(leaders) == 1 and 0 not in leaders:
                    lid = leaders.pop()
                    lm = [m for m in ms if m.id == lid]
                    if lm and lm[0].status["role"] == LEADER:
                        return lm[0]
            time.sleep(0.01)
        raise AssertionError("no agreed leader within %.1fs: %s"
                             % (timeout, [m.status for m in (among or self.live())]))

    def stop(self):
        for m in self.m.values():
            m.stop()
