"""A scripted stand-in for the Raft sidecar `ttl-semlock-raft`, for cluster tests that need
Raft to do exactly one thing at exactly one moment (replication/README.md, "The frame protocol").

The server starts its sidecar from TTLSEMLOCK_RAFT_BIN (server/cluster_node.cc). FakeSidecar
writes a small executable there; the server runs it with fd 3 = its end of the socketpair. That
child connects to the test over a Unix socket, hands fd 3 over (SCM_RIGHTS) and then only waits:
it exits when the test closes the control connection (the test does so when the server closes
fd 3, or when the test ends), so the server still sees its sidecar exit with it. The frames are
read and written by the test process itself, which plays a one-member group's leader:

- the log holds committed entries only (index -> (term, kind, data)); `append` commits one;
- `auto_commit`: a PROPOSE is committed at once (ENTRIES, then STATUS when `status_on_commit`);
  off, proposals are only recorded (`proposals`), as a leader that cannot commit them;
- `auto_resync`: a RESYNC is answered as the real sidecar answers it (SNAPSHOT_INSTALL of the
  latest snapshot, ENTRIES of every entry after it, STATUS); off, it is only counted and the
  test answers it;
- SNAPSHOT_TAKEN stores the server's file as the snapshot (with the term of its index) and
  deletes the file; READ_INDEX is answered READ_INDEX_OK at the commit index; CONF_CHANGE is
  refused; PING and TRANSFER are ignored.

Standard library only. Usage:

    fake = FakeSidecar(workdir, member_id=1, members={...})
    proc = subprocess.Popen([server, ...], env=fake.env())
    fake.accept()
    fake.wait(lambda: fake.resyncs >= 1, 30, "the server asked for RESYNC")
"""
import os
import socket
import stat
import struct
import sys
import threading
import time

PROPOSE, CONF_CHANGE, SNAPSHOT_TAKEN, READ_INDEX, RESYNC, TRANSFER, PING = 1, 2, 3, 4, 5, 6, 7
STATUS, ENTRIES, PROPOSE_FAILED, SNAPSHOT_INSTALL = 10, 11, 12, 13
READ_INDEX_OK, READ_INDEX_FAILED, CONF_RESULT = 14, 15, 16
FOLLOWER, CANDIDATE, LEADER = 0, 1, 2

HOLD, DROP, FENCE_RESERVATION, DATA, LIVED = 1, 2, 3, 4, 5


def frame(typ, payload=b""):
    return struct.pack("<IB", len(payload) + 1, typ) + payload


def bstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("<I", len(b)) + b


def decode_records(data, offset):
    """Framed persistence records (persistence/record.h, format 2/3) from `offset`: a list of
    dicts with type, fence, key, owner (hold and drop and lived records; others by type only)."""
    out = []
    pos = offset
    while pos < len(data):
        length = struct.unpack_from("<I", data, pos)[0]
        payload = data[pos + 12:pos + 12 + length]
        if len(payload) != length:
            raise ValueError("record cut short at offset %d" % pos)
        pos += 12 + length
        typ, fence = struct.unpack_from("<BQ", payload, 0)
        rec = {"type": typ, "fence": fence}
        at = 9
        if typ in (HOLD, DROP, LIVED):
            if typ == HOLD:
                at += 12  # wall deadline, limit
            klen = struct.unpack_from("<H", payload, at)[0]
            rec["key"] = payload[at + 2:at + 2 + klen].decode()
            at += 2 + klen
            olen = payload[at]
            rec["owner"] = payload[at + 1:at + 1 + olen].decode()
        out.append(rec)
    return out


def decode_entry(data):
    """A server entry's data (cluster/entry.h): (header dict, records)."""
    version, proposer, seq, next_fence = struct.unpack_from("<BQQQ", data, 0)
    return ({"version": version, "proposer": proposer, "seq": seq, "next_fence": next_fence},
            decode_records(data, 25))


def holds_in(data, key):
    """The owners an entry's data grants `key` to (its kHold records of `key`)."""
    if not data:
        return []
    _, records = decode_entry(data)
    return [r["owner"] for r in records if r["type"] == HOLD and r.get("key") == key]


def _child(ctl_path):
    """Runs as the server's sidecar: gives fd 3 to the test, then waits for the test to end."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctl_path)
    socket.send_fds(s, [b"3"], [3])
    os.close(3)
    try:
        while s.recv(64):
            pass
    except OSError:
        pass
    os._exit(2)  # as the real sidecar on fd-3 EOF


class FakeSidecar:
    def __init__(self, workdir, member_id, members, term=5):
        """`members`: the {"id": {"raft": .., "client": ..}} map the server was given."""
        self.id = member_id
        self.members = sorted((int(k), v["raft"], v["client"]) for k, v in members.items())
        self.term = term
        self.role = LEADER
        self.leader_id = member_id
        self.ctl_path = os.path.join(workdir, "fake-sidecar.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.ctl_path)
        self.listener.listen(1)
        self.program = os.path.join(workdir, "ttl-semlock-raft")
        with open(self.program, "w") as f:
            f.write("#!/bin/sh\nexec '%s' '%s' --child '%s'\n" %
                    (sys.executable, os.path.abspath(__file__), self.ctl_path))
        os.chmod(self.program, os.stat(self.program).st_mode | stat.S_IXUSR)
        self.cv = threading.Condition()
        self.wlock = threading.Lock()
        self.sock = None
        self.ctl = None
        self.log = {}          # index -> (term, kind, data): committed entries
        self.last = 0          # last committed index
        self.snapshot = None   # (index, term, bytes)
        self.snapshots_taken = 0
        self.proposals = []    # (tag, data) in arrival order
        self.resyncs = 0
        self.pings = 0
        self.received = []     # frame types, in arrival order
        self.auto_commit = True
        self.auto_resync = True
        self.status_on_commit = True
        self.eof = False
        self.error = None

    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env["TTLSEMLOCK_RAFT_BIN"] = self.program
        return env

    def accept(self, timeout=30):
        """The server has started its sidecar: takes over its fd 3."""
        self.listener.settimeout(timeout)
        self.ctl, _ = self.listener.accept()
        _, fds, _, _ = socket.recv_fds(self.ctl, 16, 1)
        self.sock = socket.socket(fileno=fds[0])
        threading.Thread(target=self._read, daemon=True).start()

    def close(self):
        for s in (self.sock, self.ctl, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    # -- waiting ---------------------------------------------------------------------------
    def wait(self, pred, timeout, what):
        with self.cv:
            if not self.cv.wait_for(lambda: pred() or self.eof, timeout) or not pred():
                raise AssertionError("%s (within %ss; eof=%s error=%s)" %
                                     (what, timeout, self.eof, self.error))

    # -- sending ---------------------------------------------------------------------------
    def send_raw(self, data):
        """Writes bytes (whole frames) to the server."""
        with self.wlock:
            self.sock.sendall(data)

    def send_status(self, commit=None):
        with self.cv:
            commit = self.last if commit is None else commit
            p = struct.pack("<QQQBQQ", self.id, self.leader_id, self.term, self.role, commit,
                            self.last)
            p += struct.pack("<I", len(self.members))
            for mid, raft, client in self.members:
                p += struct.pack("<Q", mid) + bstr(raft) + bstr(client)
        self.send_raw(frame(STATUS, p))

    def append(self, data=b"", term=None, kind=0):
        """Commits one entry (not sent yet: deliver()). Returns its index."""
        with self.cv:
            self.last += 1
            self.log[self.last] = (self.term if term is None else term, kind, data)
            self.cv.notify_all()
            return self.last

    def entries_frame(self, lo, hi):
        with self.cv:
            p = struct.pack("<I", hi - lo + 1)
            for i in range(lo, hi + 1):
                term, kind, data = self.log[i]
                p += struct.pack("<QQB", i, term, kind) + bstr(data)
        return frame(ENTRIES, p)

    def deliver(self, lo, hi=None):
        """Sends ENTRIES of the committed entries lo..hi (default: to the last)."""
        hi = self.last if hi is None else hi
        if hi >= lo:
            self.send_raw(self.entries_frame(lo, hi))

    def snapshot_install_frame(self):
        index, term, data = self.snapshot
        return frame(SNAPSHOT_INSTALL, struct.pack("<QQ", index, term) + bstr(data))

    def answer_resync(self):
        """What the real sidecar sends for RESYNC: snapshot, the entries after it, STATUS."""
        start = 1
        if self.snapshot is not None:
            self.send_raw(self.snapshot_install_frame())
            start = self.snapshot[0] + 1
        self.deliver(start)
        self.send_status()

    def propose_failed(self, tag, reason):
        self.send_raw(frame(PROPOSE_FAILED, struct.pack("<Q", tag) + bstr(reason)))

    # -- receiving -------------------------------------------------------------------------
    def _read(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 5:
                    n, typ = struct.unpack_from("<IB", buf, 0)
                    if len(buf) < 4 + n:
                        break
                    payload, buf = buf[5:4 + n], buf[4 + n:]
                    self._on_frame(typ, payload)
        except Exception as e:  # noqa: BLE001 - reported through wait()
            self.error = repr(e)
        with self.cv:
            self.eof = True
            self.cv.notify_all()
        try:
            self.ctl.close()  # the child exits: the server sees its sidecar go with it
        except OSError:
            pass

    def _on_frame(self, typ, p):
        with self.cv:
            self.received.append(typ)
        if typ == PROPOSE:
            tag = struct.unpack_from("<Q", p, 0)[0]
            n = struct.unpack_from("<I", p, 8)[0]
            data = p[12:12 + n]
            with self.cv:
                self.proposals.append((tag, data))
                auto, status = self.auto_commit, self.status_on_commit
                self.cv.notify_all()
            if auto:
                index = self.append(data)
                self.deliver(index, index)
                if status:
                    self.send_status()
        elif typ == SNAPSHOT_TAKEN:
            index = struct.unpack_from("<Q", p, 0)[0]
            n = struct.unpack_from("<I", p, 8)[0]
            path = p[12:12 + n].decode()
            with open(path, "rb") as f:
                data = f.read()
            os.remove(path)
            with self.cv:
                self.snapshot = (index, self.log[index][0], data)
                self.snapshots_taken += 1
                self.cv.notify_all()
        elif typ == READ_INDEX:
            tag = struct.unpack_from("<Q", p, 0)[0]
            with self.cv:
                commit = self.last
            self.send_raw(frame(READ_INDEX_OK, struct.pack("<QQ", tag, commit)))
        elif typ == RESYNC:
            with self.cv:
                self.resyncs += 1
                auto = self.auto_resync
                self.cv.notify_all()
            if auto:
                self.answer_resync()
        elif typ == CONF_CHANGE:
            tag = struct.unpack_from("<Q", p, 0)[0]
            self.send_raw(frame(CONF_RESULT, struct.pack("<QB", tag, 0) +
                             bstr("not supported by the fake sidecar")))
        elif typ == PING:
            with self.cv:
                self.pings += 1
                self.cv.notify_all()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    sys.exit("usage: fake_sidecar.py --child CTL_PATH [sidecar arguments, ignored]")
