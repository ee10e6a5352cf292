// Cluster mode: PUBLISH reaches the subscribers of every member (docs/CLUSTER.md, "Pub/sub").
//
// A message is not state: it travels in the replicated log as a kData record {"publish",
// message, origin member} keyed by the channel, which every member delivers to its own
// subscribers when it applies the entry and which changes nothing (no snapshot holds one).
// - On the serving leader (a PUBLISH run there, or inside a script or EXEC forwarded to it): its
//   own subscribers get the message at once; the record goes into this loop iteration's entry,
//   in order with the writes around it (a release script's PUBLISH reaches a follower's
//   subscribers after that follower applied the release).
// - On a follower: its own subscribers get it at once; then the member's own forwarding
//   connection (one per member, not the client's: the message must go even when the client
//   closes at once) sends `SEMLOCK.PUBLISH <origin> <channel> <message>` to the leader (its reply
//   is dropped), which delivers to the leader's subscribers and logs the record with that
//   origin. Order: a client's PUBLISH runs here only once its forwarded writes before it were
//   answered (forward_upstream.h), so the leader has them before the message.
// - Applying: a member delivers a record unless it is the origin (its subscribers had it), the
//   entry was applied before (a resync replays entries), or the message is older than
//   cluster.request_timeout by the wall clock (a restarting member replays its log; wall clocks
//   are assumed close, as the holders' deadlines in the log already assume).
// The reply counts the subscribers of the member the client is connected to, as Redis Cluster
// does. Delivery is at most once, as Redis's pub/sub: a message whose entry never commits (the
// leader lost) reaches only the member it was published on.
#include <charconv>
#include <cstdint>
#include <string>

#include "protocol/resp_reply.h"
#include "redis-compat/errors.h"
#include "redis-compat/pubsub.h"
#include "server/cluster_node.h"
#include "server/forward_upstream.h"
#include "server/server.h"

namespace semlock {

void Server::on_publish(redis::ClientState& client, std::string_view channel,
                        std::string_view message) {
  if (!cluster_) return;
  if (cluster_->serving()) {
    cluster_log_publish(channel, message, config_.cluster.node_id);
    return;
  }
  (void)client;
  // A pseudo client that is never in connections_ (its id is no connection's): the Forwarder
  // gives it an upstream to the leader like any client's, and drops its replies.
  if (!cluster_pub_conn_) {
    cluster_pub_conn_ = std::make_unique<Connection>();
    cluster_pub_conn_->id = cluster_pub_conn_->client.id = UINT64_MAX;
  }
  const std::uint64_t leader = cluster_leader_id();
  if (leader != cluster_pub_leader_) {
    // The old leader's upstream is closed (a detached one would be kept for the client).
    if (cluster_pub_leader_ != 0) forwarder().on_client_closed(*cluster_pub_conn_);
    cluster_pub_leader_ = leader;
  }
  const std::string origin = std::to_string(config_.cluster.node_id);
  ParkedRequest r;
  resp::encode_command({"SEMLOCK.PUBLISH", origin, channel, message}, r.bytes);
  r.proto = 2;
  ForwardSlot slot;
  slot.relay = false;  // the client has its reply (this member's count) already
  r.slots.push_back(std::move(slot));
  forwarder().forward(*cluster_pub_conn_, false, std::move(r));
}

void Server::cluster_log_publish(std::string_view channel, std::string_view message,
                                 std::uint64_t origin) {
  // The mutation's deadline is the time of publishing (a wall time once encoded).
  engine_->data().log_message(channel, {"publish", std::string(message), std::to_string(origin)},
                              now_ms());
}

Server::ForwardStep Server::cluster_publish_command(Connection& c) {
  if (c.forward_pending > 0) return ForwardStep::kStall;
  auto error = [&](std::string_view text) {
    c.out += '-';
    c.out.append(text);
    c.out += "\r\n";
    return ForwardStep::kDone;
  };
  if (argv_.size() != 4) {
    return error("ERR wrong number of arguments for 'semlock.publish' command");
  }
  if (auth_required() && !c.client.authenticated) return error(errors::kNoAuth);
  std::uint64_t origin = 0;
  const std::string_view o = argv_[1];
  const auto res = std::from_chars(o.data(), o.data() + o.size(), origin);
  if (res.ec != std::errc() || res.ptr != o.data() + o.size() || origin == 0) {
    return error("ERR member id must be an integer 1..2^63");
  }
  // Members never forward these (PUBLISH refuses them first): a client sending this command
  // itself must not forge lost-lock notices either.
  if (argv_[2].starts_with(errors::kReservedChannelPrefix)) return error(errors::kReservedChannel);
  std::int64_t n = 0;
  // Not the serving leader (leadership moved meanwhile): the message stays with this member.
  if (cluster_->serving()) cluster_log_publish(argv_[2], argv_[3], origin);
  if (origin != config_.cluster.node_id && pubsub()) {
    // Paced as a client's PUBLISH (redis-compat/pubsub.h): answered when delivered.
    const auto r = pubsub_->publish_paced(argv_[2], argv_[3], c.id);
    if (!r) {
      publish_wait(c, argv_[2].size() + argv_[3].size());
      return ForwardStep::kDone;
    }
    n = *r;
  }
  c.out += ':';
  c.out += std::to_string(n);
  c.out += "\r\n";
  return ForwardStep::kDone;
}

void Server::cluster_deliver_publish(const persist::Record& r, std::int64_t now_wall) {
  if (!cluster_pub_live_ || !pubsub_) return;
  if (r.data[2] == std::to_string(config_.cluster.node_id)) return;  // published here
  if (now_wall - r.wall_deadline_ms > config_.cluster.request_timeout) return;  // a replay
  if (std::string_view(r.key).starts_with(errors::kReservedChannelPrefix)) return;  // never ours
  pubsub_->publish_paced(r.key, r.data[1], 0);  // 0: nobody waits for its count
}

}  // namespace semlock
