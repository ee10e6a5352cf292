// Connection-lived locks (SEMLOCK.ACQUIRE key 0 SESSION; JSON ttl_ms 0 with session): a holder
// that lives as long as its connection, capped at limits.max_ttl so that none lives forever.
// The holder itself is an ordinary one with deadline now + max_ttl (PTTL and INFO show the time
// left to that cap); what makes it connection-lived is its SESSION binding (c.sessions, marked
// `lived`): closing the connection releases it, TCP keepalive finds dead peers, and with
// server.session_heartbeat_timeout a connection that sends nothing for that long (no
// SEMLOCK.HEARTBEAT, no other request) is closed as dead too, which releases it.
#include "server/bounds.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {

bool Server::past_session_heartbeat(Connection& c, Millis now) {
  const Millis timeout = config_.server.session_heartbeat_timeout;
  if (timeout <= 0 || c.metrics_port || c.sessions.empty() || now - c.last_activity <= timeout ||
      bounds::input_waiting(c)) {  // its heartbeat may be here, not yet read
    return false;
  }
  // Only while it still holds one: a binding whose holder is gone (released, expired) does not
  // keep the connection on the heartbeat's clock.
  for (const SessionHolder& s : c.sessions) {
    if (!s.lived) continue;
    bool held = false;
    const auto info = engine_->info(s.key, now);
    for (const HolderInfo& h : info ? info->holders : std::vector<HolderInfo>{}) {
      held = held || (h.owner == s.owner && h.fence == s.fence);
    }
    if (held) {
      log::info("Closing connection: no heartbeat within server.session_heartbeat_timeout; its "
                "connection-lived locks are released",
                {{"client", c.client.addr}});
      return true;
    }
  }
  return false;
}

}  // namespace semlock
