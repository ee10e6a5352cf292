// Cluster mode: held read replies that the group could not confirm are answered CLUSTERDOWN
// instead of closing the connection (SPEC §9; commit_pipeline.h, ReplyGate::fail_replies).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/detect.h"

namespace semlock {

// `held`: the replies a connection has waiting (written since its last release), answering
// `requests` requests in `wire`'s framing. On success `out` gets one CLUSTERDOWN error per
// reply, in order (RESP `-CLUSTERDOWN The cluster is down`; JSON lines and HTTP bodies
// `{"success":false,"error":...,"code":"UNAVAILABLE"}` with the reply's id, HTTP status 503 and
// the reply's Connection header). False when the held bytes are not exactly `requests` whole
// replies (a push message or an event among them): the caller closes the connection instead.
bool cluster_down_replies(WireProtocol wire, std::string_view held, std::uint64_t requests,
                          std::string& out);

}  // namespace semlock
