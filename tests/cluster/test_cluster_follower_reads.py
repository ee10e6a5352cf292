"""Linearizable reads on every member (label `cluster`): a follower sends reads to the leader.

A write acknowledged on one member is seen by a read sent afterwards to any other member, every
time: a follower's own applied state lags the leader by up to a heartbeat, so a follower that
answered reads itself would miss writes acknowledged just before (this test caught that):
- redis-py clients on all three members: SEMLOCK.ACQUIRE on one, then EXISTS, PTTL,
  SEMLOCK.INFO on another; SET on one, GET on another; RELEASE/DEL on one, EXISTS/GET on another;
- JSON lines: acquire on one member, exists and status on another (id echoed);
- the members run the sidecar named by TTLSEMLOCK_RAFT_BIN, without a warning about it;
- a member that knows no leader (both others frozen with SIGSTOP) answers reads
  `-CLUSTERDOWN The cluster is down` (JSON UNAVAILABLE, HTTP 503) within about
  cluster.request_timeout, and keeps the connection; once the others resume it answers them.

Usage: test_cluster_follower_reads.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, freeze  # noqa: E402

DOWN = "CLUSTERDOWN The cluster is down"
ROUNDS = 150


class JsonClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def call(self, req):
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def http_post(port, body):
    req = urllib.request.Request("http://127.0.0.1:%d/" % port, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    # The sidecar from TTLSEMLOCK_RAFT_BIN (docs/CLUSTER.md): a copy elsewhere, which the members
    # must run, and the variable is no "unknown variable" to the configuration.
    side_dir = tempfile.mkdtemp(prefix="semlock-raftbin-")
    side = os.path.join(side_dir, "ttl-semlock-raft")
    shutil.copy2(os.path.join(os.path.dirname(os.path.abspath(args.bin)), "ttl-semlock-raft"), side)
    os.environ["TTLSEMLOCK_RAFT_BIN"] = side
    with Cluster(args.bin, n=3, request_timeout="2s") as cl:
        leader = cl.wait_leader()
        for m in cl.members:
            with open("/proc/%d/cmdline" % m.sidecar_pids()[0], "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode()
            with open(m.log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
            check(argv0 == side and "TTLSEMLOCK_RAFT_BIN" not in log.replace(
                "set TTLSEMLOCK_RAFT_BIN", ""),
                  "member %d runs the sidecar at TTLSEMLOCK_RAFT_BIN, no warning about it" % m.id)
        ms = cl.members
        rc = {m.id: redis.Redis(host="127.0.0.1", port=m.port, decode_responses=True,
                                socket_timeout=10) for m in ms}
        misses = []
        follower_to_follower = 0
        for i in range(ROUNDS):
            w = ms[i % 3]
            r = ms[(i + 1 + (i // 3) % 2) % 3]  # every other member, followers included
            if w is not leader and r is not leader:
                follower_to_follower += 1
            key, owner = "fr%d" % i, "o%d" % i
            g = rc[w.id].execute_command("SEMLOCK.ACQUIRE", key, 60000, "OWNER", owner)
            if not (isinstance(g, list) and g[0] == owner):
                raise AssertionError("acquire on member %d: %r" % (w.id, g))
            seen = (rc[r.id].execute_command("EXISTS", key),
                    rc[r.id].execute_command("PTTL", key),
                    rc[r.id].execute_command("SEMLOCK.INFO", key))
            if not (seen[0] == 1 and 0 < seen[1] <= 60000 and seen[2] and
                    seen[2][3][0][0] == owner):
                misses.append(("acquire", i, w.id, r.id, seen))
            rc[w.id].set("d%d" % i, "v%d" % i)
            got = rc[r.id].get("d%d" % i)
            if got != "v%d" % i:
                misses.append(("set", i, w.id, r.id, got))
            if rc[w.id].execute_command("SEMLOCK.RELEASE", key, owner) != 1:
                raise AssertionError("release on member %d" % w.id)
            rc[w.id].delete("d%d" % i)
            after = (rc[r.id].execute_command("EXISTS", key), rc[r.id].get("d%d" % i))
            if after != (0, None):
                misses.append(("release", i, w.id, r.id, after))
        check(not misses, "%d write-then-read rounds across members (%d follower to follower): "
              "every read saw the write before it; misses %r" %
              (ROUNDS, follower_to_follower, misses[:5]))

        f1, f2 = [m for m in ms if m is not leader]
        j1, j2 = JsonClient(f1.port), JsonClient(f2.port)
        for i in range(30):
            key = "jr%d" % i
            a = j1.call({"action": "acquire", "key": key, "ttl_ms": 60000, "owner": "j", "id": i})
            if a.get("success") is not True:
                raise AssertionError("JSON acquire on follower %d: %r" % (f1.id, a))
            e = j2.call({"action": "exists", "key": key, "id": "e%d" % i})
            s = j2.call({"action": "status", "key": key, "id": [i]})
            if not (e.get("success") is True and e.get("id") == "e%d" % i and
                    s.get("success") is True and s.get("id") == [i]):
                raise AssertionError("JSON read on follower %d missed the acquire on %d: %r %r" %
                                     (f2.id, f1.id, e, s))
        print("ok: 30 JSON acquire-then-exists/status rounds between the followers")

        # A member that knows no leader: reads answer CLUSTERDOWN, the connection stays.
        f = f1
        others = [m for m in ms if m is not f]
        keep = redis.Redis(host="127.0.0.1", port=f.port, decode_responses=True,
                           socket_timeout=15)
        keep.ping()
        for m in others:
            freeze(m, signal.SIGSTOP)
        try:
            deadline = time.time() + 10
            while time.time() < deadline and f.info().get("leader_id") != "0":
                time.sleep(0.05)
            check(f.info().get("leader_id") == "0", "member %d knows no leader" % f.id)
            for cmd in (("EXISTS", "fr0"), ("SEMLOCK.INFO", "fr0"), ("GET", "d0")):
                t0 = time.time()
                try:
                    rep = keep.execute_command(*cmd)
                except redis.exceptions.ResponseError as e:
                    rep = str(e)
                took = time.time() - t0
                check(rep == DOWN and took < 2.0 + 1.5,
                      "%s on a member without a leader: CLUSTERDOWN (%.2f s)" % (cmd[0], took))
            check(keep.ping() is True, "the connection is still served")
            e = JsonClient(f.port).call({"action": "exists", "key": "fr0", "id": 9})
            check(e.get("code") == "UNAVAILABLE" and e.get("id") == 9,
                  "JSON exists without a leader: UNAVAILABLE (%r)" % e)
            status, body = http_post(f.port, {"action": "status", "key": "fr0"})
            check(status == 503 and body.get("code") == "UNAVAILABLE",
                  "HTTP status without a leader: 503 UNAVAILABLE")
        finally:
            for m in others:
                freeze(m, signal.SIGCONT)
        cl.wait_leader(timeout=20)
        deadline = time.time() + 10
        rep = None
        while time.time() < deadline:
            try:
                rep = keep.execute_command("EXISTS", "jr0")
            except redis.exceptions.ResponseError as e:
                rep = str(e)
            if rep == 1:
                break
            time.sleep(0.1)
        check(rep == 1, "with a leader again, member %d answers reads" % f.id)
    shutil.rmtree(side_dir, ignore_errors=True)
    print("cluster follower_reads: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
