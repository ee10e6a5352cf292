"""What a JSON `watch` stream and a pub/sub subscriber can make the server hold, pushed past its
bounds with real clients against the real binary (a raw-socket JSON client, redis-py, raw RESP):

- a watch over the 1,000-key limit of a connection is refused whole and leaves no trace: none of
  its keys is registered, counted or notified (it used to keep the keys before the one that
  passed the limit);
- keys repeated in a request, or already watched, count once;
- every watched key and every subscription is counted in the connection's memory
  (`used_memory_clients`) and in INFO (`notify_watched_keys`, `notify_watchers`,
  `pubsub_channels`); past `server.max_client_memory_mb` the largest connections are closed and
  their entries forgotten, while another client keeps being served."""
import json
import socket
import time
import unittest

import redis

from semlock_server import Server, ServerTestCase

LIMIT_TEXT = "keys: at most 1000 keys per connection"


class JsonConn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def line(self, timeout=10):
        """The next JSON line, or None when the server closed the connection or sent nothing."""
        deadline = time.time() + timeout
        while b"\n" not in self.buf and time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                break
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, obj):
        self.send(obj)
        return self.line()

    def quiet_for(self, seconds):
        self.s.settimeout(seconds)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return True
        self.buf += chunk
        return False

    def closed_by_server(self, timeout=5):
        """True when the server ended the connection (after whatever it had sent)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(1 << 20)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False

    def close(self):
        self.s.close()


def keys(prefix, first, count, pad=0):
    return ["%s:%05d%s" % (prefix, i, "k" * pad) for i in range(first, first + count)]


def semlock_info(r):
    return r.info("semlock")


class WatchAllOrNothingTest(ServerTestCase):

    def wait_watched(self, n, timeout=5):
        deadline = time.time() + timeout
        while semlock_info(self.r)["notify_watched_keys"] != n and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(semlock_info(self.r)["notify_watched_keys"], n)

    def test_a_refused_watch_leaves_no_trace(self):
        w = JsonConn(self.port)
        first = keys("aon", 0, 600)
        self.assertEqual(w.call({"action": "watch", "keys": first})["data"]["watching"], first)
        mem_before = self.r.info("memory")["used_memory_clients"]
        # 300 keys it already watches and 401 new ones: 1,001 in all, one too many.
        over = first[300:] + keys("aon", 600, 401)
        self.assertEqual(w.call({"action": "watch", "keys": over, "id": 5}),
                         {"success": False, "error": LIMIT_TEXT, "code": "BADREQUEST", "id": 5})
        self.assertEqual(semlock_info(self.r)["notify_watched_keys"], 600)
        # (a few KB of slack for request buffers; the 401 refused keys would be ~130 KB)
        self.assertLess(self.r.info("memory")["used_memory_clients"], mem_before + 4096)
        # None of the refused request's new keys was registered: their notices do not come.
        fence = self.r.execute_command("SEMLOCK.ACQUIRE", "aon:00600", 30000, "OWNER", "o",
                                       "NOTIFY")[1]
        self.assertEqual(self.r.execute_command("SEMLOCK.FORCERELEASE", "aon:00600"), 1)
        self.assertTrue(w.quiet_for(0.3))
        # The earlier keys still are: a notice on one of them arrives.
        fence = self.r.execute_command("SEMLOCK.ACQUIRE", "aon:00000", 30000, "OWNER", "o",
                                       "NOTIFY")[1]
        self.assertEqual(self.r.execute_command("SEMLOCK.FORCERELEASE", "aon:00000"), 1)
        self.assertEqual(w.line(), {"event": "semlock-lost", "key": "aon:00000", "owner": "o",
                                    "fence": fence, "reason": "forced"})
        # Exactly up to the limit is accepted; one more is refused, and the stream goes on.
        rest = keys("aon", 600, 400)
        self.assertEqual(w.call({"action": "watch", "keys": rest})["data"]["watching"],
                         first + rest)
        self.assertEqual(w.call({"action": "watch", "keys": ["aon:one-more"]}),
                         {"success": False, "error": LIMIT_TEXT, "code": "BADREQUEST"})
        # Keys it already watches add nothing, so they are accepted at the limit.
        self.assertEqual(len(w.call({"action": "watch", "keys": first[:10]})["data"]["watching"]),
                         1000)
        self.assertEqual(w.call({"action": "ping"})["data"], {"pong": True})
        self.wait_watched(1000)
        w.close()
        self.wait_watched(0)
        self.assertEqual(semlock_info(self.r)["notify_watchers"], 0)

    def test_repeated_keys_count_once(self):
        w = JsonConn(self.port)
        got = w.call({"action": "watch", "keys": ["rep:a", "rep:a", "rep:b", "rep:a"]})
        self.assertEqual(got["data"]["watching"], ["rep:a", "rep:b"])
        # 997 other keys, then a request of 1,000 copies of one new key: 1,000 in all, accepted.
        w.call({"action": "watch", "keys": keys("rep", 0, 997)})
        got = w.call({"action": "watch", "keys": ["rep:c"] * 1000})
        self.assertEqual(len(got["data"]["watching"]), 1000)
        self.assertEqual(got["data"]["watching"][-1], "rep:c")
        # One notice per loss, however often the key was named.
        fence = self.r.execute_command("SEMLOCK.ACQUIRE", "rep:a", 30000, "OWNER", "o",
                                       "NOTIFY")[1]
        self.r.execute_command("SEMLOCK.FORCERELEASE", "rep:a")
        self.assertEqual(w.line(), {"event": "semlock-lost", "key": "rep:a", "owner": "o",
                                    "fence": fence, "reason": "forced"})
        self.assertTrue(w.quiet_for(0.3))
        w.close()
        self.wait_watched(0)

    def test_bad_watch_requests_exact_texts(self):
        w = JsonConn(self.port)
        cases = [
            ({"action": "watch", "keys": keys("bad", 0, 1001)}, LIMIT_TEXT),
            ({"action": "watch", "keys": []}, "keys: must not be empty"),
            ({"action": "watch", "keys": ["ok", ""]}, "keys: must not contain an empty key"),
            ({"action": "watch", "keys": ["ok", 1]}, "keys: must be an array of strings"),
            ({"action": "watch", "keys": ["ok", "x" * 513]},
             "keys: a key is longer than limits.max_key_bytes (512)"),
        ]
        for req, text in cases:
            self.assertEqual(w.call(req), {"success": False, "error": text, "code": "BADREQUEST"},
                             text)
        # None of them made the connection a watch stream or registered a key.
        self.assertEqual(semlock_info(self.r)["notify_watched_keys"], 0)
        got = w.call({"action": "acquire", "key": "bad:plain", "ttl_ms": 1000})
        self.assertTrue(got["success"], got)
        w.close()

    def test_watched_keys_are_counted_in_client_memory(self):
        before = self.r.info("memory")["used_memory_clients"]
        w = JsonConn(self.port)
        big = keys("mem", 0, 1000, pad=400)
        self.assertEqual(len(w.call({"action": "watch", "keys": big})["data"]["watching"]), 1000)
        self.wait_watched(1000)
        self.assertEqual(semlock_info(self.r)["notify_watchers"], 1)
        # At least the keys themselves, twice (its list and the key index).
        grown = self.r.info("memory")["used_memory_clients"] - before
        self.assertGreaterEqual(grown, 2 * sum(len(k) for k in big))
        w.close()
        self.wait_watched(0)
        deadline = time.time() + 5
        while self.r.info("memory")["used_memory_clients"] > before and time.time() < deadline:
            time.sleep(0.01)
        self.assertLessEqual(self.r.info("memory")["used_memory_clients"], before)


class GlobalBoundTest(unittest.TestCase):
    """server.max_client_memory_mb = 2: watchers and subscribers that would hold more are closed
    (the largest first) and their entries forgotten; another client is served throughout."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"TTLSEMLOCK_SERVER_MAX_CLIENT_MEMORY_MB": "2"}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def served(self, i):
        """The other client: an acquire, a release and a ping, all answered."""
        owner, fence = self.r.execute_command("SEMLOCK.ACQUIRE", "other:%d" % i, 30000,
                                              "OWNER", "other")
        self.assertEqual(owner, b"other")
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "other:%d" % i, "other"), 1)
        self.assertTrue(self.r.ping())

    def test_watchers_past_the_client_memory_cap_are_closed(self):
        watchers = []
        for i in range(6):  # each ~1 MB of watched keys: three would pass the 2 MB cap
            w = JsonConn(self.port)
            watchers.append(w)
            w.send({"action": "watch", "keys": keys("gw%d" % i, 0, 1000, pad=400)})
            w.line()  # the ack, or None when this one was closed at once
            self.served(i)
        closed = [w for w in watchers if w.closed_by_server(timeout=0.5)]
        still = len(watchers) - len(closed)
        self.assertGreaterEqual(len(closed), 1)
        info = semlock_info(self.r)
        self.assertEqual(info["notify_watchers"], still)
        self.assertEqual(info["notify_watched_keys"], 1000 * still)
        self.assertLessEqual(self.r.info("memory")["used_memory_clients"], 2 * 1024 * 1024)
        self.served(100)
        for w in watchers:
            w.close()

    def test_a_subscriber_past_the_client_memory_cap_is_closed(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        closed = False
        for batch in range(20):  # 500 channels of ~600 bytes a batch: 2 MB after 7 batches
            names = ["ch:%03d:%04d:%s" % (batch, i, "c" * 590) for i in range(500)]
            cmd = b"*%d\r\n$9\r\nSUBSCRIBE\r\n" % (len(names) + 1)
            for n in names:
                cmd += b"$%d\r\n%s\r\n" % (len(n), n.encode())
            try:
                s.sendall(cmd)
                want = sum(len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n"
                               % (len(n), n.encode(), batch * 500 + i + 1))
                           for i, n in enumerate(names))
                got = 0
                while got < want:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        raise ConnectionResetError
                    got += len(chunk)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            self.served(200 + batch)
        self.assertTrue(closed, "20 batches of subscriptions and never closed")
        self.served(300)
        deadline = time.time() + 5
        while self.r.info("stats")["pubsub_channels"] != 0 and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.r.info("stats")["pubsub_channels"], 0)
        self.assertLessEqual(self.r.info("memory")["used_memory_clients"], 2 * 1024 * 1024)
        s.close()


class RespWatchTest(unittest.TestCase):
    """RESP WATCH (MULTI/EXEC optimistic locking) of many keys: each WATCH looked the key up in
    a scan of the connection's list, so 20,000 keys held the loop for 7 s (100,000: minutes)."""

    def test_watching_many_keys_while_another_client_is_served(self):
        with Server() as server:
            r = redis.Redis(port=server.port, socket_timeout=30)
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            before = r.info("memory")["used_memory_clients"]
            worst = 0.0
            batches = [(b, ["rw:%07d" % i for i in range(b, b + 10000)])
                       for b in range(0, 100000, 10000)]
            batches.append((0, batches[0][1]))  # the first 10,000 again: watched once
            for _, names in batches:
                cmd = b"*%d\r\n$5\r\nWATCH\r\n" % (len(names) + 1)
                for n in names:
                    cmd += b"$%d\r\n%s\r\n" % (len(n), n.encode())
                s.sendall(cmd)
                t = time.time()
                self.assertTrue(r.ping())  # queued behind the WATCH on the loop
                worst = max(worst, time.time() - t)
                got = b""
                while not got.endswith(b"\r\n"):
                    got += s.recv(16)
                self.assertEqual(got, b"+OK\r\n")
            self.assertLess(worst, 5.0)
            # Counted in the connection's memory: at least the keys themselves, once each.
            grown = r.info("memory")["used_memory_clients"] - before
            self.assertGreaterEqual(grown, 100000 * len("rw:0000000"))
            self.assertLess(grown, 2 * 100000 * (len("rw:0000000") + 64))
            # The watch works: another client's write to one of the keys aborts the EXEC.
            r.set("rw:0054321", "x", px=10000)
            s.sendall(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n")
            want = b"+OK\r\n+QUEUED\r\n*-1\r\n"
            got = b""
            while len(got) < len(want):
                got += s.recv(64)
            self.assertEqual(got, want)
            s.close()


if __name__ == "__main__":
    unittest.main()
