// The server side of pub/sub and WATCH: the registries, delivery of PUBLISH copies into
// subscribers' output, and cleanup when a connection closes.
//
// A subscriber's output is bounded as every connection's is (connection.h): a copy is appended
// and flushed at once; a subscriber that does not read passes the soft cap (then is closed after
// the grace) or the hard cap (closed at once), and its buffers count in
// server.max_client_memory_mb. Subscribed connections are exempt from server.idle_timeout (they
// wait for messages by design), as in Redis.
//
// Cluster mode: PUBLISH also reaches the other members' subscribers (cluster_pubsub.cc).
#include <algorithm>
#include <string>

#include "redis-compat/pubsub.h"
#include "redis-compat/watch.h"
#include "server/server.h"

namespace semlock {

redis::PubSub* Server::pubsub() {
  if (!pubsub_) {
    pubsub_ = std::make_shared<redis::PubSub>(
        [this](std::uint64_t id, std::string_view bytes, bool to_publisher) {
          if (to_publisher) {
            // The running command's connection: its reply follows and is flushed with it.
            const auto it = connections_.find(id);
            if (it != connections_.end() && !it->second->closed) it->second->out.append(bytes);
            return;
          }
          pubsub_deliver(id, bytes);
        });
  }
  return pubsub_.get();
}

redis::WatchRegistry* Server::watches() {
  if (!watches_) watches_ = std::make_shared<redis::WatchRegistry>();
  return watches_.get();
}

void Server::pubsub_deliver(std::uint64_t id, std::string_view bytes) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (c.closed || c.close_after_write) return;
  buffer_pool_.fill(c.out);
  c.out.append(bytes);
  flush(c);  // may close it (hard cap): the registry forgets it then
}

// A PUBLISH whose pattern work needs later ticks (redis-compat/pubsub.h): its connection runs
// nothing else until the count is written, so its replies stay in order. What the message holds
// is counted with the connection's buffers meanwhile. A leader change does not answer it
// CLUSTERDOWN as it does waiters (cluster_glue.cc): the message is this member's to deliver.
void Server::on_publish_paced(redis::ClientState& client, std::size_t bytes) {
  const auto it = connections_.find(client.id);
  if (it != connections_.end()) publish_wait(*it->second, bytes);
}

void Server::publish_wait(Connection& c, std::size_t bytes) {
  c.blocked = true;
  c.publish_paced = true;
  c.wait_tag = 0;
  c.waiter = WaiterId{};
  c.client.compat_bytes += bytes;
}

void Server::pubsub_tick() {
  if (!pubsub_) return;
  pubsub_->tick();
  pubsub_answer();
}

void Server::pubsub_answer() {
  for (const redis::PubSub::Done& d : pubsub_->take_done()) {
    const auto it = connections_.find(d.publisher_id);
    if (it == connections_.end()) continue;  // gone: the message was delivered all the same
    Connection& c = *it->second;
    c.client.compat_bytes -= std::min(c.client.compat_bytes, d.bytes);
    if (c.closed || !c.publish_paced) continue;
    c.blocked = false;
    c.publish_paced = false;
    buffer_pool_.fill(c.out);
    c.out += ':';
    c.out += std::to_string(d.count);
    c.out += "\r\n";
    flush(c);
    if (!c.in.empty()) ready_.push_back(c.id);
  }
}

void Server::pubsub_forget(Connection& c) {
  if (pubsub_ && c.client.subscriptions() > 0) pubsub_->forget(c.client);
  if (watches_ && !c.client.watched.empty()) watches_->unwatch_all(c.client);
}

}  // namespace semlock
