"""bench/run's slice checks and bench/report.py's verdicts, on made-up records (no servers, no
timing). Usage: bench_report_test.py ROOT"""

import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import unittest

ROOT = sys.argv.pop(1) if len(sys.argv) > 1 else os.getcwd()
sys.path.insert(0, os.path.join(ROOT, "bench"))

import report  # noqa: E402


def load_run():
    path = os.path.join(ROOT, "bench", "run")
    loader = importlib.machinery.SourceFileLoader("bench_run", path)
    spec = importlib.util.spec_from_loader("bench_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


RUN = load_run()


def slice_figures(**over):
    """One pipelined slice as semlock-loadgen reports it: the server alone and busy."""
    m = {"seconds": 0.15, "server_cpu_s": 0.1485, "server_cpu_util": 0.99,
         "server_wait_s": 0.0002, "core_idle_s": 0.0010, "core_steal_s": 0.0,
         "server_cpu_us_per_op": 0.35}
    m.update(over)
    return m


class Disturbance(unittest.TestCase):
    def test_server_alone_and_busy_counts(self):
        self.assertEqual(RUN.pipelined_disturbance(slice_figures()), "")

    def test_server_not_the_bottleneck(self):
        why = RUN.pipelined_disturbance(slice_figures(server_cpu_util=0.67, server_cpu_s=0.1))
        self.assertEqual(why, "server busy 67%")

    def test_server_waiting_for_its_cpu(self):
        why = RUN.pipelined_disturbance(slice_figures(server_wait_s=0.02))
        self.assertEqual(why, "server waited 20.0 ms for its CPU")

    def test_core_time_elsewhere(self):
        # 150 ms wall, 1 ms idle, 135 ms server: 14 ms went to something else (steal included).
        why = RUN.pipelined_disturbance(slice_figures(server_cpu_s=0.135, core_steal_s=0.01))
        self.assertEqual(why, "14.0 ms of its core elsewhere (steal 10 ms)")

    def test_without_core_figures_only_the_server_counts(self):
        m = slice_figures()
        for k in ("core_idle_s", "core_steal_s"):
            del m[k]
        self.assertEqual(RUN.pipelined_disturbance(m), "")


class ProbeGate(unittest.TestCase):
    def test_both_probes_under_the_gate_count(self):
        m = slice_figures(probe_walk_ns=26.0, probe_after_walk_ns=28.0)
        self.assertEqual(RUN.probe_gate_reason(m, 25.0, 0.15), "")

    def test_a_slow_probe_after_the_slice_is_measured_again(self):
        m = slice_figures(probe_walk_ns=26.0, probe_after_walk_ns=40.0)
        self.assertEqual(RUN.probe_gate_reason(m, 25.0, 0.2),
                         "memory walk 26.0 ns before, 40.0 ns after (gate 30.0 ns)")

    def test_a_slow_probe_before_the_slice_is_measured_again(self):
        m = slice_figures(probe_walk_ns=30.0, probe_after_walk_ns=26.0)
        self.assertIn("30.0 ns before", RUN.probe_gate_reason(m, 25.0, 0.15))

    def test_no_gate_or_no_probe_keeps_the_slice(self):
        m = slice_figures(probe_walk_ns=90.0, probe_after_walk_ns=90.0)
        self.assertEqual(RUN.probe_gate_reason(m, 25.0, None), "")
        self.assertEqual(RUN.probe_gate_reason(slice_figures(), 25.0, 0.15), "")


class HostGate(unittest.TestCase):
    """Whole rounds judged by their memory walk against the run's floor (bench/run --host-gate)."""

    def test_a_round_near_the_floor_counts(self):
        self.assertTrue(RUN.host_quiet(40.0, 21.3, 1.0))
        self.assertFalse(RUN.host_quiet(115.0, 21.3, 1.0))

    def test_no_gate_or_no_probe_counts_every_round(self):
        self.assertTrue(RUN.host_quiet(115.0, 21.3, None))
        self.assertTrue(RUN.host_quiet(None, 21.3, 1.0))

    def test_a_rounds_walk_is_the_median_of_its_sides(self):
        recs = {"a": {"probe_walk_ns": 30.0}, "b": {"probe_walk_ns": 120.0},
                "c": {"probe_walk_ns": 35.0}, "d": {"probe_walk_ns": None}}
        self.assertEqual(RUN.round_walk(recs), 35.0)
        self.assertIsNone(RUN.round_walk({"a": {}}))

    def host_records(self, stayed_busy):
        recs = [("pipelined", "ttl-semlock", r, {"cpu_us_per_op": v, "ops_per_s": 1.0})
                for r, v in enumerate([0.571, 0.581, 0.578, 0.575, 0.580])]
        recs.append(("pipelined busy host", "ttl-semlock", 0, {"cpu_us_per_op": 0.971}))
        recs.append(("pipelined probe", "host", 0, {
            "calibration_min_ns": 71.1, "calibration_median_ns": 108.1, "gate": None,
            "floor_end_ns": 21.3, "host_gate": 1.0, "host_pause_s": 5.0, "rounds_measured": 6,
            "rounds_counted": 5, "rounds_busy_host": 1, "host_stayed_busy": stayed_busy,
            "round_walks_ns": [118.7, 33.1, 31.1, 36.2, 35.0, 34.0]}))
        return results(*recs)

    def test_the_report_says_which_rounds_counted(self):
        res = self.host_records(False)
        _, measured, verdict = row(res, "Pipelined, ttl-semlock: server CPU/op agrees")
        self.assertEqual(measured, "spread 1.7% of the median; 5 rounds counted, 1 more on a "
                                   "busy host left out")
        self.assertEqual(verdict, "**met**")
        text = report.probe_text(res)
        self.assertIn("Host gate 100%", text)
        self.assertIn("6 rounds measured (memory walk ns: 119, 33, 31, 36, 35, 34), 1 on a busy "
                      "host, 5 counted", text)
        self.assertIn("Not counted (server CPU µs/op per busy round): ttl-semlock 0.971.", text)

    def test_a_host_that_stayed_busy_is_said(self):
        text = report.probe_text(self.host_records(True))
        self.assertIn("**The host stayed busy**", text)
        self.assertNotIn("Not counted", text)


def results(*records):
    res = report.Results()
    for case, side, rep, m in records:
        res.add(case, side, rep, m)
    return res


def row(res, prefix):
    return next(r for r in report.targets(res) if r[0].startswith(prefix))


class Targets(unittest.TestCase):
    def test_handoff_verdict_ends_at_the_waiters_socket(self):
        res = results(("contend", "ttl-semlock", 0, {"handoff_rx_p50_us": 65.0,
                                                     "handoff_p50_us": 94.0}),
                      ("contend polling", "ttl-semlock", 0, {"handoff_rx_p50_us": 57.0,
                                                             "handoff_p50_us": 116.0}),
                      ("contend", "redis", 0, {"handoff_rx_p50_us": 134.0}))
        label, measured, verdict = row(res, "Handoff p50")
        self.assertIn("server side (release sent → grant on the waiter's socket", label)
        self.assertTrue(measured.startswith("65.0 µs closed loop"), measured)
        self.assertIn("57.0 µs with busy-polling clients; Redis, SET NX polled every 100 ms "
                      "(only polls that land after a release count): 134 µs, – µs, – µs",
                      measured)
        self.assertIn("as the waiting client saw it (its wake-up included): 94.0 µs sleeping, "
                      "116 µs busy-polling", measured)
        self.assertEqual(verdict, "**met**")

    def test_handoff_verdict_missed_at_the_socket_is_missed(self):
        # Read by the thread under 100 µs cannot hide a socket figure over it (it never is).
        res = results(("contend", "ttl-semlock", 0, {"handoff_rx_p50_us": 120.0,
                                                     "handoff_p50_us": 90.0}))
        _, _, verdict = row(res, "Handoff p50")
        self.assertEqual(verdict, "**missed**")

    def test_handoff_without_any_stamped_grant_is_not_measured(self):
        # The generator writes null for a percentile of no samples (never 0, an instant handoff).
        res = results(("contend", "ttl-semlock", 0, {"handoffs_rx": 0, "handoff_rx_p50_us": None,
                                                     "handoff_p50_us": 146.0}))
        _, measured, verdict = row(res, "Handoff p50")
        self.assertEqual(verdict, "**missed**")
        self.assertIn("146 µs sleeping", measured)

    def test_handoff_verdict_from_figures_as_read_without_receive_stamps(self):
        res = results(("contend", "ttl-semlock", 0, {"handoff_p50_us": 146.0}),
                      ("contend polling", "ttl-semlock", 0, {"handoff_p50_us": 70.0}))
        label, measured, verdict = row(res, "Handoff p50")
        self.assertEqual(label, "Handoff p50 ≤ 100 µs (as the client thread read the grant)")
        self.assertEqual(measured, "70.0 µs with polling clients, 146 µs sleeping clients")
        self.assertEqual(verdict, "**met**")
        res = results(("contend", "ttl-semlock", 0, {"handoff_p50_us": 146.0}))
        self.assertEqual(row(res, "Handoff p50")[2], "**missed**")

    def test_cpu_agreement_is_the_spread_of_the_rounds(self):
        recs = [("pipelined", "ttl-semlock", r, {"cpu_us_per_op": v, "ops_per_s": 1.0})
                for r, v in enumerate([0.50, 0.52, 0.55, 0.51, 0.50])]
        res = results(*recs)
        self.assertAlmostEqual(report.cpu_agreement(res, "pipelined", "ttl-semlock"),
                               0.05 / 0.51)
        _, measured, verdict = row(res, "Pipelined, ttl-semlock: server CPU/op agrees")
        self.assertEqual(measured, "spread 9.8% of the median")
        self.assertEqual(verdict, "**met**")


    def test_gated_agreement_shows_the_spread_of_every_slice_beside_it(self):
        recs = [("pipelined", "ttl-semlock", r, {"cpu_us_per_op": v, "all_cpu_us_per_op": w,
                                                 "ops_per_s": 1.0})
                for r, (v, w) in enumerate([(0.50, 0.60), (0.52, 0.50), (0.51, 0.80)])]
        recs.append(("pipelined probe", "host", 0, {"calibration_min_ns": 25.0,
                                                    "calibration_median_ns": 30.0,
                                                    "gate": 0.25, "wait_s": 0.5, "redo": 8}))
        res = results(*recs)
        _, measured, verdict = row(res, "Pipelined, ttl-semlock: server CPU/op agrees")
        self.assertEqual(measured, "spread 3.9% of the median (slices kept by the memory-walk "
                                   "gate; every slice measured: 50.0%)")
        self.assertEqual(verdict, "**met**")
        self.assertIn("Memory-walk gate 25%", report.probe_text(res))
        self.assertIn("floor 25.0 ns", report.probe_text(res))


class Markdown(unittest.TestCase):
    def test_new_tables_are_written(self):
        res = results(
            ("pipelined", "ttl-semlock", 0, {"ops_per_s": 2e6, "cpu_us_per_op": 0.35,
                                             "pooled_cpu_us_per_op": 0.36, "slices_redone": 1,
                                             "probe_walk_ns": 25.0, "server_cpu_util": 0.99,
                                             "client_cpu_util": 0.4, "reads_per_batch": 0.5}),
            ("contend polling", "ttl-semlock", 0, {"handoff_p50_us": 70.0}),
            ("idle rtt polling", "ttl-semlock", 0, {"rtt_p50_us": 60.0}),
            ("expiry", "ttl-semlock", 0, {"reclaim_ms": 8.0, "reclaim_after_ms": 0.6,
                                          "poll_gap_max_ms": 3.0}))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "RESULTS.md")
            report.write_markdown(res, path, ["header"])
            with open(path) as f:
                text = f.read()
        self.assertIn("| side | ops/s | server CPU µs/op | pooled µs/op | every slice µs/op | "
                      "slices redone | redone: busy host | kept above gate | memory walk ns | "
                      "walk after ns | walk max kept ns |", text)
        self.assertIn("## 4a'. Contended keys, closed loop, clients busy-poll", text)
        self.assertIn("| handoffs | stamped | handoff p50 µs | handoff p99 µs | "
                      "handoff p50 µs, read | handoff p99 µs, read |", text)
        self.assertIn("### client busy-polls", text)
        self.assertIn("| ttl-semlock | 8.00 | 0.60 | 3.00 |", text)


if __name__ == "__main__":
    unittest.main()
