// SPEC §7/§8 additions: security.protected_mode, security.api_keys_file (and
// TTLSEMLOCK_API_KEYS_FILE), the tls section, metrics.tls and the plain port turned off.

#include <boost/test/unit_test.hpp>

#include "config/config.h"
#include "tests/unit/config/helpers.h"

namespace semlock::config {
namespace {

using testing::json_error;
using testing::run;
using testing::TempFile;

BOOST_AUTO_TEST_SUITE(security_keys)

BOOST_AUTO_TEST_CASE(defaults) {
  const Config c;
  BOOST_TEST(c.security.protected_mode);
  BOOST_TEST(!c.tls.enabled);
  BOOST_TEST(c.tls.client_auth == "none");
  BOOST_TEST(!c.metrics.tls);
}

BOOST_AUTO_TEST_CASE(keys_file_adds_keys_and_turns_auth_on) {
  TempFile keys("# rotated 2026-01\nk-one\n\n  k-two  \r\n", "keys");
  const LoadResult r = run({}, {"TTLSEMLOCK_API_KEYS_FILE=" + keys.path()});
  BOOST_TEST(r.error == "");
  BOOST_TEST((r.config.security.api_keys == std::vector<std::string>{"k-one", "k-two"}));
  BOOST_TEST(r.config.security.auth_required);
  TempFile cfg(R"({"security":{"api_keys":["k0"],"api_keys_file":")" + keys.path() + "\"}}");
  const LoadResult f = run({"--config", cfg.path()});
  BOOST_TEST(f.error == "");
  BOOST_TEST((f.config.security.api_keys == std::vector<std::string>{"k0", "k-one", "k-two"}));
}

BOOST_AUTO_TEST_CASE(keys_file_errors_name_the_key) {
  BOOST_TEST(run({}, {"TTLSEMLOCK_API_KEYS_FILE=/nonexistent/keys"}).error ==
             "security.api_keys_file: cannot read \"/nonexistent/keys\": No such file or directory");
  TempFile empty("# nothing yet\n\n", "keys");
  BOOST_TEST(run({}, {"TTLSEMLOCK_SECURITY_API_KEYS_FILE=" + empty.path()}).error ==
             "security.api_keys_file: \"" + empty.path() + "\" holds no key");
}

BOOST_AUTO_TEST_CASE(tls_needs_its_files) {
  BOOST_TEST(json_error(R"({"tls":{"enabled":true}})") ==
             "tls.cert_file: required when tls.enabled is true");
  BOOST_TEST(json_error(R"({"tls":{"enabled":true,"cert_file":"c.pem"}})") ==
             "tls.key_file: required when tls.enabled is true");
  BOOST_TEST(json_error(R"({"metrics":{"tls":true}})") ==
             "tls.cert_file: required when metrics.tls is true");
  BOOST_TEST(json_error(
                 R"({"tls":{"enabled":true,"cert_file":"c","key_file":"k","client_auth":"required"}})") ==
             "tls.ca_file: required when tls.client_auth is required");
  BOOST_TEST(json_error(R"({"tls":{"client_auth":"sometimes"}})") ==
             "tls.client_auth: must be one of none, optional, required, got \"sometimes\"");
  BOOST_TEST(json_error(R"({"tls":{"protocols":"TLSv1.1"}})") ==
             "tls.protocols: must list TLSv1.2 and/or TLSv1.3, got \"TLSv1.1\"");
  BOOST_TEST(json_error(R"({"tls":{"protocols":"TLSv1.3, TLSv1.2"}})") == "");
  BOOST_TEST(json_error(R"({"tls":{"port":0}})") == "tls.port: must be 1..65535, got 0");
}

BOOST_AUTO_TEST_CASE(plain_port_off_only_with_tls) {
  BOOST_TEST(json_error(R"({"server":{"port":0},"tls":{"enabled":true,"cert_file":"c","key_file":"k"}})") ==
             "");
  BOOST_TEST(json_error(R"({"server":{"port":8766},"tls":{"enabled":true,"cert_file":"c","key_file":"k"}})") ==
             "tls.port: must differ from server.port (8766)");
  BOOST_TEST(json_error(R"({"metrics":{"port":8766},"tls":{"enabled":true,"cert_file":"c","key_file":"k"}})") ==
             "tls.port: must differ from metrics.port (8766)");
}

BOOST_AUTO_TEST_CASE(flags_and_env) {
  const LoadResult r = run({"--tls-port", "7443", "--tls-cert-file", "/c", "--tls-key-file", "/k"},
                           {"TTLSEMLOCK_TLS_ENABLED=true", "TTLSEMLOCK_SECURITY_PROTECTED_MODE=false"});
  BOOST_TEST(r.error == "");
  BOOST_TEST(r.config.tls.enabled);
  BOOST_TEST(r.config.tls.port == 7443);
  BOOST_TEST(r.config.tls.cert_file == "/c");
  BOOST_TEST(!r.config.security.protected_mode);
  BOOST_TEST(run({"--check-config"}).check_config);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::config
