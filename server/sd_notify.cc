#include "server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace semlock::sd {
namespace {

uv_timer_t watchdog_timer;
bool watchdog_running = false;

void watchdog_cb(uv_timer_t*) {
  notify("WATCHDOG=1");
}

// The watchdog period from the environment in ms, or 0 when none applies to this process.
std::uint64_t watchdog_ms() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr || *usec == '\0') return 0;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && *pid != '\0') {
    if (std::strtoll(pid, nullptr, 10) != static_cast<long long>(getpid())) return 0;
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(usec, &end, 10);
  if (end == usec || *end != '\0' || value == 0) return 0;
  const std::uint64_t half_ms = value / 2000;
  return half_ms == 0 ? 1 : half_ms;
}

}  // namespace

bool notify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&addr), addr_len);
  close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

void ready(uv_loop_t* loop, const std::string& status) {
  notify("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(getpid()));
  const std::uint64_t period = watchdog_ms();
  if (period == 0 || std::getenv("NOTIFY_SOCKET") == nullptr) return;
  uv_timer_init(loop, &watchdog_timer);
  uv_timer_start(&watchdog_timer, watchdog_cb, period, period);
  uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_timer));
  watchdog_running = true;
  notify("WATCHDOG=1");
}

void stopping() {
  notify("STOPPING=1");
  if (!watchdog_running) return;
  watchdog_running = false;
  uv_timer_stop(&watchdog_timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_timer), nullptr);
}

}  // namespace semlock::sd
