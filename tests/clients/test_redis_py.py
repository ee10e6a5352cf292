"""redis-py (Debian's python3-redis 4.3.4) against the real server, unmodified: its Lock recipe
(SET NX PX, GET, and EVALSHA of its three Lua scripts with the NOSCRIPT fallback), pipelines with
MULTI/EXEC and SCRIPT EXISTS, execute_command for SEMLOCK.*, and two processes contending.
redis-py 4.x speaks RESP2 only (RESP3 came in redis-py 5), so RESP3 is covered by the unit tests
and the Node test's HELLO 3."""
import multiprocessing
import os
import tempfile
import time
import unittest

import redis
from redis.exceptions import LockError, LockNotOwnedError, ResponseError

from semlock_server import Server


def contend(port, key, counter_path, rounds, log_path):
    """One contender: increments a file-backed counter under the lock, logging its hold spans."""
    r = redis.Redis(port=port)
    for _ in range(rounds):
        lock = r.lock(key, timeout=10, sleep=0.005)
        assert lock.acquire(blocking=True, blocking_timeout=20)
        start = time.monotonic()
        with open(counter_path) as f:
            value = int(f.read() or "0")
        time.sleep(0.002)  # widen the window a missing lock would let the other process into
        with open(counter_path, "w") as f:
            f.write(str(value + 1))
        end = time.monotonic()
        lock.release()
        with open(log_path, "a") as f:
            f.write(f"{start} {end}\n")


class RedisPyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.r = redis.Redis(port=cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_lock_acquire_extend_reacquire_release(self):
        lock = self.r.lock("py:basic", timeout=5)
        self.assertFalse(lock.locked())
        self.assertTrue(lock.acquire(blocking=False))
        self.assertTrue(lock.locked())
        self.assertTrue(lock.owned())
        self.assertEqual(self.r.get("py:basic"), lock.local.token)
        # extend adds to the remaining time; replace_ttl sets it.
        self.assertTrue(lock.extend(10))
        self.assertGreater(self.r.pttl("py:basic"), 10000)
        self.assertTrue(lock.extend(2, replace_ttl=True))
        self.assertLessEqual(self.r.pttl("py:basic"), 2000)
        self.assertTrue(lock.reacquire())
        self.assertGreater(self.r.pttl("py:basic"), 4000)
        other = self.r.lock("py:basic", timeout=5)
        self.assertFalse(other.acquire(blocking=False))
        self.assertFalse(other.owned())
        other.local.token = b"not-the-owner"
        with self.assertRaises(LockNotOwnedError):
            other.release()  # the release script answers 0
        self.assertTrue(lock.owned())
        lock.release()
        self.assertFalse(lock.locked())
        with self.assertRaises(LockError):
            lock.release()  # no token any more

    def test_lock_without_timeout_sends_bare_set_nx(self):
        lock = self.r.lock("py:notimeout")
        self.assertTrue(lock.acquire(blocking=False))
        # No lock lives forever: the server's max_ttl (24h by default) applies.
        self.assertGreater(self.r.pttl("py:notimeout"), 23 * 3600 * 1000)
        lock.release()

    def test_blocking_acquire_with_timeout(self):
        # A 3 s TTL: the 0.3 s attempt below must end before it, even on a stalled machine.
        holder = self.r.lock("py:block", timeout=3)
        self.assertTrue(holder.acquire())
        waiter = self.r.lock("py:block", timeout=5, sleep=0.02)
        t0 = time.monotonic()
        self.assertFalse(waiter.acquire(blocking=True, blocking_timeout=0.3))
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)  # redis-py stops one sleep early
        # The holder's TTL runs out: the waiter gets it.
        self.assertTrue(waiter.acquire(blocking=True, blocking_timeout=20))
        self.assertTrue(waiter.owned())
        with self.assertRaises(LockNotOwnedError):
            holder.release()  # expired, and now another owner's
        waiter.release()

    def test_context_manager(self):
        with self.r.lock("py:with", timeout=5, blocking_timeout=1) as lock:
            self.assertTrue(lock.owned())
        self.assertIsNone(self.r.get("py:with"))

    def test_noscript_fallback_after_script_flush(self):
        lock = self.r.lock("py:flush", timeout=5)
        lock.acquire()
        self.r.script_flush()
        self.assertEqual(self.r.script_exists(lock.lua_release.sha), [False])
        lock.release()  # EVALSHA -> NOSCRIPT -> SCRIPT LOAD -> EVALSHA
        self.assertEqual(self.r.script_exists(lock.lua_release.sha), [True])
        self.assertIsNone(self.r.get("py:flush"))

    def test_pipeline_multi_exec_and_scripts(self):
        lock = self.r.lock("py:pipe", timeout=5)
        lock.acquire()
        with self.r.pipeline() as pipe:  # transaction=True: MULTI ... EXEC
            pipe.get("py:pipe")
            pipe.pttl("py:pipe")
            pipe.execute_command("SEMLOCK.EXISTS", "py:pipe")
            # Scripts in a pipeline: SCRIPT EXISTS first, then EVALSHA inside the transaction.
            lock.lua_release(keys=["py:pipe"], args=[lock.local.token], client=pipe)
            token, pttl, exists, released = pipe.execute()
        self.assertEqual(token, lock.local.token)
        self.assertTrue(0 < pttl <= 5000)
        self.assertEqual(exists, 1)
        self.assertEqual(released, 1)
        self.assertIsNone(self.r.get("py:pipe"))
        with self.r.pipeline(transaction=False) as pipe:
            pipe.set("py:pipe2", "a", nx=True, px=1000)
            pipe.set("py:pipe2", "b", nx=True, px=1000)
            pipe.delete("py:pipe2")
            self.assertEqual(pipe.execute(), [True, None, 1])

    def test_execute_command_for_semlock_commands(self):
        owner, fence = self.r.execute_command("SEMLOCK.ACQUIRE", "py:sem", 5000, "LIMIT", 2)
        self.assertEqual(len(owner), 32)
        self.assertIsInstance(fence, int)
        owner2, fence2 = self.r.execute_command("SEMLOCK.ACQUIRE", "py:sem", 5000, "LIMIT", 2)
        self.assertGreater(fence2, fence)
        self.assertIsNone(self.r.execute_command("SEMLOCK.ACQUIRE", "py:sem", 5000, "LIMIT", 2))
        info = self.r.execute_command("SEMLOCK.INFO", "py:sem")
        self.assertEqual(info[0:2], [b"limit", 2])
        self.assertEqual([h[0] for h in info[3]], [owner, owner2])
        self.assertEqual(self.r.execute_command("SEMLOCK.EXTEND", "py:sem", owner, 9000), 1)
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "py:sem", owner), 1)
        self.assertEqual(self.r.execute_command("SEMLOCK.FORCERELEASE", "py:sem"), 1)
        self.assertEqual(self.r.execute_command("SEMLOCK.EXISTS", "py:sem"), 0)
        with self.assertRaises(ResponseError) as e:
            self.r.execute_command("SEMLOCK.ACQUIRE", "k", "soon")
        self.assertEqual(str(e.exception), "value is not an integer or out of range")
        # SCAN as Redis's: iterate until cursor 0; a batch may be empty.
        self.r.set("py:scan:1", "o", px=5000)
        cursor, keys = b"", []
        while cursor != b"0":
            cursor, batch = self.r.execute_command("SEMLOCK.SCAN", int(cursor or 0), "MATCH",
                                                   "py:scan:*")
            keys += batch
        self.assertEqual(keys, [b"py:scan:1"])

    def test_two_processes_contending(self):
        with tempfile.TemporaryDirectory() as tmp:
            counter = os.path.join(tmp, "counter")
            log = os.path.join(tmp, "spans")
            open(counter, "w").close()
            ctx = multiprocessing.get_context("fork")
            procs = [ctx.Process(target=contend, args=(self.server.port, "py:contend", counter, 25,
                                                       log)) for _ in range(2)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(60)
                self.assertEqual(p.exitcode, 0)
            with open(counter) as f:
                self.assertEqual(int(f.read()), 50)
            with open(log) as f:
                spans = sorted(tuple(map(float, line.split())) for line in f)
            self.assertEqual(len(spans), 50)
            for (s1, e1), (s2, _) in zip(spans, spans[1:]):
                self.assertLessEqual(e1, s2, "two holders at once")


if __name__ == "__main__":
    unittest.main()
