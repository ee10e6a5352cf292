// Replies to what one loop iteration read go out together, after the poll phase (a uv_check
// handle), as Redis writes its clients' replies before it sleeps (issue 18).
//
// Why: on loopback a write to a client that sleeps in epoll_wait wakes it from the writer's
// context (an inter-processor wake-up, costly in a VM). Read, execute, write per connection
// spaced the writes by the next connection's work, so nearly every write woke the client again;
// written back to back, the first wakes it and the rest find it running. Same system calls,
// same order of replies per connection.
//
// Only replies queued from a read callback wait (on_read, and the drain() it runs): the check
// phase follows that poll phase before the loop can block again. Anything else (timers, write
// callbacks, TLS, a connection throttled at its output cap or closing after its write) is
// flushed at once, as before; so is everything while the commit pipeline holds replies
// (fsync=always, cluster mode), whose hold must be decided in the iteration that executed the
// request, before drain() ends that iteration's batch.
#include "server/server.h"

namespace semlock {

void Server::start_write_batching() {
  uv_check_init(loop_, &write_check_);
  write_check_.data = this;
  uv_check_start(&write_check_, write_check_cb);
  uv_unref(reinterpret_cast<uv_handle_t*>(&write_check_));  // never what keeps the loop running
  write_batching_ = true;
}

void Server::stop_write_batching() {
  if (!write_batching_) return;
  write_batching_ = false;
  flush_pending_writes();
  uv_close(reinterpret_cast<uv_handle_t*>(&write_check_), nullptr);
}

void Server::flush_soon(Connection& c) {
  const CommitSink* sink = pipeline_.sink();
  if (!write_batching_ || !in_read_cb_ || c.tls != nullptr || c.close_after_write ||
      c.out.empty() || c.pending_output() >= c.soft_output_cap() ||
      (sink != nullptr && sink->holds_replies())) {
    flush(c);
    return;
  }
  if (pending_writes_.empty() || pending_writes_.back() != c.id) pending_writes_.push_back(c.id);
}

void Server::write_check_cb(uv_check_t* handle) {
  static_cast<Server*>(handle->data)->flush_pending_writes();
}

void Server::flush_pending_writes() {
  if (pending_writes_.empty()) return;
  std::vector<std::uint64_t> ids;
  ids.swap(pending_writes_);
  for (const std::uint64_t id : ids) {
    auto it = connections_.find(id);
    if (it != connections_.end() && !it->second->closed) flush(*it->second);
  }
  ids.clear();
  if (pending_writes_.empty()) pending_writes_.swap(ids);  // keep the capacity
  drain();  // a flush that closed a connection may have freed permits for waiters
}

}  // namespace semlock
