// semlock_rw_checker: the checker's read-write and reentrant mode (docs/CHECKER.md). Worker
// threads, each on its own RESP connection to the real binary, run lock cycles on two keys:
// readers (SHARED) and writers, each acquiring 1-3 times with REENTRANT (sometimes WAIT), holding
// a moment, then releasing as often as they acquired (sometimes once more, sometimes never: the
// TTL runs out). Every request is recorded with client-side times and checked afterwards
// (rw_analysis.h). Exit status: 0 no violation (and enough grants), 1 otherwise, 2 set-up error.
//
// Usage: semlock_rw_checker [--seconds n] [--workers n] [--seed n]  (SEMLOCK_BIN names the binary)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/checker/rw_analysis.h"
#include "tests/integration/clients.h"
#include "tests/integration/server_fixture.h"

namespace {

using semlock::checker::rw::Call;
using semlock::checker::rw::Cycle;
using semlock::checker::rw::Nanos;
using semlock::it::RawClient;
using semlock::it::RespValue;

Nanos steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One request, one reply, with the times around them.
RespValue call(RawClient& c, const std::vector<std::string>& args, Call& rec) {
  c.buffer().clear();
  rec.send = steady_now();
  c.send(semlock::it::resp_command(args));
  std::optional<RespValue> v;
  c.read_until(
      [&](std::string_view in) {
        std::size_t used = 0;
        v = semlock::it::parse_resp(in, used);
        return v.has_value();
      },
      std::chrono::milliseconds(20000));
  rec.recv = steady_now();
  if (!v) throw std::runtime_error("no reply to " + args[0]);
  if (v->is_error()) rec.error = v->str;
  return *v;
}

void worker(std::uint16_t port, int index, std::uint64_t seed, const std::atomic<bool>& stop,
            std::vector<Cycle>& out) {
  std::mt19937_64 rng(seed * 1'000'003 + static_cast<std::uint64_t>(index));
  auto between = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  RawClient c(port);
  int seq = 0;
  while (!stop.load()) {
    Cycle cy;
    cy.key = between(0, 1);
    cy.shared = between(0, 99) < 65;
    cy.depth = between(1, 3);
    cy.ttl_ms = between(150, 300);
    const std::string key = "rw:" + std::to_string(cy.key);
    const std::string owner = "w" + std::to_string(index) + "-" + std::to_string(++seq);
    const int wait = between(0, 2) == 0 ? 0 : between(5, 60);
    for (int d = 0; d < cy.depth; ++d) {
      std::vector<std::string> args = {"SEMLOCK.ACQUIRE", key, std::to_string(cy.ttl_ms),
                                       "OWNER", owner, "REENTRANT"};
      if (cy.shared) args.push_back("SHARED");
      if (d == 0 && wait > 0) {
        args.push_back("WAIT");
        args.push_back(std::to_string(wait));
      }
      Call a;
      const RespValue v = call(c, args, a);
      a.ok = v.type == RespValue::Type::kArray && v.elements.size() == 2;
      if (a.ok) a.fence = static_cast<std::uint64_t>(v.elements[1].integer);
      cy.acquires.push_back(a);
      if (!a.ok) break;
      std::this_thread::sleep_for(std::chrono::microseconds(between(0, 800)));
    }
    if (cy.acquires.front().ok) {
      const int roll = between(0, 99);
      // 5%: let the TTL run out, then release once (must answer 0); 10%: one release too many.
      int releases = roll < 5 ? 1 : static_cast<int>(cy.acquires.size()) + (roll < 15 ? 1 : 0);
      if (roll < 5) std::this_thread::sleep_for(std::chrono::milliseconds(cy.ttl_ms + 30));
      for (int k = 0; k < releases; ++k) {
        Call r;
        const RespValue v = call(c, {"SEMLOCK.RELEASE", key, owner}, r);
        r.ok = v.type == RespValue::Type::kInteger && v.integer == 1;
        cy.releases.push_back(r);
        std::this_thread::sleep_for(std::chrono::microseconds(between(0, 500)));
      }
    }
    out.push_back(std::move(cy));
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 8;
  int workers = 12;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--workers") == 0) workers = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--seconds n] [--workers n] [--seed n]\n", argv[0]);
      return 2;
    }
  }
  try {
    semlock::it::ServerOptions options;
    options.wait_metrics = false;
    options.with_config(R"("cleanup":{"resolution":"5ms"},"logging":{"level":"warn"})");
    semlock::it::Server server(options);
    std::atomic<bool> stop{false};
    std::vector<std::vector<Cycle>> shards(static_cast<std::size_t>(workers));
    std::vector<std::thread> threads;
    std::mutex failed_mu;
    std::string failed;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&, w] {
        try {
          worker(server.port(), w, seed, stop, shards[static_cast<std::size_t>(w)]);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(failed_mu);
          failed = e.what();
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    if (!failed.empty()) {
      std::fprintf(stderr, "a worker failed: %s\n", failed.c_str());
      return 2;
    }
    std::vector<Cycle> all;
    for (auto& s : shards) all.insert(all.end(), s.begin(), s.end());
    // A holder may outlive recv + ttl by the rounding of its read time and the expiry tick.
    const auto report = semlock::checker::rw::analyze(all, 20'000'000);
    std::printf(
        "rw checker: %llu cycles, %llu grants (%llu shared, %llu reentrant re-acquires), %llu "
        "reader overlaps, %llu releases, %llu violations\n",
        static_cast<unsigned long long>(report.cycles),
        static_cast<unsigned long long>(report.grants),
        static_cast<unsigned long long>(report.shared_grants),
        static_cast<unsigned long long>(report.reentrant_grants),
        static_cast<unsigned long long>(report.overlapping_readers),
        static_cast<unsigned long long>(report.releases),
        static_cast<unsigned long long>(report.total()));
    for (const auto& e : report.examples) std::printf("  %s\n", e.c_str());
    // Enough of each kind of traffic for the run to mean something.
    if (report.grants < 200 || report.reentrant_grants < 50 || report.overlapping_readers < 20) {
      std::printf("too little traffic for a verdict\n");
      return 1;
    }
    return report.total() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "set-up error: %s\n", e.what());
    return 2;
  }
}
