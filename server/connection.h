// A client connection on the lock port (or the metrics port).
//
// Happy path: accept -> read -> detect the protocol from the first bytes -> parse every complete
// request in the read -> execute them in order -> append replies -> one write for the batch.
//
// Failure modes and what holds memory:
// - Input: bytes that do not yet form a request stay in `in`; `in` is capped (16 KiB before
//   authentication, when auth is required); past the cap an error is answered and the connection
//   closed. An idle connection holds no buffer: empty buffers go back to the server's pool. The
//   parsers keep a cursor into the unfinished request, so a request trickled in is scanned once;
//   a request begun must be finished within server.request_timeout (HTTP: 408), else closed.
// - Memory: every buffer (input, output, MULTI queue, client name) is counted in the server's
//   client memory, bounded by server.max_client_memory_mb: past it the connection holding the
//   most is closed. Before authentication a connection is not counted there (it cannot push keyed
//   clients out); its own input and output are kept to 16 KiB each instead.
// - Output: replies wait in `out` while a write is in flight (`inflight`). Past the soft cap the
//   connection is not read (backpressure); past the hard cap, or over the soft cap for too long,
//   it is closed — a client that never reads cannot grow memory without bound.
// - Blocked (WAIT): nothing else is executed until the engine answers; the connection keeps being
//   read so that a close is noticed at once, and is closed if its buffered input passes the cap
//   (a connection that is no longer read could close unnoticed and then be handed a grant).
//   A close cancels the wait and releases the connection's SESSION holders. A waiter grant is
//   not handed to a peer whose close is already readable, and stays in `undelivered_grants`
//   until the kernel has taken its reply; a connection that closes before that releases it.
//   Server::deliver_events() has the full reasoning.
// - Grants made at once (an acquire that created a holder or added a reentrant hold, in any
//   protocol, in MULTI or a script) stay in `undelivered_grants` too until the kernel has taken
//   their reply: a connection reset before that (the write fails, or the reset is read first)
//   releases them. A FIN does not: a half-closed client still gets every reply.
// - Protocol error: answered, then closed after the write. EOF: every complete request already
//   read is answered (half-close), then the connection is closed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "protocol/detect.h"
#include "protocol/http.h"
#include "protocol/resp_reader.h"
#include "redis-compat/context.h"
#include "server/grant_list.h"

namespace semlock {

class Server;
namespace tls {
struct Session;  // server/tls.h
}

struct SessionHolder {
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  bool lived = false;  // connection-lived (TTL 0 with SESSION): server.session_heartbeat_timeout
};

// A grant answered on a connection: kept in cluster mode for an orphan give-back
// (Connection::answered_grants; the undelivered ones are in a GrantList).
struct AnsweredGrant {
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  Millis deadline = 0;      // the holder's deadline as the grant set it (WaiterEvent::deadline)
  bool added_mark = false;  // its NOTIFY mark goes with it (WaiterEvent::added_mark)
};

struct Connection {
  uv_tcp_t handle{};
  Server* server = nullptr;
  std::uint64_t id = 0;
  bool metrics_port = false;
  tls::Session* tls = nullptr;  // TLS port (or metrics over TLS); freed in close_cb
  bool denied = false;          // protected mode: the first request is refused, then closed
  WireProtocol protocol = WireProtocol::kUnknown;
  redis::ClientState client;

  std::string in;        // unparsed input; empty (no capacity) when idle
  std::string out;       // replies not yet handed to the kernel
  std::string inflight;  // bytes of the write in flight (stable until write_cb)
  uv_write_t write_req{};
  bool writing = false;
  bool reading = false;
  bool read_eof = false;
  bool close_after_write = false;  // protocol error, QUIT, HTTP Connection: close, shutdown
  bool closed = false;             // uv_close was called

  // Blocked on a WAIT.
  bool blocked = false;
  std::uint64_t wait_tag = 0;
  WaiterId waiter{};
  bool publish_paced = false;  // blocked on its PUBLISH's delivery (server/pubsub.cc), not a wait

  bool http_continue_sent = false;  // "100 Continue" sent for the HTTP request being read
  bool json_authenticated = false;  // JSON {"action":"auth"} once per connection
  bool json_admin = false;
  bool key_seen = false;  // JSON/HTTP: a request carried a valid key (buffers past pre-auth caps)

  // Framing state of the unfinished request at the front of `in` (reset when `in` empties).
  resp::ParseCursor resp_cursor;
  http::Cursor http_cursor;
  std::size_t json_scanned = 0;  // bytes at the front of `in` known to hold no '\n'
  Millis request_started = 0;    // when the unfinished request at the front of `in` began (0: none)

  bool pre_auth = false;      // auth required and not given: tighter caps, not in client memory
  std::size_t accounted = 0;  // buffer bytes counted in the server's client memory totals
  std::vector<SessionHolder> sessions;
  GrantList undelivered_grants;
  // Cluster mode: the waiter grants answered here that created a holder or added a hold, for a
  // follower that forwards through this connection to give back when its client never got the
  // reply (server/orphan_grants.cc). Pruned of gone holders as it grows.
  std::vector<AnsweredGrant> answered_grants;
  std::size_t answered_pruned_at = 16;
  std::uint64_t bytes_sent = 0;  // output bytes the kernel has accepted since the accept
  std::size_t sessions_pruned_at = 16;

  // Cluster forwarding (forward_upstream.h): replies owed by the leader, in order.
  std::uint32_t forward_pending = 0;
  bool forward_stalled = false;       // waiting for them before running the next request here
  bool forward_multi = false;         // a MULTI was forwarded: everything goes until EXEC/DISCARD
  bool forward_multi_broken = false;  // ... and its leader is gone
  // Cluster reads (cluster_read_fail.cc): where in `out` the replies written since the last
  // release begin, and how many requests they answer.
  std::size_t held_from = 0;
  std::uint64_t held_requests = 0;

  Millis last_activity = 0;    // monotonic ms
  Millis over_soft_since = 0;  // when the unsent output passed the soft cap (0 = below)

  // Past this much unsent output the connection is neither read nor executed (backpressure).
  static constexpr std::size_t kSoftOutputCap = 1024 * 1024;
  static constexpr std::size_t kPreAuthOutputCap = 16 * 1024;
  std::size_t soft_output_cap() const { return pre_auth ? kPreAuthOutputCap : kSoftOutputCap; }

  std::size_t pending_output() const { return out.size() + inflight.size(); }
  // True while requests may run: not blocked, not closing, output under the soft cap.
  bool can_execute() const {
    return !blocked && !forward_stalled && !close_after_write && !closed &&
           pending_output() < soft_output_cap();
  }
  std::size_t buffer_bytes() const {
    return in.capacity() + out.capacity() + inflight.capacity() + client.multi_bytes +
           client.name.capacity() + client.lib_name.capacity() + client.lib_ver.capacity() +
           client.compat_bytes + undelivered_grants.bytes();
  }
};

// Defined in server.cc, used by the plain and TLS write paths alike.
// The kernel took `n` more output bytes (plaintext bytes on TLS): grants whose reply is now wholly
// in it are delivered.
void note_sent(Connection& c, std::size_t n);
// True when the peer's FIN or RST has already reached this socket, even behind unread data.
bool peer_closed(const Connection& c);
// Where the connection's output ends, counted as Connection::bytes_sent is (plaintext on TLS):
// a reply written now is delivered once bytes_sent reaches this.
std::uint64_t output_end(const Connection& c);
// A command's reply is written: the grants it made at once end there (GrantList::seal).
inline void seal_grants(Connection& c) {
  if (!c.undelivered_grants.empty()) c.undelivered_grants.seal(output_end(c));
}

}  // namespace semlock
