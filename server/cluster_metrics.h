// Cluster mode's metrics (SPEC §6 prefix ttl_semlock_cluster_): leader flag, term, commit and
// applied index, leader changes, failed proposals, proposal latency.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace semlock {

struct ClusterMetrics {
  explicit ClusterMetrics(prometheus::Registry& r)
      : leader(&prometheus::BuildGauge()
                    .Name("ttl_semlock_cluster_leader")
                    .Help("1 while this member is the leader and serves writes")
                    .Register(r)
                    .Add({})),
        term(&prometheus::BuildGauge()
                  .Name("ttl_semlock_cluster_term")
                  .Help("Raft term this member is in")
                  .Register(r)
                  .Add({})),
        commit_index(&prometheus::BuildGauge()
                          .Name("ttl_semlock_cluster_commit_index")
                          .Help("Raft commit index as this member knows it")
                          .Register(r)
                          .Add({})),
        applied_index(&prometheus::BuildGauge()
                           .Name("ttl_semlock_cluster_applied_index")
                           .Help("last Raft index applied to this member's engine")
                           .Register(r)
                           .Add({})),
        leader_changes(&prometheus::BuildCounter()
                            .Name("ttl_semlock_cluster_leader_changes_total")
                            .Help("times this member saw the leader change")
                            .Register(r)
                            .Add({})),
        failed_proposals(&prometheus::BuildCounter()
                              .Name("ttl_semlock_cluster_failed_proposals_total")
                              .Help("proposed batches that never committed (their held "
                                    "connections were closed unanswered)")
                              .Register(r)
                              .Add({})),
        proposal_seconds(&prometheus::BuildHistogram()
                              .Name("ttl_semlock_cluster_proposal_duration_seconds")
                              .Help("from proposing a batch to its commit arriving")
                              .Register(r)
                              .Add({}, prometheus::Histogram::BucketBoundaries{
                                           0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})) {}
  prometheus::Gauge* leader;
  prometheus::Gauge* term;
  prometheus::Gauge* commit_index;
  prometheus::Gauge* applied_index;
  prometheus::Counter* leader_changes;
  prometheus::Counter* failed_proposals;
  prometheus::Histogram* proposal_seconds;
};

}  // namespace semlock
