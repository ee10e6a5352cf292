"""Cluster mode: a large journal, held only as a snapshot, imported by a new group (label `cluster`).

- a single node with persistence writes data keys (every type, with and without an expiry) and
  20,000 holders with 480-byte keys and 100-byte owners: its live state encodes to about 12.5 MB,
  more than one Raft entry may hold (etcd 3.4's WAL does not read back a record of 10 MiB or
  more);
- it snapshots (persistence.snapshot_every_bytes 4096, crossed last by a padding record) and is
  killed once its directory holds only `snapshot.dat` and a `journal.log` with no record after
  the snapshot;
- started as the only member of a new cluster, it imports that snapshot in several entries
  (chunks) applied as one: every holder with its owner and fence and every data key is there;
- (regression) with a snapshot after every applied entry, a restart right after the import
  comes back with it: a snapshot taken between two chunks had dropped them;
- (regression) a restart replays the Raft log: with the import in one entry, etcd's WAL refused
  to read it back and the member could not start again.

Usage: test_cluster_import_large.py --bin build-release/server/ttl-semlock
"""
import argparse
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_fixture import Cluster, check, wait_for  # noqa: E402
from test_cluster_import import data_state, single_node, write_data  # noqa: E402

HOLDERS = 20000
KEY_PAD = "k" * 470
OWNER_PAD = "o" * 90
BATCH = 500
SNAPSHOT_EVERY_BYTES = 4096  # past an epoch marker and a fence reservation, short of a pad
TIMEOUT = 120  # seconds: the import of 12.5 MB on a loaded machine


def key(i):
    return "big:%06d:%s" % (i, KEY_PAD)


def owner(i):
    return "w%06d:%s" % (i, OWNER_PAD)


def info_field(member, section, field):
    for line in member.call("INFO", section).splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no %s in INFO %s" % (field, section))


def sample_holders(member, fences):
    """Every 97th holder (and the last) as on the single node."""
    for i in list(range(0, HOLDERS, 97)) + [HOLDERS - 1]:
        info = member.call("SEMLOCK.INFO", key(i))
        got = [(h[0], int(h[1])) for h in info[3]] if info else []
        if got != [(owner(i), fences[i])]:
            return "holder %d: %r" % (i, got)
    return None


def journal_payloads(path):
    """The record payloads of a format-2/3 journal file (16-byte header, then frames of
    [u32 length][u32 crc][u32 header crc][payload])."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 16
    while pos + 12 <= len(data):
        n = struct.unpack_from("<I", data, pos)[0]
        out.append(data[pos + 12:pos + 12 + n])
        pos += 12 + n
    return out


def snapshot_only(journal_dir):
    """The directory holds a snapshot and no journal record after it: no journal.prev, and
    journal.log holds nothing but the data epoch marker each new journal starts with (a kData
    record "epoch" that names the snapshot it follows) and fence reservations (bookkeeping)."""
    if not os.path.exists(os.path.join(journal_dir, "snapshot.dat")):
        return False
    if os.path.exists(os.path.join(journal_dir, "journal.prev")):
        return False
    log = os.path.join(journal_dir, "journal.log")
    if not os.path.exists(log):
        return True
    return all((p[:1] == b"\x04" and b"epoch" in p) or p[:1] == b"\x03"
               for p in journal_payloads(log))


def snapshots_written(log_path):
    with open(log_path, errors="replace") as f:
        return f.read().count("Snapshot written")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    t_start = time.time()
    work = tempfile.mkdtemp(prefix="semlock-import-large-")
    journal_dir = os.path.join(work, "journal")
    os.environ["TTLSEMLOCK_PERSISTENCE_SNAPSHOT_EVERY_BYTES"] = str(SNAPSHOT_EVERY_BYTES)
    try:
        proc, conn = single_node(args.bin, journal_dir, os.path.join(work, "single.log"))
        del os.environ["TTLSEMLOCK_PERSISTENCE_SNAPSHOT_EVERY_BYTES"]
        fences = []
        for start in range(0, HOLDERS, BATCH):
            for i in range(start, min(HOLDERS, start + BATCH)):
                conn.send("SEMLOCK.ACQUIRE", key(i), 600000, "OWNER", owner(i))
            for i in range(start, min(HOLDERS, start + BATCH)):
                rep = conn.reply()
                if rep is None or rep[0] != owner(i):
                    raise AssertionError("holder %d not granted: %r" % (i, rep))
                fences.append(int(rep[1]))
        check(len(fences) == HOLDERS, "the single node grants %d holders" % HOLDERS)
        write_data(conn)
        want_data = data_state(conn)
        # Nothing changes from here on (the short data key has expired); then a snapshot taken
        # after that holds everything, and the journal after it holds no record.
        wait_for(lambda: conn.call("EXISTS", "tmpdata") == 0, TIMEOUT, "the short data key expired")
        single_log = os.path.join(work, "single.log")
        # A snapshot is due once the journal passes SNAPSHOT_EVERY_BYTES. A record past that
        # (a padded hash, then deleted) makes the next one hold everything above; the journal
        # that follows it holds only its epoch marker (and perhaps a fence reservation), far
        # below the threshold, so no further snapshot starts: the directory stays
        # snapshot-only, with no window to hit (an earlier version raced a snapshot every tick).
        seen = snapshots_written(single_log)
        conn.call("HSET", "pad", "f", "p" * (4 * SNAPSHOT_EVERY_BYTES))
        check(conn.call("DEL", "pad") == 1, "the padding key is gone again")
        wait_for(lambda: snapshots_written(single_log) > seen and snapshot_only(journal_dir),
                 TIMEOUT, "the single node snapshots its state")
        time.sleep(2.5)  # two cleanup ticks: the state above must be the steady one
        check(snapshot_only(journal_dir), "no snapshot started after the last one")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        conn.close()
        size = os.path.getsize(os.path.join(journal_dir, "snapshot.dat"))
        check(size > 11 * 1024 * 1024, "the snapshot is past 10 MiB (%d bytes)" % size)
        check(snapshot_only(journal_dir), "no journal record after the snapshot")

        # A snapshot after every applied entry: one falls between the import's chunks, which
        # live only in memory until the last one is applied (the member must not snapshot then:
        # a restart from that snapshot would replay the last chunks alone and lose the import).
        cl = Cluster(args.bin, n=1, extra_args=["--persistence-dir", journal_dir,
                                                "--cluster-snapshot-entries", "1"],
                     workdir=os.path.join(work, "c1"))
        os.makedirs(cl.workdir)
        with cl:
            leader = cl.wait_leader(timeout=TIMEOUT)
            check(info_field(leader, "semlock", "holders") == HOLDERS,
                  "the founder imported every holder")
            bad = sample_holders(leader, fences)
            check(bad is None, "the holders keep their owners and fences (%s)" % bad)
            got = data_state(leader)
            check(got == want_data, "the founder imported the data keys of the snapshot: %r" % got)
            with open(cl.members[0].log_path, errors="replace") as f:
                text = f.read()
            check("Cluster: journal imported" in text, "the import ended")
            line = next(ln for ln in text.splitlines() if "importing the journal" in ln)
            entries = re.search(r"entries=(\d+)", line)
            check(entries is not None and int(entries.group(1)) >= 3,
                  "it went in several entries: %s" % line)
            # Restarted before anything else is written: it comes back from its latest snapshot.
            cl.members[0].terminate()
            cl.members[0].start()
            leader = cl.wait_leader(timeout=TIMEOUT)
            check(info_field(leader, "semlock", "holders") == HOLDERS,
                  "restarted at once after the import, the member still has every holder")
            check(data_state(leader) == want_data, "and the data keys")
            check(leader.call("SEMLOCK.RELEASE", key(0), owner(0)) == 1,
                  "an imported holder releases")
            # A restart replays the log, the import's entries with it.
            cl.members[0].terminate()
            cl.members[0].start()
            leader = cl.wait_leader(timeout=TIMEOUT)
            check(info_field(leader, "semlock", "holders") == HOLDERS - 1,
                  "after a restart the member leads again with every holder (one released)")
            check(leader.call("EXISTS", key(0)) == 0 and leader.call("EXISTS", key(1)) == 1,
                  "the release stays, the rest is held")
            check(data_state(leader) == want_data, "and the data keys")
            with open(cl.members[0].log_path, errors="replace") as f:
                check(f.read().count("Cluster: journal imported") == 1,
                      "the journal was imported once")
        shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        print("work dir kept:", work)
        raise
    print("cluster import large: passed in %.1f s" % (time.time() - t_start))


if __name__ == "__main__":
    main()
