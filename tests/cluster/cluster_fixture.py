"""A reusable fixture that runs N real `ttl-semlock` members in cluster mode on loopback.

Each member gets free ports (lock, metrics, raft), its own cluster.dir under a work directory,
and a log file there. The Raft sidecar is found next to the server binary (or TTLSEMLOCK_RAFT_BIN).
Standard library only.

    with Cluster(bin_path, n=3) as cl:
        leader = cl.wait_leader()
        leader.call("SEMLOCK.ACQUIRE", "k", 10000)
        leader.kill9()
        new = cl.wait_leader(exclude=[leader])

`member.call(...)` sends one RESP command on a fresh connection and returns the parsed reply
(errors as RespError). `member.info()` returns the INFO cluster fields as a dict.
`Cluster(members_map=...)` lets a test give each member its own view of the raft addresses (to
put TCP proxies between members, as the proof suite does): members_map(member_id) -> the
{"id": {"raft": ..., "client": ...}} object that member bootstraps with.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class RespError(str):
    """A RESP error reply, without the leading '-'."""


_PORTS_GIVEN = set()  # a test that starts many members must not get one port twice


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("not RESP: %r" % line)


class Connection:
    """One RESP connection (pipelining: send() many, then replies())."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = _Reader(self.sock)

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reader.reply()

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def reply(self):
        return self.reader.reply()

    def close(self):
        self.sock.close()


class Member:
    def __init__(self, cluster, member_id):
        self.cluster = cluster
        self.id = member_id
        self.port = free_port()
        self.metrics_port = free_port()
        self.raft_port = free_port()
        self.dir = os.path.join(cluster.workdir, "m%d" % member_id)
        self.log_path = os.path.join(cluster.workdir, "m%d.log" % member_id)
        self.proc = None

    @property
    def raft(self):
        return "127.0.0.1:%d" % self.raft_port

    @property
    def client(self):
        return "127.0.0.1:%d" % self.port

    def start(self, extra_args=()):
        members = self.cluster.members_map(self.id)
        args = [self.cluster.bin, "--port", str(self.port), "--metrics-port",
                str(self.metrics_port), "--cluster", "true", "--cluster-node-id", str(self.id),
                "--cluster-members", json.dumps(members), "--cluster-dir", self.dir,
                "--cluster-raft-listen", self.raft,
                "--cluster-election-timeout", self.cluster.election_timeout,
                "--cluster-heartbeat-interval", self.cluster.heartbeat_interval,
                "--cluster-request-timeout", self.cluster.request_timeout]
        args += list(self.cluster.extra_args) + list(extra_args)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("member %d exited at start (%s); log %s" %
                                   (self.id, self.proc.returncode, self.log_path))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("member %d does not listen; log %s" % (self.id, self.log_path))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout=10):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def sidecar_pids(self):
        """Processes running this member's Raft sidecar (found by its --dir)."""
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"ttl-semlock-raft") and self.dir.encode() in argv:
                pids.append(int(pid))
        return pids

    def connect(self, timeout=10):
        c = Connection(self.port, timeout)
        if self.cluster.password is not None:  # the members run with API keys
            c.call("AUTH", self.cluster.password)
        return c

    def call(self, *args):
        c = self.connect()
        try:
            return c.call(*args)
        finally:
            c.close()

    def info(self):
        text = self.call("INFO", "cluster")
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out


class Cluster:
    def __init__(self, bin_path, n=3, election_timeout="1s", heartbeat_interval="100ms",
                 request_timeout="5s", extra_args=(), members_map=None, workdir=None):
        self.bin = bin_path
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="semlock-cluster-")
        self.election_timeout = election_timeout
        self.heartbeat_interval = heartbeat_interval
        self.request_timeout = request_timeout
        self.extra_args = extra_args
        self.members = [Member(self, i + 1) for i in range(n)]
        self._members_map = members_map
        self.password = None  # set to an admin key when the members require one

    def default_map(self):
        return {str(m.id): {"raft": m.raft, "client": m.client} for m in self.members}

    def members_map(self, member_id):
        if self._members_map is not None:
            return self._members_map(member_id)
        return self.default_map()

    def member(self, member_id):
        return next(m for m in self.members if m.id == member_id)

    def start(self):
        for m in self.members:
            m.start()
        return self

    def wait_leader(self, timeout=60, exclude=()):
        """The member that reports itself leader AND serving, agreed on by every live member.
        (The default is generous: on a loaded machine the first elections of a new group once
        churned past 15 s. Tests that bound a failover's time pass their own timeout.)"""
        deadline = time.time() + timeout
        excluded = {m.id for m in exclude}
        last = None
        while time.time() < deadline:
            live = [m for m in self.members if m.alive() and m.id not in excluded]
            try:
                infos = {m.id: m.info() for m in live}
            except (OSError, ConnectionError):
                time.sleep(0.05)
                continue
            last = infos
            leaders = [i for i, inf in infos.items()
                       if inf.get("role") == "leader" and inf.get("serving") == "1"]
            if len(leaders) == 1 and all(inf.get("leader_id") == str(leaders[0])
                                         for inf in infos.values()):
                return self.member(leaders[0])
            time.sleep(0.05)
        raise AssertionError("no leader within %ss: %r" % (timeout, last))

    def leader_commit_index(self, timeout=60):
        """The commit index of the serving leader, asked again (of whichever member leads by
        then) when the asking connection is closed: a leader that loses its quorum (CheckQuorum,
        e.g. a group of two whose new member is still starting) steps down and closes every
        connection whose replies wait behind a write it can no longer commit, an INFO too."""
        deadline = time.time() + timeout
        while True:
            leader = self.wait_leader(timeout=max(1.0, deadline - time.time()))
            try:
                return int(leader.info()["commit_index"])
            except (OSError, ConnectionError):
                if time.time() >= deadline:
                    raise
                time.sleep(0.05)

    def wait_applied(self, index, members=None, timeout=30):
        """Every given member (default: every live one) has applied `index`."""
        deadline = time.time() + timeout
        members = members or [m for m in self.members if m.alive()]
        while time.time() < deadline:
            if all(int(m.info().get("applied_index", 0)) >= index for m in members):
                return
            time.sleep(0.02)
        raise AssertionError("not applied %d within %ss: %r" %
                             (index, timeout, {m.id: m.info() for m in members}))

    def stop(self):
        for m in self.members:
            m.terminate()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            for m in self.members:
                try:
                    with open(m.log_path, "rb") as f:
                        tail = f.read()[-3000:].decode("utf-8", "replace")
                    print("---- member %d log tail ----\n%s" % (m.id, tail))
                except OSError:
                    pass
        if self.own_workdir and exc_type is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return False


# ---------------------------------------------------------------- shared by the cluster tests

def check(cond, what):
    """A test's assertion: raises AssertionError(what) unless cond, else prints "ok: what"."""
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def wait_for(pred, timeout, what):
    """check() of pred(), asked every 50 ms until it holds or `timeout` seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            print("ok:", what)
            return
        time.sleep(0.05)
    raise AssertionError(what)


def json_line(port, obj):
    """One JSON request on a fresh connection to `port`; its reply line, parsed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((json.dumps(obj) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def freeze(member, sig):
    """Sends `sig` (SIGSTOP, SIGCONT) to a member's server and its Raft sidecar."""
    for pid in [member.proc.pid] + member.sidecar_pids():
        os.kill(pid, sig)


def make_leader(cl, member):
    """Makes `member` the leader (followers forward reads: a member's own state answers once it
    leads). The leader is killed; if another member wins, it is frozen while the killed one comes
    back: the killed one's log lacks the new term's entry, so only `member` can win."""
    leader = cl.wait_leader()
    if leader is member:
        return leader
    leader.kill9()
    new = cl.wait_leader(exclude=[leader], timeout=30)
    if new is member:
        leader.start()
    else:
        pids = new.sidecar_pids()
        os.kill(pids[0], signal.SIGSTOP)
        try:
            leader.start()
            cl.wait_leader(exclude=[new], timeout=30)
        finally:
            os.kill(pids[0], signal.SIGCONT)
    return cl.wait_leader(timeout=30)
