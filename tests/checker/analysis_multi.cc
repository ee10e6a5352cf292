// All-or-nothing (SEMLOCK.ACQUIREALL, engine/multi.cc) from the record: what its own reply and the
// reads right after it show. Mutual exclusion of its holders is the main analysis' (each granted
// key is a grant op there).
#include <string>

#include "tests/checker/analysis.h"

namespace semlock::checker {

void check_all_or_nothing(const Run& run, Report& report) {
  for (const MultiObs& m : run.multi) {
    auto keys = [&] {
      std::string s;
      for (const int k : m.keys) s += " " + run.keys[static_cast<std::size_t>(k)].name;
      return s;
    };
    if (!m.error.empty()) {
      report.add({"acquireall_bad_reply",
                  "worker " + std::to_string(m.worker) + " owner " + m.owner + keys() + ": " +
                      m.error,
                  {},
                  0});
      continue;
    }
    if (m.granted) {
      bool whole = m.fences.size() == m.keys.size();
      // Granted in one step: consecutive fences, in the order the keys were named.
      for (std::size_t i = 1; whole && i < m.fences.size(); ++i) {
        whole = m.fences[i] == m.fences[i - 1] + 1;
      }
      if (!whole) {
        std::string f;
        for (const std::uint64_t x : m.fences) f += " " + std::to_string(x);
        report.add({"acquireall_partial_grant",
                    "owner " + m.owner + keys() + " granted with fences" + f, {}, 0});
      }
      continue;
    }
    for (std::size_t i = 0; i < m.held_after_refusal.size(); ++i) {
      if (m.held_after_refusal[i]) {
        report.add({"acquireall_partial_hold",
                    "owner " + m.owner + " was refused" + keys() + " yet held " +
                        run.keys[static_cast<std::size_t>(m.keys[i])].name,
                    {},
                    0});
      }
    }
  }
}

}  // namespace semlock::checker
