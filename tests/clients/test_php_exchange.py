"""The TtlSemLock PHP client's exchange with the server, reproduced byte for byte: one connection
per request, `json_encode($command) . "\n"` written, one line read with fgets(), an `error` field
thrown as TtlSemLockException, otherwise `success` returned; owner "pid@host"; extend names the
owner; release names none. (TtlSemLock/TtlSemLock.php, sendCommand and its callers.)"""
import json
import os
import socket
import unittest

from semlock_server import Server


class TtlSemLockException(Exception):
    pass


def php_json_encode(value):
    """PHP's json_encode with default flags: compact, \\uXXXX for non-ASCII, '/' escaped."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


class PhpClient:
    """TtlSemLock\\TtlSemLock, method for method."""

    def __init__(self, port, api_key=None):
        self.port = port
        self.api_key = api_key
        self.sent = []      # request bytes, for the byte-for-byte checks
        self.received = []  # reply lines

    def send_command(self, command):
        if self.api_key is not None:
            command["api_key"] = self.api_key
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            request = (php_json_encode(command) + "\n").encode()
            self.sent.append(request)
            s.sendall(request)
            f = s.makefile("rb")
            line = f.readline()  # fgets: up to and including the newline
            if not line:
                raise ConnectionError("Failed to read response from server")
            self.received.append(line)
            decoded = json.loads(line)
            if "error" in decoded:
                raise TtlSemLockException(decoded["error"])
            return decoded

    def acquire(self, key, ttl, pid="", host=""):
        pid = pid or str(os.getpid())
        host = host or socket.gethostname() or "php-client"
        r = self.send_command({"action": "acquire", "key": key, "ttl": ttl, "pid": pid,
                               "host": host})
        return r.get("success", False)

    def release(self, key):
        return self.send_command({"action": "release", "key": key}).get("success", False)

    def exists(self, key):
        return self.send_command({"action": "exists", "key": key}).get("success", False)

    def extend(self, key, ttl, owner):
        r = self.send_command({"action": "extend", "key": key, "ttl": ttl, "owner": owner})
        return r.get("success", False)

    def stats(self):
        r = self.send_command({"action": "stats"})
        if not r.get("success", False):
            raise TtlSemLockException("Failed to get stats: " + r.get("error", "Unknown error"))
        return r.get("data", {})

    def acquire_with_owner(self, key, ttl, pid=None):
        pid = pid or str(os.getpid())
        host = socket.gethostname() or "php-client"
        return f"{pid}@{host}" if self.acquire(key, ttl, pid, host) else None

    def with_lock(self, key, ttl, callback):
        owner = self.acquire_with_owner(key, ttl)
        if owner is None:
            raise TtlSemLockException(f"Failed to acquire lock: {key}")
        try:
            return callback()
        finally:
            self.release(key)


class PhpExchangeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def setUp(self):
        self.c = PhpClient(self.server.port)
        self.pid = str(os.getpid())
        self.host = socket.gethostname()

    def test_request_bytes_are_php_json_encode(self):
        self.c.acquire("php:bytes", 30, "1234", "web1")
        self.assertEqual(self.c.sent[-1],
                         b'{"action":"acquire","key":"php:bytes","ttl":30,"pid":"1234",'
                         b'"host":"web1"}\n')
        self.c.release("php:bytes")
        self.assertEqual(self.c.sent[-1], b'{"action":"release","key":"php:bytes"}\n')
        self.assertEqual(php_json_encode({"key": "a/b\u043a"}), '{"key":"a\\/b\\u043a"}')

    def test_acquire_extend_release_cycle(self):
        self.assertTrue(self.c.acquire("php:a", 30))
        reply = json.loads(self.c.received[-1])
        self.assertEqual(reply["data"]["owner"], f"{self.pid}@{self.host}")
        self.assertEqual(reply["data"]["key"], "php:a")
        self.assertEqual(reply["data"]["ttl_ms"], 30000)
        self.assertIsInstance(reply["data"]["fence"], int)
        # Held: success false and no error field, so the client returns false, not throws.
        self.assertFalse(self.c.acquire("php:a", 30))
        self.assertEqual(self.c.received[-1], b'{"success":false}\n')
        self.assertIsNone(self.c.acquire_with_owner("php:a", 30, pid="99999"))
        self.assertTrue(self.c.exists("php:a"))
        self.assertEqual(self.c.received[-1], b'{"success":true,"data":{"exists":true}}\n')
        self.assertTrue(self.c.extend("php:a", 60, f"{self.pid}@{self.host}"))
        self.assertEqual(json.loads(self.c.received[-1])["data"]["ttl_ms"], 60000)
        self.assertFalse(self.c.extend("php:a", 60, "1@elsewhere"))
        self.assertEqual(self.c.received[-1], b'{"success":false}\n')
        self.assertTrue(self.c.release("php:a"))  # no owner: whoever holds it
        self.assertFalse(self.c.release("php:a"))
        self.assertFalse(self.c.exists("php:a"))
        self.assertEqual(self.c.received[-1], b'{"success":false}\n')

    def test_keys_with_slashes_and_unicode(self):
        key = "php/orders/\u0437\u0430\u043a\u0430\u0437-1"
        self.assertTrue(self.c.acquire(key, 30))
        self.assertEqual(json.loads(self.c.received[-1])["data"]["key"], key)
        self.assertTrue(self.c.exists(key))
        self.assertTrue(self.c.release(key))

    def test_with_lock_and_stats(self):
        self.assertEqual(self.c.with_lock("php:with", 30, lambda: self.c.exists("php:with")), True)
        self.assertFalse(self.c.exists("php:with"))
        stats = self.c.stats()
        self.assertEqual(set(stats), {
            "TotalRequests", "ActiveLocks", "Holders", "Waiters", "AcquireRequests",
            "ReleaseRequests", "ExtendRequests", "RejectedRequests", "ExpiredLocks",
            "Connections", "MemoryUsageBytes", "MemoryLimitBytes", "LocksLimit", "UptimeSeconds"})
        self.assertGreaterEqual(stats["AcquireRequests"], 1)

    def test_errors_are_thrown(self):
        with self.assertRaises(TtlSemLockException):
            self.c.acquire("php:bad", 100000)  # past limits.max_ttl (24h)
        reply = json.loads(self.c.received[-1])
        self.assertEqual(reply["success"], False)
        self.assertEqual(reply["code"], "BADREQUEST")

    def test_one_reply_line_per_connection(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b'{"action":"exists","key":"php:none"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data, b'{"success":false}\n')

    def test_invalid_utf8_from_another_client_gives_a_strict_reply(self):
        # PHP's json_decode (like Python's json.loads on bytes) rejects invalid UTF-8, and the
        # client then throws. Another client may send any bytes in a key; the reply must stay
        # strict UTF-8, with U+FFFD for each byte that is not (as Go's encoder writes it).
        def exchange(request):
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                s.sendall(request)
                line = s.makefile("rb").readline()
            return json.loads(line.decode("utf-8", errors="strict"))

        reply = exchange(b'{"action":"acquire","key":"php:\xff\xfe","ttl":30,"owner":"o",'
                         b'"id":"i\xc0"}\n')
        self.assertTrue(reply["success"])
        self.assertEqual(reply["data"]["key"], "php:\ufffd\ufffd")
        self.assertEqual(reply["id"], "i\ufffd")
        # The lock is under the bytes that were sent.
        self.assertEqual(exchange(b'{"action":"release","key":"php:\xff\xfe"}\n'),
                         {"success": True, "data": {"released": 1}})


class PhpApiKeyTest(unittest.TestCase):
    def test_api_key_in_every_request(self):
        with Server("--auth-required", env={"TTLSEMLOCK_API_KEYS": "k1,k2"}) as server:
            good = PhpClient(server.port, api_key="k2")
            self.assertTrue(good.acquire("php:auth", 30, "1", "h"))
            self.assertTrue(good.sent[-1].endswith(b',"api_key":"k2"}\n'))
            self.assertTrue(good.release("php:auth"))
            with self.assertRaises(TtlSemLockException) as e:
                PhpClient(server.port, api_key="wrong").exists("php:auth")
            self.assertEqual(str(e.exception), "authentication failed")
            with self.assertRaises(TtlSemLockException) as e:
                PhpClient(server.port).exists("php:auth")
            self.assertEqual(str(e.exception), "authentication failed")


if __name__ == "__main__":
    unittest.main()
