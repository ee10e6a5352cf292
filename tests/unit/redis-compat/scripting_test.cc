// EVAL/EVALSHA/SCRIPT: conversions, error forms, sandbox, budget rule, cache bound, heap cap, and
// the exact scripts of redis-py's Lock (4.3.4) and node-redlock v5.
#include <boost/test/unit_test.hpp>

#include "redis-compat/sha1.h"
#include "tests/unit/redis-compat/lock_scripts.h"
#include "tests/unit/redis-compat/test_host.h"

using semlock::test::Fixture;
using semlock::test::kPyExtend;
using semlock::test::kPyReacquire;
using semlock::test::kPyRelease;
using semlock::test::kRedlockAcquire;
using semlock::test::kRedlockExtend;
using semlock::test::kRedlockRelease;

namespace {

std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(scripting, Fixture)

BOOST_AUTO_TEST_CASE(sha1_matches_known_vectors) {
  BOOST_TEST(semlock::redis::sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  BOOST_TEST(semlock::redis::sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  BOOST_TEST(semlock::redis::sha1_hex(std::string(1000, 'a')) ==
             "291e9a6c66994949b57ba5e650361e98fc36b1ba");
  // Redis's own example: SCRIPT LOAD "return 1".
  BOOST_TEST(semlock::redis::sha1_hex("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

BOOST_AUTO_TEST_CASE(reply_conversions_lua_to_resp) {
  BOOST_TEST(run({"EVAL", "return 'x'", "0"}) == "$1\r\nx\r\n");
  BOOST_TEST(run({"EVAL", "return 42.9", "0"}) == ":42\r\n");
  BOOST_TEST(run({"EVAL", "return -3.5", "0"}) == ":-3\r\n");
  BOOST_TEST(run({"EVAL", "return true", "0"}) == ":1\r\n");
  BOOST_TEST(run({"EVAL", "return false", "0"}) == "$-1\r\n");
  BOOST_TEST(run({"EVAL", "return nil", "0"}) == "$-1\r\n");
  BOOST_TEST(run({"EVAL", "return {1, 'a', {2}, nil, 5}", "0"}) ==
             "*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n");
  BOOST_TEST(run({"EVAL", "return {ok='FINE'}", "0"}) == "+FINE\r\n");
  BOOST_TEST(run({"EVAL", "return redis.status_reply('DONE')", "0"}) == "+DONE\r\n");
  BOOST_TEST(run({"EVAL", "return {err='MYERR bad'}", "0"}) == "-MYERR bad\r\n");
  BOOST_TEST(run({"EVAL", "return redis.error_reply('ERR custom')", "0"}) == "-ERR custom\r\n");
  BOOST_TEST(run({"EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "k1", "k2", "a1",
                  "a2"}) == "*4\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n:2\r\n");
  client.proto = 3;
  BOOST_TEST(run({"EVAL", "return false", "0"}) == "_\r\n");
}

BOOST_AUTO_TEST_CASE(reply_conversion_ignores_metamethods) {
  // The reply is converted outside the protected call: no metamethod may run there.
  BOOST_TEST(run({"EVAL",
                  "return setmetatable({}, {__index = function() error('no') end, __len = "
                  "function() error('no') end})",
                  "0"}) == "*0\r\n");
  BOOST_TEST(run({"EVAL", "error(setmetatable({}, {__index = function() error('no') end}))",
                  "0"}) == "-ERR unknown Lua error\r\n");
}

BOOST_AUTO_TEST_CASE(reply_conversions_resp_to_lua) {
  run({"SET", "k", "tok", "PX", "1000"});
  BOOST_TEST(run({"EVAL", "return type(redis.call('get', 'absent'))", "0"}) == bulk("boolean"));
  BOOST_TEST(run({"EVAL", "return redis.call('get', 'absent') == false", "0"}) == ":1\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('get', KEYS[1])", "1", "k"}) == "$3\r\ntok\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('pttl', 'k') + 1", "0"}) == ":1001\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('set', 'k', 'tok').ok", "0"}) == "$2\r\nOK\r\n");
  BOOST_TEST(run({"EVAL", "local r = redis.call('semlock.acquire', 'q', 100) return r", "0"}) ==
             "*2\r\n$7\r\nowner-1\r\n:1001\r\n");
  BOOST_TEST(run({"EVAL", "return redis.pcall('get', 's', 'x').err", "0"}) ==
             bulk("ERR wrong number of arguments for 'get' command"));
  // Numbers become Redis's shortest text.
  BOOST_TEST(run({"EVAL", "return redis.call('echo', 1.5)", "0"}) == "$3\r\n1.5\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('echo', 2000)", "0"}) == "$4\r\n2000\r\n");
}

BOOST_AUTO_TEST_CASE(script_errors_use_redis_forms) {
  BOOST_TEST(run({"EVAL", "return redis.call('get', 's', 'x')", "0"}) ==
             "-ERR wrong number of arguments for 'get' command\r\n");
  BOOST_TEST(run({"EVAL", "error('boom')", "0"}) == "-ERR user_script:1: boom\r\n");
  BOOST_TEST(run({"EVAL", "error({err='CUSTOM x'})", "0"}) == "-CUSTOM x\r\n");
  BOOST_TEST(run({"EVAL", "return nosuch", "0"}) ==
             "-ERR user_script:1: Script attempted to access nonexistent global variable "
             "'nosuch'\r\n");
  BOOST_TEST(run({"EVAL", "x = 1", "0"}) ==
             "-ERR user_script:1: Attempt to modify a readonly table\r\n");
  BOOST_TEST(run({"EVAL", "return +", "0"}) ==
             "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
             "'+'\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call()", "0"}) ==
             "-ERR Please specify at least one argument for this redis lib call\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call({})", "0"}) ==
             "-ERR Lua redis lib command arguments must be strings or integers\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('multi')", "0"}) ==
             "-ERR This Redis command is not allowed from script\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('eval', 'return 1', 0)", "0"}) ==
             "-ERR This Redis command is not allowed from script\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('nope')", "0"}) ==
             "-ERR unknown command 'nope', with args beginning with: \r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('sadd', 's', 'm')", "0"}) ==
             "-ERR this is a lock server (ttl-semlock): 'sadd' is not a lock command\r\n");
  BOOST_TEST(run({"EVAL", "return redis.call('hset', 'h', 'f', 'v')", "0"}) == ":1\r\n");
}

BOOST_AUTO_TEST_CASE(eval_argument_errors) {
  BOOST_TEST(run({"EVAL", "return 1", "x"}) == "-ERR value is not an integer or out of range\r\n");
  BOOST_TEST(run({"EVAL", "return 1", "-1"}) == "-ERR Number of keys can't be negative\r\n");
  BOOST_TEST(run({"EVAL", "return 1", "2", "a"}) ==
             "-ERR Number of keys can't be greater than number of args\r\n");
  BOOST_TEST(run({"EVAL", "return 1"}) == "-ERR wrong number of arguments for 'eval' command\r\n");
  BOOST_TEST(run({"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}) ==
             "-NOSCRIPT No matching script. Please use EVAL.\r\n");
}

BOOST_AUTO_TEST_CASE(sandbox_has_no_io_os_or_loaders) {
  for (const char* name :
       {"io", "os", "loadfile", "dofile", "require", "loadstring", "load", "package", "debug",
        "print", "newproxy", "getfenv", "setfenv", "module", "gcinfo"}) {
    BOOST_TEST(run({"EVAL", std::string("return ") + name, "0"}) ==
                   "-ERR user_script:1: Script attempted to access nonexistent global variable '" +
                       std::string(name) + "'\r\n",
               name);
  }
  BOOST_TEST(run({"EVAL", "return {type(string.format), type(table.concat), type(math.floor)}",
                  "0"}) == "*3\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n");
  BOOST_TEST(run({"EVAL", "return redis.sha1hex('abc')", "0"}) ==
             bulk("a9993e364706816aba3e25717850c26c9cd0d89d"));
}

BOOST_AUTO_TEST_CASE(string_patterns_are_bounded) {
  BOOST_TEST(run({"EVAL", "return ('abc'):find('b')", "0"}) == ":2\r\n");
  BOOST_TEST(run({"EVAL", "return string.gsub('a-b', '%-', '+')", "0"}) == "$3\r\na+b\r\n");
  BOOST_TEST(run({"EVAL", "return string.match('x', string.rep('a?', 300))", "0"}) ==
             "-ERR pattern too long (at most 512 bytes in scripts)\r\n");
  BOOST_TEST(run({"EVAL", "return ('x'):find(string.rep('a?', 300))", "0"}) ==
             "-ERR pattern too long (at most 512 bytes in scripts)\r\n");
}

BOOST_AUTO_TEST_CASE(script_load_exists_flush_and_evalsha) {
  BOOST_TEST(run({"SCRIPT", "LOAD", "return 1"}) ==
             bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
  BOOST_TEST(run({"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}) == ":1\r\n");
  BOOST_TEST(run({"EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"}) == ":1\r\n");
  BOOST_TEST(run({"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffff"}) ==
             "*2\r\n:1\r\n:0\r\n");
  // EVAL caches its body too.
  run({"EVAL", "return 2", "0"});
  BOOST_TEST(run({"EVALSHA", semlock::redis::sha1_hex("return 2"), "0"}) == ":2\r\n");
  BOOST_TEST(run({"SCRIPT", "LOAD", "return +"}) ==
             "-ERR Error compiling script (new function): user_script:1: unexpected symbol near "
             "'+'\r\n");
  BOOST_TEST(run({"SCRIPT", "FLUSH", "BOGUS"}) ==
             "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
  BOOST_TEST(run({"SCRIPT", "FLUSH"}) == "+OK\r\n");
  BOOST_TEST(run({"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"}) ==
             "*1\r\n:0\r\n");
  BOOST_TEST(run({"SCRIPT", "KILL"}) == "-NOTBUSY No scripts in execution right now.\r\n");
  host.admin_keys = {"adm"};
  BOOST_TEST(run({"SCRIPT", "FLUSH", "ASYNC"}) ==
             "-NOPERM this command needs an admin API key\r\n");
}

BOOST_AUTO_TEST_CASE(cache_is_bounded_lru) {
  host.script_limits.max_scripts = 3;
  run({"SCRIPT", "LOAD", "return 1"});
  run({"SCRIPT", "LOAD", "return 2"});
  run({"SCRIPT", "LOAD", "return 3"});
  run({"EVALSHA", semlock::redis::sha1_hex("return 1"), "0"});  // now most recently used
  run({"SCRIPT", "LOAD", "return 4"});                          // evicts "return 2"
  BOOST_TEST(host.scripting().cached_scripts() == 3u);
  BOOST_TEST(run({"SCRIPT", "EXISTS", semlock::redis::sha1_hex("return 1"),
                  semlock::redis::sha1_hex("return 2"), semlock::redis::sha1_hex("return 4")}) ==
             "*3\r\n:1\r\n:0\r\n:1\r\n");
}

BOOST_AUTO_TEST_CASE(heap_is_capped_and_reported_to_the_host) {
  host.script_limits.max_heap_bytes = 2 * 1024 * 1024;
  BOOST_TEST(run({"EVAL", "return 1", "0"}) == ":1\r\n");
  BOOST_TEST(host.script_heap > 0u);
  BOOST_TEST(host.script_heap < 2u * 1024 * 1024);
  BOOST_TEST(
      run({"EVAL", "local t = {} for i = 1, 100 do t[i] = string.rep('x', 65536) .. i end return 1",
           "0"}) == "-ERR script heap limit reached: not enough memory\r\n");
  // The state is usable afterwards and the garbage is collected.
  BOOST_TEST(run({"EVAL", "return 7", "0"}) == ":7\r\n");
  BOOST_TEST(host.scripting().heap_bytes() < 2u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(scripts_never_block) {
  run({"SET", "k", "a"});
  BOOST_TEST(run({"EVAL", "return redis.call('semlock.acquire', 'k', 100, 'WAIT', 5000)", "0"}) ==
             "$-1\r\n");
  BOOST_TEST(host.blocked.empty());
}

BOOST_AUTO_TEST_CASE(redis_py_lock_scripts) {
  run({"SET", "lock", "tok", "NX", "PX", "10000"});
  // release by another token: 0; extend by 5000 added; reacquire to 3000; release: 1.
  BOOST_TEST(run({"EVAL", kPyRelease, "1", "lock", "other"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kPyExtend, "1", "lock", "tok", "5000", "0"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "lock"}) == ":15000\r\n");
  BOOST_TEST(run({"EVAL", kPyExtend, "1", "lock", "tok", "4000", "1"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "lock"}) == ":4000\r\n");
  BOOST_TEST(run({"EVAL", kPyExtend, "1", "lock", "other", "4000", "1"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kPyReacquire, "1", "lock", "tok", "3000"}) == ":1\r\n");
  BOOST_TEST(run({"PTTL", "lock"}) == ":3000\r\n");
  BOOST_TEST(run({"EVAL", kPyRelease, "1", "lock", "tok"}) == ":1\r\n");
  BOOST_TEST(run({"GET", "lock"}) == "$-1\r\n");
  BOOST_TEST(run({"EVAL", kPyReacquire, "1", "lock", "tok", "3000"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kPyRelease, "1", "lock", "tok"}) == ":0\r\n");
}

BOOST_AUTO_TEST_CASE(node_redlock_scripts) {
  BOOST_TEST(run({"EVAL", kRedlockAcquire, "2", "r1", "r2", "val", "1000"}) == ":2\r\n");
  BOOST_TEST(run({"GET", "r1"}) == "$3\r\nval\r\n");
  BOOST_TEST(run({"PTTL", "r2"}) == ":1000\r\n");
  BOOST_TEST(run({"EVAL", kRedlockAcquire, "1", "r2", "other", "1000"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kRedlockExtend, "2", "r1", "r2", "other", "5000"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kRedlockExtend, "2", "r1", "r2", "val", "5000"}) == ":2\r\n");
  BOOST_TEST(run({"PTTL", "r1"}) == ":5000\r\n");
  BOOST_TEST(run({"EVAL", kRedlockRelease, "2", "r1", "r2", "other"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kRedlockRelease, "2", "r1", "r2", "val"}) == ":2\r\n");
  BOOST_TEST(run({"EXISTS", "r1", "r2"}) == ":0\r\n");
  // Extend after expiry fails; a new acquire succeeds.
  run({"EVAL", kRedlockAcquire, "1", "r1", "v2", "100"});
  advance(101);
  BOOST_TEST(run({"EVAL", kRedlockExtend, "1", "r1", "v2", "100"}) == ":0\r\n");
  BOOST_TEST(run({"EVAL", kRedlockAcquire, "1", "r1", "v3", "100"}) == ":1\r\n");
}

BOOST_AUTO_TEST_CASE(eval_inside_multi_runs_at_exec) {
  run({"MULTI"});
  BOOST_TEST(run({"EVAL", "return redis.call('set', KEYS[1], 'x', 'NX')", "1", "k"}) ==
             "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*1\r\n+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$1\r\nx\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
