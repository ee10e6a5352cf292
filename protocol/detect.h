// Wire protocol detection on the first bytes of a connection (SPEC §3).
#pragma once

#include <cstdint>
#include <string_view>

namespace semlock {

enum class WireProtocol : std::uint8_t { kUnknown, kResp, kJson, kHttp };

// SPEC §3: skip leading blanks (space, tab, CR, LF); '{' = JSON, '*' = RESP; otherwise the first
// line decides: "METHOD /path HTTP/1.x" (METHOD = uppercase token) = HTTP, anything else RESP
// inline. kUnknown when more bytes are needed (no non-blank byte yet, or the first line is not
// complete and could still be an HTTP request line). Bounded look-ahead (if the first line passes
// 8 KB without an LF it is RESP inline).
WireProtocol detect_protocol(std::string_view first_bytes);

}  // namespace semlock
