// Hostile scripts against the real binary (issue 12, "Scripting"): the ones that used to end the
// process, hang it for good (SIGTERM ignored) or break mutual exclusion for other clients. After
// each, another connection is still answered, a lock taken before is still held, and at the end
// the server stops on SIGTERM with exit code 0 (the fixture's destructor checks it).
#define BOOST_TEST_MODULE it_scripting
#include <boost/test/unit_test.hpp>
#include <regex>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

namespace {

// The number of ms in "ERR script stopped after <n> ms; <tail>", or -1 when the text differs.
long stopped_after(const RespValue& v, const std::string& tail) {
  static const std::regex re("ERR script stopped after ([0-9]+) ms; (.*)");
  std::smatch m;
  if (v.type != RespValue::Type::kError || !std::regex_match(v.str, m, re) || m[2] != tail) {
    return -1;
  }
  return std::stol(m[1]);
}

// Another client is answered and the lock taken at the start is still held by its owner.
void check_serving(const Server& s) {
  RespConn other(s.port());
  BOOST_TEST(other.cmd({"PING"}).str == "PONG");
  BOOST_TEST(other.cmd({"GET", "held"}).str == "owner-a");
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_scripts_neither_end_nor_hang_the_server) {
  Server s(ServerOptions().with_config(R"("scripting":{"max_ms":100})"));
  RespConn c(s.port());
  BOOST_REQUIRE(c.cmd({"SET", "held", "owner-a", "NX", "PX", "600000"}).str == "OK");

  // Finding: the process exited with status 1.
  auto r = c.cmd({"EVAL",
                  "local p=newproxy(true); getmetatable(p).__gc=function() error('x') end; p=nil; "
                  "return 1",
                  "0"});
  BOOST_TEST(r.str ==
             "ERR user_script:1: Script attempted to access nonexistent global variable "
             "'newproxy'");
  check_serving(s);
  // Finding: 100% CPU forever, SIGTERM ignored.
  r = c.cmd({"EVAL",
             "local p=newproxy(true); getmetatable(p).__gc=function() while true do end end; "
             "p=nil; return 1",
             "0"});
  BOOST_TEST((r.type == RespValue::Type::kError));
  check_serving(s);
  // Finding: RSS grew ~45 MB/s and the loop stalled.
  r = c.cmd({"EVAL", "local t={} for i=1,4 do t[i]=t end return t", "0"});
  BOOST_TEST(r.str == "ERR reply too large");
  check_serving(s);
  // Finding: a failed write exempted the script from the budget.
  r = c.cmd({"EVAL", "redis.pcall('del') while true do end", "0"});
  BOOST_TEST(stopped_after(r, "it had written nothing") >= 100, r.str);
  check_serving(s);
  r = c.cmd({"EVAL", "redis.call('set', KEYS[1], 'w') while true do end", "1", "written"});
  BOOST_TEST(stopped_after(r, "its writes were kept") >= 100, r.str);
  BOOST_TEST(c.cmd({"GET", "written"}).str == "w");
  // Finding: C functions ran outside the budget (6-60+ s stalls).
  r = c.cmd({"EVAL", "return #string.rep('', 2147483647)", "0"});
  BOOST_TEST(r.integer == 0);
  r = c.cmd({"EVAL", "return string.find(string.rep('a', 40), string.rep('a*', 30) .. 'b')", "0"});
  BOOST_TEST(stopped_after(r, "it had written nothing") >= 100, r.str);
  r = c.cmd({"EVAL", "while true do pcall(function() while true do end end) end", "0"});
  BOOST_TEST(stopped_after(r, "it had written nothing") >= 100, r.str);
  r = c.cmd({"EVAL", "coroutine.wrap(function() while true do end end)()", "0"});
  BOOST_TEST(stopped_after(r, "it had written nothing") >= 100, r.str);
  check_serving(s);
  BOOST_TEST(s.running());
}

// Finding: after `redis.call=function(...) return {ok='OK'} end`, every client's SET NX script
// answered OK: two owners held one lock.
BOOST_AUTO_TEST_CASE(a_script_cannot_turn_off_mutual_exclusion_for_others) {
  Server s;
  const std::string acquire = "return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', 30000)";
  RespConn first(s.port());
  RespConn attacker(s.port());
  RespConn second(s.port());
  BOOST_TEST(first.cmd({"EVAL", acquire, "1", "k", "first"}).str == "OK");
  BOOST_TEST(attacker.cmd({"EVAL", "redis.call=function(...) return {ok='OK'} end", "0"}).str ==
             "ERR user_script:1: Attempt to modify a readonly table");
  BOOST_TEST(
      attacker.cmd({"EVAL", "rawset(redis, 'call', function() return {ok='OK'} end)", "0"}).str ==
      "ERR user_script:1: Attempt to modify a readonly table");
  const RespValue r = second.cmd({"EVAL", acquire, "1", "k", "second"});
  BOOST_TEST((r.type == RespValue::Type::kNull));
  BOOST_TEST(second.cmd({"GET", "k"}).str == "first");
}

// TTLSEMLOCK_SCRIPTING_MAX_MS reaches the scripting host: a script is never stopped before it.
BOOST_AUTO_TEST_CASE(scripting_max_ms_comes_from_the_environment) {
  Server s(ServerOptions().with_env({"TTLSEMLOCK_SCRIPTING_MAX_MS=1500"}));
  RespConn c(s.port());
  const RespValue r = c.cmd({"EVAL", "while true do end", "0"}, Ms{20000});
  BOOST_TEST(stopped_after(r, "it had written nothing") >= 1500, r.str);
}
