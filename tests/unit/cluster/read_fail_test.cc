// Reads a leader could not confirm (ReadIndex failed or timed out, leadership lost): a
// connection held only by such a read batch is answered CLUSTERDOWN, reply for reply
// (ReplyGate::fail_replies, cluster_down_replies); one that also waits for a write is closed.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "server/cluster_read_fail.h"
#include "server/commit_pipeline.h"
#include "tests/unit/cluster/pipeline_fixture.h"

namespace semlock {
namespace {

using test::Ids;
using test::one;
using test::ReadPipeline;

// Failed read batches recorded apart from dropped connections.
struct Gate : test::Gate {
  Ids failed;
  void fail_replies(std::uint64_t id) override { failed.push_back(id); }
};

const std::string kDown = "-CLUSTERDOWN The cluster is down\r\n";
const std::string kJsonDown =
    R"({"success":false,"error":"The cluster is down","code":"UNAVAILABLE")";

BOOST_AUTO_TEST_SUITE(read_fail)

BOOST_AUTO_TEST_CASE(only_reads_held_are_answered_the_rest_closed) {
  ReadPipeline<Gate> f(1);
  auto& [g, s, p] = f;
  BOOST_TEST(p.hold(1, true));  // 1 wrote
  p.end_of_iteration(one());    // write batch 1
  s.reads = true;
  BOOST_TEST(p.hold(1, false));  // 1 reads too: waits for batch 1 and batch 2
  BOOST_TEST(p.hold(2, false));  // 2 only reads
  p.end_of_iteration({});        // read batch 2
  p.confirmed(2, false);         // not confirmed in time
  BOOST_TEST((g.failed == Ids{2}));
  BOOST_TEST((g.dropped == Ids{1}));
  BOOST_TEST(g.released.empty());
}

BOOST_AUTO_TEST_CASE(a_reply_attached_to_a_read_batch_fails_with_it) {
  ReadPipeline<Gate> f(5);
  auto& [g, s, p] = f;
  s.reads = true;
  BOOST_TEST(p.hold(1, false));
  p.end_of_iteration({});        // read batch 5
  BOOST_TEST(p.hold(2, false));  // a PING behind it: attached to batch 5
  p.end_of_iteration({});
  BOOST_TEST(p.pending_batches() == 1u);
  p.confirmed(5, false);
  BOOST_TEST((g.failed == Ids{1, 2}));
  BOOST_TEST(g.dropped.empty());
}

BOOST_AUTO_TEST_CASE(reads_held_over_several_read_batches_fail_together) {
  ReadPipeline<Gate> f(1);
  auto& [g, s, p] = f;
  s.reads = true;
  BOOST_TEST(p.hold(1, false));
  p.end_of_iteration({});  // read batch 1
  s.reads = true;
  BOOST_TEST(p.hold(1, false));  // a pipelined read of the same connection, next iteration
  p.end_of_iteration({});        // read batch 2
  p.confirmed(1, false);
  BOOST_TEST((g.failed == Ids{1}));  // all its held replies are reads: CLUSTERDOWN for each
  p.confirmed(2, false);             // settled already
  BOOST_TEST((g.failed == Ids{1}));
  BOOST_TEST(g.dropped.empty());
  BOOST_TEST(!p.has_pending());
}

BOOST_AUTO_TEST_CASE(leadership_lost_fails_reads_and_closes_writers) {
  ReadPipeline<Gate> f(1);
  auto& [g, s, p] = f;
  s.reads = true;
  BOOST_TEST(p.hold(1, false));
  p.end_of_iteration({});  // read batch 1
  BOOST_TEST(p.hold(2, true));
  p.end_of_iteration(one());  // write batch 2
  p.fail_all();
  BOOST_TEST((g.failed == Ids{1}));
  BOOST_TEST((g.dropped == Ids{2}));
}

BOOST_AUTO_TEST_CASE(resp_replies_become_one_error_each) {
  std::string out;
  BOOST_TEST(
      cluster_down_replies(WireProtocol::kResp, ":1\r\n$3\r\nabc\r\n*2\r\n:1\r\n:2\r\n", 3, out));
  BOOST_TEST(out == kDown + kDown + kDown);
  // Not exactly one reply per request (a push message among them), or a partial reply: no.
  BOOST_TEST(!cluster_down_replies(WireProtocol::kResp, ":1\r\n:2\r\n", 1, out));
  BOOST_TEST(!cluster_down_replies(WireProtocol::kResp, ":1\r\n$3\r\nab", 2, out));
  BOOST_TEST(!cluster_down_replies(WireProtocol::kResp, "", 0, out));
}

BOOST_AUTO_TEST_CASE(json_replies_keep_their_ids) {
  std::string out;
  const std::string held =
      "{\"success\":true,\"data\":{\"owner\":\"id\"},\"id\":7}\n"
      "{\"success\":false,\"id\":\"a,\\\"id\\\":}\"}\n"
      "{\"success\":false}\n"
      "{\"success\":true,\"data\":{\"id\":1},\"id\":{\"x\":[1,2]}}\n";
  BOOST_TEST(cluster_down_replies(WireProtocol::kJson, held, 4, out));
  BOOST_TEST(out == kJsonDown + ",\"id\":7}\n" + kJsonDown + ",\"id\":\"a,\\\"id\\\":}\"}\n" +
                        kJsonDown + "}\n" + kJsonDown + ",\"id\":{\"x\":[1,2]}}\n");
  BOOST_TEST(!cluster_down_replies(WireProtocol::kJson, "{\"success\":true}", 1, out));
}

BOOST_AUTO_TEST_CASE(http_responses_become_503_with_their_connection_header) {
  const std::string body1 = "{\"success\":true,\"id\":1}";
  const std::string body2 = "{\"success\":false}";
  const std::string held = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body1.size()) + "\r\nConnection: keep-alive\r\n\r\n" +
                           body1 +
                           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body2.size()) + "\r\nConnection: close\r\n\r\n" + body2;
  std::string out;
  BOOST_TEST(cluster_down_replies(WireProtocol::kHttp, held, 2, out));
  const std::string down1 = kJsonDown + ",\"id\":1}";
  const std::string down2 = kJsonDown + "}";
  BOOST_TEST(out ==
             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
             "Content-Length: " +
                 std::to_string(down1.size()) + "\r\nConnection: keep-alive\r\n\r\n" + down1 +
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Content-Length: " +
                 std::to_string(down2.size()) + "\r\nConnection: close\r\n\r\n" + down2);
  BOOST_TEST(!cluster_down_replies(WireProtocol::kHttp, held.substr(0, held.size() - 1), 2, out));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock
