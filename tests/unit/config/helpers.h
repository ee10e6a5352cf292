#pragma once

// Shared by the config tests: run load() with a literal command line and environment, and write
// a config file in a private temporary directory.

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <unistd.h>

#include "config/config.h"

namespace semlock::config::testing {

// load() with argv = {"ttl-semlock", args...} and exactly `env` as the environment.
inline LoadResult run(std::initializer_list<std::string> args,
                      std::initializer_list<std::string> env = {}) {
  std::vector<std::string> arg_store = {"ttl-semlock"};
  arg_store.insert(arg_store.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& a : arg_store) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<std::string> env_store(env);
  std::vector<const char*> envp;
  for (const std::string& e : env_store) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return load(static_cast<int>(arg_store.size()), argv.data(), envp.data());
}

// A file with `text`, removed (with its directory) when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& text, const std::string& name = "config.json") {
    dir_ = std::filesystem::temp_directory_path() /
           ("semlock-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    path_ = dir_ / name;
    std::ofstream(path_) << text;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  std::string path() const { return path_.string(); }
  std::string dir() const { return dir_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::filesystem::path path_;
};

// The values both every_key_loads tests set, through the file (file_test.cc) and through the
// environment (env_test.cc); each checks the keys it sets beyond these itself.
inline void check_every_key(const Config& c) {
  BOOST_TEST(c.server.host == "0.0.0.0");
  BOOST_TEST(c.server.port == 7000);
  BOOST_TEST(c.server.max_connections == 5u);
  BOOST_TEST(c.server.max_request_bytes == 2048u);
  BOOST_TEST(c.server.idle_timeout == 30000);
  BOOST_TEST(c.server.tcp_keepalive == 0);
  BOOST_TEST(c.limits.max_locks == 7u);
  BOOST_TEST(c.limits.max_memory_mb == 0u);
  BOOST_TEST(c.limits.warn_threshold == 0.5);
  BOOST_TEST(!c.limits.reject_requests);
  BOOST_TEST(c.limits.max_waiters == 0u);
  BOOST_TEST(c.limits.max_permits == 3u);
  BOOST_TEST(c.limits.max_ttl == 3600000);
  BOOST_TEST(c.limits.max_key_bytes == 64u);
  BOOST_TEST(c.cleanup.interval == 2000);
  BOOST_TEST(c.cleanup.resolution == 5);
  BOOST_TEST(c.cleanup.max_expiries_per_tick == 10u);
  BOOST_TEST(c.security.auth_required);
  BOOST_TEST((c.security.api_keys == std::vector<std::string>{"k1", "k2"}));
  BOOST_TEST((c.security.admin_api_keys == std::vector<std::string>{"a1"}));
  BOOST_TEST(c.security.require_owner);
  BOOST_TEST(c.metrics.host == "10.0.0.1");
  BOOST_TEST(c.metrics.port == 9000);
  BOOST_TEST(!c.metrics.enabled);
  BOOST_TEST(c.logging.level == "debug");
  BOOST_TEST(c.logging.format == "json");
  BOOST_TEST(c.logging.file == "/tmp/x.log");
  BOOST_TEST(c.persistence.enabled);
  BOOST_TEST(c.persistence.dir == "/srv/d");
  BOOST_TEST(c.persistence.snapshot_every_bytes == 1000u);
  BOOST_TEST(c.persistence.snapshot_interval == 60000);
}

// The error of loading `json` (empty when it loads).
inline std::string json_error(const std::string& json) {
  return load_json_text(json).error;
}

}  // namespace semlock::config::testing
