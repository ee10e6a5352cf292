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
  sleep_for(Ms{50});
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
