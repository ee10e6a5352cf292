// systemd's Type=notify protocol, with a NOTIFY_SOCKET datagram listener standing in for systemd
// (there is no systemd as PID 1 where the tests run): READY=1 arrives only once the lock port
// accepts and the journal is loaded (a lock from the previous run is already there), WATCHDOG=1
// pings arrive at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM; a WATCHDOG_PID naming another
// process turns the pings off.
#define BOOST_TEST_MODULE it_sd_notify
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

namespace {

// A bound AF_UNIX datagram socket at `path`, as systemd's notification socket.
class NotifyListener {
 public:
  explicit NotifyListener(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifyListener() {
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram, or "" after `timeout`.
  std::string next(Ms timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[1024];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

std::string persistence_config(const std::string& dir) {
  return R"("persistence":{"enabled":true,"dir":")" + dir + R"(","fsync":"always"})";
}

}  // namespace

BOOST_AUTO_TEST_CASE(ready_after_listen_and_journal_then_watchdog_then_stopping) {
  const std::string dir = make_temp_dir();
  {
    ServerOptions o;
    o.with_config(persistence_config(dir + "/data"));
    Server first(o);
    Hiredis c(first.port());
    BOOST_TEST(c.cmd({"SEMLOCK.ACQUIRE", "sd:kept", "600000"})->type == REDIS_REPLY_ARRAY);
  }
  NotifyListener listener(dir + "/notify");
  ServerOptions o;
  o.with_config(persistence_config(dir + "/data"))
      .with_env({"NOTIFY_SOCKET=" + dir + "/notify", "WATCHDOG_USEC=200000"});
  Server server(o);
  const std::string ready = listener.next(Ms{10000});
  BOOST_TEST(ready.find("READY=1\n") == 0, ready);
  BOOST_TEST(
      ready.find("STATUS=serving on port " + std::to_string(server.port())) != std::string::npos,
      ready);
  BOOST_TEST(ready.find("MAINPID=" + std::to_string(server.pid())) != std::string::npos, ready);
  // Ready means the previous run's lock is back.
  Hiredis c(server.port());
  BOOST_TEST(c.cmd({"SEMLOCK.EXISTS", "sd:kept"})->integer == 1);

  // WATCHDOG_USEC=200 ms: a ping every 100 ms; three within 2 s leaves room for a slow machine.
  int pings = 0;
  const auto start = std::chrono::steady_clock::now();
  while (pings < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) {
    if (listener.next(Ms{500}) == "WATCHDOG=1") ++pings;
  }
  BOOST_TEST(pings == 3);

  BOOST_TEST(server.terminate() == 0);
  std::string last;
  for (std::string m = listener.next(Ms{2000}); !m.empty(); m = listener.next(Ms{200})) last = m;
  BOOST_TEST(last == "STOPPING=1");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(watchdog_pid_of_another_process_sends_no_pings) {
  const std::string dir = make_temp_dir();
  NotifyListener listener(dir + "/notify");
  ServerOptions o;
  o.with_env({"NOTIFY_SOCKET=" + dir + "/notify", "WATCHDOG_USEC=100000", "WATCHDOG_PID=1"});
  Server server(o);
  BOOST_TEST(listener.next(Ms{10000}).find("READY=1\n") == 0);
  BOOST_TEST(listener.next(Ms{500}) == "");  // 5 periods of silence
  BOOST_TEST(server.terminate() == 0);
  BOOST_TEST(listener.next(Ms{2000}) == "STOPPING=1");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(no_notify_socket_no_messages) {
  // Without NOTIFY_SOCKET the server starts as before (a stray WATCHDOG_USEC is ignored).
  ServerOptions o;
  o.with_env({"WATCHDOG_USEC=100000"});
  Server server(o);
  Hiredis c(server.port());
  BOOST_TEST(c.cmd({"PING"})->str == std::string("PONG"));
}
