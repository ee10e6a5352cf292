#include "bench/loadgen/conn.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

namespace loadgen {

void append_command(std::string& out, const std::vector<std::string_view>& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
}

Conn::~Conn() {
  if (fd_ >= 0) ::close(fd_);
}

void Conn::connect(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  if (getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res) != 0 || res == nullptr) {
    throw ConnError("cannot resolve " + host);
  }
  int fd = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    freeaddrinfo(res);
    throw ConnError("connect " + host + ":" + port_text + ": " + why);
  }
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  buf_.clear();
  pos_ = 0;
  last_rx_ns_ = 0;
}

void Conn::enable_rx_timestamps() {
  int one = 1;
  if (setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0) {
    throw ConnError(std::string("SO_TIMESTAMPNS: ") + std::strerror(errno));
  }
  rx_timestamps_ = true;
}

void Conn::close_reset() {
  if (fd_ < 0) return;
  linger lg{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd_);
  fd_ = -1;
}

void Conn::send_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ConnError(std::string("send: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Conn::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char chunk[65536];
  for (;;) {
    iovec iov{chunk, sizeof chunk};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (rx_timestamps_) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
    }
    ssize_t n = ::recvmsg(fd_, &msg, busy_poll_ ? MSG_DONTWAIT : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && busy_poll_ && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      sched_yield();  // other client threads on this CPU (same priority) poll in turn
      continue;
    }
    if (n == 0) throw ConnError("connection closed by server");
    if (n < 0) throw ConnError(std::string("recv: ") + std::strerror(errno));
    // A truncated control message (a stamp larger than asked for) leaves no stamp: the
    // caller then finds none newer than its request and drops the sample.
    if (rx_timestamps_ && (msg.msg_flags & MSG_CTRUNC) == 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          last_rx_ns_ = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
        }
      }
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return;
  }
}

std::string Conn::read_line() {
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      size_t end = (nl > pos_ && buf_[nl - 1] == '\r') ? nl - 1 : nl;
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = nl + 1;
      return line;
    }
    fill();
  }
}

Reply Conn::read_reply() {
  std::string line = read_line();
  if (line.empty()) throw ConnError("empty RESP line");
  Reply r;
  std::string_view body(line);
  body.remove_prefix(1);
  int64_t n = 0;
  auto parse_int = [&] {
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), n);
    if (ec != std::errc()) throw ConnError("bad RESP number: " + line);
  };
  switch (line[0]) {
    case '+':
      r.type = Reply::Type::kString;
      r.str = body;
      return r;
    case '-':
      r.type = Reply::Type::kError;
      r.str = body;
      return r;
    case ':':
      parse_int();
      r.type = Reply::Type::kInteger;
      r.integer = n;
      return r;
    case '_':
      return r;
    case '$': {
      parse_int();
      if (n < 0) return r;
      size_t need = static_cast<size_t>(n) + 2;
      while (buf_.size() - pos_ < need) fill();
      r.type = Reply::Type::kString;
      r.str = buf_.substr(pos_, static_cast<size_t>(n));
      pos_ += need;
      return r;
    }
    case '*': {
      parse_int();
      if (n < 0) return r;
      r.type = Reply::Type::kArray;
      r.elements.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) r.elements.push_back(read_reply());
      return r;
    }
    default:
      throw ConnError("unexpected RESP reply: " + line);
  }
}

Reply Conn::call(const std::vector<std::string_view>& args) {
  std::string out;
  append_command(out, args);
  send_all(out);
  return read_reply();
}

}  // namespace loadgen
