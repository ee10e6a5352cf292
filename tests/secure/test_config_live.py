"""Changing the configuration at run time (issue 15), with redis-py against the real binary:
CONFIG GET (our key paths in config syntax, Redis's names as read-only aliases in Redis's units),
CONFIG SET (admin key when admin keys exist), CONFIG REWRITE (what it writes, what it never
writes, when it refuses), SIGHUP reloading the file and rotating keys, and a limit lowered under
load that drops no held lock.
"""
import json
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from secure_server import Server  # noqa: E402


def write_config(obj, comment="// operators' note\n"):
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    f.write(comment + json.dumps(obj, indent=2) + "\n")
    f.close()
    return f.name


class ConfigLive(unittest.TestCase):
    def setUp(self):
        self.path = write_config({"limits": {"max_locks": 100}})
        self.addCleanup(lambda: os.path.exists(self.path) and os.unlink(self.path))

    def test_get_paths_and_redis_aliases(self):
        with Server("--config", self.path) as srv:
            r = redis.Redis(port=srv.port, decode_responses=True)
            self.assertEqual(r.config_get("limits.max_locks"), {"limits.max_locks": "100"})
            self.assertEqual(r.config_get("limits.max_ttl"), {"limits.max_ttl": "24h"})
            got = r.config_get("maxmemory")
            self.assertEqual(got, {"maxmemory": str(512 * 1024 * 1024)})
            self.assertEqual(r.config_get("timeout"), {"timeout": "0"})
            self.assertEqual(r.config_get("maxmemory-policy"), {"maxmemory-policy": "noeviction"})
            keys = r.config_get("security.*")
            self.assertEqual(keys["security.api_keys"], "[0 keys]")  # never a key itself
            self.assertEqual(r.config_get("no-such-*"), {})

    def test_set_changes_live_and_refuses_what_it_cannot(self):
        with Server("--config", self.path) as srv:
            r = redis.Redis(port=srv.port, decode_responses=True)
            self.assertTrue(r.config_set("limits.max_ttl", "90s"))
            self.assertIn(r.config_get("limits.max_ttl")["limits.max_ttl"], ("90s", "1m30s"))
            with self.assertRaisesRegex(redis.ResponseError, "^OVERLIMIT|TTL|ttl"):
                r.execute_command("SEMLOCK.ACQUIRE", "k", 120000)
            self.assertTrue(r.config_set("server.idle_timeout", "5m"))
            self.assertEqual(r.config_get("timeout"), {"timeout": "300"})
            with self.assertRaisesRegex(redis.ResponseError,
                                        "argument 'maxmemory'.*read-only alias"):
                r.config_set("maxmemory", "100")
            with self.assertRaisesRegex(redis.ResponseError, "argument 'server.port'.*restart"):
                r.config_set("server.port", "1")
            with self.assertRaisesRegex(redis.ResponseError, "security.api_keys'.*SIGHUP"):
                r.config_set("security.api_keys", "x")
            with self.assertRaisesRegex(redis.ResponseError,
                                        "^Unknown option or number of arguments for CONFIG SET "
                                        "- 'limits.nope'$"):
                r.config_set("limits.nope", "1")
            with self.assertRaisesRegex(redis.ResponseError,
                                        "argument 'limits.warn_threshold'.*must be in \\(0, 1\\]"):
                r.config_set("limits.warn_threshold", "1.5")
            self.assertEqual(r.config_get("limits.warn_threshold"),
                             {"limits.warn_threshold": "0.8"})
            self.assertTrue(r.config_set("logging.level", "debug"))

    def test_set_needs_an_admin_key_when_admin_keys_exist(self):
        with Server(env={"TTLSEMLOCK_API_KEYS": "user", "TTLSEMLOCK_ADMIN_API_KEYS": "admin"}) as srv:
            user = redis.Redis(port=srv.port, password="user", decode_responses=True)
            self.assertEqual(user.config_get("limits.max_locks"), {"limits.max_locks": "100000"})
            with self.assertRaisesRegex(redis.exceptions.NoPermissionError, "admin API key"):
                user.config_set("limits.max_locks", "5")
            admin = redis.Redis(port=srv.port, password="admin", decode_responses=True)
            self.assertTrue(admin.config_set("limits.max_locks", "5"))

    def test_rewrite(self):
        keys = write_config({}, comment="")
        with open(keys, "w") as f:
            f.write("env-or-file-key\n")
        self.addCleanup(os.unlink, keys)
        with Server("--config", self.path, env={"TTLSEMLOCK_API_KEYS_FILE": keys,
                                                "TTLSEMLOCK_API_KEYS": "from-env"}) as srv:
            r = redis.Redis(port=srv.port, password="from-env", decode_responses=True)
            r.config_set("limits.max_locks", "42")
            r.config_set("limits.max_ttl", "2h")
            self.assertTrue(r.config_rewrite())
            text = open(self.path).read()
            self.assertTrue(text.startswith("// Written by CONFIG REWRITE at "), text)
            self.assertIn("Comments of the previous file are not kept.", text)
            self.assertNotIn("operators' note", text)
            body = json.loads(text.split("\n", 1)[1])
            self.assertEqual(body["limits"], {"max_locks": 42, "max_ttl": "2h"})
            self.assertNotIn("from-env", text)
            self.assertNotIn("env-or-file-key", text)
            self.assertNotIn("security", body)
            # A read-only file is not written.
            os.chmod(self.path, stat.S_IRUSR)
            r.config_set("limits.max_locks", "43")
            if os.geteuid() != 0:
                with self.assertRaisesRegex(redis.ResponseError, "^no writable config file$"):
                    r.config_rewrite()

    def test_rewrite_without_a_file(self):
        with Server() as srv:
            r = redis.Redis(port=srv.port)
            with self.assertRaisesRegex(redis.ResponseError, "^no writable config file$"):
                r.config_rewrite()

    def test_sighup_reloads_the_file_and_rotates_keys(self):
        path = write_config({"security": {"api_keys": ["old"]}, "limits": {"max_locks": 100}})
        self.addCleanup(os.unlink, path)
        with Server("--config", path) as srv:
            old = redis.Redis(port=srv.port, password="old", decode_responses=True)
            old.config_set("limits.max_waiters", "7")  # unsaved: replaced by the reload
            with open(path, "w") as f:
                json.dump({"security": {"api_keys": ["new"]}, "limits": {"max_locks": 50},
                           "server": {"max_request_bytes": 4096}}, f)
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log("Configuration reloaded (SIGHUP)"))
            self.assertTrue(srv.wait_log("needs a restart to apply key=server.max_request_bytes"))
            new = redis.Redis(port=srv.port, password="new", decode_responses=True)
            self.assertEqual(new.config_get("limits.max_locks"), {"limits.max_locks": "50"})
            self.assertEqual(new.config_get("limits.max_waiters"), {"limits.max_waiters": "100000"})
            with self.assertRaisesRegex(redis.RedisError, "WRONGPASS"):
                redis.Redis(port=srv.port, password="old").ping()
            # A bad file keeps the running configuration.
            with open(path, "w") as f:
                f.write('{"limits":{"max_locks":"many"}}')
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log("Configuration not reloaded (SIGHUP)"))
            self.assertEqual(new.config_get("limits.max_locks"), {"limits.max_locks": "50"})

    def test_lowering_a_limit_under_load_drops_no_held_lock(self):
        with Server("--config", self.path) as srv:
            admin = redis.Redis(port=srv.port, decode_responses=True)
            held = {}
            for i in range(80):
                held["held-%d" % i] = admin.execute_command("SEMLOCK.ACQUIRE", "held-%d" % i,
                                                            60000)[0]
            stop = threading.Event()
            errors = []
            counts = {"granted": 0, "refused": 0}

            def churn(n):
                c = redis.Redis(port=srv.port, decode_responses=True)
                while not stop.is_set():
                    key = "churn-%d" % n
                    try:
                        owner = c.execute_command("SEMLOCK.ACQUIRE", key, 5000)[0]
                        counts["granted"] += 1
                        if c.execute_command("SEMLOCK.RELEASE", key, owner) != 1:
                            errors.append("lost " + key)
                    except redis.ResponseError as e:
                        if not str(e).startswith("OVERLIMIT maximum locks limit reached"):
                            errors.append(str(e))
                        counts["refused"] += 1
            workers = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
            for w in workers:
                w.start()
            time.sleep(0.3)
            self.assertTrue(admin.config_set("limits.max_locks", "10"))
            # Churn on for 0.5 s and until a refusal was seen (a loaded machine may not have
            # scheduled a worker's acquire in a fixed 0.5 s).
            deadline = time.time() + 30
            time.sleep(0.5)
            while counts["refused"] == 0 and not errors and time.time() < deadline:
                time.sleep(0.05)
            stop.set()
            for w in workers:
                w.join()
            self.assertEqual(errors, [])
            self.assertGreater(counts["refused"], 0)
            # Every lock held before the change is still held by its owner.
            for key, owner in held.items():
                self.assertEqual(admin.execute_command("SEMLOCK.EXTEND", key, owner, 60000), 1,
                                 key)
            with self.assertRaisesRegex(redis.ResponseError, "OVERLIMIT maximum locks limit reached"):
                admin.execute_command("SEMLOCK.ACQUIRE", "one-more", 1000)
            for key, owner in held.items():
                self.assertEqual(admin.execute_command("SEMLOCK.RELEASE", key, owner), 1)
            self.assertIsNotNone(admin.execute_command("SEMLOCK.ACQUIRE", "one-more", 1000))


if __name__ == "__main__":
    unittest.main()
