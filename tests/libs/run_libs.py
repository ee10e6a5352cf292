"""libs.contention: every lock library of docs/CLIENTS.md, unmodified, against one ttl-semlock
($SEMLOCK_BIN) on a free port: Node (npm ci of node/package-lock.json into WORK), PHP (Debian's
Symfony Lock with phpredis and Predis), Python (Debian's redis-py) and Go (Debian's redigo, the
docs/examples program). Each runner appends JSON result rows; they are written to
WORK/results.jsonl, and docs/CLIENTS.md's matrix is checked against them (render_matrix.py).
Usage: run_libs.py SOURCE_ROOT WORK [go]   (go: only the Go example, no matrix check)"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients"))
from semlock_server import Server  # noqa: E402


def run(title, cmd, env, cwd=None, timeout=240):
    print(f"--- {title}: {' '.join(cmd)}", flush=True)
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout)
        return p.returncode
    except subprocess.TimeoutExpired:
        print(f"{title}: timed out after {timeout} s", flush=True)
        return 1


def main():
    root, work = sys.argv[1], sys.argv[2]
    only_go = len(sys.argv) > 3 and sys.argv[3] == "go"
    os.makedirs(work, exist_ok=True)
    results = os.path.join(work, "results.jsonl")
    if os.path.exists(results):
        os.unlink(results)
    failures = []
    with Server() as server:
        env = dict(os.environ, SEMLOCK_PORT=str(server.port), LIBS_RESULTS=results)
        # Node: the pinned packages, installed into the build tree.
        node_dir = os.path.join(work, "node")
        os.makedirs(node_dir, exist_ok=True)
        for f in ("package.json", "package-lock.json", "libs.js"):
            shutil.copy(os.path.join(HERE, "node", f), node_dir)
        if only_go:
            pass
        elif run("npm ci", ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund",
                             "--loglevel=error"], env,
               cwd=node_dir) != 0:
            failures.append("npm ci (is the npm registry reachable?)")
        elif run("node", ["node", "--test", "--test-reporter=spec", "--test-concurrency=1",
                          "libs.js"], env, cwd=node_dir) != 0:
            failures.append("node libraries")
        for driver in () if only_go else ("phpredis", "predis"):
            if run(f"Symfony Lock + {driver}",
                   ["php", os.path.join(HERE, "php", "symfony_lock.php"), driver,
                    str(server.port), results], env) != 0:
                failures.append(f"symfony lock {driver}")
        if not only_go and run("redis-py", [sys.executable, os.path.join(HERE, "py_libs.py"), str(server.port),
                            results], env) != 0:
            failures.append("redis-py")
        go_bin = os.path.join(work, "redigo_lock")
        go_env = dict(env, GO111MODULE="off", GOPATH="/usr/share/gocode",
                      GOCACHE=os.path.join(work, "gocache"), GOFLAGS="")
        ok = run("go build (GOPATH mode)", ["go", "build", "-o", go_bin, os.path.join(
            root, "docs", "examples", "redigo_lock.go")], go_env) == 0 and run(
            "redigo example", [go_bin, f"127.0.0.1:{server.port}"], env) == 0
        with open(results, "a") as f:
            f.write(json.dumps({"language": "Go", "library": "redigo (recipe: SET NX PX + script)",
                                "version": subprocess.run(
                                    ["dpkg-query", "-W", "-f=${Version}",
                                     "golang-github-gomodule-redigo-dev"],
                                    capture_output=True, text=True).stdout,
                                "client": "redigo", "recipe": "mutex (docs/examples)",
                                "result": "pass" if ok else "fail",
                                "detail": "4 goroutines x 10 rounds"}) + "\n")
        if not ok:
            failures.append("redigo example")
    rows = [json.loads(line) for line in open(results)]
    passed = sum(r["result"] == "pass" for r in rows)
    failed = sum(r["result"] != "pass" for r in rows)
    for r in rows:
        print(f"{r['result']:4} {r['language']:8} {r['library']} {r['version']} [{r['client']}] "
              f"{r['recipe']}: {r['detail']}")
    check = subprocess.CompletedProcess([], 0) if only_go else subprocess.run([sys.executable, os.path.join(HERE, "render_matrix.py"), "--check",
                            results, os.path.join(root, "docs", "CLIENTS.md")])
    if check.returncode != 0:
        failures.append("docs/CLIENTS.md does not match the results (render_matrix.py)")
    for f in failures:
        print(f"FAILED: {f}")
    print(f"{passed} passed, {failed if failed else len(failures)} failed")
    sys.exit(1 if failures or failed else 0)


if __name__ == "__main__":
    main()
