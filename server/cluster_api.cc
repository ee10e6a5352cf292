// The Server's cluster API (server.h, "Cluster mode"): thin accessors over ClusterNode, valid
// with cluster mode off too. Forwarding and SEMLOCK.CLUSTER are written against this.
#include "server/cluster_node.h"
#include "server/server.h"

namespace semlock {

bool Server::cluster_enabled() const {
  return cluster_ != nullptr;
}

bool Server::cluster_is_leader() const {
  return cluster_ && cluster_->serving();
}

bool Server::cluster_down() const {
  return cluster_ && cluster_->down(now_ms());
}

std::uint64_t Server::cluster_leader_id() const {
  return cluster_ ? cluster_->status().leader_id : 0;
}

std::optional<std::string> Server::cluster_leader_client_address() const {
  if (!cluster_) return std::nullopt;
  const ClusterStatus& s = cluster_->status();
  if (s.leader_id == 0 || s.leader_id == s.id) return std::nullopt;
  for (const ClusterMember& m : s.members) {
    if (m.id == s.leader_id && !m.client.empty()) return m.client;
  }
  return std::nullopt;
}

std::vector<ClusterMember> Server::cluster_members() const {
  if (!cluster_) return {};
  return cluster_->status().members;
}

void Server::cluster_conf_change(ClusterConfOp op, std::uint64_t id, const std::string& raft,
                                 const std::string& client, ClusterConfCb done) {
  if (!cluster_) {
    cluster_defer([done = std::move(done)] { done(false, "ERR cluster mode is off"); });
    return;
  }
  cluster_->conf_change(op, id, raft, client, std::move(done));
}

void Server::cluster_read_index(ClusterReadCb done) {
  if (!cluster_) {
    // One member: everything it has applied is everything there is.
    cluster_defer([done = std::move(done)] { done(true); });
    return;
  }
  cluster_->read_index(std::move(done));
}

void Server::cluster_transfer_leadership(std::uint64_t target) {
  if (cluster_ && cluster_->status().role == ClusterRole::kLeader) cluster_->transfer(target);
}

}  // namespace semlock
