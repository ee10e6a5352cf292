// Framing of a JSON reply that answers a request later than it was read (a wait that ended, was
// granted or failed): on the JSON line protocol the reply goes out as it is; on HTTP it is the body
// of a whole response, and the connection closes after it unless the request kept it alive.
#pragma once

#include <string>
#include <string_view>

#include "protocol/detect.h"
#include "protocol/http.h"
#include "server/connection.h"

namespace semlock {

// `write_body(std::string& out)` appends the JSON reply to `out` and returns its HTTP status
// (used on HTTP only).
template <typename WriteBody>
void write_json_reply(Connection& c, WireProtocol wire, bool http_keep_alive,
                      WriteBody&& write_body) {
  if (wire != WireProtocol::kHttp) {
    write_body(c.out);
    return;
  }
  std::string body;
  const int status = write_body(body);
  http::write_response(c.out, status, std::string_view("application/json"), body, http_keep_alive);
  if (!http_keep_alive) c.close_after_write = true;
}

}  // namespace semlock
