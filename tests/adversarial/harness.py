"""The attack harness: starts the real ttl-semlock with limits, holds a set of locks, runs the
probe (probe.py) through a quiet baseline and then through one attack, and checks afterwards that

  - the server is still up and answers a fresh connection,
  - no probe request failed or took longer than CEILING_S (baseline, attack and recovery),
  - its resident memory (VmRSS, sampled every 25 ms) stayed under
        RSS after the baseline + limits.max_memory_mb + server.max_client_memory_mb + SLACK_MB,
  - every lock of the set is still held by its owner with its fence,
  - and whatever the attack itself asserts (exact error texts, closes, refusals).

Every attack is bounded in time: the attack function gets a deadline, runs in a thread that is
abandoned (and reported) if it overstays, and the server is SIGKILLed if SIGTERM does not stop it.

The outcome goes to <results>/<attack>.json (read by report.py for the README's table).
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CEILING_S = 2.0          # no probe request may take longer than this
BASELINE_S = 1.5         # quiet probe time before the attack
RECOVERY_S = 1.0         # probe time after the attack
MAX_MEMORY_MB = 64       # limits.max_memory_mb for every attack
CLIENT_MEMORY_MB = 32    # server.max_client_memory_mb for every attack
# RSS allowed beyond the two limits. The limits bound what the server accounts (engine data and
# script heap; connection buffers); RSS also holds what no limit counts: about 1-2 KB of
# connection state (libuv handle, Connection, client fields, hash-map slot) for each of up to
# 10,000 open connections (~20 MB), malloc's arenas, which keep freed memory for reuse rather
# than return it at once (buffers of many sizes fragment them), and the Lua heap's garbage
# between two collections. 64 MiB covers those with room; an unbounded buffer or reply shows up
# as hundreds of MB.
SLACK_MB = 64
JOIN_GRACE_S = 5.0       # an attack function may overstay its duration by this much

USER_KEY = "adv-user-key-0123456789"
ADMIN_KEY = "adv-admin-key-0123456789"

# Config keys that the fixes of the hostile-clients issue add. A server without them refuses to
# start with them in the file, so the harness asks the binary first and leaves out those it does
# not know; an attack that needs one fails, naming it.
NEW_KEYS = {
    ("server", "request_timeout"): "2s",
    ("server", "max_reply_bytes"): 16 * 1024 * 1024,
    ("server", "max_client_memory_mb"): CLIENT_MEMORY_MB,
    ("scripting", "max_ms"): 200,
}

ATTACKS = {}


class Attack:
    def __init__(self, fn, name, duration, config, needs, probe_mode, auth, timeout,
                 server_nofile):
        self.fn = fn
        self.name = name
        self.duration = duration
        self.config = config or {}
        self.needs = needs or []
        self.probe_mode = probe_mode
        self.auth = auth
        self.timeout = timeout  # CTest TIMEOUT, seconds (CMakeLists.txt reads it via --list)
        self.server_nofile = server_nofile


def attack(name, duration=4.0, config=None, needs=None, probe_mode="cycle", auth=False,
           timeout=None, server_nofile=None):
    """Registers an attack function fn(ctx). `config` is merged into the server's config (dotted
    keys); `needs` lists config keys (dotted) the attack depends on; `auth` turns on API keys
    (user USER_KEY, admin ADMIN_KEY); `server_nofile` sets the server's RLIMIT_NOFILE soft limit."""
    def register(fn):
        # Worst case: start-up and baseline ~3 s, the attack plus JOIN_GRACE_S, recovery 1 s, a
        # fresh PING and the lock check 2 s each, SIGTERM 3 s: duration + 16 s.
        ATTACKS[name] = Attack(fn, name, duration, config, needs, probe_mode, auth,
                               timeout or int(duration + 16), server_nofile)
        return fn
    return register


# ---- the server -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_supported = {}


def key_supported(binary, section, key, value):
    """True if the binary's --check-config accepts section.key (a fix has landed)."""
    if (section, key) in _supported:
        return _supported[(section, key)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({section: {key: value}}, f)
        path = f.name
    try:
        r = subprocess.run([binary, "--check-config", "--config", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        ok = r.returncode == 0
    finally:
        os.unlink(path)
    _supported[(section, key)] = ok
    return ok


def set_dotted(cfg, dotted, value):
    section, key = dotted.split(".", 1)
    cfg.setdefault(section, {})[key] = value


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Server:
    def __init__(self, binary, config, workdir, nofile=None):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.metrics_port = free_port()
        while self.metrics_port == self.port:
            self.metrics_port = free_port()
        config.setdefault("server", {}).update({"host": "127.0.0.1", "port": self.port})
        config.setdefault("metrics", {}).update({"host": "127.0.0.1", "port": self.metrics_port})
        self.config = config
        self.config_path = os.path.join(workdir, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)
        self.log_path = os.path.join(workdir, "server.log")
        log = open(self.log_path, "wb")

        def preexec():
            if nofile:
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        self.proc = subprocess.Popen([binary, "--config", self.config_path], stdout=log,
                                     stderr=log, stdin=subprocess.DEVNULL, preexec_fn=preexec,
                                     close_fds=True)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("ttl-semlock exited with %s at start-up: %s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("ttl-semlock did not listen within 10 s")
                time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL after 3 s. Returns how it ended (an exit code, or -signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "SIGKILL (SIGTERM ignored for 3 s)"
        return self.proc.returncode


# ---- locks that must survive ------------------------------------------------------------------

class LockSet:
    """Locks taken before the attack with long TTLs: mutexes (SEMLOCK.ACQUIRE and SET NX PX) and
    semaphore permits. After the attack each must still be held by its owner, same fence."""

    def __init__(self, port, password):
        self.port = port
        self.password = password
        self.held = []  # (key, owner, fence)

    def acquire(self):
        c = wire.Resp(self.port, password=self.password)
        try:
            for i in range(30):
                key, owner = "held:m:%d" % i, "adv-owner-%d" % i
                r = c.call("SEMLOCK.ACQUIRE", key, 600000, "OWNER", owner)
                assert isinstance(r, list), r
                self.held.append((key, owner, r[1]))
            for i in range(10):
                key, owner = "held:s:%d" % i, "adv-set-%d" % i
                r = c.call("SET", key, owner, "NX", "PX", 600000)
                assert r == "OK", r
                self.held.append((key, owner, None))
            for i in range(5):
                for j in range(2):
                    key, owner = "held:sem:%d" % i, "adv-sem-%d-%d" % (i, j)
                    r = c.call("SEMLOCK.ACQUIRE", key, 600000, "OWNER", owner, "LIMIT", 3)
                    assert isinstance(r, list), r
                    self.held.append((key, owner, r[1]))
        finally:
            c.close()

    def check(self):
        """Problems found (empty when every lock is held as it was)."""
        try:
            c = wire.Resp(self.port, timeout=CEILING_S, password=self.password)
        except (OSError, ConnectionError, RuntimeError) as e:
            return ["lock check: cannot connect: %s" % e]
        problems = []
        try:
            infos = {}
            keys = sorted({k for k, _, _ in self.held})
            replies = c.pipeline([("SEMLOCK.INFO", k) for k in keys], timeout=CEILING_S)
            for k, r in zip(keys, replies):
                infos[k] = r
            for key, owner, fence in self.held:
                info = infos.get(key)
                if not isinstance(info, list):
                    problems.append("lock lost: %s (%s) -> %r" % (key, owner, info))
                    continue
                fields = dict(zip(info[0::2], info[1::2]))
                holders = fields.get(b"holders") or []
                match = [h for h in holders if h[0] == owner.encode()]
                if not match:
                    problems.append("lock lost: %s no longer held by %s (holders %r)"
                                    % (key, owner, holders))
                elif fence is not None and match[0][1] != fence:
                    problems.append("lock changed: %s fence %r -> %r" % (key, fence, match[0][1]))
        except (OSError, ConnectionError, wire.ProtocolViolation) as e:
            problems.append("lock check failed: %s: %s" % (type(e).__name__, e))
        finally:
            c.close()
        return problems


# ---- the probe --------------------------------------------------------------------------------

class Probe:
    def __init__(self, port, password, mode, workdir):
        self.path = os.path.join(workdir, "probe.txt")
        args = [sys.executable, os.path.join(HERE, "probe.py"), "--port", str(port), "--mode",
                mode, "--out", self.path]
        if password:
            args += ["--password", password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)

    def samples(self):
        out = []
        try:
            with open(self.path) as f:
                for line in f:
                    parts = line.rstrip("\n").split(" ", 4)
                    if len(parts) < 4:
                        continue
                    try:
                        out.append((float(parts[0]), float(parts[1]), parts[2] == "1", parts[3],
                                    parts[4] if len(parts) > 4 else ""))
                    except ValueError:
                        continue
        except OSError:
            pass
        return out

    def wait_started(self, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.samples()) >= 20:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[i]


def window_stats(samples, t0, t1):
    lat = [s[1] for s in samples if t0 <= s[0] < t1 and s[3] != "connect"]
    fails = [s for s in samples if t0 <= s[0] < t1 and not s[2]]
    return {
        "n": len(lat),
        "p50_ms": round(percentile(lat, 50) * 1000, 3) if lat else None,
        "p99_ms": round(percentile(lat, 99) * 1000, 3) if lat else None,
        "max_ms": round(max(lat) * 1000, 3) if lat else None,
        "failed": len(fails),
    }


# ---- the context an attack function gets -------------------------------------------------------

class Context:
    def __init__(self, attack_, server, deadline, password):
        self.attack = attack_
        self.server = server
        self.port = server.port
        self.metrics_port = server.metrics_port
        self.deadline = deadline
        self.password = password  # the user key when auth is on, else None
        self.failures = []
        self.notes = {}
        self._lock = threading.Lock()

    def remaining(self):
        return self.deadline - time.monotonic()

    def running(self):
        return time.monotonic() < self.deadline

    def fail(self, message):
        """Records a failed expectation (the first 40 distinct ones are kept)."""
        with self._lock:
            if message not in self.failures and len(self.failures) < 40:
                self.failures.append(message)

    def check(self, condition, message):
        if not condition:
            self.fail(message)
        return condition

    def note(self, key, value):
        with self._lock:
            self.notes[key] = value

    def count(self, key, n=1):
        with self._lock:
            self.notes[key] = self.notes.get(key, 0) + n

    def resp(self, timeout=5.0, password="default"):
        """A RESP client, authenticated with the user key when auth is on."""
        if password == "default":
            password = self.password
        return wire.Resp(self.port, timeout=timeout, password=password)

    def threads(self, target, n, *args):
        """Runs target(i, *args) in n threads; returns when all end (each must watch the deadline);
        an exception in a thread is recorded as a failure."""
        def run(i):
            try:
                target(i, *args)
            except Exception as e:  # noqa: BLE001 - recorded, the suite goes on
                self.fail("attack thread %d raised %s: %s" % (i, type(e).__name__, e))
        ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(max(0.1, self.remaining() + 5))


# ---- running one attack -----------------------------------------------------------------------

def run(name, binary, results_dir, keep=False):
    a = ATTACKS[name]
    nofile = raise_nofile()
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="semlock-adv-%s-" % name)
    result = {"attack": name, "index": list(ATTACKS).index(name), "duration_s": a.duration,
              "failures": [], "notes": {}, "missing_config_keys": []}

    config = {"limits": {"max_memory_mb": MAX_MEMORY_MB}, "logging": {"level": "warn"}}
    set_dotted(config, "server.max_client_memory_mb", CLIENT_MEMORY_MB)
    for dotted, value in a.config.items():
        set_dotted(config, dotted, value)
    if a.auth:
        config.setdefault("security", {}).update(
            {"api_keys": [USER_KEY], "admin_api_keys": [ADMIN_KEY]})
    for (section, key), probe_value in NEW_KEYS.items():
        present = key in config.get(section, {})
        needed = "%s.%s" % (section, key) in a.needs
        if (present or needed) and not key_supported(binary, section, key, probe_value):
            config.get(section, {}).pop(key, None)
            result["missing_config_keys"].append("%s.%s" % (section, key))
            if needed:
                result["failures"].append(
                    "the server does not accept config key %s.%s (the fix that adds it is "
                    "not in this build)" % (section, key))
    for section in [k for k, v in config.items() if v == {}]:
        del config[section]  # a section left empty is still unknown to an older server
    client_mem = config.get("server", {}).get("max_client_memory_mb", CLIENT_MEMORY_MB)
    max_memory = config["limits"]["max_memory_mb"]

    password = USER_KEY if a.auth else None
    server = probe = None
    samples = []
    try:
        server = Server(binary, config, workdir, nofile=a.server_nofile)
        rss_peak = [0.0]
        sampling = [True]

        def sample_rss():
            while sampling[0]:
                r = rss_mb(server.pid)
                if r is not None and r > rss_peak[0]:
                    rss_peak[0] = r
                time.sleep(0.025)
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()

        locks = LockSet(server.port, password)
        locks.acquire()
        probe = Probe(server.port, password, a.probe_mode, workdir)
        if not probe.wait_started():
            result["failures"].append("the probe made no requests in its first 3 s")
        b0 = time.monotonic()
        time.sleep(BASELINE_S)
        b1 = time.monotonic()
        rss_base = rss_mb(server.pid) or 0.0
        rss_peak[0] = rss_base
        cpu0 = cpu_seconds(server.pid)

        ctx = Context(a, server, b1 + a.duration, password)

        def body():
            try:
                a.fn(ctx)
            except Exception as e:  # noqa: BLE001 - an attack's own crash is a failure
                where = traceback.extract_tb(e.__traceback__)[-1]
                ctx.fail("attack raised %s: %s (%s:%d)" % (type(e).__name__, e,
                                                           os.path.basename(where.filename),
                                                           where.lineno))
        t = threading.Thread(target=body, daemon=True)
        t.start()
        t.join(a.duration + JOIN_GRACE_S)
        if t.is_alive():
            ctx.fail("the attack did not end within its time bound (a client is stuck: the server"
                     " stopped answering?)")
        a1 = time.monotonic()
        cpu1 = cpu_seconds(server.pid)
        time.sleep(RECOVERY_S)
        a2 = time.monotonic()
        probe.stop()
        sampling[0] = False
        sampler.join(1)
        samples = probe.samples()

        result["failures"] += ctx.failures
        result["notes"] = ctx.notes
        alive = server.alive()
        if not alive:
            result["failures"].append("the server died: exit status %s" % server.proc.returncode)
        else:
            try:
                c = wire.Resp(server.port, timeout=CEILING_S, password=password)
                r = c.call("PING")
                c.close()
                if r != "PONG":
                    result["failures"].append("a fresh client's PING got %r" % (r,))
            except (OSError, ConnectionError, RuntimeError, wire.ProtocolViolation) as e:
                result["failures"].append("a fresh client got no PONG within %.0f s: %s"
                                          % (CEILING_S, e))
            result["failures"] += locks.check()

        base = window_stats(samples, b0, b1)
        during = window_stats(samples, b1, a1)
        after = window_stats(samples, a1, a2)
        result.update({"baseline": base, "attack_window": during, "recovery": after})
        bad = [s for s in samples if s[0] >= b0 and (not s[2] or s[1] > CEILING_S)]
        if bad:
            worst = max(bad, key=lambda s: s[1])
            failed = sum(1 for s in bad if not s[2])
            result["failures"].append(
                "probe: %d request(s) failed or took over %.1f s (%d failed; worst %s %.3f s %s)"
                % (len(bad), CEILING_S, failed, worst[3], worst[1], worst[4]))
        if during["n"] < 3 and alive:
            result["failures"].append("probe: only %d request(s) completed during the attack"
                                      % during["n"])

        bound = rss_base + max_memory + client_mem + SLACK_MB
        result.update({"rss_baseline_mb": round(rss_base, 1), "rss_peak_mb": round(rss_peak[0], 1),
                       "rss_bound_mb": round(bound, 1)})
        if cpu0 is not None and cpu1 is not None:
            result["server_cpu_s_during_attack"] = round(cpu1 - cpu0, 2)
        if rss_peak[0] > bound:
            result["failures"].append(
                "memory: RSS peaked at %.0f MB, over the bound %.0f MB (baseline %.0f + "
                "max_memory_mb %d + max_client_memory_mb %d + %d)"
                % (rss_peak[0], bound, rss_base, max_memory, client_mem, SLACK_MB))
    except Exception as e:  # noqa: BLE001 - set-up failures are reported like any other
        result["failures"].append("harness: %s: %s" % (type(e).__name__, e))
    finally:
        if probe is not None:
            probe.stop()
        if server is not None:
            how = server.stop()
            result["server_exit"] = how
            if isinstance(how, str):
                result["failures"].append("the server did not stop on SIGTERM within 3 s")
            if result["failures"]:
                result["server_log_tail"] = server.log_tail()

    result["passed"] = not result["failures"]
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, name + ".json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result
