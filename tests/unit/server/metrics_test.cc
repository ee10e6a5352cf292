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

// Issue 16: the request histogram resolves sub-millisecond times (1-2.5-5 steps, 1 µs .. 1 s).
BOOST_AUTO_TEST_CASE(request_duration_buckets_are_fine_below_a_millisecond) {
  semlock::Metrics m;
  m.count_request("ping", "resp", semlock::RequestResult::kOk, 30e-6);
  m.count_request("ping", "resp", semlock::RequestResult::kOk, 300e-6);
  m.count_request("ping", "resp", semlock::RequestResult::kOk, 2);
  const std::string text = m.render();
  const auto bucket = [&](const std::string& le) {
    const std::string head = "ttl_semlock_request_duration_seconds_bucket{le=\"" + le + "\"} ";
    const auto at = text.find(head);
    return at == std::string::npos ? std::string("missing")
                                   : text.substr(at + head.size(), text.find('\n', at) -
                                                                       at - head.size());
  };
  BOOST_TEST(bucket("1e-06") == "0", text);
  BOOST_TEST(bucket("2.5e-05") == "0", text);
  BOOST_TEST(bucket("5e-05") == "1", text);
  BOOST_TEST(bucket("0.00025") == "1", text);
  BOOST_TEST(bucket("0.0005") == "2", text);
  BOOST_TEST(bucket("1") == "2", text);
  BOOST_TEST(bucket("+Inf") == "3", text);
  std::size_t n = 0;
  for (auto at = text.find("ttl_semlock_request_duration_seconds_bucket{");
       at != std::string::npos;
       at = text.find("ttl_semlock_request_duration_seconds_bucket{", at + 1)) {
    ++n;
  }
  BOOST_TEST(n == 20u, text);  // 19 bounds and +Inf
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

// Requests are counted in plain integers and reach Prometheus at render(): every scrape sees all
// of them, once, and each duration lands in the bucket Histogram::Observe would pick.
BOOST_AUTO_TEST_CASE(batched_request_counts_reach_every_render_once) {
  semlock::Metrics m;
  m.count_request("acquire", "resp", semlock::RequestResult::kOk, 1e-6);  // le=1e-06
  m.count_request("acquire", "resp", semlock::RequestResult::kNotGranted, 3e-6);  // le=5e-06
  std::string text = m.render();
  BOOST_TEST(text.find(R"(ttl_semlock_requests_total{command="acquire",protocol="resp",result="ok"} 1)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find(R"(ttl_semlock_request_duration_seconds_bucket{le="1e-06"} 1)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find(R"(ttl_semlock_request_duration_seconds_bucket{le="5e-06"} 2)") !=
                 std::string::npos,
             text);
  text = m.render();  // nothing new: the same figures, not doubled
  BOOST_TEST(text.find("ttl_semlock_request_duration_seconds_count 2") != std::string::npos, text);
  m.count_request("ping", "resp", semlock::RequestResult::kOk, 5.0);  // +Inf
  m.count_request("acquire", "resp", semlock::RequestResult::kOk, 1e-6);
  text = m.render();
  BOOST_TEST(text.find(R"(ttl_semlock_requests_total{command="acquire",protocol="resp",result="ok"} 2)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find(R"(ttl_semlock_requests_total{command="ping",protocol="resp",result="ok"} 1)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find(R"(ttl_semlock_request_duration_seconds_bucket{le="1e-06"} 2)") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find("ttl_semlock_request_duration_seconds_count 4") != std::string::npos, text);
  BOOST_TEST(text.find("ttl_semlock_request_duration_seconds_sum 5.000005") != std::string::npos,
             text);
}
