// SEMLOCK.* over RESP against the real binary: reply forms in RESP2 (hiredis and raw bytes) and
// RESP3 (after HELLO 3), Redis's exact error texts, pipelining, protocol errors, inline commands
// and binary-safe keys (SPEC §1, §3).
#define BOOST_TEST_MODULE it_resp
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <regex>

#include "tests/integration/server_fixture.h"

using namespace semlock::it;

BOOST_TEST_GLOBAL_FIXTURE(SharedServerStopper);

namespace {

std::uint16_t port() {
  return shared_server().port();
}

void check_error(RespConn& c, const std::vector<std::string>& args, const std::string& text) {
  auto v = c.cmd(args);
  BOOST_CHECK_MESSAGE(v.is_error() && v.str == text,
                      args.at(0) << " " << (args.size() > 1 ? args[1] : "") << ": got " << v.debug()
                                 << ", want -" << text);
}

// [owner, fence] or throws.
std::pair<std::string, long long> granted(const RespValue& v) {
  if (v.type != RespValue::Type::kArray || v.elements.size() != 2 ||
      v.elements[0].type != RespValue::Type::kBulk ||
      v.elements[1].type != RespValue::Type::kInteger) {
    throw std::runtime_error("not a grant: " + v.debug());
  }
  return {v.elements[0].str, v.elements[1].integer};
}

}  // namespace

BOOST_AUTO_TEST_CASE(acquire_granted_reply_is_owner_and_fence_bytes) {
  RawClient c(port());
  c.send(resp_command({"SEMLOCK.ACQUIRE", "resp:bytes", "30000"}));
  std::regex form("\\*2\r\n\\$32\r\n[0-9a-f]{32}\r\n:[0-9]+\r\n");
  bool ok =
      c.read_until([&](std::string_view b) { return std::regex_match(std::string(b), form); });
  BOOST_CHECK_MESSAGE(ok, "reply: " << c.buffer());
  c.buffer().clear();
  c.send(resp_command({"SEMLOCK.ACQUIRE", "resp:bytes", "30000"}));
  c.read_until([](std::string_view b) { return b.size() >= 5; });
  BOOST_CHECK_EQUAL(c.buffer(), "$-1\r\n");
}

BOOST_AUTO_TEST_CASE(acquire_release_extend_exists_with_hiredis) {
  Hiredis r(port());
  auto a = r.cmd({"SEMLOCK.ACQUIRE", "resp:h", "30000"});
  BOOST_REQUIRE_EQUAL(a->type, REDIS_REPLY_ARRAY);
  BOOST_REQUIRE_EQUAL(a->elements, 2u);
  std::string owner = reply_str(a->element[0]);
  long long fence = a->element[1]->integer;
  BOOST_CHECK_EQUAL(owner.size(), 32u);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.ACQUIRE", "resp:h", "30000"})->type, REDIS_REPLY_NIL);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXISTS", "resp:h"})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXTEND", "resp:h", "other", "5000"})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXTEND", "resp:h", owner, "5000"})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.RELEASE", "resp:h", "other"})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.RELEASE", "resp:h", owner})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.RELEASE", "resp:h", owner})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXISTS", "resp:h"})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.INFO", "resp:h"})->type, REDIS_REPLY_NIL);

  // A new grant gets a larger fence, on this key and on another.
  auto b = r.cmd({"SEMLOCK.ACQUIRE", "resp:h", "30000"});
  BOOST_REQUIRE_EQUAL(b->type, REDIS_REPLY_ARRAY);
  BOOST_CHECK_GT(b->element[1]->integer, fence);
  auto c = r.cmd({"SEMLOCK.ACQUIRE", "resp:h2", "30000"});
  BOOST_REQUIRE_EQUAL(c->type, REDIS_REPLY_ARRAY);
  BOOST_CHECK_GT(c->element[1]->integer, b->element[1]->integer);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.FORCERELEASE", "resp:h"})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.FORCERELEASE", "resp:h2"})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.FORCERELEASE", "resp:h2"})->integer, 0);
}

BOOST_AUTO_TEST_CASE(explicit_owner_reacquire_returns_same_fence) {
  RespConn c(port());
  auto first = granted(c.cmd({"SEMLOCK.ACQUIRE", "resp:re", "30000", "OWNER", "me"}));
  auto again = granted(c.cmd({"SEMLOCK.ACQUIRE", "resp:re", "30000", "OWNER", "me"}));
  BOOST_CHECK_EQUAL(first.first, "me");
  BOOST_CHECK_EQUAL(again.second, first.second);
  BOOST_CHECK(c.cmd({"SEMLOCK.ACQUIRE", "resp:re", "30000", "OWNER", "you"}).type ==
              RespValue::Type::kNull);
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.RELEASE", "resp:re", "me"}).integer, 1);
}

BOOST_AUTO_TEST_CASE(semaphore_limit_mismatch_and_info_resp2) {
  RespConn c(port());
  for (const char* o : {"a", "b", "c"}) {
    granted(c.cmd({"SEMLOCK.ACQUIRE", "resp:sem", "30000", "OWNER", o, "LIMIT", "3"}));
  }
  BOOST_CHECK(c.cmd({"SEMLOCK.ACQUIRE", "resp:sem", "30000", "OWNER", "d", "LIMIT", "3"}).type ==
              RespValue::Type::kNull);
  check_error(c, {"SEMLOCK.ACQUIRE", "resp:sem", "30000", "OWNER", "d", "LIMIT", "2"},
              "MISMATCH key exists with a different limit");
  // No LIMIT takes the key's own: still full, so not granted rather than MISMATCH.
  BOOST_CHECK(c.cmd({"SEMLOCK.ACQUIRE", "resp:sem", "30000", "OWNER", "d"}).type ==
              RespValue::Type::kNull);
  check_error(c, {"GET", "resp:sem"},
              "WRONGTYPE Operation against a key holding a semaphore (limit > 1)");

  auto info = c.cmd({"SEMLOCK.INFO", "resp:sem"});
  BOOST_REQUIRE(info.type == RespValue::Type::kArray);
  BOOST_REQUIRE(info.field("limit") && info.field("holders") && info.field("waiters"));
  BOOST_CHECK_EQUAL(info.field("limit")->integer, 3);
  BOOST_CHECK_EQUAL(info.field("waiters")->integer, 0);
  const auto& holders = info.field("holders")->elements;
  BOOST_REQUIRE_EQUAL(holders.size(), 3u);
  for (const auto& h : holders) {
    BOOST_REQUIRE_EQUAL(h.elements.size(), 3u);
    BOOST_CHECK(h.elements[0].type == RespValue::Type::kBulk);
    BOOST_CHECK(h.elements[1].type == RespValue::Type::kInteger);
    BOOST_CHECK(h.elements[2].integer > 0 && h.elements[2].integer <= 30000);
  }
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "resp:sem"}).integer, 3);
  // The key is gone, so it forgot its limit: LIMIT 2 now creates it afresh.
  granted(c.cmd({"SEMLOCK.ACQUIRE", "resp:sem", "30000", "OWNER", "a", "LIMIT", "2"}));
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", "resp:sem"}).integer, 1);
}

BOOST_AUTO_TEST_CASE(resp3_after_hello_3) {
  RespConn c(port());
  auto hello = c.cmd({"HELLO", "3"});
  BOOST_REQUIRE_MESSAGE(hello.type == RespValue::Type::kMap, hello.debug());
  BOOST_REQUIRE(hello.field("server") && hello.field("proto"));
  BOOST_CHECK_EQUAL(hello.field("server")->str, "ttl-semlock");
  BOOST_CHECK_EQUAL(hello.field("proto")->integer, 3);

  granted(c.cmd({"SEMLOCK.ACQUIRE", "resp3:k", "30000", "OWNER", "x"}));
  c.send({"SEMLOCK.ACQUIRE", "resp3:k", "30000"});
  BOOST_CHECK(c.raw().read_until([](std::string_view b) { return b == "_\r\n"; }));
  c.raw().buffer().clear();

  auto info = c.cmd({"SEMLOCK.INFO", "resp3:k"});
  BOOST_REQUIRE_MESSAGE(info.type == RespValue::Type::kMap, info.debug());
  BOOST_REQUIRE(info.field("limit") && info.field("holders") && info.field("waiters"));
  BOOST_CHECK_EQUAL(info.field("limit")->integer, 1);
  BOOST_CHECK_EQUAL(info.field("holders")->elements.at(0).elements.at(0).str, "x");
  c.send({"SEMLOCK.INFO", "resp3:absent"});
  BOOST_CHECK(c.raw().read_until([](std::string_view b) { return b == "_\r\n"; }));
  c.raw().buffer().clear();

  auto stats = c.cmd({"SEMLOCK.STATS"});
  BOOST_REQUIRE_MESSAGE(stats.type == RespValue::Type::kMap, stats.debug());
  for (const char* name :
       {"TotalRequests", "ActiveLocks", "Holders", "Waiters", "AcquireRequests", "ReleaseRequests",
        "ExtendRequests", "RejectedRequests", "ExpiredLocks", "Connections", "MemoryUsageBytes",
        "MemoryLimitBytes", "LocksLimit", "UptimeSeconds"}) {
    BOOST_CHECK_MESSAGE(stats.field(name) != nullptr, "SEMLOCK.STATS lacks " << name);
  }
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.RELEASE", "resp3:k", "x"}).integer, 1);
}

BOOST_AUTO_TEST_CASE(stats_resp2_is_flat_key_value_array) {
  Hiredis r(port());
  auto s = r.cmd({"SEMLOCK.STATS"});
  BOOST_REQUIRE_EQUAL(s->type, REDIS_REPLY_ARRAY);
  BOOST_CHECK_EQUAL(s->elements % 2, 0u);
  BOOST_CHECK_EQUAL(s->elements, 28u);
}

BOOST_AUTO_TEST_CASE(unknown_command_and_arity_texts) {
  RespConn c(port());
  check_error(c, {"nope", "x"}, "ERR unknown command 'nope', with args beginning with: 'x' ");
  check_error(c, {"SEMLOCK.ACQUIRE", "k"},
              "ERR wrong number of arguments for 'semlock.acquire' command");
  check_error(c, {"SEMLOCK.RELEASE", "k"},
              "ERR wrong number of arguments for 'semlock.release' command");
  check_error(c, {"SEMLOCK.EXTEND", "k", "o"},
              "ERR wrong number of arguments for 'semlock.extend' command");
  check_error(c, {"SEMLOCK.EXISTS"}, "ERR wrong number of arguments for 'semlock.exists' command");
  // The connection survives every one of them.
  BOOST_CHECK_EQUAL(c.cmd({"PING"}).str, "PONG");
}

BOOST_AUTO_TEST_CASE(bad_arguments_give_exact_errors) {
  RespConn c(port());
  const std::string not_int = "ERR value is not an integer or out of range";
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "abc"}, not_int);
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "10.5"}, not_int);
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "LIMIT", "x"}, not_int);
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "WAIT", "x"}, not_int);
  check_error(c, {"SEMLOCK.EXTEND", "bad:k", "o", "x"}, not_int);
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "0"}, "ERR invalid TTL");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "-5"}, "ERR invalid TTL");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "86400001"}, "ERR invalid TTL");
  check_error(c, {"SEMLOCK.EXTEND", "bad:k", "o", "0"}, "ERR invalid TTL");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "LIMIT", "0"}, "ERR invalid LIMIT");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "LIMIT", "10001"}, "ERR invalid LIMIT");
  check_error(c, {"SEMLOCK.ACQUIRE", std::string(513, 'k'), "1000"}, "ERR key too long");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "OWNER", std::string(129, 'o')},
              "ERR invalid owner");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "OWNER", ""}, "ERR invalid owner");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "BOGUS"}, "ERR syntax error");
  check_error(c, {"SEMLOCK.ACQUIRE", "bad:k", "1000", "OWNER"}, "ERR syntax error");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "bad:k"}).integer, 0);

  // The boundaries themselves are accepted.
  granted(c.cmd({"SEMLOCK.ACQUIRE", std::string(512, 'k'), "86400000", "OWNER",
                 std::string(128, 'o'), "LIMIT", "10000"}));
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.FORCERELEASE", std::string(512, 'k')}).integer, 1);
}

BOOST_AUTO_TEST_CASE(auth_without_configured_keys_is_redis_error) {
  RespConn c(port());
  check_error(c, {"AUTH", "secret"},
              "ERR AUTH <password> called without any password configured for the default user. "
              "Are you sure your configuration is correct?");
}

BOOST_AUTO_TEST_CASE(ten_thousand_pipelined_commands_in_one_write) {
  std::string batch;
  for (int i = 0; i < 5000; ++i) {
    std::string key = "pipe:" + std::to_string(i);
    batch += resp_command({"SEMLOCK.ACQUIRE", key, "30000", "OWNER", "p"});
    batch += resp_command({"SEMLOCK.RELEASE", key, "p"});
  }
  RespConn c(port());
  c.raw().send(batch);
  long long last_fence = 0;
  int bad = 0;
  for (int i = 0; i < 10000; ++i) {
    auto v = c.read(std::chrono::seconds(10));
    BOOST_REQUIRE_MESSAGE(v, "reply " << i << " missing");
    if (i % 2 == 0) {
      auto [owner, fence] = granted(*v);
      bad += owner != "p" || fence <= last_fence;
      last_fence = fence;
    } else {
      bad += !(v->type == RespValue::Type::kInteger && v->integer == 1);
    }
  }
  BOOST_CHECK_EQUAL(bad, 0);
  c.raw().read_for(Ms{50});
  BOOST_CHECK(c.raw().buffer().empty());
}

BOOST_AUTO_TEST_CASE(protocol_errors_are_answered_then_closed) {
  struct Case {
    std::string bytes, reply;
  };
  const std::vector<Case> cases = {
      {"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*3\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
      {"SET \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70 * 1024, 'a'), "-ERR Protocol error: too big inline request\r\n"},
  };
  for (const auto& tc : cases) {
    RawClient c(port());
    try {
      c.send(tc.bytes);
    } catch (const std::exception&) {
      // The server may close while we still write a large request; its reply was sent first.
    }
    BOOST_CHECK_MESSAGE(c.wait_closed(), "left open after " << tc.bytes.substr(0, 20));
    BOOST_CHECK_EQUAL(c.buffer(), tc.reply);
  }
  // Commands before the bad frame in the same write are still answered, in order.
  RawClient c(port());
  c.send("*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\n");
  c.wait_closed();
  BOOST_CHECK_EQUAL(c.buffer(), "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
}

BOOST_AUTO_TEST_CASE(inline_commands) {
  RawClient c(port());
  c.send("PING\r\n");
  BOOST_CHECK(c.read_until([](std::string_view b) { return b == "+PONG\r\n"; }));
  c.buffer().clear();
  c.send("SEMLOCK.ACQUIRE inline:k 30000 OWNER me\r\n");
  std::regex form("\\*2\r\n\\$2\r\nme\r\n:[0-9]+\r\n");
  BOOST_CHECK_MESSAGE(
      c.read_until([&](std::string_view b) { return std::regex_match(std::string(b), form); }),
      c.buffer());
  c.buffer().clear();
  c.send("SEMLOCK.EXISTS inline:k\r\n");
  BOOST_CHECK(c.read_until([](std::string_view b) { return b == ":1\r\n"; }));
  c.buffer().clear();
  c.send("SEMLOCK.RELEASE inline:k me\n");  // LF alone ends an inline command too
  BOOST_CHECK(c.read_until([](std::string_view b) { return b == ":1\r\n"; }));
}

BOOST_AUTO_TEST_CASE(binary_safe_keys_and_owners) {
  Hiredis r(port());
  const std::string k1("bin\0a\r\n\xff", 8), k2("bin\0b\r\n\xff", 8), owner("o\0\n", 3);
  auto a = r.cmd({"SEMLOCK.ACQUIRE", k1, "30000", "OWNER", owner});
  BOOST_REQUIRE_EQUAL(a->type, REDIS_REPLY_ARRAY);
  BOOST_CHECK(reply_str(a->element[0]) == owner);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXISTS", k1})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.EXISTS", k2})->integer, 0);  // differs after the NUL
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.ACQUIRE", k2, "30000"})->type, REDIS_REPLY_ARRAY);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.RELEASE", k1, std::string("o", 1)})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.RELEASE", k1, owner})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"SEMLOCK.FORCERELEASE", k2})->integer, 1);
}

BOOST_AUTO_TEST_CASE(redis_lock_idiom_set_nx_px) {
  Hiredis r(port());
  BOOST_CHECK_EQUAL(reply_str(r.cmd({"SET", "idiom:k", "tok1", "NX", "PX", "30000"}).get()), "OK");
  BOOST_CHECK_EQUAL(r.cmd({"SET", "idiom:k", "tok2", "PX", "30000", "NX"})->type, REDIS_REPLY_NIL);
  BOOST_CHECK_EQUAL(reply_str(r.cmd({"GET", "idiom:k"}).get()), "tok1");
  auto pttl = r.cmd({"PTTL", "idiom:k"});
  BOOST_CHECK(pttl->integer > 0 && pttl->integer <= 30000);
  BOOST_CHECK_EQUAL(r.cmd({"DELIFEQ", "idiom:k", "tok2"})->integer, 0);
  BOOST_CHECK_EQUAL(r.cmd({"DELIFEQ", "idiom:k", "tok1"})->integer, 1);
  BOOST_CHECK_EQUAL(r.cmd({"EXISTS", "idiom:k"})->integer, 0);

  // "GET key" is not an HTTP request line (no version), so it is an inline command.
  RawClient c(port());
  c.send("SET idiom:inline me NX PX 30000\r\nGET idiom:inline\r\nDEL idiom:inline\r\n");
  BOOST_CHECK_MESSAGE(
      c.read_until([](std::string_view b) { return b == "+OK\r\n$2\r\nme\r\n:1\r\n"; }),
      c.buffer());
}

BOOST_AUTO_TEST_CASE(connection_commands_as_redis_answers_them) {
  RespConn c(port());
  BOOST_CHECK_EQUAL(c.cmd({"PING", "hi"}).str, "hi");
  BOOST_CHECK_EQUAL(c.cmd({"ECHO", "abc"}).str, "abc");
  BOOST_CHECK_EQUAL(c.cmd({"SELECT", "0"}).str, "OK");
  auto sel = c.cmd({"SELECT", "1"});
  BOOST_CHECK_MESSAGE(sel.is_error() && sel.str.starts_with("ERR"), sel.debug());
  auto time = c.cmd({"TIME"});
  BOOST_CHECK(time.type == RespValue::Type::kArray && time.elements.size() == 2);
  BOOST_CHECK(c.cmd({"CLIENT", "ID"}).type == RespValue::Type::kInteger);
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "SETNAME", "it"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"CLIENT", "GETNAME"}).str, "it");
  auto info = c.cmd({"INFO", "server"});
  BOOST_CHECK_MESSAGE(info.str.find("redis_version:7.2.0") != std::string::npos, info.str);
  BOOST_CHECK_MESSAGE(info.str.find("ttl_semlock_version:") != std::string::npos, info.str);
  auto count = c.cmd({"COMMAND", "COUNT"});
  BOOST_CHECK(count.type == RespValue::Type::kInteger && count.integer > 10);
  auto ci = c.cmd({"COMMAND", "INFO", "semlock.acquire"});
  BOOST_REQUIRE(ci.type == RespValue::Type::kArray && ci.elements.size() == 1);
  BOOST_CHECK(ci.elements[0].type == RespValue::Type::kArray);

  granted(c.cmd({"SEMLOCK.ACQUIRE", "dbsize:k", "30000"}));
  BOOST_CHECK_GE(c.cmd({"DBSIZE"}).integer, 1);
  c.cmd({"SEMLOCK.FORCERELEASE", "dbsize:k"});

  BOOST_CHECK_EQUAL(c.cmd({"HELLO", "3"}).type == RespValue::Type::kMap, true);
  BOOST_CHECK_EQUAL(c.cmd({"RESET"}).str, "RESET");
  // RESET returned the connection to RESP2.
  c.send({"SEMLOCK.INFO", "absent"});
  BOOST_CHECK(c.raw().read_until([](std::string_view b) { return b == "$-1\r\n"; }));
  c.raw().buffer().clear();
  c.send({"QUIT"});
  BOOST_CHECK(c.raw().wait_closed());
  BOOST_CHECK_EQUAL(c.raw().buffer(), "+OK\r\n");
}

BOOST_AUTO_TEST_CASE(multi_exec_runs_queued_commands_together) {
  RespConn c(port());
  BOOST_CHECK_EQUAL(c.cmd({"MULTI"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.ACQUIRE", "multi:k", "30000", "OWNER", "m"}).str, "QUEUED");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.EXISTS", "multi:k"}).str, "QUEUED");
  auto exec = c.cmd({"EXEC"});
  BOOST_REQUIRE_MESSAGE(exec.type == RespValue::Type::kArray && exec.elements.size() == 2,
                        exec.debug());
  granted(exec.elements[0]);
  BOOST_CHECK_EQUAL(exec.elements[1].integer, 1);
  BOOST_CHECK_EQUAL(c.cmd({"MULTI"}).str, "OK");
  c.cmd({"SEMLOCK.RELEASE", "multi:k", "m"});
  BOOST_CHECK_EQUAL(c.cmd({"DISCARD"}).str, "OK");
  BOOST_CHECK_EQUAL(c.cmd({"SEMLOCK.RELEASE", "multi:k", "m"}).integer, 1);  // discarded
}

BOOST_AUTO_TEST_CASE(scan_and_list_find_held_keys) {
  RespConn c(port());
  for (int i = 0; i < 5; ++i)
    granted(c.cmd({"SEMLOCK.ACQUIRE", "scan:" + std::to_string(i), "30000"}));
  granted(c.cmd({"SEMLOCK.ACQUIRE", "other:scan", "30000"}));
  std::vector<std::string> keys;
  std::string cursor = "0";
  int calls = 0;
  do {
    auto page = c.cmd({"SEMLOCK.SCAN", cursor, "MATCH", "scan:*", "COUNT", "2"});
    BOOST_REQUIRE_MESSAGE(page.type == RespValue::Type::kArray && page.elements.size() == 2,
                          page.debug());
    cursor = page.elements[0].str;
    for (const auto& k : page.elements[1].elements) keys.push_back(k.str);
  } while (cursor != "0" && ++calls < 100000);
  std::sort(keys.begin(), keys.end());
  BOOST_CHECK(keys == (std::vector<std::string>{"scan:0", "scan:1", "scan:2", "scan:3", "scan:4"}));
  auto list = c.cmd({"SEMLOCK.LIST", "MATCH", "scan:*", "COUNT", "3"});
  BOOST_REQUIRE(list.type == RespValue::Type::kArray);
  BOOST_CHECK_LE(list.elements.size(), 3u);
  for (const auto& k : list.elements) BOOST_CHECK(k.str.starts_with("scan:"));
  for (int i = 0; i < 5; ++i) c.cmd({"SEMLOCK.FORCERELEASE", "scan:" + std::to_string(i)});
  c.cmd({"SEMLOCK.FORCERELEASE", "other:scan"});
}

// Issue 11 #10: byte for byte what redis-server 7 answers (checked against 7.0.15, whose SET and
// MULTI code 7.2 shares): repeated SET options (the last expire wins), clashing ones a syntax
// error; AUTH and HELLO inside MULTI are queued and run in EXEC.
BOOST_AUTO_TEST_CASE(redis7_repeated_set_options_and_auth_hello_inside_multi) {
  RawClient c(port());
  c.send(resp_command({"SET", "r7:k", "v", "EX", "10", "EX", "10"}) +
         resp_command({"SET", "r7:k", "v", "PX", "10", "EX", "10"}) +
         resp_command({"SET", "r7:k", "v", "EX", "x", "EX", "20"}) + resp_command({"TTL", "r7:k"}) +
         resp_command({"MULTI"}) + resp_command({"AUTH", "x"}) + resp_command({"HELLO", "3"}) +
         resp_command({"EXEC"}) + resp_command({"DEL", "r7:k"}));
  const std::string want =
      "+OK\r\n-ERR syntax error\r\n+OK\r\n:20\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n-ERR AUTH "
      "<password> called without any password configured for the default user. Are you sure your "
      "configuration is correct?\r\n%7\r\n";
  BOOST_CHECK_MESSAGE(c.read_until([&](std::string_view b) {
    return b.size() >= want.size() && b.ends_with(":1\r\n");
  }),
                      c.buffer());
  BOOST_CHECK_MESSAGE(c.buffer().starts_with(want), c.buffer());
  // After the queued HELLO 3, the connection speaks RESP3.
  BOOST_CHECK(c.buffer().find("$5\r\nproto\r\n:3\r\n") != std::string::npos);
}
