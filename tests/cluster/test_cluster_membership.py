"""Membership changes with SEMLOCK.CLUSTER (label `cluster`): ADD a 4th member through a
follower (forwarded to the leader), start it, it catches up with the holders; REMOVE a member
through the new one; MEMBERS lists the group; argument errors; writes work throughout.

Usage: test_cluster_membership.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, Member, RespError, check  # noqa: E402


def member_ids(m):
    return sorted(int(x[0]) for x in m.call("SEMLOCK.CLUSTER", "MEMBERS"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    with Cluster(args.bin, n=3) as cl:
        leader = cl.wait_leader()
        f = next(m for m in cl.members if m is not leader)
        check(member_ids(f) == [1, 2, 3], "MEMBERS: the founding three")
        rep = f.call("SEMLOCK.CLUSTER", "ADD", "x", "127.0.0.1:1", "127.0.0.1:2")
        check(rep == "ERR member id must be an integer 1..2^63", "ADD: a bad id (%r)" % rep)
        rep = f.call("SEMLOCK.CLUSTER", "ADD", "4", "nohostport", "127.0.0.1:2")
        check(rep == 'ERR addresses must be "host:port"', "ADD: a bad address")
        rep = f.call("SEMLOCK.CLUSTER", "REMOVE")
        check(rep == "ERR wrong number of arguments for 'semlock.cluster' command", "REMOVE: arity")
        rep = f.call("SEMLOCK.CLUSTER", "NOPE")
        check(isinstance(rep, RespError) and rep.startswith("ERR unknown subcommand 'NOPE'"),
              "unknown subcommand")
        for i in range(50):
            leader.call("SEMLOCK.ACQUIRE", "pre%d" % i, 60000, "OWNER", "o")

        m4 = Member(cl, 4)
        cl.members.append(m4)
        rep = f.call("SEMLOCK.CLUSTER", "ADD", "4", m4.raft, m4.client)
        check(rep == "OK", "ADD 4 through a follower (forwarded): %r" % rep)
        deadline = time.time() + 5  # the member list arrives with the sidecar's next status
        while time.time() < deadline and member_ids(leader) != [1, 2, 3, 4]:
            time.sleep(0.05)
        check(member_ids(leader) == [1, 2, 3, 4], "MEMBERS on the leader lists the 4th")
        m4.start()
        commit = int(leader.info()["commit_index"])
        cl.wait_applied(commit, members=[m4], timeout=20)
        check(all(m4.call("SEMLOCK.EXISTS", "pre%d" % i) == 1 for i in range(50)),
              "the new member caught up with every holder")
        rep = m4.call("SEMLOCK.ACQUIRE", "via4", 60000, "OWNER", "n")
        check(isinstance(rep, list) and rep[0] == "n", "writes through the new member")

        victim = next(m for m in cl.members if m is not leader and m is not m4)
        rep = m4.call("SEMLOCK.CLUSTER", "REMOVE", str(victim.id))
        check(rep == "OK", "REMOVE %d through the new member: %r" % (victim.id, rep))
        expect = sorted(m.id for m in cl.members if m is not victim)
        deadline = time.time() + 10
        while time.time() < deadline and member_ids(m4) != expect:
            time.sleep(0.05)
        check(member_ids(m4) == expect and member_ids(leader) == expect,
              "MEMBERS no longer lists %d" % victim.id)
        victim.terminate()
        leader = cl.wait_leader(timeout=15, exclude=[victim])
        rep = f.call("SEMLOCK.ACQUIRE", "after", 60000, "OWNER", "z") if f is not victim else \
            m4.call("SEMLOCK.ACQUIRE", "after", 60000, "OWNER", "z")
        check(isinstance(rep, list) and rep[0] == "z", "writes work after the removal")
    print("cluster membership: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
