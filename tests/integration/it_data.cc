// Coordination data (SPEC §3, docs/DATA.md) against the real binary: the same commands go to
// ttl-semlock and to a real redis-server (Debian's), and the raw reply bytes must be equal. Then
// what only we have: one keyspace with the locks, limits, blocking pops (FIFO, timeouts,
// disconnects, MULTI, max_waiters) and data keys surviving a restart through the journal.
#define BOOST_TEST_MODULE it_data
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

// Length of the complete RESP frame at the start of `s`, or 0 if it is not complete yet.
std::size_t frame_length(std::string_view s, std::size_t pos = 0) {
  const std::size_t eol = s.find("\r\n", pos);
  if (eol == std::string_view::npos || pos >= s.size()) return 0;
  const char type = s[pos];
  const std::string_view line = s.substr(pos + 1, eol - pos - 1);
  const std::size_t after = eol + 2;
  switch (type) {
    case '$':
    case '=':
    case '!': {
      const long n = std::stol(std::string(line));
      if (n < 0) return after - pos;
      const std::size_t end = after + static_cast<std::size_t>(n) + 2;
      return end <= s.size() ? end - pos : 0;
    }
    case '*':
    case '~':
    case '%':
    case '>': {
      long n = std::stol(std::string(line));
      if (type == '%') n *= 2;
      std::size_t at = after;
      for (long i = 0; i < n; ++i) {
        const std::size_t len = frame_length(s, at);
        if (len == 0) return 0;
        at += len;
      }
      return at - pos;
    }
    default:
      return after - pos;
  }
}

// One connection that reads exactly one reply per command, as raw bytes.
class Raw {
 public:
  explicit Raw(std::uint16_t port) : c_(port) {}
  std::string cmd(const std::vector<std::string>& args) {
    c_.send(resp_command(args));
    return reply();
  }
  std::string reply(Ms timeout = kDefaultTimeout) {
    c_.read_until([](std::string_view b) { return frame_length(b) != 0; }, timeout);
    const std::size_t n = frame_length(c_.buffer());
    std::string out = c_.buffer().substr(0, n);
    c_.buffer().erase(0, n);
    return out;
  }
  RawClient& raw() { return c_; }

 private:
  RawClient c_;
};

// A redis-server of its own, on a free port, without persistence.
class RedisServer {
 public:
  RedisServer() : port_(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--save", "",
               "--appendonly", "no", "--bind", "127.0.0.1", "--loglevel", "warning",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const bool up = eventually([&] {
      try {
        RawClient probe(port_);
        return true;
      } catch (...) {
        return false;
      }
    });
    if (!up) throw std::runtime_error("redis-server did not start");
  }
  ~RedisServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
};

RedisServer& redis() {
  static RedisServer r;
  return r;
}

using Script = std::vector<std::vector<std::string>>;

// Runs every command on both servers (keys prefixed per test) and compares the reply bytes.
void same_as_redis(const Script& script, int proto = 2) {
  Raw ours(shared_server().port());
  Raw theirs(redis().port());
  if (proto == 3) {
    ours.cmd({"HELLO", "3"});
    theirs.cmd({"HELLO", "3"});
  }
  for (const auto& args : script) {
    const std::string a = ours.cmd(args);
    const std::string b = theirs.cmd(args);
    std::string shown;
    for (const auto& s : args) shown += s + " ";
    BOOST_CHECK_MESSAGE(a == b, "RESP" << proto << " " << shown << "\n ours:  " << a
                                       << "\n redis: " << b);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(counters_and_strings_match_redis) {
  same_as_redis({
      {"INCR", "s:c"},
      {"INCRBY", "s:c", "41"},
      {"DECR", "s:c"},
      {"DECRBY", "s:c", "-10"},
      {"GET", "s:c"},
      {"TYPE", "s:c"},
      {"INCRBY", "s:c", "x"},
      {"INCRBY", "s:c", "9223372036854775807"},
      {"DECRBY", "s:c", "-9223372036854775808"},
      {"PTTL", "s:c"},
      {"EXPIRE", "s:c", "100", "NX"},
      {"EXPIRE", "s:c", "200", "NX"},
      {"EXPIRE", "s:c", "50", "GT"},
      {"EXPIRE", "s:c", "500", "GT"},
      {"EXPIRE", "s:c", "600", "LT"},
      {"TTL", "s:c"},
      {"PERSIST", "s:c"},
      {"PERSIST", "s:c"},
      {"TTL", "s:c"},
      {"EXPIRE", "s:c", "100", "XX"},
      {"PEXPIREAT", "s:c", "1"},
      {"EXISTS", "s:c"},
      {"INCR", "s:c"},
      {"GETDEL", "s:c"},
      {"GETDEL", "s:c"},
      {"INCR", "s:d"},
      {"GETEX", "s:d", "PX", "100000"},
      {"GETEX", "s:d", "PERSIST"},
      {"TTL", "s:d"},
      {"SET", "s:d", "now-a-mutex"},
      {"GET", "s:d"},
      {"TYPE", "s:d"},
      {"UNLINK", "s:d", "s:none"},
      {"TYPE", "s:none"},
      {"SETNX", "s:e", "one"},
      {"SETNX", "s:e", "two"},
      {"GET", "s:e"},
      {"SETEX", "s:f", "0", "x"},
      {"PSETEX", "s:f", "-5", "x"},
      {"DEL", "s:e"},
  });
}

BOOST_AUTO_TEST_CASE(hashes_match_redis) {
  const Script s = {
      {"HSET", "h:1", "a", "1", "b", "2"},
      {"HSET", "h:1", "a", "10", "c", "3"},
      {"HSET", "h:1", "a"},
      {"HSETNX", "h:1", "a", "x"},
      {"HSETNX", "h:1", "d", "4"},
      {"HGET", "h:1", "a"},
      {"HGET", "h:1", "zz"},
      {"HGET", "h:none", "a"},
      {"HMGET", "h:1", "a", "zz", "d"},
      {"HGETALL", "h:1"},
      {"HKEYS", "h:1"},
      {"HVALS", "h:1"},
      {"HLEN", "h:1"},
      {"HEXISTS", "h:1", "b"},
      {"HEXISTS", "h:1", "zz"},
      {"HINCRBY", "h:1", "a", "5"},
      {"HINCRBY", "h:1", "new", "-3"},
      {"HINCRBY", "h:1", "a", "x"},
      {"HSET", "h:1", "s", "text"},
      {"HINCRBY", "h:1", "s", "1"},
      {"HINCRBY", "h:1", "a", "9223372036854775807"},
      {"HDEL", "h:1", "a", "zz", "b"},
      {"HGETALL", "h:1"},
      {"HMSET", "h:1", "m", "1"},
      {"TYPE", "h:1"},
      {"INCR", "h:1"},
      {"GET", "h:1"},
      {"LPUSH", "h:1", "x"},
      {"HDEL", "h:1", "c", "d", "new", "s", "m"},
      {"EXISTS", "h:1"},
      {"HGETALL", "h:none"},
  };
  same_as_redis(s, 2);
  same_as_redis(s, 3);
}

BOOST_AUTO_TEST_CASE(sorted_sets_match_redis) {
  const Script s = {
      {"ZADD", "z:1", "1", "a", "2", "b", "3", "c"},
      {"ZADD", "z:1", "NX", "5", "a", "4", "d"},
      {"ZADD", "z:1", "XX", "CH", "6", "a", "9", "zz"},
      {"ZADD", "z:1", "GT", "CH", "1", "a", "7", "b"},
      {"ZADD", "z:1", "LT", "2.5", "c"},
      {"ZADD", "z:1", "INCR", "1.5", "d"},
      {"ZADD", "z:1", "NX", "XX", "1", "a"},
      {"ZADD", "z:1", "GT", "LT", "1", "a"},
      {"ZADD", "z:1", "1", "a", "2"},
      {"ZADD", "z:1", "x", "a"},
      {"ZSCORE", "z:1", "a"},
      {"ZSCORE", "z:1", "nope"},
      {"ZRANK", "z:1", "b"},
      {"ZRANK", "z:1", "nope"},
      {"ZCARD", "z:1"},
      {"ZCOUNT", "z:1", "2", "6"},
      {"ZCOUNT", "z:1", "(2.5", "+inf"},
      {"ZCOUNT", "z:1", "x", "1"},
      {"ZRANGE", "z:1", "0", "-1"},
      {"ZRANGE", "z:1", "0", "-1", "WITHSCORES"},
      {"ZRANGE", "z:1", "1", "2", "REV"},
      {"ZRANGE", "z:1", "-inf", "(6", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES"},
      {"ZRANGE", "z:1", "+inf", "-inf", "BYSCORE", "REV"},
      {"ZRANGE", "z:1", "0", "1", "LIMIT", "0", "1"},
      {"ZRANGEBYSCORE", "z:1", "-inf", "+inf", "WITHSCORES", "LIMIT", "0", "3"},
      {"ZRANGEBYSCORE", "z:1", "(2.5", "7"},
      {"ZREVRANGE", "z:1", "0", "1", "WITHSCORES"},
      {"ZREVRANGE", "z:1", "5", "10"},
      {"ZPOPMIN", "z:1"},
      {"ZPOPMIN", "z:1", "2"},
      {"ZPOPMIN", "z:1", "-1"},
      {"ZREMRANGEBYSCORE", "z:1", "-inf", "(7"},
      {"ZRANGE", "z:1", "0", "-1", "WITHSCORES"},
      {"ZREM", "z:1", "b", "nope"},
      {"EXISTS", "z:1"},
      {"ZPOPMIN", "z:none"},
      {"ZADD", "z:2", "XX", "1", "a"},
      {"EXISTS", "z:2"},
      // Scores whose shortest form is also their 17-digit form: Redis 7.2 (what we speak) writes
      // the shortest, the Redis 7.0 this runs against 17 digits (0.1 is "0.10000000000000001").
      {"ZADD", "z:2", "1.5", "x", "-inf", "y", "1e+20", "w", "-0.25", "v"},
      {"ZRANGE", "z:2", "0", "-1", "WITHSCORES"},
      {"ZSCORE", "z:2", "x"},
      {"HSET", "z:2", "a", "b"},
      {"DEL", "z:2"},
  };
  same_as_redis(s, 2);
  same_as_redis(s, 3);
}

// Issue 14: the range reads lock libraries send besides ZRANGE (ZREVRANGEBYSCORE, BYLEX, REV,
// ZREVRANK), their option errors in Redis's order, and the same commands from a script.
BOOST_AUTO_TEST_CASE(sorted_set_ranges_match_redis) {
  Script s = {
      {"ZADD", "r:s", "1", "a", "2", "b", "2", "bb", "3", "c", "4", "d", "5", "e"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf"},
      {"ZREVRANGEBYSCORE", "r:s", "4", "(2", "WITHSCORES"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf", "LIMIT", "1", "2", "WITHSCORES"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf", "WITHSCORES", "LIMIT", "5", "10"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf", "LIMIT", "-1", "2"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf", "LIMIT", "0", "0"},
      {"ZREVRANGEBYSCORE", "r:s", "+inf", "-inf", "LIMIT", "2", "-5"},
      {"ZREVRANGEBYSCORE", "r:s", "1", "5"},
      {"ZREVRANGEBYSCORE", "r:s", "(2", "(2"},
      {"ZREVRANGEBYSCORE", "r:s", "x", "1"},
      {"ZREVRANGEBYSCORE", "r:s", "5", "1", "LIMIT", "0"},
      {"ZREVRANGEBYSCORE", "r:s", "5", "1", "LIMIT", "x", "1"},
      {"ZREVRANGEBYSCORE", "r:s", "5", "1", "REV"},
      {"ZREVRANGEBYSCORE", "r:s", "5", "1", "BYSCORE"},
      {"ZREVRANGEBYSCORE", "r:none", "5", "1"},
      {"ZRANGEBYSCORE", "r:s", "1", "5", "REV"},
      {"ZRANGE", "r:s", "(4", "2", "BYSCORE", "REV", "WITHSCORES"},
      {"ZRANGE", "r:s", "0", "-1", "REV", "REV"},
      {"ZRANGE", "r:s", "0", "-1", "BYSCORE", "BYLEX"},
      {"ZRANGE", "r:s", "0", "-1", "LIMIT", "0", "-1"},
      {"ZRANGE", "r:s", "0", "-1", "LIMIT", "1", "1"},
      {"ZRANGE", "r:s", "0", "-1", "LIMIT", "1"},
      {"ZRANGE", "r:s", "0", "-1", "WITHSCORES", "WITHSCORES"},
      {"ZREVRANGE", "r:s", "0", "2", "WITHSCORES", "WITHSCORES"},
      {"ZREVRANGE", "r:s", "0", "2", "LIMIT", "0", "1"},
      {"ZREVRANGE", "r:s", "0", "2", "REV"},
      {"ZREVRANK", "r:s", "a"},
      {"ZREVRANK", "r:s", "bb"},
      {"ZREVRANK", "r:s", "nope"},
      {"ZREVRANK", "r:none", "a"},
      {"ZRANK", "r:s", "bb"},
      // Lexicographic ranges: every member with the same score, the case Redis defines.
      {"ZADD", "r:l", "0", "alpha", "0", "beta", "0", "b", "0", "c", "0", "", "0", "delta"},
      {"ZRANGEBYLEX", "r:l", "-", "+"},
      {"ZRANGEBYLEX", "r:l", "[b", "(d"},
      {"ZRANGEBYLEX", "r:l", "(b", "[delta"},
      {"ZRANGEBYLEX", "r:l", "[", "[b"},
      {"ZRANGEBYLEX", "r:l", "(", "+"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "LIMIT", "1", "3"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "LIMIT", "-1", "3"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "LIMIT", "4", "-1"},
      {"ZRANGEBYLEX", "r:l", "[c", "[b"},
      {"ZRANGEBYLEX", "r:l", "[b", "(b"},
      {"ZRANGEBYLEX", "r:l", "[b", "[b"},
      {"ZRANGEBYLEX", "r:l", "+", "-"},
      {"ZRANGEBYLEX", "r:l", "-", "-"},
      {"ZRANGEBYLEX", "r:l", "+", "+"},
      {"ZRANGEBYLEX", "r:l", "[zz", "+"},
      {"ZRANGEBYLEX", "r:l", "b", "+"},
      {"ZRANGEBYLEX", "r:l", "-x", "+"},
      {"ZRANGEBYLEX", "r:l", "", "+"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "WITHSCORES"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "REV"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "BYLEX"},
      {"ZRANGEBYLEX", "r:l", "-", "+", "LIMIT", "0", "x"},
      {"ZREVRANGEBYLEX", "r:l", "+", "-"},
      {"ZREVRANGEBYLEX", "r:l", "(delta", "[b", "LIMIT", "1", "5"},
      {"ZREVRANGEBYLEX", "r:l", "-", "+"},
      {"ZRANGE", "r:l", "[b", "[d", "BYLEX"},
      {"ZRANGE", "r:l", "[d", "[b", "BYLEX", "REV"},
      {"ZRANGE", "r:l", "+", "-", "BYLEX", "REV", "LIMIT", "2", "2"},
      {"ZRANGE", "r:l", "-", "+", "BYLEX", "WITHSCORES"},
      {"ZRANGE", "r:l", "-", "+", "BYLEX", "LIMIT", "0", "2", "WITHSCORES"},
      {"ZRANGE", "r:l", "1", "+", "BYLEX"},
      {"ZRANGEBYLEX", "r:none", "-", "+"},
      {"ZREVRANK", "r:l", "beta"},
      // Mixed scores on a small set: Redis walks its packed form member by member.
      {"ZADD", "r:m", "1", "b", "2", "a", "3", "d", "4", "c"},
      {"ZRANGEBYLEX", "r:m", "[b", "+"},
      {"ZRANGEBYLEX", "r:m", "-", "[b"},
      {"ZREVRANGEBYLEX", "r:m", "[c", "-"},
      {"ZREVRANGEBYLEX", "r:m", "+", "[c"},
      // Wrong types and scripts.
      {"HSET", "r:h", "f", "v"},
      {"ZREVRANGEBYSCORE", "r:h", "+inf", "-inf"},
      {"ZRANGEBYLEX", "r:h", "-", "+"},
      {"ZRANGEBYLEX", "r:h", "x", "+"},
      {"ZREVRANK", "r:h", "f"},
      {"ZRANGE", "r:h", "-", "+", "BYLEX"},
      {"EVAL", "return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '-inf', 'WITHSCORES')", "1",
       "r:s"},
      {"EVAL", "return redis.call('ZRANGEBYLEX', KEYS[1], '[b', '+', 'LIMIT', '0', '2')", "1",
       "r:l"},
      {"EVAL", "return redis.call('ZRANGE', KEYS[1], '+', '-', 'BYLEX', 'REV')", "1", "r:l"},
      {"EVAL", "return redis.call('ZREVRANK', KEYS[1], 'c')", "1", "r:s"},
      {"EVAL", "return redis.pcall('ZRANGEBYLEX', KEYS[1], '-', '+')", "1", "r:h"},
      // Scripts get RESP2 replies whatever the caller speaks (a RESP3 caller got pairs).
      {"EVAL", "return redis.call('ZRANGE', KEYS[1], 0, 1, 'WITHSCORES')", "1", "r:s"},
      {"EVAL", "return redis.call('ZPOPMIN', KEYS[1], 2)", "1", "r:s"},
      {"DEL", "r:s", "r:l", "r:m", "r:h"},
  };
  // A set past the packed size, bisected: same-score members and a score range.
  std::vector<std::string> big{"ZADD", "r:big"};
  for (int i = 0; i < 300; ++i) {
    big.push_back("0");
    big.push_back("m" + std::to_string(1000 + i * 7 % 300));
  }
  s.insert(s.begin(), big);
  s.insert(s.begin() + 1, {{"ZRANGEBYLEX", "r:big", "[m1100", "(m1110"},
                           {"ZREVRANGEBYLEX", "r:big", "(m1200", "[m1190", "LIMIT", "2", "3"},
                           {"ZRANGEBYLEX", "r:big", "(m1298", "+"},
                           {"ZRANGEBYLEX", "r:big", "-", "[m1001"},
                           {"ZRANGE", "r:big", "[m1250", "-", "BYLEX", "REV", "LIMIT", "0", "3"},
                           {"ZREVRANK", "r:big", "m1010"},
                           {"DEL", "r:big"}});
  same_as_redis(s, 2);
  same_as_redis(s, 3);
}

// ZRANK/ZREVRANK WITHSCORE are Redis 7.2's: the redis-server here (7.0) refuses them, so these
// are 7.2's bytes written out.
BOOST_AUTO_TEST_CASE(zrank_withscore_as_redis_7_2) {
  Raw c(shared_server().port());
  c.cmd({"DEL", "w:z", "w:h"});
  c.cmd({"ZADD", "w:z", "1.5", "a", "2", "b", "3", "c"});
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "a", "WITHSCORE"}) == "*2\r\n:0\r\n$3\r\n1.5\r\n");
  BOOST_TEST(c.cmd({"ZREVRANK", "w:z", "a", "withscore"}) == "*2\r\n:2\r\n$3\r\n1.5\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "nope", "WITHSCORE"}) == "*-1\r\n");
  BOOST_TEST(c.cmd({"ZREVRANK", "w:none", "a", "WITHSCORE"}) == "*-1\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "nope"}) == "$-1\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "a", "WITHSCORES"}) == "-ERR syntax error\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "a", "WITHSCORE", "x"}) ==
             "-ERR wrong number of arguments for 'zrank' command\r\n");
  BOOST_TEST(c.cmd({"ZREVRANK", "w:z", "a", "WITHSCORE", "x"}) ==
             "-ERR wrong number of arguments for 'zrevrank' command\r\n");
  c.cmd({"HSET", "w:h", "f", "v"});
  BOOST_TEST(c.cmd({"ZRANK", "w:h", "f", "WITHSCORE"}) ==
             "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  BOOST_TEST(c.cmd({"EVAL", "return redis.call('ZREVRANK', KEYS[1], 'c', 'WITHSCORE')", "1",
                    "w:z"}) == "*2\r\n:0\r\n$1\r\n3\r\n");
  BOOST_TEST(c.cmd({"HELLO", "3"}).starts_with("%"));
  BOOST_TEST(c.cmd({"ZREVRANK", "w:z", "b", "WITHSCORE"}) == "*2\r\n:1\r\n,2\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "nope", "WITHSCORE"}) == "_\r\n");
  BOOST_TEST(c.cmd({"ZRANK", "w:z", "nope"}) == "_\r\n");
  BOOST_TEST(c.cmd({"DEL", "w:z", "w:h"}) == ":2\r\n");
}

BOOST_AUTO_TEST_CASE(lists_match_redis) {
  const Script s = {
      {"RPUSH", "l:1", "a", "b", "c"},
      {"LPUSH", "l:1", "z", "y"},
      {"LRANGE", "l:1", "0", "-1"},
      {"LRANGE", "l:1", "-2", "100"},
      {"LRANGE", "l:1", "3", "1"},
      {"LLEN", "l:1"},
      {"RPUSH", "l:1", "a", "x", "a"},
      {"LREM", "l:1", "1", "a"},
      {"LREM", "l:1", "-1", "a"},
      {"LRANGE", "l:1", "0", "-1"},
      {"LREM", "l:1", "0", "nope"},
      {"LPOP", "l:1"},
      {"RPOP", "l:1", "2"},
      {"LPOP", "l:1", "0"},
      {"LPOP", "l:1", "-1"},
      {"LPOP", "l:none"},
      {"LPOP", "l:none", "2"},
      {"BLPOP", "l:none", "l:1", "0"},
      {"BRPOP", "l:1", "0.01"},
      {"LPOP", "l:1", "10"},
      {"EXISTS", "l:1"},
      {"BLPOP", "l:1", "x"},
      {"BLPOP", "l:1", "-1"},
      {"RPUSH", "l:2", "v"},
      {"ZADD", "l:2", "1", "m"},
      {"DEL", "l:2"},
      {"MULTI"},
      {"RPUSH", "l:3", "q"},
      {"BLPOP", "l:3", "l:4", "0"},
      {"BLPOP", "l:3", "0"},
      {"EXEC"},
  };
  same_as_redis(s, 2);
  same_as_redis(s, 3);
}

BOOST_AUTO_TEST_CASE(one_keyspace_with_the_locks) {
  RespConn c(shared_server().port());
  BOOST_TEST((c.cmd({"SEMLOCK.ACQUIRE", "k:sem", "10000", "LIMIT", "3"}).type ==
              RespValue::Type::kArray));
  BOOST_TEST(c.cmd({"TYPE", "k:sem"}).str == "semaphore");
  BOOST_TEST(c.cmd({"HSET", "k:sem", "a", "1"}).str ==
             "WRONGTYPE Operation against a key holding the wrong kind of value");
  BOOST_TEST(c.cmd({"SET", "k:mutex", "me", "NX", "PX", "10000"}).str == "OK");
  BOOST_TEST(c.cmd({"ZADD", "k:mutex", "1", "a"}).is_error());
  BOOST_TEST(c.cmd({"HSET", "k:hash", "a", "1"}).integer == 1);
  BOOST_TEST(c.cmd({"SEMLOCK.ACQUIRE", "k:hash", "1000"}).is_error());
  BOOST_TEST((c.cmd({"SET", "k:hash", "me", "NX"}).type == RespValue::Type::kNull));
  const auto keys = c.cmd({"KEYS", "k:*"});
  BOOST_TEST(keys.elements.size() == 3u);
  // SCAN walks both kinds of key to cursor 0.
  std::size_t seen = 0;
  std::string cursor = "0";
  do {
    const auto r = c.cmd({"SCAN", cursor, "MATCH", "k:*", "COUNT", "2"});
    cursor = r.elements.at(0).str;
    seen += r.elements.at(1).elements.size();
  } while (cursor != "0");
  BOOST_TEST(seen == 3u);
  const auto typed = c.cmd({"SCAN", "0", "MATCH", "k:*", "TYPE", "hash", "COUNT", "100000"});
  BOOST_REQUIRE(typed.elements.size() == 2u);
  BOOST_TEST(typed.elements[1].elements.size() <= 1u);
  BOOST_TEST(c.cmd({"DEL", "k:sem", "k:mutex", "k:hash"}).integer == 3);
}

BOOST_AUTO_TEST_CASE(data_keys_count_toward_max_locks_and_memory) {
  Server s(ServerOptions{}.with_config(R"("limits":{"max_locks":2})"));
  RespConn c(s.port());
  BOOST_TEST(c.cmd({"INCR", "a"}).integer == 1);
  BOOST_TEST(c.cmd({"SET", "b", "me", "NX"}).str == "OK");
  BOOST_TEST(c.cmd({"HSET", "h", "f", "v"}).str ==
             "OVERLIMIT maximum locks limit reached: 2/2");
  BOOST_TEST(c.cmd({"SEMLOCK.ACQUIRE", "x", "1000"}).str ==
             "OVERLIMIT maximum locks limit reached: 2/2");
  BOOST_TEST(c.cmd({"INCR", "a"}).integer == 2);  // no new key: admitted
  BOOST_TEST(c.cmd({"DEL", "a"}).integer == 1);
  BOOST_TEST(c.cmd({"HSET", "h", "f", "v"}).integer == 1);
}

BOOST_AUTO_TEST_CASE(blocking_pops_fifo_timeout_disconnect) {
  const std::uint16_t port = shared_server().port();
  Raw first(port), second(port), gone(port), pusher(port);
  gone.raw().send(resp_command({"BLPOP", "b:q", "0"}));
  first.raw().send(resp_command({"BLPOP", "b:q", "0"}));
  second.raw().send(resp_command({"BRPOP", "b:other", "b:q", "5"}));
  sleep_for(Ms{100});
  gone.raw().close();  // its wait ends: it must not take an element
  sleep_for(Ms{100});
  BOOST_TEST(pusher.cmd({"RPUSH", "b:q", "one", "two"}) == ":2\r\n");
  BOOST_TEST(first.reply() == "*2\r\n$3\r\nb:q\r\n$3\r\none\r\n");
  BOOST_TEST(second.reply() == "*2\r\n$3\r\nb:q\r\n$3\r\ntwo\r\n");
  BOOST_TEST(pusher.cmd({"EXISTS", "b:q"}) == ":0\r\n");
  // A timeout answers a null array after the wait.
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(first.cmd({"BLPOP", "b:q", "0.2"}) == "*-1\r\n");
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= Ms{195}));
  // Pushes inside MULTI serve the waiter only after EXEC, and the transaction sees its own push.
  first.raw().send(resp_command({"BLPOP", "b:m", "0"}));
  sleep_for(Ms{50});
  BOOST_TEST(pusher.cmd({"MULTI"}) == "+OK\r\n");
  pusher.cmd({"RPUSH", "b:m", "x"});
  pusher.cmd({"LLEN", "b:m"});
  BOOST_TEST(pusher.cmd({"EXEC"}) == "*2\r\n:1\r\n:1\r\n");
  BOOST_TEST(first.reply() == "*2\r\n$3\r\nb:m\r\n$1\r\nx\r\n");
  // The blocked client executes nothing else until answered; then its pipeline resumes.
  first.raw().send(resp_command({"BLPOP", "b:p", "0"}) + resp_command({"PING"}));
  sleep_for(Ms{50});
  pusher.cmd({"LPUSH", "b:p", "v"});
  BOOST_TEST(first.reply() == "*2\r\n$3\r\nb:p\r\n$1\r\nv\r\n");
  BOOST_TEST(first.reply() == "+PONG\r\n");
}

BOOST_AUTO_TEST_CASE(blocking_pops_are_bounded_by_max_waiters) {
  Server s(ServerOptions{}.with_config(R"("limits":{"max_waiters":1})"));
  Raw a(s.port()), b(s.port()), c(s.port());
  a.raw().send(resp_command({"BLPOP", "q", "0"}));
  // a is the one waiter before b asks (a fixed 50 ms was not enough on a loaded machine: b would
  // then have been the waiter, blocked for good).
  BOOST_REQUIRE(eventually(
      [&] { return c.cmd({"INFO", "clients"}).find("blocked_clients:1\r\n") != std::string::npos; },
      Ms{30000}));
  BOOST_TEST(b.cmd({"BLPOP", "q", "0"}) ==
             "-OVERLIMIT maximum waiters limit reached: 1/1\r\n");
  BOOST_TEST(b.cmd({"SEMLOCK.ACQUIRE", "m", "1000"}).starts_with("*2"));
  BOOST_TEST(c.cmd({"SEMLOCK.ACQUIRE", "m", "1000", "WAIT", "1000"}) ==
             "-OVERLIMIT maximum waiters limit reached: 1/1\r\n");
  c.cmd({"RPUSH", "q", "v"});
  BOOST_TEST(a.reply() == "*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
}

BOOST_AUTO_TEST_CASE(data_keys_survive_a_restart_expired_ones_do_not) {
  const std::string dir = make_temp_dir();
  const auto opts = [&] {
    return ServerOptions{}.with_config(R"("persistence":{"enabled":true,"dir":")" + dir +
                                       R"(","fsync":"always"})");
  };
  {
    Server s(opts());
    RespConn c(s.port());
    c.cmd({"INCRBY", "fence", "41"});
    c.cmd({"INCR", "fence"});
    c.cmd({"HSET", "h", "a", "1", "b", "2"});
    c.cmd({"HDEL", "h", "a"});
    c.cmd({"ZADD", "z", "1", "a", "2", "b", "3", "c"});
    c.cmd({"ZREM", "z", "b"});
    c.cmd({"RPUSH", "l", "1", "2", "3", "4"});
    c.cmd({"LPOP", "l"});
    c.cmd({"LREM", "l", "0", "3"});
    c.cmd({"EXPIRE", "h", "1000"});
    c.cmd({"INCR", "short"});
    c.cmd({"PEXPIRE", "short", "100"});
    c.cmd({"HSET", "gone", "a", "1"});
    c.cmd({"DEL", "gone"});
    BOOST_TEST(s.terminate() == 0);
  }
  sleep_for(Ms{150});
  Server s(opts());
  RespConn c(s.port());
  BOOST_TEST(c.cmd({"GET", "fence"}).str == "42");
  BOOST_TEST(c.cmd({"HGETALL", "h"}).elements.size() == 2u);
  BOOST_TEST(c.cmd({"HGET", "h", "b"}).str == "2");
  const auto ttl = c.cmd({"TTL", "h"}).integer;
  BOOST_TEST((ttl > 990 && ttl <= 1000));
  const auto z = c.cmd({"ZRANGE", "z", "0", "-1"});
  BOOST_TEST(z.elements.size() == 2u);
  const auto l = c.cmd({"LRANGE", "l", "0", "-1"});
  BOOST_REQUIRE(l.elements.size() == 2u);
  BOOST_TEST(l.elements[0].str == "2");
  BOOST_TEST(l.elements[1].str == "4");
  BOOST_TEST(c.cmd({"EXISTS", "short", "gone"}).integer == 0);
  // Across a snapshot too (the journal is folded into it, list operations applied once).
  c.cmd({"RPUSH", "l", "5"});
  BOOST_TEST(s.terminate() == 0);
  Server again(opts());
  RespConn d(again.port());
  BOOST_TEST(d.cmd({"LLEN", "l"}).integer == 3);
}
