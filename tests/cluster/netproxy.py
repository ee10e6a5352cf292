"""A controllable TCP proxy for partition tests: one process, many directed links.

Each link listens on a loopback port and forwards every connection to a target. The test cuts
and heals links one by one: a cut link resets every connection it carries and resets new ones
at once (a peer sees a connection refused-like error), until healed.

Run as a process (the controller below does this), commands on stdin, one per line, each
answered with one line on stdout ("ok ..." or "error ..."):

    cut PORT        reset this link's connections, and new ones while cut
    heal PORT       forward again
    healall
    stats           "ok PORT:conns:bytes ..."

    python3 netproxy.py --link 40001=127.0.0.1:30001 --link 40002=127.0.0.1:30002

In a test: `NetProxy({listen_port: (host, port), ...})` starts it; `.cut(port)`, `.heal(port)`,
`.heal_all()`, `.stop()`. Standard library only; a single selector loop, so the proxy adds well
under a millisecond per hop on loopback.
"""
import argparse
import errno
import os
import selectors
import socket
import struct
import subprocess
import sys


class _Link:
    def __init__(self, port, target):
        if target[1] == port and target[0] in ("127.0.0.1", "localhost"):
            raise ValueError("link %d would forward to itself" % port)
        self.port = port
        self.target = target
        self.cut = False
        self.pairs = set()
        self.bytes = 0
        self.conns = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(128)
        self.listener.setblocking(False)


class _Pair:
    """One proxied connection: client side `a`, target side `b`, pending output per side."""

    def __init__(self, link, a, b):
        self.link = link
        self.a, self.b = a, b
        self.out = {a: b"", b: b""}
        self.connected = False
        self.closed = False
        self.events = {}


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Proxy:
    def __init__(self, links):
        self.sel = selectors.DefaultSelector()
        self.links = {}
        for port, target in links.items():
            link = _Link(port, target)
            self.links[port] = link
            self.sel.register(link.listener, selectors.EVENT_READ, ("listen", link))
        os.set_blocking(sys.stdin.fileno(), False)
        self.sel.register(sys.stdin, selectors.EVENT_READ, ("control", None))
        self.control_buf = b""

    def close_pair(self, pair):
        if pair.closed:
            return
        pair.closed = True
        pair.link.pairs.discard(pair)
        for s in (pair.a, pair.b):
            if pair.events.get(s):
                self.sel.unregister(s)
            _reset(s)

    def update(self, pair):
        """(Re)registers both sockets for what they wait for now."""
        for s in (pair.a, pair.b):
            other = pair.b if s is pair.a else pair.a
            if not pair.connected:
                ev = selectors.EVENT_WRITE if s is pair.b else 0
            else:
                ev = 0
                if not pair.out[other]:  # back pressure: read only when the other side drained
                    ev |= selectors.EVENT_READ
                if pair.out[s]:
                    ev |= selectors.EVENT_WRITE
            registered = pair.events.get(s, 0)
            if ev == registered:
                continue
            if registered and ev:
                self.sel.modify(s, ev, ("pair", pair))
            elif ev:
                self.sel.register(s, ev, ("pair", pair))
            else:
                self.sel.unregister(s)
            pair.events[s] = ev

    def accept(self, link):
        while True:
            try:
                a, _ = link.listener.accept()
            except BlockingIOError:
                return
            except OSError as e:  # EMFILE and the like: leave it queued, say so
                sys.stderr.write("netproxy: accept on %d: %s\n" % (link.port, e))
                return
            if link.cut:
                _reset(a)
                continue
            a.setblocking(False)
            a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            b = socket.socket()
            b.setblocking(False)
            b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = b.connect_ex(link.target)
            if err not in (0, errno.EINPROGRESS):
                _reset(a)
                b.close()
                continue
            pair = _Pair(link, a, b)
            link.pairs.add(pair)
            link.conns += 1
            self.update(pair)

    def pump(self, pair, sock, mask):
        other = pair.b if sock is pair.a else pair.a
        if not pair.connected:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self.close_pair(pair)
                return
            pair.connected = True
            self.update(pair)
            return
        if mask & selectors.EVENT_WRITE and pair.out[sock]:
            try:
                n = sock.send(pair.out[sock])
                pair.out[sock] = pair.out[sock][n:]
            except BlockingIOError:
                pass
            except OSError:
                self.close_pair(pair)
                return
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                data = None
            except OSError:
                self.close_pair(pair)
                return
            if data == b"":
                self.close_pair(pair)
                return
            if data:
                pair.link.bytes += len(data)
                try:
                    n = other.send(data)
                except BlockingIOError:
                    n = 0
                except OSError:
                    self.close_pair(pair)
                    return
                pair.out[other] += data[n:]
        self.update(pair)

    def command(self, line):
        parts = line.split()
        if not parts:
            return "error empty"
        if parts[0] in ("cut", "heal") and len(parts) == 2:
            link = self.links.get(int(parts[1]))
            if link is None:
                return "error no link %s" % parts[1]
            link.cut = parts[0] == "cut"
            if link.cut:
                for pair in list(link.pairs):
                    self.close_pair(pair)
            return "ok"
        if parts[0] == "healall":
            for link in self.links.values():
                link.cut = False
            return "ok"
        if parts[0] == "stats":
            return "ok " + " ".join("%d:%d:%d" % (p, l.conns, l.bytes)
                                    for p, l in sorted(self.links.items()))
        return "error unknown command"

    def control(self):
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.control_buf += data
        while b"\n" in self.control_buf:
            line, self.control_buf = self.control_buf.split(b"\n", 1)
            sys.stdout.write(self.command(line.decode()) + "\n")
            sys.stdout.flush()
        return True

    def run(self):
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while True:
            for key, mask in self.sel.select():
                kind, obj = key.data
                if kind == "listen":
                    self.accept(obj)
                elif kind == "control":
                    if not self.control():
                        return
                else:
                    if not obj.closed:
                        self.pump(obj, key.fileobj, mask)


class NetProxy:
    """Controller: starts the proxy process for {listen_port: (host, port)}."""

    def __init__(self, links):
        args = [sys.executable, os.path.abspath(__file__)]
        for port, (host, tport) in links.items():
            args += ["--link", "%d=%s:%d" % (port, host, tport)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("netproxy did not start")

    def _cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if not reply.startswith("ok"):
            raise RuntimeError("netproxy %r: %r" % (line, reply))
        return reply

    def cut(self, port):
        self._cmd("cut %d" % port)

    def heal(self, port):
        self._cmd("heal %d" % port)

    def heal_all(self):
        self._cmd("healall")

    def stats(self):
        return self._cmd("stats")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--link", action="append", default=[], help="LISTENPORT=HOST:PORT")
    args = ap.parse_args()
    links = {}
    for spec in args.link:
        port, target = spec.split("=", 1)
        host, tport = target.rsplit(":", 1)
        links[int(port)] = (host, int(tport))
    Proxy(links).run()


if __name__ == "__main__":
    main()
