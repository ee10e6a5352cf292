// The log line formats of SPEC §6, written to a real file and read back.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "server/logging.h"

namespace {

std::string temp_path(const char* name) {
  return std::string("/tmp/semlock-logtest-") + std::to_string(::getpid()) + "-" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(text_format_has_iso_time_with_offset_and_ttlsemlock_level_names) {
  const std::string path = temp_path("text.log");
  std::remove(path.c_str());
  BOOST_REQUIRE_EQUAL(semlock::log::setup({"debug", "text", path}), "");
  semlock::log::warn("Lock count warning: 85.2% of limit (85234/100000)");
  semlock::log::info("hello", {{"k", "v"}});
  semlock::log::error("bad");
  semlock::log::debug("dbg");
  const std::string text = read_file(path);
  const std::regex warn_line(
      R"(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] warn: Lock count warning: 85\.2% of limit \(85234/100000\)\n)");
  BOOST_TEST(std::regex_search(text, warn_line), text);
  BOOST_TEST(text.find("] info: hello k=v\n") != std::string::npos, text);
  BOOST_TEST(text.find("] error: bad\n") != std::string::npos, text);
  BOOST_TEST(text.find("] debug: dbg\n") != std::string::npos, text);
  BOOST_TEST(text.find("] warning:") == std::string::npos,
             "spdlog's own level name leaked: " + text);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(json_format_is_one_object_a_line_with_fields_and_escapes) {
  const std::string path = temp_path("json.log");
  std::remove(path.c_str());
  BOOST_REQUIRE_EQUAL(semlock::log::setup({"info", "json", path}), "");
  semlock::log::warn("quote \" and\nnewline", {{"reason", "max_locks_reached"}});
  semlock::log::debug("not shown at info");
  const std::string text = read_file(path);
  const std::regex line(
      R"(^\{"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","level":"warn","message":"quote \\" and\\nnewline","reason":"max_locks_reached"\}\n$)");
  BOOST_TEST(std::regex_match(text, line), text);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(reopen_writes_to_a_new_file_after_rotation) {
  const std::string path = temp_path("rotate.log");
  const std::string moved = path + ".1";
  std::remove(path.c_str());
  std::remove(moved.c_str());
  BOOST_REQUIRE_EQUAL(semlock::log::setup({"info", "text", path}), "");
  semlock::log::info("before");
  BOOST_REQUIRE_EQUAL(std::rename(path.c_str(), moved.c_str()), 0);
  BOOST_REQUIRE_EQUAL(semlock::log::reopen(), "");
  semlock::log::info("after");
  BOOST_TEST(read_file(moved).find("before") != std::string::npos);
  BOOST_TEST(read_file(path).find("after") != std::string::npos);
  BOOST_TEST(read_file(moved).find("after") == std::string::npos);
  std::remove(path.c_str());
  std::remove(moved.c_str());
}

BOOST_AUTO_TEST_CASE(unwritable_log_file_is_an_error_naming_the_key) {
  const std::string err = semlock::log::setup({"info", "text", "/etc/passwd/x.log"});
  BOOST_TEST(err.rfind("logging.file: cannot open /etc/passwd/x.log", 0) == 0, err);
  BOOST_REQUIRE_EQUAL(semlock::log::setup({"info", "text", ""}), "");
}
