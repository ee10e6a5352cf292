"""Cluster mode end to end (label `cluster`): three real ttl-semlock members on loopback.

- a leader emerges and every member agrees on it (INFO cluster);
- grants on the leader are acknowledged after commit and show on the followers once applied;
- a follower forwards writes to the leader (RESP, JSON, HTTP);
- kill -9 of the leader: a new leader within 3x the election timeout, an acknowledged holder
  survives with its fence, the next fence is higher than every fence seen; the old leader's
  sidecar exits with it (they fail together);
- killing a member's sidecar stops that member's server (exit 1);
- a killed member restarts from its Raft dir and catches up; a graceful stop waits for the
  sidecar, and a member started again at once serves.

Usage: test_cluster_basic.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import urllib.request
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, RespError, check, json_line  # noqa: E402

ELECTION_S = 1.0


def http_post(port, path, body):
    data = json.dumps(body).encode()
    req = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), len(data))) + data
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    status = int(buf.split(b" ", 2)[1])
    return status, buf.split(b"\r\n\r\n", 1)[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3, election_timeout="1s", heartbeat_interval="100ms") as cl:
        leader = cl.wait_leader()
        followers = [m for m in cl.members if m is not leader]
        check(leader.info()["cluster_enabled"] == "1", "INFO cluster says cluster_enabled:1")

        # Grants on the leader, acknowledged after commit.
        r = leader.call("SEMLOCK.ACQUIRE", "held", 60000, "OWNER", "alice")
        check(isinstance(r, list) and r[0] == "alice", "leader grants held to alice")
        fence_alice = int(r[1])
        fences = [fence_alice]
        conn = leader.connect()
        for i in range(50):
            conn.send("SEMLOCK.ACQUIRE", "k%d" % i, 60000)
        for i in range(50):
            rep = conn.reply()
            fences.append(int(rep[1]))
        conn.close()
        check(fences == sorted(fences) and len(set(fences)) == len(fences),
              "pipelined grants have rising, distinct fences")
        sem = [leader.call("SEMLOCK.ACQUIRE", "sem", 60000, "LIMIT", 2) for _ in range(3)]
        check(sem[0] is not None and sem[1] is not None and sem[2] is None,
              "a semaphore of 2 grants two and refuses the third")

        commit = int(leader.info()["applied_index"])
        cl.wait_applied(commit)
        for f in followers:
            check(f.call("EXISTS", "held", "k0", "k49", "missing") == 3,
                  "member %d sees the leader's grants after apply" % f.id)
            info = f.call("SEMLOCK.INFO", "held")
            check(info[3][0][0] == "alice" and int(info[3][0][1]) == fence_alice,
                  "member %d has alice's fence" % f.id)

        # Metrics of cluster mode on the leader and a follower.
        text = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % leader.metrics_port, timeout=10).read().decode()
        check("ttl_semlock_cluster_leader 1" in text, "metrics: the leader flag is 1 on the leader")
        count = [l for l in text.splitlines()
                 if l.startswith("ttl_semlock_cluster_proposal_duration_seconds_count")]
        check(count and float(count[0].split()[-1]) > 0, "metrics: proposal latency observed")
        ftext = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % followers[0].metrics_port, timeout=10).read().decode()
        applied = [l for l in ftext.splitlines()
                   if l.startswith("ttl_semlock_cluster_applied_index ")]
        check("ttl_semlock_cluster_leader 0" in ftext and applied and
              float(applied[0].split()[-1]) >= commit,
              "metrics: a follower is not leader and reports its applied index")

        # A follower forwards writes to the leader (test_cluster_forwarding.py has the rest).
        f = followers[0]
        rep = f.call("SEMLOCK.ACQUIRE", "x", 1000, "OWNER", "fw")
        check(isinstance(rep, list) and rep[0] == "fw", "a follower forwards RESP writes")
        rep = json_line(f.port, {"action": "release", "key": "x", "owner": "fw"})
        check(rep.get("success") is True, "a follower forwards JSON writes")
        status, _ = http_post(f.port, "/", {"action": "acquire", "key": "x", "ttl": 1})
        check(status == 200, "a follower forwards HTTP writes")
        check(leader.call("EXISTS", "x") == 1, "the forwarded write is on the leader")

        # kill -9 the leader.
        old_sidecars = leader.sidecar_pids()
        check(len(old_sidecars) == 1, "the leader runs one sidecar")
        t0 = time.time()
        leader.kill9()
        new_leader = cl.wait_leader(timeout=15, exclude=[leader])
        failover = time.time() - t0
        print("failover: new leader %d serving after %.3f s" % (new_leader.id, failover))
        check(failover <= 3 * ELECTION_S + 1.0,
              "a new leader serves within 3x the election timeout (+1 s of polling slack)")
        deadline = time.time() + 5
        while leader.sidecar_pids() and time.time() < deadline:
            time.sleep(0.05)
        check(not leader.sidecar_pids(), "the killed leader's sidecar exited with it")

        info = new_leader.call("SEMLOCK.INFO", "held")
        check(info[3][0][0] == "alice" and int(info[3][0][1]) == fence_alice,
              "the acknowledged holder survives the failover with its fence")
        check(new_leader.call("SEMLOCK.ACQUIRE", "held", 1000, "OWNER", "bob") is None,
              "the new leader does not grant alice's lock to bob")
        r = new_leader.call("SEMLOCK.ACQUIRE", "after", 60000)
        check(int(r[1]) > max(fences), "the next fence is higher than every earlier fence")
        check(new_leader.call("SEMLOCK.RELEASE", "held", "alice") == 1,
              "alice releases on the new leader")

        # The old leader comes back as a follower and catches up from its Raft dir.
        leader.start()
        commit = int(new_leader.info()["applied_index"])
        cl.wait_applied(commit, members=[leader])
        check(leader.call("EXISTS", "held") == 0 and leader.call("EXISTS", "after") == 1,
              "the restarted member caught up with the new leader's history")
        check(cl.wait_leader() is new_leader, "one leader after the restart")

        # A graceful stop ends only once the member's sidecar has exited, and a member started
        # again at once serves: CI's checker once lost a member in a rolling restart, its new
        # sidecar finding the old one still holding the Raft WAL ("file already locked").
        check(len(leader.sidecar_pids()) == 1, "the restarted member runs one sidecar")
        leader.terminate()
        check(leader.proc.returncode == 0, "a graceful stop exits 0")
        check(not leader.sidecar_pids(), "the sidecar is gone when its server has exited")
        leader.start()
        new_leader.call("SEMLOCK.ACQUIRE", "again", 60000)
        commit = int(new_leader.info()["applied_index"])
        cl.wait_applied(commit, members=[leader])
        check(leader.call("EXISTS", "again") == 1 and leader.alive(),
              "the member started again at once catches up")

        # Fail together: a member whose sidecar dies stops serving.
        victim = next(m for m in cl.members if m is not new_leader)
        pids = victim.sidecar_pids()
        os.kill(pids[0], 9)
        try:
            code = victim.proc.wait(timeout=5)
        except Exception:
            code = None
        check(code == 1, "the server exits 1 when its sidecar dies")
    print("cluster basic: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
