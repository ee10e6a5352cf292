#!/usr/bin/env python3
"""The monitoring kit against a real ttl-semlock: promtool's linter on the live /metrics, and a real
Prometheus scraping a real server, queried through its HTTP API.

  monitoring_test.py lint BIN REPO_ROOT
      /metrics after some traffic passes `promtool check metrics` (apart from the lint findings
      on names that SPEC §6 keeps from TtlSemLock), and every metric that the alert rules and the
      Grafana dashboard name is one the server exports.
  monitoring_test.py prometheus BIN REPO_ROOT
      Prometheus (Debian's package) scrapes the server on free loopback ports with
      deploy/prometheus/alerts.yml loaded: ttl_semlock_active_locks follows the locks taken and
      released, `up` is 1, every alert rule evaluates without error, and every dashboard query
      evaluates to a non-empty result.

  monitoring_test.py deploy REPO_ROOT
      docker-compose.yml, the Grafana provisioning and the dashboard agree with each other.

Exit 0 pass, 1 fail, 77 skip (promtool or prometheus is not installed).
Polls below wait for processes (start-up, scrapes), bounded; nothing here tests time.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77

# promtool's lint on names that SPEC §6 keeps as TtlSemLock named them: renaming would break
# every existing dashboard and alert. Any other finding fails the test.
KNOWN_LINT = {
    "ttl_semlock_memory_limit_mb metric names should not contain abbreviated units",
    "ttl_semlock_memory_usage_mb metric names should not contain abbreviated units",
}


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_for(what, check, seconds):
    """Calls check() until it returns a true value (returned) or `seconds` pass (Failure)."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.2)
    raise Failure(f"timed out after {seconds} s waiting for {what} (last error: {last})")


class Server:
    """ttl-semlock on free loopback ports, stopped with SIGTERM."""

    def __init__(self, binary, workdir):
        self.port = free_port()
        self.metrics_port = free_port()
        self.log = open(os.path.join(workdir, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(self.port), "--metrics-port",
             str(self.metrics_port), "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("ttl-semlock /ready", lambda: self._ready(), 30)

    def _ready(self):
        if self.proc.poll() is not None:
            raise Failure(f"ttl-semlock exited with {self.proc.returncode}: {self.log_text()}")
        return http_get(f"http://127.0.0.1:{self.metrics_port}/ready", 1)[0] == 200

    def log_text(self):
        self.log.seek(0)
        return self.log.read()

    def resp(self, *args):
        """Sends one RESP command on a new connection; returns the raw reply bytes."""
        frame = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a.encode()
            frame += f"${len(b)}\r\n".encode() + b + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(frame)
            return s.recv(65536)

    def json(self, request):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(json.dumps(request).encode() + b"\n")
            return json.loads(s.makefile().readline())

    def metrics(self):
        status, body = http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")
        if status != 200:
            raise Failure(f"/metrics answered {status}")
        return body

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def some_traffic(server):
    reply = server.resp("SEMLOCK.ACQUIRE", "mon:a", "600000", "OWNER", "o1")
    if not reply.startswith(b"*2\r\n"):
        raise Failure(f"RESP acquire: {reply!r}")
    server.resp("SEMLOCK.ACQUIRE", "mon:a", "600000", "OWNER", "o2")  # held: null reply
    server.resp("NOSUCHCOMMAND")
    got = server.json({"action": "acquire", "key": "mon:b", "ttl": 600, "owner": "o3"})
    if got.get("success") is not True:
        raise Failure(f"JSON acquire: {got}")


def exported_names(exposition):
    """Metric family names in the exposition (# TYPE lines)."""
    return {m.group(1) for m in re.finditer(r"^# TYPE (\S+) \S+$", exposition, re.M)}


def named_metrics(text):
    """Metric names that PromQL text refers to."""
    return set(re.findall(r"\b((?:ttl_semlock|process)_[a-z0-9_]+)", text))


def family_of(name, exported):
    """The exported family a series name belongs to (a histogram's _bucket/_sum/_count), or None."""
    if name in exported:
        return name
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base != name and base in exported else None


def dashboard_queries(root):
    """(panel title, expr) of every query in the Grafana dashboard, with Grafana's variables
    replaced by what they mean for one Prometheus: all instances, a 1-minute rate window."""
    path = os.path.join(root, "deploy/grafana/dashboards/ttl-semlock.json")
    with open(path) as f:
        dash = json.load(f)
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$instance", ".*").replace("$__rate_interval", "1m")
            out.append((panel["title"], expr))
    if not out:
        raise Failure("the dashboard has no queries")
    return out


def test_lint(binary, root, workdir):
    server = Server(binary, workdir)
    try:
        some_traffic(server)
        exposition = server.metrics()
    finally:
        server.stop()
    if not exposition.endswith("\n"):
        raise Failure("the exposition does not end with a newline")
    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition, text=True,
                          capture_output=True)
    findings = {line.strip() for line in (lint.stdout + lint.stderr).splitlines() if line.strip()}
    print(f"promtool check metrics: exit {lint.returncode}; findings: {sorted(findings)}")
    # promtool exits 1 when the text does not parse, 3 when it parses with lint findings.
    if lint.returncode not in (0, 3):
        raise Failure(f"promtool could not parse /metrics (exit {lint.returncode}): {findings}")
    unexpected = findings - KNOWN_LINT
    if unexpected:
        raise Failure(f"promtool lint findings beyond the SPEC's names: {sorted(unexpected)}")

    exported = exported_names(exposition)
    for needed in ("ttl_semlock_active_locks", "ttl_semlock_memory_usage_mb",
                   "ttl_semlock_memory_limit_mb", "ttl_semlock_locks_limit",
                   "ttl_semlock_rejected_requests_total", "ttl_semlock_requests_total",
                   "ttl_semlock_request_duration_seconds", "ttl_semlock_limit_exceeded_total",
                   "ttl_semlock_connections", "ttl_semlock_holders", "ttl_semlock_waiters",
                   "ttl_semlock_expired_total", "ttl_semlock_memory_usage_bytes",
                   "ttl_semlock_auth_failures_total", "process_resident_memory_bytes"):
        if needed not in exported:
            raise Failure(f"SPEC §6 metric {needed} is not exported")
    with open(os.path.join(root, "deploy/prometheus/alerts.yml")) as f:
        used = named_metrics(f.read())
    used |= named_metrics(" ".join(expr for _, expr in dashboard_queries(root)))
    missing = sorted(n for n in used if family_of(n, exported) is None)
    if missing:
        raise Failure(f"alerts or dashboard name metrics the server does not export: {missing}")
    print(f"ok: {len(used)} metrics named by the alerts and dashboard are all exported")


def test_deploy(root):
    """docker-compose.yml, the Grafana provisioning and the dashboard agree with each other: every
    file compose mounts exists, the dashboard provider reads where compose mounts the dashboards,
    and every data source the dashboard uses is provisioned. (Plain text matching: no YAML
    library is needed, and these files are ours, in one known shape.)"""
    def read(rel):
        with open(os.path.join(root, rel)) as f:
            return f.read()

    compose = read("docker-compose.yml")
    mounts = dict(re.findall(r"^\s*- \./([^:\s]+):([^:\s]+)(?::ro)?\s*$", compose, re.M))
    if not mounts:
        raise Failure("docker-compose.yml mounts no files from the repository")
    for source in mounts:
        if not os.path.exists(os.path.join(root, source)):
            raise Failure(f"docker-compose.yml mounts ./{source}, which does not exist")
    provider = read("deploy/grafana/provisioning/dashboards/ttl-semlock.yml")
    path = re.search(r"^\s*path:\s*(\S+)\s*$", provider, re.M).group(1)
    if mounts.get("deploy/grafana/dashboards") != path:
        raise Failure(f"the dashboard provider reads {path}, compose mounts the dashboards at "
                      f"{mounts.get('deploy/grafana/dashboards')}")
    if mounts.get("deploy/grafana/provisioning") != "/etc/grafana/provisioning":
        raise Failure("compose does not mount deploy/grafana/provisioning at /etc/grafana/provisioning")
    provisioned = set(re.findall(r"^\s*uid:\s*(\S+)\s*$",
                                 read("deploy/grafana/provisioning/datasources/prometheus.yml"), re.M))
    dash = json.loads(read("deploy/grafana/dashboards/ttl-semlock.json"))
    used = {p["datasource"]["uid"] for p in dash["panels"] if "datasource" in p}
    used |= {t["datasource"]["uid"] for p in dash["panels"] for t in p.get("targets", [])}
    # "${datasource}": the dashboard's data source variable (so that it imports into any
    # Grafana); provisioned, it resolves to the default data source.
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if "${datasource}" in used:
        if variables.get("datasource", {}).get("type") != "datasource":
            raise Failure("the dashboard uses ${datasource} but has no data source variable")
        used.discard("${datasource}")
    if not used <= provisioned:
        raise Failure(f"the dashboard uses data sources {sorted(used - provisioned)}, "
                      f"provisioned are {sorted(provisioned)}")
    prom = mounts.get("deploy/prometheus/prometheus.yml")
    rules = mounts.get("deploy/prometheus/alerts.yml")
    if not prom or not rules or os.path.dirname(prom) != os.path.dirname(rules):
        raise Failure("compose must mount prometheus.yml and alerts.yml side by side "
                      "(prometheus.yml names alerts.yml relative to itself)")
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        raise Failure(f"duplicate panel ids in the dashboard: {ids}")
    print(f"ok: {len(mounts)} compose mounts exist; provisioning, dashboard and compose agree")


class Prometheus:
    def __init__(self, root, workdir, target):
        self.port = free_port()
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {os.path.join(root, "deploy/prometheus/alerts.yml")}
scrape_configs:
  - job_name: ttl-semlock
    static_configs:
      - targets: ["{target}"]
""")
        self.log = open(os.path.join(workdir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(workdir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("Prometheus /-/ready", self._ready, 60)

    def _ready(self):
        if self.proc.poll() is not None:
            self.log.seek(0)
            raise Failure(f"prometheus exited with {self.proc.returncode}: {self.log.read()}")
        return http_get(f"http://127.0.0.1:{self.port}/-/ready", 1)[0] == 200

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            body = json.loads(http_get(url)[1])
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode())
        if body.get("status") != "success":
            raise Failure(f"Prometheus API {path} {params}: {body}")
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def test_prometheus(binary, root, workdir):
    server = Server(binary, workdir)
    prom = None
    try:
        for i in range(3):
            reply = server.resp("SEMLOCK.ACQUIRE", f"prom:{i}", "600000", "OWNER", "p")
            if not reply.startswith(b"*2\r\n"):
                raise Failure(f"RESP acquire: {reply!r}")
        target = f"127.0.0.1:{server.metrics_port}"
        prom = Prometheus(root, workdir, target)

        def active_locks_is(n):
            result = prom.query("ttl_semlock_active_locks")
            if len(result) != 1:
                return None
            labels, value = result[0]["metric"], result[0]["value"][1]
            if labels.get("job") != "ttl-semlock" or labels.get("instance") != target:
                raise Failure(f"unexpected labels on ttl_semlock_active_locks: {labels}")
            return value == str(n)

        wait_for("Prometheus to see ttl_semlock_active_locks == 3", lambda: active_locks_is(3), 60)
        print("ok: Prometheus reports ttl_semlock_active_locks 3")
        reply = server.resp("SEMLOCK.RELEASE", "prom:0", "p")
        if reply != b":1\r\n":
            raise Failure(f"RESP release: {reply!r}")
        wait_for("Prometheus to see ttl_semlock_active_locks == 2", lambda: active_locks_is(2), 30)
        print("ok: after a release Prometheus reports ttl_semlock_active_locks 2")

        up = prom.query('up{job="ttl-semlock"}')
        if [r["value"][1] for r in up] != ["1"]:
            raise Failure(f"up{{job=\"ttl-semlock\"}}: {up}")

        def all_rules_evaluated():
            groups = prom.api("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            if not rules or any(r.get("health") != "ok" for r in rules):
                return None
            return rules

        rules = wait_for("every alert rule to evaluate", all_rules_evaluated, 30)
        names = sorted(r["name"] for r in rules)
        expected = sorted(["TtlSemLockHighMemoryUsage", "TtlSemLockRejectingRequests",
                           "TtlSemLockLocksNearLimit", "TtlSemLockLimitExceeded",
                           "TtlSemLockAuthFailures", "TtlSemLockDown",
                           "TtlSemLockPersistenceFailed", "TtlSemLockFsyncStalled",
                           "TtlSemLockSnapshotStuck", "TtlSemLockNotReady",
                           "TtlSemLockConnectionsNearLimit", "TtlSemLockRestarted"])
        if names != expected:
            raise Failure(f"loaded alert rules {names}, expected {expected}")
        firing = [r["name"] for r in rules if r.get("state") != "inactive"]
        if firing:
            raise Failure(f"alerts pending or firing on an idle server: {firing}")
        print(f"ok: {len(rules)} alert rules evaluate, none firing")

        queries = dashboard_queries(root)

        def dashboard_all_answer():
            empty = [(title, expr) for title, expr in queries if not prom.query(expr)]
            return not empty or None

        try:
            wait_for("every dashboard query to return data", dashboard_all_answer, 30)
        except Failure:
            empty = [(t, e) for t, e in queries if not prom.query(e)]
            raise Failure(f"dashboard queries without data: {empty}")
        print(f"ok: all {len(queries)} dashboard queries return data")
    finally:
        if prom:
            prom.stop()
        server.stop()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "deploy":
        try:
            test_deploy(os.path.abspath(sys.argv[2]))
        except (Failure, OSError, KeyError, AttributeError) as e:
            print(f"FAIL: {e!r}", file=sys.stderr)
            return 1
        print("PASS")
        return 0
    if len(sys.argv) != 4 or sys.argv[1] not in ("lint", "prometheus"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, binary, root = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    tool = "promtool" if mode == "lint" else "prometheus"
    if shutil.which(tool) is None:
        print(f"SKIP: {tool} is not installed (Debian package prometheus; scripts/install-deps.sh)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix=f"semlock-{mode}-") as workdir:
        try:
            (test_lint if mode == "lint" else test_prometheus)(binary, root, workdir)
        except Failure as e:
            print(f"FAIL: {e}", file=sys.stderr)
            for log in ("server.log", "prometheus.log"):
                path = os.path.join(workdir, log)
                if os.path.exists(path):
                    with open(path) as f:
                        print(f"--- {log}\n{f.read()[-4000:]}", file=sys.stderr)
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
