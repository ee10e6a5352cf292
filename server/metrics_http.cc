// The metrics port, served from the loop: GET /metrics (Prometheus text), /health (200 while the
// process serves), /ready (200 when lock traffic is accepted, 503 while starting or stopping). It
// keeps answering through the shutdown grace (/ready 503, /health 200), each reply then closing
// its connection, until the lock port's connections are gone.
#include "protocol/http.h"
#include "server/http_read.h"
#include "server/server.h"

namespace semlock {

std::size_t Server::process_metrics_http(Connection& c, std::string_view data) {
  http::Limits limits;
  limits.max_body_bytes = 64 * 1024;
  buffer_pool_.fill(c.out);
  std::size_t pos = 0;
  while (pos < data.size() && c.can_execute()) {
    http::Request hr;
    const http::ParseResult r = read_http_request(c, data.substr(pos), limits, hr);
    if (r.status == http::Status::kNeedMore) break;
    if (r.status == http::Status::kError) {
      http::write_response(c.out, r.error_status, "text/plain", r.error_reason, false);
      c.close_after_write = true;
      return data.size();
    }
    pos += r.consumed;
    const bool keep_alive = hr.keep_alive && !shutting_down_;
    http::ResponseExtras extras;
    extras.head_request = hr.method == "HEAD";
    std::string_view path = hr.target.substr(0, hr.target.find('?'));
    if (hr.method != "GET" && hr.method != "HEAD") {
      extras.allow = "GET, HEAD";
      http::write_response(c.out, 405, "text/plain", "method not allowed\n", keep_alive, extras);
    } else if (path == "/metrics") {
      update_metrics();
      http::write_response(c.out, 200, "text/plain; version=0.0.4; charset=utf-8",
                           metrics_.render(), keep_alive, extras);
    } else if (path == "/health") {
      http::write_response(c.out, 200, "text/plain", "OK\n", keep_alive, extras);
    } else if (path == "/ready") {
      if (ready_for_traffic_) {
        http::write_response(c.out, 200, "text/plain", "ready\n", keep_alive, extras);
      } else {
        http::write_response(c.out, 503, "text/plain",
                             shutting_down_     ? "shutting down\n"
                             : persist_loading_ ? "loading\n"
                                                : "starting\n",
                             keep_alive, extras);
      }
    } else {
      http::write_response(c.out, 404, "text/plain", "not found\n", keep_alive, extras);
    }
    if (!keep_alive) c.close_after_write = true;
  }
  return pos;
}

}  // namespace semlock
