"""The history checker in cluster mode (CTest `checker.cluster`, docs/CHECKER.md).

Three members (each reaching the others' Raft ports through netproxy.py), contended load from
many clients (4 mutexes, 3 semaphores with limits 2..4; WAIT, extends, releases, abandoned
holders), while the cluster goes through: kill -9 of the leader (x3), the leader partitioned from
both followers (x2), a rolling restart of every member, a follower down while 100,000 operations
are acknowledged (it must catch up by a snapshot the leader sends), and, when the server has
SEMLOCK.CLUSTER, a 4th member added and one removed under load.

Every request goes to the member the client believes is the leader; every reply (from whichever
member answered) is recorded with client-side send and receive times. A reply that never came,
an error reply or CLUSTERDOWN is an unknown. The proofs use one-sided bounds only (the same as
the single-node checker), so a finding is a real violation:

  over_limit       more grants surely held at one instant than the key's limit; a grant is surely
                   held from its reply until the earliest of send + TTL of its last acknowledged
                   acquire/extend and the send of any release of it (a TTL is a lower bound across
                   failovers: a new leader only lengthens deadlines)
  lost_before_ttl  a release or extend answered "not held" whose reply came before that bound
  fence_reused     two grants with one fence
  fence_order      grant A answered before grant B was sent, but B's fence is not above A's (any
                   keys, any leaders)
  info             SEMLOCK.INFO on any member lists more holders than the limit, or an owner with
                   another fence than its acknowledged grant
  error_reply      an error other than CLUSTERDOWN / a refusal to write on a follower
  leak             holders left on some member after every TTL ran out
  availability     failovers (kill or cut to a serving leader) with a median over 3 x the
                   election timeout or any one over 10 x (the p50 and max are printed), or a
                   member that does not catch up

Usage: cluster_checker.py --bin build-release/server/ttl-semlock [--phase S] [--seed N]
Exit status 1 on any violation, 2 on a set-up error.
"""
import argparse
import os
import shutil
import stat
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Member, RespError  # noqa: E402
from cluster_history import KEYS, analyse, self_test  # noqa: E402
from cluster_load import Filler, Observer, State, Worker  # noqa: E402
from test_cluster_partition import ProxiedCluster, wait_leader_among  # noqa: E402

ET = 1.0


# ---------------------------------------------------------------- the faults

class Abort(Exception):
    """The cluster cannot go on (members that keep exiting): analyse what was recorded."""


def last_error(member):
    try:
        with open(member.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "?"
    errs = [ln for ln in lines if "error:" in ln or "fatal" in ln.lower()]
    return (errs or lines or ["?"])[-1][-300:]


class Run:
    def __init__(self, args, pc):
        self.args = args
        self.pc = pc
        self.cl = pc.cluster
        self.s = State(self.cl)
        self.failovers = []   # (what, seconds to a serving leader)
        self.problems = []    # availability findings
        self.notes = []
        self.down = set()     # members this run stopped on purpose
        self.removed = []     # members removed from the group

    def check_members(self):
        """A member that exited on its own is an availability defect: reported, restarted
        (as a supervisor would); if it exits again the run cannot go on."""
        for m in self.cl.members:
            if m.alive() or m.id in self.down:
                continue
            self.problems.append("member %d exited on its own: %s" % (m.id, last_error(m)))
            try:
                m.start()
                time.sleep(2)
            except RuntimeError:
                pass
            if not m.alive():
                raise Abort("member %d exits again on restart: %s" % (m.id, last_error(m)))
        if self.s.leader is None or not self.s.leader.alive():
            try:
                self.s.leader = self.cl.wait_leader(timeout=10)
            except AssertionError as e:
                raise Abort("no leader: %s" % e)

    def settle(self, exclude=(), timeout=15):
        leader = self.cl.wait_leader(timeout=timeout, exclude=exclude)
        self.s.leader = leader
        return leader

    def load(self, seconds):
        time.sleep(seconds)

    def timed_failover(self, what, t0, members):
        try:
            leader = wait_leader_among(members, timeout=10 * ET)
        except AssertionError as e:
            self.problems.append("%s: %s" % (what, e))
            return None
        took = time.monotonic() - t0
        self.failovers.append((what, took))
        self.s.leader = leader
        print("  %s: leader %d after %.3f s" % (what, leader.id, took), flush=True)
        return leader

    def catch_up(self, member, what, timeout=30):
        self.check_members()
        try:
            target = self.leader_applied()
            self.cl.wait_applied(target, members=[member], timeout=timeout)
        except (AssertionError, OSError, ConnectionError, KeyError) as e:
            self.problems.append("%s: member %d did not catch up: %s; its last error: %s" %
                                 (what, member.id, str(e)[:300], last_error(member)))
            return False
        return True

    def leader_applied(self):
        """The leader's applied index. Its INFO reply may wait behind uncommitted batches, and
        an election under load closes such a connection unanswered: ask the leader again."""
        deadline = time.monotonic() + 30
        while True:
            leader = self.s.leader
            try:
                if leader is None or not leader.alive():
                    raise ConnectionError("no leader known")
                return int(leader.info()["applied_index"])
            except (OSError, ConnectionError, KeyError):
                if time.monotonic() > deadline:
                    raise
            try:
                self.s.leader = self.cl.wait_leader(timeout=10)
            except AssertionError:
                pass

    def kill_leader(self, n):
        old = self.s.leader
        t0 = time.monotonic()
        self.down.add(old.id)
        old.kill9()
        self.s.leader = None
        self.timed_failover("kill -9 #%d of leader %d" % (n, old.id), t0,
                            [m for m in self.cl.members if m.alive()])
        self.load(self.args.phase)
        old.start()
        self.down.discard(old.id)
        self.catch_up(old, "restart after kill -9 #%d" % n)

    def partition(self, n):
        old = self.s.leader
        t0 = time.monotonic()
        self.pc.isolate(old.id)
        self.s.leader = None
        self.timed_failover("partition #%d of leader %d" % (n, old.id), t0,
                            [m for m in self.cl.members if m is not old and m.alive()])
        self.load(self.args.phase)
        self.pc.heal()
        try:
            self.s.leader = self.cl.wait_leader(timeout=10)
        except AssertionError as e:
            self.problems.append("after healing partition #%d: %s" % (n, e))
        self.catch_up(old, "healed partition #%d" % n)

    def rolling_restart(self):
        for m in list(self.cl.members):
            if not m.alive():
                continue
            was_leader = m is self.s.leader
            t0 = time.monotonic()
            self.down.add(m.id)
            m.terminate()
            if was_leader:
                self.s.leader = None
                self.timed_failover("rolling restart: leader %d stopped" % m.id, t0,
                                    [x for x in self.cl.members if x.alive()])
            m.start()
            self.down.discard(m.id)
            self.catch_up(m, "rolling restart of %d" % m.id)
            try:
                self.s.leader = self.cl.wait_leader(timeout=10)
            except AssertionError as e:
                self.problems.append("rolling restart of %d: %s" % (m.id, e))
            self.load(self.args.phase / 2)

    def down_for(self, ops):
        leader = self.s.leader
        down = next(m for m in self.cl.members if m is not leader and m.alive())
        down_applied = int(down.info()["applied_index"])
        self.down.add(down.id)
        down.kill9()
        start = len(self.s.ops)
        filler = Filler(self.s, ops)
        filler.start()
        t0 = time.monotonic()

        def missed():
            return filler.done + sum(1 for op in self.s.ops[start:] if op.known())
        while missed() < ops and time.monotonic() - t0 < 120:
            time.sleep(0.2)
        filler.target = 0
        missed = missed()
        filler.join(10)
        print("  member %d was down for %d acknowledged operations (%.1f s)" %
              (down.id, missed, time.monotonic() - t0), flush=True)
        if missed < ops:
            self.problems.append("member down: only %d operations in 120 s" % missed)
        # The leader must have compacted past what the member has, or it sends entries, not a
        # snapshot. It snapshots when nothing is pending; under the clients' load that waits for
        # a quiet moment (reported when it takes long).
        t1 = time.monotonic()
        need = down_applied + self.args.catchup_entries + 1
        snap = 0
        while time.monotonic() - t1 < 15:
            try:
                inf = self.s.leader.info()
                snap = int(inf["snapshot_index"])
            except (OSError, ConnectionError, KeyError, AttributeError):
                pass
            if snap > need:
                break
            time.sleep(0.1)
        print("  the leader's snapshot passed index %d %.1f s after the load burst (at %d)" %
              (need, time.monotonic() - t1, snap), flush=True)
        if snap <= need:
            self.problems.append("the leader took no snapshot past index %d within 15 s under "
                                 "load (snapshot_index %d): its log is not compacted" %
                                 (need, snap))
        with open(down.log_path, "rb") as f:
            f.seek(0, 2)
            mark = f.tell()
        down.start()
        self.down.discard(down.id)
        if self.catch_up(down, "member down for %d ops" % missed, timeout=60):
            with open(down.log_path, "rb") as f:
                f.seek(mark)
                after = f.read().decode("utf-8", "replace")
            if "Cluster: snapshot installed" not in after:
                self.problems.append("member %d caught up without a snapshot from the leader"
                                     % down.id)
            else:
                print("  member %d caught up by snapshot" % down.id, flush=True)

    def admin(self, *args):
        """SEMLOCK.CLUSTER on the leader, asked again (of the leader then) when the connection
        closes or the group is down: under load a leader may lose its quorum for a moment, and
        its held replies go unanswered. A change whose first reply was lost may have been made:
        asked again, "already exists" (ADD) or "does not exist" (REMOVE) means it was."""
        deadline = time.monotonic() + 60
        retried = False
        while True:
            leader = self.s.leader
            try:
                if leader is None or not leader.alive():
                    raise ConnectionError("no leader known")
                reply = leader.call(*args)
                if not (isinstance(reply, RespError) and reply.startswith("CLUSTERDOWN")):
                    if retried and isinstance(reply, RespError) and (
                            "already exists" in reply or "does not exist" in reply):
                        return "OK"
                    return reply
            except (OSError, ConnectionError):
                pass
            if time.monotonic() > deadline:
                raise Abort("SEMLOCK.CLUSTER %s: no answer within 60 s" % " ".join(map(str, args)))
            retried = args[1] in ("ADD", "REMOVE")
            time.sleep(0.1)
            try:
                self.s.leader = self.cl.wait_leader(timeout=10)
            except AssertionError:
                pass

    def membership(self):
        """Adds a 4th member (its own Raft port, no proxy), then removes a follower, under load."""
        reply = self.admin("SEMLOCK.CLUSTER", "MEMBERS")
        if isinstance(reply, RespError) and "unknown command" in reply.lower():
            self.notes.append("add/remove member under load: SKIPPED (this build has no "
                              "SEMLOCK.CLUSTER command)")
            return
        new = Member(self.cl, max(m.id for m in self.cl.members) + 1)
        self.cl.members.append(new)
        reply = self.admin("SEMLOCK.CLUSTER", "ADD", new.id, new.raft, new.client)
        print("  SEMLOCK.CLUSTER ADD %d: %r" % (new.id, reply), flush=True)
        if isinstance(reply, RespError):
            self.problems.append("SEMLOCK.CLUSTER ADD %d answered -%s" % (new.id, reply))
            self.cl.members.remove(new)
            return
        new.start()
        if not self.catch_up(new, "added member %d" % new.id, timeout=30):
            return
        self.load(self.args.phase)
        leader = self.s.leader
        gone = next(m for m in self.cl.members if m is not leader and m is not new and m.alive())
        reply = self.admin("SEMLOCK.CLUSTER", "REMOVE", gone.id)
        print("  SEMLOCK.CLUSTER REMOVE %d: %r" % (gone.id, reply), flush=True)
        if isinstance(reply, RespError):
            self.problems.append("SEMLOCK.CLUSTER REMOVE %d answered -%s" % (gone.id, reply))
            return
        self.down.add(gone.id)
        gone.terminate()
        self.cl.members.remove(gone)
        self.removed.append(gone)
        try:
            self.s.leader = self.cl.wait_leader(timeout=10)
        except AssertionError as e:
            self.problems.append("after removing %d: %s" % (gone.id, e))
            return
        deadline = time.monotonic() + 15
        ids = []
        while time.monotonic() < deadline:
            try:
                ids = [x.split("@")[0] for x in self.s.leader.info()["members"].split(",")]
            except (OSError, ConnectionError, KeyError):  # an election: ask the new leader
                try:
                    self.s.leader = self.cl.wait_leader(timeout=10)
                except AssertionError:
                    pass
                continue
            if str(gone.id) not in ids:
                break
            time.sleep(0.1)
        print("  members now: %s" % ",".join(ids), flush=True)
        if str(gone.id) in ids:
            self.problems.append("member %d still listed after its removal: %r" % (gone.id, ids))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--phase", type=float, default=2.0, help="seconds of load between faults")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--down-ops", type=int, default=100000)
    ap.add_argument("--snapshot-entries", type=int, default=300)
    ap.add_argument("--catchup-entries", type=int, default=50)
    ap.add_argument("--skip", default="", help="comma-separated phases to leave out: "
                    "kill,partition,rolling,membership,down (to tell findings apart)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    args = ap.parse_args()
    self_test()
    print("cluster checker: seed %d (self-test passed)" % args.seed, flush=True)
    raft_bin = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "ttl-semlock-raft")
    tmp = tempfile.mkdtemp(prefix="semlock-cluster-checker-")
    # The sidecar keeps --catchup-entries entries behind a snapshot; a small number makes the
    # member that was down need the leader's snapshot within the test's time. The server runs
    # the ttl-semlock-raft next to its executable: a copy of the server next to a wrapper.
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    wrapper = os.path.join(bindir, "ttl-semlock-raft")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec "%s" "$@" --catchup-entries %d\n' %
                (raft_bin, args.catchup_entries))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
    server_bin = os.path.join(bindir, "ttl-semlock")
    shutil.copy2(args.bin, server_bin)
    os.makedirs(os.path.join(tmp, "cluster"))
    pc = ProxiedCluster(server_bin, n=3, workdir=os.path.join(tmp, "cluster"),
                        extra_args=["--cluster-snapshot-entries", str(args.snapshot_entries)])
    t_start = time.monotonic()
    run = Run(args, pc)
    workers = []
    try:
        with pc.cluster:
            run.settle()
            workers = [Worker(run.s, i, args.seed * 1000 + i) for i in range(args.workers)]
            for w in workers:
                w.start()
            observer = Observer(run.s)
            observer.start()
            run.load(args.phase)
            skip = set(filter(None, args.skip.split(",")))
            phases = [("kill", lambda n=n: run.kill_leader(n)) for n in range(1, args.kills + 1)]
            phases += [("partition", lambda n=n: run.partition(n))
                       for n in range(1, args.partitions + 1)]
            phases += [("rolling", run.rolling_restart),
                       ("membership", run.membership),
                       ("down", lambda: run.down_for(args.down_ops))]
            phases = [p for p in phases if p[0] not in skip] + [("load", lambda: run.load(
                args.phase))]
            if skip:
                run.notes.append("phases left out: %s" % ",".join(sorted(skip)))
            try:
                for name, phase in phases:
                    run.check_members()
                    print("  phase:", name, flush=True)
                    phase()
                run.check_members()
            except Abort as e:
                run.problems.append("ABORTED: %s" % e)
            run.s.stop.set()
            for w in workers:
                w.join(10)
            observer.join(5)
            # Every TTL (2.5 s at most, extended by ET per failover) runs out: no member keeps
            # a holder.
            deadline = time.monotonic() + 3 + (args.kills + args.partitions + 3) * ET + 5
            left = None
            while time.monotonic() < deadline:
                try:
                    left = {m.id: m.call("EXISTS", *[k for k, _ in KEYS])
                            for m in pc.cluster.members if m.alive()}
                except (OSError, ConnectionError):
                    left = None
                    break
                # A member that forwards the read may answer CLUSTERDOWN during an election:
                # not an answer, ask again.
                if not any(isinstance(v, RespError) for v in left.values()) and \
                        not any(left.values()):
                    break
                time.sleep(0.2)
            if left and any(left.values()):
                run.problems.append("leak: holders left after every TTL: %r" % left)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        print("set-up error: %r; logs in %s" % (e, tmp), flush=True)
        pc.proxy.stop()
        return 2
    pc.proxy.stop()
    found, errors, grants = analyse(run.s.ops, run.s.infos)
    times = [t for _, t in run.failovers]
    ops = len(run.s.ops)
    unknown = sum(1 for op in run.s.ops if not op.known())
    print("ops %d (acknowledged %d incl. filler), grants %d, unknown %d, infos %d, %.1f s" %
          (ops, run.s.acked, grants, unknown, len(run.s.infos), time.monotonic() - t_start))
    print("error replies: %r" % errors)
    if times:
        # The median is the group's failover time; one slow election on a machine whose cores
        # are shared with other tests (CI runs two at once) is not a defect, one that takes
        # ten election timeouts is.
        print("new leader: p50 %.3f s, max %.3f s over %d failovers (limits: p50 3 x ET = %.1f s,"
              " each 10 x ET)" % (statistics.median(times), max(times), len(times), 3 * ET))
        if statistics.median(times) > 3 * ET:
            run.problems.append("availability: median failover %.3f s" % statistics.median(times))
        for what, t in run.failovers:
            if t > 10 * ET:
                run.problems.append("availability: %s took %.3f s" % (what, t))
    for note in run.notes:
        print("note:", note)
    total = 0
    for kind, items in sorted(found.items()):
        total += len(items)
        print("%s: %d" % (kind, len(items)))
        for text in items[:3]:
            print("   ", text)
    for p in run.problems:
        total += 1
        print("availability:", p)
    if grants < 1000:
        print("too few grants (%d) to prove anything" % grants)
        total += 1
    print("TOTAL: %d violations" % total)
    if total == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        # The history, one op per line in send order, next to the members' logs.
        with open(os.path.join(tmp, "history.txt"), "w") as f:
            for op in sorted(run.s.ops, key=lambda o: o.send):
                f.write("%.6f %s m%d %s %s %s ttl=%d wait=%d -> %r\n" % (
                    op.send - t_start, "%.6f" % (op.recv - t_start) if op.recv else "-",
                    op.member, op.kind, op.key, op.owner, op.ttl, op.wait, op.reply))
            for mid, key, reply, t0, t1 in run.s.infos:
                f.write("%.6f %.6f m%d info %s -> %r\n" % (t0 - t_start, t1 - t_start, mid,
                                                           key, reply))
        print("logs and history.txt kept in", tmp)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
