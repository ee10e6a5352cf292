// semlock_checker: a randomized mutual-exclusion checker that runs the real ttl-semlock binary.
// Many clients (RESP, JSON lines, the Redis SET idiom) contend on a few mutexes and semaphores
// with short TTLs; every request/reply is recorded with client-side times and checked afterwards
// (analysis.h). See docs/CHECKER.md for the modes, the checks and the time bounds.
//
// Exit status: 0 when no violation was found (and the grant target was reached), 1 otherwise,
// 2 on a usage or set-up error.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/checker/analysis.h"
#include "tests/checker/driver.h"
#include "tests/checker/server_proc.h"
#include "tests/checker/wire.h"
#include "tests/integration/clients.h"

namespace semlock::checker {
namespace {

struct RunSpec {
  std::string name;
  int resolution_ms = 10;
  std::uint64_t budget = 100000;  // cleanup.max_expiries_per_tick
  int workers = 32;
  std::uint64_t target_grants = 25000;
  double max_seconds = 60;
  bool crash = false;
  std::uint64_t seed = 1;
};

struct Totals {
  std::uint64_t grants = 0, ops = 0, violations = 0;
  double seconds = 0;
  std::map<std::string, std::uint64_t> by_kind;
};

// The server's config for one run: its tick and expiry budget; persistence for a crash run.
ServerProc::ConfigFn run_config(const RunSpec& spec) {
  return [spec](const std::string& dir, std::uint16_t port, std::uint16_t metrics) {
    std::string config = R"({"server":{"host":"127.0.0.1","port":)" + std::to_string(port) +
                         R"(,"max_request_bytes":4096},"metrics":{"host":"127.0.0.1","port":)" +
                         std::to_string(metrics) +
                         R"(,"enabled":false},"cleanup":{"resolution":")" +
                         std::to_string(spec.resolution_ms) + R"(ms","max_expiries_per_tick":)" +
                         std::to_string(spec.budget) + R"(},"logging":{"level":"warn"})";
    if (spec.crash) {
      config += R"(,"persistence":{"enabled":true,"dir":")" + dir + R"(/data","fsync":"always"})";
    }
    return config + "}";
  };
}

std::vector<KeySpec> default_keys() {
  return {{"ck:m0", 1}, {"ck:m1", 1}, {"ck:m2", 1}, {"ck:m3", 1},
          {"ck:s2", 2}, {"ck:s3", 3}, {"ck:s4", 4}};
}

Info info_now(std::uint16_t port, int key, const std::string& name) {
  it::RespConn c(port);
  Info info;
  info.key = key;
  info.after_restart = true;
  info.send = steady_now();
  auto v = c.cmd({"SEMLOCK.INFO", name});
  info.recv = steady_now();
  fill_info(info, v);
  return info;
}

// After every client stopped and every TTL ran out, the server must hold nothing.
std::optional<std::string> leak_check(std::uint16_t port, const std::vector<KeySpec>& keys) {
  std::string last;
  for (int i = 0; i < 60; ++i) {
    it::RespConn c(port);
    auto v = c.cmd({"SEMLOCK.STATS"});
    long long holders = -1, waiters = -1, locks = -1;
    if (const auto* h = v.field("Holders")) holders = h->integer;
    if (const auto* w = v.field("Waiters")) waiters = w->integer;
    if (const auto* l = v.field("ActiveLocks")) locks = l->integer;
    if (holders == 0 && waiters == 0 && locks == 0) return std::nullopt;
    last = "SEMLOCK.STATS: Holders " + std::to_string(holders) + ", Waiters " +
           std::to_string(waiters) + ", ActiveLocks " + std::to_string(locks);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  it::RespConn c(port);
  for (const auto& k : keys) {
    auto v = c.cmd({"SEMLOCK.INFO", k.name});
    if (v.type != it::RespValue::Type::kNull) last += "; " + k.name + " " + v.debug();
  }
  return last;
}

void print_examples(const Run& run, const Report& report) {
  Nanos origin = kNever;
  for (const auto& op : run.ops) origin = std::min(origin, op.send);
  for (const auto& v : report.examples) {
    std::printf("  VIOLATION %s: %s\n", v.kind.c_str(), v.text.c_str());
    for (std::size_t i = 0; i < v.ops.size(); ++i) {
      std::printf("    %s %s\n", i < v.named ? "*" : " ",
                  describe(run, run.ops[static_cast<std::size_t>(v.ops[i])], origin).c_str());
    }
  }
}

// Every op of the run, one readable line each in send order (for reading a finding in full).
void dump_history(const Run& run, const std::string& path) {
  std::vector<std::size_t> order(run.ops.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return run.ops[a].send < run.ops[b].send; });
  Nanos origin = order.empty() ? 0 : run.ops[order.front()].send;
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return;
  for (std::size_t i : order) std::fprintf(f, "%s\n", describe(run, run.ops[i], origin).c_str());
  for (Nanos k : run.kills)
    std::fprintf(f, "[%+.3f] KILL -9\n", static_cast<double>(k - origin) / 1e6);
  for (const auto& info : run.infos) {
    if (!info.after_restart) continue;
    std::fprintf(f,
                 "[%+.3f -> %+.3f] RESTART INFO %s:", static_cast<double>(info.send - origin) / 1e6,
                 static_cast<double>(info.recv - origin) / 1e6,
                 run.keys[static_cast<std::size_t>(info.key)].name.c_str());
    for (const auto& h : info.holders) {
      std::fprintf(f, " %s/%llu/%lldms", h.owner.c_str(), static_cast<unsigned long long>(h.fence),
                   static_cast<long long>(h.ttl_ms));
    }
    std::fprintf(f, "\n");
  }
  std::fclose(f);
  std::printf("  history written to %s\n", path.c_str());
}

std::string dump_path;  // --dump PREFIX

Report run_one(const std::string& bin, const RunSpec& spec,
               const std::vector<std::string>& disabled, const AnalysisOptions& aopt,
               Totals& totals) {
  ServerProc server(bin, "semlock-checker", run_config(spec));
  DriverOptions dopt;
  dopt.port = server.port();
  dopt.workers = spec.workers;
  dopt.seed = spec.seed;
  dopt.keys = default_keys();
  dopt.shared_keys = dopt.keys.size();
  for (int i = 0; i < spec.workers; ++i) dopt.keys.push_back({"ck:own" + std::to_string(i), 1});
  dopt.crash_mode = spec.crash;
  dopt.disabled = disabled;
  DriverControl ctl;
  std::vector<Shard> shards;
  auto started = std::chrono::steady_clock::now();
  std::thread driver([&] { shards = drive(dopt, ctl); });

  Run run;
  run.keys = dopt.keys;
  std::vector<Info> restart_infos;
  std::mt19937_64 rng(spec.seed ^ 0xc4a5);
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  double next_kill = 0.5 + static_cast<double>(rng() % 1000) / 1000.0;
  std::string setup_error;
  while (ctl.grants.load() < spec.target_grants && elapsed() < spec.max_seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!spec.crash || elapsed() < next_kill) continue;
    ctl.paused = true;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    run.kills.push_back(steady_now());
    server.kill9();
    try {
      server.start();
      for (std::size_t k = 0; k < dopt.keys.size(); ++k) {
        restart_infos.push_back(info_now(server.port(), static_cast<int>(k), dopt.keys[k].name));
      }
    } catch (const std::exception& e) {
      setup_error = e.what();
      ctl.paused = false;
      break;
    }
    ctl.paused = false;
    next_kill = elapsed() + 0.3 + static_cast<double>(rng() % 1200) / 1000.0;
  }
  ctl.stop = true;
  driver.join();
  double seconds = elapsed();
  merge(shards, run);
  for (auto& i : restart_infos) run.infos.push_back(std::move(i));

  // Let every TTL run out (the longest is 1 s), then nothing may be left.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  AnalysisOptions run_opt = aopt;
  std::uint64_t most_holders = static_cast<std::uint64_t>(spec.workers) + 16;
  // SPEC §1: within a tick, expiries come before waiter timeouts, so with a budget that covers
  // every holder a waiter timing out after a holder's deadline must have been granted. A small
  // budget may leave due holders for later ticks: allow as many ticks as it needs for all.
  run_opt.wheel_lag = spec.budget >= most_holders
                          ? 0
                          : spec.resolution_ms * kMs *
                                static_cast<Nanos>((most_holders + spec.budget - 1) / spec.budget);
  Report report = analyze(run, run_opt);
  if (setup_error.empty()) {
    if (auto leak = leak_check(server.port(), dopt.keys)) {
      report.add(Violation{"leak", *leak, {}});
    }
    int code = server.terminate();
    if (code != 0) {
      report.add(Violation{
          "server_exit",
          "exit code " + std::to_string(code) + " after SIGTERM; log: " + server.log_tail(),
          {}});
    }
  } else {
    report.add(Violation{"setup", setup_error, {}});
  }

  std::printf(
      "run %-28s resolution=%dms budget=%llu clients=%d%s: %llu grants, %llu ops, "
      "%llu refusals, %llu fifo observations, %zu kills, %llu restart checks, %.1f s, "
      "%llu violations\n",
      spec.name.c_str(), spec.resolution_ms, static_cast<unsigned long long>(spec.budget),
      spec.workers, spec.crash ? " crash(fsync=always)" : "",
      static_cast<unsigned long long>(report.grants), static_cast<unsigned long long>(report.ops),
      static_cast<unsigned long long>(report.refusals),
      static_cast<unsigned long long>(report.fifo_observations), run.kills.size(),
      static_cast<unsigned long long>(report.restart_checks), seconds,
      static_cast<unsigned long long>(report.total_violations()));
  for (const auto& [kind, n] : report.violations) {
    std::printf("    %-20s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    totals.by_kind[kind] += n;
  }
  print_examples(run, report);
  if (!dump_path.empty()) dump_history(run, dump_path + "." + spec.name);
  std::fflush(stdout);
  totals.grants += report.grants;
  totals.ops += report.ops;
  totals.violations += report.total_violations();
  totals.seconds += seconds;
  return report;
}

std::vector<RunSpec> plan(const std::string& mode, std::uint64_t scale_grants, double scale_seconds,
                          std::uint64_t seed) {
  // Expiry resolution and budget vary per run: 1/5/10 ms ticks, budgets of 1..3 and 100,000.
  std::vector<RunSpec> runs = {
      {"res1-budget100000", 1, 100000, 24, 0, 0, false, seed},
      {"res5-budget2", 5, 2, 32, 0, 0, false, seed + 1},
      {"res10-budget100000", 10, 100000, 16, 0, 0, false, seed + 2},
      {"res10-budget1", 10, 1, 40, 0, 0, false, seed + 3},
      {"crash-res5", 5, 100000, 24, 0, 0, true, seed + 4},
  };
  if (mode == "crash") runs = {runs.back()};
  if (mode == "quick") runs.pop_back();
  double share = 1.0 / static_cast<double>(runs.size());
  for (auto& r : runs) {
    r.target_grants = static_cast<std::uint64_t>(static_cast<double>(scale_grants) * share) + 1;
    r.max_seconds = scale_seconds * share;
  }
  return runs;
}

int usage() {
  std::fprintf(stderr,
               "usage: semlock_checker [--bin PATH] [--mode ci|long|crash|quick] [--grants N]\n"
               "       [--seconds S] [--seed N] [--close-notice-ms N] [--disable a,b]\n"
               "       [--dump PREFIX]  (every op of each run to PREFIX.<run>)\n"
               "  ci    : >= 100,000 grants over 4 plain runs and a kill -9 run (about 4 min cap)\n"
               "  long  : >= 1,000,000 grants (no time cap worth mentioning)\n"
               "  crash : the kill -9 / restart run only (persistence, fsync=always)\n"
               "  quick : the 4 plain runs only\n"
               "--disable: session-elsewhere, dup-derived, close-waiting, force\n"
               "SEMLOCK_BIN names the binary when --bin is absent.\n");
  return 2;
}

}  // namespace
}  // namespace semlock::checker

int main(int argc, char** argv) {
  using namespace semlock::checker;
  std::string bin = std::getenv("SEMLOCK_BIN") != nullptr ? std::getenv("SEMLOCK_BIN") : "";
  std::string mode = "ci";
  std::uint64_t grants = 0, seed = static_cast<std::uint64_t>(std::time(nullptr));
  double seconds = 0;
  AnalysisOptions aopt;
  std::vector<std::string> disabled;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
      return argv[++i];
    };
    try {
      if (a == "--bin")
        bin = next();
      else if (a == "--mode")
        mode = next();
      else if (a == "--grants")
        grants = std::stoull(next());
      else if (a == "--seconds")
        seconds = std::stod(next());
      else if (a == "--seed")
        seed = std::stoull(next());
      else if (a == "--close-notice-ms")
        aopt.close_notice = std::stoll(next()) * kMs;
      else if (a == "--dump")
        dump_path = next();
      else if (a == "--disable") {
        std::string list = next();
        for (std::size_t pos = 0; pos <= list.size();) {
          std::size_t comma = std::min(list.find(',', pos), list.size());
          disabled.push_back(list.substr(pos, comma - pos));
          pos = comma + 1;
        }
      } else
        return usage();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return usage();
    }
  }
  if (bin.empty()) return usage();
  if (mode != "ci" && mode != "long" && mode != "crash" && mode != "quick") return usage();
  std::uint64_t min_grants = mode == "long" ? 1'000'000 : mode == "ci" ? 100'000 : 0;
  // A tenth above the minimum, so that a run ending a little short still meets it.
  if (grants == 0) grants = mode == "long" ? 1'100'000 : mode == "ci" ? 110'000 : 40'000;
  if (seconds == 0) seconds = mode == "long" ? 3600 : mode == "ci" ? 220 : 60;
  ::signal(SIGPIPE, SIG_IGN);
  std::printf("semlock_checker mode=%s seed=%llu target=%llu grants within %.0f s\n", mode.c_str(),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(grants),
              seconds);
  Totals totals;
  try {
    // The load is bound by lock hold times, not CPU, so a slower machine ends a run short by its
    // time cap. Each run aims at what is still missing, shared among the runs left, with the time
    // left; when the planned runs together still fall short of the minimum, plain top-up runs
    // follow, up to a quarter more time.
    std::vector<RunSpec> runs = plan(mode, grants, seconds, seed);
    std::vector<RunSpec> plain;
    for (const auto& r : runs) {
      if (!r.crash) plain.push_back(r);
    }
    for (std::size_t i = 0; i < runs.size(); ++i) {
      RunSpec spec = runs[i];
      auto left = static_cast<double>(runs.size() - i);
      std::uint64_t missing = grants > totals.grants ? grants - totals.grants : 0;
      spec.target_grants = static_cast<std::uint64_t>(static_cast<double>(missing) / left) + 1;
      spec.max_seconds = std::max(seconds * 0.1, (seconds - totals.seconds) / left);
      run_one(bin, spec, disabled, aopt, totals);
    }
    const double hard_cap = seconds * 1.25;
    for (std::size_t extra = 0;
         !plain.empty() && totals.grants < min_grants && totals.seconds + 5 < hard_cap && extra < 3;
         ++extra) {
      RunSpec spec = plain[extra % plain.size()];
      spec.name += "-topup";
      spec.seed += 100 + extra;
      spec.target_grants = (min_grants - totals.grants) * 11 / 10 + 1;
      spec.max_seconds = hard_cap - totals.seconds;
      run_one(bin, spec, disabled, aopt, totals);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checker set-up failed: %s\n", e.what());
    return 2;
  }
  std::printf("TOTAL: %llu grants, %llu ops, %.1f s, %llu violations",
              static_cast<unsigned long long>(totals.grants),
              static_cast<unsigned long long>(totals.ops), totals.seconds,
              static_cast<unsigned long long>(totals.violations));
  for (const auto& [kind, n] : totals.by_kind) {
    std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("\n");
  bool short_of_target = totals.grants < min_grants;
  if (short_of_target) {
    std::printf("FAIL: %llu grants, fewer than the mode's minimum %llu\n",
                static_cast<unsigned long long>(totals.grants),
                static_cast<unsigned long long>(min_grants));
  }
  return totals.violations != 0 || short_of_target ? 1 : 0;
}
