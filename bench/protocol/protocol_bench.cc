// Parse rate of the protocol codecs on one core: pipelined small RESP commands, the same
// commands inline, and JSON lines (framing + decode). Reports commands/s and bytes/s.
//   build-protocol-rel/bench/protocol/protocol_bench

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/json_codec.h"
#include "protocol/resp_reader.h"
#include "protocol/resp_writer.h"

namespace {

constexpr int kPipeline = 1000;

std::string resp_pipeline() {
  std::string out;
  semlock::resp::Writer w(out, 2);
  for (int i = 0; i < kPipeline; ++i) {
    w.array(3);
    w.bulk("SEMLOCK.ACQUIRE");
    w.bulk("key:" + std::to_string(i % 100));
    w.bulk("30000");
  }
  return out;
}

void run_resp(benchmark::State& state, const std::string& stream) {
  const semlock::resp::ReaderLimits limits;
  std::vector<std::string_view> args;
  std::string scratch;
  std::int64_t commands = 0;
  for (auto _ : state) {
    std::string_view in = stream;
    while (!in.empty()) {
      const auto r = semlock::resp::parse_command(in, limits, args, scratch);
      if (r.status != semlock::resp::ParseStatus::kCommand) {
        state.SkipWithError("unexpected parse result");
        return;
      }
      benchmark::DoNotOptimize(args.data());
      in.remove_prefix(r.consumed);
      ++commands;
    }
  }
  state.SetItemsProcessed(commands);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(stream.size()));
}

void BM_RespMultibulkPipeline(benchmark::State& state) {
  run_resp(state, resp_pipeline());
}
BENCHMARK(BM_RespMultibulkPipeline);

void BM_RespInlinePipeline(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < kPipeline; ++i) {
    stream += "SEMLOCK.ACQUIRE key:" + std::to_string(i % 100) + " 30000\r\n";
  }
  run_resp(state, stream);
}
BENCHMARK(BM_RespInlinePipeline);

void BM_JsonLines(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < kPipeline; ++i) {
    stream += R"({"action":"acquire","key":"key:)" + std::to_string(i % 100) +
              R"(","ttl":30,"owner":"worker-7","id":)" + std::to_string(i) + "}\n";
  }
  std::int64_t commands = 0;
  for (auto _ : state) {
    std::string_view in = stream;
    while (!in.empty()) {
      const auto line = semlock::json::next_line(in, 1024 * 1024);
      auto req = semlock::json::decode_request(line.line);
      if (!std::holds_alternative<semlock::json::Request>(req)) {
        state.SkipWithError("decode failed");
        return;
      }
      benchmark::DoNotOptimize(req);
      in.remove_prefix(line.consumed);
      ++commands;
    }
  }
  state.SetItemsProcessed(commands);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_JsonLines);

void BM_RespWriterAcquireReply(benchmark::State& state) {
  std::string out;
  out.reserve(1 << 20);
  std::int64_t replies = 0;
  for (auto _ : state) {
    out.clear();
    semlock::resp::Writer w(out, 2);
    for (int i = 0; i < kPipeline; ++i) {
      w.array(2);
      w.bulk("0123456789abcdef0123456789abcdef");
      w.integer(1732700000000000 + i);
    }
    benchmark::DoNotOptimize(out.data());
    replies += kPipeline;
  }
  state.SetItemsProcessed(replies);
}
BENCHMARK(BM_RespWriterAcquireReply);

void BM_JsonWriterAcquired(benchmark::State& state) {
  std::string out;
  out.reserve(1 << 20);
  std::int64_t replies = 0;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < kPipeline; ++i) {
      semlock::json::write_acquired(out, "17", "key:1", "worker-7", 1732700000000000 + i, 30000);
    }
    benchmark::DoNotOptimize(out.data());
    replies += kPipeline;
  }
  state.SetItemsProcessed(replies);
}
BENCHMARK(BM_JsonWriterAcquired);

}  // namespace

BENCHMARK_MAIN();
