"""A transaction may hold the loop no longer than a script: a MULTI of thousands of commands that
each walk a large value without answering much (LREM of an absent element on a 200,000-element
list) used to run to its end, however long (a MULTI of 10,000 of them on a 1,000,000-element list:
over a minute with every other client waiting). Now EXEC stops running its queued commands once
`scripting.max_ms` has passed: the ones run keep their replies, each one not run answers
`ERR transaction stopped after <n> ms; this command did not run`, and another client is served
meanwhile. Real clients: redis-py and raw RESP against the real binary."""
import re
import socket
import threading
import unittest

import redis

from semlock_server import Server

ELEMENTS = 200000
QUEUED = 5000
STOPPED = re.compile(rb"-ERR transaction stopped after (\d+) ms; this command did not run")


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_line(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed by the server")
    return line.rstrip(b"\r\n")


class ExecBudgetTest(unittest.TestCase):
    def test_a_long_transaction_is_stopped_and_says_which_commands_did_not_run(self):
        with Server(env={"TTLSEMLOCK_SCRIPTING_MAX_MS": "100"}) as server:
            r = redis.Redis(port=server.port, socket_timeout=60)
            pipe = r.pipeline(transaction=False)
            for b in range(0, ELEMENTS, 1000):
                pipe.rpush("exec:l", *["e%07d" % i for i in range(b, b + 1000)])
            pipe.execute()

            attacker = socket.create_connection(("127.0.0.1", server.port), timeout=300)
            f = attacker.makefile("rb")
            replies = []
            errors = []

            def run():
                try:
                    attacker.sendall(resp("MULTI") + resp("LREM", "exec:l", 0, "absent") * QUEUED +
                                     resp("SET", "exec:last", "o", "NX", "PX", 60000) +
                                     resp("EXEC"))
                    self_check = [read_line(f) for _ in range(QUEUED + 2)]
                    if self_check != [b"+OK"] + [b"+QUEUED"] * (QUEUED + 1):
                        errors.append("queueing: %r" % (self_check[:3],))
                        return
                    head = read_line(f)
                    if head != b"*%d" % (QUEUED + 1):
                        errors.append("EXEC header: %r" % (head,))
                        return
                    for _ in range(QUEUED + 1):
                        replies.append(read_line(f))
                except OSError as e:
                    errors.append(repr(e))

            t = threading.Thread(target=run)
            t.start()
            # Another client is answered while the transaction runs (generous deadline).
            probe = redis.Redis(port=server.port, socket_timeout=60)
            self.assertTrue(probe.ping())
            t.join(240)
            self.assertFalse(t.is_alive(), "EXEC not answered")
            attacker.close()
            self.assertEqual(errors, [])

            # The first commands ran; from the first one stopped on, none did.
            self.assertEqual(replies[0], b":0")
            first_stopped = next((i for i, v in enumerate(replies) if v != b":0"), None)
            self.assertIsNotNone(first_stopped, "every queued command ran")
            for v in replies[first_stopped:]:
                self.assertRegex(v, STOPPED)
            ms = int(STOPPED.match(replies[first_stopped]).group(1))
            self.assertGreaterEqual(ms, 100)
            self.assertIsNone(r.get("exec:last"))  # the SET queued last did not run
            self.assertEqual(r.llen("exec:l"), ELEMENTS)

            # A transaction within the budget runs whole.
            pipe = r.pipeline(transaction=True)
            pipe.lrem("exec:l", 0, "absent")
            pipe.set("exec:last", "o", nx=True, px=60000)
            self.assertEqual(pipe.execute(), [0, True])


if __name__ == "__main__":
    unittest.main()
