// The server's side of the wait metrics (server/wait_metrics.h): a wait's duration when the
// engine answers it (deliver_events), and the oldest wait still queued (update_metrics; a walk
// of the pending waits, once per housekeeping interval or scrape).
#include <algorithm>

#include "server/server.h"
#include "server/wait_metrics.h"

namespace semlock {
namespace {

WaitMetrics& ensure(std::shared_ptr<WaitMetrics>& m, prometheus::Registry& registry,
                    const config::Config& config) {
  if (!m) m = std::make_shared<WaitMetrics>(registry, config.metrics.key_prefixes);
  return *m;
}

}  // namespace

void Server::observe_wait(const PendingWait& pw, bool granted, Millis now) {
  const Millis waited = std::max<Millis>(0, now - pw.queued_at);
  ensure(wait_metrics_, metrics_.registry(), config_)
      .observe(pw.key, granted, static_cast<double>(waited) / 1000.0);
}

void Server::update_wait_metrics(Millis now) {
  Millis oldest = now;
  for (const auto& [tag, pw] : waits_) oldest = std::min(oldest, pw.queued_at);
  ensure(wait_metrics_, metrics_.registry(), config_)
      .set_longest_wait(static_cast<double>(now - oldest) / 1000.0);
}

}  // namespace semlock
