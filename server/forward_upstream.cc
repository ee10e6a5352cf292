// Cluster forwarding: the upstream connections' sockets (connect, read, write, close). The
// decisions are in forward_cluster.cc.
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

#include "server/forward_upstream.h"
#include "server/logging.h"

namespace semlock {

void append_forward_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(static_cast<unsigned char>(ch) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(ch) & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

struct UpstreamSocket {
  uv_tcp_t tcp{};
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  Upstream* up = nullptr;  // null once the upstream let go of it (closing)
  std::string inflight;
  bool writing = false;
  char rbuf[64 * 1024];
};

namespace {

UpstreamSocket* sock_of(void* handle) {
  return static_cast<UpstreamSocket*>(static_cast<uv_handle_t*>(handle)->data);
}

void close_cb(uv_handle_t* h) {
  delete sock_of(h);
}

void alloc_cb(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  UpstreamSocket* s = sock_of(h);
  buf->base = s->rbuf;
  buf->len = sizeof(s->rbuf);
}

void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  UpstreamSocket* s = sock_of(stream);
  if (s->up == nullptr || nread == 0) return;
  Upstream& up = *s->up;
  if (nread < 0) {
    up.fwd->on_broken(up, nread == UV_EOF ? "closed by the leader" : uv_strerror(nread));
    return;
  }
  up.fwd->on_data(up, std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void connect_cb(uv_connect_t* req, int status) {
  UpstreamSocket* s = static_cast<UpstreamSocket*>(req->data);
  if (s->up == nullptr) return;
  if (status == 0) {
    uv_tcp_nodelay(&s->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp), alloc_cb, read_cb);
  }
  s->up->fwd->on_connected(*s->up, status);
}

void write_cb(uv_write_t* req, int status) {
  UpstreamSocket* s = static_cast<UpstreamSocket*>(req->data);
  s->writing = false;
  s->inflight.clear();
  if (s->up == nullptr) return;
  s->up->fwd->on_write_done(*s->up, status);
}

// "host:port" (IPv4, [IPv6] or a name) to an address; false when it does not resolve.
bool resolve(const std::string& address, sockaddr_storage& out) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  // Members are named in the membership as the operator wrote them; a name is resolved once per
  // connect (the upstream lives as long as its client connection).
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
  std::memcpy(&out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return true;
}

}  // namespace

void rebind_socket(UpstreamSocket& sock, Upstream& up) {
  sock.up = &up;
}

void Forwarder::connect(Upstream& up, const std::string& address, std::uint64_t leader) {
  sockaddr_storage addr{};
  if (!resolve(address, addr)) {
    log::warn("Forwarding: cannot resolve the leader's client address",
              {{"address", address}});
    return;
  }
  auto* s = new UpstreamSocket();
  s->up = &up;
  uv_tcp_init(loop_, &s->tcp);
  s->tcp.data = s;
  s->connect_req.data = s;
  s->write_req.data = s;
  const int rc =
      uv_tcp_connect(&s->connect_req, &s->tcp, reinterpret_cast<const sockaddr*>(&addr), connect_cb);
  if (rc != 0) {
    s->up = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), close_cb);
    return;
  }
  up.sock = s;
  up.state = Upstream::State::kConnecting;
  up.leader_id = leader;
}

void Forwarder::pump(Upstream& up) {
  UpstreamSocket* s = up.sock;
  if (s == nullptr || up.state != Upstream::State::kConnected || s->writing || up.out.empty()) {
    return;
  }
  s->inflight.swap(up.out);
  up.out.clear();
  s->writing = true;
  uv_buf_t buf = uv_buf_init(s->inflight.data(), static_cast<unsigned>(s->inflight.size()));
  const int rc =
      uv_write(&s->write_req, reinterpret_cast<uv_stream_t*>(&s->tcp), &buf, 1, write_cb);
  if (rc != 0) {
    s->writing = false;
    on_broken(up, uv_strerror(rc));
  }
}

void Forwarder::write(Upstream& up, std::string_view bytes) {
  up.last_write = static_cast<Millis>(uv_now(loop_));  // keep_alive compares with the same clock
  up.out.append(bytes);
  pump(up);
}

void Forwarder::on_write_done(Upstream& up, int status) {
  if (status < 0) {
    on_broken(up, uv_strerror(status));
    return;
  }
  pump(up);
}

void Forwarder::close_socket(Upstream& up) {
  if (up.sock != nullptr) {
    up.sock->up = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&up.sock->tcp), close_cb);
    up.sock = nullptr;
  }
  up.state = Upstream::State::kIdle;
  up.leader_id = 0;
  up.in.clear();
  up.out.clear();
}

}  // namespace semlock
