"""A reply at server.max_reply_bytes must not cost its connection twice the bound.

Regression: the reply buffer grew by doubling, so a reply just past half of the 16 MiB bound held
about 31.5 MB, and that counts against server.max_client_memory_mb. With 32 MiB of client memory,
CI saw an EXEC of 10,000 `COMMAND DOCS` (its reply cut at the bound, the rest answering
`ERR reply too large`) closed by the client-memory bound as soon as another client held a few MB.
Here the client memory is 24 MiB, between the bound and twice it: the old server closed the
EXEC's connection every time; now it is answered, and so is a single reply built past the bound
(which is cut back to its error at once), and a bystander is served after each.
Raw sockets: the replies are checked byte for byte."""
import socket
import time
import unittest

from clients_wire import encode
from semlock_server import Server

REPLY_BOUND = 16 * 1024 * 1024
CLIENT_MEMORY_MB = 24
TOO_LARGE = b"-ERR reply too large\r\n"
END = encode("ECHO", "end-of-test")
END_REPLY = b"$11\r\nend-of-test\r\n"


def read_until_end(sock, timeout=120):
    """Every byte up to END's reply; raises if the server closes the connection first."""
    got = bytearray()
    deadline = time.time() + timeout
    while not got.endswith(END_REPLY):
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise AssertionError("the server closed the connection after %d bytes" % len(got))
        got += chunk
    return bytes(got[:-len(END_REPLY)])


class ReplyMemoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={
            "TTLSEMLOCK_SERVER_MAX_REPLY_BYTES": str(REPLY_BOUND),
            "TTLSEMLOCK_SERVER_MAX_CLIENT_MEMORY_MB": str(CLIENT_MEMORY_MB),
            # The reply bound alone is under test, not EXEC's time budget.
            "TTLSEMLOCK_SCRIPTING_MAX_MS": "60000"}).__enter__()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        self.addCleanup(s.close)
        return s

    def assert_bystander_served(self):
        s = self.connect()
        s.sendall(encode("PING"))
        s.settimeout(30)
        self.assertEqual(s.recv(64), b"+PONG\r\n")

    def test_exec_answered_at_the_bound(self):
        n = 10000  # ~18 KB of docs each: ~180 MB asked for, cut at the bound
        s = self.connect()
        s.sendall(encode("MULTI") + encode("COMMAND", "DOCS") * n + encode("EXEC") + END)
        got = read_until_end(s)
        queued = b"+OK\r\n" + b"+QUEUED\r\n" * n
        self.assertTrue(got.startswith(queued + b"*%d\r\n" % n), got[:200])
        reply = got[len(queued):]
        self.assertLessEqual(len(reply), REPLY_BOUND)
        self.assertGreater(len(reply), REPLY_BOUND // 2)  # the docs fill the bound first
        self.assertTrue(reply.endswith(TOO_LARGE), reply[-100:])
        self.assert_bystander_served()

    def test_single_reply_past_the_bound(self):
        # A hash of 20 MB: HGETALL walks it, building its reply until it passes the bound.
        s = self.connect()
        value = b"v" * 1000
        for start in range(0, 20000, 1000):
            fields = []
            for i in range(start, start + 1000):
                fields += [b"f%05d" % i, value]
            s.sendall(encode("HSET", "big", *fields))
            self.assertEqual(read_line(s), b":1000\r\n")
        s.sendall(encode("HGETALL", "big") + END)
        self.assertEqual(read_until_end(s), TOO_LARGE)
        s.sendall(encode("HLEN", "big") + END)
        self.assertEqual(read_until_end(s), b":20000\r\n")  # nothing lost
        self.assert_bystander_served()


def read_line(sock):
    """One short reply line (an integer or a status)."""
    sock.settimeout(30)
    got = b""
    while not got.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("the server closed the connection")
        got += chunk
    return got


if __name__ == "__main__":
    unittest.main()
