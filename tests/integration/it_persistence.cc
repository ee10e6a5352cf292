// Durable locks (SPEC §1, persistence): with fsync=always every acknowledged grant survives a
// kill -9 with its owner, fence and remaining wall-clock TTL; fences after a restart are above
// every earlier one; holders that expired while the server was down, SESSION holders and
// released ones are not back; a damaged journal refuses to start unless --repair-journal; a full
// disk rejects acquires with the persistence error while releases and reads keep working.
#define BOOST_TEST_MODULE it_persistence
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;
using Clock = std::chrono::steady_clock;

namespace {

ServerOptions persistent(const std::string& dir, const std::string& fsync,
                         std::vector<std::string> args = {}) {
  ServerOptions o;
  o.with_config(R"("persistence":{"enabled":true,"dir":")" + dir + R"(","fsync":")" + fsync +
                R"("})");
  o.with_args(std::move(args));
  return o;
}

struct Acked {
  std::string key;
  std::string owner;
  long long fence = 0;
  long long ttl = 0;
  Clock::time_point at;  // when the acknowledgement arrived
};

// SEMLOCK.INFO of a mutex key: (owner, fence, ttl-ms) of its holder, or nothing.
std::optional<std::tuple<std::string, long long, long long>> holder_of(Hiredis& h,
                                                                       const std::string& key) {
  Reply r = h.cmd({"SEMLOCK.INFO", key});
  if (!r || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    if (reply_str(r->element[i]) != "holders") continue;
    const redisReply* hs = r->element[i + 1];
    if (hs->elements == 0) return std::nullopt;
    const redisReply* one = hs->element[0];
    return std::make_tuple(reply_str(one->element[0]), one->element[1]->integer,
                           one->element[2]->integer);
  }
  return std::nullopt;
}

long long acquire_fence(Hiredis& h, const std::string& key, const std::string& ttl) {
  Reply r = h.cmd({"SEMLOCK.ACQUIRE", key, ttl});
  BOOST_TEST_REQUIRE(r->type == REDIS_REPLY_ARRAY);
  return r->element[1]->integer;
}

}  // namespace

BOOST_AUTO_TEST_CASE(always_survives_kill_9_with_owner_fence_and_remaining_ttl) {
  const std::string dir = make_temp_dir();
  std::vector<Acked> acked;
  long long max_fence_before = 0;
  std::string session_key = "session-lock";
  {
    Server s(persistent(dir, "always"));
    Hiredis h(s.port());
    // Gone after the restart: released, expired during the downtime, SESSION.
    acquire_fence(h, "released", "60000");
    BOOST_TEST(h.cmd({"SEMLOCK.RELEASE", "released", "x"})->integer == 0);
    Reply rel = h.cmd({"SEMLOCK.ACQUIRE", "released2", "60000", "OWNER", "r"});
    BOOST_TEST(h.cmd({"SEMLOCK.RELEASE", "released2", "r"})->integer == 1);
    acquire_fence(h, "short", "700");
    Reply sess = h.cmd({"SEMLOCK.ACQUIRE", session_key, "60000", "SESSION"});
    BOOST_TEST_REQUIRE(sess->type == REDIS_REPLY_ARRAY);
    // A semaphore with two holders, and a refreshed one.
    BOOST_TEST(h.cmd({"SEMLOCK.ACQUIRE", "sem", "60000", "LIMIT", "2", "OWNER", "s1"})->type ==
               REDIS_REPLY_ARRAY);
    BOOST_TEST(h.cmd({"SEMLOCK.ACQUIRE", "sem", "60000", "LIMIT", "2", "OWNER", "s2"})->type ==
               REDIS_REPLY_ARRAY);

    // A client acquiring in a loop while the server is killed under it.
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::thread client([&] {
      try {
        Hiredis c(s.port());
        for (int i = 0; !stop; ++i) {
          const std::string key = "loop:" + std::to_string(i);
          Reply r = c.cmd({"SEMLOCK.ACQUIRE", key, "60000"});
          if (!r || r->type != REDIS_REPLY_ARRAY) break;
          std::lock_guard<std::mutex> lock(mu);
          acked.push_back(
              Acked{key, reply_str(r->element[0]), r->element[1]->integer, 60000, Clock::now()});
        }
      } catch (const std::exception&) {
        // The connection died with the server: what was acknowledged is in `acked`.
      }
    });
    BOOST_TEST(eventually([&] {
      std::lock_guard<std::mutex> lock(mu);
      return acked.size() >= 200;
    }));
    ::kill(s.pid(), SIGKILL);
    client.join();
    BOOST_TEST(s.terminate() == 128 + SIGKILL);
    for (const Acked& a : acked) max_fence_before = std::max(max_fence_before, a.fence);
    BOOST_TEST_MESSAGE("acknowledged before kill -9: " << acked.size());
  }
  sleep_for(Ms{800});  // "short" (700 ms) expires while the server is down
  const auto restarted = Clock::now();
  Server s2(persistent(dir, "always"));
  BOOST_TEST(s2.wait_for_log("restored_holders="));
  Hiredis h(s2.port());
  for (const Acked& a : acked) {
    const auto holder = holder_of(h, a.key);
    BOOST_TEST_REQUIRE(holder.has_value(), a.key << " lost");
    BOOST_TEST(std::get<0>(*holder) == a.owner);
    BOOST_TEST(std::get<1>(*holder) == a.fence);
    // The downtime counted against the TTL: remaining <= TTL - (time since the ack).
    const auto since_ack = std::chrono::duration_cast<Ms>(restarted - a.at).count();
    BOOST_TEST(std::get<2>(*holder) <= a.ttl - since_ack + 5);
    BOOST_TEST(std::get<2>(*holder) > a.ttl - since_ack - 5000);
  }
  BOOST_TEST(!holder_of(h, "short").has_value());
  BOOST_TEST(!holder_of(h, "released2").has_value());
  BOOST_TEST(!holder_of(h, session_key).has_value());
  Reply sem = h.cmd({"SEMLOCK.INFO", "sem"});
  BOOST_TEST_REQUIRE(sem->type == REDIS_REPLY_ARRAY);
  BOOST_TEST(sem->element[1]->integer == 2);    // limit
  BOOST_TEST(sem->element[3]->elements == 2u);  // holders
  // Every fence after the restart is above every fence before it.
  BOOST_TEST(acquire_fence(h, "after-restart", "60000") > max_fence_before);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_damaged_journal_refuses_to_start_unless_repaired) {
  const std::string dir = make_temp_dir();
  {
    Server s(persistent(dir, "always"));
    Hiredis h(s.port());
    for (int i = 0; i < 5; ++i) acquire_fence(h, "k" + std::to_string(i), "60000");
  }
  std::string journal = read_file(dir + "/journal.log");
  BOOST_TEST_REQUIRE(journal.size() > 100u);
  journal[30] = static_cast<char>(journal[30] ^ 0x55);  // inside an early record
  write_file(dir + "/journal.log", journal);
  const RunResult r =
      run_binary({"--port", std::to_string(free_port()), "--metrics-port",
                  std::to_string(free_port()), "--persistence", "true", "--persistence-dir", dir});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("Journal is damaged") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(dir + "/journal.log at offset ") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("--repair-journal") != std::string::npos, r.err);
  Server repaired(persistent(dir, "always", {"--repair-journal"}));
  BOOST_TEST(repaired.wait_for_log("Journal repaired (--repair-journal)"));
  Hiredis h(repaired.port());
  BOOST_TEST(h.cmd({"PING"})->type == REDIS_REPLY_STATUS);
  repaired.terminate();
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_full_disk_rejects_acquires_and_keeps_releases) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: needs root to mount a small tmpfs");
    return;
  }
  const std::string mnt = make_temp_dir();
  if (std::system(("mount -t tmpfs -o size=256k tmpfs " + mnt + " 2>/dev/null").c_str()) != 0) {
    BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs");
    std::filesystem::remove_all(mnt);
    return;
  }
  {
    Server s(persistent(mnt + "/data", "always"));
    Hiredis h(s.port());
    acquire_fence(h, "keep", "60000");
    acquire_fence(h, "keep2", "60000");
    {  // fill the file system
      std::FILE* f = std::fopen((mnt + "/filler").c_str(), "wb");
      BOOST_TEST_REQUIRE(f != nullptr);
      const std::string block(4096, 'x');
      while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
      }
      std::fclose(f);
    }
    // The journal's last page still has room for a few records; then the write fails. The grant
    // of the failed batch is never acknowledged (its connection closes unanswered) and taken back.
    std::string error;
    std::vector<std::string> unanswered;
    for (int i = 0; i < 2000 && error.empty(); ++i) {
      const std::string key = "fill:" + std::to_string(i);
      Hiredis c(s.port());
      Reply r;
      try {
        r = c.cmd({"SEMLOCK.ACQUIRE", key, "60000"});
      } catch (const std::exception&) {
      }
      if (!r) {
        unanswered.push_back(key);
      } else if (r->type == REDIS_REPLY_ERROR) {
        error = reply_str(r.get());
      }
    }
    BOOST_TEST(error == "ERR persistence: cannot write the journal (No space left on device)");
    BOOST_TEST(unanswered.size() <= 1u);
    for (const std::string& key : unanswered) BOOST_TEST(!holder_of(h, key).has_value(), key);
    BOOST_TEST(reply_str(h.cmd({"SEMLOCK.ACQUIRE", "another", "1000"}).get()) == error);
    JsonClient j(s.port());
    BOOST_TEST(
        j.request(R"({"action":"acquire","key":"j","ttl":5})") ==
        R"x({"success":false,"error":"persistence: cannot write the journal (No space left on device)","code":"BADREQUEST"})x");
    // Reads and releases keep working.
    BOOST_TEST(h.cmd({"SEMLOCK.EXISTS", "keep"})->integer == 1);
    const auto keep2 = holder_of(h, "keep2");
    BOOST_TEST_REQUIRE(keep2.has_value());
    BOOST_TEST(h.cmd({"SEMLOCK.RELEASE", "keep2", std::get<0>(*keep2)})->integer == 1);
    BOOST_TEST(h.cmd({"SEMLOCK.EXISTS", "keep2"})->integer == 0);
    BOOST_TEST(s.wait_for_log("Journal write failed"));
    s.terminate();
  }
  BOOST_TEST(std::system(("umount " + mnt).c_str()) == 0);
  std::filesystem::remove_all(mnt);
}

// Snapshots are written by a forked child while the loop keeps serving: after one, snapshot.dat
// holds the state, journal.prev is gone, and a kill -9 loses nothing (snapshot + new journal).
BOOST_AUTO_TEST_CASE(background_snapshot_then_kill_9_restores_everything) {
  namespace fs = std::filesystem;
  const std::string dir = make_temp_dir();
  std::vector<std::pair<std::string, long long>> before;  // key, fence
  {
    ServerOptions o;
    o.with_config(R"("persistence":{"enabled":true,"dir":")" + dir +
                  R"(","fsync":"always","snapshot_every_bytes":1},)"
                  R"("cleanup":{"interval":"50ms"})");
    Server s(o);
    Hiredis h(s.port());
    for (int i = 0; i < 50; ++i) {
      const std::string key = "snap:" + std::to_string(i);
      before.emplace_back(key, acquire_fence(h, key, "60000"));
    }
    // The snapshot starts at the next housekeeping and finishes in the child.
    BOOST_REQUIRE(eventually(
        [&] { return fs::exists(dir + "/snapshot.dat") && !fs::exists(dir + "/journal.prev"); }));
    BOOST_TEST(s.wait_for_log("Snapshot written"));
    for (int i = 50; i < 60; ++i) {  // these go to the journal that follows the snapshot
      const std::string key = "snap:" + std::to_string(i);
      before.emplace_back(key, acquire_fence(h, key, "60000"));
    }
    BOOST_TEST(h.cmd({"SEMLOCK.FORCERELEASE", "snap:0"})->integer == 1);
    before.erase(before.begin());
    ::kill(s.pid(), SIGKILL);
    BOOST_TEST(s.terminate() == 128 + SIGKILL);
  }
  Server again(persistent(dir, "always"));
  Hiredis h(again.port());
  BOOST_TEST(!holder_of(h, "snap:0"));
  for (const auto& [key, fence] : before) {
    const auto holder = holder_of(h, key);
    BOOST_REQUIRE_MESSAGE(holder, key << " is not back");
    BOOST_TEST(std::get<1>(*holder) == fence);
  }
}
