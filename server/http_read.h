// Reading HTTP requests off a connection: the lock port's HTTP (dispatch_json.cc) and the
// metrics port (metrics_http.cc).
#pragma once

#include <string_view>

#include "protocol/http.h"
#include "server/connection.h"

namespace semlock {

// Frames the next request of `data` from where the connection's cursor stopped. While a
// request's body is still to come and its client asked for it (Expect: 100-continue; curl waits
// up to a second before it sends the body), "100 Continue" is written, once per request.
inline http::ParseResult read_http_request(Connection& c, std::string_view data,
                                           const http::Limits& limits, http::Request& hr) {
  const http::ParseResult r = http::parse_request(data, limits, hr, &c.http_cursor);
  if (r.status == http::Status::kNeedMore && r.send_continue && !c.http_continue_sent) {
    http::write_continue(c.out);
    c.http_continue_sent = true;
  } else if (r.status == http::Status::kRequest) {
    c.http_continue_sent = false;  // the next request gets its own
  }
  return r;
}

}  // namespace semlock
