// The `cluster` section: every key from a file, the environment and flags; the members object;
// and each refusal with its exact message (the rest of the configuration is not touched).
#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

using testing::run;

const std::string kThree = R"({"1":{"raft":"10.0.0.1:7000","client":"10.0.0.1:8765"},)"
                           R"("2":{"raft":"10.0.0.2:7000","client":"10.0.0.2:8765"},)"
                           R"("9223372036854775808":{"raft":"[::1]:7000","client":"[::1]:8765"}})";

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(defaults) {
  const Config c;
  BOOST_TEST(!c.cluster.enabled);
  BOOST_TEST(c.cluster.node_id == 0u);
  BOOST_TEST(c.cluster.members.empty());
  BOOST_TEST(c.cluster.election_timeout == 1000);
  BOOST_TEST(c.cluster.heartbeat_interval == 100);
  BOOST_TEST(c.cluster.request_timeout == 5000);
  BOOST_TEST(c.cluster.snapshot_entries == 10000u);
  BOOST_TEST(c.cluster.raft_listen == "");
  // Off: nothing about the cluster is required.
  BOOST_TEST(run({}).error == "");
}

BOOST_AUTO_TEST_CASE(every_key_from_a_file) {
  const LoadResult r = load_json_text(
      R"({"cluster":{"enabled":true,"node_id":"2","members":)" + kThree +
      R"(,"dir":"/var/lib/raft","election_timeout":"2s","heartbeat_interval":"200ms",)"
      R"("request_timeout":"7s","snapshot_entries":500,"raft_listen":"0.0.0.0:7000"}})");
  BOOST_TEST(r.error == "");
  const ClusterConfig& c = r.config.cluster;
  BOOST_TEST(c.enabled);
  BOOST_TEST(c.node_id == 2u);
  BOOST_TEST(c.members.size() == 3u);
  BOOST_TEST(c.members[0].id == 1u);
  BOOST_TEST(c.members[2].id == 9223372036854775808ull);
  BOOST_TEST(c.members[2].raft == "[::1]:7000");
  BOOST_TEST(c.members[1].client == "10.0.0.2:8765");
  BOOST_TEST(c.dir == "/var/lib/raft");
  BOOST_TEST(c.election_timeout == 2000);
  BOOST_TEST(c.heartbeat_interval == 200);
  BOOST_TEST(c.request_timeout == 7000);
  BOOST_TEST(c.snapshot_entries == 500u);
  BOOST_TEST(c.raft_listen == "0.0.0.0:7000");
}

BOOST_AUTO_TEST_CASE(environment_and_flags) {
  const LoadResult env =
      run({}, {"TTLSEMLOCK_CLUSTER_ENABLED=true", "TTLSEMLOCK_CLUSTER_NODE_ID=1",
               "TTLSEMLOCK_CLUSTER_MEMBERS=" + kThree, "TTLSEMLOCK_CLUSTER_ELECTION_TIMEOUT=3s"});
  BOOST_TEST(env.error == "");
  BOOST_TEST(env.config.cluster.members.size() == 3u);
  BOOST_TEST(env.config.cluster.election_timeout == 3000);
  // raft_listen defaults to this member's own raft address.
  BOOST_TEST(env.config.cluster.raft_listen == "10.0.0.1:7000");
  const LoadResult flags = run(
      {"--cluster", "true", "--cluster-node-id", "2", "--cluster-members", kThree, "--cluster-dir",
       "/d", "--cluster-snapshot-entries", "7", "--cluster-raft-listen", "127.0.0.1:9"},
      {"TTLSEMLOCK_CLUSTER_NODE_ID=1"});
  BOOST_TEST(flags.error == "");
  BOOST_TEST(flags.config.cluster.node_id == 2u);  // the flag wins over the environment
  BOOST_TEST(flags.config.cluster.dir == "/d");
  BOOST_TEST(flags.config.cluster.snapshot_entries == 7u);
  BOOST_TEST(flags.config.cluster.raft_listen == "127.0.0.1:9");
}

BOOST_AUTO_TEST_CASE(members_json_round_trips) {
  const LoadResult r = run({"--cluster-members", kThree});
  BOOST_TEST(r.error == "");
  const LoadResult again = run({"--cluster-members", members_json(r.config.cluster.members)});
  BOOST_TEST(again.error == "");
  BOOST_TEST(members_json(again.config.cluster.members) == members_json(r.config.cluster.members));
}

void refused(std::initializer_list<std::string> args, const std::string& error,
             std::initializer_list<std::string> env = {}) {
  const LoadResult r = run(args, env);
  BOOST_TEST(r.error == error);
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST((r.action == LoadAction::kExit));
}

BOOST_AUTO_TEST_CASE(bad_members_are_refused_with_the_reason) {
  refused({"--cluster-members", R"({"0":{"raft":"a:1","client":"b:2"}})"},
          R"(--cluster-members: member "0": the id must be an integer 1..9223372036854775808)");
  refused({"--cluster-members", R"({"9223372036854775809":{"raft":"a:1","client":"b:2"}})"},
          R"(--cluster-members: member "9223372036854775809": the id must be an integer )"
          R"(1..9223372036854775808)");
  refused({"--cluster-members", R"({"01":{"raft":"a:1","client":"b:2"}})"},
          R"(--cluster-members: member "01": the id must be an integer 1..9223372036854775808)");
  refused({"--cluster-members", R"({"1":{"raft":"x","client":"b:2"}})"},
          R"(--cluster-members: member "1": raft: must be "host:port", got "x")");
  refused({"--cluster-members", R"({"1":{"raft":"a:70000","client":"b:2"}})"},
          R"(--cluster-members: member "1": raft: must be "host:port", got "a:70000")");
  refused({"--cluster-members", R"({"1":{"raft":"a:1"}})"},
          R"(--cluster-members: member "1": client: missing)");
  refused({"--cluster-members", R"({"1":{"raft":"a:1","client":7}})"},
          R"(--cluster-members: member "1": client: must be a string)");
  refused({"--cluster-members", R"({"1":"a:1"})"},
          R"(--cluster-members: member "1": must be an object with "raft" and "client")");
  refused({"--cluster-members", "[1]"},
          R"(--cluster-members: must be an object of member id -> {"raft": ..., "client": ...})");
  refused({"--cluster-members", "{"},
          "--cluster-members: must be a JSON object: Missing a name for object member. at "
          "offset 1");
  refused({"--cluster-members",
           R"({"1":{"raft":"a:1","client":"b:2"},"2":{"raft":"a:1","client":"b:3"}})"},
          R"(--cluster-members: member "2": raft: "a:1" is also member "1"'s)");
  refused({}, R"(TTLSEMLOCK_CLUSTER_MEMBERS: member "1": unknown key "x")",
          {R"(TTLSEMLOCK_CLUSTER_MEMBERS={"1":{"raft":"a:1","client":"b:2","x":1}})"});
}

BOOST_AUTO_TEST_CASE(cross_key_checks) {
  const std::string one = R"({"1":{"raft":"127.0.0.1:7101","client":"127.0.0.1:7001"}})";
  refused({"--cluster", "true"},
          "cluster.node_id: must be set (an integer 1..9223372036854775808) when "
          "cluster.enabled is true");
  refused({"--cluster", "true", "--cluster-node-id", "1"},
          "cluster.members: must name at least this member when cluster.enabled is true");
  refused({"--cluster", "true", "--cluster-node-id", "2", "--cluster-members", one},
          "cluster.node_id: 2 is not in cluster.members (1)");
  refused({"--cluster", "true", "--cluster-node-id", "1", "--cluster-members", one,
           "--cluster-heartbeat-interval", "600ms"},
          "cluster.heartbeat_interval: must be at most half of cluster.election_timeout (1s), "
          "got 600ms");
  refused({"--cluster", "true", "--cluster-node-id", "1", "--cluster-members", one, "--persistence",
           "true"},
          "persistence.enabled: must be false when cluster.enabled is true (cluster.dir holds "
          "the Raft log and snapshots instead of the journal)");
  refused({"--cluster", "true", "--cluster-node-id", "1", "--cluster-members", one,
           "--cluster-raft-listen", "nowhere"},
          R"(cluster.raft_listen: must be "host:port", got "nowhere")");
  refused({"--cluster-node-id", "0"}, "--cluster-node-id: must be 1..9223372036854775808, got 0");
  const LoadResult file = load_json_text(R"({"cluster":{"node_id":"abc"}})");
  BOOST_TEST(file.error ==
             R"(cluster.node_id: must be an integer 1..9223372036854775808, got "abc")");
  // Off, the cross-key checks do not apply.
  BOOST_TEST(run({"--cluster-node-id", "2", "--cluster-members", one}).error == "");
}

BOOST_AUTO_TEST_CASE(check_config_accepts_a_valid_cluster) {
  const LoadResult r = run({"--check-config", "--cluster", "true", "--cluster-node-id", "1",
                            "--cluster-members", kThree});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.output == "configuration OK\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
