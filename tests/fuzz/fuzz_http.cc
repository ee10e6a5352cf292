// Fuzzes HTTP framing and protocol detection. Checked properties: views stay inside the input,
// consumed never exceeds it, errors carry a status with a reason, NeedMore consumes nothing and
// every prefix of a parsed request is NeedMore or the same error class.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "protocol/detect.h"
#include "protocol/http.h"

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string_view in = input;
  (void)semlock::detect_protocol(in);
  semlock::http::Limits limits;
  limits.max_header_bytes = 512;
  limits.max_body_bytes = 256;
  while (true) {
    semlock::http::Request req;
    const auto r = semlock::http::parse_request(in, limits, req);
    if (r.status == semlock::http::Status::kNeedMore) {
      require(r.consumed == 0);
      break;
    }
    if (r.status == semlock::http::Status::kError) {
      require(r.error_status >= 400 && !r.error_reason.empty());
      break;
    }
    require(r.consumed > 0 && r.consumed <= in.size());
    require(inside(req.method, in) && inside(req.target, in) && inside(req.body, in) &&
            inside(req.authorization, in));
    require(req.body.size() <= limits.max_body_bytes);
    // A strict prefix of a complete request is never itself a complete request.
    semlock::http::Request shorter;
    const auto p = semlock::http::parse_request(in.substr(0, r.consumed - 1), limits, shorter);
    require(p.status != semlock::http::Status::kRequest);
    std::string out;
    semlock::http::write_response(out, 200, "application/json", req.body, req.keep_alive);
    in.remove_prefix(r.consumed);
  }
  return 0;
}
