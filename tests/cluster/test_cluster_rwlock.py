"""Read-write locks and reentrant holds in cluster mode (label `cluster`): three real members.

- readers (SHARED) and a reentrant holder's count granted on the leader show on every follower
  once applied (INFO mode and holds), as engine mutations replicated through the Raft log;
- a follower forwards SHARED (RESP) and "mode":"shared" (JSON) acquires to the leader;
- kill -9 of the leader: the new leader keeps the mode (a writer stays out while the readers
  hold) and the hold count (two more releases end the holder, not one).

Usage: test_cluster_rwlock.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, json_line  # noqa: E402


def info(member, key):
    flat = member.call("SEMLOCK.INFO", key)
    return None if flat is None else dict(zip(flat[0::2], flat[1::2]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with Cluster(args.bin, n=3, election_timeout="1s", heartbeat_interval="100ms") as cl:
        leader = cl.wait_leader()
        followers = [m for m in cl.members if m is not leader]
        r1 = leader.call("SEMLOCK.ACQUIRE", "rw", 60000, "OWNER", "r1", "SHARED")
        check(isinstance(r1, list) and r1[0] == "r1", "the leader grants a reader")
        r2 = followers[0].call("SEMLOCK.ACQUIRE", "rw", 60000, "OWNER", "r2", "SHARED")
        check(isinstance(r2, list) and r2[0] == "r2", "a follower forwards a SHARED acquire")
        r3 = json_line(followers[1].port, {"action": "acquire", "key": "rw", "ttl_ms": 60000,
                                           "owner": "r3", "mode": "shared"})
        check(r3.get("success") is True, "a follower forwards a JSON shared acquire")
        check(leader.call("SEMLOCK.ACQUIRE", "rw", 60000, "OWNER", "w") is None,
              "a writer is not granted while readers hold")
        fences = set()
        for _ in range(3):
            rep = leader.call("SEMLOCK.ACQUIRE", "re", 60000, "OWNER", "me", "REENTRANT")
            fences.add(int(rep[1]))
        check(len(fences) == 1, "three reentrant acquires share one fence")
        check(leader.call("SEMLOCK.RELEASE", "re", "me") == 1, "one release of three holds")

        # RELEASEALL takes one hold per key; a key still held (2 -> 1) is not counted, also when a
        # follower forwards it.
        for _ in range(2):
            leader.call("SEMLOCK.ACQUIRE", "ra", 60000, "OWNER", "me", "REENTRANT")
        check(followers[0].call("SEMLOCK.RELEASEALL", "me", 1, "ra") == 0,
              "a forwarded RELEASEALL does not count a key still held")

        cl.wait_applied(int(leader.info()["applied_index"]))
        for f in followers:
            check(info(f, "ra")["holds"] == [1], "member %d has the count RELEASEALL left" % f.id)
            rw = info(f, "rw")
            check(rw["mode"] == "shared" and len(rw["holders"]) == 3,
                  "member %d has the three readers" % f.id)
            check(info(f, "re")["holds"] == [2], "member %d has the hold count 2" % f.id)

        leader.kill9()
        new_leader = cl.wait_leader(timeout=15, exclude=[leader])
        rw = info(new_leader, "rw")
        check(rw["mode"] == "shared" and len(rw["holders"]) == 3,
              "the new leader keeps the readers")
        check(new_leader.call("SEMLOCK.ACQUIRE", "rw", 60000, "OWNER", "w") is None,
              "the new leader keeps the writer out")
        check(new_leader.call("SEMLOCK.ACQUIRE", "rw", 60000, "OWNER", "r4", "SHARED")[0] == "r4",
              "the new leader grants another reader")
        check(info(new_leader, "re")["holds"] == [2], "the new leader keeps the hold count")
        check(new_leader.call("SEMLOCK.RELEASE", "re", "me") == 1, "release 2 of 3")
        check(new_leader.call("EXISTS", "re") == 1, "the holder stays after it")
        check(new_leader.call("SEMLOCK.RELEASE", "re", "me") == 1, "release 3 of 3")
        check(new_leader.call("EXISTS", "re") == 0, "the holder goes at zero")
    print("cluster rwlock: all checks passed")


if __name__ == "__main__":
    main()
