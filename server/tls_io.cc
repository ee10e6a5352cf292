// TLS connections over libuv streams (see tls.h): ciphertext read from the socket goes into the
// session's read BIO and comes out as plaintext for the usual request path; replies are encrypted
// into the write BIO and its bytes written to the socket. Only connections with a session get
// here: the plain path pays one null check on read and one on write.
//
// Happy path: accept -> handshake records (read, answered from the write BIO) -> application data
// decrypted into `tls_plain_`, handled as a plain read would be -> replies in `out` encrypted as a
// whole on flush -> the ciphertext written with uv_try_write, the rest with uv_write.
// Failure modes: a handshake or record error (bad certificate, no client certificate under
// client_auth: required, garbage) logs the client's address (rate-limited), sends the alert
// OpenSSL produced and closes. A peer's close_notify is an EOF: what was read is answered, then
// closed. On any close after a clean exchange we send close_notify first.
#include <poll.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/logging.h"
#include "server/protect.h"
#include "server/server.h"
#include "server/tls.h"

namespace semlock {
namespace {

constexpr std::size_t kPlainChunk = 16 * 1024;  // one TLS record's worth of plaintext

}  // namespace

bool Server::tls_start() {
  std::string error;
  if (config_.tls.enabled) {
    lock_tls_ = tls::Context::create(config_.tls, true, error);
    if (!lock_tls_) {
      log::error("Cannot set up TLS: " + error);
      return false;
    }
  }
  if (config_.metrics.enabled && config_.metrics.tls) {
    metrics_tls_ = tls::Context::create(config_.tls, false, error);
    if (!metrics_tls_) {
      log::error("Cannot set up TLS for the metrics port: " + error);
      return false;
    }
  }
  protected_plain_ = config_.server.port != 0 && protect::applies(config_, false);
  protected_tls_ = config_.tls.enabled && protect::applies(config_, true);
  return true;
}

bool Server::tls_listen() {
  if (!config_.tls.enabled) return true;
  if (!listen_on(tls_listener_, config_.server.host, config_.tls.port)) return false;
  tls_listening_ = true;
  return true;
}

void Server::tls_close_listener() {
  if (!tls_listening_) return;
  tls_listening_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&tls_listener_), nullptr);
}

void Server::tls_reload() {
  std::string error;
  if (config_.tls.enabled) {
    auto fresh = tls::Context::create(config_.tls, true, error);
    if (!fresh) {
      log::error("TLS certificates not reloaded, the previous ones stay in use: " + error);
    } else {
      lock_tls_ = std::move(fresh);
      log::info("TLS certificates reloaded (new connections use them)");
    }
  }
  if (metrics_tls_) {
    auto fresh = tls::Context::create(config_.tls, false, error);
    if (!fresh) {
      log::error("Metrics TLS certificates not reloaded: " + error);
    } else {
      metrics_tls_ = std::move(fresh);
    }
  }
}

void Server::on_plaintext(Connection& c, std::string_view data) {
  c.last_activity = now_ms();
  if (c.in.empty()) {
    process_input(c, data, true);
  } else {
    c.in.append(data);
    process_input(c, c.in, false);
  }
}

void Server::tls_on_read(Connection& c, std::string_view cipher) {
  tls::Session& t = *c.tls;
  c.last_activity = now_ms();
  BIO_write(t.rbio, cipher.data(), static_cast<int>(cipher.size()));
  if (tls_plain_.size() < kPlainChunk) tls_plain_.resize(kPlainChunk);
  while (!c.closed && !c.close_after_write && !t.failed) {
    ERR_clear_error();
    const int n = SSL_read(t.ssl, tls_plain_.data(), static_cast<int>(tls_plain_.size()));
    if (n > 0) {
      on_plaintext(c, std::string_view(tls_plain_.data(), static_cast<std::size_t>(n)));
      continue;
    }
    const int err = SSL_get_error(t.ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      // close_notify: an EOF; every request already read is answered first.
      c.read_eof = true;
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.handle));
      c.reading = false;
      c.close_after_write = true;
      break;
    }
    t.failed = true;
    const std::string why = tls::last_error();
    note_security_event(SSL_is_init_finished(t.ssl) ? "TLS record error, closing"
                                                    : "TLS handshake failed",
                        c.client.addr + " (" + why + ")");
    if (!SSL_is_init_finished(t.ssl)) metrics_.count_auth_failure();
    c.out.clear();
    c.close_after_write = true;
  }
  if (!c.closed) flush(c);
}

bool Server::tls_flush(Connection& c) {
  if (c.writing) return true;
  tls::Session& t = *c.tls;
  if (!t.failed && SSL_is_init_finished(t.ssl)) {
    if (!c.out.empty()) {
      // The write BIO grows as needed, so the whole reply is taken at once.
      ERR_clear_error();
      const int n = SSL_write(t.ssl, c.out.data(), static_cast<int>(c.out.size()));
      if (n <= 0) {
        close_connection(c);
        return false;
      }
      t.plain_in_flight += static_cast<std::uint64_t>(n);
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    if (c.close_after_write && c.out.empty() && !t.shutdown_sent) {
      t.shutdown_sent = true;
      SSL_shutdown(t.ssl);
    }
  } else if (t.failed) {
    c.out.clear();
  }
  const std::size_t pending = BIO_ctrl_pending(t.wbio);
  if (pending == 0) return true;
  if (c.undelivered_grants.has_waiter_grant() && peer_closed(c)) {
    close_connection(c);
    return false;
  }
  buffer_pool_.fill(c.inflight);
  c.inflight.resize(pending);
  BIO_read(t.wbio, c.inflight.data(), static_cast<int>(pending));
  uv_buf_t b = uv_buf_init(c.inflight.data(), static_cast<unsigned>(c.inflight.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&c.handle);
  int n = uv_try_write(stream, &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) {
    close_connection(c);
    return false;
  }
  if (static_cast<std::size_t>(n) == c.inflight.size()) {
    note_sent(c, t.plain_in_flight);
    t.plain_in_flight = 0;
    give_buffer(c.inflight);
    return true;
  }
  c.inflight.erase(0, static_cast<std::size_t>(n));
  c.writing = true;
  b = uv_buf_init(c.inflight.data(), static_cast<unsigned>(c.inflight.size()));
  if (uv_write(&c.write_req, stream, &b, 1, tls_write_cb) != 0) {
    c.writing = false;
    close_connection(c);
    return false;
  }
  return true;
}

void Server::tls_write_cb(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->handle->data);
  c->writing = false;
  if (c->closed) return;  // buffers are released in close_cb
  Server* self = c->server;
  if (status == 0) {
    note_sent(*c, c->tls->plain_in_flight);
    c->tls->plain_in_flight = 0;
  }
  self->give_buffer(c->inflight);
  if (status < 0) {
    self->close_connection(*c);
  } else {
    self->flush(*c);
    if (c->can_execute() && !c->in.empty()) self->ready_.push_back(c->id);
  }
  self->drain();
}

}  // namespace semlock
