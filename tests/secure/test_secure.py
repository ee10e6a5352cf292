"""Secure by default (SPEC §7, §8), against the real binary: protected mode on every protocol of
the lock port, the start-up log, keys from a file, auth failures logged with the client address,
orchestrator environment variables that only warn, --host names and --check-config.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from secure_server import Certs, Server, exchange, outside_address  # noqa: E402

DENIED_PREFIX = "DENIED TtlSemLock is running in protected mode"
OUTSIDE = outside_address()


@unittest.skipIf(OUTSIDE is None, "no non-loopback IPv4 address on this machine")
class ProtectedMode(unittest.TestCase):
    def test_outside_client_is_refused_on_every_protocol_and_loopback_is_served(self):
        with Server(host="0.0.0.0") as srv:
            self.assertTrue(srv.wait_log("Protected mode: no API key is configured"), srv.log())
            resp = exchange(OUTSIDE, srv.port, b"*1\r\n$4\r\nPING\r\n").decode()
            self.assertTrue(resp.startswith("-" + DENIED_PREFIX), resp)
            self.assertIn("security.api_keys", resp)
            self.assertTrue(resp.endswith("\r\n"))
            line = exchange(OUTSIDE, srv.port, b'{"action":"ping"}\n').decode()
            reply = json.loads(line)
            self.assertEqual(reply["code"], "DENIED")
            self.assertFalse(reply["success"])
            http = exchange(OUTSIDE, srv.port,
                            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"
                            b'{"action":"ping"}').decode()
            self.assertTrue(http.startswith("HTTP/1.1 403 "), http)
            self.assertIn('"code":"DENIED"', http)
            # redis-py from outside: the refusal surfaces as an error, nothing was executed.
            with self.assertRaises(redis.exceptions.ResponseError) as ctx:
                redis.Redis(host=OUTSIDE, port=srv.port).execute_command("SEMLOCK.ACQUIRE", "k", 5000)
            self.assertIn("protected mode", str(ctx.exception))
            # Loopback is served as before.
            r = redis.Redis(host="127.0.0.1", port=srv.port)
            self.assertTrue(r.ping())
            self.assertIsNotNone(r.execute_command("SEMLOCK.ACQUIRE", "k", 5000))
            self.assertTrue(srv.wait_log("Refused a client in protected mode client=" + OUTSIDE))

    def test_keys_lift_it_and_outside_clients_authenticate(self):
        with Server(host="0.0.0.0", env={"TTLSEMLOCK_API_KEYS": "s3cret"}) as srv:
            self.assertTrue(srv.wait_log("Authentication required"), srv.log())
            self.assertNotIn("Protected mode:", srv.log())
            r = redis.Redis(host=OUTSIDE, port=srv.port, password="s3cret")
            self.assertTrue(r.ping())
            with self.assertRaisesRegex(redis.exceptions.RedisError, "WRONGPASS"):
                redis.Redis(host=OUTSIDE, port=srv.port, password="wrong").ping()
            self.assertTrue(srv.wait_log("Authentication failed client=" + OUTSIDE))
            self.assertNotIn("wrong", srv.log())

    def test_keys_file(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("# ops, rotated monthly\nfrom-file\n")
        try:
            with Server(host="0.0.0.0", env={"TTLSEMLOCK_API_KEYS_FILE": f.name}) as srv:
                self.assertTrue(redis.Redis(host=OUTSIDE, port=srv.port, password="from-file").ping())
        finally:
            os.unlink(f.name)

    def test_off_serves_everyone_and_warns(self):
        with Server("--config", self._config({"security": {"protected_mode": False}}),
                    host="0.0.0.0") as srv:
            self.assertTrue(srv.wait_log("Protected mode is off"), srv.log())
            self.assertTrue(redis.Redis(host=OUTSIDE, port=srv.port).ping())

    def test_loopback_bind_is_not_protected(self):
        with Server(host="127.0.0.1") as srv:
            self.assertNotIn("Protected mode:", srv.log())
            self.assertTrue(redis.Redis(host="127.0.0.1", port=srv.port).ping())

    def _config(self, obj):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(obj, f)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name


class Deployment(unittest.TestCase):
    def test_kubernetes_variables_warn_and_the_server_starts(self):
        env = {"TTLSEMLOCK_SERVICE_HOST": "10.0.0.7", "TTLSEMLOCK_SERVICE_PORT": "8765",
               "TTLSEMLOCK_SERVER_PORT": "tcp://10.0.0.7:8765"}
        with Server(env=env) as srv:
            self.assertTrue(redis.Redis(port=srv.port).ping())
            log = srv.log()
            self.assertIn("TTLSEMLOCK_SERVICE_HOST: unknown variable; ignored", log)
            self.assertIn("TTLSEMLOCK_SERVER_PORT: a Kubernetes service link", log)

    def test_host_accepts_names(self):
        with Server(host="localhost") as srv:
            self.assertTrue(redis.Redis(host="127.0.0.1", port=srv.port).ping())

    def check(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("TTLSEMLOCK_")}
        e.update(env or {})
        return subprocess.run([os.environ["SEMLOCK_BIN"], "--check-config", *args],
                              capture_output=True, text=True, env=e)

    def test_check_config_catches_what_start_up_rejects(self):
        ok = self.check("--host", "localhost")
        self.assertEqual((ok.returncode, ok.stdout), (0, "configuration OK\n"))
        bad = self.check("--host", "no-such-host.invalid")
        self.assertEqual(bad.returncode, 2)
        self.assertTrue(bad.stderr.startswith("server.host: cannot resolve host"), bad.stderr)
        certs = Certs()
        tls_env = {"TTLSEMLOCK_TLS_ENABLED": "true"}
        good = self.check("--tls-cert-file", certs.server_cert, "--tls-key-file", certs.server_key,
                          env=tls_env)
        self.assertEqual(good.returncode, 0, good.stderr)
        mismatch = self.check("--tls-cert-file", certs.server_cert, "--tls-key-file",
                              certs.client_key, env=tls_env)
        self.assertEqual(mismatch.returncode, 2)
        self.assertIn("key values mismatch", mismatch.stderr)
        missing = self.check("--tls-cert-file", "/nonexistent.pem", "--tls-key-file",
                             certs.server_key, env=tls_env)
        self.assertEqual(missing.returncode, 2)
        self.assertTrue(missing.stderr.startswith('tls.cert_file "/nonexistent.pem"'), missing.stderr)
        nokeys = self.check(env={"TTLSEMLOCK_API_KEYS_FILE": "/nonexistent/keys"})
        self.assertEqual(nokeys.returncode, 2)
        self.assertIn("security.api_keys_file: cannot read", nokeys.stderr)
        # Orchestrator variables do not fail a check either.
        self.assertEqual(self.check(env={"TTLSEMLOCK_SERVICE_PORT": "1"}).returncode, 0)


if __name__ == "__main__":
    unittest.main()
