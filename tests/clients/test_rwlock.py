"""Read-write locks (SHARED, JSON "mode":"shared") and reentrant holds (REENTRANT) against the
real binary with real clients: redis-cli, redis-py (Debian's python3-redis) and a raw-socket JSON
client. Also a restart with persistence on: modes and hold counts come back."""
import os
import subprocess
import tempfile
import threading
import time
import unittest

import redis
from redis.exceptions import ResponseError

from clients_wire import JsonLines
from semlock_server import Server


class RwLockClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.port = str(cls.server.port)
        cls.r = redis.Redis(port=cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        cls.server.__exit__(None, None, None)

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", self.port, "--no-raw"] + list(args),
                           capture_output=True, text=True, timeout=20)
        return r.stdout

    def test_redis_cli_readers_writer_and_info(self):
        a = self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "OWNER", "r1", "SHARED")
        b = self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "OWNER", "r2", "SHARED")
        self.assertTrue(a.startswith('1) "r1"\n2) (integer) '), a)
        self.assertTrue(b.startswith('1) "r2"\n2) (integer) '), b)
        self.assertGreater(int(b.split()[-1]), int(a.split()[-1]))
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "OWNER", "w"), "(nil)\n")
        info = self.cli("SEMLOCK.INFO", "cli:rw").splitlines()
        self.assertEqual(info[-7:], [' 9) "mode"', '10) "shared"', '11) "holds"',
                                     '12) 1) (integer) 1', '    2) (integer) 1',
                                     '13) "notify"', '14) (empty array)'])
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "SHARED", "LIMIT", "2"),
                         "(error) ERR SHARED (mode shared) cannot be combined with a LIMIT above 1\n")
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "OWNER", "r1"),
                         "(error) MISMATCH the owner holds this key in the other mode "
                         "(shared/exclusive)\n")
        self.assertEqual(self.cli("GET", "cli:rw"),
                         "(error) WRONGTYPE Operation against a key holding a semaphore "
                         "(limit > 1)\n")
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:rw", "r1"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:rw", "r2"), "(integer) 1\n")
        w = self.cli("SEMLOCK.ACQUIRE", "cli:rw", "30000", "OWNER", "w")
        self.assertTrue(w.startswith('1) "w"'), w)
        self.assertIn('10) "exclusive"', self.cli("SEMLOCK.INFO", "cli:rw").splitlines())
        self.cli("SEMLOCK.RELEASE", "cli:rw", "w")

    def test_redis_py_phase_fair_blocking(self):
        r = self.r
        r.execute_command("SEMLOCK.ACQUIRE", "py:rw", 30000, "OWNER", "r1", "SHARED")
        results = {}

        def waiter(name, *opts):
            c = redis.Redis(port=self.server.port)
            results[name] = c.execute_command("SEMLOCK.ACQUIRE", "py:rw", 30000, "OWNER", name,
                                              "WAIT", 10000, *opts)
            results[name + "_at"] = time.monotonic()
            c.close()

        tw = threading.Thread(target=waiter, args=("w",))
        tw.start()
        self._until(lambda: self._info(r, "py:rw")[b"waiters"] == 1)
        # A writer waits: a new reader queues behind it (without WAIT: not granted).
        self.assertIsNone(r.execute_command("SEMLOCK.ACQUIRE", "py:rw", 30000, "OWNER", "r2",
                                            "SHARED"))
        tr2 = threading.Thread(target=waiter, args=("r2", "SHARED"))
        tr2.start()
        tr3 = threading.Thread(target=waiter, args=("r3", "SHARED"))
        tr3.start()
        self._until(lambda: self._info(r, "py:rw")[b"waiters"] == 3)
        self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "py:rw", "r1"), 1)
        tw.join(10)
        self.assertEqual(results["w"][0], b"w")
        self.assertEqual(self._info(r, "py:rw")[b"mode"], b"exclusive")
        self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "py:rw", "w"), 1)
        tr2.join(10)
        tr3.join(10)
        self.assertEqual(results["r2"][0], b"r2")
        self.assertEqual(results["r3"][0], b"r3")
        info = self._info(r, "py:rw")
        self.assertEqual(info[b"mode"], b"shared")
        self.assertEqual(len(info[b"holders"]), 2)
        r.execute_command("SEMLOCK.FORCERELEASE", "py:rw")

    def test_redis_py_reentrant(self):
        r = self.r
        first = r.execute_command("SEMLOCK.ACQUIRE", "py:re", 30000, "OWNER", "me", "REENTRANT")
        again = r.execute_command("SEMLOCK.ACQUIRE", "py:re", 60000, "OWNER", "me", "REENTRANT")
        self.assertEqual(first, again)
        self.assertEqual(self._info(r, "py:re")[b"holds"], [2])
        self.assertGreater(r.execute_command("PTTL", "py:re"), 30000)  # the TTL was refreshed
        self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "py:re", "me"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "py:re"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "py:re", "me"), 1)
        self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "py:re"), 0)
        with self.assertRaises(ResponseError) as e:
            r.execute_command("SEMLOCK.ACQUIRE", "py:sem", 1000, "LIMIT", 3, "SHARED")
        self.assertEqual(str(e.exception),
                         "SHARED (mode shared) cannot be combined with a LIMIT above 1")

    def test_json_client(self):
        c = JsonLines(self.server.port, timeout=20)
        try:
            a = c.call(action="acquire", key="js:rw", ttl_ms=30000, owner="r1", mode="shared")
            b = c.call(action="acquire", key="js:rw", ttl_ms=30000, owner="r2", mode="shared",
                       reentrant=True)
            self.assertTrue(a["success"] and b["success"])
            b2 = c.call(action="acquire", key="js:rw", ttl_ms=30000, owner="r2", mode="shared",
                        reentrant=True)
            self.assertEqual(b2["data"]["fence"], b["data"]["fence"])
            self.assertEqual(c.call(action="acquire", key="js:rw", ttl_ms=30000, owner="w"),
                             {"success": False})
            st = c.call(action="status", key="js:rw")["data"]
            self.assertEqual(st["mode"], "shared")
            self.assertEqual([h["holds"] for h in st["holders"]], [1, 2])
            self.assertEqual(c.call(action="acquire", key="js:rw", ttl_ms=1000, mode="read"),
                             {"success": False, "error": 'mode: must be "shared" or "exclusive"',
                              "code": "BADREQUEST"})
            self.assertEqual(c.call(action="acquire", key="js:x", ttl_ms=1000, mode="shared",
                                    limit=2),
                             {"success": False,
                              "error": "SHARED (mode shared) cannot be combined with a LIMIT "
                                       "above 1", "code": "BADREQUEST"})
            self.assertEqual(c.call(action="acquire", key="js:rw", ttl_ms=1000, owner="r1"),
                             {"success": False,
                              "error": "the owner holds this key in the other mode "
                                       "(shared/exclusive)", "code": "MISMATCH"})
            for owner in ("r1", "r2", "r2"):
                self.assertTrue(c.call(action="release", key="js:rw", owner=owner)["success"])
            self.assertEqual(c.call(action="exists", key="js:rw"), {"success": False})
        finally:
            c.close()

    @staticmethod
    def _info(r, key):
        flat = r.execute_command("SEMLOCK.INFO", key)
        return dict(zip(flat[0::2], flat[1::2]))

    @staticmethod
    def _until(pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return
            time.sleep(0.01)
        raise AssertionError("condition not reached")


class RwLockRestartTest(unittest.TestCase):
    def test_modes_and_counts_survive_a_restart(self):
        with tempfile.TemporaryDirectory() as d:
            args = ("--persistence", "true", "--persistence-dir", d, "--fsync", "always")
            with Server(*args) as s:
                r = redis.Redis(port=s.port)
                r.execute_command("SEMLOCK.ACQUIRE", "p:rw", 60000, "OWNER", "r1", "SHARED")
                r.execute_command("SEMLOCK.ACQUIRE", "p:rw", 60000, "OWNER", "r2", "SHARED")
                for _ in range(3):
                    r.execute_command("SEMLOCK.ACQUIRE", "p:re", 60000, "OWNER", "me", "REENTRANT")
                self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "p:re", "me"), 1)
                r.close()
            with Server(*args) as s:
                r = redis.Redis(port=s.port)
                rw = RwLockClientsTest._info(r, "p:rw")
                self.assertEqual(rw[b"mode"], b"shared")
                self.assertEqual(len(rw[b"holders"]), 2)
                self.assertEqual(RwLockClientsTest._info(r, "p:re")[b"holds"], [2])
                self.assertIsNone(r.execute_command("SEMLOCK.ACQUIRE", "p:rw", 1000, "OWNER", "w"))
                self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "p:re", "me"), 1)
                self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "p:re", "me"), 1)
                self.assertEqual(r.execute_command("SEMLOCK.EXISTS", "p:re"), 0)
                r.close()


if __name__ == "__main__":
    unittest.main()
