// SPEC §8's additions to the table: security.protected_mode and security.api_keys_file, the
// `tls` section and metrics.tls, and the checks across them (a keys file that can be read, TLS
// with its certificate, the plain port off only with TLS on).
#include <cerrno>
#include <cstring>
#include <fstream>

#include "config/keys.h"

namespace semlock::config::detail {
namespace {

KeySpec bool_spec(std::string_view section, std::string_view name, std::string_view help,
                  bool& (*ref)(Config&), bool (*get)(const Config&)) {
  return KeySpec{section,
                 name,
                 help,
                 "BOOL",
                 KeyKind::kCurrent,
                 [ref](Config& c, const Input& in) -> std::string {
                   auto parsed = read_bool(in);
                   if (!parsed.value) return parsed.error;
                   ref(c) = *parsed.value;
                   return {};
                 },
                 [get](const Config& c) -> std::string { return get(c) ? "true" : "false"; }};
}

KeySpec text_spec(std::string_view section, std::string_view name, std::string_view help,
                  std::string& (*ref)(Config&), const std::string& (*get)(const Config&)) {
  return KeySpec{section,
                 name,
                 help,
                 "TEXT",
                 KeyKind::kCurrent,
                 [ref](Config& c, const Input& in) -> std::string {
                   auto parsed = read_string(in, false);
                   if (!parsed.value) return parsed.error;
                   ref(c) = std::move(*parsed.value);
                   return {};
                 },
                 [get](const Config& c) { return quote(get(c)); }};
}

// "TLSv1.2 TLSv1.3", "TLSv1.3", "TLSv1.2,TLSv1.3": the versions OpenSSL 3 still offers.
std::string check_protocols(std::string_view text) {
  bool any = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find_first_of(" ,", pos);
    const std::string_view item = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (!item.empty()) {
      if (item != "TLSv1.2" && item != "TLSv1.3") {
        return "must list TLSv1.2 and/or TLSv1.3, got " + quote(item);
      }
      any = true;
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return any ? std::string() : "must list TLSv1.2 and/or TLSv1.3, got \"\"";
}

std::string read_keys_file(Config& config) {
  const std::string& path = config.security.api_keys_file;
  std::ifstream in(path);
  if (!in) {
    return "security.api_keys_file: cannot read " + quote(path) + ": " + std::strerror(errno);
  }
  std::string line;
  std::size_t added = 0;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    config.security.api_keys.push_back(line.substr(first, last - first + 1));
    ++added;
  }
  if (in.bad()) return "security.api_keys_file: cannot read " + quote(path);
  if (added == 0) return "security.api_keys_file: " + quote(path) + " holds no key";
  return {};
}

}  // namespace

void add_security_keys(std::vector<KeySpec>& keys) {
  keys.push_back(bool_spec(
      "security", "protected_mode",
      "with no API key on a non-loopback address, serve loopback clients only (false = off)",
      [](Config& c) -> bool& { return c.security.protected_mode; },
      [](const Config& c) { return c.security.protected_mode; }));
  keys.push_back(text_spec(
      "security", "api_keys_file",
      "file of API keys, one a line (env also TTLSEMLOCK_API_KEYS_FILE); reread on SIGHUP",
      [](Config& c) -> std::string& { return c.security.api_keys_file; },
      [](const Config& c) -> const std::string& { return c.security.api_keys_file; }));

  keys.push_back(bool_spec(
      "tls", "enabled", "serve the TLS lock port",
      [](Config& c) -> bool& { return c.tls.enabled; }, [](const Config& c) { return c.tls.enabled; }));
  keys.push_back(KeySpec{"tls", "port", "TLS lock port (RESP, JSON lines, HTTP over TLS)", "INT",
                         KeyKind::kCurrent,
                         [](Config& c, const Input& in) -> std::string {
                           auto parsed = read_uint(in, 1, 65535);
                           if (!parsed.value) return parsed.error;
                           c.tls.port = static_cast<std::uint16_t>(*parsed.value);
                           return {};
                         },
                         [](const Config& c) { return std::to_string(c.tls.port); }});
  keys.push_back(text_spec(
      "tls", "cert_file", "certificate chain (PEM), reloaded on SIGHUP",
      [](Config& c) -> std::string& { return c.tls.cert_file; },
      [](const Config& c) -> const std::string& { return c.tls.cert_file; }));
  keys.push_back(text_spec(
      "tls", "key_file", "private key (PEM), reloaded on SIGHUP",
      [](Config& c) -> std::string& { return c.tls.key_file; },
      [](const Config& c) -> const std::string& { return c.tls.key_file; }));
  keys.push_back(text_spec(
      "tls", "ca_file", "CA certificates (PEM) that client certificates are checked against",
      [](Config& c) -> std::string& { return c.tls.ca_file; },
      [](const Config& c) -> const std::string& { return c.tls.ca_file; }));
  keys.push_back(KeySpec{"tls", "client_auth", "client certificates", "none|optional|required",
                         KeyKind::kCurrent,
                         [](Config& c, const Input& in) -> std::string {
                           auto parsed = read_choice(in, {"none", "optional", "required"});
                           if (!parsed.value) return parsed.error;
                           c.tls.client_auth = std::move(*parsed.value);
                           return {};
                         },
                         [](const Config& c) { return c.tls.client_auth; }});
  keys.push_back(KeySpec{"tls", "protocols", "TLS versions allowed", "TEXT", KeyKind::kCurrent,
                         [](Config& c, const Input& in) -> std::string {
                           auto parsed = read_string(in, true);
                           if (!parsed.value) return parsed.error;
                           if (std::string e = check_protocols(*parsed.value); !e.empty()) {
                             return e;
                           }
                           c.tls.protocols = std::move(*parsed.value);
                           return {};
                         },
                         [](const Config& c) { return quote(c.tls.protocols); }});
  keys.push_back(text_spec(
      "tls", "ciphers", "OpenSSL cipher list for TLS 1.2 (\"\" = OpenSSL's default)",
      [](Config& c) -> std::string& { return c.tls.ciphers; },
      [](const Config& c) -> const std::string& { return c.tls.ciphers; }));
  keys.push_back(bool_spec(
      "metrics", "tls", "serve the metrics port over TLS (tls.cert_file, tls.key_file)",
      [](Config& c) -> bool& { return c.metrics.tls; }, [](const Config& c) { return c.metrics.tls; }));
}

std::string finalize_security(Config& config) {
  if (!config.security.api_keys_file.empty()) {
    if (std::string error = read_keys_file(config); !error.empty()) return error;
  }
  const TlsConfig& tls = config.tls;
  const bool needs_cert = tls.enabled || (config.metrics.enabled && config.metrics.tls);
  const char* who = tls.enabled ? "tls.enabled" : "metrics.tls";
  if (needs_cert && tls.cert_file.empty()) {
    return std::string("tls.cert_file: required when ") + who + " is true";
  }
  if (needs_cert && tls.key_file.empty()) {
    return std::string("tls.key_file: required when ") + who + " is true";
  }
  if (tls.enabled && tls.client_auth != "none" && tls.ca_file.empty()) {
    return "tls.ca_file: required when tls.client_auth is " + tls.client_auth;
  }
  if (config.server.port == 0 && !tls.enabled) {
    return "server.port: 0 turns the plain port off, which needs tls.enabled";
  }
  if (tls.enabled && tls.port == config.server.port) {
    return "tls.port: must differ from server.port (" + std::to_string(config.server.port) + ")";
  }
  if (tls.enabled && config.metrics.enabled && tls.port == config.metrics.port) {
    return "tls.port: must differ from metrics.port (" + std::to_string(config.metrics.port) +
           ")";
  }
  return {};
}

}  // namespace semlock::config::detail
