"""Cluster mode: a single node's journal imported by the founder of a new group (label `cluster`).

- a single node with persistence (fsync always) grants a mutex, a semaphore of 3 (two holders)
  and a short lease, and stops (SIGTERM);
- started again as the only member of a new cluster, with persistence.dir pointing at the old
  journal (cluster.dir empty): it imports the journal as the group's first entry: the live
  holders are there with their owners and fences, the short lease that ran out meanwhile is not,
  the old owners can release, and new fences are above every fence the journal handed out or
  reserved;
- the journal is marked imported: a restart (non-empty cluster.dir) replays the log, and a new
  founder with an empty cluster.dir does not import the same journal twice;
- a group of three does not import (only a group of one does) and says so in its log.

Usage: test_cluster_import.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, Connection, free_port  # noqa: E402


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def single_node(bin_path, journal_dir, log_path):
    port = free_port()
    log = open(log_path, "ab")
    proc = subprocess.Popen([bin_path, "--port", str(port), "--metrics-port", str(free_port()),
                             "--persistence", "true", "--persistence-dir", journal_dir,
                             "--fsync", "always"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            return proc, Connection(port)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the single node does not listen; log " + log_path)


def holder(member, key):
    """(owner, fence) pairs of the key, from SEMLOCK.INFO."""
    info = member.call("SEMLOCK.INFO", key)
    return [(h[0], int(h[1])) for h in info[3]] if info else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="semlock-import-")
    journal_dir = os.path.join(work, "journal")
    try:
        proc, conn = single_node(args.bin, journal_dir, os.path.join(work, "single.log"))
        m = conn.call("SEMLOCK.ACQUIRE", "mutex", 120000, "OWNER", "alice")
        s1 = conn.call("SEMLOCK.ACQUIRE", "sem", 120000, "LIMIT", 3, "OWNER", "bob")
        s2 = conn.call("SEMLOCK.ACQUIRE", "sem", 120000, "LIMIT", 3, "OWNER", "carol")
        short = conn.call("SEMLOCK.ACQUIRE", "short", 300, "OWNER", "dave")
        check(all(r is not None for r in (m, s1, s2, short)), "the single node grants")
        fences = {"mutex": int(m[1]), "bob": int(s1[1]), "carol": int(s2[1])}
        highest = max(list(fences.values()) + [int(short[1])])
        conn.close()
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(10) == 0, "the single node stops")
        time.sleep(0.5)  # the short lease runs out while nothing runs

        extra = ["--persistence-dir", journal_dir]
        cl = Cluster(args.bin, n=1, extra_args=extra, workdir=os.path.join(work, "c1"))
        os.makedirs(cl.workdir)
        with cl:
            leader = cl.wait_leader()
            check(holder(leader, "mutex") == [("alice", fences["mutex"])],
                  "the founder imported alice's mutex with its fence")
            check(holder(leader, "sem") == [("bob", fences["bob"]), ("carol", fences["carol"])],
                  "and the semaphore's two holders")
            check(leader.call("EXISTS", "short") == 0, "the lease that ran out is not imported")
            info = leader.call("SEMLOCK.INFO", "sem")
            check(int(info[1]) == 3, "the semaphore keeps its limit of 3")
            new = leader.call("SEMLOCK.ACQUIRE", "fresh", 60000)
            check(int(new[1]) > highest, "new fences are above the journal's (%s > %d)" %
                  (new[1], highest))
            check(leader.call("SEMLOCK.ACQUIRE", "mutex", 1000, "OWNER", "eve") is None,
                  "the imported mutex is held against others")
            check(leader.call("SEMLOCK.RELEASE", "sem", "bob") == 1,
                  "an imported holder releases")
            check(os.path.exists(os.path.join(journal_dir, "imported-into-cluster")),
                  "the journal is marked imported")
            check(not os.path.exists(os.path.join(cl.members[0].dir, "import-pending")),
                  "the import is no longer pending")
            # A restart replays the log: the release stays, nothing is imported again.
            cl.members[0].terminate()
            cl.members[0].start()
            leader = cl.wait_leader()
            check(holder(leader, "sem") == [("carol", fences["carol"])],
                  "after a restart the released holder stays released")
            check(holder(leader, "mutex") == [("alice", fences["mutex"])],
                  "and the imported mutex is still held")
            with open(cl.members[0].log_path, errors="replace") as f:
                check(f.read().count("Cluster: journal imported") == 1,
                      "the journal was imported once")

        # A new founder with an empty cluster.dir: the marked journal is not imported again.
        cl2 = Cluster(args.bin, n=1, extra_args=extra, workdir=os.path.join(work, "c2"))
        os.makedirs(cl2.workdir)
        with cl2:
            leader = cl2.wait_leader()
            check(leader.call("EXISTS", "mutex", "sem") == 0,
                  "a journal marked imported is not imported twice")

        # A group of three never imports.
        os.remove(os.path.join(journal_dir, "imported-into-cluster"))
        cl3 = Cluster(args.bin, n=3, extra_args=extra, workdir=os.path.join(work, "c3"))
        os.makedirs(cl3.workdir)
        with cl3:
            leader = cl3.wait_leader()
            check(leader.call("EXISTS", "mutex") == 0, "a group of three does not import")
            with open(cl3.members[0].log_path, errors="replace") as f:
                check("only the founder of a group of one imports it" in f.read(),
                      "and says why in its log")
        shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        print("work dir kept:", work)
        raise
    print("PASS")


if __name__ == "__main__":
    main()
