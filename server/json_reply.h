// Framing of a JSON reply that answers a request later than it was read (a wait that ended, was
// granted or failed): on the JSON line protocol the reply goes out as it is; on HTTP it is the body
// of a whole response, and the connection closes after it unless the request kept it alive.
#pragma once

#include <string>
#include <string_view>

#include "protocol/detect.h"
#include "protocol/http.h"
#include "protocol/json_codec.h"
#include "protocol/resp_writer.h"
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

// A wait's answer in the protocol it was asked in (pw: the Server's PendingWait): when granted,
// `json_grant(std::string& out)` or `resp_grant(resp::Writer&)` writes it; otherwise the
// protocol's "not acquired" (JSON {"success":false}, RESP null).
template <typename Pending, typename JsonGrant, typename RespGrant>
void write_wait_answer(Connection& c, const Pending& pw, bool granted, JsonGrant&& json_grant,
                       RespGrant&& resp_grant) {
  switch (pw.protocol) {
    case WireProtocol::kJson:
    case WireProtocol::kHttp:
      write_json_reply(c, pw.protocol, pw.http_keep_alive, [&](std::string& out) {
        if (granted) {
          json_grant(out);
        } else {
          json::write_fail(out, pw.id_raw);
        }
        return 200;
      });
      break;
    default: {
      resp::Writer w(c.out, c.client.proto);
      if (granted) {
        resp_grant(w);
      } else {
        w.null();
      }
      break;
    }
  }
}

}  // namespace semlock
