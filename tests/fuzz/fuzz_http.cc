// Fuzzes HTTP framing and protocol detection. Checked properties: views stay inside the input,
// consumed never exceeds it, errors carry a status with a reason, NeedMore consumes nothing and
// every prefix of a parsed request is NeedMore or the same error class; feeding the input byte
// by byte through one Cursor (as the server does) gives the same requests and, once the head has
// ended, the same error.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

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
// The bodies parsed from `in` in order, and the error status that ended them (0 = none).
std::pair<std::vector<std::string>, int> parse_all(std::string_view in,
                                                   const semlock::http::Limits& limits,
                                                   bool trickle) {
  std::vector<std::string> bodies;
  std::string buffer;
  std::size_t fed = trickle ? 0 : in.size();
  buffer.assign(in.substr(0, fed));
  semlock::http::Cursor cursor;
  while (true) {
    semlock::http::Request req;
    const auto r = semlock::http::parse_request(buffer, limits, req, trickle ? &cursor : nullptr);
    if (r.status == semlock::http::Status::kNeedMore) {
      if (fed == in.size()) return {bodies, 0};
      buffer.push_back(in[fed++]);
      continue;
    }
    if (r.status == semlock::http::Status::kError) return {bodies, r.error_status};
    bodies.emplace_back(req.body);
    buffer.erase(0, r.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string_view in = input;
  {
    semlock::http::Limits small;
    small.max_header_bytes = 512;
    small.max_body_bytes = 256;
    const auto whole = parse_all(in, small, false);
    const auto trickled = parse_all(in, small, true);
    require(whole.first == trickled.first);
    // With a cursor an error inside a head is reported once the head ends (or fills its window);
    // an input that stops before then leaves the trickled parse still waiting.
    require(trickled.second == 0 ? true : trickled.second == whole.second);
    require(whole.second != 0 || trickled.second == 0);
  }
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
