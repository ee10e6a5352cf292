"""Raw wire helpers shared by the client tests: RESP command encoding and a JSON-lines
connection (what TtlSemLock's own clients speak), for what the real client libraries cannot show."""
import json
import socket


def encode(*parts):
    """One RESP multibulk command; parts are str or bytes."""
    out = b"*%d\r\n" % len(parts)
    for p in parts:
        p = p.encode() if isinstance(p, str) else p
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


class JsonLines:
    """One TCP connection speaking JSON lines: one request, one reply line."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def call(self, **req):
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        return self.reply()

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.sock.close()
