#include "server/healthcheck.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

namespace semlock {
namespace {

using Clock = std::chrono::steady_clock;

std::string probe_host(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::" || host == "[::]") return "::1";
  return host;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Connects to host:port, sends `request`, reads until `done(reply)` or EOF. "" or the error.
template <typename Done>
std::string exchange(const std::string& host, unsigned port, const std::string& request,
                     Clock::time_point deadline, std::string& reply, Done done) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res); rc != 0) {
    return "cannot resolve " + host + ": " + gai_strerror(rc);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return "socket failed";
  }
  std::string error;
  int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  pollfd p{fd, POLLOUT, 0};
  if (rc != 0 && errno == EINPROGRESS && poll(&p, 1, remaining_ms(deadline)) == 1) {
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    rc = so_error == 0 ? 0 : -1;
  } else if (rc != 0) {
    rc = -1;
  }
  if (rc != 0) {
    close(fd);
    return "cannot connect to " + host + ":" + port_text;
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    p = {fd, POLLOUT, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) {
      error = "timed out sending to " + host + ":" + port_text;
      break;
    }
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      error = "send failed";
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  while (error.empty() && !done(reply)) {
    p = {fd, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) {
      error = "no answer from " + host + ":" + port_text + " in time";
      break;
    }
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // EOF: judge what arrived
    reply.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return error;
}

}  // namespace

int run_healthcheck(const config::Config& config, int timeout_ms) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string reply;
  std::string error;
  std::string what;
  bool healthy = false;
  if (config.metrics.enabled) {
    const std::string host = probe_host(config.metrics.host);
    what = "GET /health on " + host + ":" + std::to_string(config.metrics.port);
    error =
        exchange(host, config.metrics.port,
                 "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", deadline,
                 reply, [](const std::string& r) { return r.find("\r\n") != std::string::npos; });
    healthy = error.empty() && reply.rfind("HTTP/1.1 200", 0) == 0;
  } else {
    const std::string host = probe_host(config.server.host);
    what = "PING on " + host + ":" + std::to_string(config.server.port);
    error = exchange(host, config.server.port, "PING\r\n", deadline, reply,
                     [](const std::string& r) { return r.find("\r\n") != std::string::npos; });
    healthy = error.empty() && reply.rfind("+PONG\r\n", 0) == 0;
  }
  if (healthy) {
    std::printf("healthy: %s\n", what.c_str());
    return 0;
  }
  if (error.empty()) {
    const std::string first = reply.substr(0, reply.find("\r\n"));
    error = "answered [" + first + "]";
  }
  std::printf("unhealthy: %s: %s\n", what.c_str(), error.c_str());
  return 1;
}

}  // namespace semlock
