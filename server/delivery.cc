// Delivering grants (SPEC §1: a grant that cannot be delivered is released and passed on): what
// "delivered" means, the waiter grants answered after a wait, the grants made at once, and the
// bookkeeping of the bytes the kernel has taken (server/grant_list.h holds the undelivered ones).
#include <poll.h>

#include "server/server.h"
#include "server/tls.h"

namespace semlock {

// The kernel took `n` more output bytes: grants whose reply is now wholly in it are delivered.
void note_sent(Connection& c, std::size_t n) {
  c.bytes_sent += n;
  if (c.undelivered_grants.empty()) return;
  c.undelivered_grants.drop_delivered(c.bytes_sent);
}

std::uint64_t output_end(const Connection& c) {
  // On TLS `inflight` holds ciphertext; the plaintext inside it is counted apart.
  return c.bytes_sent + c.out.size() +
         (c.tls != nullptr ? c.tls->plain_in_flight : c.inflight.size());
}

// True when the peer's FIN or RST has already reached this socket, even behind unread data
// (POLLRDHUP is set once the FIN is processed, whatever is still queued before it).
bool peer_closed(const Connection& c) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&c.handle), &fd) != 0) return true;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// A grant that cannot be delivered is released and passed on (SPEC §1). "Delivered" means the
// kernel accepted every byte of the grant's reply on a connection whose close had not been seen:
// - Closed before the engine answered (EOF/RST read while blocked): close_connection() cancelled
//   the waiter, so no grant was made. A blocked connection is always read (past its input cap it
//   is closed), so its close is read as soon as the loop gets to it.
// - Closed after the engine answered but before this delivery (in the same loop iteration, or the
//   FIN/RST has reached the socket and its read event is not yet handled, e.g. the release that
//   freed the permit was read first in the same epoll batch): the connection is gone, closed, or
//   the non-blocking poll below sees POLLRDHUP/POLLHUP/POLLERR. The grant is released here, before
//   a byte is written, and the connection closed, so a closed peer never gets a grant.
// - Closed after the reply was queued but before the kernel took all of it (replies ahead of it
//   still in flight, fsync=always holding it, a write that fails with EPIPE/ECONNRESET, or an EOF
//   read meanwhile): the grant sits in undelivered_grants until note_sent() sees its last byte
//   accepted; close_connection() releases what is still there, on_read() closes rather than
//   half-closes a connection that has one, and flush() checks the peer again before writing it.
// - The kernel accepted the whole reply and the peer closed afterwards (its FIN/RST was not
//   readable when checked): the grant was delivered; keeping it is what the client asked for.
//   A SESSION grant is still released with its connection.
// A grant made at once to a request (not through the wait queue) follows the same rule, with one
// difference: a FIN does not undo it (a half-closed client gets every reply, SPEC §1). It is kept
// in undelivered_grants (note_granted_now, at_once) from the moment the engine grants it; its
// reply's end is set once its command has written it (GrantList::seal); a connection that is
// reset before the kernel has taken that reply is closed (the write fails, or the reset is read)
// and gives it back. That covers a request read late, with its client's RST already behind it
// (a long fsync or script: another client's release read first frees the key, and the acquire
// is granted at once), without a syscall per read to look for the RST (cluster mode keeps it, see
// on_read()). A release of the same key and owner by a later request of the same connection
// cancels the give-back (on_released()): that release is undelivered too, and with reentrant
// holds giving the grant back as well would take a hold another connection was told it has.
// A grant that only refreshed a holder the owner already had (ev.refreshed) created nothing, and
// the holder is someone else's to keep: never released here, but a reentrant hold the refresh
// added (ev.added_hold) is the grant's own and goes back (one hold). Likewise a created holder that
// another request of the same owner refreshed or extended after the grant (an acquire on another
// connection, answered "granted" with its own TTL): that request was told it holds the key until
// its new deadline, so an undelivered grant is released only while the holder's deadline is still
// the one the grant set (Engine::release_unrefreshed).
void Server::deliver_events(Millis now) {
  deliver_pop_events(now);
  for (const WaiterEvent& ev : engine_->take_events()) {
    auto wit = waits_.find(ev.tag);
    if (wit == waits_.end()) continue;  // no such wait (the engine never answers a cancelled one)
    PendingWait pw = std::move(wit->second);
    waits_.erase(wit);
    notify_wait_done(pw.conn_id, pw.key, pw.owner, ev);
    observe_wait(pw, ev.granted, now);
    auto cit = connections_.find(pw.conn_id);
    Connection* c = cit == connections_.end() ? nullptr : cit->second;
    const bool created = ev.granted && (!ev.refreshed || ev.added_hold);
    if (!c || c->closed || c->read_eof) {
      if (created) release_undelivered(pw, ev, now);
      continue;
    }
    if (ev.granted && peer_closed(*c)) {
      if (created) release_undelivered(pw, ev, now);
      c->blocked = false;  // answered by the engine: nothing left to cancel
      close_connection(*c);
      continue;
    }
    answer_wait(*c, pw, ev);
  }
}

Connection* Server::connection_of(const redis::ClientState& client) {
  if (running_ != nullptr && running_->id == client.id) return running_;  // the usual case
  const auto it = connections_.find(client.id);
  return it == connections_.end() ? nullptr : it->second;
}

void Server::on_granted_now(redis::ClientState& client, std::string_view key,
                            std::string_view owner, std::uint64_t fence, Millis deadline,
                            bool waited) {
  if (Connection* c = connection_of(client))
    note_granted_now(*c, key, owner, fence, deadline, waited);
}

void Server::on_released(redis::ClientState& client, std::string_view key, std::string_view owner) {
  if (Connection* c = connection_of(client)) forget_undelivered(*c, key, owner);
}

void Server::note_granted_now(Connection& c, std::string_view key, std::string_view owner,
                              std::uint64_t fence, Millis deadline, bool waited) {
  // A connection closed meanwhile (inside MULTI or a script) already gave its grants back; this
  // one is left to its TTL, as before grants made at once were kept at all.
  if (c.closed) return;
  const GrantView g{key, owner, fence, deadline, kReplyNotWritten, false, true};
  c.undelivered_grants.push(g);
  if (waited) note_answered_grant(c, g);  // cluster mode only (orphan_grants.cc)
}

}  // namespace semlock
