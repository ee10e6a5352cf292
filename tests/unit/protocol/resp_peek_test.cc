// peek_key, the server's look-ahead for prefetching (issue 18): whatever it accepts, parse_command
// must parse as one command of the same length with the same second argument; everything else it
// declines (returns 0) without reading more than kPeekMaxArgs headers.
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <vector>

#include "protocol/resp_reader.h"

using namespace semlock::resp;

namespace {

std::string frame(const std::vector<std::string>& args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

// peek_key's promise against the parser's verdict on the same bytes.
void check_against_parser(const std::string& in) {
  std::string_view key;
  const std::size_t end = peek_key(in, 0, key);
  std::vector<std::string_view> args;
  std::string scratch;
  const ParseResult r = parse_command(in, ReaderLimits{}, args, scratch);
  if (end == 0) {
    BOOST_TEST(key.empty());
    return;
  }
  BOOST_TEST_REQUIRE((r.status == ParseStatus::kCommand), "parser disagrees on: " << in);
  BOOST_TEST(r.consumed == end);
  BOOST_TEST(key == (args.size() >= 2 ? args[1] : std::string_view()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp_peek)

BOOST_AUTO_TEST_CASE(walks_a_pipeline_frame_by_frame) {
  const std::string a = frame({"SEMLOCK.ACQUIRE", "job:1", "30000"});
  const std::string b = frame({"PING"});
  const std::string c = frame({"SET", "k\r\n2", "v", "NX", "PX", "100"});
  const std::string in = a + b + c;
  std::string_view key;
  std::size_t pos = peek_key(in, 0, key);
  BOOST_TEST(pos == a.size());
  BOOST_TEST(key == "job:1");
  pos = peek_key(in, pos, key);
  BOOST_TEST(pos == a.size() + b.size());
  BOOST_TEST(key.empty());  // no second argument
  pos = peek_key(in, pos, key);
  BOOST_TEST(pos == in.size());
  BOOST_TEST(key == "k\r\n2");               // binary-safe: the length decides, not the bytes
  BOOST_TEST(peek_key(in, pos, key) == 0u);  // the end
}

BOOST_AUTO_TEST_CASE(declines_what_it_does_not_read_fully) {
  std::string_view key = "stale";
  const std::string whole = frame({"SEMLOCK.ACQUIRE", "job", "30000"});
  for (std::size_t n = 0; n < whole.size(); ++n) {  // every unfinished prefix
    key = "stale";
    BOOST_TEST(peek_key(std::string_view(whole).substr(0, n), 0, key) == 0u);
    BOOST_TEST(key.empty());
  }
  for (const std::string& bad :
       {std::string("PING\r\n"), std::string("*0\r\n"), std::string("*-1\r\n"),
        std::string("*1\r\n$-1\r\n"), std::string("*1\r\n+OK\r\n"),
        std::string("*2\r\n$3\r\nGET\r\n$1\r\nkXX"),  // payload not followed by CRLF
        std::string("*1\r\n$99999999999999999999\r\n"), std::string("*x\r\n"),
        std::string("*1\n$4\r\nPING\r\n")}) {
    key = "stale";
    BOOST_TEST(peek_key(bad, 0, key) == 0u, bad);
    BOOST_TEST(key.empty());
  }
}

BOOST_AUTO_TEST_CASE(reads_at_most_kPeekMaxArgs_headers) {
  std::vector<std::string> args(kPeekMaxArgs, "a");
  std::string_view key;
  BOOST_TEST(peek_key(frame(args), 0, key) != 0u);
  args.push_back("a");
  BOOST_TEST(peek_key(frame(args), 0, key) == 0u);
  // A frame announcing a million arguments, of which a few have arrived: declined at its header,
  // so peeking at it again on every read of its arrival costs nothing more.
  BOOST_TEST(peek_key("*1000000\r\n$3\r\nSET\r\n$1\r\nk\r\n", 0, key) == 0u);
}

BOOST_AUTO_TEST_CASE(agrees_with_the_parser_on_mutated_frames) {
  std::mt19937 rng(20261204);
  const std::vector<std::string> seeds = {
      frame({"SEMLOCK.ACQUIRE", "job:1", "30000", "OWNER", "me"}), frame({"GET", "k"}),
      frame({"PING"}), frame({"SET", "", "v"}), "PING\r\n"};
  const std::string alphabet = "*$\r\n0123456789-abc";
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(at, 1);
          break;
        default:
          s.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    check_against_parser(s);
  }
}

BOOST_AUTO_TEST_SUITE_END()
