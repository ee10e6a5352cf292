"""Lost-lock notices against a client holding 200,000 pattern subscriptions (11 MB, well inside
the default server.max_client_memory_mb): every pattern is tried on every notice's channel
message, so 16,500 NOTIFY locks expiring together used to hold the loop for minutes (1,000 of
them: 40 s). Now the pattern subscribers' copies are paced per tick and their backlog is capped
(16 MiB, the oldest dropped and counted), while another client is served throughout and the
notices that cost nothing extra (a JSON watch line, the channel's own subscriber) come at once.
Real clients: redis-py, raw RESP for the pattern flood, a raw-socket JSON watcher."""
import json
import socket
import time
import unittest

import redis

from semlock_server import Server, psubscribe_many

PATTERNS = 200000
LOCKS = 16500  # with 500-byte keys: ~17 MB of pattern copies, past the 16 MiB backlog cap


class PatternFloodTest(unittest.TestCase):
    def test_many_patterns_neither_freeze_the_loop_nor_delay_other_listeners(self):
        with Server() as server:
            # The pipeline below sends 9 MB: on a starved ASan build that alone took over 30 s.
            r = redis.Redis(port=server.port, socket_timeout=120)
            flood = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            psubscribe_many(flood, PATTERNS)
            self.assertEqual(r.execute_command("PUBSUB", "NUMPAT"), PATTERNS)

            keys = ["flood:%05d:%s" % (i, "k" * 488) for i in range(LOCKS)]
            watcher = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            watcher.sendall(json.dumps({"action": "watch", "keys": [keys[-1]]}).encode() + b"\n")
            wfile = watcher.makefile("rb")
            self.assertTrue(json.loads(wfile.readline())["success"])
            sub = r.pubsub()
            sub.subscribe("__semlock__:lost:" + keys[-1])
            self.assertEqual(sub.get_message(timeout=30)["type"], "subscribe")

            pipe = r.pipeline(transaction=False)
            for k in keys:
                pipe.execute_command("SEMLOCK.ACQUIRE", k, 1000, "OWNER", "o", "NOTIFY")
            replies = pipe.execute()
            fence = replies[-1][1]
            # The other client, while they expire and their notices go out: answered throughout
            # (generous bound: the old code held the loop for minutes; an ASan build on a box at
            # load ~17 once took 9 s to answer one ping while the 16,500 expired).
            worst = 0.0
            end = time.time() + 4
            while time.time() < end:
                t = time.time()
                self.assertTrue(r.ping())
                worst = max(worst, time.time() - t)
                time.sleep(0.01)
            self.assertLess(worst, 30.0)
            # The watcher and the channel's subscriber were told without waiting for the patterns.
            # (Waits for what must come: generous, a starved ASan build once needed over 10 s.)
            watcher.settimeout(60)
            self.assertEqual(json.loads(wfile.readline()),
                             {"event": "semlock-lost", "key": keys[-1], "owner": "o",
                              "fence": fence, "reason": "expired"})
            m = sub.get_message(timeout=60)
            self.assertEqual(m["data"], b"semlock-lost %s o %d expired" % (keys[-1].encode(), fence))
            info = r.info("semlock")
            self.assertEqual(info["lost_notices_expired"], LOCKS)
            # The pattern copies are paced: most are still waiting, the oldest past the cap dropped.
            self.assertGreater(info["lost_notice_pattern_backlog"], 0)
            self.assertGreater(info["lost_notice_pattern_deferrals"], 0)
            self.assertGreater(info["lost_notice_pattern_drops"], 0)
            self.assertLessEqual(info["lost_notice_pattern_backlog"] * 1000, 16 * 1024 * 1024)
            self.assertLess(info["lost_notice_pattern_backlog"] + info["lost_notice_pattern_drops"],
                            LOCKS)
            sub.close()
            wfile.close()
            watcher.close()
            flood.close()


if __name__ == "__main__":
    unittest.main()
