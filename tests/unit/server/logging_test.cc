// The log line formats of SPEC §6, written to a real file and read back.
#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include <cmath>
#include <cstdint>
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

// Issue 16: JSON logs carry numbers as numbers and booleans as booleans, read back with a JSON
// parser; text logs print the same values as k=v.
BOOST_AUTO_TEST_CASE(json_fields_are_typed_numbers_and_booleans) {
  const std::string path = temp_path("typed.log");
  std::remove(path.c_str());
  BOOST_REQUIRE_EQUAL(semlock::log::setup({"info", "json", path}), "");
  semlock::log::info(
      "typed", {{"count", 42},
                {"fence", std::uint64_t{18446744073709551615ull}},
                {"delta", std::int64_t{-5}},
                {"ratio", 0.25},
                {"on", true},
                {"off", false},
                {"name", "x"},
                {"digits", std::string("123")},  // a string stays a string, even if numeric
                {"nan", std::nan("")}});
  const std::string text = read_file(path);
  BOOST_REQUIRE(!text.empty() && text.back() == '\n');
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size() - 1);
  BOOST_REQUIRE_MESSAGE(!d.HasParseError() && d.IsObject(), text);
  BOOST_TEST((d["count"].IsInt() && d["count"].GetInt() == 42), text);
  BOOST_TEST((d["fence"].IsUint64() && d["fence"].GetUint64() == 18446744073709551615ull), text);
  BOOST_TEST((d["delta"].IsInt64() && d["delta"].GetInt64() == -5), text);
  BOOST_TEST((d["ratio"].IsDouble() && d["ratio"].GetDouble() == 0.25), text);
  BOOST_TEST((d["on"].IsBool() && d["on"].GetBool()), text);
  BOOST_TEST((d["off"].IsBool() && !d["off"].GetBool()), text);
  BOOST_TEST(d["name"].IsString(), text);
  BOOST_TEST((d["digits"].IsString() && std::string(d["digits"].GetString()) == "123"), text);
  BOOST_TEST((d["nan"].IsString() && std::string(d["nan"].GetString()) == "nan"), text);
  std::remove(path.c_str());

  BOOST_REQUIRE_EQUAL(semlock::log::setup({"info", "text", path}), "");
  semlock::log::info("typed", {{"count", 42}, {"ratio", 0.25}, {"on", true}, {"name", "x"}});
  BOOST_TEST(read_file(path).find("] info: typed count=42 ratio=0.25 on=true name=x\n") !=
                 std::string::npos,
             read_file(path));
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
