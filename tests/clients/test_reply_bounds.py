"""What one request can make the server spend on a reply that cannot be sent, pushed past
server.max_reply_bytes with real clients (redis-py, raw RESP) against the real binary:

- a pop with a count (LPOP/RPOP/ZPOPMIN) whose reply would pass the bound is refused before it
  removes anything (`ERR reply too large`; it used to pop every element and then drop the reply,
  losing them), alone, inside MULTI/EXEC and from a script (whose redis.call replies are bounded
  too);
- a read whose reply passed the bound stops walking the value at once, so a transaction of
  thousands of such reads (HGETALL, LRANGE, ZRANGE, KEYS) answers `ERR reply too large` at once
  instead of walking every value in full for each of them (minutes on a 100,000-element value),
  while another client keeps being served.
"""
import socket
import threading
import time
import unittest

import redis

from semlock_server import Server

REPLY_LIMIT = 65536
ELEMENTS = 20000  # ~16 bytes each in a reply: ~320 KB, past the 64 KB bound
BIG = 100000  # elements of the values a transaction reads over and over
READS = 3000  # reads of them queued in one MULTI
KEYS = 90000  # lock keys listed over and over (under limits.max_locks with the values)
TOO_LARGE = "reply too large"
STOPPED = rb"^-ERR transaction stopped after \d+ ms; this command did not run$"


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class ReplyBoundsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"TTLSEMLOCK_SERVER_MAX_REPLY_BYTES": str(REPLY_LIMIT)}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port, socket_timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def fill_list(self, key, n, width=10):
        self.r.delete(key)
        pipe = self.r.pipeline(transaction=False)
        for b in range(0, n, 1000):
            pipe.rpush(key, *["%0*d" % (width, i) for i in range(b, min(n, b + 1000))])
        pipe.execute()

    def fill_zset(self, key, n):
        self.r.delete(key)
        pipe = self.r.pipeline(transaction=False)
        for b in range(0, n, 1000):
            pipe.zadd(key, {"m%09d" % i: i for i in range(b, min(n, b + 1000))})
        pipe.execute()

    def assert_too_large(self, call):
        with self.assertRaises(redis.ResponseError) as e:
            call()
        self.assertEqual(str(e.exception), TOO_LARGE)

    def test_a_pop_past_the_reply_bound_removes_nothing(self):
        self.fill_list("pop:l", ELEMENTS)
        self.assert_too_large(lambda: self.r.lpop("pop:l", ELEMENTS))
        self.assert_too_large(lambda: self.r.rpop("pop:l", ELEMENTS))
        self.assertEqual(self.r.llen("pop:l"), ELEMENTS)
        # What fits is popped, from the right ends, in order.
        self.assertEqual(self.r.lpop("pop:l", 2), [b"0000000000", b"0000000001"])
        self.assertEqual(self.r.rpop("pop:l", 1), [b"%010d" % (ELEMENTS - 1)])
        self.assertEqual(self.r.llen("pop:l"), ELEMENTS - 3)

        self.fill_zset("pop:z", ELEMENTS)
        self.assert_too_large(lambda: self.r.zpopmin("pop:z", ELEMENTS))
        self.assertEqual(self.r.zcard("pop:z"), ELEMENTS)
        self.assertEqual(self.r.zpopmin("pop:z", 1), [(b"m000000000", 0.0)])
        self.assertEqual(self.r.zcard("pop:z"), ELEMENTS - 1)

    def test_a_pop_past_the_bound_inside_exec_removes_nothing(self):
        self.fill_list("exec:l", ELEMENTS)
        pipe = self.r.pipeline(transaction=True)
        pipe.lpop("exec:l", ELEMENTS)
        pipe.llen("exec:l")
        res = pipe.execute(raise_on_error=False)
        self.assertIsInstance(res[0], redis.ResponseError)
        self.assertEqual(str(res[0]), TOO_LARGE)
        self.assertEqual(res[1], ELEMENTS)
        self.assertEqual(self.r.llen("exec:l"), ELEMENTS)

    def test_a_script_call_past_its_reply_bound_removes_nothing(self):
        # Scripts' redis.call replies are bounded at 16 MiB: a 20 MB list.
        n = 20000
        self.fill_list("script:l", n, width=1000)
        got = self.r.eval("local r = redis.pcall('LPOP', KEYS[1], ARGV[1]) "
                          "if type(r) == 'table' and r.err then return r.err end return #r",
                          1, "script:l", n)
        self.assertEqual(got, b"ERR reply too large")
        self.assertEqual(self.r.llen("script:l"), n)
        self.assertEqual(self.r.eval("return #redis.call('LPOP', KEYS[1], 3)", 1, "script:l"), 3)
        self.r.delete("script:l")

    def run_transaction_while_probing(self, command):
        """Queues READS copies of `command` in one MULTI and EXECs it on a raw connection; another
        client is answered meanwhile, and EXEC answers each read its error. Generous deadline:
        the old code walked the whole value for every read, for minutes."""
        attacker = socket.create_connection(("127.0.0.1", self.port), timeout=180)
        body = resp("MULTI") + resp(*command) * READS + resp("EXEC")
        # Each read that ran answers the error in its place; those left without room for even
        # that do not run and say so.
        want = b"+OK\r\n" + b"+QUEUED\r\n" * READS + b"*%d\r\n" % READS
        got = bytearray()
        done = threading.Event()

        def read_all():
            try:
                while got.count(b"\r\n") < READS * 2 + 2:
                    chunk = attacker.recv(1 << 20)
                    if not chunk:
                        break
                    got.extend(chunk)
            except OSError:
                pass
            done.set()

        reader = threading.Thread(target=read_all)
        reader.start()
        attacker.sendall(body)
        probe = redis.Redis(port=self.port, socket_timeout=60)
        try:
            self.assertTrue(probe.ping())
            self.assertEqual(probe.set("probe:%s" % command[0], "o", nx=True, px=60000), True)
            self.assertTrue(done.wait(120))
        finally:
            attacker.close()
            reader.join()
        self.assertEqual(bytes(got[:len(want)]), want)
        lines = bytes(got[len(want):]).split(b"\r\n")
        self.assertEqual(lines[-1], b"")
        lines = lines[:-1]
        self.assertEqual(len(lines), READS)
        ran = lines.count(b"-ERR reply too large")
        self.assertGreater(ran, 0)
        self.assertEqual(lines[:ran], [b"-ERR reply too large"] * ran)
        for line in lines[ran:]:
            self.assertRegex(line, STOPPED)

    def test_a_transaction_of_oversized_hash_reads_does_not_hold_the_loop(self):
        self.r.delete("big:h")
        pipe = self.r.pipeline(transaction=False)
        for b in range(0, BIG, 1000):
            pipe.hset("big:h", mapping={"f%07d" % i: "v" for i in range(b, b + 1000)})
        pipe.execute()
        self.run_transaction_while_probing(("HGETALL", "big:h"))
        self.run_transaction_while_probing(("HVALS", "big:h"))

    def test_a_transaction_of_oversized_range_reads_does_not_hold_the_loop(self):
        self.fill_list("big:l", BIG)
        self.run_transaction_while_probing(("LRANGE", "big:l", 0, -1))
        self.fill_zset("big:z", BIG)
        self.run_transaction_while_probing(("ZRANGE", "big:z", 0, -1, "WITHSCORES"))
        self.run_transaction_while_probing(("ZRANGEBYSCORE", "big:z", "-inf", "+inf"))

    def test_a_transaction_of_oversized_key_listings_does_not_hold_the_loop(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(KEYS):
            pipe.execute_command("SEMLOCK.ACQUIRE", "many:%06d" % i, 600000)
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        self.run_transaction_while_probing(("KEYS", "many:*"))
        self.run_transaction_while_probing(("SEMLOCK.LIST", "COUNT", KEYS))
        self.run_transaction_while_probing(("SEMLOCK.SCAN", 0, "COUNT", KEYS))


if __name__ == "__main__":
    unittest.main()
