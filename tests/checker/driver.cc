#include "tests/checker/driver.h"

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "tests/checker/wire.h"
#include "tests/checker/worker.h"
#include "tests/integration/clients.h"

namespace semlock::checker {
namespace {

// Samples SEMLOCK.INFO on random keys: the waiter counts feed the FIFO check.
void observe(const DriverOptions& opt, DriverControl& ctl, Shard& shard) {
  std::mt19937_64 rng(opt.seed ^ 0x5eed);
  std::unique_ptr<it::RawClient> raw;
  while (!ctl.stop.load()) {
    if (!raw) {
      while (ctl.paused.load() && !ctl.stop.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      try {
        raw = std::make_unique<it::RawClient>(opt.port);
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
    }
    Info info;
    info.key = static_cast<int>(rng() % opt.keys.size());
    info.send = steady_now();
    try {
      raw->send(
          it::resp_command({"SEMLOCK.INFO", opt.keys[static_cast<std::size_t>(info.key)].name}));
    } catch (const std::exception&) {
      raw.reset();
      continue;
    }
    std::optional<it::RespValue> v;
    raw->read_until(
        [&](std::string_view buf) {
          std::size_t used = 0;
          v = it::parse_resp(buf, used);
          if (v) raw->buffer().erase(0, used);
          return v.has_value();
        },
        it::Ms{3000});
    if (!v) {
      raw.reset();
      continue;
    }
    info.recv = steady_now();
    fill_info(info, *v);
    shard.infos.push_back(std::move(info));
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 3000));
  }
}

}  // namespace

Nanos steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<Shard> drive(const DriverOptions& options, DriverControl& control) {
  std::vector<Shard> shards(static_cast<std::size_t>(options.workers) + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.workers; ++i) {
    threads.emplace_back([&, i] {
      detail::Worker w(options, control, shards[static_cast<std::size_t>(i)], i);
      w.run();
    });
  }
  threads.emplace_back([&] { observe(options, control, shards.back()); });
  for (auto& t : threads) t.join();
  return shards;
}

void merge(std::vector<Shard>& shards, Run& run) {
  for (auto& s : shards) {
    int op_base = static_cast<int>(run.ops.size());
    int conn_base = static_cast<int>(run.conns.size());
    for (auto& op : s.ops) {
      op.conn += conn_base;
      if (op.grant >= 0) op.grant += op_base;
      run.ops.push_back(std::move(op));
    }
    for (auto& c : s.conns) run.conns.push_back(c);
    for (auto& i : s.infos) run.infos.push_back(std::move(i));
    for (auto& m : s.multi) run.multi.push_back(std::move(m));
  }
}

}  // namespace semlock::checker
