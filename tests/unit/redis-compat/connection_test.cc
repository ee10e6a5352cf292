// Connection and introspection commands (HELLO, AUTH, CLIENT, SELECT, COMMAND, INFO, TIME,
// DBSIZE) and MULTI/EXEC, in RESP2 and RESP3 forms.
#include <boost/test/unit_test.hpp>

#include "tests/unit/redis-compat/test_host.h"

using semlock::redis::Outcome;
using semlock::test::Fixture;

namespace {

std::string hello_reply(char map_type, std::size_t n, int proto) {
  return std::string(1, map_type) + std::to_string(n) +
         "\r\n$6\r\nserver\r\n$11\r\nttl-semlock\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$"
         "5\r\nproto\r\n:" +
         std::to_string(proto) +
         "\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
         "$7\r\nmodules\r\n*0\r\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(connection, Fixture)

BOOST_AUTO_TEST_CASE(ping_echo_quit) {
  BOOST_TEST(run({"PING"}) == "+PONG\r\n");
  BOOST_TEST(run({"ping", "hi"}) == "$2\r\nhi\r\n");
  BOOST_TEST(run({"PING", "a", "b"}) == "-ERR wrong number of arguments for 'ping' command\r\n");
  BOOST_TEST(run({"ECHO", "x y"}) == "$3\r\nx y\r\n");
  BOOST_TEST(run({"ECHO"}) == "-ERR wrong number of arguments for 'echo' command\r\n");
  BOOST_TEST(run({"QUIT"}) == "+OK\r\n");
  BOOST_TEST(last_outcome == Outcome::kClose);
}

BOOST_AUTO_TEST_CASE(hello_switches_protocol_and_replies_a_map) {
  BOOST_TEST(run({"HELLO"}) == hello_reply('*', 14, 2));
  BOOST_TEST(run({"HELLO", "3"}) == hello_reply('%', 7, 3));
  BOOST_TEST(client.proto == 3);
  BOOST_TEST(run({"GET", "absent"}) == "_\r\n");
  BOOST_TEST(run({"HELLO", "2"}) == hello_reply('*', 14, 2));
  BOOST_TEST(run({"GET", "absent"}) == "$-1\r\n");
  BOOST_TEST(run({"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
  BOOST_TEST(run({"HELLO", "1"}) == "-NOPROTO unsupported protocol version\r\n");
  BOOST_TEST(run({"HELLO", "x"}) == "-ERR Protocol version is not an integer or out of range\r\n");
  BOOST_TEST(run({"HELLO", "3", "BOGUS"}) == "-ERR Syntax error in HELLO option 'BOGUS'\r\n");
  BOOST_TEST(client.proto == 2);
}

BOOST_AUTO_TEST_CASE(hello_with_auth_and_setname) {
  host.require_auth = true;
  host.api_keys = {"pw"};
  BOOST_TEST(run({"HELLO", "3"}) ==
             "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
             "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
             "select the RESP protocol version at the same time\r\n");
  BOOST_TEST(run({"HELLO", "3", "AUTH", "default", "bad"}) ==
             "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  BOOST_TEST(run({"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "bad name"}) ==
             "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  BOOST_TEST(run({"HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"}) ==
             hello_reply('%', 7, 3));
  BOOST_TEST(client.name == "app");
  BOOST_TEST(client.authenticated);
}

BOOST_AUTO_TEST_CASE(auth_without_configured_keys) {
  BOOST_TEST(run({"AUTH", "x"}) ==
             "-ERR AUTH <password> called without any password configured for the default user. "
             "Are you sure your configuration is correct?\r\n");
  BOOST_TEST(run({"AUTH", "default", "x"}) == "+OK\r\n");
  BOOST_TEST(run({"AUTH", "a", "b", "c"}) == "-ERR syntax error\r\n");
}

BOOST_AUTO_TEST_CASE(select_only_db_zero) {
  BOOST_TEST(run({"SELECT", "0"}) == "+OK\r\n");
  BOOST_TEST(run({"SELECT", "1"}) == "-ERR DB index is out of range\r\n");
  BOOST_TEST(run({"SELECT", "x"}) == "-ERR value is not an integer or out of range\r\n");
}

// Regression: names of 1 MB were kept per connection, uncounted (200 clients: +600 MB RSS).
BOOST_AUTO_TEST_CASE(client_names_and_lib_info_are_capped) {
  BOOST_TEST(run({"CLIENT", "SETNAME", std::string(1024, 'n')}) == "+OK\r\n");
  BOOST_TEST(client.name.size() == 1024u);
  BOOST_TEST(run({"CLIENT", "SETNAME", std::string(1025, 'n')}) ==
             "-ERR Client names cannot be longer than 1024 bytes.\r\n");
  BOOST_TEST(run({"CLIENT", "SETNAME", std::string(1 << 20, 'n')}) ==
             "-ERR Client names cannot be longer than 1024 bytes.\r\n");
  BOOST_TEST(client.name.size() == 1024u);  // the old name stays
  BOOST_TEST(run({"HELLO", "2", "SETNAME", std::string(1025, 'h')}) ==
             "-ERR Client names cannot be longer than 1024 bytes.\r\n");
  BOOST_TEST(client.name.size() == 1024u);
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-NAME", std::string(128, 'l')}) == "+OK\r\n");
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-NAME", std::string(129, 'l')}) ==
             "-ERR lib-name and lib-ver cannot be longer than 128 bytes.\r\n");
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-VER", std::string(1 << 20, '1')}) ==
             "-ERR lib-name and lib-ver cannot be longer than 128 bytes.\r\n");
  BOOST_TEST(client.lib_name == std::string(128, 'l'));
  BOOST_TEST(client.lib_ver.empty());
}

BOOST_AUTO_TEST_CASE(client_subcommands) {
  BOOST_TEST(run({"CLIENT", "GETNAME"}) == "$-1\r\n");
  BOOST_TEST(run({"CLIENT", "SETNAME", "worker-1"}) == "+OK\r\n");
  BOOST_TEST(run({"client", "getname"}) == "$8\r\nworker-1\r\n");
  BOOST_TEST(run({"CLIENT", "SETNAME", "a b"}) ==
             "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  BOOST_TEST(run({"CLIENT", "ID"}) == ":7\r\n");
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}) == "+OK\r\n");
  BOOST_TEST(run({"CLIENT", "SETINFO", "LIB-VER", "4.3.4"}) == "+OK\r\n");
  BOOST_TEST(client.lib_name == "redis-py");
  BOOST_TEST(client.lib_ver == "4.3.4");
  BOOST_TEST(run({"CLIENT", "SETINFO", "OTHER", "x"}) == "-ERR Unrecognized option 'OTHER'\r\n");
  BOOST_TEST(
      run({"CLIENT", "SETINFO", "LIB-NAME", "a b"}) ==
      "-ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.\r\n");
  BOOST_TEST(run({"CLIENT", "INFO"}) == "$19\r\nid=7 name=worker-1\n\r\n");
  client.proto = 3;
  BOOST_TEST(run({"CLIENT", "INFO"}) == "=23\r\ntxt:id=7 name=worker-1\n\r\n");
  BOOST_TEST(run({"CLIENT", "LIST"}) == "=16\r\ntxt:id=1 name=a\n\r\n");
}

BOOST_AUTO_TEST_CASE(info_is_verbatim_in_resp3_and_bulk_in_resp2) {
  BOOST_TEST(run({"INFO"}) == "$21\r\n# Section \r\nfield:1\r\n\r\n");
  BOOST_TEST(run({"INFO", "limits"}) == "$27\r\n# Section limits\r\nfield:1\r\n\r\n");
  client.proto = 3;
  BOOST_TEST(run({"INFO", "semlock"}) == "=32\r\ntxt:# Section semlock\r\nfield:1\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(time_and_dbsize) {
  BOOST_TEST(run({"TIME"}) == "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n");
  host.unix_us += 1234567;
  BOOST_TEST(run({"TIME"}) == "*2\r\n$10\r\n1700000001\r\n$6\r\n234567\r\n");
  BOOST_TEST(run({"DBSIZE"}) == ":0\r\n");
  run({"SEMLOCK.ACQUIRE", "a", "1000"});
  run({"SET", "b", "o"});
  BOOST_TEST(run({"DBSIZE"}) == ":2\r\n");
}

BOOST_AUTO_TEST_CASE(reset_returns_to_resp2_and_drops_state) {
  run({"HELLO", "3"});
  run({"CLIENT", "SETNAME", "n"});
  run({"MULTI"});
  BOOST_TEST(run({"RESET"}) == "+RESET\r\n");
  BOOST_TEST(client.proto == 2);
  BOOST_TEST(client.name.empty());
  BOOST_TEST(!client.in_multi);
}

BOOST_AUTO_TEST_CASE(command_count_info_docs_list) {
  const std::size_t count = semlock::redis::all_commands().size();
  BOOST_TEST(run({"COMMAND", "COUNT"}) == ":" + std::to_string(count) + "\r\n");
  BOOST_TEST(
      run({"COMMAND", "INFO", "semlock.release"}) ==
      "*1\r\n*10\r\n$15\r\nsemlock.release\r\n:3\r\n*2\r\n+write\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
      "*0\r\n*0\r\n*1\r\n*8\r\n$5\r\nflags\r\n*1\r\n+RW\r\n$12\r\nbegin_search\r\n*4\r\n"
      "$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n"
      "*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n"
      "$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n$5\r\nnotes\r\n$0\r\n\r\n*0\r\n");
  BOOST_TEST(run({"COMMAND", "INFO", "nope"}) == "*1\r\n*-1\r\n");
  // DEL's keys run to the last argument: lastkey -1, as Redis reports it.
  BOOST_TEST(run({"COMMAND", "INFO", "del"}).find("$7\r\nlastkey\r\n:-1\r\n") != std::string::npos);
  const std::string all = run({"COMMAND"});
  BOOST_TEST(all.rfind("*" + std::to_string(count) + "\r\n", 0) == 0);
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "PATTERN", "semlock.e*"}) ==
             "*2\r\n$14\r\nsemlock.extend\r\n$14\r\nsemlock.exists\r\n");
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY"}) == "-ERR syntax error\r\n");
  BOOST_TEST(
      run({"COMMAND", "DOCS", "semlock.exists"}) ==
      "*2\r\n$14\r\nsemlock.exists\r\n*10\r\n$7\r\nsummary\r\n$41\r\n1 when the key has a live "
      "holder, else 0.\r\n$5\r\nsince\r\n$5\r\n0.8.0\r\n$5\r\ngroup\r\n$7\r\nsemlock\r\n"
      "$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*8\r\n$4\r\nname\r\n"
      "$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n"
      "$14\r\nkey_spec_index\r\n:0\r\n");
  client.proto = 3;
  BOOST_TEST(run({"COMMAND", "DOCS", "nope"}) == "%0\r\n");
}

BOOST_AUTO_TEST_CASE(multi_exec_runs_queued_commands_together_without_blocking) {
  run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "a"});
  BOOST_TEST(run({"MULTI"}) == "+OK\r\n");
  BOOST_TEST(run({"SEMLOCK.ACQUIRE", "k", "1000", "OWNER", "b", "WAIT", "5000"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"SET", "m", "x", "NX", "PX", "500"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"GET", "m"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"MULTI"}) == "-ERR MULTI calls can not be nested\r\n");
  // WAIT inside MULTI does not block: "not acquired" at once.
  BOOST_TEST(run({"EXEC"}) == "*3\r\n$-1\r\n+OK\r\n$1\r\nx\r\n");
  BOOST_TEST(host.blocked.empty());
  BOOST_TEST(!client.in_multi);
}

BOOST_AUTO_TEST_CASE(multi_queue_is_bounded_in_bytes_and_commands) {
  const std::string limit_error =
      "-ERR MULTI queue limit reached (10000 commands or 8 MB): the transaction will be "
      "discarded\r\n";
  run({"MULTI"});
  const std::string mb(1024 * 1024, 'x');
  for (int i = 0; i < 7; ++i) BOOST_TEST(run({"ECHO", mb}) == "+QUEUED\r\n");
  BOOST_TEST(client.multi_bytes > 7u * 1024 * 1024);
  BOOST_TEST(run({"ECHO", mb}) == limit_error);  // the 8th MB does not fit with the overhead
  BOOST_TEST(client.multi_queue.size() == 7u);
  BOOST_TEST(run({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
  BOOST_TEST(client.multi_bytes == 0u);
  BOOST_TEST(client.multi_queue.empty());

  run({"MULTI"});
  for (int i = 0; i < 10000; ++i) run({"PING"});
  BOOST_TEST(run({"PING"}) == limit_error);
  BOOST_TEST(run({"DISCARD"}) == "+OK\r\n");
  BOOST_TEST(client.multi_bytes == 0u);
  BOOST_TEST(run({"PING"}) == "+PONG\r\n");  // nothing else was lost
}

BOOST_AUTO_TEST_CASE(exec_aborts_after_a_queueing_error_and_discard) {
  BOOST_TEST(run({"EXEC"}) == "-ERR EXEC without MULTI\r\n");
  BOOST_TEST(run({"DISCARD"}) == "-ERR DISCARD without MULTI\r\n");
  run({"MULTI"});
  BOOST_TEST(run({"SET", "k"}) == "-ERR wrong number of arguments for 'set' command\r\n");
  BOOST_TEST(run({"SET", "k", "v"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "-EXECABORT Transaction discarded because of previous errors.\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  run({"MULTI"});
  run({"SET", "k", "v"});
  BOOST_TEST(run({"DISCARD"}) == "+OK\r\n");
  BOOST_TEST(run({"GET", "k"}) == "$-1\r\n");
  // Runtime errors inside EXEC are replies in the array, as in Redis.
  run({"MULTI"});
  run({"SET", "k", "v", "PX", "0"});
  run({"SET", "k", "v"});
  BOOST_TEST(run({"EXEC"}) == "*2\r\n-ERR invalid expire time in 'set' command\r\n+OK\r\n");
}

// Issue 11 #10: Redis 7 queues AUTH and HELLO inside MULTI and runs them in EXEC (bytes checked
// against redis-server 7.0.15); a HELLO 3 in the transaction switches the replies after it.
BOOST_AUTO_TEST_CASE(auth_and_hello_are_queued_inside_multi) {
  BOOST_TEST(run({"MULTI"}) == "+OK\r\n");
  BOOST_TEST(run({"AUTH", "x"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) ==
             "*1\r\n-ERR AUTH <password> called without any password configured for the default "
             "user. Are you sure your configuration is correct?\r\n");
  run({"MULTI"});
  BOOST_TEST(run({"AUTH", "a", "b", "c"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*1\r\n-ERR syntax error\r\n");
  run({"MULTI"});
  BOOST_TEST(run({"HELLO", "4"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*1\r\n-NOPROTO unsupported protocol version\r\n");
  BOOST_TEST(client.proto == 2);
  run({"MULTI"});
  BOOST_TEST(run({"HELLO", "3"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"GET", "nope"}) == "+QUEUED\r\n");
  BOOST_TEST(client.proto == 2);  // not switched before EXEC
  BOOST_TEST(run({"EXEC"}) == "*2\r\n" + hello_reply('%', 7, 3) + "_\r\n");
  BOOST_TEST(client.proto == 3);
  run({"MULTI"});
  BOOST_TEST(run({"HELLO"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) == "*1\r\n" + hello_reply('%', 7, 3));

  // With keys configured: a queued AUTH authenticates at EXEC, with the key's rights.
  host.api_keys = {"user"};
  host.admin_keys = {"admin"};
  run({"HELLO", "2"});
  run({"MULTI"});
  BOOST_TEST(run({"AUTH", "admin"}) == "+QUEUED\r\n");
  BOOST_TEST(!client.admin);
  BOOST_TEST(run({"EXEC"}) == "*1\r\n+OK\r\n");
  BOOST_TEST(client.admin);
  run({"MULTI"});
  BOOST_TEST(run({"AUTH", "wrong"}) == "+QUEUED\r\n");
  BOOST_TEST(run({"EXEC"}) ==
             "*1\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

BOOST_AUTO_TEST_CASE(multi_exec_in_resp3) {
  run({"HELLO", "3"});
  run({"MULTI"});
  run({"GET", "nope"});
  run({"SEMLOCK.INFO", "nope"});
  BOOST_TEST(run({"EXEC"}) == "*2\r\n_\r\n_\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
