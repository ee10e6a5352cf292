// OpenSSL 3 contexts and sessions (see tls.h).
#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace semlock::tls {

std::string last_error() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("unknown TLS error") : out;
}

std::shared_ptr<Context> Context::create(const config::TlsConfig& config, bool client_auth,
                                         std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "tls: " + last_error();
    return nullptr;
  }
  auto fail = [&](const std::string& what) -> std::shared_ptr<Context> {
    error = what + ": " + last_error();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  const bool v12 = config.protocols.find("TLSv1.2") != std::string::npos;
  const bool v13 = config.protocols.find("TLSv1.3") != std::string::npos;
  SSL_CTX_set_min_proto_version(ctx, v12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Idle connections give their record buffers back; renegotiation is a DoS lever we don't need.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (!config.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, config.ciphers.c_str()) != 1) {
    return fail("tls.ciphers \"" + config.ciphers + "\"");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) != 1) {
    return fail("tls.cert_file \"" + config.cert_file + "\"");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("tls.key_file \"" + config.key_file + "\"");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail("tls.key_file \"" + config.key_file + "\" does not match tls.cert_file");
  }
  if (client_auth && config.client_auth != "none") {
    if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
      return fail("tls.ca_file \"" + config.ca_file + "\"");
    }
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    int mode = SSL_VERIFY_PEER;
    if (config.client_auth == "required") mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  }
  // Session resumption needs a context id once clients are verified.
  static const unsigned char kSid[] = "ttl-semlock";
  SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
  return std::shared_ptr<Context>(new Context(ctx));
}

Context::~Context() {
  SSL_CTX_free(ctx_);
}

Session* new_session(Context& ctx) {
  auto* s = new Session();
  s->ssl = SSL_new(ctx.get());
  s->rbio = BIO_new(BIO_s_mem());
  s->wbio = BIO_new(BIO_s_mem());
  // An empty read BIO means "wait for more", not end of file.
  BIO_set_mem_eof_return(s->rbio, -1);
  BIO_set_mem_eof_return(s->wbio, -1);
  SSL_set_bio(s->ssl, s->rbio, s->wbio);
  SSL_set_accept_state(s->ssl);
  return s;
}

void free_session(Session* s) {
  if (s == nullptr) return;
  SSL_free(s->ssl);  // frees both BIOs
  delete s;
}

std::string peer_subject(const Session& s) {
  X509* cert = SSL_get0_peer_certificate(s.ssl);
  if (cert == nullptr || SSL_get_verify_result(s.ssl) != X509_V_OK) return {};
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

}  // namespace semlock::tls
