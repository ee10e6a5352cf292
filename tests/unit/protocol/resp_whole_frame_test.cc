// The whole-frame fast path of parse_command (issue 18): a frame that has fully arrived is parsed
// in one pass; it must give exactly what the resumable parser gives for the same bytes fed one at
// a time (which never sees a whole frame at its first look, so never takes the fast path).
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "protocol/resp_reader.h"

using namespace semlock::resp;

namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;
  std::size_t consumed = 0;
  bool operator==(const Outcome&) const = default;
};

std::string show(const Outcome& o) {
  std::string s = "consumed " + std::to_string(o.consumed) + " error '" + o.error + "' commands";
  for (const auto& c : o.commands) {
    s += " [";
    for (const auto& a : c) s += "'" + a + "'";
    s += "]";
  }
  return s;
}

// Feeds `in` `chunk` bytes at a time (chunk 0: all at once) to one cursor, as the server does.
Outcome run(const std::string& in, std::size_t chunk, const ReaderLimits& limits) {
  Outcome o;
  ParseCursor cursor;
  std::string buffer;
  std::vector<std::string_view> args;
  std::string scratch;
  std::size_t fed = 0;
  while (true) {
    const ParseResult r = parse_command(buffer, limits, args, scratch, &cursor);
    if (r.status == ParseStatus::kNeedMore) {
      if (fed == in.size()) break;
      const std::size_t n = chunk == 0 ? in.size() : std::min(chunk, in.size() - fed);
      buffer.append(in, fed, n);
      fed += n;
      continue;
    }
    if (r.status == ParseStatus::kError) {
      o.error = error_text(r);
      break;
    }
    if (r.status == ParseStatus::kCommand) o.commands.emplace_back(args.begin(), args.end());
    o.consumed += r.consumed;
    buffer.erase(0, r.consumed);
  }
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(whole_frames_parse_as_when_trickled) {
  const std::vector<std::string> inputs = {
      "*3\r\n$15\r\nSEMLOCK.ACQUIRE\r\n$11\r\nlock:000042\r\n$5\r\n30000\r\n",
      "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",  // a pipeline
      "*2\r\n$0\r\n\r\n$1\r\nx\r\n",                          // an empty argument
      "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\n",        // the second frame unfinished
      "*1\r\n$4\r\nPINGxy",                                   // CRLF after a payload not checked
      "*1\n\n$4\r\nPING\r\n",                                 // no CR in the count line
      "*1\rX$4\rYPING\r\n",                                   // any byte after CR (as Redis)
      "*01\r\n$4\r\nPING\r\n",                                // leading zero: the slow reader
      "*1\r\n$04\r\nPING\r\n",
      "*0\r\n*1\r\n$4\r\nPING\r\n",  // an empty frame is skipped
      "*-1\r\n",
      "*3\r\n$1\r\na\r\n$1\r\nb\r\n",  // fewer arguments than announced
      "*2\r\n$1\r\na\r\n:1\r\n",       // not a '$'
      "*2\r\n$-1\r\n",
      "*1\r\n$+4\r\nPING\r\n",
      "*+1\r\n$4\r\nPING\r\n",
      "*1\r\n$1234567890123456789\r\n",  // 19 digits
      "*99999999999999999999\r\n",
      "*1\r\n$4\r\nPING\r",  // the CR's following byte not there yet
      "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$4\r\neeee\r\n",
      "PING\r\n*1\r\n$4\r\nPING\r\n",  // inline then multibulk
      "*1\r\n$10\r\n0123456789\r\n",  // two digits
      "*12\r\n",                       // a count of two digits, nothing after it yet
      "*1\r\n$",                        // a header cut after its type byte
      "*1\r\n$1",                       // ... after its digit
      "*",
      "*1\r\n$4\r",
  };
  ReaderLimits tight;
  tight.max_args = 4;
  tight.max_bulk_bytes = 3;
  tight.max_inline_bytes = 4;
  for (const ReaderLimits& limits : {ReaderLimits{}, tight}) {
    for (const std::string& in : inputs) {
      const Outcome whole = run(in, 0, limits);
      const Outcome trickled = run(in, 1, limits);
      const bool same = whole == trickled;
      BOOST_TEST(same, "input " << in << " (max_args " << limits.max_args
                                             << "): whole " << show(whole) << " vs trickled "
                                             << show(trickled));
    }
  }
  // And the fast path was there to be compared: a plain pipelined acquire parses whole.
  const Outcome acquire = run(inputs[0], 0, ReaderLimits{});
  BOOST_TEST(acquire.commands.size() == 1u);
  BOOST_TEST(acquire.consumed == inputs[0].size());
}
