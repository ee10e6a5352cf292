#include "tests/checker/server_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/integration/clients.h"
#include "tests/integration/server_fixture.h"

namespace semlock::checker {
namespace {

constexpr int kPolls = 1500;  // of 10 ms: 15 s for a start or a SIGTERM (a loaded CI box)

}  // namespace

ServerProc::ServerProc(std::string bin, const std::string& name, const ConfigFn& config)
    : bin_(std::move(bin)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (name + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = it::free_port();
  config_path_ = dir_ + "/config.json";
  it::write_file(config_path_, config(dir_, port_, it::free_port()) + "\n");
  start();
}

ServerProc::~ServerProc() {
  if (pid_ > 0) kill9();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void ServerProc::start() {
  const int log =
      ::open((dir_ + "/server.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execl(bin_.c_str(), bin_.c_str(), "--config", config_path_.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(log);
  for (int i = 0; i < kPolls; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("ttl-semlock exited during start-up; log: " + log_tail());
    }
    const int fd = it::connect_loopback(port_);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("ttl-semlock did not accept within 15 s; log: " + log_tail());
}

void ServerProc::kill9() {
  if (pid_ <= 0) return;  // not running: kill(-1) would signal every process
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProc::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < kPolls; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  return -1;
}

std::string ServerProc::log_tail() const {
  std::string all;
  if (FILE* f = std::fopen((dir_ + "/server.log").c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) all.append(buf, n);
    std::fclose(f);
  }
  return all.size() > 1500 ? all.substr(all.size() - 1500) : all;
}

}  // namespace semlock::checker
