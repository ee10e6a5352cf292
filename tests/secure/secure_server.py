"""Shared by the security tests: a ttl-semlock started with any flags and environment on free
ports, its log captured; throwaway certificates made with the openssl command; this machine's
non-loopback address (to be a client that protected mode refuses).
"""
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outside_address():
    """A local IPv4 address that is not loopback, or None (then the caller skips)."""
    for probe in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))  # UDP: no packet is sent
                addr = s.getsockname()[0]
                if not addr.startswith("127."):
                    return addr
        except OSError:
            continue
    return None


class Certs:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="semlock-tls-")
        self.ca = self.path("ca.pem")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path("ca.key"),
                  "-out", self.ca, "-days", "2", "-subj", "/CN=semlock-test-ca")
        self.server_cert, self.server_key = self.issue("server", "localhost",
                                                       "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.client_cert, self.client_key = self.issue("client", "semlock-client",
                                                       "extendedKeyUsage=clientAuth")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def issue(self, name, cn, ext):
        key, csr, cert, extfile = (self.path(name + s) for s in (".key", ".csr", ".pem", ".ext"))
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", "/CN=" + cn)
        self._run("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extfile)
        return cert, key


class Server:
    """ttl-semlock on free ports; `args` may use {port}, {tls_port}, {metrics_port}."""

    def __init__(self, *args, env=None, host="127.0.0.1", tls=None, plain=True):
        self.bin = os.environ["SEMLOCK_BIN"]
        self.port = free_port() if plain else 0
        self.tls_port = free_port()
        self.metrics_port = free_port()
        self.host = host
        argv = [self.bin, "--host", host, "--port", str(self.port),
                "--metrics-port", str(self.metrics_port)]
        if tls is not None:
            argv += ["--tls-port", str(self.tls_port), "--tls-cert-file", tls.server_cert,
                     "--tls-key-file", tls.server_key]
        self.argv = argv + list(args)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TTLSEMLOCK_")}
        if tls is not None:
            self.env["TTLSEMLOCK_TLS_ENABLED"] = "true"
        self.env.update(env or {})
        self.log_file = tempfile.NamedTemporaryFile(prefix="semlock-log-", delete=False)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.log_file)
        port = self.port or self.tls_port
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ttl-semlock exited: " + self.log())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ttl-semlock did not start: " + self.log())

    def log(self):
        with open(self.log_file.name, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=30):
        """Lines logged once the port listens may come after the first connection: wait."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log_file.name)
        return False


def exchange(host, port, payload, timeout=5):
    """Sends `payload` and reads until the server closes (or the timeout)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)
