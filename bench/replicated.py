#!/usr/bin/env python3
"""bench/run --replicated: a 3-member ttl-semlock cluster side by side with a 3-member etcd 3.4
cluster (Debian's etcd-server), in one run, on loopback.

Both clusters: 3 members on this machine, each with its own data directory in the same temp
dir (the same disk, fdatasync per commit on both), election timeout 1 s, heartbeat 100 ms.
Clients: ttl-semlock with semlock-loadgen (one thread and connection per client, talking to the
leader), etcd with bench/etcdbench (the official Go client, clientv3 + concurrency.Mutex, built
here from Debian's golang-etcd-server-dev in GOPATH mode). A/B order alternates per repetition.

Workloads:
  cycle cN      acquire + release of uncontended keys by N clients, cycles/s; etcd "lease" is a
                TTL lock done etcd's way: grant a lease, Mutex.Lock on it, Unlock, revoke;
                etcd "session" reuses one lease per client (no per-lock TTL): its cheapest cycle
  contend       32 clients on 4 keys, holding 1 ms; handoff = the holder's release request to
                the next holder's grant (ttl-semlock: WAIT; etcd: Mutex waiters watch)
  failover      kill -9 of the leader until a write succeeds on another member
  profile       syscall time of the leader's Raft sidecar and server under the c64 cycle load
                (strace -c -f -w), to show what bounds the rate

Writes bench/REPLICATED.md and <build>/bench-replicated.json.

  bench/replicated.py --build-dir build-release [--quick]
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from cluster_fixture import Cluster, free_port  # noqa: E402

ET_MS = 1000
HB_MS = 100


def log(msg):
    print("[replicated %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def build_etcdbench(build_dir):
    gopath = os.path.join(build_dir, "etcdbench-gopath")
    src = os.path.join(gopath, "src")
    os.makedirs(src, exist_ok=True)
    link = os.path.join(src, "etcdbench")
    if not os.path.islink(link):
        os.symlink(os.path.join(BENCH, "etcdbench"), link)
    out = os.path.join(build_dir, "bench", "etcdbench")
    env = dict(os.environ, GOPATH=gopath + ":/usr/share/gocode", GO111MODULE="off")
    subprocess.run(["go", "build", "-o", out, "."], cwd=link, env=env, check=True)
    return out


class Etcd:
    """A 3-member etcd cluster on loopback."""

    def __init__(self, workdir, n=3):
        self.workdir = workdir
        self.members = []
        for i in range(n):
            self.members.append({"name": "e%d" % (i + 1), "client": free_port(),
                                 "peer": free_port(), "proc": None,
                                 "dir": os.path.join(workdir, "etcd%d" % (i + 1))})
        self.initial = ",".join("%s=http://127.0.0.1:%d" % (m["name"], m["peer"])
                                for m in self.members)

    def endpoints(self, members=None):
        return ",".join("127.0.0.1:%d" % m["client"] for m in (members or self.members))

    def start_member(self, m, state="new"):
        url = "http://127.0.0.1:%d" % m["client"]
        peer = "http://127.0.0.1:%d" % m["peer"]
        args = ["etcd", "--name", m["name"], "--data-dir", m["dir"],
                "--listen-client-urls", url, "--advertise-client-urls", url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", self.initial, "--initial-cluster-state", state,
                "--heartbeat-interval", str(HB_MS), "--election-timeout", str(ET_MS),
                "--logger", "zap", "--log-level", "error"]
        logf = open(os.path.join(self.workdir, m["name"] + ".log"), "ab")
        m["proc"] = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()

    def start(self):
        for m in self.members:
            self.start_member(m)
        self.wait_healthy()
        return self

    def ctl(self, *args, endpoints=None, timeout="2s"):
        return subprocess.run(["etcdctl", "--endpoints", endpoints or self.endpoints(),
                               "--command-timeout", timeout] + list(args),
                              capture_output=True, text=True,
                              env=dict(os.environ, ETCDCTL_API="3"))

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.ctl("put", "/probe", "1").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("etcd cluster not healthy")

    def leader(self):
        p = self.ctl("endpoint", "status", "-w", "json")
        for st in json.loads(p.stdout):
            if st["Status"]["header"]["member_id"] == st["Status"]["leader"]:
                port = int(st["Endpoint"].rsplit(":", 1)[1])
                return next(m for m in self.members if m["client"] == port)
        raise RuntimeError("no etcd leader")

    def pids(self):
        return [m["proc"].pid for m in self.members if m["proc"] and m["proc"].poll() is None]

    def stop(self):
        for m in self.members:
            if m["proc"] and m["proc"].poll() is None:
                m["proc"].terminate()
                try:
                    m["proc"].wait(10)
                except subprocess.TimeoutExpired:
                    m["proc"].kill()


def run_json(argv, timeout=120):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv[0], p.stderr.strip()[-500:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, args):
        self.args = args
        self.semlock = os.path.join(args.build_dir, "server", "ttl-semlock")
        self.loadgen = os.path.join(args.build_dir, "bench", "loadgen", "semlock-loadgen")
        self.records = []  # {case, side, rep, ...metrics}
        self.notes = []

    def add(self, case, side, rep, m):
        m = dict(m, case=case, side=side, rep=rep)
        self.records.append(m)
        show = {k: round(v, 1) for k, v in m.items() if isinstance(v, float)}
        log("%-12s %-22s rep %d: %s" % (case, side, rep, show))

    def semlock_cluster(self, work):
        os.makedirs(work, exist_ok=True)
        cl = Cluster(self.semlock, n=3, workdir=work,
                     election_timeout="%dms" % ET_MS, heartbeat_interval="%dms" % HB_MS)
        cl.start()
        cl.wait_leader()
        return cl

    def loadgen_run(self, port, *args):
        return run_json([self.loadgen] + list(args) + ["--port", str(port), "--side", "semlock"])

    def cycles(self, cl, et, rep):
        dur = str(self.args.duration)
        sides = ["ttl-semlock", "etcd lease", "etcd session"]
        if rep % 2:
            sides.reverse()
        for n in self.args.clients:
            for side in sides:
                if side == "ttl-semlock":
                    leader = cl.wait_leader()
                    m = self.loadgen_run(leader.port, "cycle", "--clients", str(n),
                                         "--duration", dur)
                else:
                    m = run_json([self.etcdbench, "cycle", "--endpoints", et.endpoints(),
                                  "--clients", str(n), "--duration", dur, "--mode",
                                  side.split()[1]])
                self.add("cycle c%d" % n, side, rep, m)

    def contend(self, cl, et, rep):
        dur = str(self.args.duration)
        for side in (["ttl-semlock", "etcd"] if rep % 2 == 0 else ["etcd", "ttl-semlock"]):
            if side == "ttl-semlock":
                m = self.loadgen_run(cl.wait_leader().port, "contend", "--clients", "32",
                                     "--keys", "4", "--hold-us", "1000", "--think-us", "0",
                                     "--duration", dur)
            else:
                m = run_json([self.etcdbench, "contend", "--endpoints", et.endpoints(),
                              "--clients", "32", "--keys", "4", "--hold-us", "1000",
                              "--duration", dur])
            self.add("contend", side, rep, m)

    def failover_semlock(self, cl, rep):
        leader = cl.wait_leader()
        others = [m for m in cl.members if m is not leader]
        t0 = time.monotonic()
        leader.kill9()
        i = 0
        while time.monotonic() - t0 < 15:
            for m in others:
                i += 1
                try:
                    r = m.call("SEMLOCK.ACQUIRE", "fo%d-%d" % (rep, i), 10000)
                except (OSError, ConnectionError):
                    continue
                if isinstance(r, list):
                    took = time.monotonic() - t0
                    self.add("failover", "ttl-semlock", rep, {"seconds": took})
                    leader.start()
                    cl.wait_leader(timeout=15)
                    return
            time.sleep(0.005)
        self.notes.append("ttl-semlock failover %d: no write accepted within 15 s" % rep)
        leader.start()

    def failover_etcd(self, et, rep):
        leader = et.leader()
        others = [m for m in et.members if m is not leader]
        t0 = time.monotonic()
        leader["proc"].send_signal(signal.SIGKILL)
        leader["proc"].wait()
        i = 0
        while time.monotonic() - t0 < 15:
            i += 1
            if et.ctl("put", "/fo/%d/%d" % (rep, i), "x", endpoints=et.endpoints(others),
                      timeout="300ms").returncode == 0:
                self.add("failover", "etcd", rep, {"seconds": time.monotonic() - t0})
                break
        else:
            self.notes.append("etcd failover %d: no write accepted within 15 s" % rep)
        et.start_member(leader, state="existing")
        et.wait_healthy()

    def profile(self, cl, et):
        """strace -c -f -w on the leaders while the c64 cycle load runs (slows them: the split,
        not the rate, is the result)."""
        if shutil.which("strace") is None:
            self.notes.append("profile: strace not installed")
            return
        out = {}
        leader = cl.wait_leader()
        targets = {"ttl-semlock server": [leader.proc.pid],
                   "ttl-semlock-raft sidecar": leader.sidecar_pids()}
        for name, pids in targets.items():
            out[name] = self.strace_during(pids, lambda: self.loadgen_run(
                leader.port, "cycle", "--clients", "64", "--duration", "2"))
        etl = et.leader()
        out["etcd leader"] = self.strace_during([etl["proc"].pid], lambda: run_json(
            [self.etcdbench, "cycle", "--endpoints", et.endpoints(), "--clients", "64",
             "--duration", "2", "--mode", "lease"]))
        self.profiles = out
        self.fsync = self.disk_fsync()

    def cpu_profile(self, cl, et):
        """Under the c64 cycle load (no tracing): CPU seconds per second of every process of each
        cluster (all members), and the leader's commit metrics: what bounds the rate, the disk
        or the processors?"""
        def ticks(pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return int(fields[11]) + int(fields[12])
            except OSError:
                return 0
        hz = os.sysconf("SC_CLK_TCK")

        def metrics(port, names):
            import urllib.request
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                          timeout=5).read().decode()
            out = {}
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] in names:
                    out[parts[0]] = out.get(parts[0], 0.0) + float(parts[1])
            return out
        res = {}

        def semlock_side(cl):
            leader = cl.wait_leader()
            groups = {"servers": [m.proc.pid for m in cl.members],
                      "sidecars": [p for m in cl.members for p in m.sidecar_pids()]}
            names = ["ttl_semlock_cluster_proposal_duration_seconds_sum",
                     "ttl_semlock_cluster_proposal_duration_seconds_count"]
            c0 = {g: sum(ticks(p) for p in ps) for g, ps in groups.items()}
            m0 = metrics(leader.metrics_port, names)
            t0 = time.monotonic()
            m = self.loadgen_run(leader.port, "cycle", "--clients", "64", "--duration", "3")
            dt = time.monotonic() - t0
            m1 = metrics(leader.metrics_port, names)
            props = m1[names[1]] - m0[names[1]]
            return {
                "cycles_per_s": m["cycles_per_s"],
                "cpu_cores": {g: (sum(ticks(p) for p in ps) - c0[g]) / hz / dt
                              for g, ps in groups.items()},
                "proposals_per_s": props / dt,
                "cycles_per_proposal": m["cycles"] / props if props else None,
                "proposal_ms": (m1[names[0]] - m0[names[0]]) / props * 1000 if props else None}
        res["ttl-semlock"] = semlock_side(cl)
        # The same with every member's Raft log in memory (tmpfs: fdatasync returns at once):
        # what the disk costs. Not a configuration to run: a power loss would lose the log.
        if os.path.isdir("/dev/shm"):
            shm = tempfile.mkdtemp(prefix="semlock-bench-shm-", dir="/dev/shm")
            try:
                cl2 = self.semlock_cluster(shm)
                try:
                    res["ttl-semlock, log on tmpfs"] = semlock_side(cl2)
                finally:
                    cl2.stop()
            finally:
                shutil.rmtree(shm, ignore_errors=True)
        pids = [x["proc"].pid for x in et.members]
        enames = ["etcd_disk_wal_fsync_duration_seconds_sum",
                  "etcd_disk_wal_fsync_duration_seconds_count",
                  "etcd_server_proposals_committed_total"]
        etl = et.leader()
        c0 = sum(ticks(p) for p in pids)
        e0 = metrics(etl["client"], enames)
        t0 = time.monotonic()
        m = run_json([self.etcdbench, "cycle", "--endpoints", et.endpoints(), "--clients", "64",
                      "--duration", "3", "--mode", "lease"])
        dt = time.monotonic() - t0
        e1 = metrics(etl["client"], enames)
        fs = e1[enames[1]] - e0[enames[1]]
        res["etcd lease"] = {
            "cycles_per_s": m["cycles_per_s"],
            "cpu_cores": {"etcd": (sum(ticks(p) for p in pids) - c0) / hz / dt},
            "proposals_per_s": (e1[enames[2]] - e0[enames[2]]) / dt,
            "wal_fsync_ms": (e1[enames[0]] - e0[enames[0]]) / fs * 1000 if fs else None,
            "wal_fsyncs_per_s": fs / dt}
        self.cpu = res

    def disk_fsync(self):
        """The disk's own write + fdatasync latency (4 KiB appends), in the run's temp dir."""
        path = os.path.join(self.workdir, "fsync.probe")
        lat = []
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for _ in range(200):
                t = time.perf_counter()
                os.write(fd, b"x" * 4096)
                os.fdatasync(fd)
                lat.append(time.perf_counter() - t)
        finally:
            os.close(fd)
            os.remove(path)
        lat.sort()
        return {"p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3}

    def strace_during(self, pids, load):
        path = os.path.join(self.workdir, "strace.out")
        argv = ["strace", "-c", "-f", "-w", "-o", path]
        for p in pids:
            argv += ["-p", str(p)]
        st = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        m = load()
        st.send_signal(signal.SIGINT)
        st.wait(10)
        rows = []
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
                    try:
                        rows.append((parts[-1], float(parts[0]), float(parts[1]),
                                     int(parts[3]), float(parts[2])))
                    except ValueError:
                        pass
        rows.sort(key=lambda r: -r[1])
        sync = [r for r in rows if r[0] in ("fdatasync", "fsync")]
        return {"cycles_per_s_under_strace": m.get("cycles_per_s"),
                "cycles": m.get("cycles"),
                "fsync_calls": sum(r[3] for r in sync),
                "fsync_avg_us": (sum(r[2] for r in sync) * 1e6 / sum(r[3] for r in sync)
                                 if sync and sum(r[3] for r in sync) else None),
                "top": [{"syscall": r[0], "pct_time": r[1], "seconds": r[2], "calls": r[3]}
                        for r in rows[:6]]}

    def run(self):
        a = self.args
        self.etcdbench = build_etcdbench(a.build_dir)
        self.workdir = tempfile.mkdtemp(prefix="semlock-bench-replicated-")
        self.t0 = time.monotonic()
        cl = et = None
        try:
            cl = self.semlock_cluster(os.path.join(self.workdir, "semlock"))
            et = Etcd(self.workdir).start()
            for rep in range(a.reps):
                self.cycles(cl, et, rep)
                self.contend(cl, et, rep)
            for rep in range(a.failovers):
                if rep % 2 == 0:
                    self.failover_semlock(cl, rep)
                    self.failover_etcd(et, rep)
                else:
                    self.failover_etcd(et, rep)
                    self.failover_semlock(cl, rep)
            self.profiles = {}
            self.fsync = None
            self.cpu = None
            if a.profile:
                self.cpu_profile(cl, et)
                self.profile(cl, et)
        finally:
            if cl is not None:
                cl.stop()
            if et is not None:
                et.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.write()

    def med(self, case, side, key):
        vals = [r[key] for r in self.records if r["case"] == case and r["side"] == side
                and r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def write(self):
        a = self.args
        with open(os.path.join(a.build_dir, "bench-replicated.json"), "w") as f:
            json.dump({"records": self.records, "profiles": self.profiles, "cpu": self.cpu,
                       "fsync": self.fsync}, f, indent=1)
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        etcd_v = subprocess.run(["etcd", "--version"], capture_output=True,
                                text=True).stdout.splitlines()[0]
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        L = ["# Replicated: ttl-semlock cluster vs etcd",
             "",
             "Generated by `bench/run --replicated%s` on %s in %.0f s (%d repetition%s, medians; "
             "A/B order alternating)." % (" --quick" if a.quick else "",
                                          datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
                                          time.monotonic() - self.t0, a.reps,
                                          "" if a.reps == 1 else "s"),
             "",
             "- ttl-semlock: 3 members (commit %s, Release), Raft sidecar on etcd 3.4's raft/wal"
             " (Debian), election timeout %d ms, heartbeat %d ms. Clients talk to the leader." %
             (rev, ET_MS, HB_MS),
             "- etcd: 3 members, `%s` (Debian etcd-server), the same timeouts; client: "
             "clientv3 + concurrency.Mutex (bench/etcdbench)." % etcd_v,
             "- All six processes and the clients share this machine's %d CPUs and one disk "
             "(load average after: %s): compare the ratios, not absolute numbers." %
             (os.cpu_count(), load),
             "",
             "## Acquire + release cycles/s (uncontended keys)",
             "",
             "| clients | ttl-semlock | etcd lease+lock+unlock | ratio | etcd session lock+unlock"
             " | ratio | ttl-semlock acquire p99 ms | etcd (lease) acquire p99 ms |",
             "|---|---|---|---|---|---|---|---|"]
        for n in a.clients:
            c = "cycle c%d" % n
            s, el, es = (self.med(c, x, "cycles_per_s") for x in
                         ("ttl-semlock", "etcd lease", "etcd session"))
            sp, ep = (self.med(c, x, "acquire_p99_us") for x in ("ttl-semlock", "etcd lease"))
            L.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                n, fmt(s, 0), fmt(el, 0), ratio(s, el), fmt(es, 0), ratio(s, es),
                fmt(sp and sp / 1000, 2), fmt(ep and ep / 1000, 2)))
        L += ["", "## Contended handoff (32 clients, 4 keys, 1 ms hold)", "",
              "| | grants/s | handoff p50 ms | handoff p99 ms | wait p99 ms |", "|---|---|---|---|---|"]
        for side in ("ttl-semlock", "etcd"):
            L.append("| %s | %s | %s | %s | %s |" % (
                side, fmt(self.med("contend", side, "grants_per_s") or
                          (self.med("contend", side, "grants") or 0) / a.duration, 0),
                fmt(ms(self.med("contend", side, "handoff_p50_us")), 2),
                fmt(ms(self.med("contend", side, "handoff_p99_us")), 2),
                fmt(ms(self.med("contend", side, "wait_p99_us")), 2)))
        L += ["", "## Failover: kill -9 of the leader until a write succeeds elsewhere", "",
              "| | runs | p50 s | max s |", "|---|---|---|---|"]
        for side in ("ttl-semlock", "etcd"):
            vals = [r["seconds"] for r in self.records if r["case"] == "failover"
                    and r["side"] == side]
            L.append("| %s | %d | %s | %s |" % (side, len(vals),
                                                fmt(statistics.median(vals) if vals else None, 2),
                                                fmt(max(vals) if vals else None, 2)))
        if self.cpu:
            s, e = self.cpu["ttl-semlock"], self.cpu["etcd lease"]
            t = self.cpu.get("ttl-semlock, log on tmpfs")
            L += ["", "## Where the time goes (c64 cycle load, no tracing)", "",
                  "- ttl-semlock: %s cycles/s; the leader proposes %s entries/s, %s cycles "
                  "(%s requests) per entry, %s ms from proposal to commit on average; CPU "
                  "cores busy: servers %s, sidecars %s (of %d)" % (
                      fmt(s["cycles_per_s"], 0), fmt(s["proposals_per_s"], 0),
                      fmt(s["cycles_per_proposal"], 1),
                      fmt(s["cycles_per_proposal"] and 2 * s["cycles_per_proposal"], 1),
                      fmt(s["proposal_ms"], 2), fmt(s["cpu_cores"]["servers"], 2),
                      fmt(s["cpu_cores"]["sidecars"], 2), os.cpu_count()),
                  "- etcd (lease+lock+unlock): %s cycles/s; %s proposals/s committed, leader WAL "
                  "fsync %s ms on average (%s/s); CPU cores busy: %s (of %d)" % (
                      fmt(e["cycles_per_s"], 0), fmt(e["proposals_per_s"], 0),
                      fmt(e["wal_fsync_ms"], 2), fmt(e["wal_fsyncs_per_s"], 0),
                      fmt(e["cpu_cores"]["etcd"], 2), os.cpu_count())]
            if t:
                L.append("- ttl-semlock with every member's Raft log on tmpfs (no disk flush; "
                         "for comparison only): %s cycles/s, %s ms from proposal to commit, %s "
                         "cycles per entry; CPU cores busy: servers %s, sidecars %s" % (
                             fmt(t["cycles_per_s"], 0), fmt(t["proposal_ms"], 2),
                             fmt(t["cycles_per_proposal"], 1), fmt(t["cpu_cores"]["servers"], 2),
                             fmt(t["cpu_cores"]["sidecars"], 2)))
        if self.profiles:
            L += ["", "## Profile (strace -c -f -w on the leader, c64 cycle load)", "",
                  "Wall time of the traced threads by syscall (blocking waits included); strace "
                  "slows the process, so the split and the per-call costs matter, not the rate.",
                  ""]
            if self.fsync:
                L.append("- this disk, write 4 KiB + fdatasync: p50 %.2f ms, p99 %.2f ms" %
                         (self.fsync["p50_ms"], self.fsync["p99_ms"]))
            for name, p in self.profiles.items():
                top = ", ".join("%s %.0f%% (%d calls)" % (t["syscall"], t["pct_time"], t["calls"])
                                for t in p["top"])
                sync = ""
                if p.get("fsync_calls"):
                    sync = "; fdatasync: %d calls, %.2f ms each, %.1f cycles per call" % (
                        p["fsync_calls"], p["fsync_avg_us"] / 1000,
                        (p.get("cycles") or 0) / p["fsync_calls"])
                L.append("- %s: %s%s" % (name, top, sync))
        for n in self.notes:
            L += ["", "Note: " + n]
        with open(a.out, "w") as f:
            f.write("\n".join(L) + "\n")
        log("wrote %s" % a.out)


def fmt(v, digits):
    return "–" if v is None else ("{:,.%df}" % digits).format(v)


def ms(us):
    return None if us is None else us / 1000


def ratio(a, b):
    return "–" if not a or not b else "%.1f×" % (a / b)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(BENCH, "REPLICATED.md"))
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    args = ap.parse_args(argv)
    args.build_dir = os.path.abspath(args.build_dir)
    args.reps = 1 if args.quick else 2
    args.duration = 2 if args.quick else 3
    args.clients = [16, 64] if args.quick else [16, 64, 256]
    args.failovers = 1 if args.quick else 3
    for tool in ("etcd", "etcdctl", "go"):
        if shutil.which(tool) is None:
            sys.exit("bench/replicated.py: %s not found (apt-get install etcd-server "
                     "etcd-client golang-go golang-etcd-server-dev)" % tool)
    Bench(args).run()


if __name__ == "__main__":
    main()
