"""PUBLISH against a client holding 200,000 pattern subscriptions that the pattern index cannot
rule out (they all begin with a metacharacter): every PUBLISH then tries all of them (~22 ms of
loop each before), so a client publishing in a loop starved everyone. Now that work is paced per
tick: a PUBLISH past the tick's budget is finished in the next ticks and answered then, with
Redis's exact count, in order, while the other clients are served.
Real clients: redis-py (publisher, subscriber, PING client) and raw RESP for the pattern flood."""
import socket
import threading
import unittest

import redis

from semlock_server import Server, psubscribe_many, read_bytes, wait_until

PATTERNS = 200000
PUBLISHES = 60



def pmessage(pattern, channel, msg):
    parts = [b"pmessage", pattern, channel, msg]
    return b"*4\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class PacedPublishTest(unittest.TestCase):
    def test_publish_loop_with_many_patterns_is_paced_exact_and_others_are_served(self):
        with Server() as server:
            r = redis.Redis(port=server.port, socket_timeout=60)
            flood = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            psubscribe_many(flood, PATTERNS)
            # One pattern of the flooding client matches: it gets a copy of every message.
            flood.sendall(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$5\r\nnews*\r\n")
            read_bytes(flood, len(b"*3\r\n$10\r\npsubscribe\r\n$5\r\nnews*\r\n:%d\r\n"
                                   % (PATTERNS + 1)))
            self.assertEqual(r.execute_command("PUBSUB", "NUMPAT"), PATTERNS + 1)

            # A subscriber of the channel and of a matching pattern.
            sub = redis.Redis(port=server.port, socket_timeout=60).pubsub()
            sub.subscribe("news")
            sub.psubscribe("n*s")
            self.assertEqual(sub.get_message(timeout=10)["type"], "subscribe")
            self.assertEqual(sub.get_message(timeout=10)["type"], "psubscribe")

            # The publisher, in a loop; each reply must be the exact count: the channel's
            # subscriber, its "n*s" and the flood's "news*".
            counts = []
            errors = []

            def publish_loop():
                try:
                    p = redis.Redis(port=server.port, socket_timeout=60)
                    for i in range(PUBLISHES):
                        counts.append(p.publish("news", "m%d" % i))
                except Exception as e:  # reported by the main thread
                    errors.append(e)

            publisher = threading.Thread(target=publish_loop)
            publisher.start()
            # A third client keeps being served while the publisher runs (every PING answered;
            # no bound on how fast: only that it is served).
            pinger = redis.Redis(port=server.port, socket_timeout=60)
            pings = 0
            while publisher.is_alive():
                self.assertTrue(pinger.ping())
                pings += 1
            publisher.join()
            self.assertEqual(errors, [])
            self.assertGreater(pings, 0)
            self.assertEqual(counts, [3] * PUBLISHES)

            # Each PUBLISH needed more than a tick's budget: every one was paced.
            info = pinger.info("stats")
            self.assertGreaterEqual(info["pubsub_publish_paced"], PUBLISHES)
            self.assertEqual(info["pubsub_publish_queue"], 0)

            # The subscriber got every message, in order, channel copy before pattern copy.
            got = []
            while len(got) < 2 * PUBLISHES:
                m = sub.get_message(timeout=10)
                self.assertIsNotNone(m)
                got.append((m["type"], m["data"]))
            want = []
            for i in range(PUBLISHES):
                want += [("message", b"m%d" % i), ("pmessage", b"m%d" % i)]
            self.assertEqual(got, want)
            # And the flood client its pattern's copies, in order.
            expect = b"".join(pmessage(b"news*", b"news", b"m%d" % i) for i in range(PUBLISHES))
            self.assertEqual(read_bytes(flood, len(expect)), expect)
            sub.close()
            flood.close()

    def test_pipelined_publishes_and_a_leaving_subscriber_keep_exact_counts(self):
        with Server() as server:
            r = redis.Redis(port=server.port, socket_timeout=60)
            flood = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            psubscribe_many(flood, PATTERNS, first=b"?")
            stay = redis.Redis(port=server.port, socket_timeout=60).pubsub()
            stay.psubscribe("*")
            self.assertEqual(stay.get_message(timeout=10)["type"], "psubscribe")
            leaver = redis.Redis(port=server.port, socket_timeout=60).pubsub()
            leaver.psubscribe("ch?")
            self.assertEqual(leaver.get_message(timeout=10)["type"], "psubscribe")

            # 20 PUBLISHes in one write: answered in order, each once delivered.
            p = redis.Redis(port=server.port, socket_timeout=60)
            pipe = p.pipeline(transaction=False)
            for i in range(20):
                pipe.publish("chx", "p%d" % i)
            replies = {}
            done = threading.Event()

            def run():
                replies["r"] = pipe.execute()
                done.set()

            t = threading.Thread(target=run)
            t.start()
            # Meanwhile the leaver leaves: whatever of the 20 it was still owed reaches it before
            # its punsubscribe confirmation, so the counts say exactly who got what.
            self.assertTrue(wait_until(lambda: r.info("stats")["pubsub_publish_paced"] > 0, 30))
            leaver.punsubscribe("ch?")
            received = 0
            while True:
                m = leaver.get_message(timeout=30)
                self.assertIsNotNone(m)
                if m["type"] == "punsubscribe":
                    break
                self.assertEqual(m["type"], "pmessage")
                self.assertEqual(m["data"], b"p%d" % received)
                received += 1
            self.assertTrue(r.ping())  # served while the pipeline is still going on
            t.join(120)
            self.assertTrue(done.is_set())
            total = sum(replies["r"])
            # "*" got all 20; the leaver those counted for it.
            self.assertEqual(total, 20 + received)
            self.assertEqual([c - 1 for c in replies["r"]],
                             [1] * received + [0] * (20 - received))
            got = [stay.get_message(timeout=10) for _ in range(20)]
            self.assertEqual([m["data"] for m in got], [b"p%d" % i for i in range(20)])
            # Inside MULTI/EXEC the PUBLISH is delivered at once with its exact count.
            tx = p.pipeline(transaction=True)
            tx.publish("chx", "t")
            self.assertEqual(tx.execute(), [1])
            self.assertEqual(stay.get_message(timeout=10)["data"], b"t")
            stay.close()
            leaver.close()
            flood.close()


if __name__ == "__main__":
    unittest.main()
