// TLS on the lock port and the metrics port (SPEC §8), with OpenSSL 3 over memory BIOs: libuv
// reads and writes ciphertext on the socket as for any connection, and the session turns it into
// the plaintext the protocol handlers parse (server/tls_io.cc). A connection without TLS never
// touches this (Connection::tls is null; one branch on the read and the write path).
//
// Certificates reload on SIGHUP by building a new Context: new connections use it, connections
// already open keep the SSL_CTX they started with (OpenSSL counts its references), so nothing is
// dropped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace semlock::tls {

class Context {
 public:
  // A server context from `config`: certificate chain and key (checked to match), the allowed
  // versions and ciphers, client certificates per client_auth (with ca_file). `client_auth`
  // false: never asks for a client certificate (the metrics port). nullptr with `error`.
  static std::shared_ptr<Context> create(const config::TlsConfig& config, bool client_auth,
                                         std::string& error);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit Context(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// One connection's TLS state.
struct Session {
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // ciphertext read from the socket, owned by ssl
  BIO* wbio = nullptr;  // ciphertext to write to the socket, owned by ssl
  // Plaintext bytes inside the ciphertext being written (counted as sent once it is).
  std::uint64_t plain_in_flight = 0;
  bool shutdown_sent = false;
  bool failed = false;  // handshake or record error: closed without further writes
};

Session* new_session(Context& ctx);
void free_session(Session* s);

// The subject of the peer's verified certificate ("" without one), for logs and CLIENT LIST.
std::string peer_subject(const Session& s);

// The OpenSSL error queue as one line (and cleared).
std::string last_error();

}  // namespace semlock::tls
