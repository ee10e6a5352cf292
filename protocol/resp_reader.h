// RESP request reader: a pure, incremental parser for Redis multibulk and inline commands.
// Behaviour and error texts follow Redis 7 networking.c (processMultibulkBuffer,
// processInlineBuffer) so that clients and redis-cli see exactly what Redis would send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace semlock::resp {

struct ReaderLimits {
  std::size_t max_args = 1024 * 1024;        // multibulk count limit (Redis: INT_MAX; we cap)
  std::size_t max_bulk_bytes = 1024 * 1024;  // server.max_request_bytes
  std::size_t max_inline_bytes = 64 * 1024;  // Redis PROTO_INLINE_MAX_SIZE
};

enum class ParseStatus : std::uint8_t { kCommand, kNeedMore, kSkip, kError };
// kSkip: bytes consumed but no command (empty inline line, "*0", "*-1"): call again.

enum class ProtocolError : std::uint8_t {
  kNone,
  kInvalidMultibulkLength,
  kInvalidBulkLength,
  kExpectedDollar,
  kTooBigInlineRequest,
  kUnbalancedQuotes,
  kTooBigMultibulkCountString,
  kTooBigBulkCountString
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;  // bytes of `in` used (0 for kNeedMore)
  ProtocolError error = ProtocolError::kNone;
  char got = 0;  // for kExpectedDollar: the byte found instead of '$'
};

// Where the parse of an unfinished frame stopped, so that the next call resumes there instead of
// re-scanning the frame from its start (Redis keeps multibulklen/bulklen in the client between
// reads). One cursor belongs to one input stream whose unconsumed bytes keep starting at the same
// frame: the caller keeps the bytes and passes them again with more appended. parse_command
// resets the cursor whenever it returns anything but kNeedMore (except `scanned`).
struct ParseCursor {
  long long count = -1;          // multibulk: the frame's argument count, once its header is read
  std::size_t first = 0;         // multibulk: offset of the first argument's '$'
  std::size_t pos = 0;           // multibulk: offset of the next argument's '$'
  std::size_t args_done = 0;     // multibulk: arguments complete before `pos`
  std::size_t line_scanned = 0;  // bytes of the line at the resume point known to hold no CR/LF
  long long bulk = -1;        // multibulk: the resume point's bulk length, once its header is read
  std::size_t payload = 0;    // multibulk: where that bulk's payload starts
  std::uint64_t scanned = 0;  // bytes examined in total, for tests and bounds (never reset)

  void reset() {
    const std::uint64_t kept = scanned;
    *this = ParseCursor{};
    scanned = kept;
  }
};

// Parses at most one command from the front of `in`. On kCommand, `args` holds the arguments:
// views into `in` for multibulk (zero copy), views into `scratch` for inline commands (unescaped).
// Pure: NeedMore consumes nothing; the same bytes give the same result however they were split.
// `args` and `scratch` are cleared first; their capacity is reused across calls. The views stay
// valid until `in`'s bytes move or `scratch` is reused. kError consumes nothing: answer
// "-ERR " + error_text(r) and close, as Redis does. Header lines ('*n', '$n') and inline lines
// are bounded by max_inline_bytes (Redis: PROTO_INLINE_MAX_SIZE for all three); a bulk or count
// over its limit is refused as soon as its header line is complete.
// With a cursor, the work per call is proportional to the bytes added since the last call (plus
// one pass over the arguments when the frame completes), so a frame trickled in byte by byte
// costs O(its size) in total, not O(size^2). Without one (nullptr) every call starts afresh.
ParseResult parse_command(std::string_view in, const ReaderLimits& limits,
                          std::vector<std::string_view>& args, std::string& scratch,
                          ParseCursor* cursor = nullptr);

// A look-ahead for prefetching, not a parser: if a complete, well-formed multibulk frame of at most
// kPeekMaxArgs arguments starts at `in[pos]`, returns the offset just past it and sets `key` to its
// second argument (empty when it has fewer than two). Returns 0 for anything else (an inline
// command, an unfinished frame, a malformed or longer one): the caller stops looking ahead there,
// and parse_command decides what it is. O(1): at most kPeekMaxArgs headers are read, so peeking
// again at a frame that arrives in many reads costs no more each time. Never allocates.
inline constexpr long long kPeekMaxArgs = 16;
std::size_t peek_key(std::string_view in, std::size_t pos, std::string_view& key);

// The error text exactly as Redis sends it after "-ERR ", e.g.
// "Protocol error: invalid multibulk length", "Protocol error: expected '$', got 'f'",
// "Protocol error: too big inline request", "Protocol error: unbalanced quotes in request",
// "Protocol error: invalid bulk length", "Protocol error: too big mbulk count string",
// "Protocol error: too big bulk count string". Empty for a result that is not kError.
std::string error_text(const ParseResult& r);

}  // namespace semlock::resp
