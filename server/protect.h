// Protected mode (SPEC §8, Redis's model) and listen addresses.
//
// With no API key configured, on a non-loopback listen address, and unless security.protected_mode
// is false, a lock port serves loopback clients only: anyone else gets one refusal in the
// protocol it spoke (RESP -DENIED, JSON code DENIED, HTTP 403) that says how to fix it, and is
// closed. The TLS port is exempt when it requires client certificates (tls.client_auth:
// required): a client that completed that handshake has authenticated. The metrics port never
// is (it serves no lock traffic).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "config/config.h"

namespace semlock::protect {

// The refusal, without the RESP "-" and "\r\n".
extern const char* const kDeniedText;

// "127.0.0.1", "127.x.y.z", "::1", "localhost" (and "localhost.").
bool is_loopback_host(const std::string& host);
// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback_peer(const sockaddr_storage& peer);

// Whether protected mode applies to the plain (tls_port false) or TLS lock port.
bool applies(const config::Config& config, bool tls_port);

// An address (IPv4, IPv6) or a host name (resolved once, first result; "localhost" included).
// False with `error` when it does not resolve.
bool resolve(const std::string& host, std::uint16_t port, sockaddr_storage& out,
             std::string& error);

// --check-config's preflight of what start-up would still reject after the config loaded: host
// names that do not resolve, TLS certificates and keys that do not load or match. "" or the
// error, naming the key.
std::string preflight(const config::Config& config);

}  // namespace semlock::protect
