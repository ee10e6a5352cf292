"""Server processes for bench/run: start ttl-semlock or redis-server pinned to one CPU, talk to
them with a tiny RESP client, and read their CPU time and RSS from /proc.

Both servers get the same placement (taskset) and are restarted fresh for every measurement, so
no run inherits another's keys."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    """A loopback port nobody listens on right now (the kernel picks it)."""
    return free_ports(1)[0]


def free_ports(n):
    """n distinct loopback ports nobody listens on right now: all n sockets stay bound until
    every port is known, so the kernel cannot hand out one port twice (two ports picked one
    after the other can come back equal). Another process may still take one before the server
    binds it: Server.start retries with new ports when the server exits at start."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


START_ATTEMPTS = 5


def resp_call(port, *args, timeout=5.0):
    """Sends one RESP command to 127.0.0.1:port and returns the decoded reply (bytes, int, list,
    None, or an Exception instance for an error reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _read_reply(s.makefile("rb"))


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("server closed the connection")
    kind, body = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return body
    if kind == b"-":
        return Exception(body.decode(errors="replace"))
    if kind == b":":
        return int(body)
    if kind == b"_":
        return None
    if kind == b"$":
        n = int(body)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind in (b"*", b"%"):
        n = int(body)
        if n < 0:
            return None
        count = n * 2 if kind == b"%" else n
        return [_read_reply(f) for _ in range(count)]
    raise ValueError("unexpected RESP reply %r" % line)


def info_fields(port, section):
    """INFO section as a dict of str -> str."""
    text = resp_call(port, "INFO", section)
    if isinstance(text, Exception):
        raise text
    fields = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v
    return fields


class _ExitedAtStart(Exception):
    pass


class Server:
    """One server process pinned to `cpu`. kind is 'semlock' or 'redis'."""

    def __init__(self, kind, binary, cpu, extra_args=(), wrapper=()):
        self.kind = kind
        self.wrapper = list(wrapper)
        self.binary = binary
        self.cpu = cpu
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.workdir = None

    def start(self):
        """Starts the server on fresh ports; when it exits at start (a port taken meanwhile, or
        refused), tries again with new ports, up to START_ATTEMPTS times."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start_once()
            except _ExitedAtStart as e:
                if attempt == START_ATTEMPTS:
                    raise RuntimeError("%s exited at start %d times; last log in %s: %s" % (
                        self.kind, attempt, self.workdir, e))
                self.log.close()
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.proc = None

    def _start_once(self):
        ports = free_ports(2)
        self.port = ports[0]
        self.workdir = tempfile.mkdtemp(prefix="semlock-bench-")
        if self.kind == "semlock":
            argv = [self.binary, "--port", str(self.port), "--metrics-port", str(ports[1]),
                    "--log-level", "warn"] + self.extra_args
        else:
            # No persistence, loopback only: a cache-style Redis as lock users run it.
            argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", self.workdir, "--loglevel", "warning",
                    "--protected-mode", "no"] + self.extra_args
        self.log = open(os.path.join(self.workdir, "server.log"), "wb")
        self.proc = subprocess.Popen(["taskset", "-c", str(self.cpu)] + self.wrapper + argv, cwd=self.workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.flush()
                with open(os.path.join(self.workdir, "server.log"), "rb") as f:
                    tail = f.read()[-300:].decode(errors="replace").strip()
                raise _ExitedAtStart(tail)
            try:
                if resp_call(self.port, "PING", timeout=0.5) == b"PONG":
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("%s did not answer PING within 30 s" % self.kind)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
            # A failed start keeps its directory (the log names it); a clean stop leaves nothing.
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def cpu_ns(self):
        """CPU time of the whole process (user + system), in ns. Sums the per-thread schedstat
        counters (ns resolution) when the kernel has them, else utime+stime from /proc/PID/stat
        (clock ticks)."""
        pid = self.proc.pid
        try:
            total = 0
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            if total > 0:
                return total
        except (OSError, ValueError, IndexError):
            pass
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")

    def rss_bytes(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def supports(self, *args):
        """True when the command does not answer with an error (probes pending features)."""
        return not isinstance(resp_call(self.port, *args), Exception)
