"""Cluster forwarding end to end (label `cluster`): every protocol through a follower.

A follower sends writes to the leader and relays the reply in the client's protocol:
- redis-py (RESP2): SEMLOCK.ACQUIRE/EXTEND/RELEASE, SET NX PX / DEL, a MULTI/EXEC pipeline;
- RESP3 after HELLO 3 (raw socket): the acquire's reply as RESP3, pipelined with local commands,
  replies in request order;
- JSON lines (id echoed, pipelined with a local ping, in order) and HTTP (status codes);
- WAIT: a follower's blocked acquire is granted when the leader's holder releases;
- SESSION: the holder lives while the follower's client is connected, is released when it closes;
- a WAIT grant that arrives after its client left is released (not kept for its TTL);
- forwarded requests are counted in the follower's metrics; SEMLOCK.CLUSTER MEMBERS;
- with API keys: the follower checks the client's key (NOAUTH, NOPERM) and forwards with its own.

Usage: test_cluster_forwarding.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.request

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, RespError, check, wait_for  # noqa: E402


def recv_until(sock, pred, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    while not pred(buf):
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)
        r = redis.Redis(port=f.port, socket_timeout=10)
        lr = redis.Redis(port=leader.port, socket_timeout=10)

        # RESP2 through redis-py.
        rep = r.execute_command("SEMLOCK.ACQUIRE", "k1", 10000, "OWNER", "o1")
        check(rep[0] == b"o1" and isinstance(rep[1], int), "follower: acquire granted [owner, fence]")
        check(lr.execute_command("SEMLOCK.EXISTS", "k1") == 1, "the grant is on the leader")
        check(r.execute_command("SEMLOCK.ACQUIRE", "k1", 10000, "OWNER", "o2") is None,
              "follower: a held key answers null")
        check(r.execute_command("SEMLOCK.EXTEND", "k1", "o1", 20000) == 1, "follower: extend")
        check(r.execute_command("SEMLOCK.RELEASE", "k1", "o1") == 1, "follower: release")
        check(r.set("lk", "me", nx=True, px=10000) is True, "follower: SET NX PX")
        check(r.set("lk", "you", nx=True, px=10000) is None, "follower: SET NX on a held key")
        check(r.delete("lk") == 1, "follower: DEL")
        try:
            r.execute_command("SEMLOCK.ACQUIRE", "k1", "notanumber")
            check(False, "leader's error relayed")
        except redis.ResponseError as e:
            check(str(e) == "value is not an integer or out of range",
                  "follower relays the leader's error: %s" % e)
        p = r.pipeline(transaction=True)
        p.set("m1", "a", px=10000)
        p.execute_command("SEMLOCK.ACQUIRE", "m2", 10000, "OWNER", "x")
        p.execute_command("SEMLOCK.RELEASE", "m2", "x")
        res = p.execute()
        check(res[0] is True and res[1][0] == b"x" and res[2] == 1,
              "follower: MULTI/EXEC pipeline forwarded whole: %r" % (res,))
        check(lr.get("m1") == b"a", "the transaction ran on the leader")

        # RESP3 and pipelining order: local and forwarded commands mixed in one write.
        s = socket.create_connection(("127.0.0.1", f.port))
        s.sendall(b"HELLO 3\r\n")
        recv_until(s, lambda b: b"modules" in b and b.endswith(b"*0\r\n"))
        s.sendall(b"SEMLOCK.ACQUIRE p1 10000 OWNER q\r\nPING\r\nECHO mid\r\n"
                  b"SEMLOCK.ACQUIRE p1 10000 OWNER z\r\nSEMLOCK.RELEASE p1 q\r\nECHO end\r\n"
                  b"SEMLOCK.ACQUIRE p1 10000 OWNER z\r\n")
        buf = recv_until(s, lambda b: b.count(b"\r\n") >= 12)
        check(buf.startswith(b"*2\r\n$1\r\nq\r\n:"), "RESP3 acquire reply relayed: %r" % buf[:30])
        rest = buf.split(b"\r\n", 4)[4]
        check(rest.startswith(b"+PONG\r\n$3\r\nmid\r\n_\r\n:1\r\n$3\r\nend\r\n*2\r\n$1\r\nz\r\n"),
              "pipelined replies in request order (RESP3 null for not granted): %r" % rest)
        s.close()

        # JSON lines, pipelined with a local ping.
        s = socket.create_connection(("127.0.0.1", f.port))
        s.sendall(b'{"action":"acquire","key":"j1","ttl_ms":10000,"owner":"jo","id":7}\n'
                  b'{"action":"ping","id":8}\n'
                  b'{"action":"acquire","key":"j1","ttl_ms":10000,"owner":"other","id":9}\n'
                  b'{"action":"release","key":"j1","owner":"jo","id":10}\n')
        lines = recv_until(s, lambda b: b.count(b"\n") >= 4).splitlines()
        reps = [json.loads(x) for x in lines]
        check([x.get("id") for x in reps] == [7, 8, 9, 10], "JSON replies in order with ids")
        check(reps[0]["success"] and reps[0]["data"]["owner"] == "jo", "JSON acquire forwarded")
        check(reps[2] == {"success": False, "id": 9}, "JSON not granted: no error field")
        check(reps[3]["success"] and reps[3]["data"]["released"] == 1, "JSON release forwarded")
        # Every other action a follower forwards, under its own name and fields.
        s.sendall(b'{"action":"acquire","key":"j2","ttl_ms":10000,"owner":"jo","id":11}\n'
                  b'{"action":"extend","key":"j2","ttl_ms":20000,"owner":"jo","id":12}\n'
                  b'{"action":"exists","key":"j2","id":13}\n'
                  b'{"action":"status","key":"j2","id":14}\n'
                  b'{"action":"list","cursor":0,"match":"j2*","count":50,"id":15}\n'
                  b'{"action":"force_release","key":"j2","id":16}\n'
                  b'{"action":"acquire_all","keys":["j3\\"\\\\\\u0001","j4"],"ttl_ms":10000,'
                  b'"owner":"ja","id":17}\n'
                  b'{"action":"release_all","keys":["j3\\"\\\\\\u0001","j4"],"owner":"ja",'
                  b'"id":18}\n')
        reps = [json.loads(x) for x in
                recv_until(s, lambda b: b.count(b"\n") >= 8).splitlines()]
        check([x.get("id") for x in reps] == list(range(11, 19)), "JSON ids 11..18 in order")
        check(reps[1]["success"] and reps[1]["data"]["ttl_ms"] == 20000, "JSON extend forwarded")
        check(reps[2]["success"] and reps[2]["data"]["exists"], "JSON exists: %r" % reps[2])
        check(reps[3]["success"] and reps[3]["data"]["holders"][0]["owner"] == "jo",
              "JSON status: %r" % reps[3])
        check(reps[4]["success"] and reps[4]["data"]["keys"] == ["j2"],
              "JSON list with match and count: %r" % reps[4])
        check(reps[5]["success"] and reps[5]["data"]["released"] == 1,
              "JSON force_release forwarded")
        check(reps[6]["success"] and reps[6]["data"]["keys"] == ["j3\"\\\x01", "j4"],
              "JSON acquire_all forwarded: %r" % reps[6])
        check(reps[7]["success"] and reps[7]["data"]["released"] == 2,
              "JSON release_all forwarded: %r" % reps[7])
        s.close()

        # HTTP.
        def http(body):
            req = urllib.request.Request("http://127.0.0.1:%d/" % f.port,
                                         data=json.dumps(body).encode(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        st, body = http({"action": "acquire", "key": "h1", "ttl_ms": 10000, "owner": "ho"})
        check(st == 200 and body["success"], "HTTP acquire through the follower: 200")
        st, body = http({"action": "acquire", "key": "h1", "ttl_ms": 10000, "owner": "ho",
                         "limit": 3})
        check(st == 409 and body["code"] == "MISMATCH", "HTTP: leader's MISMATCH relayed as 409")
        st, body = http({"action": "release", "key": "h1", "owner": "ho"})
        check(st == 200 and body["success"], "HTTP release through the follower")

        # WAIT: blocked on the follower, granted when the leader's holder releases.
        check(lr.execute_command("SEMLOCK.ACQUIRE", "w1", 10000, "OWNER", "first")[0] == b"first",
              "leader: holder of w1")
        got = {}

        def waiter():
            rw = redis.Redis(port=f.port, socket_timeout=15)
            got["rep"] = rw.execute_command("SEMLOCK.ACQUIRE", "w1", 10000, "OWNER", "second",
                                            "WAIT", 8000)
            got["t"] = time.time()
        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.5)
        check("rep" not in got, "follower: WAIT acquire blocks")
        t_rel = time.time()
        lr.execute_command("SEMLOCK.RELEASE", "w1", "first")
        th.join(15)
        # Granted by the release: the holder's TTL (10 s) outlives the wait (8 s), so a grant can
        # only come from the release (no latency bound: a loaded machine may take seconds).
        check(got.get("rep", [None])[0] == b"second" and got["t"] - t_rel < 8,
              "follower: WAIT acquire granted on release")
        lr.execute_command("SEMLOCK.RELEASE", "w1", "second")

        # SESSION: bound to the follower's client connection.
        sc = redis.Redis(port=f.port, socket_timeout=10, single_connection_client=True)
        check(sc.execute_command("SEMLOCK.ACQUIRE", "s1", 30000, "SESSION")[1] > 0,
              "follower: SESSION acquire granted")
        time.sleep(0.3)
        check(lr.execute_command("SEMLOCK.EXISTS", "s1") == 1, "session holder held while connected")
        sc.close()
        sc.connection_pool.disconnect()  # redis-py's close() only returns it to the pool
        wait_for(lambda: lr.execute_command("SEMLOCK.EXISTS", "s1") == 0, 20,
                 "the client's close releases its SESSION holder (well before its 30 s TTL)")

        # A WAIT grant whose client has left is released, not kept for its TTL.
        lr.execute_command("SEMLOCK.ACQUIRE", "g1", 10000, "OWNER", "holder")
        s = socket.create_connection(("127.0.0.1", f.port))
        s.sendall(b"SEMLOCK.ACQUIRE g1 30000 OWNER gone WAIT 5000\r\n")
        time.sleep(0.3)
        s.close()
        time.sleep(0.1)
        lr.execute_command("SEMLOCK.RELEASE", "g1", "holder")
        wait_for(lambda: lr.execute_command("SEMLOCK.EXISTS", "g1") == 0, 20,
                 "a WAIT grant for a client that left is released (not held for 30 s)")
        check(lr.execute_command("SEMLOCK.ACQUIRE", "g1", 1000, "OWNER", "next")[0] == b"next",
              "the key is free for the next client")

        # Membership listing and metrics.
        members = r.execute_command("SEMLOCK.CLUSTER", "MEMBERS")
        check(sorted(int(m[0]) for m in members) == [1, 2, 3], "SEMLOCK.CLUSTER MEMBERS")
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % f.metrics_port,
                                      timeout=10).read().decode()
        fwd = [ln for ln in text.splitlines()
               if ln.startswith("ttl_semlock_cluster_forwarded_requests_total")]
        check(fwd and float(fwd[0].split()[-1]) >= 15,
              "the follower counts forwarded requests: %s" % fwd)
    with_keys(args.bin)
    print("cluster forwarding: passed in %.1f s" % (time.time() - t_start))


def with_keys(bin_path):
    """API keys: the follower checks the client's key, the leader sees the member's own."""
    os.environ["TTLSEMLOCK_API_KEYS"] = "userkey"
    os.environ["TTLSEMLOCK_ADMIN_API_KEYS"] = "adminkey"
    try:
        cl = Cluster(bin_path, n=3)
        cl.password = "adminkey"
        with cl:
            leader = cl.wait_leader()
            f = next(m for m in cl.members if m is not leader)
            c = socket.create_connection(("127.0.0.1", f.port), timeout=10)
            c.sendall(b"SEMLOCK.ACQUIRE a1 10000\r\n")
            rep = recv_until(c, lambda b: b.endswith(b"\r\n")).decode().strip()
            c.close()
            check(rep == "-NOAUTH Authentication required.", "keys: no key, no forwarding (%r)" % rep)
            r = redis.Redis(port=f.port, password="userkey", socket_timeout=10)
            check(r.execute_command("SEMLOCK.ACQUIRE", "a1", 10000, "OWNER", "u")[0] == b"u",
                  "keys: a user key's write is forwarded")
            try:
                r.execute_command("SEMLOCK.FORCERELEASE", "a1")
                check(False, "keys: admin command with a user key refused")
            except redis.ResponseError as e:
                check(str(e).startswith("this command needs an admin API key"),
                      "keys: an admin command with a user key is refused on the follower")
            try:
                r.execute_command("SEMLOCK.CLUSTER", "MEMBERS")
                check(False, "keys: SEMLOCK.CLUSTER with a user key refused")
            except redis.ResponseError as e:
                check("admin" in str(e), "keys: SEMLOCK.CLUSTER needs an admin key")
            a = redis.Redis(port=f.port, password="adminkey", socket_timeout=10)
            check(a.execute_command("SEMLOCK.FORCERELEASE", "a1") == 1,
                  "keys: an admin key's admin command is forwarded")
            check(len(a.execute_command("SEMLOCK.CLUSTER", "MEMBERS")) == 3,
                  "keys: MEMBERS with an admin key")
            with socket.create_connection(("127.0.0.1", f.port), timeout=10) as s:
                s.sendall(b'{"action":"acquire","key":"a2","ttl_ms":5000,"api_key":"userkey"}\n'
                          b'{"action":"acquire","key":"a3","ttl_ms":5000}\n')
                lines = recv_until(s, lambda b: b.count(b"\n") >= 2).splitlines()
            check(json.loads(lines[0])["success"] is True, "keys: JSON with api_key forwarded")
            check(json.loads(lines[1]).get("code") == "NOAUTH", "keys: JSON without a key: NOAUTH")
    finally:
        del os.environ["TTLSEMLOCK_API_KEYS"]
        del os.environ["TTLSEMLOCK_ADMIN_API_KEYS"]


if __name__ == "__main__":
    main()
