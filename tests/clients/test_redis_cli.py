"""redis-cli (Debian's 7.0.15) against the real server: SEMLOCK.* as arguments, from stdin and as
raw inline commands; --no-raw output; COMMAND DOCS hints in the interactive prompt."""
import fcntl
import os
import pty
import select
import socket
import struct
import subprocess
import termios
import time
import unittest

from semlock_server import Server


class RedisCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.port = str(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def cli(self, *args, stdin=None, raw=False):
        mode = [] if raw else ["--no-raw"]
        r = subprocess.run(["redis-cli", "-p", self.port] + mode + list(args), input=stdin,
                           capture_output=True, text=True, timeout=20)
        return r.stdout

    def test_semlock_commands_as_arguments(self):
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:a", "30000", "OWNER", "me"),
                         '1) "me"\n2) (integer) ' + self.fence("cli:a") + "\n")
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:a", "30000"), "(nil)\n")
        self.assertEqual(self.cli("SEMLOCK.EXISTS", "cli:a"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.EXTEND", "cli:a", "me", "60000"), "(integer) 1\n")
        info = self.cli("SEMLOCK.INFO", "cli:a").splitlines()
        # Fourteen elements: redis-cli right-aligns the indexes.
        self.assertEqual(info[0:4], [' 1) "limit"', " 2) (integer) 1", ' 3) "holders"', ' 4) 1) 1) "me"'])
        self.assertEqual(info[-10:-6], [' 5) "waiters"', " 6) (integer) 0", ' 7) "waiter_ages"', " 8) (empty array)"])
        self.assertEqual(info[-6:-2], [' 9) "mode"', '10) "exclusive"', '11) "holds"', '12) 1) (integer) 1'])
        self.assertEqual(info[-2:], ['13) "notify"', "14) (empty array)"])
        self.assertEqual(self.cli("SEMLOCK.RELEASE", "cli:a", "me"), "(integer) 1\n")
        self.assertEqual(self.cli("SEMLOCK.INFO", "cli:a"), "(nil)\n")
        self.assertEqual(self.cli("semlock.acquire", "cli:a"),
                         "(error) ERR wrong number of arguments for 'semlock.acquire' command\n")
        self.assertEqual(self.cli("SEMLOCK.ACQUIRE", "cli:a", "0"), "(error) ERR invalid TTL\n")

    def fence(self, key):
        # The fence of the holder just granted: read back through SEMLOCK.INFO in raw mode.
        lines = self.cli("SEMLOCK.INFO", key, raw=True).splitlines()
        return lines[4]

    def test_redis_lock_idiom(self):
        self.assertEqual(self.cli("SET", "cli:set", "tok", "NX", "PX", "30000"), "OK\n")
        self.assertEqual(self.cli("SET", "cli:set", "tok2", "NX", "PX", "30000"), "(nil)\n")
        self.assertEqual(self.cli("GET", "cli:set"), '"tok"\n')
        ttl = int(self.cli("PTTL", "cli:set").split()[1])
        self.assertTrue(29000 < ttl <= 30000, ttl)
        self.assertEqual(self.cli("DELIFEQ", "cli:set", "tok"), "(integer) 1\n")
        self.assertEqual(self.cli("EXISTS", "cli:set"), "(integer) 0\n")
        self.assertEqual(self.cli("EVAL", "return {1, 'two', false}", "0"),
                         '1) (integer) 1\n2) "two"\n3) (nil)\n')
        # Coordination data (hashes, sorted sets, lists, counters) is served; other data types
        # (sets, streams, ...) answer that this is a lock server.
        self.assertEqual(self.cli("HSET", "h", "f", "v"), "(integer) 1\n")
        self.assertEqual(self.cli("SADD", "s", "m"),
                         "(error) ERR this is a lock server (ttl-semlock): 'SADD' is not a lock "
                         "command\n")

    def test_commands_from_stdin(self):
        out = self.cli(stdin="SEMLOCK.ACQUIRE cli:stdin 30000 OWNER w\nSEMLOCK.EXISTS cli:stdin\n"
                             "SEMLOCK.RELEASE cli:stdin w\nPING\n")
        lines = out.splitlines()
        self.assertEqual(lines[0], '1) "w"')
        self.assertTrue(lines[1].startswith("2) (integer) "))
        self.assertEqual(lines[2:], ["(integer) 1", "(integer) 1", "PONG"])

    def test_inline_commands_on_a_raw_socket(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b'SEMLOCK.ACQUIRE cli:inline 30000 OWNER "in line"\r\n'
                      b"SEMLOCK.EXISTS cli:inline\r\nSEMLOCK.RELEASE cli:inline 'in line'\r\n"
                      b"GET cli:inline\r\n")
            data = b""
            deadline = time.time() + 5
            while data.count(b"\r\n") < 7 and time.time() < deadline:
                data += s.recv(4096)
        self.assertTrue(data.startswith(b"*2\r\n$7\r\nin line\r\n:"), data)
        self.assertTrue(data.endswith(b"\r\n:1\r\n:1\r\n$-1\r\n"), data)

    def test_hints_come_from_command_docs(self):
        pid, fd = pty.fork()
        if pid == 0:
            # A window size, or linenoise asks the terminal for its cursor position (ESC [6n)
            # and takes typed keys up to an 'R' as the answer.
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
            os.execvp("redis-cli", ["redis-cli", "-p", self.port])

        def read(seconds):
            out = b""
            end = time.time() + seconds
            while time.time() < end:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return out

        try:
            # Type only once linenoise owns the terminal (the prompt is drawn), or keys are lost.
            seen = b""
            deadline = time.time() + 10
            while b"> " not in seen and time.time() < deadline:
                seen += read(0.2)
            read(0.5)
            os.write(fd, b"SEMLOCK.ACQUIRE k 100 ")
            echoed = read(1.0)
            self.assertIn(b"[OWNER owner] [LIMIT n] [WAIT ms]", echoed)
            os.write(fd, b"\x15SET ")  # Ctrl-U clears the line
            self.assertIn(b"key value [NX|XX] [GET] [EX seconds|PX milliseconds", read(1.0))
            os.write(fd, b"\x15quit\r")
            read(0.5)
        finally:
            os.close(fd)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    unittest.main()
