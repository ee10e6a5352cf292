// The server under test for the checkers' standalone programs: the real ttl-semlock binary,
// started from a JSON config in a private directory on a free port, killable (SIGKILL) and
// restartable on the same port and directory, so a persistence directory carries across.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace semlock::checker {

class ServerProc {
 public:
  // `config(dir, port, metrics_port)` returns the whole JSON config; `dir` is the private
  // directory (a persistence directory goes below it). Starts the server.
  using ConfigFn =
      std::function<std::string(const std::string& dir, std::uint16_t port, std::uint16_t metrics)>;
  ServerProc(std::string bin, const std::string& name, const ConfigFn& config);
  ~ServerProc();
  ServerProc(const ServerProc&) = delete;
  ServerProc& operator=(const ServerProc&) = delete;

  // Starts it and waits (up to 15 s) until it accepts; throws with the log's tail otherwise.
  void start();
  void kill9();
  // SIGTERM; the exit code (128+signal when killed; -1 when it had to be killed after 15 s or
  // was not running).
  int terminate();
  std::string log_tail() const;
  std::uint16_t port() const { return port_; }

 private:
  std::string bin_, dir_, config_path_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace semlock::checker
