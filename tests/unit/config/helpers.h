#pragma once

// Shared by the config tests: run load() with a literal command line and environment, and write
// a config file in a private temporary directory.

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

// The error of loading `json` (empty when it loads).
inline std::string json_error(const std::string& json) {
  return load_json_text(json).error;
}

}  // namespace semlock::config::testing
