"""Pub/sub and WATCH against the real server: redis-py (Debian's python3-redis 4.3.4, RESP2 only)
unmodified, and RESP3 push frames checked byte for byte on a raw socket (redis-py 4 has no RESP3).
The exact bytes were taken from redis-server 7.0 given the same commands."""
import json
import socket
import threading
import time
import unittest

import redis
from redis.exceptions import ResponseError, WatchError

from clients_wire import encode
from semlock_server import Server


class Raw:
    """A raw RESP connection: send commands, read exactly the bytes expected."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, *parts):
        self.s.sendall(encode(*parts))

    def expect(self, want):
        deadline = time.time() + 5
        while len(self.buf) < len(want) and time.time() < deadline:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        got, self.buf = self.buf[:len(want)], self.buf[len(want):]
        return got

    def close(self):
        self.s.close()


class PubSubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.r = redis.Redis(port=cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def wait_message(self, p, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = p.get_message(timeout=0.1)
            if m is not None:
                return m
        self.fail("no message")

    def test_subscribe_publish_redis_py(self):
        p = self.r.pubsub()
        p.subscribe("news")
        self.assertEqual(self.wait_message(p),
                         {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1})
        p.psubscribe("n*")
        self.assertEqual(self.wait_message(p)["type"], "psubscribe")
        # One copy for the channel, one for the matching pattern.
        self.assertEqual(self.r.publish("news", "hello"), 2)
        self.assertEqual(self.wait_message(p),
                         {"type": "message", "pattern": None, "channel": b"news",
                          "data": b"hello"})
        self.assertEqual(self.wait_message(p),
                         {"type": "pmessage", "pattern": b"n*", "channel": b"news",
                          "data": b"hello"})
        self.assertEqual(self.r.publish("other", "x"), 0)
        self.assertEqual(self.r.pubsub_numsub("news", "none"), [(b"news", 1), (b"none", 0)])
        self.assertEqual(self.r.pubsub_numpat(), 1)
        self.assertIn(b"news", self.r.pubsub_channels())
        p.unsubscribe("news")
        p.punsubscribe("n*")
        self.assertEqual(self.wait_message(p)["type"], "unsubscribe")
        self.assertEqual(self.wait_message(p)["type"], "punsubscribe")
        self.assertEqual(self.r.publish("news", "gone"), 0)
        p.close()

    def test_subscriber_in_a_thread_gets_every_message_in_order(self):
        p = self.r.pubsub(ignore_subscribe_messages=True)
        got = []
        p.subscribe(**{"jobs": lambda m: got.append(m["data"])})
        t = p.run_in_thread(sleep_time=0.01)
        try:
            deadline = time.time() + 5
            while self.r.pubsub_numsub("jobs")[0][1] != 1 and time.time() < deadline:
                time.sleep(0.01)
            for i in range(100):
                self.assertEqual(self.r.publish("jobs", str(i)), 1)
            while len(got) < 100 and time.time() < deadline:
                time.sleep(0.01)
        finally:
            t.stop()
            t.join(5)
        self.assertEqual(got, [str(i).encode() for i in range(100)])

    def test_resp2_subscribed_mode_exact_bytes(self):
        c = Raw(self.server.port)
        try:
            c.send("SUBSCRIBE", "a", "b")
            self.assertEqual(c.expect(b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                                      b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"),
                             b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                             b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")
            c.send("GET", "x")
            want = (b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                    b"QUIT / RESET are allowed in this context\r\n")
            self.assertEqual(c.expect(want), want)
            c.send("PING")
            self.assertEqual(c.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
                             b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
            c.send("PING", "hi")
            self.assertEqual(c.expect(b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"),
                             b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n")
            self.r.publish("a", "m1")
            want = b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm1\r\n"
            self.assertEqual(c.expect(want), want)
            c.send("UNSUBSCRIBE", "a", "b")
            want = (b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
                    b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n")
            self.assertEqual(c.expect(want), want)
            c.send("UNSUBSCRIBE")
            want = b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
            self.assertEqual(c.expect(want), want)
            c.send("GET", "x")  # out of subscribed mode
            self.assertEqual(c.expect(b"$-1\r\n"), b"$-1\r\n")
        finally:
            c.close()

    def test_resp3_push_exact_bytes(self):
        c = Raw(self.server.port)
        try:
            c.send("HELLO", "3")
            c.expect(b"%7\r\n")
            c.s.settimeout(0.5)
            try:
                while True:
                    c.buf += c.s.recv(65536)
            except socket.timeout:
                c.buf = b""
            c.s.settimeout(5)
            c.send("SUBSCRIBE", "a")
            want = b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
            self.assertEqual(c.expect(want), want)
            c.send("GET", "nokey")  # RESP3: other commands run while subscribed
            self.assertEqual(c.expect(b"_\r\n"), b"_\r\n")
            c.send("PING")
            self.assertEqual(c.expect(b"+PONG\r\n"), b"+PONG\r\n")
            c.send("PSUBSCRIBE", "a*")
            want = b">3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:2\r\n"
            self.assertEqual(c.expect(want), want)
            # Publishing to itself: the pushes come before PUBLISH's reply.
            c.send("PUBLISH", "a", "x")
            want = (b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n"
                    b">4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$1\r\nx\r\n:2\r\n")
            self.assertEqual(c.expect(want), want)
            c.send("UNSUBSCRIBE")
            want = b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
            self.assertEqual(c.expect(want), want)
            c.send("PUNSUBSCRIBE")
            want = b">3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:0\r\n"
            self.assertEqual(c.expect(want), want)
            c.send("UNSUBSCRIBE")
            want = b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
            self.assertEqual(c.expect(want), want)
        finally:
            c.close()

    def test_subscriber_that_never_reads_is_closed_and_forgotten(self):
        # A subscriber that never reads: its output grows past the hard cap and it is closed;
        # its subscriptions go with it (the server does not hold the messages).
        c = socket.create_connection(("127.0.0.1", self.server.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sendall(encode("SUBSCRIBE", "flood"))
        deadline = time.time() + 5
        while self.r.pubsub_numsub("flood")[0][1] != 1 and time.time() < deadline:
            time.sleep(0.01)
        payload = b"x" * (1024 * 1024)
        delivered = None
        for _ in range(200):
            delivered = self.r.publish("flood", payload)
            if delivered == 0:
                break
        self.assertEqual(delivered, 0, "the subscriber was never closed")
        self.assertEqual(self.r.pubsub_numsub("flood"), [(b"flood", 0)])
        info = self.r.info("memory")
        self.assertLess(info["used_memory_clients"], 8 * 1024 * 1024)
        c.close()


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.r = redis.Redis(port=cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_unchanged_key_exec_runs(self):
        self.r.set("w1", "a", px=10000)
        with self.r.pipeline() as p:
            p.watch("w1")
            self.assertEqual(p.get("w1"), b"a")
            p.multi()
            p.set("w1", "b", px=10000)
            self.assertEqual(p.execute(), [True])
        self.assertEqual(self.r.get("w1"), b"b")

    def test_key_changed_by_another_client_aborts(self):
        self.r.set("w2", "a", px=10000)
        other = redis.Redis(port=self.server.port)
        with self.r.pipeline() as p:
            p.watch("w2")
            other.set("w2", "z", px=10000)
            p.multi()
            p.set("w2", "b", px=10000)
            with self.assertRaises(WatchError):
                p.execute()
        self.assertEqual(self.r.get("w2"), b"z")

    def test_same_value_written_again_still_aborts(self):
        # Redis's rule: any write to the key counts, even one that leaves the same value.
        self.r.delete("w3")
        with self.r.pipeline() as p:
            p.watch("w3")
            self.r.delete("w3")  # deleting an absent key changes nothing: no abort
            p.multi()
            p.get("w3")
            self.assertEqual(p.execute(), [None])
        self.r.set("w3", "v", px=10000)
        other = redis.Redis(port=self.server.port)
        with self.r.pipeline() as p:
            p.watch("w3")
            other.eval("return redis.call('set', KEYS[1], 'v', 'px', 10000)", 1, "w3")
            p.multi()
            p.get("w3")
            with self.assertRaises(WatchError):
                p.execute()

    def test_expiry_of_a_watched_key_aborts(self):
        self.r.set("w4", "a", px=150)
        with self.r.pipeline() as p:
            p.watch("w4")
            time.sleep(0.3)
            p.multi()
            p.get("w4")
            with self.assertRaises(WatchError):
                p.execute()

    def test_change_through_the_json_protocol_aborts(self):
        self.r.delete("w5")
        with self.r.pipeline() as p:
            p.watch("w5")
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall(json.dumps({"action": "acquire", "key": "w5", "ttl": 10}).encode() + b"\n")
            reply = json.loads(s.makefile().readline())
            s.close()
            self.assertTrue(reply["success"], reply)
            p.multi()
            p.get("w5")
            with self.assertRaises(WatchError):
                p.execute()

    def test_unwatch_and_exec_forget_the_watch(self):
        self.r.set("w6", "a", px=10000)
        other = redis.Redis(port=self.server.port)
        with self.r.pipeline() as p:
            p.watch("w6")
            p.unwatch()
            other.set("w6", "b", px=10000)
            p.multi()
            p.get("w6")
            self.assertEqual(p.execute(), [b"b"])
        c = Raw(self.server.port)
        try:
            for cmd, want in [(("WATCH", "w6"), b"+OK\r\n"), (("MULTI",), b"+OK\r\n"),
                              (("WATCH", "w6"), b"-ERR WATCH inside MULTI is not allowed\r\n"),
                              (("GET", "w6"), b"+QUEUED\r\n"),
                              (("EXEC",), b"*1\r\n$1\r\nb\r\n")]:
                c.send(*cmd)
                self.assertEqual(c.expect(want), want, cmd)
            other.set("w6", "c", px=10000)  # EXEC ended the watch: the next EXEC runs
            for cmd, want in [(("MULTI",), b"+OK\r\n"), (("GET", "w6"), b"+QUEUED\r\n"),
                              (("EXEC",), b"*1\r\n$1\r\nc\r\n")]:
                c.send(*cmd)
                self.assertEqual(c.expect(want), want, cmd)
        finally:
            c.close()

    def test_watch_retry_loop_counts_exactly(self):
        # The optimistic-locking idiom: several threads WATCH/GET/MULTI/SET/EXEC with retries;
        # every increment lands once.
        self.r.set("wctr", "0", px=60000)

        def worker():
            c = redis.Redis(port=self.server.port)
            for _ in range(50):
                while True:
                    with c.pipeline() as p:
                        try:
                            p.watch("wctr")
                            v = int(p.get("wctr"))
                            p.multi()
                            p.set("wctr", str(v + 1), px=60000)
                            p.execute()
                            break
                        except WatchError:
                            continue

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(self.r.get("wctr"), b"200")


if __name__ == "__main__":
    unittest.main()
