// The loop's side of the commit pipeline (commit_pipeline.h): the end of every drain() hands the
// iteration's mutations to the sink (the journal, or Raft in cluster mode), and the pipeline
// releases or drops held connections through these.
#include "server/server.h"

namespace semlock {

bool Server::commit_after_drain() {
  if (!pipeline_.sink()) return false;
  cluster_note_mutation_groups();  // uncuttable spans of the log, taken with it (cluster_split.h)
  pipeline_.end_of_iteration(engine_->take_mutations());
  return engine_->has_events() || !ready_.empty() || engine_->has_mutations() || !deferred_.empty();
}

void Server::release_replies(std::uint64_t conn_id) {
  auto it = connections_.find(conn_id);
  if (it != connections_.end() && !it->second->closed) flush(*it->second);
}

void Server::drop_replies(std::uint64_t conn_id) {
  auto it = connections_.find(conn_id);
  if (it != connections_.end() && !it->second->closed) close_connection(*it->second);
}

}  // namespace semlock
