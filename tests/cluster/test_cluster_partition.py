"""Cluster mode: the leader partitioned from both followers (label `cluster`).

Every member reaches every other member's Raft port through its own directed link of a TCP
proxy (netproxy.py) that the test cuts and heals. With 3 members:

- cut the leader's four links: no acquire sent to the old leader after the cut is ever granted
  (it cannot commit), and it stops being a serving leader within about an election timeout
  (CheckQuorum: bounded by 2 x ET plus slack, as raft checks quorum once per ET);
- the two followers elect a leader among themselves (timed) that serves: it grants the very keys
  the old leader was asked for, to other owners;
- after healing: one leader that every member names, one history (same commit and applied
  index, same holders with the same fences everywhere), and none of the old leader's pending
  acquires was granted then either.

Usage: test_cluster_partition.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, RespError, check, free_port  # noqa: E402
from netproxy import NetProxy  # noqa: E402

ET = 1.0


class ProxiedCluster:
    """A Cluster whose members reach each other's Raft ports only through `links[(i, j)]`."""

    def __init__(self, bin_path, n=3, **kw):
        self.ports = {}
        self.cluster = Cluster(bin_path, n=n, members_map=self.view, **kw)
        targets = {}
        # free_port() only asks the kernel for a port nobody holds now; the members bind theirs
        # later, so keep the proxy off them (a link listening on its own target's port would
        # connect to itself without end, and the member could not bind).
        taken = {p for m in self.cluster.members for p in (m.port, m.metrics_port, m.raft_port)}
        for a in self.cluster.members:
            for b in self.cluster.members:
                if a.id != b.id:
                    port = free_port()
                    while port in taken:
                        port = free_port()
                    taken.add(port)
                    self.ports[(a.id, b.id)] = port
                    targets[port] = ("127.0.0.1", b.raft_port)
        self.proxy = NetProxy(targets)

    def view(self, member_id):
        out = {}
        for m in self.cluster.members:
            port = self.ports.get((member_id, m.id))
            # Members added later (no proxy on their links) are reached directly.
            raft = m.raft if port is None else "127.0.0.1:%d" % port
            out[str(m.id)] = {"raft": raft, "client": m.client}
        return out

    def isolate(self, member_id):
        for (a, b), port in self.ports.items():
            if member_id in (a, b):
                self.proxy.cut(port)

    def heal(self):
        self.proxy.heal_all()


def wait_leader_among(members, timeout):
    """A serving leader among `members` that all of them name."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            infos = {m.id: m.info() for m in members}
        except (OSError, ConnectionError):
            time.sleep(0.02)
            continue
        leaders = [i for i, inf in infos.items()
                   if inf.get("role") == "leader" and inf.get("serving") == "1"]
        if len(leaders) == 1 and all(inf.get("leader_id") == str(leaders[0])
                                     for inf in infos.values()):
            return next(m for m in members if m.id == leaders[0])
        time.sleep(0.02)
    raise AssertionError("no leader among %s within %ss" % ([m.id for m in members], timeout))


class OldLeaderClient(threading.Thread):
    """Keeps asking the (old) leader for fresh keys, one request in flight, and records
    (send, recv or None, reply) per attempt. A reply that never comes is an unknown."""

    def __init__(self, member, prefix):
        super().__init__(daemon=True)
        self.member = member
        self.prefix = prefix
        self.records = []  # [key, send, recv, reply]
        self.stop = threading.Event()

    def run(self):
        i = 0
        conn = None
        while not self.stop.is_set():
            key = "%s%d" % (self.prefix, i)
            i += 1
            rec = [key, time.time(), None, None]
            self.records.append(rec)
            try:
                if conn is None:
                    # Short: a member that forwards holds a request while it knows no leader.
                    conn = self.member.connect(timeout=ET / 2)
                conn.send("SEMLOCK.ACQUIRE", key, 60000, "OWNER", "old")
                reply = conn.reply()
                rec[2], rec[3] = time.time(), reply
            except (OSError, ConnectionError):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()


def holders(member, key):
    """(owner, fence) pairs of `key` on `member`, sorted."""
    info = member.call("SEMLOCK.INFO", key)
    if info is None:
        return []
    fields = dict(zip(info[0::2], info[1::2]))
    out = []
    for h in fields.get("holders") or []:
        out.append((h[0], h[1]))
    return sorted(out)


def partition(bin_path):
    pc = ProxiedCluster(bin_path, n=3, workdir=os.environ.get("CLUSTER_WORKDIR"))
    try:
        with pc.cluster as cl:
            old = cl.wait_leader()
            followers = [m for m in cl.members if m is not old]
            pre = [old.call("SEMLOCK.ACQUIRE", "pre%d" % i, 120000, "OWNER", "pre")
                   for i in range(20)]
            check(all(isinstance(r, list) for r in pre), "20 holders granted before the partition")
            cl.wait_applied(int(old.info()["applied_index"]))
            client = OldLeaderClient(old, "p")
            client.start()
            time.sleep(0.5)
            t_cut = time.time()
            pc.isolate(old.id)
            t_cut_done = time.time()
            # Watch the old leader's role until it steps down.
            stepped = None
            while time.time() - t_cut < 3 * ET + 1:
                try:
                    inf = old.info()
                except (OSError, ConnectionError):
                    # A reply held in the step-down's iteration is closed unanswered.
                    continue
                if inf.get("role") != "leader" or inf.get("serving") != "1":
                    stepped = time.time() - t_cut
                    break
                time.sleep(0.01)
            check(stepped is not None and stepped <= 2 * ET + 0.5,
                  "the isolated leader stops serving %.3f s after the cut (<= 2 x ET + 0.5)"
                  % (stepped if stepped is not None else -1))
            new = wait_leader_among(followers, timeout=3 * ET + 2)
            elected = time.time() - t_cut
            print("majority leader %d elected %.3f s after the cut" % (new.id, elected))
            check(new.id != old.id, "the majority elects one of its own")
            # The keys the old leader was asked for after the cut: the new leader grants them
            # to others (the old leader cannot have committed them).
            asked = [r[0] for r in client.records if r[1] >= t_cut_done][-30:]
            taken = 0
            for key in asked:
                r = new.call("SEMLOCK.ACQUIRE", key, 120000, "OWNER", "new")
                if isinstance(r, list) and r[0] == "new":
                    taken += 1
            time.sleep(0.3)
            client.stop.set()
            client.join(3 * ET)
            after = [r for r in client.records if r[1] >= t_cut_done]
            granted_after = [r for r in after if isinstance(r[3], list)]
            print("old leader: %d acquires sent after the cut, replies: %s" %
                  (len(after), sorted({str(r[3]) for r in after})))
            check(len(after) > 0, "the client kept asking the old leader")
            check(not granted_after,
                  "no acquire sent to the old leader after the cut was granted while it was cut "
                  "off (%r)"
                  % granted_after[:3])
            check(taken == len(asked) > 0,
                  "the majority's leader grants all %d keys the old leader was asked for after "
                  "the cut" % taken)
            check(isinstance(new.call("SEMLOCK.ACQUIRE", "during", 120000, "OWNER", "maj"), list),
                  "the majority serves new work")
            # Heal: one leader, one history.
            late = old.connect(timeout=5 * ET)
            late.send("SEMLOCK.ACQUIRE", asked[-1], 60000, "OWNER", "late")
            pc.heal()
            t_heal = time.time()
            leader = cl.wait_leader(timeout=10)
            print("after healing: leader %d (%.3f s)" % (leader.id, time.time() - t_heal))
            try:
                late_reply = late.reply()
            except (OSError, ConnectionError):
                late_reply = "closed"
            late.close()
            check(not isinstance(late_reply, list),
                  "an acquire sent to the old leader during the cut, for a key the majority gave "
                  "away, is not granted after healing (%r)"
                  % (late_reply,))
            check(isinstance(leader.call("SEMLOCK.ACQUIRE", "healed", 120000, "OWNER", "h"), list),
                  "the healed cluster serves")
            cl.wait_applied(int(leader.info()["applied_index"]), timeout=10)
            infos = {m.id: m.info() for m in cl.members}
            check(len({inf["leader_id"] for inf in infos.values()}) == 1 and
                  sum(inf["role"] == "leader" for inf in infos.values()) == 1,
                  "one leader, named by every member")
            check(len({inf["term"] for inf in infos.values()}) == 1, "one term everywhere")
            keys = ["pre%d" % i for i in range(20)] + asked + ["during", "healed"]
            want = {k: holders(leader, k) for k in keys}
            for m in cl.members:
                got = {k: holders(m, k) for k in keys}
                check(got == want, "member %d holds exactly the leader's holders and fences"
                      % m.id)
            check(all(len(want[k]) == 1 and want[k][0][0] == "new" for k in asked),
                  "each key asked of the old leader after the cut has exactly one holder: the "
                  "majority's owner")
            check(all(len(want["pre%d" % i]) == 1 for i in range(20)),
                  "the holders granted before the partition survived it")
            print(pc.proxy.stats())
    finally:
        pc.proxy.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t = time.time()
    partition(args.bin)
    print("cluster partition: passed in %.1f s" % (time.time() - t))


if __name__ == "__main__":
    main()
