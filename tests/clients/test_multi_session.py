"""All-or-nothing multi-key locks (SEMLOCK.ACQUIREALL / RELEASEALL, JSON acquire_all /
release_all) and connection-lived locks (SEMLOCK.ACQUIRE key 0 SESSION, JSON ttl_ms 0 with
session) against the real server, with redis-cli, redis-py and raw JSON lines on a socket."""
import json
import socket
import threading
import time
import unittest

import redis
from redis.exceptions import ResponseError

from clients_wire import JsonLines as JsonConn
from semlock_server import Server, ServerTestCase, redis_cli, wait_until



class AcquireAllTest(ServerTestCase):

    def cli(self, *args):
        return redis_cli(self.port, *args)

    def test_redis_cli_all_or_nothing(self):
        out = self.cli("SEMLOCK.ACQUIREALL", "30000", "2", "cli:a", "cli:b", "OWNER", "me")
        lines = out.splitlines()
        self.assertEqual(lines[0], '1) "me"')
        self.assertRegex(lines[1], r"^2\) 1\) \(integer\) \d+$")
        self.assertRegex(lines[2], r"^   2\) \(integer\) \d+$")
        # One key busy: nothing is taken.
        self.assertEqual(self.cli("SEMLOCK.ACQUIREALL", "30000", "2", "cli:c", "cli:b"), "(nil)\n")
        self.assertEqual(self.cli("SEMLOCK.EXISTS", "cli:c"), "(integer) 0\n")
        self.assertEqual(self.cli("SEMLOCK.RELEASEALL", "me", "3", "cli:a", "cli:b", "cli:c"),
                         "(integer) 2\n")
        self.assertEqual(self.cli("SEMLOCK.EXISTS", "cli:a"), "(integer) 0\n")

    def test_redis_cli_bad_inputs(self):
        cases = [
            (["SEMLOCK.ACQUIREALL", "1000", "0", "k"], "ERR numkeys must be between 1 and 128"),
            (["SEMLOCK.ACQUIREALL", "1000", "129", "k"], "ERR numkeys must be between 1 and 128"),
            (["SEMLOCK.ACQUIREALL", "1000", "x", "k"], "ERR value is not an integer or out of range"),
            (["SEMLOCK.ACQUIREALL", "1000", "3", "k", "l"],
             "ERR Number of keys can't be greater than number of args"),
            (["SEMLOCK.ACQUIREALL", "1000", "2", "k", "k"], "ERR duplicate key in the key list"),
            (["SEMLOCK.ACQUIREALL", "0", "1", "k"], "ERR invalid TTL"),
            (["SEMLOCK.ACQUIREALL", "1000", "1", "k", "LIMIT", "2"], "ERR syntax error"),
            (["SEMLOCK.ACQUIREALL", "1000", "1", "k", "WAIT", "-1"], "ERR invalid WAIT"),
            (["SEMLOCK.ACQUIREALL", "1000", "1"],
             "ERR wrong number of arguments for 'semlock.acquireall' command"),
            (["SEMLOCK.RELEASEALL", "me", "2", "k"],
             "ERR Number of keys can't be greater than number of args"),
            (["SEMLOCK.RELEASEALL", "me", "1", "k", "extra"], "ERR syntax error"),
            (["SEMLOCK.ACQUIRE", "k", "0"], "ERR invalid TTL"),
            (["SEMLOCK.ACQUIRE", "k", "0", "OWNER", "SESSION"], "ERR invalid TTL"),
        ]
        for args, error in cases:
            self.assertEqual(self.cli(*args), "(error) " + error + "\n", args)

    def test_command_info_reports_keynum_key_spec(self):
        info = self.cli("COMMAND", "INFO", "SEMLOCK.ACQUIREALL").splitlines()
        self.assertEqual(info[0], '1)  1) "semlock.acquireall"')
        self.assertEqual(info[1], "    2) (integer) -4")
        self.assertIn("movablekeys", "\n".join(info))
        # The key spec: the count at index 2, then the keys (as EVAL's).
        text = "\n".join(info)
        self.assertIn('"keynum"', text)
        self.assertIn('"keynumidx"', text)
        docs = self.cli("COMMAND", "DOCS", "SEMLOCK.RELEASEALL")
        self.assertIn('"numkeys"', docs)

    def test_redis_py_wait_is_granted_when_every_key_frees(self):
        r = self.r
        self.assertEqual(r.execute_command("SEMLOCK.ACQUIRE", "py:b", 10000, "OWNER", "h")[0], b"h")
        result = {}

        def waiter():
            c = redis.Redis(port=self.port)
            result["r"] = c.execute_command("SEMLOCK.ACQUIREALL", 5000, 2, "py:a", "py:b",
                                            "OWNER", "w", "WAIT", 10000)

        t = threading.Thread(target=waiter)
        t.start()
        # Queued on py:b (a fixed sleep was too short on a loaded machine: the acquire below then
        # came before the waiter and took py:a).
        self.assertTrue(wait_until(
            lambda: r.execute_command("SEMLOCK.INFO", "py:b")[5] == 1, timeout=30))
        # py:a is free but kept for the waiter: a single acquire does not barge in.
        self.assertIsNone(r.execute_command("SEMLOCK.ACQUIRE", "py:a", 1000, "OWNER", "x"))
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "py:a"), 0)
        self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "py:b", "h"), 1)
        t.join(10)
        owner, fences = result["r"]
        self.assertEqual(owner, b"w")
        self.assertEqual(len(fences), 2)
        self.assertLess(fences[0], fences[1])
        self.assertEqual(r.execute_command("SEMLOCK.RELEASEALL", "w", 2, "py:a", "py:b"), 2)

    def test_redis_py_opposite_orders_never_deadlock(self):
        keys = ["dl:1", "dl:2", "dl:3"]
        done = []
        errors = []

        def worker(n, order):
            c = redis.Redis(port=self.port)
            try:
                for i in range(30):
                    owner = f"w{n}-{i}"
                    r = c.execute_command("SEMLOCK.ACQUIREALL", 5000, len(order), *order, "OWNER",
                                          owner, "WAIT", 20000)
                    if r is None:
                        errors.append("timed out")
                        return
                    self.assertEqual(c.execute_command("SEMLOCK.RELEASEALL", owner, len(order),
                                                       *order), len(order))
                done.append(n)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(n, order)) for n, order in
                   enumerate([keys, list(reversed(keys)), [keys[1], keys[0]], [keys[2], keys[1]]])]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(done), [0, 1, 2, 3])

    def test_redis_py_waiter_that_disconnects_frees_its_reservation(self):
        r = self.r
        r.execute_command("SEMLOCK.ACQUIRE", "gone:b", 10000, "OWNER", "h")
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"*9\r\n$18\r\nSEMLOCK.ACQUIREALL\r\n$5\r\n10000\r\n$1\r\n2\r\n$6\r\ngone:a\r\n"
                  b"$6\r\ngone:b\r\n$5\r\nOWNER\r\n$1\r\nw\r\n$4\r\nWAIT\r\n$5\r\n10000\r\n")
        self.assertTrue(wait_until(
            lambda: r.execute_command("SEMLOCK.INFO", "gone:b")[5] == 1, timeout=30))
        self.assertIsNone(r.execute_command("SEMLOCK.ACQUIRE", "gone:a", 1000, "OWNER", "x"))
        s.close()
        self.assertTrue(wait_until(lambda: r.execute_command(
            "SEMLOCK.ACQUIRE", "gone:a", 1000, "OWNER", "x") is not None))
        info = r.execute_command("SEMLOCK.INFO", "gone:b")
        self.assertEqual(info[5], 0)  # no waiter left on gone:b

    def test_json_acquire_all_and_release_all(self):
        j = JsonConn(self.port)
        try:
            r = j.call(action="acquire_all", keys=["j:a", "j:b"], ttl_ms=5000, owner="t1", id=1)
            self.assertTrue(r["success"])
            self.assertEqual(r["data"]["keys"], ["j:a", "j:b"])
            self.assertEqual(r["data"]["owner"], "t1")
            self.assertEqual(len(r["data"]["fences"]), 2)
            self.assertEqual(r["data"]["ttl_ms"], 5000)
            self.assertEqual(r["id"], 1)
            self.assertEqual(j.call(action="acquire_all", keys=["j:c", "j:b"], ttl=5),
                             {"success": False})
            self.assertEqual(j.call(action="exists", key="j:c"), {"success": False})
            self.assertEqual(j.call(action="release_all", keys=["j:a", "j:b", "j:c"], owner="t1"),
                             {"success": True, "data": {"released": 2}})
            self.assertEqual(j.call(action="release_all", keys=["j:a"], owner="t1"),
                             {"success": False})
            for req, text in [
                (dict(action="acquire_all", ttl=5), "keys: required"),
                (dict(action="acquire_all", keys="a", ttl=5), "keys: must be an array of strings"),
                (dict(action="acquire_all", keys=[1], ttl=5), "keys: must be an array of strings"),
                (dict(action="acquire_all", keys=[], ttl=5), "keys: must hold 1..128 keys"),
                (dict(action="acquire_all", keys=["a", "a"], ttl=5), "keys: duplicate key"),
                (dict(action="acquire_all", keys=[""], ttl=5), "keys: must not hold an empty key"),
                (dict(action="acquire_all", keys=["a"]), "ttl: required"),
                (dict(action="release_all", keys=["a"]), "owner: required"),
                (dict(action="acquire_all", keys=["a"], ttl=5, notify=True),
                 "notify: not supported by acquire_all"),
                (dict(action="acquire_all", keys=["a"], ttl=5, mode="shared"),
                 "mode: not supported by acquire_all"),
                (dict(action="acquire_all", keys=["a"], ttl=5, reentrant=True),
                 "reentrant: not supported by acquire_all"),
            ]:
                self.assertEqual(j.call(**req),
                                 {"success": False, "error": text, "code": "BADREQUEST"}, req)
        finally:
            j.close()

    def test_releaseall_counts_only_keys_the_owner_no_longer_holds(self):
        """Issue 17 review: a reentrant key that only lost one of its holds is still held, so
        RELEASEALL (RESP) and release_all (JSON) do not count it as released."""
        r = self.r
        self.assertEqual(r.execute_command("SEMLOCK.ACQUIRE", "ra:re", 5000, "OWNER", "o",
                                           "REENTRANT")[0], b"o")
        r.execute_command("SEMLOCK.ACQUIRE", "ra:re", 5000, "OWNER", "o", "REENTRANT")
        r.execute_command("SEMLOCK.ACQUIRE", "ra:plain", 5000, "OWNER", "o")
        self.assertEqual(r.execute_command("SEMLOCK.RELEASEALL", "o", 3, "ra:re", "ra:plain",
                                           "ra:none"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "ra:re"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "ra:plain"), 0)
        # One hold left: this RELEASEALL frees it.
        self.assertEqual(r.execute_command("SEMLOCK.RELEASEALL", "o", 1, "ra:re"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "ra:re"), 0)
        j = JsonConn(self.port)
        try:
            for _ in range(2):
                self.assertTrue(j.call(action="acquire", key="ja:re", ttl_ms=5000, owner="t",
                                       reentrant=True)["success"])
            # The owner held the key (a hold was taken) but still holds it: success, 0 released.
            self.assertEqual(j.call(action="release_all", keys=["ja:re", "ja:none"], owner="t"),
                             {"success": True, "data": {"released": 0}})
            self.assertEqual(j.call(action="exists", key="ja:re")["success"], True)
            self.assertEqual(j.call(action="release_all", keys=["ja:re"], owner="t"),
                             {"success": True, "data": {"released": 1}})
            self.assertEqual(j.call(action="release_all", keys=["ja:re"], owner="t"),
                             {"success": False})
        finally:
            j.close()

    def test_json_acquire_all_waits(self):
        j1, j2 = JsonConn(self.port), JsonConn(self.port)
        try:
            self.assertTrue(j1.call(action="acquire", key="jw:b", ttl_ms=10000, owner="h")["success"])
            j2.sock.sendall(json.dumps(dict(action="acquire_all", keys=["jw:a", "jw:b"],
                                            ttl_ms=3000, owner="w", wait_ms=10000)).encode() + b"\n")
            time.sleep(0.2)
            self.assertTrue(j1.call(action="release", key="jw:b", owner="h")["success"])
            r = j2.reply()
            self.assertTrue(r["success"])
            self.assertEqual(r["data"]["keys"], ["jw:a", "jw:b"])
            self.assertEqual(len(r["data"]["fences"]), 2)
            self.assertEqual(j2.call(action="release_all", keys=["jw:a", "jw:b"], owner="w"),
                             {"success": True, "data": {"released": 2}})
        finally:
            j1.close()
            j2.close()


class SessionLockTest(unittest.TestCase):
    # A small cap (limits.max_ttl) for the tests of the cap; every check made "before the cap"
    # keeps seconds to spare on a loaded machine, and the heartbeat timeout (3 s) lets a client
    # heartbeating every 200 ms be stalled for seconds.
    CAP_MS = 5000

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"TTLSEMLOCK_LIMITS_MAX_TTL": "5s",
                                 "TTLSEMLOCK_SERVER_SESSION_HEARTBEAT_TIMEOUT": "3s"}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_connection_close_releases_and_pttl_shows_the_cap(self):
        c = redis.Redis(port=self.port, single_connection_client=True)
        t0 = time.monotonic()
        owner, fence = c.execute_command("SEMLOCK.ACQUIRE", "s:close", 0, "SESSION", "OWNER", "me")
        self.assertEqual(owner, b"me")
        self.assertGreater(fence, 0)
        pttl = self.r.pttl("s:close")
        elapsed_ms = (time.monotonic() - t0) * 1000
        self.assertGreaterEqual(pttl, self.CAP_MS - elapsed_ms - 1)
        self.assertLessEqual(pttl, self.CAP_MS)
        info = self.r.execute_command("SEMLOCK.INFO", "s:close")
        self.assertLessEqual(info[3][0][2], self.CAP_MS)
        c.close()
        self.assertTrue(wait_until(lambda: self.r.execute_command("SEMLOCK.EXISTS", "s:close") == 0))

    def test_connection_lived_refresh_is_bound_and_released_at_close(self):
        # Regression (review of the merged issue-17 features): "ACQUIRE k 0 SESSION" by an owner
        # that already held k refreshed it to the max_ttl cap but bound it to no connection, so
        # nothing ended it before the cap.
        self.r.execute_command("SEMLOCK.ACQUIRE", "s:refresh", 1000, "OWNER", "me")
        s = socket.create_connection(("127.0.0.1", self.port))
        t0 = time.monotonic()
        s.sendall(b"SEMLOCK.ACQUIRE s:refresh 0 SESSION OWNER me\r\n")
        self.assertTrue(s.recv(1024).startswith(b"*2\r\n$2\r\nme\r\n:"))
        pttl = self.r.pttl("s:refresh")
        elapsed_ms = (time.monotonic() - t0) * 1000
        # The cap (5 s), not the 1 s TTL.
        self.assertGreaterEqual(pttl, self.CAP_MS - elapsed_ms - 1)
        self.assertGreater(pttl, 1000)
        s.close()  # a real close (redis-py's close() returns the socket to its pool)
        # Gone before the cap would have ended it (1 s of it left as margin).
        cap_left = self.CAP_MS / 1000 - (time.monotonic() - t0) - 1.0
        self.assertTrue(wait_until(
            lambda: self.r.execute_command("SEMLOCK.EXISTS", "s:refresh") == 0,
            timeout=cap_left))

    def test_capped_at_max_ttl_while_connected(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"SEMLOCK.ACQUIRE s:cap 0 SESSION OWNER me\r\n")
        self.assertTrue(s.recv(1024).startswith(b"*2\r\n$2\r\nme\r\n:"))
        granted_by = time.monotonic()
        # Keep the connection heard from past the 5 s cap: only the cap ends the lock.
        while time.monotonic() < granted_by + self.CAP_MS / 1000 + 0.3:
            time.sleep(0.2)
            s.sendall(b"SEMLOCK.HEARTBEAT\r\n")
            s.recv(1024)
        self.assertEqual(self.r.execute_command("SEMLOCK.EXISTS", "s:cap"), 0)
        s.close()

    def test_json_ttl_ms_zero_needs_session(self):
        j = JsonConn(self.port)
        try:
            r = j.call(action="acquire", key="s:json", ttl_ms=0, session=True, owner="me")
            self.assertTrue(r["success"])
            self.assertEqual(r["data"]["ttl_ms"], self.CAP_MS)
            self.assertEqual(j.call(action="acquire", key="s:json2", ttl_ms=0),
                             {"success": False, "error": "ttl_ms: must be a positive integer",
                              "code": "BADREQUEST"})
            self.assertEqual(j.call(action="acquire", key="s:json2", ttl_ms=0, session=False),
                             {"success": False, "error": "ttl_ms: must be a positive integer",
                              "code": "BADREQUEST"})
        finally:
            j.close()
        self.assertTrue(wait_until(lambda: self.r.execute_command("SEMLOCK.EXISTS", "s:json") == 0))


class HeartbeatTimeoutTest(unittest.TestCase):
    # A cap (60 s) far past every wait here: a lock gone, or a connection kept, can only be the
    # heartbeat timeout's doing. (With a 3 s cap a loaded machine once reached the cap first: the
    # lock was gone by then but the connection, holding nothing lived any more, stayed open.)
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"TTLSEMLOCK_LIMITS_MAX_TTL": "60s",
                                 "TTLSEMLOCK_SERVER_SESSION_HEARTBEAT_TIMEOUT": "1500ms"}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_heartbeat_keeps_it_and_silence_releases_it(self):
        c = redis.Redis(port=self.port, single_connection_client=True)
        c.execute_command("SEMLOCK.ACQUIRE", "s:hb", 0, "SESSION", "OWNER", "me")
        # 3 s of heartbeats every 200 ms: past the 1.5 s timeout plus a sweep interval (1 s).
        for _ in range(15):
            time.sleep(0.2)
            self.assertEqual(c.execute_command("SEMLOCK.HEARTBEAT"), b"OK")
        self.assertEqual(self.r.execute_command("SEMLOCK.EXISTS", "s:hb"), 1)
        # Silence: the server closes the connection, releasing the lock (long before the cap).
        self.assertTrue(wait_until(
            lambda: self.r.execute_command("SEMLOCK.EXISTS", "s:hb") == 0, timeout=30))
        with self.assertRaises(redis.ConnectionError):
            c.execute_command("PING")

    def test_plain_session_connection_without_lived_locks_is_not_closed(self):
        c = redis.Redis(port=self.port, single_connection_client=True)
        c.execute_command("SEMLOCK.ACQUIRE", "s:plain", 30000, "SESSION", "OWNER", "me")
        # Past the heartbeat timeout plus a sweep interval: a TTL'd session lock is not subject
        # to it.
        time.sleep(3.0)
        self.assertEqual(c.execute_command("SEMLOCK.EXISTS", "s:plain"), 1)
        c.close()


if __name__ == "__main__":
    unittest.main()
