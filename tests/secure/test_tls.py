"""TLS (SPEC §8) with real clients against the real binary: redis-cli --tls, redis-py ssl=True,
curl https, JSON lines over TLS, mutual TLS, the metrics port over TLS, the plain port turned
off, and certificates reloaded on SIGHUP without dropping a connection.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(__file__))
from secure_server import Certs, Server, outside_address  # noqa: E402

CERTS = Certs()
OUTSIDE = outside_address()


def tls_client(port, cert=None, key=None):
    return redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=CERTS.ca,
                       ssl_certfile=cert, ssl_keyfile=key, socket_timeout=5)


def peer_serial(port):
    ctx = ssl.create_default_context(cafile=CERTS.ca)
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return ssl.DER_cert_to_PEM_cert(s.getpeercert(True))


class Tls(unittest.TestCase):
    def test_redis_cli(self):
        with Server(tls=CERTS) as srv:
            base = ["redis-cli", "--tls", "--cacert", CERTS.ca, "-h", "localhost",
                    "-p", str(srv.tls_port)]
            out = subprocess.run(base + ["SEMLOCK.ACQUIRE", "job", "30000"], capture_output=True,
                                 text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            owner = out.stdout.split()[0]  # owner, then fence
            self.assertEqual(len(owner), 32)
            out = subprocess.run(base + ["SEMLOCK.RELEASE", "job", owner], capture_output=True,
                                 text=True, timeout=10)
            self.assertEqual(out.stdout.strip(), "1")
            # The plain port keeps working next to it.
            self.assertTrue(redis.Redis(port=srv.port).ping())

    def test_redis_py(self):
        with Server(tls=CERTS) as srv:
            r = tls_client(srv.tls_port)
            owner = r.execute_command("SEMLOCK.ACQUIRE", "k", 30000)[0]
            self.assertEqual(len(owner), 32)
            # A pipeline whose replies span several TLS records.
            p = r.pipeline(transaction=False)
            for i in range(2000):
                p.execute_command("SEMLOCK.ACQUIRE", "key-%d" % i, 30000, "OWNER", "o" * 40)
            replies = p.execute()
            self.assertEqual(len(replies), 2000)
            self.assertTrue(all(x[0] == b"o" * 40 for x in replies))
            self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "k", owner), 1)
            # A plain client on the TLS port fails the handshake, the server carries on.
            with self.assertRaises(redis.exceptions.ConnectionError):
                redis.Redis(port=srv.tls_port, socket_timeout=2).ping()
            self.assertTrue(r.ping())

    def test_curl_https_and_json_lines(self):
        with Server(tls=CERTS) as srv:
            out = subprocess.run(["curl", "-sS", "--cacert", CERTS.ca, "-X", "POST",
                                  "https://localhost:%d/" % srv.tls_port, "-d",
                                  '{"action":"acquire","key":"web","ttl":30}'],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(json.loads(out.stdout)["success"])
            ctx = ssl.create_default_context(cafile=CERTS.ca)
            with socket.create_connection(("127.0.0.1", srv.tls_port)) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b'{"action":"ping"}\n{"action":"acquire","key":"web","ttl":30}\n')
                    f = s.makefile("rb")
                    self.assertTrue(json.loads(f.readline())["success"])
                    self.assertFalse(json.loads(f.readline())["success"])  # held over HTTP

    def test_mutual_tls(self):
        with Server("--config", self._mtls_config(), host="0.0.0.0", tls=CERTS) as srv:
            self.assertTrue(tls_client(srv.tls_port, CERTS.client_cert, CERTS.client_key).ping())
            with self.assertRaises(redis.exceptions.ConnectionError):
                tls_client(srv.tls_port).ping()
            self.assertTrue(srv.wait_log("TLS handshake failed"))
            if OUTSIDE is not None:
                # Certificates are the authentication on the TLS port: no protected mode there,
                # while the keyless plain port still refuses outsiders.
                r = redis.Redis(host=OUTSIDE, port=srv.tls_port, ssl=True, ssl_ca_certs=CERTS.ca,
                                ssl_certfile=CERTS.client_cert, ssl_keyfile=CERTS.client_key,
                                ssl_check_hostname=False)
                self.assertTrue(r.ping())
                with self.assertRaisesRegex(redis.exceptions.ResponseError, "protected mode"):
                    redis.Redis(host=OUTSIDE, port=srv.port).ping()

    def test_plain_port_off_and_metrics_over_tls(self):
        with Server("--config", self._config({"metrics": {"tls": True}}), tls=CERTS,
                    plain=False) as srv:
            self.assertTrue(srv.wait_log("lock=off"), srv.log())
            self.assertTrue(tls_client(srv.tls_port).ping())
            out = subprocess.run(["curl", "-sS", "--cacert", CERTS.ca,
                                  "https://localhost:%d/health" % srv.metrics_port],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            out = subprocess.run(["curl", "-sS", "--cacert", CERTS.ca,
                                  "https://localhost:%d/metrics" % srv.metrics_port],
                                 capture_output=True, text=True, timeout=10)
            self.assertIn("ttl_semlock_connections", out.stdout)

    def test_sighup_reloads_certificates_without_dropping_connections(self):
        live_cert = CERTS.path("live.pem")
        live_key = CERTS.path("live.key")
        shutil.copy(CERTS.server_cert, live_cert)
        shutil.copy(CERTS.server_key, live_key)
        with Server("--tls-cert-file", live_cert, "--tls-key-file", live_key, tls=CERTS) as srv:
            r = tls_client(srv.tls_port)
            owner = r.execute_command("SEMLOCK.ACQUIRE", "held", 60000)[0]
            before = peer_serial(srv.tls_port)
            cert, key = CERTS.issue("rotated", "localhost", "subjectAltName=DNS:localhost")
            shutil.copy(cert, live_cert)
            shutil.copy(key, live_key)
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log("TLS certificates reloaded"))
            self.assertNotEqual(peer_serial(srv.tls_port), before)
            # The connection opened before the reload is still the same one, lock and all.
            self.assertEqual(r.execute_command("SEMLOCK.RELEASE", "held", owner), 1)
            # A broken file keeps the old certificates in use.
            with open(live_key, "w") as f:
                f.write("not a key\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.wait_log("TLS certificates not reloaded"))
            self.assertTrue(tls_client(srv.tls_port).ping())

    def _config(self, obj):
        path = CERTS.path("cfg-%d.json" % id(obj))
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def _mtls_config(self):
        return self._config({"tls": {"client_auth": "required", "ca_file": CERTS.ca}})


if __name__ == "__main__":
    unittest.main()
