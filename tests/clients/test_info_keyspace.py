"""INFO keyspace counts every key, as Redis does: lock keys and data keys (counters, hashes,
sorted sets, lists), those with an expiry, and their mean remaining TTL. Raw RESP, so the section's
bytes are checked exactly; redis-cli for the same through a real client."""
import re
import socket
import unittest

from semlock_server import Server, redis_cli, wait_until


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def call(self, *args):
        self.sock.sendall(b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
        return self.reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return line


class InfoKeyspaceTest(unittest.TestCase):
    def test_every_key_is_counted(self):
        with Server() as server:
            c = Conn(server.port)
            self.assertEqual(c.call("INFO", "keyspace"), b"# Keyspace\r\n")
            self.assertEqual(c.call("INCR", "counter"), b":1")
            self.assertEqual(c.call("HSET", "hash", "f", "v"), b":1")
            self.assertEqual(c.call("ZADD", "zset", "1", "m"), b":1")
            self.assertEqual(c.call("RPUSH", "list", "a", "b"), b":2")
            self.assertEqual(c.call("INFO", "keyspace"),
                             b"# Keyspace\r\ndb0:keys=4,expires=0,avg_ttl=0\r\n")
            # A lock key: it always has an expiry (its holder's deadline).
            self.assertEqual(c.call("SET", "lock", "owner", "NX", "PX", "100000"), b"+OK")
            self.assertEqual(c.call("INFO", "keyspace"),
                             b"# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\n")
            # Data keys with an expiry: counted, and their mean remaining TTL in ms.
            self.assertEqual(c.call("PEXPIRE", "hash", "100000"), b":1")
            self.assertEqual(c.call("PEXPIRE", "list", "300000"), b":1")
            info = c.call("INFO", "keyspace")
            m = re.fullmatch(rb"# Keyspace\r\ndb0:keys=5,expires=3,avg_ttl=(\d+)\r\n", info)
            self.assertIsNotNone(m, info)
            self.assertTrue(190000 <= int(m.group(1)) <= 200000, info)
            self.assertEqual(c.call("PERSIST", "list"), b":1")
            info = c.call("INFO", "keyspace")
            m = re.fullmatch(rb"# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=(\d+)\r\n", info)
            self.assertIsNotNone(m, info)
            self.assertTrue(90000 <= int(m.group(1)) <= 100000, info)
            # Removed keys leave the counts.
            self.assertEqual(c.call("DEL", "hash", "zset", "lock"), b":3")
            self.assertEqual(c.call("INFO", "keyspace"),
                             b"# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n")
            # An expired key too (1 ms: gone once its deadline passes, read by PTTL).
            self.assertEqual(c.call("SET", "gone", "x", "PX", "1"), b"+OK")
            self.assertEqual(c.call("PEXPIRE", "counter", "1"), b":1")
            self.assertTrue(wait_until(lambda: c.call("EXISTS", "counter", "gone") == b":0", 30))
            self.assertEqual(c.call("INFO", "keyspace"),
                             b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
            # In the whole INFO too, and through redis-cli.
            self.assertIn(b"\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
                          c.call("INFO"))
            self.assertIn("db0:keys=1,expires=0,avg_ttl=0", redis_cli(server.port, "INFO", "keyspace"))


if __name__ == "__main__":
    unittest.main()
