"""server.max_reply_bytes inside MULTI/EXEC: the bound held for the whole EXEC reply, so one
command whose reply passed it turned the whole reply into `ERR reply too large` although every
queued command had run (a pop had removed its elements, a lock had been released and another
granted): the client was told the transaction failed while its effects were kept. Now the command
whose reply is too large answers `ERR reply too large` in its own place, and every other command
that ran keeps its reply. Real client: redis-py against the real binary."""
import re
import unittest

import redis

from semlock_server import Server

REPLY_LIMIT = 65536
BIG = 10000  # 10-byte elements: an LRANGE of it answers ~170 KB, past the bound
TOO_LARGE = "reply too large"
STOPPED = re.compile(r"transaction stopped after \d+ ms; this command did not run")


class ExecReplyLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The reply bound alone is under test: EXEC's time budget (scripting.max_ms) at its
        # longest, so a slow build (ASan, a loaded box) never stops the transaction first.
        cls.server = Server(env={"TTLSEMLOCK_SERVER_MAX_REPLY_BYTES": str(REPLY_LIMIT),
                                 "TTLSEMLOCK_SCRIPTING_MAX_MS": "60000"}).__enter__()
        cls.port = cls.server.port
        cls.r = redis.Redis(port=cls.port, socket_timeout=120)
        pipe = cls.r.pipeline(transaction=False)
        for b in range(0, BIG, 1000):
            pipe.rpush("big", *["%010d" % i for i in range(b, b + 1000)])
        pipe.execute()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def assert_too_large(self, reply):
        self.assertIsInstance(reply, redis.ResponseError)
        self.assertEqual(str(reply), TOO_LARGE)

    def test_popped_elements_are_returned_when_a_later_reply_is_too_large(self):
        self.r.delete("q")
        self.r.rpush("q", "a", "b", "c")
        pipe = self.r.pipeline(transaction=True)
        pipe.lpop("q", 2)
        pipe.lrange("big", 0, -1)
        pipe.llen("q")
        res = pipe.execute(raise_on_error=False)
        self.assertEqual(len(res), 3)
        self.assertEqual(res[0], [b"a", b"b"])
        self.assert_too_large(res[1])
        self.assertEqual(res[2], 1)
        self.assertEqual(self.r.lrange("q", 0, -1), [b"c"])
        self.assertEqual(self.r.llen("big"), BIG)

    def test_lock_replies_are_present_when_an_earlier_reply_is_too_large(self):
        self.r.delete("k1", "k2")
        self.assertEqual(self.r.execute_command("SEMLOCK.ACQUIRE", "k1", 60000, "OWNER", "o1")[0],
                         b"o1")
        pipe = self.r.pipeline(transaction=True)
        pipe.lrange("big", 0, -1)
        pipe.execute_command("SEMLOCK.RELEASE", "k1", "o1")
        pipe.execute_command("SEMLOCK.ACQUIRE", "k2", 60000, "OWNER", "o2")
        res = pipe.execute(raise_on_error=False)
        self.assertEqual(len(res), 3)
        self.assert_too_large(res[0])
        self.assertEqual(res[1], 1)  # released
        self.assertIsInstance(res[2], list)  # granted: [owner, fence]
        self.assertEqual(res[2][0], b"o2")
        self.assertIsInstance(res[2][1], int)
        # The effects are those the replies told.
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "k1", "o1"), 0)
        self.assertIsNone(self.r.execute_command("SEMLOCK.ACQUIRE", "k2", 60000, "OWNER", "o3"))
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "k2", "o2"), 1)

    def test_commands_left_without_room_for_an_answer_do_not_run(self):
        # 3000 oversized reads answer 22 bytes each at least: more than the bound holds. Those
        # that find no room left for their error do not run, nor does the SET queued last.
        self.r.delete("after")
        reads = 3000
        pipe = self.r.pipeline(transaction=True)
        for _ in range(reads):
            pipe.lrange("big", 0, -1)
        pipe.set("after", "1")
        res = pipe.execute(raise_on_error=False)
        self.assertEqual(len(res), reads + 1)
        ran = 0
        while ran < len(res) and str(res[ran]) == TOO_LARGE:
            ran += 1
        self.assertGreater(ran, 1000)
        self.assertLess(ran, reads)
        for reply in res[ran:]:
            self.assertIsInstance(reply, redis.ResponseError)
            self.assertRegex(str(reply), STOPPED)
        self.assertIsNone(self.r.get("after"))
        self.assertEqual(self.r.ping(), True)

if __name__ == "__main__":
    unittest.main()
