// Helpers shared by the wait and delivery integration tests (it_wait.cc, it_delivery.cc): the
// shared server, grants, holders, ways for a client to go away, a stalled loop, unread output.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <string>
#include <vector>

#include "tests/integration/server_fixture.h"

namespace semlock::it {

inline std::uint16_t port() {
  return shared_server().port();
}

inline bool is_grant_to(const std::optional<RespValue>& v, const std::string& owner) {
  return v && v->type == RespValue::Type::kArray && v->elements.size() == 2 &&
         v->elements[0].str == owner;
}

// Nothing arrives on `c` within a short wait.
inline void check_silent(RespConn& c, const std::string& who) {
  c.raw().read_for(Ms{150});
  BOOST_CHECK_MESSAGE(c.raw().buffer().empty(), who << " got early: " << c.raw().buffer());
}

// The owners holding `key` now (SEMLOCK.INFO), in the server's order.
inline std::vector<std::string> holders(RespConn& c, const std::string& key) {
  std::vector<std::string> out;
  auto info = c.cmd({"SEMLOCK.INFO", key});
  if (const auto* hs = info.field("holders")) {
    for (const auto& h : hs->elements) out.push_back(h.elements.at(0).str);
  }
  return out;
}

// How a waiter's client goes away.
enum class Gone { kClose, kHalfClose, kReset };

inline const char* gone_name(Gone how) {
  switch (how) {
    case Gone::kClose:
      return "close (FIN)";
    case Gone::kHalfClose:
      return "shutdown(SHUT_WR) (FIN, still reading)";
    case Gone::kReset:
      return "close with SO_LINGER 0 (RST)";
  }
  return "?";
}

inline void go_away(RawClient& raw, Gone how) {
  switch (how) {
    case Gone::kClose:
      raw.close();
      break;
    case Gone::kHalfClose:
      raw.shutdown_write();
      break;
    case Gone::kReset: {
      linger l{1, 0};
      ::setsockopt(raw.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      raw.close();
      break;
    }
  }
}

// Keeps the server's loop busy for a few hundred ms: a script that writes first (so no budget
// stops it before the loop ends or scripting's time limit). Whatever is sent meanwhile is read
// in one batch afterwards, in arrival order.
inline std::string stall_command() {
  return resp_command({"EVAL",
                       "redis.call('SET', KEYS[1], 'x', 'PX', '1000') "
                       "local i = 0 while i < 12000000 do i = i + 1 end return 1",
                       "1", "w:stall"});
}

// Writes all of `bytes` without reading anything (RawClient::send drains replies meanwhile).
// False if the peer stops taking them for `stuck` or the connection fails.
inline bool send_without_reading(int fd, std::string_view bytes, Ms stuck = Ms{3000}) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(stuck.count())) <= 0) return false;
    if ((p.revents & (POLLERR | POLLHUP)) != 0) return false;
  }
  return true;
}

// omem (unsent reply bytes the server holds) of the client named `name`, from CLIENT LIST.
inline long long client_omem(RespConn& admin, const std::string& name) {
  const std::string list = admin.cmd({"CLIENT", "LIST"}).str;
  const auto at = list.find(" name=" + name + " ");
  if (at == std::string::npos) return -1;
  const auto line_start = list.rfind('\n', at);
  const auto o = list.find(" omem=", line_start == std::string::npos ? 0 : line_start);
  return o == std::string::npos ? -1 : std::atoll(list.c_str() + o + 6);
}

// Sends replies `slow` does not read (it names itself `name` first) until the server holds some
// of them (omem > 0: the kernel takes no more) while staying under the 1 MiB output cap that
// would stop it executing requests. Returns omem.
inline long long fill_unread_output(RespConn& admin, RawClient& slow, const std::string& name) {
  BOOST_REQUIRE(send_without_reading(slow.fd(), resp_command({"CLIENT", "SETNAME", name})));
  const std::string echo = resp_command({"ECHO", std::string(128 * 1024, 'e')});
  long long omem = 0;
  for (int i = 0; i < 400 && omem <= 0; ++i) {
    BOOST_REQUIRE(send_without_reading(slow.fd(), echo));
    sleep_for(Ms{20});
    omem = client_omem(admin, name);
  }
  BOOST_REQUIRE_MESSAGE(omem > 0 && omem < 1024 * 1024, "omem " << omem);
  return omem;
}

}  // namespace semlock::it
