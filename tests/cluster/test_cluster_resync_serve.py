"""A leader rebuilt in its own term serves only once it has replayed what it had applied (label
`cluster`), driven by a scripted Raft sidecar (fake_sidecar.py) so that each step happens when
the test says.

A leader that steps down without losing leadership ("entries out of order", PROPOSE_FAILED, an
entry it cannot apply, a snapshot installed) resets its engine and sends RESYNC; the sidecar
answers with SNAPSHOT_INSTALL, then the ENTRIES after the snapshot (in one write, but a server
may read them in two). When the snapshot was taken in the current term, the server has "applied
an entry of its own term" as soon as the snapshot is in. Two regressions:
- before 623c209 it served from the snapshot alone: a key the entries after it grant was free,
  and the leader granted it again (a double grant in the log);
- 623c209 waited for the commit index of the latest STATUS, but the sidecar reports commit
  progress only on its next heartbeat tick: a rebuild right after a commit (an acquire already
  acknowledged) saw a commit index that did not count it, and served as before. The leader now
  also waits for the highest index it had applied.

Each round, on a fresh server with a one-member fake group (term 5):
  1. the no-op; C takes `other`; the server snapshots (cluster.snapshot_entries 2) at S;
  2. A takes `k` (entry S+1, committed and delivered, A is told its fence);
  3. a same-term rebuild: ENTRIES with a gap (as when entries sent before a RESYNC arrive after
     it), or PROPOSE_FAILED for a proposal (the server then also holds off one election
     timeout, which the test lets pass on the server's own clock: PINGs after its RESYNC);
  4. RESYNC is answered with SNAPSHOT_INSTALL(S) only: the ENTRIES frame with A's grant is held
     back (a real sidecar's frames can reach the server in two reads);
  5. B asks for `k`: it must be neither granted nor proposed; the server parks it (forwarding to
     the leader it will be once it serves);
  6. the held-back entries arrive: the server serves, B is told "not acquired", A still holds
     `k` with its fence and releases it, and the log never granted `k` twice.
Rounds: both triggers, each with the STATUS reporting A's commit at once (fails before 623c209),
and with that STATUS not sent yet (fails with 623c209 alone).

Conditions only (INFO fields, forwarded-request counter, frames seen by the fake); no sleeps.

Usage: test_cluster_resync_serve.py --bin build-release/server/ttl-semlock
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Connection, check, free_port, wait_for  # noqa: E402
from fake_sidecar import (ENTRIES, PING, RESYNC, FakeSidecar, bstr, decode_records,  # noqa: E402
                          frame, holds_in)

TIMEOUT = 30
ELECTION_MS, HEARTBEAT_MS = 400, 50
KEY = "k"


class Server:
    def __init__(self, bin_path, workdir):
        self.workdir = workdir
        self.port, self.metrics_port, raft_port = free_port(), free_port(), free_port()
        self.members = {"1": {"raft": "127.0.0.1:%d" % raft_port,
                              "client": "127.0.0.1:%d" % self.port}}
        self.fake = FakeSidecar(workdir, 1, self.members, term=5)
        self.fake.auto_resync = False  # every RESYNC is answered by the test
        args = [bin_path, "--port", str(self.port), "--metrics-port", str(self.metrics_port),
                "--cluster", "true", "--cluster-node-id", "1",
                "--cluster-members", json.dumps(self.members),
                "--cluster-dir", os.path.join(workdir, "m1"),
                "--cluster-raft-listen", self.members["1"]["raft"],
                "--cluster-election-timeout", "%dms" % ELECTION_MS,
                "--cluster-heartbeat-interval", "%dms" % HEARTBEAT_MS,
                "--cluster-request-timeout", "20s", "--cluster-snapshot-entries", "2"]
        self.log_path = os.path.join(workdir, "server.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.fake.env())
        self.fake.accept(TIMEOUT)

    def info(self):
        c = Connection(self.port, timeout=5)
        try:
            text = c.call("INFO", "cluster")
        finally:
            c.close()
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def info_or_none(self):
        try:
            return self.info()
        except (OSError, ConnectionError):
            return None

    def forwarded(self):
        """Requests forwarded so far (parked until there is a leader to take them); None when
        the metrics endpoint does not answer within 2 s."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("ttl_semlock_cluster_forwarded_requests_total"):
                return float(line.split()[-1])
        return 0.0  # no request forwarded yet (the forwarder is made on the first)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.fake.close()

    def log_tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-4000:].decode("utf-8", "replace")


def grants_of(key, proposals):
    """The owners the given proposals grant `key` to."""
    return [owner for _, data in proposals for owner in holds_in(data, key)]


def double_grants(fake, key):
    """Replays the committed log's holds and drops of `key` (an exclusive key): the holds that
    found another owner holding it. A hold by the owner that holds it (a deadline extended)
    is not one."""
    holder, out = None, []
    for i in sorted(fake.log):
        _, kind, data = fake.log[i]
        if kind != 0 or not data:
            continue
        for r in decode_records(data, 25):
            if r.get("key") != key:
                continue
            if r["type"] == 1:
                if holder not in (None, r["owner"]):
                    out.append((i, r["owner"], holder))
                holder = r["owner"]
            elif r["type"] == 2 and holder == r["owner"]:
                holder = None
    return out


def pings_after(fake, pos):
    with fake.cv:
        return sum(1 for t in fake.received[pos:] if t == PING)


def round_(bin_path, trigger, status_lag):
    name = "%s, %s STATUS" % (trigger, "lagging" if status_lag else "prompt")
    print("---- round: %s" % name)
    workdir = tempfile.mkdtemp(prefix="semlock-resync-")
    srv = Server(bin_path, workdir)
    fake = srv.fake
    ok = False
    try:
        # 1. The server's first RESYNC: an empty log; the no-op of term 5 makes it serve.
        fake.wait(lambda: fake.resyncs == 1, TIMEOUT, "the server sent its first RESYNC")
        fake.append(b"")
        fake.answer_resync()
        wait_for(lambda: (srv.info_or_none() or {}).get("serving") == "1", TIMEOUT,
                 "%s: the server serves as leader of term 5" % name)
        c = Connection(srv.port)
        rc = c.call("SEMLOCK.ACQUIRE", "other", 60000, "OWNER", "owner-c")
        check(isinstance(rc, list), "%s: C holds other" % name)
        fake.wait(lambda: fake.snapshots_taken == 1, TIMEOUT,
                  "%s: the server took a snapshot (SNAPSHOT_TAKEN)" % name)
        snap_index = fake.snapshot[0]
        check(fake.snapshot[1] == 5 and snap_index == fake.last,
              "%s: the snapshot is of term 5, at the last index %d" % (name, snap_index))
        check(all(r.get("key") != KEY for r in decode_records(fake.snapshot[2], 16)),
              "%s: the snapshot has no holder of %s" % (name, KEY))

        # 2. A takes k at S+1. With a lagging STATUS, that commit is not reported yet.
        fake.status_on_commit = not status_lag
        a = Connection(srv.port)
        ra = a.call("SEMLOCK.ACQUIRE", KEY, 60000, "OWNER", "owner-a")
        check(isinstance(ra, list) and ra[0] == "owner-a", "%s: A holds %s" % (name, KEY))
        a_fence = int(ra[1])
        a_index = fake.last
        check(a_index == snap_index + 1 and holds_in(fake.log[a_index][2], KEY) == ["owner-a"],
              "%s: A's grant is the committed entry %d, after the snapshot" % (name, a_index))
        fake.status_on_commit = True

        # 3. A same-term rebuild.
        fake.auto_commit = False  # from here until the held-back entries are in
        if trigger == "gap":
            # An entry past the next one: the server resyncs (once 1 s has passed since its last
            # RESYNC; before that it takes such a gap for entries that crossed that RESYNC).
            deadline = time.time() + TIMEOUT
            while fake.resyncs == 1:
                if time.time() > deadline:
                    raise AssertionError("%s: no RESYNC after a gap in ENTRIES" % name)
                gap = struct.pack("<IQQB", 1, a_index + 2, 5, 0) + bstr(b"")  # one empty entry
                fake.send_raw(frame(ENTRIES, gap))
                try:
                    fake.wait(lambda: fake.resyncs == 2, 0.2, "RESYNC")
                except AssertionError:
                    pass
        else:
            d = Connection(srv.port)
            d.send("SEMLOCK.ACQUIRE", "d-key", 60000, "OWNER", "owner-d")
            fake.wait(lambda: any(holds_in(data, "d-key") for _, data in fake.proposals),
                      TIMEOUT, "%s: D's acquire is proposed" % name)
            tag = next(t for t, data in fake.proposals if holds_in(data, "d-key"))
            fake.propose_failed(tag, "proposal dropped")
        fake.wait(lambda: fake.resyncs == 2, TIMEOUT,
                  "%s: the leader rebuilds in term 5 and sends RESYNC" % name)
        with fake.cv:
            resync_pos = max(i for i, t in enumerate(fake.received) if t == RESYNC)
            proposals_before = len(fake.proposals)

        # 4. Only the snapshot: the ENTRIES with A's grant are held back.
        fake.send_raw(fake.snapshot_install_frame())

        def proposed_since():
            with fake.cv:
                return fake.proposals[proposals_before:]

        # Until it proposes (it serves), or: it has installed the snapshot, and its clock has
        # passed the hold after a PROPOSE_FAILED (an election timeout) plus a heartbeat. The
        # k-th PING after its RESYNC left at least (k-1) heartbeats after it, and the loop checks
        # whether it may serve right after each.
        need = ELECTION_MS // HEARTBEAT_MS + 3
        wait_for(lambda: proposed_since() or (
            pings_after(fake, resync_pos) >= need and
            (srv.info_or_none() or {}).get("applied_index") == str(snap_index)), TIMEOUT,
            "%s: the snapshot is installed and the server has had its chance to serve" % name)

        # 5. B asks for k: parked (forwarded to the leader this member will be), not granted.
        before = srv.forwarded() or 0.0
        b = Connection(srv.port)
        b.send("SEMLOCK.ACQUIRE", KEY, 60000, "OWNER", "owner-b")
        wait_for(lambda: "owner-b" in grants_of(KEY, proposed_since()) or
                 (srv.forwarded() or 0.0) > before, TIMEOUT,
                 "%s: B's acquire is either granted or parked" % name)
        check("owner-b" not in grants_of(KEY, proposed_since()),
              "%s: B is not granted %s while the entry granting it to A is not replayed "
              "(proposed: %r)" % (name, KEY, [holds_in(d, KEY) for _, d in proposed_since()]))
        check(proposed_since() == [],
              "%s: the leader proposes nothing (does not serve) before the entries after the "
              "snapshot are replayed" % name)
        inf = srv.info()
        check(inf["role"] == "leader" and inf["serving"] == "0" and
              inf["applied_index"] == str(snap_index),
              "%s: leader, not serving, applied %d (%r)" % (name, snap_index, inf))

        # 6. The held-back entries: the server serves; B is told k is taken.
        fake.auto_commit = True
        fake.deliver(snap_index + 1)
        fake.send_status()
        wait_for(lambda: (srv.info_or_none() or {}).get("serving") == "1", TIMEOUT,
                 "%s: the leader serves once it has applied %d" % (name, a_index))
        b.sock.settimeout(TIMEOUT)
        rb = b.reply()
        check(rb is None, "%s: B is told %s is not acquired (got %r)" % (name, KEY, rb))
        info_k = c.call("SEMLOCK.INFO", KEY)
        holders = info_k[info_k.index("holders") + 1]
        check([h[:2] for h in holders] == [["owner-a", a_fence]],
              "%s: A still holds %s with fence %d (%r)" % (name, KEY, a_fence, holders))
        check(a.call("SEMLOCK.RELEASE", KEY, "owner-a") == 1,
              "%s: A releases %s" % (name, KEY))
        rb2 = b.call("SEMLOCK.ACQUIRE", KEY, 60000, "OWNER", "owner-b")
        check(isinstance(rb2, list) and int(rb2[1]) > a_fence,
              "%s: B now takes %s, with a fence above A's" % (name, KEY))
        check(double_grants(fake, KEY) == [],
              "%s: the committed log never grants %s over its holder" % (name, KEY))
        for conn in (a, b, c):
            conn.close()
        ok = True
    finally:
        srv.stop()
        if not ok:
            print("---- server log tail (%s) ----\n%s" % (workdir, srv.log_tail()))
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    for trigger in ("gap", "propose_failed"):
        for status_lag in (False, True):
            round_(args.bin, trigger, status_lag)
    print("cluster resync serve: passed")


if __name__ == "__main__":
    main()
