// Every metric name of SPEC §6 is rendered, request counters carry the closed label sets, and
// engine counters reach the Prometheus counters without double counting.
#include <boost/test/unit_test.hpp>

#include <string>

#include "server/metrics.h"

BOOST_AUTO_TEST_CASE(every_spec_metric_name_is_rendered) {
  semlock::Metrics m;
  semlock::Metrics::Snapshot s;
  s.locks_limit = 100000;
  s.memory_limit_bytes = 512ull << 20;
  m.update(s);
  m.count_request("ping", "resp", semlock::RequestResult::kOk, 1e-6);
  const std::string text = m.render();
  for (const char* name :
       {"ttl_semlock_active_locks", "ttl_semlock_memory_usage_mb", "ttl_semlock_memory_limit_mb",
        "ttl_semlock_locks_limit", "ttl_semlock_rejected_requests_total",
        "ttl_semlock_requests_total", "ttl_semlock_request_duration_seconds_bucket",
        "ttl_semlock_limit_exceeded_total", "ttl_semlock_connections", "ttl_semlock_holders",
        "ttl_semlock_waiters", "ttl_semlock_expired_total", "ttl_semlock_memory_usage_bytes",
        "ttl_semlock_auth_failures_total", "process_resident_memory_bytes"}) {
    BOOST_TEST(text.find(name) != std::string::npos, name);
  }
  BOOST_TEST(text.find("ttl_semlock_locks_limit 100000") != std::string::npos, text);
  BOOST_TEST(text.find("ttl_semlock_memory_limit_mb 512") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(request_counters_are_labelled_and_counted) {
  semlock::Metrics m;
  m.count_request("acquire", "resp", semlock::RequestResult::kOk, 1e-6);
  m.count_request("acquire", "resp", semlock::RequestResult::kOk, 1e-6);
  m.count_request("acquire", "json", semlock::RequestResult::kRejected, 1e-6);
  const std::string text = m.render();
  BOOST_TEST(
      text.find(R"(ttl_semlock_requests_total{command="acquire",protocol="resp",result="ok"} 2)") !=
          std::string::npos,
      text);
  BOOST_TEST(
      text.find(
          R"(ttl_semlock_requests_total{command="acquire",protocol="json",result="rejected"} 1)") !=
          std::string::npos,
      text);
  BOOST_TEST(text.find("ttl_semlock_request_duration_seconds_count 3") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(engine_counters_advance_by_their_delta_only) {
  semlock::Metrics m;
  semlock::Metrics::Snapshot s;
  s.engine.rejected_max_locks = 3;
  s.engine.expired_holders = 10;
  m.update(s);
  m.update(s);  // the same totals again: no double counting
  s.engine.rejected_max_locks = 5;
  m.update(s);
  const std::string text = m.render();
  BOOST_TEST(text.find(R"(ttl_semlock_rejected_requests_total{reason="max_locks_reached"} 5)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find("ttl_semlock_expired_total 10") != std::string::npos, text);
}
