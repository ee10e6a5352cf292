#include "protocol/resp_reader.h"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "protocol/resp_writer.h"

using semlock::resp::error_text;
using semlock::resp::parse_command;
using semlock::resp::ParseCursor;
using semlock::resp::ParseResult;
using semlock::resp::ParseStatus;
using semlock::resp::ProtocolError;
using semlock::resp::ReaderLimits;

namespace {

using Args = std::vector<std::string>;

struct Parsed {
  ParseResult result;
  Args args;
};

Parsed parse(std::string_view in, const ReaderLimits& limits = {}) {
  std::vector<std::string_view> views;
  std::string scratch;
  Parsed p;
  p.result = parse_command(in, limits, views, scratch);
  for (auto v : views) p.args.emplace_back(v);
  return p;
}

// Parses a whole stream, returning each command (kSkip frames leave no trace) and the error
// text, if any.
struct Stream {
  std::vector<Args> commands;
  std::string error;
  std::size_t consumed = 0;
};

Stream parse_all(std::string_view in, const ReaderLimits& limits = {}) {
  Stream s;
  std::vector<std::string_view> views;
  std::string scratch;
  while (true) {
    const ParseResult r = parse_command(in.substr(s.consumed), limits, views, scratch);
    if (r.status == ParseStatus::kNeedMore) {
      BOOST_REQUIRE_EQUAL(r.consumed, 0u);
      break;
    }
    if (r.status == ParseStatus::kError) {
      s.error = error_text(r);
      break;
    }
    BOOST_REQUIRE_GT(r.consumed, 0u);
    s.consumed += r.consumed;
    if (r.status == ParseStatus::kCommand) {
      Args a;
      for (auto v : views) a.emplace_back(v);
      s.commands.push_back(std::move(a));
    }
  }
  return s;
}

// Feeds `in` as a client would: bytes arrive in two pieces split at `split`; the server keeps
// unconsumed bytes and appends the rest.
Stream parse_split(std::string_view in, std::size_t split, const ReaderLimits& limits = {}) {
  Stream s;
  std::string buffer(in.substr(0, split));
  std::vector<std::string_view> views;
  std::string scratch;
  bool fed_all = false;
  while (true) {
    const ParseResult r = parse_command(buffer, limits, views, scratch);
    if (r.status == ParseStatus::kNeedMore) {
      if (fed_all) break;
      buffer.append(in.substr(split));
      fed_all = true;
      continue;
    }
    if (r.status == ParseStatus::kError) {
      s.error = error_text(r);
      break;
    }
    if (r.status == ParseStatus::kCommand) {
      Args a;
      for (auto v : views) a.emplace_back(v);
      s.commands.push_back(std::move(a));
    }
    s.consumed += r.consumed;
    buffer.erase(0, r.consumed);
  }
  return s;
}

// Feeds `in` `chunk` bytes at a time into one buffer with one cursor, as the server does: each
// call sees the unconsumed bytes with the new ones appended. `cursor.scanned` counts the work.
Stream parse_trickle(std::string_view in, std::size_t chunk, ParseCursor& cursor,
                     const ReaderLimits& limits = {}) {
  Stream s;
  std::string buffer;
  std::vector<std::string_view> views;
  std::string scratch;
  std::size_t fed = 0;
  while (true) {
    const ParseResult r = parse_command(buffer, limits, views, scratch, &cursor);
    if (r.status == ParseStatus::kNeedMore) {
      BOOST_REQUIRE_EQUAL(r.consumed, 0u);
      if (fed == in.size()) break;
      const std::size_t n = std::min(chunk, in.size() - fed);
      buffer.append(in.substr(fed, n));
      fed += n;
      continue;
    }
    if (r.status == ParseStatus::kError) {
      s.error = error_text(r);
      break;
    }
    if (r.status == ParseStatus::kCommand) {
      Args a;
      for (auto v : views) a.emplace_back(v);
      s.commands.push_back(std::move(a));
    }
    s.consumed += r.consumed;
    buffer.erase(0, r.consumed);
  }
  return s;
}

// A readable rendering of commands, so that mismatches print (Boost cannot print nested
// containers).
std::string show(const std::vector<Args>& commands) {
  std::string out;
  for (const auto& c : commands) {
    out += "[";
    for (const auto& a : c) out += "'" + a + "' ";
    out += "] ";
  }
  return out;
}

std::string multibulk(const Args& args) {
  std::string out;
  semlock::resp::Writer w(out, 2);
  w.array(args.size());
  for (const auto& a : args) w.bulk(a);
  return out;
}

void check_error(std::string_view in, ProtocolError e, std::string_view text,
                 const ReaderLimits& limits = {}) {
  const Parsed p = parse(in, limits);
  BOOST_TEST_CONTEXT("input: " << in) {
    BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kError));
    BOOST_TEST(static_cast<int>(p.result.error) == static_cast<int>(e));
    BOOST_TEST(error_text(p.result) == text);
    BOOST_TEST(p.args.empty());
  }
}

void check_need_more(std::string_view in, const ReaderLimits& limits = {}) {
  const Parsed p = parse(in, limits);
  BOOST_TEST_CONTEXT("input size " << in.size()) {
    BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kNeedMore));
    BOOST_TEST(p.result.consumed == 0u);
    BOOST_TEST(p.args.empty());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_reader)

BOOST_AUTO_TEST_CASE(multibulk_command_is_parsed_zero_copy) {
  const std::string in = "*3\r\n$15\r\nSEMLOCK.ACQUIRE\r\n$3\r\nkey\r\n$5\r\n30000\r\n";
  std::vector<std::string_view> args;
  std::string scratch;
  const ParseResult r = parse_command(in, {}, args, scratch);
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(ParseStatus::kCommand));
  BOOST_TEST(r.consumed == in.size());
  BOOST_REQUIRE_EQUAL(args.size(), 3u);
  BOOST_TEST(args[0] == "SEMLOCK.ACQUIRE");
  BOOST_TEST(args[1] == "key");
  BOOST_TEST(args[2] == "30000");
  BOOST_TEST(args[1].data() == in.data() + 30);
}

BOOST_AUTO_TEST_CASE(only_the_first_command_is_consumed) {
  const std::string one = "*1\r\n$4\r\nPING\r\n";
  const Parsed p = parse(one + one);
  BOOST_TEST(p.result.consumed == one.size());
  BOOST_TEST(p.args == Args{"PING"});
}

BOOST_AUTO_TEST_CASE(binary_safe_bulk_arguments) {
  const Args args{"SET", std::string("a\0b\r\nc\r", 7), "", std::string(1, '\0')};
  const Parsed p = parse(multibulk(args));
  BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kCommand));
  BOOST_TEST(p.args == args);
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_valid_frame_needs_more) {
  const std::vector<std::string> frames = {
      multibulk({"SEMLOCK.ACQUIRE", "key", "30000", "OWNER", "me"}),
      multibulk({"", std::string(300, 'x'), std::string("\r\n\0", 3)}),
      "PING\r\n",
      "SET \"a b\" 'c d' \"\\x41\\n\"\r\n",
      "GET key\n",
  };
  for (const auto& frame : frames) {
    for (std::size_t n = 0; n < frame.size(); ++n) check_need_more(frame.substr(0, n));
    const Parsed whole = parse(frame);
    BOOST_TEST(static_cast<int>(whole.result.status) == static_cast<int>(ParseStatus::kCommand));
    BOOST_TEST(whole.result.consumed == frame.size());
  }
}

BOOST_AUTO_TEST_CASE(every_split_of_a_pipeline_gives_the_same_commands) {
  const std::string stream = multibulk({"SEMLOCK.ACQUIRE", "k1", "30000"}) + "\r\n" + "PING\r\n" +
                             "*0\r\n" + "*-1\r\n" + multibulk({"ECHO", std::string("x\r\ny", 4)}) +
                             "ECHO \"quoted \\\"arg\\\"\"\n" + multibulk({"SEMLOCK.RELEASE", "k1"});
  const Stream whole = parse_all(stream);
  BOOST_TEST(whole.error.empty());
  BOOST_TEST(whole.consumed == stream.size());
  const std::vector<Args> expected = {{"SEMLOCK.ACQUIRE", "k1", "30000"},
                                      {"PING"},
                                      {"ECHO", std::string("x\r\ny", 4)},
                                      {"ECHO", "quoted \"arg\""},
                                      {"SEMLOCK.RELEASE", "k1"}};
  BOOST_TEST(show(whole.commands) == show(expected));
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    const Stream s = parse_split(stream, split);
    BOOST_TEST_CONTEXT("split at " << split) {
      BOOST_TEST(show(s.commands) == show(expected));
      BOOST_TEST(s.consumed == stream.size());
    }
  }
}

BOOST_AUTO_TEST_CASE(every_chunk_size_with_a_cursor_gives_the_same_commands_and_errors) {
  const std::vector<std::string> streams = {
      multibulk({"SEMLOCK.ACQUIRE", "k1", "30000"}) + "\r\n" + "PING\r\n" + "*0\r\n" + "*-1\r\n" +
          multibulk({"ECHO", std::string("x\r\ny", 4)}) + "ECHO \"quoted \\\"arg\\\"\"\n" +
          multibulk({"", std::string(300, 'x'), std::string("\r\n\0", 3)}) +
          multibulk({"SEMLOCK.RELEASE", "k1"}),
      multibulk({"PING"}) + "*2\r\n$3\r\nGET\r\n$-1\r\n",  // invalid bulk length
      multibulk({"PING"}) + "*3\r\n$3\r\nGET\r\nfoo\r\n",  // expected '$'
      "PING\r\n*1\r\n$" + std::string(70000, '1'),         // too big bulk count string
      "PING\r\n" + std::string(70000, 'a'),                // too big inline request
      "*" + std::string(70000, '1'),                       // too big mbulk count string
      "ECHO \"abc\r\n",                                    // unbalanced quotes
  };
  for (const auto& stream : streams) {
    const Stream whole = parse_all(stream);
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                                    std::size_t{64}, stream.size()}) {
      ParseCursor cursor;
      const Stream s = parse_trickle(stream, chunk, cursor);
      BOOST_TEST_CONTEXT("stream " << stream.substr(0, 40) << " chunk " << chunk) {
        BOOST_TEST(show(s.commands) == show(whole.commands));
        BOOST_TEST(s.error == whole.error);
        BOOST_TEST(s.consumed == whole.consumed);
      }
    }
  }
}

// Regression: an unfinished "*1000000" frame was re-scanned from its start on every read, so a
// client trickling it made the server do O(n^2) work (4 such clients took a core).
BOOST_AUTO_TEST_CASE(trickled_million_argument_multibulk_costs_linear_work) {
  constexpr std::size_t kArgs = 1000000;
  std::string frame = "*" + std::to_string(kArgs) + "\r\n";
  frame.reserve(frame.size() + kArgs * 7);
  for (std::size_t i = 0; i < kArgs; ++i) frame += "$1\r\nx\r\n";
  ReaderLimits limits;
  limits.max_args = kArgs;
  ParseCursor cursor;
  const Stream s = parse_trickle(frame, 5, cursor, limits);  // 5: splits every header somewhere
  BOOST_REQUIRE_EQUAL(s.commands.size(), 1u);
  BOOST_TEST(s.commands[0].size() == kArgs);
  BOOST_TEST(s.consumed == frame.size());
  // Every byte is examined a bounded number of times: once while trickling, once to collect.
  BOOST_TEST(cursor.scanned <= 3 * frame.size(),
             cursor.scanned << " bytes scanned for " << frame.size() << " received");
}

BOOST_AUTO_TEST_CASE(trickled_long_lines_cost_linear_work) {
  ReaderLimits limits;
  const std::string inline_line = "ECHO " + std::string(60000, 'a') + "\r\n";
  const std::string long_header = "*1\r\n$" + std::string(60000, '0') + "\r\n";  // refused at CR
  for (const auto& in : {inline_line, long_header}) {
    ParseCursor cursor;
    parse_trickle(in, 1, cursor, limits);
    BOOST_TEST(cursor.scanned <= 2 * in.size(), cursor.scanned << " for " << in.size());
  }
}

BOOST_AUTO_TEST_CASE(writer_to_reader_round_trip) {
  std::vector<Args> cases = {{"A"}, {"SEMLOCK.ACQUIRE", "key", "1", "WAIT", "100", "SESSION"}};
  Args all_bytes;
  for (int c = 0; c < 256; ++c)
    all_bytes.emplace_back(std::string(static_cast<std::size_t>(c), static_cast<char>(c)));
  cases.push_back(all_bytes);
  for (const auto& args : cases) {
    const std::string frame = multibulk(args);
    const Parsed p = parse(frame);
    BOOST_TEST(p.result.consumed == frame.size());
    BOOST_TEST(p.args == args, boost::test_tools::per_element());
  }
}

// --- Redis tests/unit/protocol.tcl -------------------------------------------------------

BOOST_AUTO_TEST_CASE(empty_query_is_skipped) {
  const Parsed p = parse("\r\n");
  BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kSkip));
  BOOST_TEST(p.result.consumed == 2u);
  const Stream s = parse_all("\r\n*1\r\n$4\r\nPING\r\n");
  BOOST_TEST(show(s.commands) == show({{"PING"}}));
}

BOOST_AUTO_TEST_CASE(negative_multibulk_length_is_skipped) {
  const Parsed p = parse("*-10\r\n");
  BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kSkip));
  BOOST_TEST(p.result.consumed == 6u);
  const Parsed zero = parse("*0\r\n*1");
  BOOST_TEST(static_cast<int>(zero.result.status) == static_cast<int>(ParseStatus::kSkip));
  BOOST_TEST(zero.result.consumed == 4u);
}

BOOST_AUTO_TEST_CASE(out_of_range_multibulk_length) {
  check_error("*20000000\r\n", ProtocolError::kInvalidMultibulkLength,
              "Protocol error: invalid multibulk length");
  check_error("*9223372036854775808\r\n", ProtocolError::kInvalidMultibulkLength,
              "Protocol error: invalid multibulk length");
}

BOOST_AUTO_TEST_CASE(non_number_multibulk_length) {
  for (const char* in :
       {"*abc\r\n", "*\r\n", "*1a\r\n", "*01\r\n", "*+1\r\n", "* 1\r\n", "*-0\r\n", "*-\r\n"}) {
    check_error(in, ProtocolError::kInvalidMultibulkLength,
                "Protocol error: invalid multibulk length");
  }
}

BOOST_AUTO_TEST_CASE(wrong_multibulk_payload_header) {
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", ProtocolError::kExpectedDollar,
              "Protocol error: expected '$', got 'f'");
}

BOOST_AUTO_TEST_CASE(negative_multibulk_payload_length) {
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length");
}

BOOST_AUTO_TEST_CASE(out_of_range_multibulk_payload_length) {
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length");
  check_error("*1\r\n$99999999999999999999999\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length");
}

BOOST_AUTO_TEST_CASE(non_number_multibulk_payload_length) {
  check_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length");
  for (const char* in : {"*1\r\n$\r\n", "*1\r\n$01\r\nx\r\n", "*1\r\n$-0\r\n", "*1\r\n$ 1\r\n"}) {
    check_error(in, ProtocolError::kInvalidBulkLength, "Protocol error: invalid bulk length");
  }
}

BOOST_AUTO_TEST_CASE(multibulk_request_not_followed_by_bulk_arguments) {
  check_error("*1\r\nfoo\r\n", ProtocolError::kExpectedDollar,
              "Protocol error: expected '$', got 'f'");
  // Like Redis, the verdict waits for the whole line.
  check_need_more("*1\r\nfoo");
  check_error("*2\r\n$1\r\na\r\n:1\r\n", ProtocolError::kExpectedDollar,
              "Protocol error: expected '$', got ':'");
}

// Protocol desync regression tests: a client that sends garbage without line ends is cut off
// once 64 KB have arrived, whatever the first byte was.
BOOST_AUTO_TEST_CASE(protocol_desync_regressions) {
  std::string payload;
  while (payload.size() <= 64 * 1024) payload += "payload";
  check_need_more(std::string(1, '\0') + "payload");
  check_error(std::string(1, '\0') + payload, ProtocolError::kTooBigInlineRequest,
              "Protocol error: too big inline request");
  check_need_more(std::string("*\0", 2) + "payload");
  check_error(std::string("*\0", 2) + payload, ProtocolError::kTooBigMultibulkCountString,
              "Protocol error: too big mbulk count string");
  check_need_more(std::string("$\0", 2) + "payload");
  check_error(std::string("$\0", 2) + payload, ProtocolError::kTooBigInlineRequest,
              "Protocol error: too big inline request");
  check_need_more(std::string("*1\r\n$\0", 6) + "payload");
  check_error(std::string("*1\r\n$\0", 6) + payload, ProtocolError::kTooBigBulkCountString,
              "Protocol error: too big bulk count string");
}

// --- limits at their boundaries ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(max_args_boundary) {
  ReaderLimits limits;
  limits.max_args = 3;
  const Parsed ok = parse(multibulk({"a", "b", "c"}), limits);
  BOOST_TEST(static_cast<int>(ok.result.status) == static_cast<int>(ParseStatus::kCommand));
  check_error("*4\r\n", ProtocolError::kInvalidMultibulkLength,
              "Protocol error: invalid multibulk length", limits);
  // The default cap is Redis's 1024*1024.
  check_need_more("*1048576\r\n");
  check_error("*1048577\r\n", ProtocolError::kInvalidMultibulkLength,
              "Protocol error: invalid multibulk length");
}

BOOST_AUTO_TEST_CASE(max_bulk_bytes_boundary) {
  ReaderLimits limits;
  limits.max_bulk_bytes = 10;
  const Parsed ok = parse(multibulk({std::string(10, 'x')}), limits);
  BOOST_TEST(static_cast<int>(ok.result.status) == static_cast<int>(ParseStatus::kCommand));
  check_error(multibulk({std::string(11, 'x')}), ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length", limits);
  // Rejected as soon as the length line is seen, before the payload arrives.
  check_error("*1\r\n$11\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length", limits);
}

BOOST_AUTO_TEST_CASE(max_inline_bytes_boundary) {
  ReaderLimits limits;
  limits.max_inline_bytes = 16;
  const std::string line16 = "ECHO " + std::string(11, 'x');
  const Parsed ok = parse(line16 + "\n", limits);
  BOOST_TEST(static_cast<int>(ok.result.status) == static_cast<int>(ParseStatus::kCommand));
  check_need_more(line16, limits);
  check_error(line16 + "x", ProtocolError::kTooBigInlineRequest,
              "Protocol error: too big inline request", limits);
  check_error(line16 + "x\n", ProtocolError::kTooBigInlineRequest,
              "Protocol error: too big inline request", limits);
}

BOOST_AUTO_TEST_CASE(default_inline_limit_is_64k) {
  const std::string line(64 * 1024, 'a');
  const Parsed ok = parse(line + "\n");
  BOOST_TEST(static_cast<int>(ok.result.status) == static_cast<int>(ParseStatus::kCommand));
  check_need_more(line);
  check_error(line + "a", ProtocolError::kTooBigInlineRequest,
              "Protocol error: too big inline request");
}

BOOST_AUTO_TEST_CASE(count_line_limits) {
  // A count line of 64 KB may still be judged on its value; one byte more is too big.
  const std::string count = "*" + std::string(64 * 1024 - 1, '1');
  check_need_more(count);
  check_error(count + "1", ProtocolError::kTooBigMultibulkCountString,
              "Protocol error: too big mbulk count string");
  check_error(count + "\r\n", ProtocolError::kInvalidMultibulkLength,
              "Protocol error: invalid multibulk length");
  const std::string bulk = "*2\r\n$4\r\nECHO\r\n$" + std::string(64 * 1024 - 1, '1');
  check_need_more(bulk);
  check_error(bulk + "1", ProtocolError::kTooBigBulkCountString,
              "Protocol error: too big bulk count string");
  check_error(bulk + "\r\n", ProtocolError::kInvalidBulkLength,
              "Protocol error: invalid bulk length");
  // The cap applies before the '$' is checked.
  check_error("*1\r\n" + std::string(70000, 'X'), ProtocolError::kTooBigBulkCountString,
              "Protocol error: too big bulk count string");
}

BOOST_AUTO_TEST_CASE(bulk_terminator_is_skipped_unchecked_like_redis) {
  const Parsed p = parse("*1\r\n$3\r\nabcXY*1\r\n");
  BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kCommand));
  BOOST_TEST(p.result.consumed == 13u);
  BOOST_TEST(p.args == Args{"abc"});
}

// --- inline commands (sdssplitargs) --------------------------------------------------------

BOOST_AUTO_TEST_CASE(inline_splitting_rules) {
  struct Case {
    std::string line;
    Args args;
  };
  const std::vector<Case> cases = {
      {"GET key", {"GET", "key"}},
      {"  SET\tk   v  ", {"SET", "k", "v"}},
      {"SET \"a b\" 'c d'", {"SET", "a b", "c d"}},
      {"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\z\"", {"ECHO", "\n\r\t\b\a\\\"z"}},
      {"ECHO \"\\x41\\x7a\\xff\"", {"ECHO", "Az\xff"}},
      {"ECHO \"\\xZZ\"", {"ECHO", "xZZ"}},
      {"ECHO 'it\\'s' 'a\\nb'", {"ECHO", "it's", "a\\nb"}},
      {"ECHO \"\" ''", {"ECHO", "", ""}},
      {"ECHO a\"b c\" d", {"ECHO", "ab c", "d"}},
      {"ECHO a\rb", {"ECHO", "a", "b"}},
      {"PING\r", {"PING"}},
      {std::string("PING\0 ignored", 13), {"PING"}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("line: " << c.line) {
      const Parsed p = parse(c.line + "\n");
      BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kCommand));
      BOOST_TEST(p.result.consumed == c.line.size() + 1);
      BOOST_TEST(p.args == c.args, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(inline_blank_lines_are_skipped) {
  for (const char* in : {"\n", "\r\n", "   \r\n", "\t \n"}) {
    const Parsed p = parse(in);
    BOOST_TEST(static_cast<int>(p.result.status) == static_cast<int>(ParseStatus::kSkip));
    BOOST_TEST(p.result.consumed == std::string_view(in).size());
  }
}

BOOST_AUTO_TEST_CASE(inline_unbalanced_quotes) {
  for (const char* in : {"ECHO \"abc\r\n", "ECHO 'abc\n", "ECHO \"a\"b\n", "ECHO 'a'b\n",
                         "ECHO \"abc\\\"\n", "ECHO \"abc\\\n", "ECHO a\"b c\"d\n"}) {
    check_error(in, ProtocolError::kUnbalancedQuotes,
                "Protocol error: unbalanced quotes in request");
  }
}

BOOST_AUTO_TEST_CASE(error_text_of_non_errors_is_empty) {
  BOOST_TEST(error_text(parse("PING\n").result).empty());
  BOOST_TEST(error_text(parse("PI").result).empty());
}

BOOST_AUTO_TEST_SUITE_END()
