// The server's side of the wait metrics (server/wait_metrics.h): a wait's duration when the
// engine answers it (deliver_events), and the oldest wait still queued (update_metrics; a walk
// of the pending waits, once per housekeeping interval or scrape); and a RESP acquire that the
// engine queued becomes a pending wait of its connection (on_blocked, block).
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

void Server::on_blocked(redis::ClientState& client, std::uint64_t tag, WaiterId waiter,
                        std::string_view key, std::string_view owner, bool session, bool lived) {
  auto it = connections_.find(client.id);
  if (it == connections_.end()) return;
  PendingWait pw;
  pw.conn_id = client.id;
  pw.key = std::string(key);
  pw.owner = std::string(owner);
  pw.session = session;
  pw.lived = lived;
  pw.protocol = WireProtocol::kResp;
  block(*it->second, tag, waiter, std::move(pw));
}

void Server::block(Connection& c, std::uint64_t tag, WaiterId waiter, PendingWait pw) {
  c.blocked = true;
  c.wait_tag = tag;
  c.waiter = waiter;
  pw.queued_at = now_ms();
  waits_.emplace(tag, std::move(pw));
}

}  // namespace semlock
