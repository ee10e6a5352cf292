// Fuzzes the RESP reader and writer. Checked properties, beyond "no crash, no UB":
// - progress: a result other than kNeedMore consumes bytes, never more than given;
// - split invariance: feeding the same bytes in two pieces gives the same commands and error;
// - round trip: each parsed command, re-encoded as multibulk, parses back to the same args;
// - resumption: feeding the bytes a few at a time through one ParseCursor (as the server does)
//   gives the same commands and error as parsing them whole.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/resp_reader.h"
#include "protocol/resp_writer.h"

namespace {

using semlock::resp::ParseResult;
using semlock::resp::ParseStatus;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  std::string error;
};

void require(bool ok) {
  if (!ok) std::abort();
}

Outcome run(std::string_view data, std::size_t split, const semlock::resp::ReaderLimits& limits) {
  Outcome o;
  std::string buffer(data.substr(0, split));
  bool fed_all = split >= data.size();
  std::vector<std::string_view> args;
  std::string scratch;
  while (true) {
    const ParseResult r = semlock::resp::parse_command(buffer, limits, args, scratch);
    if (r.status == ParseStatus::kNeedMore) {
      require(r.consumed == 0 && args.empty());
      if (fed_all) break;
      buffer.append(data.substr(split));
      fed_all = true;
      continue;
    }
    if (r.status == ParseStatus::kError) {
      o.error = semlock::resp::error_text(r);
      require(!o.error.empty());
      break;
    }
    require(r.consumed > 0 && r.consumed <= buffer.size());
    if (r.status == ParseStatus::kCommand) {
      require(!args.empty());
      std::vector<std::string> cmd(args.begin(), args.end());
      // Round trip through the writer.
      std::string frame;
      semlock::resp::Writer w(frame, 2);
      w.array(cmd.size());
      for (const auto& a : cmd) w.bulk(a);
      std::vector<std::string_view> again;
      std::string scratch2;
      semlock::resp::ReaderLimits unlimited;
      unlimited.max_bulk_bytes = frame.size();
      unlimited.max_args = cmd.size();
      const ParseResult r2 = semlock::resp::parse_command(frame, unlimited, again, scratch2);
      require(r2.status == ParseStatus::kCommand && r2.consumed == frame.size());
      require(std::vector<std::string>(again.begin(), again.end()) == cmd);
      o.commands.push_back(std::move(cmd));
    } else {
      require(args.empty());
    }
    buffer.erase(0, r.consumed);
  }
  return o;
}

Outcome run_trickle(std::string_view data, std::size_t chunk,
                    const semlock::resp::ReaderLimits& limits) {
  Outcome o;
  std::string buffer;
  std::size_t fed = 0;
  std::vector<std::string_view> args;
  std::string scratch;
  semlock::resp::ParseCursor cursor;
  while (true) {
    const ParseResult r = semlock::resp::parse_command(buffer, limits, args, scratch, &cursor);
    if (r.status == ParseStatus::kNeedMore) {
      require(r.consumed == 0 && args.empty());
      if (fed == data.size()) break;
      const std::size_t n = std::min(chunk, data.size() - fed);
      buffer.append(data.substr(fed, n));
      fed += n;
      continue;
    }
    if (r.status == ParseStatus::kError) {
      o.error = semlock::resp::error_text(r);
      break;
    }
    require(r.consumed > 0 && r.consumed <= buffer.size());
    if (r.status == ParseStatus::kCommand) o.commands.emplace_back(args.begin(), args.end());
    buffer.erase(0, r.consumed);
  }
  // Each byte is looked at a bounded number of times, however it was split.
  require(cursor.scanned <= 4 * data.size() + 64);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks small limits (so that limit paths are reachable) and a split point.
  semlock::resp::ReaderLimits limits;
  limits.max_args = 1 + (data[0] & 0x0f);
  limits.max_bulk_bytes = 1 + ((data[0] >> 4) & 0x0f) * 16;
  limits.max_inline_bytes = 64 + (data[0] & 0x30) * 4;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = run(in, in.size(), limits);
  const Outcome split = run(in, in.size() / 2 + (data[0] % 7), limits);
  require(whole.commands == split.commands);
  require(whole.error == split.error);
  const Outcome trickled = run_trickle(in, 1 + (data[0] % 5), limits);
  require(whole.commands == trickled.commands);
  require(whole.error == trickled.error);
  return 0;
}
