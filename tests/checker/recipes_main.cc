// semlock_recipes_checker: the checker's lock-library mode (docs/CHECKER.md "Lock-library
// recipes"). Workers send what Redisson's RLock, redis-semaphore's Semaphore and
// simple-redis-mutex send (their scripts byte for byte) to the real binary, record every call
// with client-side times, and the history is checked afterwards (recipes_analysis.h). Two phases:
// a plain one, and one with persistence on (fsync: always) in which the server is killed with
// SIGKILL every 0.3 to 1.5 s and restarted on the same port and directory while the workers carry
// their holds across.
//
// Exit status: 0 no violation and enough traffic, 1 otherwise, 2 set-up error.
// Usage: semlock_recipes_checker --bin PATH [--seconds S] [--workers N] [--seed N]
//                                [--phase plain|crash|all]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/checker/recipes_analysis.h"
#include "tests/checker/recipes_workers.h"
#include "tests/checker/server_proc.h"
#include "tests/integration/clients.h"

namespace semlock::checker::recipes {
namespace {

// The server's config: a 5 ms tick; persistence (fsync always) for the crash phase.
ServerProc::ConfigFn recipes_config(bool persist) {
  return [persist](const std::string& dir, std::uint16_t port, std::uint16_t metrics) {
    std::string config = R"({"server":{"host":"127.0.0.1","port":)" + std::to_string(port) +
                         R"(},"metrics":{"host":"127.0.0.1","port":)" + std::to_string(metrics) +
                         R"(,"enabled":false},"cleanup":{"resolution":"5ms"},)"
                         R"("logging":{"level":"warn"})";
    if (persist) {
      config += R"(,"persistence":{"enabled":true,"dir":")" + dir + R"(/data","fsync":"always"})";
    }
    return config + "}";
  };
}

// Traffic needed for a verdict: per recipe over both phases, and in the crash phase alone. Far
// below what a loaded 2-core CI box reaches (the load is bound by hold times and, with
// fsync=always, by the disk).
constexpr std::uint64_t kMinGrants = 200, kMinRefusals = 50, kMinReleases = 100, kMinReentries = 50,
                        kMinFences = 200, kMinMessages = 50;
constexpr std::uint64_t kCrashMinGrants = 10;
constexpr std::size_t kCrashMinKills = 3;

std::vector<KeySpec> recipe_keys() {
  return {{"rlock:0", Recipe::kRedisson, 1},
          {"rlock:1", Recipe::kRedisson, 1},
          {"sem:pool2", Recipe::kSemaphore, 2},
          {"sem:pool3", Recipe::kSemaphore, 3},
          {"@simple-redis-mutex:lock-m0", Recipe::kMutex, 1},
          {"@simple-redis-mutex:lock-m1", Recipe::kMutex, 1}};
}

// After every TTL ran out, only the fencing counter (which never expires) may be left.
std::string leftover_keys(std::uint16_t port) {
  std::string last;
  for (int i = 0; i < 60; ++i) {
    it::RespConn c(port);
    auto v = c.cmd({"KEYS", "*"});
    last.clear();
    for (const auto& e : v.elements) {
      if (e.str != kSimpleMutexCounter) last += (last.empty() ? "" : ", ") + e.str;
    }
    if (v.type == it::RespValue::Type::kArray && last.empty()) return "";
    if (v.type != it::RespValue::Type::kArray) last = v.debug();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

struct PhaseResult {
  Report report;
  std::size_t kills = 0;
  double restart_max = 0;  // seconds from kill to accepting again
  std::uint64_t stalls = 0;
  double seconds = 0;
};

PhaseResult run_phase(const std::string& bin, bool crash, double seconds, int workers,
                      std::uint64_t seed) {
  ServerProc server(bin, "semlock-recipes", recipes_config(crash));
  WorkerControl ctl;
  ctl.port = server.port();
  History h;
  h.keys = recipe_keys();
  const Recipe recipes[] = {Recipe::kRedisson, Recipe::kSemaphore, Recipe::kMutex};
  std::vector<WorkerOutput> outs(static_cast<std::size_t>(workers) * 3);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    threads.emplace_back(
        [&, i] { run_worker(recipes[i % 3], static_cast<int>(i), seed, h.keys, ctl, outs[i]); });
  }
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::mt19937_64 rng(seed ^ 0xc4a5);
  double next_kill = 0.5 + static_cast<double>(rng() % 1000) / 1000.0;
  std::string setup_error;
  double restart_max = 0;
  // A loaded machine makes fsync=always and the restarts slow: the crash phase goes on (up to
  // twice its time) until it has had its kills and some grants of every recipe.
  auto crash_short = [&] {
    if (!crash || h.kills.size() < kCrashMinKills) return crash;
    for (const auto& g : ctl.grants) {
      if (g.load() < kCrashMinGrants) return true;
    }
    return false;
  };
  while (elapsed() < seconds || (crash_short() && elapsed() < 2 * seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!crash || elapsed() < next_kill) continue;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    h.kills.push_back(steady_now());
    server.kill9();
    try {
      auto t0 = std::chrono::steady_clock::now();
      server.start();
      restart_max =
          std::max(restart_max,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } catch (const std::exception& e) {
      setup_error = e.what();
      break;
    }
    next_kill = elapsed() + 0.3 + static_cast<double>(rng() % 1200) / 1000.0;
  }
  ctl.stop = true;
  for (auto& t : threads) t.join();
  PhaseResult res;
  res.seconds = elapsed();
  res.kills = h.kills.size();
  res.restart_max = restart_max;
  res.stalls = ctl.stalls.load();
  for (auto& o : outs) {
    if (!o.failure.empty() && setup_error.empty()) setup_error = "a worker failed: " + o.failure;
    for (auto& a : o.attempts) h.attempts.push_back(std::move(a));
    for (auto& m : o.messages) h.messages.push_back(std::move(m));
  }
  res.report = analyze(h, Options{});
  if (!setup_error.empty()) {
    res.report.add("setup", setup_error);
    return res;
  }
  if (res.stalls > 0) {
    res.report.add("stall", std::to_string(res.stalls) + " requests got no reply within 15 s");
  }
  // The longest TTL is 200 ms; hashes, sorted sets and strings must all be gone after it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string left = leftover_keys(server.port());
  if (!left.empty()) res.report.add("leak", "keys left after every TTL ran out: " + left);
  int code = server.terminate();
  if (code != 0) {
    res.report.add("server_exit", "exit code " + std::to_string(code) +
                                      " after SIGTERM; log: " + server.log_tail());
  }
  return res;
}

}  // namespace
}  // namespace semlock::checker::recipes

int main(int argc, char** argv) {
  using namespace semlock::checker::recipes;
  std::string bin = std::getenv("SEMLOCK_BIN") != nullptr ? std::getenv("SEMLOCK_BIN") : "";
  std::string phase = "all";
  double seconds = 70;
  int workers = 5;
  auto seed = static_cast<std::uint64_t>(std::time(nullptr));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--bin") == 0)
      bin = argv[i + 1];
    else if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--workers") == 0)
      workers = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0)
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--phase") == 0)
      phase = argv[i + 1];
    else
      bin.clear();
  }
  if (bin.empty() || (phase != "all" && phase != "plain" && phase != "crash") || workers < 1 ||
      argc % 2 == 0) {
    std::fprintf(stderr,
                 "usage: %s --bin PATH [--seconds S] [--workers N per recipe] [--seed N] "
                 "[--phase plain|crash|all]\n",
                 argv[0]);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::printf("semlock_recipes_checker seed=%llu phase=%s %.0f s, %d workers per recipe\n",
              static_cast<unsigned long long>(seed), phase.c_str(), seconds, workers);
  std::uint64_t violations = 0;
  bool enough = true;
  std::map<Recipe, RecipeCounts> totals;
  std::uint64_t fences = 0, messages = 0;
  try {
    std::vector<bool> crash_phases;
    if (phase != "crash") crash_phases.push_back(false);
    if (phase != "plain") crash_phases.push_back(true);
    for (bool crash : crash_phases) {
      double share = seconds / static_cast<double>(crash_phases.size());
      PhaseResult res = run_phase(bin, crash, share, workers, seed + (crash ? 1 : 0));
      const Report& r = res.report;
      std::printf(
          "phase %s: %.1f s, %zu kills (restart <= %.2f s), %llu fencing tokens, "
          "%llu release notices\n",
          crash ? "crash(fsync=always)" : "plain", res.seconds, res.kills, res.restart_max,
          static_cast<unsigned long long>(r.fences), static_cast<unsigned long long>(r.messages));
      for (const auto& [recipe, n] : r.by_recipe) {
        std::printf(
            "  %-13s %llu attempts, %llu grants, %llu refusals, %llu re-entries, %llu renewals, "
            "%llu releases, %llu held across a kill\n",
            recipe_name(recipe), static_cast<unsigned long long>(n.attempts),
            static_cast<unsigned long long>(n.grants), static_cast<unsigned long long>(n.refusals),
            static_cast<unsigned long long>(n.reentries), static_cast<unsigned long long>(n.renews),
            static_cast<unsigned long long>(n.releases),
            static_cast<unsigned long long>(n.carried));
        RecipeCounts& t = totals[recipe];
        t.grants += n.grants;
        t.refusals += n.refusals;
        t.releases += n.releases;
        t.reentries += n.reentries;
        if (crash && n.grants < kCrashMinGrants) enough = false;
      }
      fences += r.fences;
      messages += r.messages;
      if (crash && (res.kills < kCrashMinKills || r.by_recipe.size() != 3)) enough = false;
      for (const auto& [kind, n] : r.violations) {
        std::printf("    %-18s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
      }
      for (const auto& e : r.examples) std::printf("  VIOLATION %s\n", e.c_str());
      std::fflush(stdout);
      violations += r.total();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "set-up error: %s\n", e.what());
    return 2;
  }
  for (const Recipe recipe : {Recipe::kRedisson, Recipe::kSemaphore, Recipe::kMutex}) {
    const RecipeCounts& t = totals[recipe];
    if (phase == "crash") break;  // the crash phase alone: its own minima only
    if (t.grants < kMinGrants || t.refusals < kMinRefusals || t.releases < kMinReleases ||
        (recipe == Recipe::kRedisson && t.reentries < kMinReentries)) {
      enough = false;
    }
  }
  if (phase != "crash" && (fences < kMinFences || messages < kMinMessages)) enough = false;
  std::printf("TOTAL: %llu violations\n", static_cast<unsigned long long>(violations));
  if (!enough) std::printf("FAIL: too little traffic for a verdict\n");
  return violations == 0 && enough ? 0 : 1;
}
