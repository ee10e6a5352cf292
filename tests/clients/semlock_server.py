"""Starts the real ttl-semlock binary on a free loopback port for a client test.

The binary comes from $SEMLOCK_BIN (CTest sets it to $<TARGET_FILE:ttl-semlock>). Used as a
context manager: the server is stopped (SIGTERM, then SIGKILL) when the block ends.
"""
import os
import signal
import socket
import subprocess
import time
import unittest


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra_args, env=None):
        self.bin = os.environ.get("SEMLOCK_BIN")
        if not self.bin:
            raise RuntimeError("SEMLOCK_BIN is not set (run the test through ctest)")
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None

    def __enter__(self):
        for _ in range(5):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            self.proc = subprocess.Popen(
                [self.bin, "--host", "127.0.0.1", "--port", str(self.port), "--no-metrics"]
                + self.extra_args,
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready():
                return self
            self._stop()
        raise RuntimeError("ttl-semlock did not start")

    def _wait_ready(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def _stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self._stop()
        return False


def read_bytes(sock, want_bytes):
    """Reads exactly up to `want_bytes` (or more, if they came together) from a raw socket."""
    got = b""
    while len(got) < want_bytes:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise AssertionError("connection closed")
        got += chunk
    return got


def psubscribe_many(sock, count, first=b"*"):
    """Subscribes a raw RESP connection to `count` patterns first+b"pat%07d", 5,000 a request,
    reading every confirmation before the next request."""
    for b in range(0, count, 5000):
        names = [first + b"pat%07d" % i for i in range(b, min(count, b + 5000))]
        sock.sendall(b"*%d\r\n$10\r\nPSUBSCRIBE\r\n" % (len(names) + 1) +
                     b"".join(b"$%d\r\n%s\r\n" % (len(n), n) for n in names))
        read_bytes(sock, sum(len(b"*3\r\n$10\r\npsubscribe\r\n$%d\r\n%s\r\n:%d\r\n"
                                 % (len(n), n, b + i + 1)) for i, n in enumerate(names)))


def wait_until(predicate, timeout=5.0):
    """Polls predicate every 20 ms until it holds or timeout seconds pass; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def redis_cli(port, *args, stdin=None):
    """redis-cli's output (not raw: quoted strings, '(integer) n', '(error) ...')."""
    return subprocess.run(["redis-cli", "-p", str(port), "--no-raw"] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=20).stdout


class ServerTestCase(unittest.TestCase):
    """A test class sharing one server: cls.server, cls.port and a redis-py client cls.r."""

    @classmethod
    def setUpClass(cls):
        import redis  # here, so that the tests without redis-py can still use this module

        cls.server = Server().__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
