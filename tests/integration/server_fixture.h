// Black-box test harness for the real ttl-semlock binary (SEMLOCK_BIN): starts it on free loopback
// ports with a temporary JSON config, and speaks to it with raw sockets, hiredis, JSON lines, HTTP
// and a Prometheus scraper. Nothing here knows the server's internals: every assertion goes
// through the wire, as a user's client would see it.
//
// Failure modes are loud on purpose: a server that does not come up throws with the tail of its
// log; a read that times out returns what it has so the assertion prints it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/clients.h"

namespace semlock::it {

// Path of the binary under test, from the SEMLOCK_BIN environment variable; throws if unset.
std::string binary_path();

// A loopback TCP port that was free a moment ago (bind port 0, read it, close).
std::uint16_t free_port();

// A fresh private directory under $TMPDIR; the caller removes it.
std::string make_temp_dir();

void write_file(const std::string& path, std::string_view content);
std::string read_file(const std::string& path);

// Blocks the calling thread; only for the short real waits the black-box timing tests need.
void sleep_for(Ms duration);

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
bool eventually(const std::function<bool()>& condition, Ms timeout = kDefaultTimeout);

struct ServerOptions {
  std::string server_members;     // extra members of "server", e.g. R"("max_connections":2)"
  std::string extra_members;      // extra top-level members, e.g. R"("limits":{"max_locks":3})"
  std::vector<std::string> args;  // extra command-line flags
  std::vector<std::string> env;   // extra/overriding environment entries "NAME=value"
  bool wait_metrics = true;       // also wait until the metrics port accepts
  std::uint16_t expect_port = 0;  // when a flag moves the lock port: wait on (and report) this one

  // Fluent setters (designated initializers trip GCC's -Wmissing-field-initializers).
  ServerOptions& with_config(std::string members) {
    extra_members = std::move(members);
    return *this;
  }
  ServerOptions& with_server(std::string members) {
    server_members = std::move(members);
    return *this;
  }
  ServerOptions& with_args(std::vector<std::string> flags) {
    args = std::move(flags);
    return *this;
  }
  ServerOptions& with_env(std::vector<std::string> entries) {
    env = std::move(entries);
    return *this;
  }
  ServerOptions& expecting_port(std::uint16_t p) {
    expect_port = p;
    return *this;
  }
};

// One running ttl-semlock. The constructor returns once the lock port accepts (throws with the
// log tail if the process exits or 10 s pass). The destructor stops it with SIGTERM and checks
// exit code 0 within 10 s (a Boost.Test check), unless terminate() was already called.
class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint16_t metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }

  // Everything the process wrote to stdout and stderr so far.
  std::string log() const;
  // The last `bytes` of log(), one line, for failure messages.
  std::string log_tail(std::size_t bytes = 600) const;
  // Polls the log until it contains `needle`.
  bool wait_for_log(std::string_view needle, Ms timeout = kDefaultTimeout) const;

  // Sends SIGTERM and waits up to `timeout`; returns the exit code (128+signal if killed by a
  // signal, -1 if it had to be SIGKILLed). Idempotent: later calls return the first result.
  int terminate(Ms timeout = Ms{10000});
  bool running();

 private:
  std::string dir_, config_path_, log_path_;
  std::uint16_t port_ = 0, metrics_port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// One server per test binary, started on first use with `options` (later calls ignore them), so
// the exporter's slow shutdown is paid once. Each binary declares
// BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper) so that the exit code is checked at the end.
Server& shared_server(const ServerOptions& options = {});
struct SharedServerStopper {
  ~SharedServerStopper();
};

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs the binary with `args` to completion (killed after `timeout`), capturing both streams.
RunResult run_binary(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                     Ms timeout = Ms{10000});

}  // namespace semlock::it
