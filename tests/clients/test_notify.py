"""Lost-lock notices (SEMLOCK.ACQUIRE ... NOTIFY) against the real server with real clients:
redis-cli 7 in RESP3 (-3 --show-pushes y) gets the push; redis-cli and redis-py (RESP2) get it by
SUBSCRIBE to __semlock__:lost:<key>; a raw-socket JSON client gets it by {"action":"watch"}.
Nothing leaks into RESP2 or JSON request/reply streams, and a watch stream that is never read is
bounded by the client memory cap while another client is served.

redis-py with protocol=3 and a push handler needs redis-py 5; Debian 12 ships 4.3.4 (RESP2
only), so RESP3 pushes are read by redis-cli (a real RESP3 client built on hiredis 1.x) and
byte for byte on a raw socket."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import redis

from clients_wire import encode
from semlock_server import Server, ServerTestCase


class Raw:
    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, *parts):
        self.s.sendall(encode(*parts))

    def send_line(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def read_exact(self, n, timeout=5):
        deadline = time.time() + timeout
        while len(self.buf) < n and time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        got, self.buf = self.buf[:n], self.buf[n:]
        return got

    def crlf_line(self, timeout=5):
        """One RESP line, without its CRLF."""
        deadline = time.time() + timeout
        while b"\r\n" not in self.buf and time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def holder_reply(self):
        """[owner, fence] as an acquire answers it: returns the fence."""
        self.assertion = [self.crlf_line() for _ in range(3)]
        return int(self.crlf_line()[1:])

    def line(self, timeout=5):
        deadline = time.time() + timeout
        while b"\n" not in self.buf and time.time() < deadline:
            self.s.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def quiet_for(self, seconds):
        """True when nothing at all arrives for `seconds`."""
        self.s.settimeout(seconds)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return True
        self.buf += chunk
        return False

    def close(self):
        self.s.close()


def push(key, owner, fence, reason):
    def bulk(s):
        return b"$%d\r\n%s\r\n" % (len(s), s.encode())
    return (b">5\r\n" + bulk("semlock-lost") + bulk(key) + bulk(owner) + b":%d\r\n" % fence +
            bulk(reason))


class NotifyTest(ServerTestCase):

    def acquire(self, key, owner, ttl, *extra):
        got = self.r.execute_command("SEMLOCK.ACQUIRE", key, ttl, "OWNER", owner, *extra)
        self.assertEqual(got[0], owner.encode())
        return got[1]

    # --- RESP3 -------------------------------------------------------------------------------

    def test_redis_cli_resp3_gets_the_push_on_expiry(self):
        # The push arrives while redis-cli waits for BLPOP's reply (1 s on an absent list).
        script = "SEMLOCK.ACQUIRE n:cli 150 OWNER alice NOTIFY\nBLPOP n:nolist 1\n"
        out = subprocess.run(["redis-cli", "-3", "--show-pushes", "y", "-p", str(self.port)],
                             input=script, capture_output=True, text=True, timeout=20).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], "alice", out)
        fence = lines[1]
        self.assertIn("semlock-lost", lines, out)
        at = lines.index("semlock-lost")
        self.assertEqual(lines[at:at + 5], ["semlock-lost", "n:cli", "alice", fence, "expired"],
                         out)

    def test_resp3_push_bytes_on_expiry_and_force_release(self):
        c = Raw(self.port)
        c.send("HELLO", "3")
        c.read_exact(1)  # the map's first byte; drain the rest
        time.sleep(0.1)
        c.quiet_for(0.1)
        c.buf = b""
        c.send("SEMLOCK.ACQUIRE", "n:raw", "100", "OWNER", "o1", "NOTIFY")
        fence = c.holder_reply()
        self.assertEqual(c.assertion, [b"*2", b"$2", b"o1"])
        want = push("n:raw", "o1", fence, "expired")
        self.assertEqual(c.read_exact(len(want), timeout=20), want)
        # Forced: FORCERELEASE from another connection.
        c.send("SEMLOCK.ACQUIRE", "n:raw2", "30000", "OWNER", "o2", "NOTIFY")
        fence2 = c.holder_reply()
        self.assertEqual(self.r.execute_command("SEMLOCK.FORCERELEASE", "n:raw2"), 1)
        want = push("n:raw2", "o2", fence2, "forced")
        self.assertEqual(c.read_exact(len(want), timeout=20), want)
        # Its own release: no push.
        c.send("SEMLOCK.ACQUIRE", "n:raw3", "30000", "OWNER", "o3", "NOTIFY")
        c.holder_reply()
        c.send("SEMLOCK.RELEASE", "n:raw3", "o3")
        self.assertEqual(c.read_exact(4), b":1\r\n")
        self.assertTrue(c.quiet_for(0.3))
        c.close()

    def test_a_resp3_waiter_gets_the_push_for_its_grant(self):
        self.acquire("n:wait", "first", 30000)
        c = Raw(self.port)
        c.send("HELLO", "3")
        time.sleep(0.1)
        c.quiet_for(0.1)
        c.buf = b""
        c.send("SEMLOCK.ACQUIRE", "n:wait", "30000", "OWNER", "w", "WAIT", "5000", "NOTIFY")
        time.sleep(0.1)
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "n:wait", "first"), 1)
        fence = c.holder_reply()
        self.r.execute_command("SEMLOCK.FORCERELEASE", "n:wait")
        want = push("n:wait", "w", fence, "forced")
        self.assertEqual(c.read_exact(len(want), timeout=20), want)
        c.close()

    def test_a_connection_back_on_resp2_and_other_resp3_connections_get_no_push(self):
        c = Raw(self.port)
        c.send("HELLO", "3")
        time.sleep(0.1)
        c.quiet_for(0.1)
        c.buf = b""
        other = Raw(self.port)  # RESP3 too, but it did not acquire
        other.send("HELLO", "3")
        time.sleep(0.1)
        other.quiet_for(0.1)
        c.send("SEMLOCK.ACQUIRE", "n:back", "30000", "OWNER", "b", "NOTIFY")
        c.holder_reply()
        c.send("HELLO", "2")
        time.sleep(0.1)
        c.quiet_for(0.1)
        c.buf = b""
        self.r.execute_command("SEMLOCK.FORCERELEASE", "n:back")
        self.assertTrue(c.quiet_for(0.3))
        self.assertTrue(other.quiet_for(0.1))
        c.send("PING")
        self.assertEqual(c.read_exact(7), b"+PONG\r\n")
        c.close()
        other.close()

    # --- RESP2: pub/sub -------------------------------------------------------------------------

    def test_redis_cli_resp2_subscribe_gets_the_notice(self):
        sub = subprocess.Popen(["redis-cli", "-p", str(self.port), "SUBSCRIBE",
                                "__semlock__:lost:n:sub"], stdout=subprocess.PIPE, text=True)
        try:
            first = [sub.stdout.readline().strip() for _ in range(3)]
            self.assertEqual(first, ["subscribe", "__semlock__:lost:n:sub", "1"])
            fence = self.acquire("n:sub", "bob", 100, "NOTIFY")
            msg = [sub.stdout.readline().strip() for _ in range(3)]
            self.assertEqual(msg, ["message", "__semlock__:lost:n:sub",
                                   "semlock-lost n:sub bob %d expired" % fence])
        finally:
            sub.kill()
            sub.wait()

    def test_redis_py_resp2_subscriber_and_plain_holders(self):
        p = self.r.pubsub()
        p.subscribe("__semlock__:lost:n:py")
        self.assertEqual(p.get_message(timeout=20)["type"], "subscribe")
        self.acquire("n:py", "plain", 50)  # no NOTIFY: nothing is published
        time.sleep(0.2)
        self.assertIsNone(p.get_message(timeout=0.2))
        fence = self.acquire("n:py", "marked", 30000, "NOTIFY")
        self.assertEqual(self.r.execute_command("DEL", "n:py"), 1)  # DEL is a force release
        m = p.get_message(timeout=20)
        self.assertEqual(m["data"], b"semlock-lost n:py marked %d forced" % fence)
        # Its owner's release says nothing.
        self.acquire("n:py", "marked", 30000, "NOTIFY")
        self.assertEqual(self.r.execute_command("SEMLOCK.RELEASE", "n:py", "marked"), 1)
        self.assertIsNone(p.get_message(timeout=0.3))
        p.close()

    def test_nothing_leaks_into_a_resp2_reply_stream(self):
        c = Raw(self.port)
        c.send("SEMLOCK.ACQUIRE", "n:leak", "50", "OWNER", "x", "NOTIFY")
        c.holder_reply()
        self.assertEqual(c.assertion, [b"*2", b"$1", b"x"])
        self.assertTrue(c.quiet_for(0.4))  # expired meanwhile: not a byte arrives
        c.send("PING")
        self.assertEqual(c.read_exact(7), b"+PONG\r\n")
        # A force release of its NOTIFY holder: still nothing on RESP2.
        c.send("SEMLOCK.ACQUIRE", "n:leak2", "30000", "OWNER", "y", "NOTIFY")
        c.holder_reply()
        self.r.execute_command("SEMLOCK.FORCERELEASE", "n:leak2")
        self.assertTrue(c.quiet_for(0.3))
        c.close()

    # --- JSON ------------------------------------------------------------------------------------

    def test_json_watch_stream(self):
        w = Raw(self.port)
        w.send_line({"action": "watch", "keys": ["n:j1", "n:j2"], "id": 7})
        self.assertEqual(w.line(), {"success": True, "data": {"watching": ["n:j1", "n:j2"]},
                                    "id": 7})
        a = Raw(self.port)
        a.send_line({"action": "acquire", "key": "n:j1", "ttl_ms": 100, "owner": "jo",
                     "notify": True})
        got = a.line()
        self.assertTrue(got["success"])
        fence = got["data"]["fence"]
        self.assertEqual(w.line(), {"event": "semlock-lost", "key": "n:j1", "owner": "jo",
                                    "fence": fence, "reason": "expired"})
        # The acquiring JSON connection got nothing unasked.
        self.assertTrue(a.quiet_for(0.2))
        a.send_line({"action": "ping"})
        self.assertEqual(a.line()["data"], {"pong": True})
        # A plain holder of a watched key, and a NOTIFY holder of an unwatched key: no line.
        a.send_line({"action": "acquire", "key": "n:j2", "ttl_ms": 50, "owner": "p"})
        a.line()
        a.send_line({"action": "acquire", "key": "n:other", "ttl_ms": 50, "owner": "p",
                     "notify": True})
        a.line()
        self.assertTrue(w.quiet_for(0.3))
        # Other requests on a watch connection: an error line; ping still answers.
        w.send_line({"action": "acquire", "key": "n:j3", "ttl_ms": 100, "id": 8})
        err = w.line()
        self.assertEqual(err["success"], False)
        self.assertEqual(err["code"], "BADREQUEST")
        self.assertIn("watch", err["error"])
        self.assertEqual(err["id"], 8)
        w.send_line({"action": "ping"})
        self.assertEqual(w.line()["data"], {"pong": True})
        # Watching more keys: the ack lists them all. A force release on j2 reaches it.
        w.send_line({"action": "watch", "keys": ["n:j2", "n:j3"]})
        self.assertEqual(w.line()["data"]["watching"], ["n:j1", "n:j2", "n:j3"])
        fence3 = self.acquire("n:j3", "resp", 30000, "NOTIFY")
        self.r.execute_command("SEMLOCK.FORCERELEASE", "n:j3")
        self.assertEqual(w.line(), {"event": "semlock-lost", "key": "n:j3", "owner": "resp",
                                    "fence": fence3, "reason": "forced"})
        # Bad watch requests.
        b = Raw(self.port)
        b.send_line({"action": "watch"})
        self.assertEqual(b.line()["error"], "keys: required")
        b.send_line({"action": "watch", "keys": "n:x"})
        self.assertEqual(b.line()["error"], "keys: must be an array of strings")
        b.send_line({"action": "acquire", "key": "n:b", "ttl_ms": 100, "notify": 1})
        self.assertEqual(b.line()["error"], "notify: must be a boolean")
        for s in (w, a, b):
            s.close()

    def test_http_cannot_watch(self):
        body = json.dumps({"action": "watch", "keys": ["n:h"]})
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                   % (len(body), body)).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)
        self.assertIn(b"watch: not supported over HTTP", data)

    def test_info_shows_the_marks(self):
        fence = self.acquire("n:info", "i", 30000, "NOTIFY")
        info = self.r.execute_command("SEMLOCK.INFO", "n:info")
        self.assertEqual(info[-2:], [b"notify", [fence]])
        self.assertIn("notify_holders:", self.r.info("semlock").__repr__() + "notify_holders:")
        self.r.execute_command("SEMLOCK.RELEASE", "n:info", "i")


class BoundTest(unittest.TestCase):
    def test_a_watch_stream_that_never_reads_is_closed_while_others_are_served(self):
        with Server(env={"TTLSEMLOCK_SERVER_MAX_CLIENT_MEMORY_MB": "2"}) as server:
            r = redis.Redis(port=server.port)
            keys = ["n:bound:%04d:%s" % (i, "k" * 400) for i in range(1000)]
            w = Raw(server.port, rcvbuf=4096)
            for i in range(0, len(keys), 500):
                w.send_line({"action": "watch", "keys": keys[i:i + 500]})
            time.sleep(0.3)  # the acks sit unread in the socket
            owner = "o" * 128
            served = []
            for _ in range(6):  # 6000 notices of ~700 bytes: several MB for a reader of none
                pipe = r.pipeline(transaction=False)
                for k in keys:
                    pipe.execute_command("SEMLOCK.ACQUIRE", k, 30000, "OWNER", owner, "NOTIFY")
                pipe.execute()
                t0 = time.time()
                self.assertEqual(r.execute_command("SEMLOCK.FORCERELEASE", keys[0]), 1)
                pipe = r.pipeline(transaction=False)
                for k in keys[1:]:
                    pipe.execute_command("SEMLOCK.FORCERELEASE", k)
                pipe.execute()
                self.assertEqual(r.ping(), True)
                served.append(time.time() - t0)
            # The other client was answered throughout: a server blocked on the watcher that
            # never reads would never answer. (Not a latency bound: each round takes well under a
            # second on an idle machine, and a loaded CI box with ASan may be many times slower.)
            self.assertLess(max(served), 60.0, served)
            # The watcher was closed: reading finds the end of the stream (after what was sent).
            w.s.settimeout(5)
            closed = False
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    chunk = w.s.recv(1 << 20)
                except (ConnectionResetError, socket.timeout):
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
            self.assertTrue(closed)
            info = r.info("clients")
            self.assertEqual(info["connected_clients"], 1)
            w.close()


class RestartTest(unittest.TestCase):
    def test_marks_survive_a_restart_and_lost_holders_get_a_restart_notice(self):
        d = tempfile.mkdtemp()
        try:
            args = ("--persistence-dir", d, "--fsync", "always")
            env = {"TTLSEMLOCK_PERSISTENCE_ENABLED": "true"}
            with Server(*args, env=env) as s1:
                r = redis.Redis(port=s1.port)
                kept = r.execute_command("SEMLOCK.ACQUIRE", "n:kept", 60000, "OWNER", "k",
                                         "NOTIFY")[1]
                gone = r.execute_command("SEMLOCK.ACQUIRE", "n:gone", 300, "OWNER", "g",
                                         "NOTIFY")[1]
                s1.proc.kill()  # no clean shutdown
                s1.proc.wait()
            time.sleep(0.5)  # n:gone's TTL runs out while the server is down
            with Server(*args, env=env) as s2:
                r = redis.Redis(port=s2.port)
                info = r.execute_command("SEMLOCK.INFO", "n:kept")
                self.assertEqual(info[-2:], [b"notify", [kept]])
                # A late watcher of the lost key gets its restart notice after the ack.
                w = Raw(s2.port)
                w.send_line({"action": "watch", "keys": ["n:gone", "n:kept"]})
                self.assertEqual(w.line()["data"]["watching"], ["n:gone", "n:kept"])
                self.assertEqual(w.line(), {"event": "semlock-lost", "key": "n:gone",
                                            "owner": "g", "fence": gone, "reason": "restart"})
                # A late subscriber too.
                p = r.pubsub()
                p.subscribe("__semlock__:lost:n:gone")
                self.assertEqual(p.get_message(timeout=20)["type"], "subscribe")
                m = p.get_message(timeout=20)
                self.assertEqual(m["data"], b"semlock-lost n:gone g %d restart" % gone)
                # The restored holder's mark still works: forced, to the watcher.
                r.execute_command("SEMLOCK.FORCERELEASE", "n:kept")
                self.assertEqual(w.line(), {"event": "semlock-lost", "key": "n:kept",
                                            "owner": "k", "fence": kept, "reason": "forced"})
                w.close()
                p.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
