// recipes_workers.h: the three library workers.
#include "tests/checker/recipes_workers.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "redis-compat/sha1.h"
#include "tests/integration/clients.h"

namespace semlock::checker::recipes {

// Byte for byte as the libraries send them (Redisson's Java string concatenations joined).
const char* const kRedissonLock =
    "if ((redis.call('exists', KEYS[1]) == 0) or (redis.call('hexists', KEYS[1], ARGV[2]) == 1)) "
    "then redis.call('hincrby', KEYS[1], ARGV[2], 1); redis.call('pexpire', KEYS[1], ARGV[1]); "
    "return nil; end; return redis.call('pttl', KEYS[1]);";
const char* const kRedissonUnlock =
    "local val = redis.call('get', KEYS[3]); if val ~= false then return tonumber(val);end; "
    "if (redis.call('hexists', KEYS[1], ARGV[3]) == 0) then return nil;end; "
    "local counter = redis.call('hincrby', KEYS[1], ARGV[3], -1); "
    "if (counter > 0) then redis.call('pexpire', KEYS[1], ARGV[2]); "
    "redis.call('set', KEYS[3], 0, 'px', ARGV[5]); return 0; "
    "else redis.call('del', KEYS[1]); redis.call(ARGV[4], KEYS[2], ARGV[1]); "
    "redis.call('set', KEYS[3], 1, 'px', ARGV[5]); return 1; end; ";
const char* const kRedissonRenew =
    "if (redis.call('hexists', KEYS[1], ARGV[2]) == 1) then "
    "redis.call('pexpire', KEYS[1], ARGV[1]); return 1; end; return 0;";
const char* const kSemaphoreAcquire = R"(
  local key = KEYS[1]
  local limit = tonumber(ARGV[1])
  local identifier = ARGV[2]
  local lockTimeout = tonumber(ARGV[3])
  local now = tonumber(ARGV[4])
  local expiredTimestamp = now - lockTimeout

  redis.call('zremrangebyscore', key, '-inf', expiredTimestamp)

  if redis.call('zcard', key) < limit then
    redis.call('zadd', key, now, identifier)
    redis.call('pexpire', key, lockTimeout)
    return 1
  else
    return 0
  end)";
const char* const kSemaphoreRefresh = R"(
  local key = KEYS[1]
  local limit = tonumber(ARGV[1])
  local identifier = ARGV[2]
  local lockTimeout = tonumber(ARGV[3])
  local now = tonumber(ARGV[4])
  local expiredTimestamp = now - lockTimeout

  redis.call('zremrangebyscore', key, '-inf', expiredTimestamp)

  if redis.call('zscore', key, identifier) then
    redis.call('zadd', key, now, identifier)
    redis.call('pexpire', key, lockTimeout)
    return 1
  else
    return 0
  end)";
const char* const kSimpleMutexRelease = R"(
  local lockKey = KEYS[1]
  local updatesChannel = KEYS[2]
  local lockValue = ARGV[1]

  if redis.call("GET", lockKey) == lockValue then
      redis.call("DEL", lockKey)
      redis.call(
        "PUBLISH",
        updatesChannel,
        string.format('{ "key": "%s", "value": "%s" }', lockKey, lockValue)
      )
  end
)";

Nanos steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t semaphore_timeout_ms(int key_index) {
  return key_index % 2 == 0 ? 120 : 200;
}

std::int64_t simple_mutex_timeout_ms(int key_index) {
  return key_index % 2 == 0 ? 60 : 130;
}

namespace {

using it::RawClient;
using it::RespValue;

void sleep_ms(double ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(ms * 1000)));
}

bool is_nil(const RespValue& v) {
  return v.type == RespValue::Type::kNull;
}

// A connection that follows the server across kill -9 and restart: before each request it makes
// sure the socket is alive (a closed one is replaced, waiting while the server restarts).
class Link {
 public:
  explicit Link(WorkerControl& ctl) : ctl_(ctl) {}

  bool ready() {
    if (raw_) {
      char byte;
      ssize_t n = ::recv(raw_->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        raw_.reset();
      }
    }
    while (!raw_ && !ctl_.stop.load()) {
      try {
        raw_ = std::make_unique<RawClient>(ctl_.port);
        ++generation_;
      } catch (const std::exception&) {
        sleep_ms(5);
      }
    }
    return raw_ != nullptr;
  }

  // One request and its reply, times in `send`/`recv`; nullopt when no reply came (recv = -1).
  std::optional<RespValue> call(const std::vector<std::string>& args, Nanos& send, Nanos& recv) {
    recv = -1;
    if (!ready()) {
      send = steady_now();
      return std::nullopt;
    }
    raw_->buffer().clear();
    send = steady_now();
    try {
      raw_->send(it::resp_command(args));
    } catch (const std::exception&) {
      raw_.reset();
      return std::nullopt;
    }
    std::optional<RespValue> v;
    bool got = raw_->read_until(
        [&](std::string_view in) {
          std::size_t used = 0;
          v = it::parse_resp(in, used);
          return v.has_value();
        },
        std::chrono::milliseconds(15000));
    if (!got) {
      if (!raw_->peer_closed()) ++ctl_.stalls;
      raw_.reset();
      return std::nullopt;
    }
    recv = steady_now();
    return v;
  }

  // EVALSHA, and EVAL when the server does not know the script (after a restart): as
  // redis-semaphore's createEval does. The times are those of the request that ran it.
  std::optional<RespValue> eval_cached(const std::string& script, const std::string& sha,
                                       std::vector<std::string> rest, Nanos& send, Nanos& recv) {
    std::vector<std::string> args = {"EVALSHA", sha};
    args.insert(args.end(), rest.begin(), rest.end());
    auto v = call(args, send, recv);
    if (v && v->is_error() && v->str.rfind("NOSCRIPT", 0) == 0) {
      args[0] = "EVAL";
      args[1] = script;
      v = call(args, send, recv);
    }
    return v;
  }

  int generation() const { return generation_; }

 private:
  WorkerControl& ctl_;
  std::unique_ptr<RawClient> raw_;
  int generation_ = 0;
};

// A subscriber connection (RESP2 subscribed mode), resubscribed after a restart.
class Sub {
 public:
  Sub(WorkerControl& ctl, std::vector<std::string> channels)
      : ctl_(ctl), channels_(std::move(channels)) {}

  // Reads notices until `until` (steady ns) or until `wanted` returns true for one.
  void wait(Nanos until, const std::function<bool(const std::string&, const std::string&, Nanos)>&
                             wanted) {
    for (;;) {
      if (!raw_) connect();
      if (raw_) {
        bool alive = pump();
        std::size_t used = 0;
        while (auto v = it::parse_resp(raw_->buffer(), used)) {
          raw_->buffer().erase(0, used);
          if (v->type == RespValue::Type::kArray && v->elements.size() == 3 &&
              v->elements[0].str == "message") {
            if (wanted(v->elements[1].str, v->elements[2].str, steady_now())) return;
          }
        }
        if (!alive) raw_.reset();
      }
      Nanos left = until - steady_now();
      if (left <= 0 || ctl_.stop.load()) return;
      if (!raw_) {
        sleep_ms(std::min<double>(5, static_cast<double>(left) / 1e6));
        continue;
      }
      pollfd p{raw_->fd(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::clamp<Nanos>(left / kMs, 1, 20)));
    }
  }
  // Reads what has arrived without waiting (the notices pile up while a worker holds a lock).
  void drain() {
    wait(0, [](const std::string&, const std::string&, Nanos) { return false; });
  }

 private:
  void connect() {
    try {
      raw_ = std::make_unique<RawClient>(ctl_.port);
      std::vector<std::string> args = {"SUBSCRIBE"};
      args.insert(args.end(), channels_.begin(), channels_.end());
      raw_->send(it::resp_command(args));
    } catch (const std::exception&) {
      raw_.reset();
    }
  }
  // Appends what the socket has to the buffer; false once the server closed it.
  bool pump() {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::recv(raw_->fd(), chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        raw_->buffer().append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }

  WorkerControl& ctl_;
  std::vector<std::string> channels_;
  std::unique_ptr<RawClient> raw_;
};

Reply reply_of(const std::optional<RespValue>& v, Call& c) {
  if (!v) return Reply::kNone;
  if (v->is_error()) {
    c.error = v->str;
    return Reply::kError;
  }
  return Reply::kOk;  // refined by the caller
}

struct Ctx {
  Recipe recipe;
  int index;
  std::mt19937_64 rng;
  const std::vector<KeySpec>& keys;
  std::vector<int> mine;  // indexes of this recipe's keys
  WorkerControl& ctl;
  WorkerOutput& out;
  int seq = 0;
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  int pick() { return mine[static_cast<std::size_t>(between(0, static_cast<int>(mine.size()) - 1))]; }
  const std::string& name(int k) const { return keys[static_cast<std::size_t>(k)].name; }
};

std::string redisson_channel(const std::string& key) {
  return "redisson_lock__channel:{" + key + "}";
}

void redisson(Ctx& x) {
  Link link(x.ctl);
  std::vector<std::string> channels;
  for (int k : x.mine) channels.push_back(redisson_channel(x.name(k)));
  Sub sub(x.ctl, channels);
  // Redisson's lock name is "<client UUID>:<thread id>"; one "thread" per attempt here.
  const std::string uuid = "5f0c9a3e-1d2b-4c8e-9a7f-" + std::to_string(100000000000 + x.index);
  while (!x.ctl.stop.load()) {
    sub.drain();
    Attempt a;
    a.recipe = Recipe::kRedisson;
    a.key = x.pick();
    a.worker = x.index;
    a.owner = uuid + ":" + std::to_string(++x.seq);
    a.ttl_ms = x.between(30, 150);
    const std::string key = x.name(a.key), lease = std::to_string(a.ttl_ms);
    auto lock = [&](CallKind kind) {
      Call c;
      c.kind = kind;
      auto v = link.call({"EVAL", kRedissonLock, "1", key, lease, a.owner}, c.send, c.recv);
      c.reply = reply_of(v, c);
      if (c.reply == Reply::kOk && !is_nil(*v)) {
        c.reply = v->type == RespValue::Type::kInteger ? Reply::kNo : Reply::kError;
        c.value = v->integer;
        if (c.reply == Reply::kError) c.error = "unexpected reply " + v->debug();
      }
      a.calls.push_back(c);
      return c;
    };
    Call c0 = lock(CallKind::kAcquire);
    if (c0.reply == Reply::kNo) {
      x.out.attempts.push_back(std::move(a));
      // Wait for the unlock notice, or the holder's TTL, as Redisson's tryLock(wait) does.
      Nanos until = steady_now() + std::clamp<std::int64_t>(c0.value, 1, 100) * kMs;
      sub.wait(until, [&](const std::string& ch, const std::string&, Nanos) {
        return ch == redisson_channel(key);
      });
      continue;
    }
    if (c0.reply != Reply::kOk) {
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    ++x.ctl.grants[static_cast<int>(x.recipe)];
    int depth = 1;
    bool ok = true;
    for (int want = x.between(1, 3); depth < want && ok; ++depth) {
      sleep_ms(x.between(0, 2000) / 1000.0);
      ok = lock(CallKind::kReenter).reply == Reply::kOk;
      if (!ok) break;
    }
    const int roll = x.between(0, 99);
    if (ok && roll < 30) {
      sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 300) / 1000.0);
      Call c;
      c.kind = CallKind::kRenew;
      auto v = link.call({"EVAL", kRedissonRenew, "1", key, lease, a.owner}, c.send, c.recv);
      c.reply = reply_of(v, c);
      if (c.reply == Reply::kOk) c.reply = v->integer == 1 ? Reply::kOk : Reply::kNo;
      a.calls.push_back(c);
      ok = c.reply == Reply::kOk;
    }
    if (ok && roll >= 95) {
      // Abandoned (the process "died"); now and then an unlock well after the TTL (must find
      // nothing).
      if (roll >= 98) sleep_ms(static_cast<double>(a.ttl_ms) + 15);
      else ok = false;
    } else if (ok) {
      sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 400) / 1000.0);
    }
    // Unlock as often as locked; one in ten once more.
    int unlocks = !ok ? 0 : roll >= 98 ? 1 : depth + (roll < 10 ? 1 : 0);
    for (int u = 0; u < unlocks; ++u) {
      Call c;
      c.kind = CallKind::kRelease;
      const std::string latch = "redisson_unlock_latch:{" + key + "}:" + a.owner + ":" +
                                std::to_string(u);
      auto v = link.call({"EVAL", kRedissonUnlock, "3", key, redisson_channel(key), latch, "0",
                          lease, a.owner, "publish", "100"},
                         c.send, c.recv);
      c.reply = reply_of(v, c);
      if (c.reply == Reply::kOk) {
        if (is_nil(*v)) {
          c.reply = Reply::kNo;
        } else if (v->type == RespValue::Type::kInteger && (v->integer == 0 || v->integer == 1)) {
          c.value = v->integer;
        } else {
          c.reply = Reply::kError;
          c.error = "unexpected reply " + v->debug();
        }
      }
      a.calls.push_back(c);
      if (c.reply != Reply::kOk) break;
    }
    x.out.attempts.push_back(std::move(a));
  }
}

void semaphore(Ctx& x) {
  Link link(x.ctl);
  const std::string acquire_sha = redis::sha1_hex(kSemaphoreAcquire);
  const std::string refresh_sha = redis::sha1_hex(kSemaphoreRefresh);
  // The library's `now` is Date.now(); a monotonic millisecond clock here, so that the scripts'
  // time and the record's time are one clock (the scripts only compare the numbers given).
  auto now_ms = [] { return steady_now() / kMs; };
  while (!x.ctl.stop.load()) {
    Attempt a;
    a.recipe = Recipe::kSemaphore;
    a.key = x.pick();
    a.worker = x.index;
    a.owner = "s" + std::to_string(x.index) + "-" + std::to_string(++x.seq) + "-9b2e7c41";
    a.ttl_ms = semaphore_timeout_ms(a.key);
    const std::string key = x.name(a.key), timeout = std::to_string(a.ttl_ms),
                      limit = std::to_string(x.keys[static_cast<std::size_t>(a.key)].limit);
    auto script = [&](CallKind kind) {
      Call c;
      c.kind = kind;
      c.now_ms = now_ms();
      const bool acq = kind == CallKind::kAcquire;
      auto v = link.eval_cached(acq ? kSemaphoreAcquire : kSemaphoreRefresh,
                                acq ? acquire_sha : refresh_sha,
                                {"1", key, limit, a.owner, timeout, std::to_string(c.now_ms)},
                                c.send, c.recv);
      c.reply = reply_of(v, c);
      if (c.reply == Reply::kOk) {
        if (v->type == RespValue::Type::kInteger && (v->integer == 0 || v->integer == 1)) {
          c.reply = v->integer == 1 ? Reply::kOk : Reply::kNo;
        } else {
          c.reply = Reply::kError;
          c.error = "unexpected reply " + v->debug();
        }
      }
      a.calls.push_back(c);
      return c.reply;
    };
    Reply r = script(CallKind::kAcquire);
    if (r != Reply::kOk) {
      x.out.attempts.push_back(std::move(a));
      if (r == Reply::kNo) sleep_ms(x.between(2, 10));  // retryInterval
      continue;
    }
    ++x.ctl.grants[static_cast<int>(x.recipe)];
    const int roll = x.between(0, 99);
    bool ok = true;
    if (roll < 35) {
      sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 400) / 1000.0);
      ok = script(CallKind::kRenew) == Reply::kOk;
    }
    if (!ok || roll >= 95) {  // lost, or abandoned: the member ages out
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 400) / 1000.0);
    Call c;
    c.kind = CallKind::kRelease;
    auto v = link.call({"ZREM", key, a.owner}, c.send, c.recv);
    c.reply = reply_of(v, c);
    if (c.reply == Reply::kOk) c.reply = v->integer == 1 ? Reply::kOk : Reply::kNo;
    a.calls.push_back(c);
    x.out.attempts.push_back(std::move(a));
  }
}

// The key and value of a simple-redis-mutex release notice.
bool parse_notice(const std::string& m, std::string& key, std::string& value) {
  auto field = [&](const std::string& name, std::string& out) {
    std::string tag = "\"" + name + "\": \"";
    std::size_t p = m.find(tag);
    if (p == std::string::npos) return false;
    p += tag.size();
    std::size_t e = m.find('"', p);
    if (e == std::string::npos) return false;
    out = m.substr(p, e - p);
    return true;
  };
  return field("key", key) && field("value", value);
}

void simple_mutex(Ctx& x) {
  Link link(x.ctl);
  Sub sub(x.ctl, {kSimpleMutexChannel});
  std::string release_sha;  // node-redis: SCRIPT LOAD once, EVALSHA, again after NOSCRIPT
  auto record = [&](const std::string& ch, const std::string& payload, Nanos at) {
    Message m;
    m.recv = at;
    std::string key;
    if (ch != kSimpleMutexChannel || !parse_notice(payload, key, m.value)) {
      m.value = ch + " " + payload;
    }
    for (int k : x.mine) {
      if (x.name(k) == key) m.key = k;
    }
    x.out.messages.push_back(m);
    return key;
  };
  auto drain = [&] {
    sub.wait(0, [&](const std::string& ch, const std::string& p, Nanos at) {
      record(ch, p, at);
      return false;
    });
  };  // (Sub::drain() would drop them: here every notice is recorded)
  while (!x.ctl.stop.load()) {
    drain();
    Attempt a;
    a.recipe = Recipe::kMutex;
    a.key = x.pick();
    a.worker = x.index;
    a.owner = "0." + std::to_string(x.index) + std::to_string(++x.seq) + "7391";
    a.ttl_ms = simple_mutex_timeout_ms(a.key);
    const std::string key = x.name(a.key), timeout = std::to_string(a.ttl_ms);
    Call c0;
    auto v = link.call({"SET", key, a.owner, "NX", "PX", timeout}, c0.send, c0.recv);
    c0.reply = reply_of(v, c0);
    if (c0.reply == Reply::kOk) {
      if (is_nil(*v)) {
        c0.reply = Reply::kNo;
      } else if (v->str != "OK") {
        c0.reply = Reply::kError;
        c0.error = "unexpected reply " + v->debug();
      }
    }
    a.calls.push_back(c0);
    if (c0.reply == Reply::kNo) {
      x.out.attempts.push_back(std::move(a));
      // Wait for a release notice of this lock, or poll again (pollingInterval).
      sub.wait(steady_now() + x.between(20, 60) * kMs,
               [&](const std::string& ch, const std::string& p, Nanos at) {
                 return record(ch, p, at) == key;
               });
      continue;
    }
    if (c0.reply != Reply::kOk) {
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    ++x.ctl.grants[static_cast<int>(x.recipe)];
    Call f;
    f.kind = CallKind::kFence;
    v = link.call({"INCR", kSimpleMutexCounter}, f.send, f.recv);
    f.reply = reply_of(v, f);
    if (f.reply == Reply::kOk) {
      if (v->type == RespValue::Type::kInteger) {
        f.value = v->integer;
      } else {
        f.reply = Reply::kError;
        f.error = "unexpected reply " + v->debug();
      }
    }
    a.calls.push_back(f);
    if (f.reply != Reply::kOk) {
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    const int roll = x.between(0, 99);
    bool ok = true;
    if (roll < 30) {
      // refreshTimeout(): GET, and PEXPIRE when the value is still ours (not atomic).
      sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 250) / 1000.0);
      Call c;
      c.kind = CallKind::kRenew;
      auto g = link.call({"GET", key}, c.send, c.recv);
      c.reply = reply_of(g, c);
      if (c.reply == Reply::kOk && (is_nil(*g) || g->str != a.owner)) c.reply = Reply::kNo;
      if (c.reply == Reply::kOk) {
        auto p = link.call({"PEXPIRE", key, timeout}, c.aux_send, c.recv);
        c.reply = reply_of(p, c);
        if (c.reply == Reply::kOk) c.reply = p->integer == 1 ? Reply::kOk : Reply::kNo;
      }
      a.calls.push_back(c);
      ok = c.reply == Reply::kOk;
    }
    if (!ok || roll >= 95) {
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    sleep_ms(x.between(0, static_cast<int>(a.ttl_ms) * 400) / 1000.0);
    Call c;
    c.kind = CallKind::kRelease;
    std::vector<std::string> rest = {"2", key, kSimpleMutexChannel, a.owner};
    bool ran = false;  // NOSCRIPT: nothing ran (a restart between SCRIPT LOAD and EVALSHA)
    for (int tries = 0; tries < 5 && !ran && !x.ctl.stop.load(); ++tries) {
      if (release_sha.empty()) {
        Nanos s, r;
        auto l = link.call({"SCRIPT", "LOAD", kSimpleMutexRelease}, s, r);
        if (l && l->type == RespValue::Type::kBulk) release_sha = l->str;
        if (release_sha.empty()) continue;
      }
      std::vector<std::string> args = {"EVALSHA", release_sha};
      args.insert(args.end(), rest.begin(), rest.end());
      v = link.call(args, c.send, c.recv);
      if (v && v->is_error() && v->str.rfind("NOSCRIPT", 0) == 0) {
        release_sha.clear();
        continue;
      }
      ran = true;
    }
    if (!ran) {  // never sent: the holder is left to its TTL
      x.out.attempts.push_back(std::move(a));
      continue;
    }
    c.reply = reply_of(v, c);
    if (c.reply == Reply::kOk && !is_nil(*v)) {
      c.reply = Reply::kError;
      c.error = "unexpected reply " + v->debug();
    }
    a.calls.push_back(c);
    x.out.attempts.push_back(std::move(a));
  }
  drain();
}

}  // namespace

void run_worker(Recipe recipe, int index, std::uint64_t seed, const std::vector<KeySpec>& keys,
                WorkerControl& control, WorkerOutput& out) {
  Ctx x{recipe, index, std::mt19937_64(seed * 1'000'003 + static_cast<std::uint64_t>(index)),
        keys, {}, control, out};
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (keys[k].recipe == recipe) x.mine.push_back(static_cast<int>(k));
  }
  try {
    switch (recipe) {
      case Recipe::kRedisson: redisson(x); break;
      case Recipe::kSemaphore: semaphore(x); break;
      case Recipe::kMutex: simple_mutex(x); break;
    }
  } catch (const std::exception& e) {
    out.failure = e.what();
  }
}

}  // namespace semlock::checker::recipes
