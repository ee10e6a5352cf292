"""The `__semlock__:` channels are the server's own: a client cannot forge a lost-lock notice.
PUBLISH to any channel starting with `__semlock__:` is refused with one exact error, through
redis-cli, redis-py (plain, pipeline MULTI/EXEC, EVAL's redis.call and redis.pcall), and a
subscriber of the channel sees only the server's real notice. (hiredis: tests/clients/
hiredis_test.cc has the same refusal in its command table.)"""
import unittest

import redis
from redis.exceptions import ResponseError

from semlock_server import Server, ServerTestCase, redis_cli

REFUSED = "ERR channels starting with '__semlock__:' are reserved for the server's own notices"


class ForgeryTest(ServerTestCase):

    def cli(self, *args):
        return redis_cli(self.port, *args)

    def test_redis_cli_publish_is_refused(self):
        for channel in ("__semlock__:lost:foo", "__semlock__:lost:", "__semlock__:other"):
            self.assertEqual(self.cli("PUBLISH", channel, "semlock-lost foo me 1 expired"),
                             "(error) " + REFUSED + "\n", channel)
        # Only that prefix: look-alikes are ordinary channels.
        for channel in ("__semlock__", "__semlock_:lost:foo", "x__semlock__:lost:foo"):
            self.assertEqual(self.cli("PUBLISH", channel, "m"), "(integer) 0\n", channel)
        # Subscribing stays allowed.
        self.assertEqual(self.cli("PUBSUB", "NUMSUB", "__semlock__:lost:foo"),
                         '1) "__semlock__:lost:foo"\n2) (integer) 0\n')

    def test_redis_py_every_path_is_refused(self):
        with self.assertRaises(ResponseError) as e:
            self.r.publish("__semlock__:lost:k", "semlock-lost k me 1 forced")
        self.assertEqual(str(e.exception), REFUSED[len("ERR "):])
        with self.r.pipeline(transaction=True) as p:
            p.publish("__semlock__:lost:k", "x")
            p.publish("plain", "x")
            got = p.execute(raise_on_error=False)
        self.assertIsInstance(got[0], ResponseError)
        self.assertEqual(str(got[0]), REFUSED[len("ERR "):])
        self.assertEqual(got[1], 0)
        with self.assertRaises(ResponseError) as e:
            self.r.eval("return redis.call('publish', KEYS[1], 'x')", 1, "__semlock__:lost:k")
        self.assertIn(REFUSED[len("ERR "):], str(e.exception))
        self.assertEqual(
            self.r.eval("local r = redis.pcall('PUBLISH', '__semlock__:lost:k', 'x') "
                        "return r.err", 0), REFUSED.encode())

    def test_a_subscriber_sees_only_the_servers_notice(self):
        p = self.r.pubsub()
        p.subscribe("__semlock__:lost:fk")
        self.assertEqual(p.get_message(timeout=20)["type"], "subscribe")
        fence = self.r.execute_command("SEMLOCK.ACQUIRE", "fk", 30000, "OWNER", "real",
                                       "NOTIFY")[1]
        # The forgery (from redis-cli and from a script) reaches nobody.
        self.assertEqual(self.cli("PUBLISH", "__semlock__:lost:fk",
                                  "semlock-lost fk real %d forced" % fence),
                         "(error) " + REFUSED + "\n")
        with self.assertRaises(ResponseError):
            self.r.eval("return redis.call('publish', KEYS[1], ARGV[1])", 1,
                        "__semlock__:lost:fk", "semlock-lost fk real %d expired" % fence)
        self.assertIsNone(p.get_message(timeout=0.3))
        # The lock is still held; its real loss is told once.
        self.assertEqual(self.r.execute_command("SEMLOCK.EXISTS", "fk"), 1)
        self.assertEqual(self.r.execute_command("SEMLOCK.FORCERELEASE", "fk"), 1)
        m = p.get_message(timeout=20)
        self.assertEqual(m["data"], b"semlock-lost fk real %d forced" % fence)
        self.assertIsNone(p.get_message(timeout=0.3))
        p.close()


if __name__ == "__main__":
    unittest.main()
