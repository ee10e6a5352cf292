"""Aggregation and output for bench/run: medians with min–max over the repetitions, ratios
against Redis taken pairwise within each repetition (A and B ran back to back), the target
verdicts, bench/RESULTS.md, and the gnuplot data behind bench/results.png."""

import os
import statistics
import subprocess

REDIS = "redis"


def spread(values):
    """'median (min–max)' for a list of numbers; one value prints alone."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med)
    return "%s (%s–%s)" % (fmt(med), fmt(min(vals)), fmt(max(vals)))


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


class Results:
    """Records are (case, side, rep, metrics dict)."""

    def __init__(self):
        self.records = []
        self.notes = []

    def add(self, case, side, rep, metrics):
        self.records.append((case, side, rep, dict(metrics)))

    def sides(self, case):
        seen = []
        for c, s, _, _ in self.records:
            if c == case and s not in seen:
                seen.append(s)
        return seen

    def values(self, case, side, metric):
        return [m.get(metric) for c, s, _, m in self.records if c == case and s == side]

    def median(self, case, side, metric):
        vals = [v for v in self.values(case, side, metric) if v is not None]
        return statistics.median(vals) if vals else None

    def ratios(self, case, side, metric, base=REDIS):
        """side/base for each repetition that measured both, in the same repetition."""
        by_rep = {}
        for c, s, r, m in self.records:
            if c == case and s in (side, base) and m.get(metric) is not None:
                by_rep.setdefault(r, {})[s] = m[metric]
        return [v[side] / v[base] for v in by_rep.values()
                if side in v and base in v and v[base]]

    def ratio_median(self, case, side, metric, base=REDIS):
        r = self.ratios(case, side, metric, base)
        return statistics.median(r) if r else None

    def table(self, case, columns, ratio_cols=(), base=REDIS):
        """A markdown table: one row per side; columns are (metric, header); ratio_cols are
        (metric, header) ratios against base."""
        head = ["side"] + [h for _, h in columns] + [h for _, h in ratio_cols]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for side in self.sides(case):
            row = [side] + [spread(self.values(case, side, m)) for m, _ in columns]
            for m, _ in ratio_cols:
                row.append("–" if side == base else spread(self.ratios(case, side, m, base)) + "×")
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)


def verdict(value, ok):
    if value is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def ratio_text(ratios):
    """'1.03× (0.83–1.94)': the median ratio and, with several repetitions, their range."""
    if not ratios:
        return "–"
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return "%.2f×" % med
    return "%.2f× (%.2f–%.2f)" % (med, min(ratios), max(ratios))


def cpu_agreement(res, case, side, metric="cpu_us_per_op"):
    """(max - min) / median of the server CPU per operation over the rounds, or None."""
    vals = [v for v in res.values(case, side, metric) if v is not None]
    if len(vals) < 2:
        return None
    return (max(vals) - min(vals)) / statistics.median(vals)


def host_text(res, m):
    """What the host gate (bench/run --host-gate) did with whole rounds, in a sentence or two."""
    if not m.get("host_gate"):
        return "No host gate (`--host-gate 0`): every round counts."
    walks = ", ".join("%.0f" % w for w in m.get("round_walks_ns", []) if w is not None) or "none"
    text = ("Host gate %.0f%%: a round counts only when the median of its memory walks is at most "
            "%.0f%% above the run's lowest reading (%.1f ns), judged again at the end; a round on "
            "a busy host is measured again after %g s. %d rounds measured (memory walk ns: %s), "
            "%d on a busy host, %d counted." % (
                100 * m["host_gate"], 100 * m["host_gate"], m.get("floor_end_ns", 0),
                m.get("host_pause_s", 0), m.get("rounds_measured", 0), walks,
                m.get("rounds_busy_host", 0), m.get("rounds_counted", 0)))
    if m.get("host_stayed_busy"):
        text += (" **The host stayed busy**: fewer quiet rounds than asked for, so every round "
                 "counts, and the spread across rounds shows the host's phases, not the servers.")
    busy = res.sides("pipelined busy host")
    if busy and not m.get("host_stayed_busy"):
        text += " Not counted (server CPU µs/op per busy round): " + "; ".join(
            "%s %s" % (side, ", ".join("%.3f" % v for v in res.values(
                "pipelined busy host", side, "cpu_us_per_op"))) for side in busy) + "."
    return text


def probe_text(res):
    """What the memory-walk gate did in this run (bench/run --probe-gate), in one sentence."""
    info = res.records and [m for c, _, _, m in res.records if c == "pipelined probe"]
    if not info:
        return ""
    m = info[0]
    floor = "floor %.1f ns (lowest of the calibration's readings, %.1f ns median; lowest seen " \
        "in the run %.1f ns)" % (m["calibration_min_ns"], m["calibration_median_ns"],
                                 m.get("floor_end_ns", m["calibration_min_ns"]))
    text = host_text(res, m)
    if not m.get("gate"):
        return "No memory-walk gate on slices in this run (`--probe-gate 0`): every undisturbed " \
            "slice counts; %s. %s" % (floor, text)
    return text + " " + ("Memory-walk gate %.0f%%: a slice counts only when the walk right before it and "
            "right after it both read at most %.0f%% above the run's floor, %s; before each "
            "slice the generator waits (up to %g s) for such a reading, and a slice whose probes "
            "read above it is measured again (*redone: busy host*), at most %d times per side and "
            "round, after which it is kept and counted (*kept above gate*). *every slice* is the "
            "median over all slices measured in the round, kept or not: the spread without the "
            "checks." % (100 * m["gate"], 100 * m["gate"], floor, m["wait_s"], m["redo"]))


def pipelined_targets(res, rows, ratio_row):
    """Issue 18's headline rows: pipelined acquire from semlock-loadgen, median of the
    alternating rounds with their range."""
    if not res.sides("pipelined"):
        return
    for side, what in (("ttl-semlock", "SEMLOCK.ACQUIRE"),
                       ("ttl-semlock (SET NX PX)", "SET NX PX")):
        if side not in res.sides("pipelined"):
            continue
        ratio_row("Pipelined %s: server CPU per op ≤ 0.5× Redis's" % what, "pipelined",
                  "cpu_us_per_op", 0.5, False, side)
        ratio_row("Pipelined %s: throughput ≥ 2× Redis" % what, "pipelined", "ops_per_s", 2.0,
                  True, side)
        ir = res.ratio_median("ir pipelined", side, "ir_per_op")
        if ir is not None:
            rows.append(("(pipelined %s: user-space instructions per op vs Redis, callgrind)"
                         % what, "%.2f×" % ir, "Redis needs %.2f× ours" % (1 / ir)))
    probe = res.values("pipelined probe", "host", "gate")
    gated = bool(probe and probe[0])
    for side in res.sides("pipelined"):
        agree = cpu_agreement(res, "pipelined", side)
        if agree is not None:
            measured = "spread %.1f%% of the median" % (100 * agree)
            raw = cpu_agreement(res, "pipelined", side, "all_cpu_us_per_op")
            if raw is not None:
                # The same rounds with every slice measured counted, kept or measured again.
                measured += " (%severy slice measured: %.1f%%)" % (
                    "slices kept by the memory-walk gate; " if gated else "", 100 * raw)
            host = [m for c, _, _, m in res.records if c == "pipelined probe"]
            if host and host[0].get("host_gate"):
                h = host[0]
                left = h["rounds_measured"] - h["rounds_counted"]
                measured += ("; the host stayed busy: all %d rounds counted" % h["rounds_counted"]
                             if h.get("host_stayed_busy") else
                             "; %d rounds, each on a quiet host" % h["rounds_counted"] if not left
                             else "; %d rounds counted, %d more on a busy host left out" % (
                                 h["rounds_counted"], left))
            rows.append(("Pipelined, %s: server CPU/op agrees within 10%% across rounds" % side,
                         measured, verdict(agree, agree <= 0.10)))
        ratios = [r for r in res.ratios("pipelined", side, "cpu_us_per_op", REDIS)
                  if r is not None] if side != REDIS else []
        if len(ratios) >= 2:
            agree = (max(ratios) - min(ratios)) / statistics.median(ratios)
            rows.append(("Pipelined, %s: server CPU/op relative to Redis's (same round, "
                         "interleaved) agrees within 10%% across rounds" % side,
                         "spread %.1f%% of the median" % (100 * agree),
                         verdict(agree, agree <= 0.10)))


def targets(res):
    """(target, measured, verdict) rows for the summary."""
    rows = []
    S = "ttl-semlock"

    def ratio_row(label, case, metric, limit, higher_is_better=True, side=S):
        r = res.ratio_median(case, side, metric)
        ok = r is not None and (r >= limit if higher_is_better else r <= limit)
        rows.append((label, "–" if r is None else ratio_text(res.ratios(case, side, metric)),
                     verdict(r, ok)))

    pipelined_targets(res, rows, ratio_row)
    ratio_row("Acquire throughput ≥ 1.0× Redis (50 clients)", "acquire c50", "rps", 1.0)
    ratio_row("Acquire throughput ≥ 1.3× Redis (50 clients, -P 16)", "acquire c50 P16", "rps",
              1.3)
    r = res.ratio_median("ir acquire P16", S, "ir_per_op")
    if r is not None:
        rows.append(("(-P 16: user-space instructions per acquire vs Redis, callgrind)",
                     "%.2f×" % r, "Redis needs %.2f× ours" % (1 / r)))
    ratio_row("Acquire p99 ≤ Redis's (50 clients)", "acquire c50", "p99_us", 1.0, False)
    ratio_row("Acquire p99 ≤ Redis's (1 client)", "acquire c1", "p99_us", 1.0, False)
    ratio_row("Server CPU per acquire ≤ Redis's (50 clients)", "acquire c50", "cpu_us_per_op",
              1.0, False)
    for metric, label in (("rss_per_lock", "RSS"), ("accounted_per_lock", "accounted bytes")):
        r = res.ratio_median("memory", S, metric)
        ok = r is not None and r <= 0.6
        rows.append(("Memory per lock ≤ 0.6× Redis's (%s)" % label,
                     "–" if r is None else "%.2f×" % r, verdict(r, ok)))
    rec = res.median("expiry", S, "reclaim_ms")
    rows.append(("100,000 expired locks reclaimed ≤ 20 ms after the last deadline",
                 "–" if rec is None else "%.1f ms (Redis %s ms)" % (
                     rec, fmt(res.median("expiry", REDIS, "reclaim_ms"))),
                 verdict(rec, rec is not None and rec <= 20)))
    wg = res.median("expiry", S, "waiters_granted_ms")
    rows.append(("Queued waiters granted ≤ 20 ms after the last deadline",
                 "–" if wg is None else "%.1f ms" % wg, verdict(wg, wg is not None and wg <= 20)))
    # The verdict ends the handoff when the grant reached the waiter's socket (the kernel's
    # receive timestamp), so the generator's own wake-up and scheduling are out of it, both
    # sides alike. Busy-polling clients were meant to do that and do not: 32 client threads
    # spinning on one CPU take turns, and a waiter reads its grant a round of turns late.
    hr = res.median("contend", S, "handoff_rx_p50_us")
    h = res.median("contend", S, "handoff_p50_us")
    hp = res.median("contend polling", S, "handoff_p50_us")
    floor = res.median("idle rtt", S, "rtt_p50_us")
    if hr is not None:
        rows.append(("Handoff p50 ≤ 100 µs, server side (release sent → grant on the waiter's "
                     "socket, kernel receive timestamp; the waiter's own wake-up, the same for any "
                     "server, left out)",
                     "%s µs closed loop, %s µs with think time, %s µs with busy-polling clients; "
                     "Redis, SET NX polled every 100 ms (only polls that land after a release "
                     "count): %s µs, %s µs, %s µs; as the waiting client saw it (its wake-up "
                     "included): %s µs sleeping, %s µs busy-polling; PING after 1 ms idle: %s µs "
                     "here, %s µs Redis"
                     % (fmt(hr), fmt(res.median("contend think", S, "handoff_rx_p50_us")),
                        fmt(res.median("contend polling", S, "handoff_rx_p50_us")),
                        fmt(res.median("contend", REDIS, "handoff_rx_p50_us")),
                        fmt(res.median("contend think", REDIS, "handoff_rx_p50_us")),
                        fmt(res.median("contend polling", REDIS, "handoff_rx_p50_us")),
                        fmt(h), fmt(hp), fmt(floor),
                        fmt(res.median("idle rtt", REDIS, "rtt_p50_us"))),
                     verdict(hr, hr <= 100)))
    elif h is not None or hp is not None:  # results from a generator without receive stamps
        v = hp if hp is not None else h
        rows.append(("Handoff p50 ≤ 100 µs (as the client thread read the grant)",
                     "%s µs with polling clients, %s µs sleeping clients" % (fmt(hp), fmt(h)),
                     verdict(v, v <= 100)))
    ir = res.ratio_median("ir limits", "limits on", "ir_per_op", "limits off")
    if ir is not None:
        rows.append(("Limits overhead < 1% (user-space instructions per acquire, callgrind)",
                     "%+.2f%%" % ((ir - 1) * 100), verdict(ir, ir < 1.01)))
    ev = res.ratios("persistence c50", "persistence everysec", "rps", "persistence off")
    if ev:
        r = statistics.median(ev)
        al = res.ratios("persistence c50", "persistence always", "rps", "persistence off")
        rows.append(("Acquire with fsync everysec ≥ 0.8× persistence off (50 clients)",
                     "%s (always, group commit: %s)" % (ratio_text(ev), ratio_text(al)),
                     verdict(r, r >= 0.8)))
    for case in ("limits c50", "limits c50 P16"):
        cpu = res.ratios(case, "limits on", "cpu_us_per_op", "limits off")
        rps = res.ratios(case, "limits on", "rps", "limits off")
        r_cpu = statistics.median(cpu) if cpu else None
        ok = r_cpu is not None and r_cpu < 1.01
        text = verdict(r_cpu, ok)
        # Timings on a shared machine scatter by more than 1%: when the repetitions disagree
        # about which side is cheaper, the timing cannot decide (the instruction count can).
        if cpu and min(cpu) < 1.0 < max(cpu):
            text = "within noise"
        rows.append(("Limits overhead < 1%% (%s, server CPU time per op)" % case.split(" ", 1)[1],
                     "–" if r_cpu is None else "CPU/op %s, ops/s %s" % (
                         ratio_text(cpu), ratio_text(rps)), text))
    return rows


def write_markdown(res, path, header_lines):
    out = ["# Results: ttl-semlock side by side with Redis", ""]
    out += header_lines + [""]
    out += ["## Targets", "", "| target | measured: median of per-repetition ratios (range) | "
            "verdict |",
            "|---|---|---|"]
    out += ["| %s | %s | %s |" % row for row in targets(res)]
    out += [""] + ["- " + n for n in res.notes] + [""]
    if res.sides("pipelined"):
        out += ["## 0. Pipelined acquire (semlock-loadgen: 1 thread, 8 connections, 2 batches "
                "of 16 in flight each, keyspace 100,000, TTL 30 s)", "",
                "Each round starts fresh servers, one per side, and drives them in turn in short "
                "slices, the order alternating; the generator busy-polls, so no reply has to wake "
                "it. Server CPU is the median over the round's slices of the server's own "
                "user+system time in the measured window (after each slice's warm-up) per "
                "request; *pooled* is all kept slices' CPU over all their requests. A slice in "
                "which the server was under 90% busy, or more than 5% of its core went to "
                "anything else (another task, the hypervisor), is measured again: *redone* "
                "counts those per round (bench/README.md). *memory walk* is a fixed probe timed on "
                "the server's CPU before and after each slice (ns per step of a walk through 4 "
                "MiB, the generator's CPU held meanwhile as during a slice): the host's cache and "
                "memory contention, which moves the CPU per request of both servers and which no "
                "guest counter shows. " + probe_text(res) + " "
                "*server busy* is CPU time over wall time (1.0 = a whole core), *client busy* "
                "the generator's polls that found replies over wall time: its headroom.", "",
                res.table("pipelined", [("ops_per_s", "ops/s"),
                                        ("cpu_us_per_op", "server CPU µs/op"),
                                        ("pooled_cpu_us_per_op", "pooled µs/op"),
                                        ("all_cpu_us_per_op", "every slice µs/op"),
                                        ("slices_redone", "slices redone"),
                                        ("slices_probe_redone", "redone: busy host"),
                                        ("slices_kept_above_gate", "kept above gate"),
                                        ("probe_walk_ns", "memory walk ns"),
                                        ("probe_after_walk_ns", "walk after ns"),
                                        ("probe_kept_max_ns", "walk max kept ns"),
                                        ("server_cpu_util", "server busy"),
                                        ("client_cpu_util", "client busy"),
                                        ("reads_per_batch", "client reads/batch")],
                          [("ops_per_s", "ops/s vs Redis"),
                           ("cpu_us_per_op", "CPU/op vs Redis")]), ""]
        if res.sides("ir pipelined"):
            out += ["User-space instructions per pipelined request (callgrind, same client, "
                    "fixed request count):", "",
                    res.table("ir pipelined", [("ir_per_op", "instructions/request")],
                              [("ir_per_op", "vs Redis")]), ""]
    rb_cols = [("rps", "ops/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs"),
               ("cpu_us_per_op", "server CPU µs/op")]
    rb_ratios = [("rps", "ops/s vs Redis"), ("cpu_us_per_op", "CPU/op vs Redis")]
    sections = [
        ("## 1. Acquire (redis-benchmark, keyspace 100,000, TTL 30 s)",
         ["acquire c50", "acquire c50 P16"], rb_cols, rb_ratios),
        ("## 3. PING floor and one client", ["ping c50", "ping c50 P16", "acquire c1", "ping c1"],
         rb_cols, rb_ratios),
    ]
    for title, cases, cols, ratios in sections:
        out += [title, ""]
        for case in cases:
            if res.sides(case):
                out += ["### " + case, "", res.table(case, cols, ratios), ""]
        if title.startswith("## 1.") and res.sides("cycle"):
            out += ["## 2. Owner acquire–release cycles (semlock-loadgen)", "",
                    "Each client acquires its own keys with an owner, then releases safely: "
                    "`SEMLOCK.RELEASE key owner` here, `EVALSHA` of the get-compare-del script on "
                    "Redis.", "",
                    res.table("cycle", [("cycles_per_s", "cycles/s"),
                                        ("acquire_p50_us", "acquire p50 µs"),
                                        ("acquire_p99_us", "acquire p99 µs"),
                                        ("release_p50_us", "release p50 µs"),
                                        ("release_p99_us", "release p99 µs"),
                                        ("cpu_us_per_op", "server CPU µs/request")],
                              [("cycles_per_s", "cycles/s vs Redis"),
                               ("cpu_us_per_op", "CPU/request vs Redis")]), ""]
    contend_cols = [("grants_per_s", "grants/s"), ("min_grants", "min/client"),
                    ("max_grants", "max/client"), ("fairness", "max/min"),
                    ("handoffs", "handoffs"), ("handoffs_rx", "stamped"),
                    ("handoff_rx_p50_us", "handoff p50 µs"),
                    ("handoff_rx_p99_us", "handoff p99 µs"),
                    ("handoff_p50_us", "handoff p50 µs, read"),
                    ("handoff_p99_us", "handoff p99 µs, read"), ("wait_p50_us", "wait p50 µs"),
                    ("wait_p99_us", "wait p99 µs"), ("cpu_us_per_grant", "server CPU µs/grant")]
    for case, title in (("contend", "4a. Contended keys, WAIT vs polling: closed loop (a "
                                    "releaser asks again at once)"),
                        ("contend think", "4b. Contended keys, WAIT vs polling: 20 ms of think "
                                          "time after each release"),
                        ("contend polling", "4a'. Contended keys, closed loop, clients busy-poll "
                                            "for replies")):
        if res.sides(case):
            out += ["## " + title, "",
                    "32 clients on 4 keys, 1 ms held; `WAIT` here, `SET NX` + 100 ms sleep on "
                    "Redis.", "", res.table(case, contend_cols), ""]
    if res.sides("contend"):
        out += ["max/min is -1 when some client got no grant at all. A handoff is a grant whose "
                "acquire was sent before the key's last release. *handoff* runs from the release "
                "being sent to the grant reaching the waiter's socket (the kernel's receive "
                "timestamp, SO_TIMESTAMPNS; *stamped* counts the handoffs that carried one); "
                "*read* to the waiter's thread reading it, which adds "
                "the generator's own wake-up (sleeping clients) or its turn among 32 spinning "
                "threads on one CPU (busy-polling clients). Wait runs from the first try to the "
                "grant, or to the end of the run for a client never granted.", ""]
    if res.sides("json"):
        out += ["## 4c. JSON lines: persistent vs one request per connection", "",
                res.table("json", [("cycles_per_s", "cycles/s"), ("request_p50_us", "p50 µs"),
                                   ("request_p99_us", "p99 µs"),
                                   ("cpu_us_per_op", "server CPU µs/request")]), ""]
    idle_cases = ("idle rtt", "idle rtt polling", "idle rtt polling, server CPU busy")
    if any(res.sides(c) for c in idle_cases):
        out += ["## 4d. Wake-up floor: PING after 1 ms idle (semlock-loadgen idle-rtt)", "",
                "One client sleeps 1 ms between PINGs, so both CPUs idle as they do while a lock "
                "is held; the round trip is the floor under any handoff measured here. Taken "
                "apart: the client waiting for the reply in `recv` (its CPU halts), busy-polling "
                "(it does not), and busy-polling with the server's CPU kept from halting by a "
                "lowest-priority spinner (what a busy-polling server would reach).", ""]
        for case, title in (("idle rtt", "client sleeps"),
                            ("idle rtt polling", "client busy-polls"),
                            ("idle rtt polling, server CPU busy",
                             "client busy-polls, server CPU kept from halting")):
            if res.sides(case):
                out += ["### " + title, "",
                        res.table(case, [("rtt_p50_us", "p50 µs"), ("rtt_p99_us", "p99 µs"),
                                         ("cpu_us_per_op", "server CPU µs/PING")],
                                  [("rtt_p50_us", "p50 vs Redis")]), ""]
    if res.sides("memory"):
        out += ["## 5. Memory for held locks", "",
                res.table("memory", [("locks", "locks"), ("rss_per_lock", "RSS B/lock"),
                                     ("accounted_per_lock", "accounted B/lock"),
                                     ("fill_per_s", "fill locks/s")],
                          [("rss_per_lock", "RSS vs Redis"),
                           ("accounted_per_lock", "accounted vs Redis")]),
                "", "Accounted: ttl-semlock's `used_memory_engine` (exactly accounted engine "
                "bytes) vs Redis's `used_memory`; both as deltas over the empty server.", ""]
    if res.sides("expiry"):
        out += ["## 6. Expiry of 100,000 locks with a 1 s TTL", "",
                res.table("expiry", [("reclaim_ms", "DBSIZE 0 after last deadline, ms"),
                                     ("reclaim_after_ms", "keys still there at, ms"),
                                     ("poll_gap_max_ms", "longest poll gap, ms"),
                                     ("waiters_granted_ms", "last waiter granted, ms"),
                                     ("fill_s", "fill s")]),
                "", "The last deadline is taken as the time the last acquire's reply arrived "
                "plus the TTL (no deadline is later). DBSIZE is polled every millisecond: the "
                "keys were gone after the last poll that still found some was sent (*keys still "
                "there at*) and before the answer 0 arrived; a long *poll gap* means the poller "
                "was late, not the server. Waiters (ttl-semlock only) queue with "
                "`WAIT` on the last keys filled and release at once when granted.", ""]
    for case in ("limits c50", "limits c50 P16"):
        if res.sides(case):
            out += ["## 7. Limits on vs off: " + case, "",
                    res.table(case, rb_cols, [("rps", "ops/s vs off"),
                                              ("cpu_us_per_op", "CPU/op vs off")],
                              base="limits off"), ""]
    if res.sides("persistence c50"):
        out += ["## 7b. Persistence: acquire with the journal off, fsync everysec, fsync always", "",
                res.table("persistence c50", rb_cols, [("rps", "ops/s vs off"),
                                                       ("cpu_us_per_op", "CPU/op vs off")],
                          base="persistence off"), ""]
    if res.sides("ir acquire") or res.sides("ir limits"):
        out += ["## 8. User-space instructions per request (callgrind, 50 clients)", "",
                "Counted under `valgrind --tool=callgrind` from after start-up to the end of the "
                "load (`callgrind_control -z`/`-d`); kernel time (the TCP stack, most of a "
                "non-pipelined request) is not in it. Deterministic, unlike the timings.", ""]
        for case in ("ir acquire", "ir acquire P16"):
            if res.sides(case):
                out += ["### " + case[3:] + (" (-P 16)" if "P16" in case else ""), "",
                        res.table(case, [("ir_per_op", "instructions/request")],
                                  [("ir_per_op", "vs Redis")]), ""]
        if res.sides("ir limits"):
            out += ["### limits on vs off (acquire)", "", res.table("ir limits", [("ir_per_op", "instructions/request")],
                              [("ir_per_op", "vs off")], base="limits off"), ""]
    out += ["## Chart", "", "![throughput and latency](results.png)", ""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def write_chart(res, outdir, png, script):
    """Writes the chart's data files and runs gnuplot; returns an error text or None."""
    sides = ["ttl-semlock", "redis"]
    tput = [("acquire c50", "rps", "acquire"), ("acquire c50 P16", "rps", "acquire -P16"),
            ("ping c50", "rps", "PING"), ("ping c50 P16", "rps", "PING -P16"),
            ("cycle", "cycles_per_s", "acq+release"), ("contend", "grants_per_s", "contended")]
    lat = [("acquire c1", "p50_us", "acquire p50 c1"), ("acquire c1", "p99_us", "acquire p99 c1"),
           ("acquire c50", "p50_us", "acquire p50 c50"),
           ("acquire c50", "p99_us", "acquire p99 c50"),
           ("cycle", "release_p50_us", "release p50"),
           ("contend", "handoff_rx_p50_us", "handoff p50 (socket)"),
           ("contend think", "handoff_rx_p50_us", "handoff p50 think (socket)")]

    def dump(name, rows, scale):
        with open(os.path.join(outdir, name), "w") as f:
            f.write("label ttl-semlock redis\n")
            for case, metric, label in rows:
                vals = [res.median(case, s, metric) for s in sides]
                f.write('"%s" %s\n' % (label, " ".join(
                    "NaN" if v is None else "%g" % (v * scale) for v in vals)))

    dump("throughput.dat", tput, 1e-3)
    dump("latency.dat", lat, 1.0)
    try:
        subprocess.run(["gnuplot", "-e", "datadir='%s'; outfile='%s'" % (outdir, png), script],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return "chart not drawn: %s" % e
    return None
