// Protected mode: which ports it covers, the refusal in each protocol, and the rate-limited log of
// refused clients and failed authentications (with the client's address, never a key).
#include "server/protect.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

#include "protocol/http.h"
#include "protocol/json_codec.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace protect {

const char* const kDeniedText =
    "DENIED TtlSemLock is running in protected mode: no API key is configured and it listens on a "
    "non-loopback address, so only loopback clients are served. To let this client in, do one of: "
    "1) configure API keys (security.api_keys, security.api_keys_file, TTLSEMLOCK_API_KEYS or "
    "TTLSEMLOCK_API_KEYS_FILE) and authenticate with one; 2) require client certificates on the "
    "TLS port (tls.client_auth: required); 3) listen on 127.0.0.1 only (server.host); 4) set "
    "security.protected_mode to false if every client that can reach this port is trusted. Then "
    "restart the server.";

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "localhost." || host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

bool is_loopback_peer(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (peer.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return a->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

bool applies(const config::Config& config, bool tls_port) {
  if (!config.security.protected_mode) return false;
  if (!config.security.api_keys.empty()) return false;
  if (tls_port && config.tls.client_auth == "required") return false;
  return !is_loopback_host(config.server.host);
}

bool resolve(const std::string& host, std::uint16_t port, sockaddr_storage& out,
             std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    error = "cannot resolve host \"" + host + "\": " + gai_strerror(rc);
    return false;
  }
  // Prefer IPv4 for a name that has both (localhost: 127.0.0.1 rather than ::1), as clients
  // that are told "localhost" mostly try it first.
  const addrinfo* pick = res;
  for (const addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      pick = p;
      break;
    }
  }
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, pick->ai_addr, pick->ai_addrlen);
  freeaddrinfo(res);
  return true;
}

std::string preflight(const config::Config& config) {
  sockaddr_storage addr{};
  std::string error;
  if (!resolve(config.server.host, config.server.port, addr, error)) return "server.host: " + error;
  if (config.metrics.enabled && !resolve(config.metrics.host, config.metrics.port, addr, error)) {
    return "metrics.host: " + error;
  }
  if (config.tls.enabled || (config.metrics.enabled && config.metrics.tls)) {
    if (!tls::Context::create(config.tls, config.tls.enabled, error)) return error;
  }
  return {};
}

}  // namespace protect

void Server::log_security_mode() {
  if (!config_.security.protected_mode) {
    log::warn(
        "Protected mode is off (security.protected_mode: false): clients from any address are "
        "served without a key if none is configured");
  }
  const bool plain = config_.server.port != 0 && protect::applies(config_, false);
  const bool tls = config_.tls.enabled && protect::applies(config_, true);
  if (plain || tls) {
    log::warn(
        "Protected mode: no API key is configured and the lock port listens on a non-loopback "
        "address, so only loopback clients are served; configure security.api_keys or "
        "TTLSEMLOCK_API_KEYS to serve others",
        {{"host", config_.server.host}});
  } else if (!config_.security.api_keys.empty()) {
    log::info("Authentication required (API keys configured)",
              {{"keys", config_.security.api_keys.size()}});
  } else if (config_.security.protected_mode) {
    log::info("No API key configured; the lock port listens on a loopback address only",
              {{"host", config_.server.host}});
  }
}

void Server::security_accept(Connection& c, bool tls_port, bool metrics) {
  if (metrics) {
    if (metrics_tls_) c.tls = tls::new_session(*metrics_tls_);
    return;
  }
  if (tls_port) {
    c.client.laddr = config_.server.host + ":" + std::to_string(config_.tls.port);
    c.tls = tls::new_session(*lock_tls_);
  }
  if (!(tls_port ? protected_tls_ : protected_plain_)) return;
  sockaddr_storage peer{};
  int len = sizeof(peer);
  if (uv_tcp_getpeername(&c.handle, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
      !protect::is_loopback_peer(peer)) {
    c.denied = true;
  }
}

std::size_t Server::refuse_protected(Connection& c, std::string_view data) {
  if (c.protocol == WireProtocol::kUnknown) {
    c.protocol = detect_protocol(data);
    if (c.protocol == WireProtocol::kUnknown) return 0;
  }
  buffer_pool_.fill(c.out);
  const std::string_view text(protect::kDeniedText);
  switch (c.protocol) {
    case WireProtocol::kJson:
      json::write_error(c.out, "", text.substr(7), "DENIED");
      break;
    case WireProtocol::kHttp: {
      std::string body;
      json::write_error(body, "", text.substr(7), "DENIED");
      http::write_response(c.out, 403, "application/json", body, false);
      break;
    }
    default:
      c.out += '-';
      c.out.append(text);
      c.out.append("\r\n");
      break;
  }
  metrics_.count_auth_failure();
  note_security_event("Refused a client in protected mode", c.client.addr);
  c.close_after_write = true;
  return data.size();
}

// Binds and listens; a name (localhost) is resolved first (SPEC §7: --host accepts names).
bool Server::listen_on(uv_tcp_t& listener, const std::string& host, std::uint16_t port) {
  sockaddr_storage addr{};
  // An address, or a name such as localhost (SPEC §7: --host accepts names).
  if (std::string error; !protect::resolve(host, port, addr, error)) {
    log::error("Invalid listen address: " + error, {{"host", host}});
    return false;
  }
  int rc = 0;
  uv_tcp_init(loop_, &listener);
  listener.data = this;
  rc = uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 1024, on_connection_cb);
  }
  if (rc != 0) {
    log::error(std::string("Cannot listen on ") + host + ":" + std::to_string(port) + ": " +
               uv_strerror(rc));
    return false;
  }
  return true;
}

std::string Server::peer_of(std::uint64_t conn_id) const {
  auto it = connections_.find(conn_id);
  return it == connections_.end() ? std::string("unknown") : it->second->client.addr;
}

void Server::note_security_event(const char* what, const std::string& client) {
  const Millis now = now_ms();
  if (now - last_auth_log_ >= 1000) {
    log::Fields fields{{"client", client}};
    if (suppressed_auth_failures_ > 0) {
      fields.emplace_back("suppressed", suppressed_auth_failures_);
    }
    log::warn(what, fields);  // never the key itself
    last_auth_log_ = now;
    suppressed_auth_failures_ = 0;
  } else {
    ++suppressed_auth_failures_;
  }
}

}  // namespace semlock
