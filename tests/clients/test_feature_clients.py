"""Issue-17 features where a client kind was missing from the other client tests (test_notify,
test_rwlock, test_multi_session, node_resp3): REENTRANT with redis-cli; connection-lived locks
(`0 SESSION`) with SEMLOCK.HEARTBEAT from redis-cli; a JSON connection-lived lock kept by its
pings under server.session_heartbeat_timeout and released by its silence."""
import json
import socket
import time
import unittest

import redis

from semlock_server import Server, redis_cli, wait_until



class FeatureClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Timeouts with room for a loaded machine: pings 200 ms apart keep a 1.5 s heartbeat.
        cls.server = Server(env={"TTLSEMLOCK_LIMITS_MAX_TTL": "10s",
                                 "TTLSEMLOCK_SERVER_SESSION_HEARTBEAT_TIMEOUT": "1500ms"}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def cli(self, *args, stdin=None):
        return redis_cli(self.port, *args, stdin=stdin)

    def test_redis_cli_reentrant(self):
        first = self.cli("SEMLOCK.ACQUIRE", "cli:re", "5000", "OWNER", "me", "REENTRANT")
        self.assertRegex(first, r'^1\) "me"\n2\) \(integer\) \d+\n$')
        # Again by the same owner: the same fence, a hold count of 2, the TTL refreshed.
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:re", "9000", "OWNER", "me", "REENTRANT"),
                         first)
        info = self.cli("SEMLOCK.INFO", "cli:re").splitlines()
        self.assertEqual(info[-4:], ['11) "holds"', "12) 1) (integer) 2", '13) "notify"',
                                     "14) (empty array)"])
        self.assertGreater(int(self.cli("PTTL", "cli:re").split()[-1]), 5000)
        # Each release answers 1; the holder goes at zero.
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:re", "me"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.INFO", "cli:re").splitlines()[-3],
                         "12) 1) (integer) 1")
        self.assertEqual(self.cli("SEMLOCK.EXISTS", "cli:re"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:re", "me"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.EXISTS", "cli:re"), "(integer) 0\n")
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:re", "me"), "(integer) 0\n")

    def test_redis_cli_connection_lived_lock_and_heartbeat(self):
        # One redis-cli connection (commands on stdin): the lock lives while it does.
        out = self.cli(stdin="SEMLOCK.ACQUIRE cli:s 0 SESSION OWNER me\nPTTL cli:s\n"
                             "SEMLOCK.HEARTBEAT\nSEMLOCK.EXISTS cli:s\n").splitlines()
        self.assertEqual(out[0], '1) "me"')
        self.assertRegex(out[1], r"^2\) \(integer\) \d+$")
        pttl = int(out[2].split()[-1])  # the time left to limits.max_ttl (10 s)
        self.assertGreater(pttl, 8000)
        self.assertLessEqual(pttl, 10000)
        self.assertEqual(out[3:], ["OK", "(integer) 1"])
        # redis-cli exited: its connection closed, the lock went with it.
        self.assertTrue(wait_until(lambda: self.r.execute_command("SEMLOCK.EXISTS", "cli:s") == 0))
        # Without SESSION a TTL of 0 stays an error.
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:t", "0"), "(error) ERR invalid TTL\n")
        self.assertEqual(self.cli("SEMLOCK.HEARTBEAT"), "OK\n")

    def test_json_connection_lived_lock_kept_by_pings_released_by_silence(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        f = s.makefile("rb")

        def call(**req):
            s.sendall(json.dumps(req).encode() + b"\n")
            return json.loads(f.readline())

        got = call(action="acquire", key="js:lived", ttl_ms=0, session=True, owner="me")
        self.assertTrue(got["success"], got)
        self.assertEqual(got["data"]["ttl_ms"], 10000)
        for _ in range(12):  # 2.4 s of pings every 200 ms: past the 1.5 s heartbeat timeout
            time.sleep(0.2)
            self.assertEqual(call(action="ping")["data"], {"pong": True})
        self.assertEqual(self.r.execute_command("SEMLOCK.EXISTS", "js:lived"), 1)
        # Silence: the server closes the connection, which releases the lock.
        self.assertTrue(wait_until(
            lambda: self.r.execute_command("SEMLOCK.EXISTS", "js:lived") == 0, timeout=6))
        s.settimeout(5)
        try:
            self.assertEqual(s.recv(1), b"")
        except ConnectionResetError:
            pass
        f.close()
        s.close()


if __name__ == "__main__":
    unittest.main()
