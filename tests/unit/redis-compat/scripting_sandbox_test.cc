// Hostile scripts (issue 12, "Scripting"): each test is one way a single EVAL used to kill the
// server, hang it, or turn off mutual exclusion for other clients, and checks the exact reply
// and that the state keeps serving everyone else.
#include <boost/test/unit_test.hpp>
#include <regex>

#include "redis-compat/sha1.h"
#include "tests/unit/redis-compat/lock_scripts.h"
#include "tests/unit/redis-compat/test_host.h"

using semlock::test::Fixture;
using semlock::test::kPyRelease;  // redis-py's Lock release

namespace {

// An acquire through a script, as lock libraries that script their SET NX do.
const std::string kScriptedAcquire =
    "return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', 10000)";

const std::string kNoGlobal =
    "-ERR user_script:1: Script attempted to access nonexistent global variable '";
const std::string kReadonly = "-ERR user_script:1: Attempt to modify a readonly table\r\n";

// "-ERR script stopped after <n> ms; <tail>\r\n" with n >= min_ms.
bool stopped(const std::string& reply, std::string_view tail, long min_ms) {
  static const std::regex re("-ERR script stopped after ([0-9]+) ms; (.*)\r\n");
  std::smatch m;
  if (!std::regex_match(reply, m, re)) return false;
  return std::stol(m[1]) >= min_ms && m[2] == std::string(tail);
}

struct SandboxFixture : Fixture {
  SandboxFixture() { host.script_limits.max_ms = 50; }
  // The state still runs scripts and answers commands after an attack.
  void check_still_serving() {
    BOOST_TEST(run({"EVAL", "return 1 + 1", "0"}) == ":2\r\n");
    BOOST_TEST(run({"PING"}) == "+PONG\r\n");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(scripting_sandbox, SandboxFixture)

// Finding: newproxy + __gc = error() ended the process (status 1); __gc = endless loop hung it
// with SIGTERM ignored (finalizers run with hooks off). Nothing a script makes has a finalizer.
BOOST_AUTO_TEST_CASE(newproxy_gc_cannot_kill_or_hang_the_server) {
  BOOST_TEST(run({"EVAL",
                  "local p=newproxy(true); getmetatable(p).__gc=function() error('x') end; p=nil; "
                  "return 1",
                  "0"}) == kNoGlobal + "newproxy'\r\n");
  BOOST_TEST(run({"EVAL",
                  "local p=newproxy(true); getmetatable(p).__gc=function() while true do end end; "
                  "p=nil; return 1",
                  "0"}) == kNoGlobal + "newproxy'\r\n");
  // Userdata metatables are out of reach by every other road too.
  BOOST_TEST(run({"EVAL", "return setmetatable(io, {})", "0"}) == kNoGlobal + "io'\r\n");
  BOOST_TEST(run({"EVAL", "return debug.getregistry()", "0"}) == kNoGlobal + "debug'\r\n");
  BOOST_TEST(run({"EVAL", "return string.dump", "0"}) == "$-1\r\n");
  // __gc on a table does nothing in Lua 5.1.
  BOOST_TEST(run({"EVAL",
                  "setmetatable({}, {__gc = function() while true do end end}) "
                  "collectgarbage('collect') return 1",
                  "0"}) == ":1\r\n");
  BOOST_TEST(run({"EVAL", "collectgarbage('collect') return collectgarbage('count') > 0", "0"}) ==
             ":1\r\n");
  BOOST_TEST(run({"EVAL", "collectgarbage('stop')", "0"}) ==
             "-ERR user_script:1: collectgarbage option 'stop' is not allowed in scripts\r\n");
  check_still_serving();
}

// Finding: `t[i]=t` made the reply conversion expand without bound (RSS +45 MB/s, loop stalled).
BOOST_AUTO_TEST_CASE(reply_conversion_is_bounded_in_elements_and_bytes) {
  BOOST_TEST(run({"EVAL", "local t={} for i=1,4 do t[i]=t end return t", "0"}) ==
             "-ERR reply too large\r\n");
  host.script_limits.max_reply_elements = 1000;
  host.script_limits.max_reply_bytes = 64 * 1024;
  host.scripts.reset();
  BOOST_TEST(run({"EVAL", "local t={} for i=1,999 do t[i]=i end return t", "0"})
                 .starts_with("*999\r\n:1\r\n"));
  BOOST_TEST(run({"EVAL", "local t={} for i=1,1000 do t[i]=i end return t", "0"}) ==
             "-ERR reply too large\r\n");
  BOOST_TEST(run({"EVAL", "return {string.rep('x', 70000)}", "0"}) == "-ERR reply too large\r\n");
  BOOST_TEST(run({"EVAL", "return {err=string.rep('x', 70000)}", "0"}) ==
             "-ERR reply too large\r\n");
  // Shared (not cyclic) tables count every time they appear.
  BOOST_TEST(run({"EVAL",
                  "local a={1,2,3,4,5,6,7,8,9,10} local t={} for i=1,100 do t[i]=a end "
                  "return t",
                  "0"}) == "-ERR reply too large\r\n");
  check_still_serving();
}

// Finding: redis.pcall('del') (a failed write) marked the script as written, so the budget never
// stopped a following endless loop. Now no script outlasts max_ms, written or not.
BOOST_AUTO_TEST_CASE(failed_write_does_not_exempt_from_the_budget) {
  BOOST_TEST(stopped(run({"EVAL", "redis.pcall('del') while true do end", "0"}),
                     "it had written nothing", 50));
  check_still_serving();
}

BOOST_AUTO_TEST_CASE(a_script_that_wrote_is_stopped_and_its_writes_are_kept) {
  BOOST_TEST(stopped(run({"EVAL", "redis.call('set', KEYS[1], 'w') while true do end", "1", "k"}),
                     "its writes were kept", 50));
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nw\r\n");
  BOOST_TEST(stopped(run({"EVAL", "while true do end", "0"}), "it had written nothing", 50));
  // Reads are not writes; a loop of calls is stopped too.
  BOOST_TEST(stopped(run({"EVAL", "while true do redis.call('get', 'k') end", "0"}),
                     "it had written nothing", 50));
  // The next script gets a fresh budget.
  BOOST_TEST(run({"EVAL", "local n = 0 for i = 1, 1000 do n = n + i end return n", "0"}) ==
             ":500500\r\n");
}

BOOST_AUTO_TEST_CASE(the_stop_cannot_be_caught_or_escaped) {
  for (const char* body : {
           "while true do pcall(function() while true do end end) end",
           "while true do pcall(error, 'x') end",
           "while true do xpcall(function() while true do end end, function(e) return e end) end",
           // The handler would run with hooks off after the stop: it must not run then.
           "xpcall(function() while true do end end, function(e) while true do end end)",
           "local f = coroutine.wrap(function() while true do end end) f()",
           "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
           "local co = coroutine.create(function() while true do coroutine.yield() end end) "
           "while true do coroutine.resume(co) end",
           "local t = setmetatable({}, {__index = function(t, k) while true do end end}) "
           "return t.x",
           "while true do pcall(string.rep, 'x', 100000) end",
           "local s = string.rep('x', 1000000) while true do local u = s:upper() end",
           "local s = string.rep('x', 4000000) while true do local u = s .. s end",
       }) {
    BOOST_TEST(stopped(run({"EVAL", body, "0"}), "it had written nothing", 50), body);
  }
  check_still_serving();
}

// Finding: string.rep('', 2147483647) and backtracking patterns ran inside C, outside any budget
// (6-60+ s stalls).
BOOST_AUTO_TEST_CASE(long_running_c_functions_are_bounded) {
  BOOST_TEST(run({"EVAL", "return string.rep('', 2147483647)", "0"}) == "$0\r\n\r\n");
  BOOST_TEST(run({"EVAL", "return #string.rep('ab', 3)", "0"}) == ":6\r\n");
  BOOST_TEST(run({"EVAL", "return string.rep('abc', 2) .. ('x'):rep(0) .. ('y'):rep(-1)", "0"}) ==
             "$6\r\nabcabc\r\n");
  BOOST_TEST(run({"EVAL", "return string.rep('x', 2^40)", "0"}) ==
             "-ERR user_script:1: resulting string too large\r\n");
  BOOST_TEST(run({"EVAL", "return string.rep('x', 100000000)", "0"}) ==
             "-ERR user_script:1: resulting string too large\r\n");
  // Exponential backtracking, in every pattern function.
  const std::string subject = "string.rep('a', 40)";
  const std::string pattern = "string.rep('a*', 30) .. 'b'";
  for (const std::string& call :
       {"string.find(" + subject + ", " + pattern + ")",
        "string.match(" + subject + ", " + pattern + ")",
        "string.gsub(" + subject + ", " + pattern + ", '')",
        "string.gmatch(" + subject + ", " + pattern + ")()",
        "(string.gfind or string.gmatch)(" + subject + ", " + pattern + ")()",
        "string.find(" + subject + ", string.rep('a-', 30) .. 'b')"}) {
    BOOST_TEST(stopped(run({"EVAL", "return " + call, "0"}), "it had written nothing", 50), call);
  }
  // A plain find is quadratic in Lua 5.1.
  BOOST_TEST(stopped(run({"EVAL",
                          "local s = string.rep('a', 4000000) "
                          "return s:find(string.rep('a', 2000000) .. 'b', 1, true)",
                          "0"}),
                     "it had written nothing", 50));
  BOOST_TEST(run({"EVAL", "return unpack({}, 1, 10000000)", "0"}) ==
             "-ERR user_script:1: too many results to unpack\r\n");
  BOOST_TEST(run({"EVAL", "return {unpack({1, 2, 3})}", "0"}) == "*3\r\n:1\r\n:2\r\n:3\r\n");
  BOOST_TEST(run({"EVAL", "local t = {3, 1, 2} table.sort(t) return t", "0"}) ==
             "*3\r\n:1\r\n:2\r\n:3\r\n");
  BOOST_TEST(run({"EVAL",
                  "local t = {3, 1, 2} table.sort(t, function(a, b) return a > b end) "
                  "return t",
                  "0"}) == "*3\r\n:3\r\n:2\r\n:1\r\n");
  BOOST_TEST(run({"EVAL", "table.sort({1, 2}, 5)", "0"}) ==
             "-ERR user_script:1: bad argument #2 to 'sort' (function expected, got number)\r\n");
  // A C comparator never runs a Lua instruction: the sort counts its comparisons.
  BOOST_TEST(stopped(run({"EVAL",
                          "local t = {} for i = 1, 200000 do t[i] = (i * 7919) % 200000 end "
                          "while true do table.sort(t, rawequal) end",
                          "0"}),
                     "it had written nothing", 50));
  check_still_serving();
}

// Lua 5.1's pattern results, from the matcher that now counts its steps.
BOOST_AUTO_TEST_CASE(patterns_keep_lua_5_1_results) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"return {string.find('hello world', 'o w')}", "*2\r\n:5\r\n:7\r\n"},
      {"return {string.find('hello', 'l+')}", "*2\r\n:3\r\n:4\r\n"},
      {"return {string.find('a.b', '.', 1, true)}", "*2\r\n:2\r\n:2\r\n"},
      {"return {string.find('abc', 'b', -1)}", "*0\r\n"},
      {"return {string.find('key:42', '(%a+):(%d+)')}",
       "*4\r\n:1\r\n:6\r\n$3\r\nkey\r\n$2\r\n42\r\n"},
      {"return string.match('  trim  ', '^%s*(.-)%s*$')", "$4\r\ntrim\r\n"},
      {"return {string.match('hello', '()ll()')}", "*2\r\n:3\r\n:5\r\n"},
      {"return string.match('f(a(b)c)', '%b()')", "$7\r\n(a(b)c)\r\n"},
      {"return string.match('THE (quick) fox', '%f[%a]%a+')", "$3\r\nTHE\r\n"},
      {"return string.match('abcabc', '(abc)%1')", "$3\r\nabc\r\n"},
      {"return string.match('x=[a-z]', '[%[]')", "$1\r\n[\r\n"},
      {"return string.match('2024', '^[^%a]+$')", "$4\r\n2024\r\n"},
      {"local t = {} for w in string.gmatch('one two  three', '%a+') do t[#t+1] = w end return t",
       "*3\r\n$3\r\none\r\n$3\r\ntwo\r\n$5\r\nthree\r\n"},
      {"local t = {} for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1] = k..v end "
       "return t",
       "*2\r\n$2\r\na1\r\n$2\r\nb2\r\n"},
      {"return {string.gsub('hello world', 'o', '0')}", "*2\r\n$11\r\nhell0 w0rld\r\n:2\r\n"},
      {"return {string.gsub('hello', '', '-')}", "*2\r\n$11\r\n-h-e-l-l-o-\r\n:6\r\n"},
      {"return (string.gsub('abc', '%w', '%0%0'))", "$6\r\naabbcc\r\n"},
      {"return (string.gsub('hello world', '(%w+)', '<%1>'))", "$15\r\n<hello> <world>\r\n"},
      {"return (string.gsub('$name', '%$(%w+)', {name = 'v'}))", "$1\r\nv\r\n"},
      {"return (string.gsub('abc', '%w', function(c) return c:upper() end, 2))", "$3\r\nABc\r\n"},
      {"return (string.gsub('aaa', '^a', 'b'))", "$3\r\nbaa\r\n"},
      {"return string.find('abc', '[a')",
       "-ERR user_script:1: malformed pattern (missing ']')\r\n"},
      {"return string.find('abc', '%')",
       "-ERR user_script:1: malformed pattern (ends with '%')\r\n"},
      {"return string.find('abc', '(a')", "-ERR user_script:1: unfinished capture\r\n"},
      {"return string.gsub('abc', 'a', true)",
       "-ERR user_script:1: bad argument #3 to 'gsub' (string/function/table expected)\r\n"},
      {"return ('x'):find(string.rep('a?', 300))",
       "-ERR pattern too long (at most 512 bytes in scripts)\r\n"},
  };
  for (const auto& [body, reply] : cases) BOOST_TEST(run({"EVAL", body, "0"}) == reply, body);
}

// Finding: `redis.call=function(...) return {ok='OK'} end` made every later SET NX script answer
// OK: two owners held one lock. Globals, `redis` and every library are read-only now, and every
// script starts from the same environment.
BOOST_AUTO_TEST_CASE(scripts_cannot_change_what_other_scripts_see) {
  BOOST_TEST(run({"EVAL", kScriptedAcquire, "1", "lock", "a"}) == "+OK\r\n");
  for (const char* attack : {
           "redis.call=function(...) return {ok='OK'} end",
           "redis.pcall=function(...) return {ok='OK'} end",
           "_G.redis = {call=function() return {ok='OK'} end}",
           "redis = {call=function() return {ok='OK'} end}",
           "string.rep = nil",
           "table.insert = nil",
           "math.floor = nil",
           "coroutine.create = nil",
           "_G.x = 1",
           "KEYS = {}",
       }) {
    BOOST_TEST(run({"EVAL", attack, "0"}) == kReadonly, attack);
  }
  BOOST_TEST(run({"EVAL", "rawset(redis, 'call', function() return {ok='OK'} end)", "0"}) ==
             kReadonly);
  BOOST_TEST(run({"EVAL", "rawset(_G, 'redis', {})", "0"}) == kReadonly);
  BOOST_TEST(run({"EVAL", "rawset(string, 'rep', type)", "0"}) == kReadonly);
  BOOST_TEST(run({"EVAL", "setmetatable(_G, nil)", "0"}) ==
             "-ERR user_script:1: cannot change a protected metatable\r\n");
  BOOST_TEST(run({"EVAL", "setmetatable(redis, {})", "0"}) ==
             "-ERR user_script:1: cannot change a protected metatable\r\n");
  BOOST_TEST(run({"EVAL", "return getmetatable(redis)", "0"}) == "$-1\r\n");
  BOOST_TEST(run({"EVAL", "return getmetatable(_G)", "0"}) == "$-1\r\n");
  BOOST_TEST(run({"EVAL", "getmetatable('').__index.rep = nil", "0"}) ==
             "-ERR user_script:1: attempt to index a boolean value\r\n");
  BOOST_TEST(run({"EVAL", "return getfenv(redis.call)", "0"}) == kNoGlobal + "getfenv'\r\n");
  BOOST_TEST(run({"EVAL", "return rawget(_G, 'redis')", "0"}) == "$-1\r\n");
  // A script's own tables stay fully usable.
  BOOST_TEST(run({"EVAL",
                  "local t = setmetatable({}, {__index = function() return 5 end}) rawset(t, 'a', "
                  "1) return {t.a, t.b, rawget(t, 'a')}",
                  "0"}) == "*3\r\n:1\r\n:5\r\n:1\r\n");
  // KEYS and ARGV belong to one run: changing them changes nothing for the next.
  BOOST_TEST(run({"EVAL", "KEYS[1] = 'other' return KEYS[1]", "1", "mine"}) == "$5\r\nother\r\n");
  BOOST_TEST(run({"EVAL", "return KEYS[1]", "1", "mine"}) == "$4\r\nmine\r\n");
  // Another client's scripted acquire still refuses the held key; the holder is unchanged.
  BOOST_TEST(run({"EVAL", kScriptedAcquire, "1", "lock", "b"}) == "$-1\r\n");
  BOOST_TEST(run({"GET", "lock"}) == "$1\r\na\r\n");
  BOOST_TEST(run({"EVAL", "return {type(redis.call), string.rep('a', 3), type(table.insert)}",
                  "0"}) == "*3\r\n$8\r\nfunction\r\n$3\r\naaa\r\n$8\r\nfunction\r\n");
}

// Finding: loading many large scripts filled the script heap, so another client's release script
// failed to compile and its lock stayed held.
BOOST_AUTO_TEST_CASE(loaded_scripts_cannot_crowd_out_a_release_script) {
  host.script_limits.max_heap_bytes = 8 * 1024 * 1024;
  // About the heap, not the clock: the garbage-making run below may take longer than the
  // fixture's 50 ms on a loaded machine under ASan.
  host.script_limits.max_ms = 10000;
  const std::string filler(100 * 1024, 'x');
  for (int i = 0; i < 200; ++i) {
    const std::string body = "return '" + filler + "' .. " + std::to_string(i);
    BOOST_TEST(run({"SCRIPT", "LOAD", body}) ==
               "$40\r\n" + semlock::redis::sha1_hex(body) + "\r\n");
  }
  BOOST_TEST(host.scripting().cached_bytes() <= 2u * 1024 * 1024);
  BOOST_TEST(host.scripting().cached_scripts() < 200u);
  // The most recent ones stayed.
  BOOST_TEST(run({"EVALSHA", semlock::redis::sha1_hex("return '" + filler + "' .. 199"), "0"})
                 .starts_with("$102403\r\n"));
  // A run that leaves garbage behind does not crowd it out either.
  BOOST_TEST(
      run({"EVAL", "local t = {} for i = 1, 40 do t[i] = string.rep('y', 100000) .. i end return 1",
           "0"}) == ":1\r\n");
  run({"SET", "lock", "tok", "NX", "PX", "10000"});
  BOOST_TEST(run({"EVAL", kPyRelease, "1", "lock", "tok"}) == ":1\r\n");
  BOOST_TEST(run({"GET", "lock"}) == "$-1\r\n");
  BOOST_TEST(host.script_heap < 8u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(a_script_too_big_for_the_heap_gets_a_clear_error) {
  host.script_limits.max_heap_bytes = 2 * 1024 * 1024;
  std::string body = "return {";
  for (int i = 0; i < 60000; ++i) body += "'s" + std::to_string(i) + "',";
  body += "}";
  BOOST_TEST(
      run({"SCRIPT", "LOAD", body}) ==
      "-ERR Error compiling script (new function): not enough memory in the script heap\r\n");
  BOOST_TEST(
      run({"EVAL", body, "0"}) ==
      "-ERR Error compiling script (new function): not enough memory in the script heap\r\n");
  run({"SET", "lock", "tok", "NX", "PX", "10000"});
  BOOST_TEST(run({"EVAL", kPyRelease, "1", "lock", "tok"}) == ":1\r\n");
  BOOST_TEST(run({"EVAL", "local t = {} for i = 1, 1e6 do t[i] = i end", "0"}) ==
             "-ERR script heap limit reached: not enough memory\r\n");
  BOOST_TEST(run({"EVAL", "return 1", "0"}) == ":1\r\n");
}

BOOST_AUTO_TEST_CASE(a_huge_error_text_is_not_sent) {
  host.script_limits.max_reply_bytes = 1000;
  BOOST_TEST(run({"EVAL", "error(string.rep('x', 2000))", "0"}) == "-ERR reply too large\r\n");
  BOOST_TEST(run({"EVAL", "error(string.rep('x', 20))", "0"}) ==
             "-ERR user_script:1: xxxxxxxxxxxxxxxxxxxx\r\n");
}

BOOST_AUTO_TEST_CASE(a_script_body_is_bounded) {
  host.script_limits.max_script_bytes = 1000;
  BOOST_TEST(run({"SCRIPT", "LOAD", "return '" + std::string(1000, 'x') + "'"}) ==
             "-ERR script too large (at most 1000 bytes)\r\n");
  BOOST_TEST(run({"EVAL", "return '" + std::string(1000, 'x') + "'", "0"}) ==
             "-ERR script too large (at most 1000 bytes)\r\n");
  BOOST_TEST(run({"EVAL", "return 'ok'", "0"}) == "$2\r\nok\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
