#include "tests/integration/server_fixture.h"

#include "tests/integration/clients.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace semlock::it {
namespace {

using Clock = std::chrono::steady_clock;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

bool port_accepts(std::uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Environment for the child: ours, with `extra` entries added or replacing same-named ones.
std::vector<std::string> child_env(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra) overridden |= x.substr(0, x.find('=')) == name;
    if (!overridden) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// fork+exec with stdout/stderr to the given fds. Every other descriptor is closed in the child so
// that it cannot keep our test connections open.
pid_t spawn(const std::vector<std::string>& argv_s, const std::vector<std::string>& env_s,
            int out_fd, int err_fd) {
  std::vector<char*> argv, envp;
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to `timeout`; nullopt if it is still running.
std::optional<int> wait_exit(pid_t pid, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    if (r < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    sleep_for(Ms{10});
  }
}

std::unique_ptr<Server>& shared_slot() {
  static std::unique_ptr<Server> server;
  return server;
}

}  // namespace

std::string binary_path() {
  const char* bin = std::getenv("SEMLOCK_BIN");
  if (bin == nullptr || *bin == '\0') throw std::runtime_error("SEMLOCK_BIN is not set");
  if (::access(bin, X_OK) != 0) throw sys_error(std::string("SEMLOCK_BIN ") + bin);
  return bin;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw sys_error("bind port 0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "semlock-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw sys_error("mkdtemp");
  return tmpl;
}

void write_file(const std::string& path, std::string_view content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void sleep_for(Ms duration) {
  std::this_thread::sleep_for(duration);
}

bool eventually(const std::function<bool()>& condition, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    sleep_for(Ms{10});
  }
}

// ---- Server -----------------------------------------------------------------------------------

Server::Server(ServerOptions options) {
  dir_ = make_temp_dir();
  config_path_ = dir_ + "/config.json";
  log_path_ = dir_ + "/server.log";
  port_ = free_port();
  metrics_port_ = free_port();
  while (metrics_port_ == port_) metrics_port_ = free_port();
  std::string config = R"({"server":{"host":"127.0.0.1","port":)" + std::to_string(port_);
  if (!options.server_members.empty()) config += "," + options.server_members;
  config += R"(},"metrics":{"host":"127.0.0.1","port":)" + std::to_string(metrics_port_) + "}";
  if (!options.extra_members.empty()) config += "," + options.extra_members;
  config += "}\n";
  write_file(config_path_, config);
  if (options.expect_port != 0) port_ = options.expect_port;

  std::vector<std::string> argv{binary_path(), "--config", config_path_};
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) throw sys_error("open log");
  pid_ = spawn(argv, child_env(options.env), log_fd, log_fd);
  ::close(log_fd);

  auto deadline = Clock::now() + Ms{10000};
  bool lock_up = false, metrics_up = !options.wait_metrics;
  while (!(lock_up && metrics_up)) {
    if (auto code = wait_exit(pid_, Ms{0})) {
      exit_code_ = *code;
      std::string message = "ttl-semlock exited with " + std::to_string(*code) +
                            " during start-up; config " + config + "; log: " + log_tail();
      std::filesystem::remove_all(dir_);
      throw std::runtime_error(message);
    }
    if (Clock::now() >= deadline) {
      terminate(Ms{2000});
      std::string message =
          "ttl-semlock did not accept on its ports within 10 s; log: " + log_tail();
      std::filesystem::remove_all(dir_);
      throw std::runtime_error(message);
    }
    lock_up = lock_up || port_accepts(port_);
    metrics_up = metrics_up || port_accepts(metrics_port_);
    if (!(lock_up && metrics_up)) sleep_for(Ms{20});
  }
}

Server::~Server() {
  if (!exit_code_) {
    int code = terminate();
    BOOST_CHECK_MESSAGE(code == 0,
                        "ttl-semlock exit code after SIGTERM: " << code << "; log: " << log_tail());
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string Server::log() const {
  return read_file(log_path_);
}

std::string Server::log_tail(std::size_t bytes) const {
  std::string all = log();
  std::string tail = all.size() > bytes ? all.substr(all.size() - bytes) : all;
  for (char& c : tail) {
    if (c == '\n') c = '|';
  }
  return tail;
}

bool Server::wait_for_log(std::string_view needle, Ms timeout) const {
  return eventually([&] { return log().find(needle) != std::string::npos; }, timeout);
}

int Server::terminate(Ms timeout) {
  if (exit_code_) return *exit_code_;
  ::kill(pid_, SIGTERM);
  auto code = wait_exit(pid_, timeout);
  if (!code) {
    ::kill(pid_, SIGKILL);
    code = wait_exit(pid_, Ms{5000});
    code = -1;
  }
  exit_code_ = *code;
  return *exit_code_;
}

bool Server::running() {
  if (exit_code_) return false;
  if (auto code = wait_exit(pid_, Ms{0})) {
    exit_code_ = *code;
    return false;
  }
  return true;
}

Server& shared_server(const ServerOptions& options) {
  auto& slot = shared_slot();
  if (!slot) slot = std::make_unique<Server>(options);
  return *slot;
}

SharedServerStopper::~SharedServerStopper() {
  shared_slot().reset();
}

RunResult run_binary(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     Ms timeout) {
  std::string dir = make_temp_dir();
  std::string out_path = dir + "/out", err_path = dir + "/err";
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::vector<std::string> argv{binary_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn(argv, child_env(env), out_fd, err_fd);
  ::close(out_fd);
  ::close(err_fd);
  RunResult result;
  auto code = wait_exit(pid, timeout);
  if (!code) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, Ms{5000});
  }
  result.exit_code = code.value_or(-1);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

}  // namespace semlock::it
