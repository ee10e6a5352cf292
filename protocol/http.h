// Minimal HTTP/1.x request framing: request line, headers (bounded), Content-Length body.
// Chunked bodies are refused with 411 because no endpoint needs streaming uploads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace semlock::http {

struct Limits {
  std::size_t max_header_bytes = 8192;
  std::size_t max_body_bytes = 1024 * 1024;
};

struct Request {
  std::string_view method, target, body, authorization;  // views into the input
  int minor_version = 1;
  bool keep_alive = true;  // HTTP/1.1 default true unless "Connection: close"; 1.0 default false
                           // unless keep-alive
  bool expect_continue = false;
};

enum class Status : std::uint8_t { kRequest, kNeedMore, kError };

struct ParseResult {
  Status status = Status::kNeedMore;
  std::size_t consumed = 0;
  int error_status = 0;  // 400 bad request, 411 chunked/length required, 413 body too large,
                         // 431 headers too large, 505 version
  std::string_view error_reason;  // "Bad Request" ...
  // kNeedMore only: the head is complete, its body is not, and the client sent
  // `Expect: 100-continue` on HTTP/1.1, so it may wait for `HTTP/1.1 100 Continue` (write_continue)
  // before it sends the body. Answer it once per request.
  bool send_continue = false;
};

// Where the framing of an unfinished request stopped, so that a request trickled in is not
// re-parsed from its start on every read: the head is parsed once it is complete (or its window
// is full), the body waited for by size. Belongs to one stream whose unconsumed bytes keep
// starting at the same request; parse_request resets it when it returns anything but kNeedMore.
struct Cursor {
  std::size_t start = 0;    // blank lines skipped before the request line
  std::size_t scanned = 0;  // bytes known to hold no end of head
  std::size_t need = 0;     // the head is parsed: the whole request is this many bytes
};

// Parses one request from the front of `in`. kRequest: `out` views into `in`, `consumed` covers
// head and body. kNeedMore consumes nothing. kError: answer error_status and close.
// With a cursor, an error inside an unfinished head is reported once the head ends or fills its
// window (rather than as soon as its line arrives); the verdict on whole input is the same.
ParseResult parse_request(std::string_view in, const Limits& limits, Request& out,
                          Cursor* cursor = nullptr);

struct ResponseExtras {
  // Answering HEAD: the headers the response would have (Content-Length included), no body.
  bool head_request = false;
  // The value of an Allow header (a 405 must carry one, RFC 9110 §15.5.6); empty = none.
  std::string_view allow;
};

// Full response with Content-Length and Connection header.
void write_response(std::string& out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive, const ResponseExtras& extras = {});

// The interim response a client waiting on `Expect: 100-continue` needs before sending its body.
void write_continue(std::string& out);

// The token of an Authorization value in the Bearer scheme. The scheme name is case-insensitive
// (RFC 9110 §11.1: "bearer", "BEARER"), one or more spaces follow it. Empty for another scheme or
// no token.
std::string_view bearer_token(std::string_view authorization);

// Standard reason phrase for `status` ("OK", "Not Found", ...); "Unknown" for others.
std::string_view reason_phrase(int status);

}  // namespace semlock::http
