#!/usr/bin/env python3
"""Runs attacks of the adversarial suite against the real ttl-semlock binary.

    run.py --bin build-release/server/ttl-semlock --results DIR ATTACK...   (or: all)
    run.py --list              names and CTest timeouts, one per line

Each attack writes DIR/<attack>.json; the exit status is 0 when every attack named passed.
CTest runs one attack per test (tests/adversarial/CMakeLists.txt); report.py turns the results
into the README's reliability table and figure.
"""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import attacks_protocol  # noqa: E402,F401 - registers its attacks
import attacks_resources  # noqa: E402,F401
import attacks_scripts  # noqa: E402,F401


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("attacks", nargs="*")
    ap.add_argument("--bin", default=os.environ.get("SEMLOCK_BIN"))
    ap.add_argument("--results", default="adversarial-results")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the server's work directory")
    args = ap.parse_args()

    if args.list:
        for a in harness.ATTACKS.values():
            print(a.name, a.timeout)
        return 0
    if not args.bin:
        ap.error("--bin or SEMLOCK_BIN is required")
    names = list(harness.ATTACKS) if args.attacks in ([], ["all"]) else args.attacks
    unknown = [n for n in names if n not in harness.ATTACKS]
    if unknown:
        ap.error("unknown attack(s): %s (see --list)" % ", ".join(unknown))

    failed = 0
    for name in names:
        r = harness.run(name, args.bin, args.results, keep=args.keep)
        b, d = r.get("baseline") or {}, r.get("attack_window") or {}
        print("%-32s %s  probe p99 %s ms (quiet %s ms), RSS peak %s MB (bound %s MB), %.1f s"
              % (name, "PASS" if r["passed"] else "FAIL", d.get("p99_ms"), b.get("p99_ms"),
                 r.get("rss_peak_mb"), r.get("rss_bound_mb"), r["elapsed_s"]), flush=True)
        if not r["passed"]:
            failed += 1
            for f in r["failures"]:
                print("    - " + f)
            if r.get("notes"):
                print("    notes: " + json.dumps(r["notes"]))
            if r.get("server_log_tail"):
                tail = r["server_log_tail"].strip().splitlines()[-8:]
                print("    server log (tail):\n      " + "\n      ".join(tail))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
