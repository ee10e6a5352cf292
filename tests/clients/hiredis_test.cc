// hiredis (RESP2), as a C/C++ Redis user has it, against the real binary: every command in the
// server's COMMAND table gets at least one call here, and its RESP2 reply type and value are
// checked. A command added to the table without a case here fails `every_command_is_covered`.
#define BOOST_TEST_MODULE clients_hiredis
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

struct Case {
  std::vector<std::string> args;
  int type;              // REDIS_REPLY_*
  std::string expected;  // str for string/status/error replies, decimal for integers, "" = any
};

std::string describe(const redisReply* r) {
  if (r == nullptr) return "(no reply)";
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return "integer " + std::to_string(r->integer);
    case REDIS_REPLY_ARRAY:
      return "array of " + std::to_string(r->elements);
    case REDIS_REPLY_NIL:
      return "nil";
    default:
      return "type " + std::to_string(r->type) + " '" + reply_str(r) + "'";
  }
}

// In order: later cases see the state earlier ones left.
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {{"PING"}, REDIS_REPLY_STATUS, "PONG"},
      {{"ECHO", "hi"}, REDIS_REPLY_STRING, "hi"},
      {{"HELLO", "2"}, REDIS_REPLY_ARRAY, ""},
      {{"AUTH", "x"},
       REDIS_REPLY_ERROR,
       "ERR AUTH <password> called without any password configured for the default user. Are "
       "you sure your configuration is correct?"},
      {{"SELECT", "0"}, REDIS_REPLY_STATUS, "OK"},
      {{"CLIENT", "SETNAME", "hiredis-test"}, REDIS_REPLY_STATUS, "OK"},
      {{"CLIENT", "GETNAME"}, REDIS_REPLY_STRING, "hiredis-test"},
      {{"CLIENT", "SETINFO", "LIB-NAME", "hiredis"}, REDIS_REPLY_STATUS, "OK"},
      {{"CLIENT", "INFO"}, REDIS_REPLY_STRING, ""},
      {{"CLIENT", "LIST"}, REDIS_REPLY_STRING, ""},
      {{"CLIENT", "ID"}, REDIS_REPLY_INTEGER, ""},
      {{"INFO", "server"}, REDIS_REPLY_STRING, ""},
      {{"COMMAND", "COUNT"}, REDIS_REPLY_INTEGER, ""},
      {{"COMMAND", "INFO", "get"}, REDIS_REPLY_ARRAY, ""},
      {{"COMMAND", "DOCS", "set"}, REDIS_REPLY_ARRAY, ""},
      {{"COMMAND"}, REDIS_REPLY_ARRAY, ""},
      {{"COMMAND", "LIST", "FILTERBY", "PATTERN", "semlock.a*"}, REDIS_REPLY_ARRAY, ""},
      {{"DBSIZE"}, REDIS_REPLY_INTEGER, "0"},
      {{"TIME"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.ACQUIRE", "h:a", "30000", "OWNER", "me"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.ACQUIRE", "h:a", "30000"}, REDIS_REPLY_NIL, ""},
      {{"SEMLOCK.EXTEND", "h:a", "me", "60000"}, REDIS_REPLY_INTEGER, "1"},
      {{"SEMLOCK.EXISTS", "h:a"}, REDIS_REPLY_INTEGER, "1"},
      {{"SEMLOCK.INFO", "h:a"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.SCAN", "0", "MATCH", "h:*", "COUNT", "1000"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.LIST", "MATCH", "h:*"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.STATS"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.PUBLISH", "1", "h:ch", "m"}, REDIS_REPLY_ERROR,
       "ERR This instance has cluster support disabled"},
      {{"SEMLOCK.RELEASE", "h:a", "me"}, REDIS_REPLY_INTEGER, "1"},
      {{"SEMLOCK.ACQUIRE", "h:s", "30000", "LIMIT", "2"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.FORCERELEASE", "h:s"}, REDIS_REPLY_INTEGER, "1"},
      {{"SEMLOCK.ACQUIREALL", "30000", "2", "h:m1", "h:m2", "OWNER", "me"}, REDIS_REPLY_ARRAY, ""},
      {{"SEMLOCK.ACQUIREALL", "30000", "1", "h:m2"}, REDIS_REPLY_NIL, ""},
      {{"SEMLOCK.RELEASEALL", "me", "2", "h:m1", "h:m2"}, REDIS_REPLY_INTEGER, "2"},
      {{"SEMLOCK.HEARTBEAT"}, REDIS_REPLY_STATUS, "OK"},
      // A server that is no cluster member (docs/CLUSTER.md has the members' replies).
      {{"SEMLOCK.CLUSTER", "MEMBERS"}, REDIS_REPLY_ERROR, "ERR cluster mode is off"},
      {{"SEMLOCK.CLUSTER", "ADD", "4", "127.0.0.1:1", "127.0.0.1:2"}, REDIS_REPLY_ERROR,
       "ERR cluster mode is off"},
      {{"SEMLOCK.CLUSTER", "REMOVE", "4"}, REDIS_REPLY_ERROR, "ERR cluster mode is off"},
      {{"SEMLOCK.CLUSTER", "ORPHAN", "h:a", "me", "1"}, REDIS_REPLY_ERROR,
       "ERR cluster mode is off"},
      {{"SET", "h:k", "tok", "NX", "PX", "30000"}, REDIS_REPLY_STATUS, "OK"},
      {{"SET", "h:k", "other", "NX", "PX", "30000"}, REDIS_REPLY_NIL, ""},
      {{"GET", "h:k"}, REDIS_REPLY_STRING, "tok"},
      {{"EXISTS", "h:k", "h:none"}, REDIS_REPLY_INTEGER, "1"},
      {{"PEXPIRE", "h:k", "50000"}, REDIS_REPLY_INTEGER, "1"},
      {{"EXPIRE", "h:k", "40"}, REDIS_REPLY_INTEGER, "1"},
      {{"TTL", "h:k"}, REDIS_REPLY_INTEGER, "40"},
      {{"PTTL", "h:none"}, REDIS_REPLY_INTEGER, "-2"},
      {{"DELEX", "h:k", "IFEQ", "other"}, REDIS_REPLY_INTEGER, "0"},
      {{"DELEX", "h:k", "IFEQ", "tok"}, REDIS_REPLY_INTEGER, "1"},
      {{"SET", "h:k", "tok"}, REDIS_REPLY_STATUS, "OK"},
      {{"DELIFEQ", "h:k", "tok"}, REDIS_REPLY_INTEGER, "1"},
      {{"SET", "h:k", "tok"}, REDIS_REPLY_STATUS, "OK"},
      {{"DEL", "h:k", "h:none"}, REDIS_REPLY_INTEGER, "1"},
      {{"EVAL", "return redis.call('set', KEYS[1], ARGV[1], 'NX')", "1", "h:e", "v"},
       REDIS_REPLY_STATUS,
       "OK"},
      {{"SCRIPT", "LOAD", "return 1"},
       REDIS_REPLY_STRING,
       "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"},
      {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"}, REDIS_REPLY_INTEGER, "1"},
      {{"SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"}, REDIS_REPLY_ARRAY, ""},
      {{"SCRIPT", "KILL"}, REDIS_REPLY_ERROR, "NOTBUSY No scripts in execution right now."},
      {{"SCRIPT", "FLUSH"}, REDIS_REPLY_STATUS, "OK"},
      {{"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"},
       REDIS_REPLY_ERROR,
       "NOSCRIPT No matching script. Please use EVAL."},
      {{"INCR", "h:c"}, REDIS_REPLY_INTEGER, "1"},
      {{"INCRBY", "h:c", "5"}, REDIS_REPLY_INTEGER, "6"},
      {{"DECR", "h:c"}, REDIS_REPLY_INTEGER, "5"},
      {{"DECRBY", "h:c", "2"}, REDIS_REPLY_INTEGER, "3"},
      {{"TYPE", "h:c"}, REDIS_REPLY_STATUS, "string"},
      {{"EXPIREAT", "h:c", "4102444800"}, REDIS_REPLY_INTEGER, "1"},
      {{"PEXPIREAT", "h:c", "4102444800000"}, REDIS_REPLY_INTEGER, "1"},
      {{"PERSIST", "h:c"}, REDIS_REPLY_INTEGER, "1"},
      {{"GETDEL", "h:c"}, REDIS_REPLY_STRING, "3"},
      {{"SETNX", "h:n", "v"}, REDIS_REPLY_INTEGER, "1"},
      {{"SETEX", "h:n", "30", "v"}, REDIS_REPLY_STATUS, "OK"},
      {{"PSETEX", "h:n", "30000", "v"}, REDIS_REPLY_STATUS, "OK"},
      {{"GETEX", "h:n", "PX", "20000"}, REDIS_REPLY_STRING, "v"},
      {{"UNLINK", "h:n"}, REDIS_REPLY_INTEGER, "1"},
      {{"HSET", "h:h", "f", "1"}, REDIS_REPLY_INTEGER, "1"},
      {{"HMSET", "h:h", "g", "2"}, REDIS_REPLY_STATUS, "OK"},
      {{"HSETNX", "h:h", "f", "9"}, REDIS_REPLY_INTEGER, "0"},
      {{"HGET", "h:h", "f"}, REDIS_REPLY_STRING, "1"},
      {{"HMGET", "h:h", "f", "x"}, REDIS_REPLY_ARRAY, ""},
      {{"HGETALL", "h:h"}, REDIS_REPLY_ARRAY, ""},
      {{"HKEYS", "h:h"}, REDIS_REPLY_ARRAY, ""},
      {{"HVALS", "h:h"}, REDIS_REPLY_ARRAY, ""},
      {{"HEXISTS", "h:h", "g"}, REDIS_REPLY_INTEGER, "1"},
      {{"HINCRBY", "h:h", "f", "4"}, REDIS_REPLY_INTEGER, "5"},
      {{"HLEN", "h:h"}, REDIS_REPLY_INTEGER, "2"},
      {{"HDEL", "h:h", "f", "g"}, REDIS_REPLY_INTEGER, "2"},
      {{"ZADD", "h:z", "1", "a", "2", "b", "3", "c"}, REDIS_REPLY_INTEGER, "3"},
      {{"ZSCORE", "h:z", "b"}, REDIS_REPLY_STRING, "2"},
      {{"ZRANK", "h:z", "c"}, REDIS_REPLY_INTEGER, "2"},
      {{"ZCARD", "h:z"}, REDIS_REPLY_INTEGER, "3"},
      {{"ZCOUNT", "h:z", "1", "2"}, REDIS_REPLY_INTEGER, "2"},
      {{"ZRANGE", "h:z", "0", "-1"}, REDIS_REPLY_ARRAY, ""},
      {{"ZRANGEBYSCORE", "h:z", "-inf", "+inf"}, REDIS_REPLY_ARRAY, ""},
      {{"ZREVRANGE", "h:z", "0", "0"}, REDIS_REPLY_ARRAY, ""},
      {{"ZREVRANK", "h:z", "c"}, REDIS_REPLY_INTEGER, "0"},
      {{"ZREVRANGEBYSCORE", "h:z", "+inf", "-inf"}, REDIS_REPLY_ARRAY, ""},
      {{"ZRANGEBYLEX", "h:z", "-", "+"}, REDIS_REPLY_ARRAY, ""},
      {{"ZREVRANGEBYLEX", "h:z", "+", "-"}, REDIS_REPLY_ARRAY, ""},
      {{"ZREM", "h:z", "a"}, REDIS_REPLY_INTEGER, "1"},
      {{"ZPOPMIN", "h:z"}, REDIS_REPLY_ARRAY, ""},
      {{"ZREMRANGEBYSCORE", "h:z", "-inf", "+inf"}, REDIS_REPLY_INTEGER, "1"},
      {{"RPUSH", "h:l", "a", "b"}, REDIS_REPLY_INTEGER, "2"},
      {{"LPUSH", "h:l", "c"}, REDIS_REPLY_INTEGER, "3"},
      {{"LLEN", "h:l"}, REDIS_REPLY_INTEGER, "3"},
      {{"LRANGE", "h:l", "0", "-1"}, REDIS_REPLY_ARRAY, ""},
      {{"LREM", "h:l", "0", "b"}, REDIS_REPLY_INTEGER, "1"},
      {{"LPOP", "h:l"}, REDIS_REPLY_STRING, "c"},
      {{"RPUSH", "h:l", "d"}, REDIS_REPLY_INTEGER, "2"},
      {{"RPOP", "h:l"}, REDIS_REPLY_STRING, "d"},
      {{"BLPOP", "h:l", "1"}, REDIS_REPLY_ARRAY, ""},
      {{"RPUSH", "h:l", "e"}, REDIS_REPLY_INTEGER, "1"},
      {{"BRPOP", "h:l", "1"}, REDIS_REPLY_ARRAY, ""},
      {{"SCAN", "0", "MATCH", "h:*", "COUNT", "100"}, REDIS_REPLY_ARRAY, ""},
      {{"KEYS", "h:*"}, REDIS_REPLY_ARRAY, ""},
      {{"SUBSCRIBE", "h:ch"}, REDIS_REPLY_ARRAY, ""},
      {{"UNSUBSCRIBE", "h:ch"}, REDIS_REPLY_ARRAY, ""},
      {{"PSUBSCRIBE", "h:*"}, REDIS_REPLY_ARRAY, ""},
      {{"PUNSUBSCRIBE", "h:*"}, REDIS_REPLY_ARRAY, ""},
      {{"PUBLISH", "h:ch", "m"}, REDIS_REPLY_INTEGER, "0"},
      // The server's own channels: a forged lost-lock notice is refused.
      {{"PUBLISH", "__semlock__:lost:h:a", "semlock-lost h:a me 1 expired"},
       REDIS_REPLY_ERROR,
       "ERR channels starting with '__semlock__:' are reserved for the server's own notices"},
      {{"PUBSUB", "CHANNELS"}, REDIS_REPLY_ARRAY, ""},
      {{"PUBSUB", "NUMSUB", "h:ch"}, REDIS_REPLY_ARRAY, ""},
      {{"PUBSUB", "NUMPAT"}, REDIS_REPLY_INTEGER, "0"},
      {{"WATCH", "h:e"}, REDIS_REPLY_STATUS, "OK"},
      {{"UNWATCH"}, REDIS_REPLY_STATUS, "OK"},
      {{"MULTI"}, REDIS_REPLY_STATUS, "OK"},
      {{"GET", "h:e"}, REDIS_REPLY_STATUS, "QUEUED"},
      {{"EXEC"}, REDIS_REPLY_ARRAY, ""},
      {{"MULTI"}, REDIS_REPLY_STATUS, "OK"},
      {{"DISCARD"}, REDIS_REPLY_STATUS, "OK"},
      {{"CONFIG", "GET", "limits.max_locks"}, REDIS_REPLY_ARRAY, ""},
      {{"CONFIG", "SET", "limits.warn_threshold", "0.8"}, REDIS_REPLY_STATUS, "OK"},
      {{"CONFIG", "REWRITE"}, REDIS_REPLY_STATUS, "OK"},  // the fixture's own temporary file
      {{"RESET"}, REDIS_REPLY_STATUS, "RESET"},
      {{"QUIT"}, REDIS_REPLY_STATUS, "OK"},
  };
  return all;
}

std::string name_of(const Case& c) {
  std::string name = c.args[0];
  if (name == "CLIENT" || name == "COMMAND" || name == "SCRIPT" || name == "PUBSUB" ||
      name == "CONFIG" || name == "SEMLOCK.CLUSTER") {
    name += "|" + (c.args.size() > 1 ? c.args[1] : std::string());
  }
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_command_answers_in_resp2) {
  Hiredis h(shared_server().port());
  for (const Case& c : cases()) {
    Reply r = h.cmd(c.args);
    BOOST_TEST_CONTEXT(c.args[0] << (c.args.size() > 1 ? " " + c.args[1] : "")) {
      BOOST_REQUIRE(r);
      BOOST_TEST(r->type == c.type, "got " << describe(r.get()));
      if (!c.expected.empty()) {
        const std::string got =
            r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer) : reply_str(r.get());
        BOOST_TEST(got == c.expected);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_command_is_covered) {
  Hiredis h(shared_server().port());
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(name_of(c));
  // COMMAND (not COMMAND DOCS: its nesting passes hiredis 0.14's depth limit of 7, as Redis's
  // own does): each entry is [name, arity, flags, first, last, step, acl, tips, keyspecs, subs].
  Reply all = h.cmd({"COMMAND"});
  BOOST_REQUIRE(all && all->type == REDIS_REPLY_ARRAY);
  BOOST_TEST(all->elements > 30u);
  for (std::size_t i = 0; i < all->elements; ++i) {
    const redisReply* info = all->element[i];
    BOOST_REQUIRE(info->type == REDIS_REPLY_ARRAY && info->elements == 10u);
    const redisReply* subs = info->element[9];
    if (subs->elements == 0) {
      const std::string name = reply_str(info->element[0]);
      BOOST_TEST(covered.contains(name), "no hiredis case for " << name);
    }
    for (std::size_t k = 0; k < subs->elements; ++k) {
      const std::string sub = reply_str(subs->element[k]->element[0]);
      BOOST_TEST(covered.contains(sub), "no hiredis case for " << sub);
    }
  }
}
