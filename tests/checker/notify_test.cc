// The lost-lock notice invariant (notify_analysis.h): first on hand-made histories (each kind of
// violation is found), then on a randomized run of the real binary: NOTIFY and plain holders on
// RESP2 and RESP3 connections with short TTLs, owner releases, extends, force releases, DEL and
// SET by other owners, while a PSUBSCRIBE listener, a JSON watch of every key and the RESP3
// connections themselves record every notice.
#define BOOST_TEST_MODULE checker_notify
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tests/checker/notify_analysis.h"
#include "tests/integration/clients.h"
#include "tests/integration/server_fixture.h"

using namespace semlock::checker;
using semlock::it::JsonClient;
using semlock::it::RespConn;
using semlock::it::RespValue;

namespace {

constexpr NotifyNanos kMs = 1'000'000;

NotifyHistory one_lost_holder() {
  NotifyHistory h;
  NotifyGrant g;
  g.key = "k";
  g.owner = "o";
  g.fence = 7;
  g.notify = true;
  g.resp3 = true;
  g.conn = 2;
  g.send = 0;
  g.recv = 1 * kMs;
  g.ttl_ms = 100;
  g.told_deadline = 101 * kMs;
  g.min_deadline = 100 * kMs;
  h.grants.push_back(g);
  for (const auto src : {Notice::Source::kChannel, Notice::Source::kWatch, Notice::Source::kPush}) {
    h.notices.push_back(Notice{src, 2, "k", "o", "expired", 7, 110 * kMs});
  }
  return h;
}

bool has(const std::vector<std::string>& v, std::string_view needle) {
  for (const auto& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

NotifyNanos now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_push(const RespValue& v) {
  return v.type == RespValue::Type::kArray && v.elements.size() == 5 &&
         v.elements[0].str == "semlock-lost";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(analysis)

BOOST_AUTO_TEST_CASE(a_clean_history_passes) {
  BOOST_TEST(check_notices(one_lost_holder(), 50).empty());
}

BOOST_AUTO_TEST_CASE(each_violation_is_named) {
  auto h = one_lost_holder();
  h.notices.push_back(h.notices[0]);  // twice on the channel
  BOOST_TEST(has(check_notices(h, 50), "more than one notice"));

  h = one_lost_holder();
  h.notices.erase(h.notices.begin() + 1);  // the watch never heard
  BOOST_TEST(has(check_notices(h, 50), "no watch notice"));

  h = one_lost_holder();
  h.notices[2].conn = 3;
  BOOST_TEST(has(check_notices(h, 50), "another connection"));

  h = one_lost_holder();
  h.notices[0].fence = 8;
  BOOST_TEST(has(check_notices(h, 50), "no grant has this fence"));
  BOOST_TEST(has(check_notices(h, 50), "no channel notice"));

  h = one_lost_holder();
  h.grants[0].released_by_owner = true;
  BOOST_TEST(has(check_notices(h, 50), "its owner released it"));

  h = one_lost_holder();
  h.grants[0].notify = false;
  BOOST_TEST(has(check_notices(h, 50), "not acquired with NOTIFY"));

  h = one_lost_holder();
  h.notices[0].recv = 90 * kMs;
  BOOST_TEST(has(check_notices(h, 50), "before the TTL had passed"));
  h.notices[0].recv = 400 * kMs;
  BOOST_TEST(has(check_notices(h, 50), "after the deadline"));

  h = one_lost_holder();
  for (auto& n : h.notices) n.reason = "forced";
  BOOST_TEST(has(check_notices(h, 50), "no force release"));
  h.forces.push_back({"k", 50 * kMs});
  BOOST_TEST(check_notices(h, 50).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(live)

BOOST_AUTO_TEST_CASE(randomized_run_keeps_the_invariant) {
  namespace t = semlock::it;
  const char* seed_env = std::getenv("NOTIFY_CHECKER_SEED");
  const unsigned seed = seed_env ? static_cast<unsigned>(std::atoi(seed_env)) : std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937 rng(seed);
  t::Server server(t::ServerOptions{}.with_config(R"("limits":{"max_ttl":"1h"})"));
  const std::uint16_t port = server.port();

  NotifyHistory h;
  const std::vector<std::string> keys = {"nc:a", "nc:b", "nc:c", "nc:d", "nc:e", "nc:f"};
  RespConn listener(port);
  BOOST_TEST_REQUIRE(listener.cmd({"PSUBSCRIBE", "__semlock__:lost:*"}).elements.size() == 3u);
  JsonClient watch(port);
  {
    std::string line = R"({"action":"watch","keys":[)";
    for (std::size_t i = 0; i < keys.size(); ++i) line += (i ? ",\"" : "\"") + keys[i] + "\"";
    line += "]}";
    BOOST_TEST_REQUIRE(watch.request(line).find("\"watching\"") != std::string::npos);
  }
  constexpr int kWorkers = 6;
  std::vector<std::unique_ptr<RespConn>> conns;
  for (int i = 0; i < kWorkers; ++i) {
    conns.push_back(std::make_unique<RespConn>(port));
    if (i % 2 == 1) conns.back()->cmd({"HELLO", "3"});
  }
  RespConn admin(port);

  // When each listener was last seen with nothing to read (see Notice::absent_at).
  NotifyNanos listener_empty = now_ns(), watch_empty = now_ns();
  std::vector<NotifyNanos> conn_empty(kWorkers, now_ns());
  auto record_push = [&](int conn, const RespValue& v) {
    h.notices.push_back(Notice{Notice::Source::kPush, conn, v.elements[1].str, v.elements[2].str,
                               v.elements[4].str,
                               static_cast<std::uint64_t>(v.elements[3].integer), now_ns(),
                               conn_empty[static_cast<std::size_t>(conn)]});
  };
  // A command's reply on worker `i`; pushes read on the way are recorded.
  auto call = [&](int i, const std::vector<std::string>& args) {
    conns[i]->send(args);
    for (;;) {
      auto v = conns[i]->read();
      BOOST_TEST_REQUIRE(v.has_value());
      if (i % 2 == 1 && is_push(*v)) {
        record_push(i, *v);
        continue;
      }
      return *v;
    }
  };
  auto drain = [&](t::Ms wait) {
    for (;;) {
      const NotifyNanos looked = now_ns();
      auto m = listener.read(wait);
      if (!m) {
        listener_empty = looked;
        break;
      }
      // pmessage, pattern, channel, "semlock-lost <key> <owner> <fence> <reason>"
      const std::string& text = m->elements.at(3).str;
      Notice n;
      n.source = Notice::Source::kChannel;
      n.recv = now_ns();
      n.absent_at = listener_empty;
      const auto r = text.rfind(' ');
      const auto f = text.rfind(' ', r - 1);
      const auto o = text.rfind(' ', f - 1);
      const auto k = text.find(' ');
      n.reason = text.substr(r + 1);
      n.fence = std::stoull(text.substr(f + 1, r - f - 1));
      n.owner = text.substr(o + 1, f - o - 1);
      n.key = text.substr(k + 1, o - k - 1);
      h.notices.push_back(n);
      wait = t::Ms{1};  // a zero timeout would not even poll the socket
    }
    for (;;) {
      const NotifyNanos looked = now_ns();
      auto line = watch.read_line(t::Ms{1});
      if (!line) {
        watch_empty = looked;
        break;
      }
      const auto doc = t::parse_json(*line);
      h.notices.push_back(Notice{Notice::Source::kWatch, 0, t::json_string(doc, "key"),
                                 t::json_string(doc, "owner"), t::json_string(doc, "reason"),
                                 t::json_uint(doc, "fence"), now_ns(), watch_empty});
    }
    for (int i = 1; i < kWorkers; i += 2) {
      for (;;) {
        const NotifyNanos looked = now_ns();
        auto v = conns[i]->read(t::Ms{1});
        if (!v) {
          conn_empty[static_cast<std::size_t>(i)] = looked;
          break;
        }
        if (is_push(*v)) record_push(i, *v);
      }
    }
  };

  std::vector<std::vector<int>> held(kWorkers);  // grant indexes each worker may release
  int serial = 0;
  // 4 s, then on until more than 20 NOTIFY holders were lost (a slow, loaded machine makes
  // fewer operations in 4 s), within 60 s.
  const NotifyNanos end = now_ns() + 4000 * kMs;
  const NotifyNanos hard_end = now_ns() + 60000 * kMs;
  auto lost_so_far = [&] {
    std::size_t n = 0;
    for (const auto& g : h.grants) n += g.notify && !g.released_by_owner ? 1 : 0;
    return n;
  };
  while (now_ns() < end || (now_ns() < hard_end && lost_so_far() <= 20u)) {
    const int i = static_cast<int>(rng() % kWorkers);
    const std::string& key = keys[rng() % keys.size()];
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 55) {
      NotifyGrant g;
      g.key = key;
      g.owner = "w" + std::to_string(i) + "-" + std::to_string(++serial);
      g.notify = dice < 45;
      g.resp3 = i % 2 == 1;
      g.conn = i;
      g.ttl_ms = 20 + static_cast<std::int64_t>(rng() % 200);
      std::vector<std::string> args = {"SEMLOCK.ACQUIRE", key, std::to_string(g.ttl_ms), "OWNER",
                                       g.owner};
      if (key >= "nc:d") {  // d, e, f are semaphores of 2; a, b, c mutexes (SET replaces them)
        args.push_back("LIMIT");
        args.push_back("2");
      }
      if (g.notify) args.push_back("NOTIFY");
      g.send = now_ns();
      const RespValue v = call(i, args);
      g.recv = now_ns();
      if (v.type == RespValue::Type::kArray && v.elements.size() == 2) {
        g.fence = static_cast<std::uint64_t>(v.elements[1].integer);
        g.told_deadline = g.recv + g.ttl_ms * kMs;
        g.min_deadline = g.send + g.ttl_ms * kMs;
        held[i].push_back(static_cast<int>(h.grants.size()));
        h.grants.push_back(g);
      }
    } else if (dice < 75 && !held[i].empty()) {
      const std::size_t pick = rng() % held[i].size();
      NotifyGrant& g = h.grants[held[i][pick]];
      if (dice < 68) {
        const RespValue v = call(i, {"SEMLOCK.RELEASE", g.key, g.owner});
        if (v.integer == 1) g.released_by_owner = true;
        held[i].erase(held[i].begin() + static_cast<std::ptrdiff_t>(pick));
      } else {
        const std::int64_t ttl = 20 + static_cast<std::int64_t>(rng() % 200);
        const NotifyNanos sent = now_ns();
        const RespValue v = call(i, {"SEMLOCK.EXTEND", g.key, g.owner, std::to_string(ttl)});
        if (v.integer == 1) {
          g.told_deadline = now_ns() + ttl * kMs;
          g.min_deadline = sent + ttl * kMs;
        }
      }
    } else if (dice < 80) {
      h.forces.push_back({key, now_ns()});
      admin.cmd({dice < 78 ? "SEMLOCK.FORCERELEASE" : "DEL", key});
    } else if (dice < 82) {
      h.forces.push_back({key, now_ns()});
      // Replaces a mutex's holder (a semaphore answers WRONGTYPE: nothing happens).
      admin.cmd({"SET", key, "setter-" + std::to_string(++serial), "PX", "50"});
    } else {
      semlock::it::sleep_for(t::Ms{static_cast<int>(rng() % 5)});
    }
    drain(t::Ms{1});
  }
  // Every holder's deadline passes, and every notice arrives.
  const NotifyNanos quiet = now_ns() + 1500 * kMs;
  while (now_ns() < quiet) drain(t::Ms{50});

  std::size_t marked = 0, lost = 0;
  for (const auto& g : h.grants) {
    marked += g.notify ? 1 : 0;
    lost += g.notify && !g.released_by_owner ? 1 : 0;
  }
  BOOST_TEST_MESSAGE("grants " << h.grants.size() << ", NOTIFY " << marked << ", lost " << lost
                               << ", notices " << h.notices.size());
  BOOST_TEST(lost > 20u);  // the run exercised the invariant
  // 250 ms past the told deadline: a 10 ms tick plus a loaded CI machine's scheduling.
  const auto bad = check_notices(h, 250);
  for (const auto& b : bad) BOOST_TEST_MESSAGE(b);
  BOOST_TEST(bad.empty(), bad.size() << " violations, seed " << seed);
}

BOOST_AUTO_TEST_SUITE_END()
