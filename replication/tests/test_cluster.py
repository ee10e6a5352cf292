#!/usr/bin/env python3
"""Three (then four) real ttl-semlock-raft processes on loopback, driven over their fd-3 frame
protocol the way the server drives them: election, replication in one order, proposals refused
on followers, kill -9 of the leader, WAL recovery after a restart, snapshot + compaction and a
new member catching up by SNAPSHOT_INSTALL, removal, a partitioned leader stepping down, and
leadership transfer.

Usage: test_cluster.py --bin path/to/ttl-semlock-raft
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sidecar import LEADER, Cluster  # noqa: E402

ET_MS, HB_MS = 1000, 100
ET = ET_MS / 1000.0


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def propose_all(leader, first_tag, n, prefix):
    want = []
    for i in range(n):
        data = b"%s-%d" % (prefix, i)
        leader.propose(first_tag + i, data)
        want.append(data)
    return want


def wait_data(members, want, timeout=15):
    """Every member delivered every datum in `want` (in that relative order)."""
    for m in members:
        m.wait(lambda: set(want) <= {d for _, d in m.normal_data()}, timeout,
               "%d proposals committed" % len(want))
        got = [d for _, d in m.normal_data() if d in set(want)]
        check(got == want, "member %d: committed order differs from proposal order: %s"
              % (m.id, [(i, d) for i, d in m.normal_data() if d in set(want)]))


def wait_same_log(members, timeout=15, above=0):
    """All members end with identical entries (index, term, kind, data) above `above`."""
    deadline = time.monotonic() + timeout
    # A member restored from a snapshot knows only the entries after it.
    above = max([above] + [m.installs[-1][0] for m in members if m.installs])
    while True:
        logs = []
        for m in members:
            with m.cv:
                logs.append({i: e for i, e in m.entries.items() if i > above})
        tops = [max(lg) if lg else 0 for lg in logs]
        if len(set(tops)) == 1:
            for m, lg in zip(members, logs):
                check(lg == logs[0], "member %d's log differs from member %d's"
                      % (m.id, members[0].id))
            return logs[0]
        if time.monotonic() > deadline:
            raise AssertionError("logs did not converge: last indices %s" % tops)
        time.sleep(0.02)


def test_election_and_replication(c):
    t0 = time.monotonic()
    leader = c.leader(15)
    print("leader %d elected after %.2fs" % (leader.id, time.monotonic() - t0))
    followers = [m for m in c.m.values() if m is not leader]

    # A follower refuses at once (DisableProposalForwarding); nothing commits from it.
    followers[0].propose(900001, b"from-a-follower")
    followers[0].wait(lambda: 900001 in followers[0].failed, 5, "PROPOSE_FAILED")
    check(followers[0].failed[900001] == "not leader", followers[0].failed)

    frames0 = leader.entries_frames
    want = propose_all(leader, 1, 300, b"a")
    wait_data(c.m.values(), want)
    # Group commit: proposals that arrive while a batch is being written share the next
    # Ready (one fsync) and leave in one ENTRIES frame.
    frames = leader.entries_frames - frames0
    check(frames < len(want), "300 proposals in a burst took %d ENTRIES frames" % frames)
    print("group commit: 300 proposals committed in %d ENTRIES frames on the leader" % frames)
    log = wait_same_log(list(c.m.values()))
    check(all(d != b"from-a-follower" for _, _, d in log.values()), "follower's entry committed")
    terms = [e[0] for _, e in sorted(log.items())]
    check(terms == sorted(terms), "terms go down along the log")

    # ReadIndex on the leader covers everything committed before it.
    top = max(log)
    leader.read_index(77)
    leader.wait(lambda: 77 in leader.reads, 5, "READ_INDEX answer")
    check(leader.reads[77][0] == "ok" and leader.reads[77][1] >= top, leader.reads)
    # On a follower, ReadIndex goes through the leader and answers the leader's commit index.
    followers[1].read_index(78)
    followers[1].wait(lambda: 78 in followers[1].reads, 5, "READ_INDEX answer on a follower")
    check(followers[1].reads[78][0] == "ok" and followers[1].reads[78][1] >= top,
          followers[1].reads)
    # STATUS catches up with commit/applied within a heartbeat or so.
    for m in c.m.values():
        m.wait(lambda: m.status["commit"] >= top and m.status["applied"] >= top, 5,
               "STATUS commit/applied")
        check(sorted(m.status["members"]) == [1, 2, 3], m.status)
        check(m.status["members"][2] == (c.members_map["2"]["raft"],
                                          c.members_map["2"]["client"]), m.status)
    print("ok: 300 proposals committed on all 3 in one order; follower refused; ReadIndex")


def test_kill_leader(c, failovers):
    leader = c.leader(10)
    with leader.cv:
        committed = dict(leader.entries)
    t0 = time.monotonic()
    leader.kill()
    survivors = [m for m in c.m.values() if m is not leader]
    new = c.leader(10, among=survivors)
    took = time.monotonic() - t0
    failovers.append(took)
    print("leader %d killed: member %d leads after %.2fs" % (leader.id, new.id, took))
    check(took <= 3 * ET, "new leader after %.2fs > 3x election timeout" % took)
    want = propose_all(new, 2000 + 100 * len(failovers), 50, b"b%d" % len(failovers))
    wait_data(survivors, want)
    log = wait_same_log(survivors)
    first = min(log)  # entries before it are inside a snapshot some member installed
    check(max(committed) >= first, "nothing to compare after the snapshot")
    for i, e in committed.items():
        if i >= first:
            check(log.get(i) == e, "committed entry %d lost or changed after failover" % i)
    return leader


def restart_frozen(c, dead):
    """Restarts `dead` while the others are frozen (SIGSTOP), so nothing can come from them:
    what it delivers comes from its own WAL. Returns what it delivered, then resumes them."""
    others = [m for m in c.m.values() if m is not dead]
    for m in others:
        m.kill(signal.SIGSTOP)
    try:
        dead.start()  # sends RESYNC first
        # Replay is done once STATUS reports applied == the WAL's commit index.
        dead.wait(lambda: dead.status and dead.status["applied"] == dead.status["commit"] > 0,
                  10, "the WAL's committed entries")
        time.sleep(0.3)
        with dead.cv:
            return dict(dead.entries)
    finally:
        for m in others:
            m.kill(signal.SIGCONT)


def test_restart_recovers_from_wal(c, dead):
    """kill -9: the member replays the committed prefix its WAL knows of (etcd makes the
    commit index durable along with entries and votes, not on its own), identical to what it
    delivered before; the rest of its log is confirmed once the others resume."""
    with dead.cv:
        before = dict(dead.entries)
    replayed = restart_frozen(c, dead)
    check(len(replayed) >= 3, "nothing replayed from the WAL")
    for i, e in replayed.items():
        check(before.get(i) == e, "entry %d differs after WAL replay" % i)
    print("ok: member %d restarted after kill -9; replayed %d of %d entries from its WAL alone"
          % (dead.id, len(replayed), len(before)))
    c.leader(10)
    wait_same_log(list(c.m.values()))
    with dead.cv:
        for i, e in before.items():
            check(dead.entries.get(i) == e, "entry %d lost after restart" % i)
    print("ok: restarted member caught up; 3 logs agree")

    # Server gone (fd 3 EOF): exit 2 at once, and a restart replays everything delivered.
    m = next(m for m in c.m.values() if m.status["role"] != LEADER)
    with m.cv:
        before = dict(m.entries)
    m.close_ctl()
    check(m.proc.wait(5) == 2, "exit status after fd 3 EOF")
    replayed = restart_frozen(c, m)
    check(replayed == before, "member %d replayed %d entries, had delivered %d"
          % (m.id, len(replayed), len(before)))
    print("ok: member %d exited on fd 3 EOF and replayed all %d entries from its WAL alone"
          % (m.id, len(before)))
    c.leader(10)
    wait_same_log(list(c.m.values()))


def test_snapshot_and_new_member(c, workdir):
    leader = c.leader(10)
    taken = {}
    for m in c.m.values():
        with m.cv:
            idx = max(m.entries)
        path = os.path.join(workdir, "engine-%d-%d" % (m.id, idx))
        with open(path, "wb") as f:
            # Bigger than rafthttp's 64 KiB message limit: snapshots take the snapshot path.
            f.write(b"engine state of member %d at %d;" % (m.id, idx) + b"z" * 300000)
        m.snapshot_taken(idx, path)
        taken[m.id] = (idx, path)
    for m in c.m.values():
        path = taken[m.id][1]
        deadline = time.monotonic() + 5
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        check(not os.path.exists(path), "member %d kept the SNAPSHOT_TAKEN file" % m.id)
    want = propose_all(leader, 3000, 20, b"c")
    wait_data(c.m.values(), want)

    # Refusals: on a follower, for an existing member, for a non-member.
    follower = next(m for m in c.m.values() if m is not leader)
    follower.conf_change(51, 1, 4, "127.0.0.1:1", "127.0.0.1:2")
    follower.wait(lambda: 51 in follower.confs, 5, "CONF_RESULT")
    check(follower.confs[51] == (False, "not leader"), follower.confs)
    leader.conf_change(52, 1, 2, "127.0.0.1:1", "127.0.0.1:2")
    leader.conf_change(53, 2, 9, "", "")
    leader.wait(lambda: 52 in leader.confs and 53 in leader.confs, 5, "CONF_RESULTs")
    check(leader.confs[52] == (False, "member 2 already exists"), leader.confs)
    check(leader.confs[53] == (False, "member 9 does not exist"), leader.confs)

    # Add member 4, then start it with a map naming all 4 (as the server's config does): its
    # dir is empty, but its peers have a log, so it joins instead of founding a group.
    raft4, client4 = c.new_ports(4)
    leader.conf_change(54, 1, 4, raft4, client4)
    leader.wait(lambda: 54 in leader.confs, 10, "CONF_RESULT add")
    check(leader.confs[54] == (True, ""), leader.confs)
    map4 = dict(c.members_map)
    map4["4"] = {"raft": raft4, "client": client4}
    m4 = c.new_member(4, map4)
    c.m[4] = m4
    snap_idx = taken[leader.id][0]
    m4.wait(lambda: m4.installs, 15, "SNAPSHOT_INSTALL")
    idx, _, data = m4.installs[0]
    check(idx >= snap_idx, "installed snapshot %d older than the leader's %d" % (idx, snap_idx))
    check(data.startswith(b"engine state of member "), data)
    check(m4.order[0] == ("install", idx), "SNAPSHOT_INSTALL was not the first frame")
    check("joining the existing group instead of bootstrapping" in m4.stderr_text(),
          "member 4 did not log that it joined")
    log4 = wait_same_log(list(c.m.values()), above=idx)
    check(min(log4) == idx + 1, "entries after the snapshot start at %d" % min(log4))
    adds = [e for e in log4.values() if e[1] == 1 and b'"op":"add"' in e[2] and b'"id":"4"' in e[2]]
    check(adds, "member 4 did not see its own add")
    check(raft4.encode() in adds[0][2] and client4.encode() in adds[0][2], adds)
    for m in c.m.values():
        m.wait(lambda: sorted(m.status["members"]) == [1, 2, 3, 4], 5, "4 members in STATUS")
        check(m.status["members"][4] == (raft4, client4), m.status)
    want = propose_all(c.leader(10), 4000, 20, b"d")
    wait_data(c.m.values(), want)
    print("ok: snapshot at %d, log compacted; member 4 got SNAPSHOT_INSTALL at %d then ENTRIES"
          % (snap_idx, idx))

    # Member 4 restarts from its received snapshot + WAL.
    with m4.cv:
        before = {i: e for i, e in m4.entries.items()}
    m4.kill()
    m4.start()
    m4.wait(lambda: m4.installs and max(before) in m4.entries, 15, "snapshot + WAL replay")
    check(m4.installs[0][0] == idx and m4.installs[0][2] == data, "replayed snapshot differs")
    with m4.cv:
        for i, e in before.items():
            check(m4.entries.get(i) == e, "member 4 entry %d differs after restart" % i)
    print("ok: member 4 restarted from its snapshot and WAL")
    return m4


def test_lagging_follower_gets_snapshot(c, workdir):
    """A follower that was down while the others committed, snapshotted and compacted past
    its log catches up by SNAPSHOT_INSTALL (its server's state is replaced), then ENTRIES.
    (Down, not frozen: a frozen member's socket buffers would hold the entries already.)"""
    leader = c.leader(10)
    lagger = next(m for m in c.m.values() if m is not leader)
    lagger.kill()
    want = propose_all(leader, 9000, 40, b"lag")
    active = [m for m in c.m.values() if m is not lagger]
    wait_data(active, want)
    for m in active:
        with m.cv:
            idx = max(m.entries)
        path = os.path.join(workdir, "lag-%d-%d" % (m.id, idx))
        with open(path, "wb") as f:
            f.write(b"lagging catch-up state at %d;" % idx + b"y" * 100000)
        m.snapshot_taken(idx, path)
    snap_idx = idx
    time.sleep(0.3)
    lagger.start()
    lagger.wait(lambda: any(i >= snap_idx for i, _, _ in lagger.installs), 15,
                "SNAPSHOT_INSTALL after lagging")
    idx, _, data = [x for x in lagger.installs if x[0] >= snap_idx][0]
    check(data.startswith(b"lagging catch-up state at "), data[:40])
    want2 = propose_all(c.leader(10), 9100, 10, b"lag2")
    wait_data(c.m.values(), want2)
    wait_same_log(list(c.m.values()))
    print("ok: lagging follower %d caught up by SNAPSHOT_INSTALL at %d" % (lagger.id, idx))


def test_remove(c, m4):
    leader = c.leader(10)
    leader.conf_change(61, 2, 4, "", "")
    leader.wait(lambda: 61 in leader.confs, 10, "CONF_RESULT remove")
    check(leader.confs[61] == (True, ""), leader.confs)
    rest = [m for m in c.m.values() if m is not m4]
    for m in rest:
        m.wait(lambda: sorted(m.status["members"]) == [1, 2, 3], 5, "3 members in STATUS")
    m4.stop()
    del c.m[4]
    want = propose_all(c.leader(10), 5000, 20, b"e")
    wait_data(rest, want)
    print("ok: member 4 removed; the 3 commit on")


def test_partitioned_leader_steps_down(c, stepdowns):
    leader = c.leader(10)
    followers = [m for m in c.m.values() if m is not leader]
    for m in followers:
        m.kill(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        # raft's CheckQuorum alone: up to 2 election timeouts; with the sidecar's watchdog:
        # one election timeout (+ scheduling slack on a loaded machine).
        leader.wait(lambda: leader.status["role"] != LEADER, 2 * ET + 1.0,
                    "the isolated leader to step down")
        took = time.monotonic() - t0
        stepdowns.append(took)
        print("isolated leader %d stepped down after %.2fs" % (leader.id, took))
        check(took <= ET + 0.4, "isolated leader stepped down after %.2fs > election timeout"
              % took)
        leader.propose(6000, b"isolated")
        leader.wait(lambda: 6000 in leader.failed, 5, "PROPOSE_FAILED on the ex-leader")
        leader.read_index(6001)
        leader.wait(lambda: 6001 in leader.reads, 5, "READ_INDEX answer on the ex-leader")
        check(leader.reads[6001] == ("failed", "no leader"), leader.reads)
    finally:
        for m in followers:
            m.kill(signal.SIGCONT)
    c.leader(15)
    want = propose_all(c.leader(10), 7000, 10, b"f")
    wait_data(c.m.values(), want)
    wait_same_log(list(c.m.values()))
    check(all(d != b"isolated" for m in c.m.values() for _, d in m.normal_data()),
          "the isolated leader's proposal committed")
    print("ok: healed; one leader, one log")


def test_transfer(c):
    leader = c.leader(10)
    target = next(m for m in c.m.values() if m is not leader)
    t0 = time.monotonic()
    leader.transfer(target.id)
    target.wait(lambda: target.status["role"] == LEADER, 3 * ET, "leadership after TRANSFER")
    new = c.leader(3 * ET)
    check(new is target, "leadership went to %d, not %d" % (new.id, target.id))
    print("transfer took %.3fs" % (time.monotonic() - t0))
    print("ok: leadership transferred %d -> %d" % (leader.id, target.id))


def test_remove_leader(c):
    """Removing the leader itself: the others stop accepting its traffic, elect a new leader
    among themselves, and the removed one steps down (CheckQuorum)."""
    leader = c.leader(10)
    leader.conf_change(81, 2, leader.id, "", "")
    leader.wait(lambda: 81 in leader.confs, 10, "CONF_RESULT remove of the leader")
    check(leader.confs[81] == (True, ""), leader.confs)
    rest = [m for m in c.m.values() if m is not leader]
    t0 = time.monotonic()
    new = c.leader(4 * ET, among=rest)
    leader.wait(lambda: leader.status["role"] != LEADER, 3 * ET, "the removed leader to step down")
    print("removed leader %d: member %d leads after %.2fs" % (leader.id, new.id,
                                                           time.monotonic() - t0))
    for m in rest:
        check(leader.id not in m.status["members"], m.status)
    want = propose_all(new, 8000, 10, b"g")
    wait_data(rest, want)
    check(all(d not in want for _, d in leader.normal_data()), "the removed member still applies")
    print("ok: leader removed; the other two commit on")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="raft-cluster-")
    c = Cluster(a.bin, work, 3, ET_MS, HB_MS, extra=["--catchup-entries", "5"])
    ok = False
    failovers, stepdowns = [], []
    try:
        test_election_and_replication(c)
        dead = test_kill_leader(c, failovers)
        test_restart_recovers_from_wal(c, dead)
        test_snapshot_and_new_member(c, work)
        m4 = c.m[4]
        test_remove(c, m4)
        test_lagging_follower_gets_snapshot(c, work)
        test_partitioned_leader_steps_down(c, stepdowns)
        test_transfer(c)
        dead = test_kill_leader(c, failovers)
        dead.start()
        c.leader(10)
        wait_same_log(list(c.m.values()))
        test_remove_leader(c)
        ok = True
        print("failover times (s): %s; isolated-leader step-down (s): %s"
              % (["%.2f" % t for t in failovers], ["%.2f" % t for t in stepdowns]))
    finally:
        c.stop()
        if not ok:
            for m in c.m.values():
                print("---- stderr of member %d (last 3000 chars)" % m.id)
                print(m.stderr_text()[-3000:])
        if a.keep or not ok:
            print("work dir kept:", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
