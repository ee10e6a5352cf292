#!/usr/bin/env python3
"""Turns the attack suite's results (one JSON file per attack, written by run.py or CTest) into
the README's reliability table and an SVG figure of the probe's p99 per attack.

    report.py --results build-release/tests/adversarial/results \
              --readme README.md --figure docs/reliability-p99.svg

The table replaces what lies between the README's markers
<!-- reliability-table:begin --> and <!-- reliability-table:end -->.
"""
import argparse
import datetime
import glob
import json
import math
import os
import subprocess
import sys

BEGIN = "<!-- reliability-table:begin -->"
END = "<!-- reliability-table:end -->"


def load(results_dir):
    rows = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        with open(path) as f:
            rows.append(json.load(f))
    return sorted(rows, key=lambda r: (r.get("index", 1000), r["attack"]))


def fmt_ms(v):
    if v is None:
        return "—"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def reason(r):
    """A short why for a failed attack (the first failure, trimmed)."""
    if r.get("passed"):
        return ""
    first = r["failures"][0] if r["failures"] else "failed"
    first = first.replace("|", "/")
    return first if len(first) <= 110 else first[:107] + "..."


def table(rows, source):
    out = [BEGIN, "",
           "Probe latency (SEMLOCK.ACQUIRE, SEMLOCK.RELEASE, PING from one client, milliseconds) "
           "in a quiet baseline and during each attack; peak RSS against the bound (baseline RSS "
           "+ `limits.max_memory_mb` + `server.max_client_memory_mb` + 64 MB). A figure, not an "
           "assertion: " + source + ".", "",
           "| attack | quiet p50 | quiet p99 | attack p50 | attack p99 | attack max | RSS peak / "
           "bound (MB) | result |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        b, a = r.get("baseline") or {}, r.get("attack_window") or {}
        rss = "%s / %s" % tuple("—" if r.get(k) is None else "%.0f" % r[k]
                                for k in ("rss_peak_mb", "rss_bound_mb"))
        result = "pass" if r.get("passed") else "**FAIL**: " + reason(r)
        out.append("| `%s` | %s | %s | %s | %s | %s | %s | %s |" % (
            r["attack"], fmt_ms(b.get("p50_ms")), fmt_ms(b.get("p99_ms")),
            fmt_ms(a.get("p50_ms")), fmt_ms(a.get("p99_ms")), fmt_ms(a.get("max_ms")), rss,
            result))
    out += ["", "![probe p99 per attack](docs/reliability-p99.svg)", "", END]
    return "\n".join(out)


def figure(rows):
    """A horizontal bar chart, log scale: quiet p99 (grey) and attack p99 (blue, red if failed)."""
    lo, hi = 0.01, 10000.0
    left, right, top, row_h = 250, 60, 40, 26
    width = 900
    plot_w = width - left - right
    height = top + row_h * len(rows) + 50

    def x(ms):
        ms = min(max(ms, lo), hi)
        return left + plot_w * (math.log10(ms) - math.log10(lo)) / (math.log10(hi) -
                                                                    math.log10(lo))

    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="14">Probe p99 latency per attack (ms, log scale): '
         'quiet baseline vs. during the attack</text>' % left]
    for decade in range(-2, 5):
        v = 10.0 ** decade
        xv = x(v)
        s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                 % (xv, top - 5, xv, top + row_h * len(rows)))
        label = ("%g" % v)
        s.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>'
                 % (xv, top + row_h * len(rows) + 15, label))
    xc = x(2000)
    s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c00" stroke-dasharray="4,3"/>'
             % (xc, top - 5, xc, top + row_h * len(rows)))
    s.append('<text x="%.1f" y="%d" fill="#c00" text-anchor="middle">2 s ceiling</text>'
             % (xc, top - 8))
    for i, r in enumerate(rows):
        y = top + i * row_h
        b = (r.get("baseline") or {}).get("p99_ms")
        a = (r.get("attack_window") or {}).get("p99_ms")
        s.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                 % (left - 8, y + 16, r["attack"]))
        if b is not None:
            s.append('<rect x="%d" y="%d" width="%.1f" height="9" fill="#aaa"/>'
                     % (left, y + 4, max(1.0, x(b) - left)))
        if a is not None:
            color = "#3366cc" if r.get("passed") else "#cc3333"
            s.append('<rect x="%d" y="%d" width="%.1f" height="9" fill="%s"/>'
                     % (left, y + 14, max(1.0, x(a) - left), color))
            s.append('<text x="%.1f" y="%d" fill="#333">%s</text>'
                     % (x(a) + 4, y + 22, fmt_ms(a)))
    y = top + row_h * len(rows) + 35
    s.append('<rect x="%d" y="%d" width="12" height="9" fill="#aaa"/><text x="%d" y="%d">quiet'
             '</text>' % (left, y - 8, left + 16, y))
    s.append('<rect x="%d" y="%d" width="12" height="9" fill="#3366cc"/><text x="%d" y="%d">'
             'attack (passed)</text>' % (left + 70, y - 8, left + 86, y))
    s.append('<rect x="%d" y="%d" width="12" height="9" fill="#cc3333"/><text x="%d" y="%d">'
             'attack (failed)</text>' % (left + 200, y - 8, left + 216, y))
    s.append("</svg>")
    return "\n".join(s) + "\n"


def source_line(repo):
    try:
        rev = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        rev = "?"
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "`ctest -L adversarial` on a Release build (%s), %s, %d CPUs" % (
        rev or "?", today, os.cpu_count() or 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--results", required=True)
    ap.add_argument("--readme")
    ap.add_argument("--figure")
    args = ap.parse_args()
    rows = load(args.results)
    if not rows:
        print("no results in %s" % args.results, file=sys.stderr)
        return 1
    repo = os.path.dirname(os.path.abspath(args.readme)) if args.readme else "."
    text = table(rows, source_line(repo))
    if args.readme:
        with open(args.readme) as f:
            readme = f.read()
        if BEGIN not in readme or END not in readme:
            print("%s has no %s ... %s markers" % (args.readme, BEGIN, END), file=sys.stderr)
            return 1
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.readme, "w") as f:
            f.write(head + text + tail)
    else:
        print(text)
    if args.figure:
        with open(args.figure, "w") as f:
            f.write(figure(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
