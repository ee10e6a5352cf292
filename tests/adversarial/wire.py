"""Small blocking clients for the attack suite: RESP (commands and a reply parser), JSON lines and
HTTP, over plain sockets. Standard library only, so the suite runs wherever Python 3 does.

Replies are parsed into Python values: simple strings as `Simple`, errors as `Error`, integers as
int, bulk strings as bytes, nulls as None, arrays as lists (RESP3 maps as lists of pairs).
"""
import json
import socket
import time


class Simple(str):
    """A RESP simple string (+OK)."""


class Error(str):
    """A RESP error reply (-ERR ...), without the leading '-'."""


class Incomplete(Exception):
    pass


class ProtocolViolation(Exception):
    """The server sent bytes that are not RESP."""


def encode(*args):
    """One RESP multibulk command."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse(buf, pos=0):
    """Parses one reply at buf[pos:]; returns (value, end) or raises Incomplete."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        raise Incomplete()
    kind = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    end = nl + 2
    if kind == b"+":
        return Simple(line.decode("utf-8", "replace")), end
    if kind == b"-":
        return Error(line.decode("utf-8", "replace")), end
    if kind == b":":
        return int(line), end
    if kind == b"_":
        return None, end
    if kind == b"#":
        return line == b"t", end
    if kind == b",":
        return float(line), end
    if kind in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return None, end
        if len(buf) < end + n + 2:
            raise Incomplete()
        return bytes(buf[end:end + n]), end + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return None, end
        if kind in (b"%", b"|"):
            n *= 2
        items = []
        for _ in range(n):
            v, end = parse(buf, end)
            items.append(v)
        if kind == b"|":  # an attribute precedes the real reply
            return parse(buf, end)
        return items, end
    raise ProtocolViolation("unexpected reply byte %r at %d: %r" % (kind, pos, bytes(buf[pos:pos + 40])))


def connect(port, timeout=5.0, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Resp:
    """A blocking RESP client with a deadline per reply."""

    def __init__(self, port, timeout=5.0, password=None, sock=None):
        self.sock = sock or connect(port, timeout)
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.timeout = timeout
        if password is not None:
            r = self.call("AUTH", password)
            if r != "OK":
                raise RuntimeError("AUTH failed: %r" % (r,))

    def send(self, data):
        self.sock.sendall(data)

    def read(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                v, end = parse(self.buf)
                del self.buf[:end]
                return v
            except Incomplete:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no complete reply within the deadline")
            self.sock.settimeout(left)
            d = self.sock.recv(1 << 16)
            if not d:
                raise ConnectionError("closed by the server")
            self.buf += d

    def call(self, *args, timeout=None):
        self.send(encode(*args))
        return self.read(timeout)

    def pipeline(self, commands, timeout=None):
        self.send(b"".join(encode(*c) for c in commands))
        return [self.read(timeout) for _ in commands]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_until_closed(sock, timeout=5.0, limit=1 << 24):
    """Everything the peer sends until it closes; (data, closed) — closed False on timeout."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), False
        sock.settimeout(left)
        try:
            d = sock.recv(1 << 16)
        except socket.timeout:
            return bytes(data), False
        except (ConnectionResetError, BrokenPipeError):
            return bytes(data), True
        if not d:
            return bytes(data), True
        data += d
    return bytes(data), False


def json_request(sock, obj, timeout=5.0):
    """Sends one JSON line and reads one reply line (parsed)."""
    sock.sendall(json.dumps(obj).encode() + b"\n")
    return json_read(sock, timeout)


def json_read(sock, timeout=5.0):
    return json.loads(read_line(sock, timeout))


def read_line(sock, timeout=5.0):
    """One reply line (without its LF), raw bytes. Bytes after the LF are dropped: use it with one
    request in flight per connection."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no JSON reply line")
        sock.settimeout(left)
        d = sock.recv(1 << 16)
        if not d:
            raise ConnectionError("closed by the server before a JSON reply: %r" % bytes(data))
        data += d
    return bytes(data[:data.index(b"\n")])


def http_request(port, body, headers=None, method="POST", path="/", timeout=5.0):
    """One HTTP/1.1 request on a fresh connection; returns (status, headers dict, body bytes)."""
    s = connect(port, timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        head = ["%s %s HTTP/1.1" % (method, path), "Host: localhost", "Connection: close"]
        if body is not None:
            head.append("Content-Length: %d" % len(body))
        for k, v in (headers or {}).items():
            head.append("%s: %s" % (k, v))
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
        return read_http_response(s, timeout)
    finally:
        s.close()


def read_http_response(sock, timeout=5.0):
    """Reads one HTTP response (Content-Length framed, or until close)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no HTTP response head")
        sock.settimeout(left)
        d = sock.recv(1 << 16)
        if not d:
            raise ConnectionError("closed before an HTTP response: %r" % bytes(data[:200]))
        data += d
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("HTTP body incomplete")
        sock.settimeout(left)
        d = sock.recv(1 << 16)
        if not d:
            break
        body += d
    return status, headers, bytes(body[:n])


def parse_http_responses(data):
    """Splits bytes read from one connection into [(status, body)] (Content-Length framing)."""
    out = []
    while b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        n = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                n = int(v.strip())
        out.append((int(lines[0].split()[1]), rest[:n]))
        data = rest[n:]
    return out
