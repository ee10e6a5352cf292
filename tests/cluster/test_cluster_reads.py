"""Cluster mode: linearizable reads on the leader (ReadIndex, batched per loop iteration).

- on a healthy leader reads answer at once and show every acknowledged write (pipelined reads
  and writes on several connections);
- the leader's sidecar frozen (SIGSTOP: the leader is cut off and does not know it): a read sent
  to it is never answered from its state; after cluster.request_timeout it is answered
  CLUSTERDOWN (JSON UNAVAILABLE with the request's id, HTTP 503; pipelined reads one each, the
  connection stays open). Meanwhile the others elect a new leader, which releases
  the old leader's holder and grants the key to someone else; the old leader still does not
  answer reads with the stale holder;
- the sidecar resumed: the old leader learns the new term and answers reads from the group's
  state (the new holder).

Usage: test_cluster_reads.py --bin build-release/server/ttl-semlock
"""
import argparse
import http.client
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, RespError, check  # noqa: E402


def read_outcome(member, *cmd, timeout=8):
    """('reply', value) or ('closed', seconds) or ('clusterdown', seconds)."""
    t0 = time.time()
    try:
        c = member.connect(timeout=timeout)
        r = c.call(*cmd)
        c.close()
    except (OSError, ConnectionError):
        return ("closed", time.time() - t0)
    if isinstance(r, RespError) and r.startswith("CLUSTERDOWN"):
        return ("clusterdown", time.time() - t0)
    return ("reply", r)


DOWN = "CLUSTERDOWN The cluster is down"


def json_outcome(member, line, timeout=8):
    """(the JSON reply, seconds) for one JSON line on a fresh connection."""
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", member.port), timeout=timeout) as s:
        s.sendall(line)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                return ({"closed": True}, time.time() - t0)
            buf += chunk
    return (json.loads(buf), time.time() - t0)


def http_outcome(member, body, timeout=8):
    """(status, JSON body, seconds) of one HTTP POST of a JSON request."""
    t0 = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", member.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return (resp.status, json.loads(resp.read() or b"{}"), time.time() - t0)
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3, request_timeout="2s") as cl:
        leader = cl.wait_leader()
        r = leader.call("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "alice")
        check(r is not None and r[0] == "alice", "alice holds k on the leader")

        # Healthy: reads interleaved with writes see every acknowledged write.
        conns = [leader.connect() for _ in range(3)]
        t0 = time.time()
        for round_ in range(30):
            for i, c in enumerate(conns):
                key = "r%d-%d" % (i, round_)
                c.send("SEMLOCK.ACQUIRE", key, 60000)
                c.send("EXISTS", key)
                c.send("PTTL", key)
            for c in conns:
                grant, exists, pttl = c.reply(), c.reply(), c.reply()
                if not (grant is not None and exists == 1 and 0 < pttl <= 60000):
                    raise AssertionError("read missed a write: %r" % [grant, exists, pttl])
        took = time.time() - t0
        check(took < 10, "90 pipelined write+read rounds on the leader, every read saw its "
              "write (%.2f s)" % took)
        solo = [read_outcome(leader, "EXISTS", "k")[1] for _ in range(5)]
        check(solo == [1] * 5, "single reads on an idle leader answer (ReadIndex round)")
        for c in conns:
            c.close()

        # Freeze the leader's sidecar: it still believes it leads (its server cannot learn
        # otherwise). Should it have lost leadership just before the freeze (a loaded machine),
        # the read would rightly be forwarded to the new leader: resume and try again.
        for attempt in range(5):
            pids = leader.sidecar_pids()
            check(len(pids) == 1, "the leader's sidecar found")
            os.kill(pids[0], signal.SIGSTOP)
            info = leader.info()
            if info.get("role") == "leader" and info.get("serving") == "1":
                break
            os.kill(pids[0], signal.SIGCONT)
            print("member %d stopped leading before its sidecar froze; again" % leader.id)
            leader = cl.wait_leader(timeout=20)
        else:
            raise AssertionError("no leader stayed leader across the freeze")
        try:
            # A read on the cut-off leader never answers from its state: ReadIndex gets no
            # answer, and after cluster.request_timeout (2 s) it is answered CLUSTERDOWN.
            kind, took = read_outcome(leader, "EXISTS", "k")
            check(kind == "clusterdown" and 1.5 <= took <= 6,
                  "a read on the cut-off leader answers CLUSTERDOWN after request_timeout "
                  "(%s after %.2f s)" % (kind, took))
            body, took = json_outcome(leader, b'{"action":"exists","key":"k","id":41}\n')
            check(body.get("code") == "UNAVAILABLE" and body.get("id") == 41 and 1.5 <= took <= 6,
                  "JSON exists on the cut-off leader: UNAVAILABLE with its id (%r, %.2f s)" %
                  (body, took))
            status, body, took = http_outcome(leader, '{"action":"status","key":"k"}')
            check(status == 503 and body.get("code") == "UNAVAILABLE",
                  "HTTP read on the cut-off leader: 503 UNAVAILABLE (%s %r, %.2f s)" %
                  (status, body, took))
            # Pipelined reads on one connection: one CLUSTERDOWN each, in order, and the
            # connection stays usable.
            c = leader.connect(timeout=10)
            c.send("EXISTS", "k")
            c.send("PTTL", "k")
            c.send("SEMLOCK.INFO", "k")
            replies = [c.reply() for _ in range(3)]
            check(all(isinstance(r, RespError) and r == DOWN for r in replies),
                  "three pipelined reads: three CLUSTERDOWN replies (%r)" % replies)
            check(c.call("PING") == "PONG", "the connection is still served")
            c.close()
            new = cl.wait_leader(exclude=[leader], timeout=20)
            check(new.call("SEMLOCK.RELEASE", "k", "alice") == 1,
                  "the new leader (member %d) releases alice" % new.id)
            r = new.call("SEMLOCK.ACQUIRE", "k", 60000, "OWNER", "bob")
            check(r is not None and r[0] == "bob", "and grants k to bob")
            for cmd in (("SEMLOCK.INFO", "k"), ("EXISTS", "k"), ("PTTL", "k")):
                kind, val = read_outcome(leader, *cmd)
                check(kind == "clusterdown", "the old leader does not answer %s from its stale "
                      "state: CLUSTERDOWN (%s)" % (cmd[0], kind))
        finally:
            os.kill(pids[0], signal.SIGCONT)

        deadline = time.time() + 15
        info = None
        while time.time() < deadline:
            kind, info = read_outcome(leader, "SEMLOCK.INFO", "k")
            if kind == "reply" and info and info[3][0][0] == "bob":
                break
            time.sleep(0.1)
        check(info and info[3][0][0] == "bob",
              "resumed, the old leader answers from the group's state (bob holds k)")
    print("PASS")


if __name__ == "__main__":
    main()
