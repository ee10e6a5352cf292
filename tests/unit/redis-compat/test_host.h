// The fixture of the redis-compat tests: a deterministic Host (owners "owner-1", "owner-2", ...;
// a settable wall clock; recorded blocks and session grants), a real Engine, and a virtual
// monotonic clock. run({"SEMLOCK.ACQUIRE", "k", "1000"}) returns the exact RESP bytes.
#pragma once

#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "redis-compat/commands.h"
#include "redis-compat/pubsub.h"
#include "redis-compat/watch.h"
#include "redis-compat/scripting.h"

namespace semlock {
// Printers for BOOST_TEST.
inline std::ostream& operator<<(std::ostream& os, EngineStatus s) {
  return os << "EngineStatus(" << static_cast<int>(s) << ")";
}
namespace redis {
inline std::ostream& operator<<(std::ostream& os, Outcome o) {
  return os << "Outcome(" << static_cast<int>(o) << ")";
}
}  // namespace redis
}  // namespace semlock

namespace semlock::test {

class TestHost final : public redis::Host {
 public:
  struct Blocked {
    std::uint64_t tag;
    WaiterId waiter;
    std::string key, owner;
    bool session;
  };
  struct SessionGrant {
    std::string key, owner;
    std::uint64_t fence;
  };

  std::string generate_owner() override { return "owner-" + std::to_string(++owners_); }
  std::uint64_t next_wait_tag() override { return ++tags_; }
  void on_blocked(redis::ClientState&, std::uint64_t tag, WaiterId waiter, std::string_view key,
                  std::string_view owner, bool session, bool = false) override {
    blocked.push_back({tag, waiter, std::string(key), std::string(owner), session});
  }
  void on_notify_acquire(redis::ClientState&, std::string_view key, std::string_view owner,
                         std::uint64_t fence, std::uint64_t wait_tag) override {
    notified.push_back(std::string(key) + " " + std::string(owner) + " " + std::to_string(fence) +
                       " " + std::to_string(wait_tag));
  }
  std::vector<std::string> notified;
  void on_granted_now(redis::ClientState&, std::string_view key, std::string_view owner,
                      std::uint64_t fence, Millis deadline, bool waited) override {
    granted_now.push_back(std::string(key) + " " + std::string(owner) + " " +
                          std::to_string(fence) + " " + std::to_string(deadline) +
                          (waited ? " wait" : ""));
  }
  std::vector<std::string> granted_now;  // "key owner fence deadline[ wait]"
  void on_session_grant(redis::ClientState&, std::string_view key, std::string_view owner,
                        std::uint64_t fence, bool = false) override {
    sessions.push_back({std::string(key), std::string(owner), fence});
  }
  redis::AuthResult check_api_key(std::string_view password) override {
    if (api_keys.empty() && admin_keys.empty()) return redis::AuthResult::kNotConfigured;
    for (const auto& k : admin_keys) {
      if (k == password) return redis::AuthResult::kOkAdmin;
    }
    for (const auto& k : api_keys) {
      if (k == password) return redis::AuthResult::kOk;
    }
    return redis::AuthResult::kWrongPass;
  }
  bool auth_required() const override { return require_auth; }
  bool admin_keys_configured() const override { return !admin_keys.empty(); }
  void on_limit_rejection(EngineStatus status) override { rejections.push_back(status); }
  std::string info(std::string_view section) override {
    return "# Section " + std::string(section) + "\r\nfield:1\r\n";
  }
  std::string client_list() override { return "id=1 name=a\n"; }
  std::string client_info(const redis::ClientState& c) override {
    return "id=" + std::to_string(c.id) + " name=" + c.name + "\n";
  }
  json::StatsView stats_view() override { return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}; }
  std::int64_t unix_time_us() override { return unix_us; }
  redis::Scripting& scripting() override {
    if (!scripts) scripts = std::make_unique<redis::Scripting>(script_limits);
    return *scripts;
  }
  void on_script_heap(std::uint64_t bytes) override { script_heap = bytes; }
  redis::PubSub* pubsub() override { return &pubsub_registry; }
  redis::WatchRegistry* watches() override { return &watch_registry; }

  bool require_auth = false;
  std::vector<std::string> api_keys, admin_keys;
  std::int64_t unix_us = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z
  std::vector<Blocked> blocked;
  std::vector<SessionGrant> sessions;
  std::vector<EngineStatus> rejections;
  redis::ScriptLimits script_limits;
  std::unique_ptr<redis::Scripting> scripts;
  std::uint64_t script_heap = 0;
  // PUBLISH copies handed to connections: (client id, bytes).
  std::vector<std::pair<std::uint64_t, std::string>> delivered;
  redis::PubSub pubsub_registry{[this](std::uint64_t id, std::string_view bytes, bool) {
    delivered.emplace_back(id, std::string(bytes));
  }};
  redis::WatchRegistry watch_registry;

 private:
  std::uint64_t owners_ = 0;
  std::uint64_t tags_ = 0;
};

inline EngineLimits test_limits() {
  EngineLimits l;
  l.max_ttl = 3'600'000;  // 1h, so that "no expiry" is visible in PTTL
  l.max_permits = 100;
  l.max_key_bytes = 16;
  return l;
}

struct Fixture {
  Fixture() : engine(test_limits(), 1000) { client.id = 7; }

  // Runs one command on the client; returns the bytes written.
  std::string run(std::vector<std::string> args, bool may_block = true) {
    std::vector<std::string_view> argv(args.begin(), args.end());
    std::string out;
    resp::Writer w(out, client.proto);
    redis::CommandContext ctx{engine, host, client, w, now, may_block};
    last_outcome = redis::execute(ctx, argv);
    return out;
  }
  // Advances the virtual clock (and lets the engine expire what is due).
  void advance(Millis ms) {
    now += ms;
    engine.tick(now);
  }

  TestHost host;
  Engine engine;
  redis::ClientState client;
  Millis now = 1'000'000;
  redis::Outcome last_outcome = redis::Outcome::kDone;
};

}  // namespace semlock::test
