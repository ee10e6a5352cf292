"""Starts the real ttl-semlock binary on a free loopback port for a client test.

The binary comes from $SEMLOCK_BIN (CTest sets it to $<TARGET_FILE:ttl-semlock>). Used as a
context manager: the server is stopped (SIGTERM, then SIGKILL) when the block ends.
"""
import os
import signal
import socket
import subprocess
import time


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
