// The pattern index and the paced PUBLISH (redis-compat/pubsub.h), on the registry alone: the
// index finds exactly the patterns a full scan would, a PUBLISH past the tick's budget finishes in
// later ticks with the exact count, subscriptions made meanwhile do not get it, and a member
// leaving a pattern it has not reached yet gets its copy as it leaves.
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "redis-compat/command_table.h"
#include "redis-compat/pubsub.h"
#include "tests/unit/redis-compat/test_host.h"

namespace redis = semlock::redis;

namespace {

struct Registry {
  // (client id, bytes, to_publisher) in delivery order.
  struct Copy {
    std::uint64_t id;
    std::string bytes;
    bool to_publisher;
  };
  std::vector<Copy> copies;
  redis::PubSub ps{[this](std::uint64_t id, std::string_view b, bool own) {
    copies.push_back(Copy{id, std::string(b), own});
  }};
  std::map<std::uint64_t, redis::ClientState> clients;

  redis::ClientState& client(std::uint64_t id) {
    redis::ClientState& c = clients[id];
    c.id = id;
    return c;
  }
  std::size_t copies_to(std::uint64_t id) const {
    std::size_t n = 0;
    for (const auto& c : copies) n += c.id == id ? 1 : 0;
    return n;
  }
};

std::string pmessage(std::string_view pattern, std::string_view channel, std::string_view msg) {
  return redis::pubsub_frame(2, {"pmessage", pattern, channel, msg});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pubsub_paced)

BOOST_AUTO_TEST_CASE(literal_prefix_stops_at_the_first_metacharacter) {
  BOOST_TEST(redis::PubSub::literal_prefix("news.*") == "news.");
  BOOST_TEST(redis::PubSub::literal_prefix("a?c") == "a");
  BOOST_TEST(redis::PubSub::literal_prefix("ab[cd]") == "ab");
  BOOST_TEST(redis::PubSub::literal_prefix("x\\*y") == "x");
  BOOST_TEST(redis::PubSub::literal_prefix("*") == "");
  BOOST_TEST(redis::PubSub::literal_prefix("plain") == "plain");
  BOOST_TEST(redis::PubSub::literal_prefix("") == "");
}

// Random patterns and channels over a small alphabet: the indexed count equals a full scan's.
BOOST_AUTO_TEST_CASE(index_finds_what_a_full_scan_finds) {
  Registry r;
  std::mt19937 rng(7);
  const std::string alphabet = "ab*?[]\\^-";
  auto word = [&](std::size_t max, const std::string& chars) {
    std::string w;
    const std::size_t n = rng() % (max + 1);
    for (std::size_t i = 0; i < n; ++i) w += chars[rng() % chars.size()];
    return w;
  };
  std::vector<std::string> patterns;
  for (std::uint64_t id = 1; id <= 40; ++id) {
    redis::ClientState& c = r.client(id);
    for (int k = 0; k < 20; ++k) {
      const std::string p = word(6, alphabet);
      if (r.ps.psubscribe(c, p)) patterns.push_back(p);
    }
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string channel = word(6, "ab*?[");
    std::int64_t want = 0;
    for (const auto& p : patterns) want += semlock::glob_match(p, channel) ? 1 : 0;
    BOOST_TEST(r.ps.publish(channel, "m", 0) == want, "channel " << channel);
  }
  // Leaving keeps the index right.
  for (auto& [id, c] : r.clients) {
    if (id % 2 == 0) r.ps.forget(c);
  }
  std::int64_t left = 0;
  for (const auto& [id, c] : r.clients) left += static_cast<std::int64_t>(c.patterns.size());
  BOOST_TEST(r.ps.numpat() <= left);
  for (int i = 0; i < 500; ++i) {
    const std::string channel = word(6, "ab*?[");
    std::int64_t want = 0;
    for (const auto& [id, c] : r.clients) {
      for (const auto& p : c.patterns) want += semlock::glob_match(p, channel) ? 1 : 0;
    }
    BOOST_TEST(r.ps.publish(channel, "m", 0) == want);
  }
}

BOOST_AUTO_TEST_CASE(channel_subscribers_first_then_patterns) {
  Registry r;
  redis::ClientState& a = r.client(1);
  redis::ClientState& b = r.client(2);
  r.ps.psubscribe(a, "n*");
  r.ps.subscribe(b, "news");
  r.ps.psubscribe(b, "*s");
  BOOST_TEST(r.ps.publish_paced("news", "hi", 9).value() == 3);
  BOOST_REQUIRE(r.copies.size() == 3u);
  BOOST_TEST(r.copies[0].id == 2u);
  BOOST_TEST(r.copies[0].bytes == redis::pubsub_frame(2, {"message", "news", "hi"}));
  // Patterns: the "" bucket ("*s") before the "n" bucket ("n*"): shortest prefix first.
  BOOST_TEST(r.copies[1].bytes == pmessage("*s", "news", "hi"));
  BOOST_TEST(r.copies[2].bytes == pmessage("n*", "news", "hi"));
}

// 3 * kPublishWorkPerTick patterns that the index cannot rule out ("" bucket): a PUBLISH spans
// ticks; the next one waits behind it; both counts exact; subscribers get them in order.
BOOST_AUTO_TEST_CASE(publish_past_the_budget_finishes_in_later_ticks_in_order) {
  Registry r;
  redis::ClientState& many = r.client(1);
  const std::size_t n = 3 * redis::kPublishWorkPerTick;
  for (std::size_t i = 0; i < n; ++i) r.ps.psubscribe(many, "*x" + std::to_string(i));
  redis::ClientState& sub = r.client(2);
  r.ps.psubscribe(sub, "*");
  r.ps.subscribe(sub, "c");

  BOOST_TEST(!r.ps.publish_paced("c", "one", 10).has_value());
  BOOST_TEST(!r.ps.publish_paced("c", "two", 11).has_value());  // queued behind, even if cheap
  BOOST_TEST(r.ps.info().find("pubsub_publish_queue:2\r\n") != std::string::npos);
  // A cheap one would fit, but order wins: nothing of "two" before "one" is done.
  for (const auto& c : r.copies) BOOST_TEST(c.bytes.find("two") == std::string::npos);
  int ticks = 0;
  std::vector<redis::PubSub::Done> done;
  while (done.size() < 2 && ticks < 100) {
    r.ps.tick();
    ++ticks;
    for (const auto& d : r.ps.take_done()) done.push_back(d);
  }
  BOOST_TEST(ticks >= 3);
  BOOST_REQUIRE(done.size() == 2u);
  BOOST_TEST(done[0].publisher_id == 10u);
  BOOST_TEST(done[0].count == 2);  // "c" and "*"
  BOOST_TEST(done[1].publisher_id == 11u);
  BOOST_TEST(done[1].count == 2);
  std::vector<std::string> got;
  for (const auto& c : r.copies) {
    if (c.id == 2) got.push_back(c.bytes);
  }
  const std::vector<std::string> want = {
      redis::pubsub_frame(2, {"message", "c", "one"}), pmessage("*", "c", "one"),
      redis::pubsub_frame(2, {"message", "c", "two"}), pmessage("*", "c", "two")};
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST(r.ps.info().find("pubsub_publish_queue:0\r\n") != std::string::npos);
  BOOST_TEST(r.ps.info().find("pubsub_publish_paced:2\r\n") != std::string::npos);
}

// While a paced PUBLISH is on its way: a pattern joined after it began does not get it; a member
// leaving a pattern it has not reached gets its copy as it leaves; one it passed gets nothing
// more. The count is what was handed out.
BOOST_AUTO_TEST_CASE(subscriptions_changing_during_a_paced_publish) {
  Registry r;
  redis::ClientState& many = r.client(1);
  redis::ClientState& early = r.client(2);  // "*" before the "*x..." in the "" bucket
  redis::ClientState& late = r.client(3);   // "*~" after them (a bucket keeps subscription order)
  redis::ClientState& joiner = r.client(4);
  r.ps.psubscribe(early, "*");
  const std::size_t n = 2 * redis::kPublishWorkPerTick;
  for (std::size_t i = 0; i < n; ++i) r.ps.psubscribe(many, "*x" + std::to_string(i));
  r.ps.psubscribe(late, "*~");
  r.ps.psubscribe(late, "c*");  // another bucket, after ""

  BOOST_TEST(!r.ps.publish_paced("c~", "m", 10).has_value());
  BOOST_TEST(r.copies_to(2) == 1u);  // reached in the first tick
  r.ps.psubscribe(joiner, "c?");     // joined after it began
  r.ps.punsubscribe(early, "*");     // passed: nothing more
  BOOST_TEST(r.copies_to(2) == 1u);
  r.ps.punsubscribe(late, "*~");     // not reached: its copy now, to the running client
  BOOST_REQUIRE(r.copies_to(3) == 1u);
  BOOST_TEST(r.copies.back().bytes == pmessage("*~", "c~", "m"));
  BOOST_TEST(r.copies.back().to_publisher);
  std::vector<redis::PubSub::Done> done;
  for (int t = 0; t < 100 && done.empty(); ++t) {
    r.ps.tick();
    done = r.ps.take_done();
  }
  BOOST_REQUIRE(done.size() == 1u);
  BOOST_TEST(done[0].count == 3);  // early "*", late "*~" (as it left), late "c*"
  BOOST_TEST(r.copies_to(3) == 2u);
  BOOST_TEST(r.copies_to(4) == 0u);
  // The joiner gets the next one.
  BOOST_TEST(r.ps.publish("c~", "n", 0) == 2);
}

// Many patterns left while a paced PUBLISH is half way through their bucket: the bucket is
// compacted under it, and the cursor moves with the slots — nothing is sent twice or skipped.
BOOST_AUTO_TEST_CASE(compaction_under_a_paced_publish_keeps_its_place) {
  Registry r;
  redis::ClientState& many = r.client(1);
  redis::ClientState& tail = r.client(2);
  const std::size_t n = 3 * redis::kPublishWorkPerTick;
  for (std::size_t i = 0; i < n; ++i) r.ps.psubscribe(many, "*x" + std::to_string(i));
  for (int i = 0; i < 100; ++i) r.ps.psubscribe(tail, "*" + std::to_string(i) + "?");
  BOOST_TEST(!r.ps.publish_paced("c7z", "m", 10).has_value());  // ~50,000 slots done
  // Leave most of the patterns on both sides of the cursor: compacted.
  for (std::size_t i = 0; i < n; i += 3) r.ps.punsubscribe(many, "*x" + std::to_string(i));
  for (std::size_t i = 1; i < n; i += 3) r.ps.punsubscribe(many, "*x" + std::to_string(i));
  std::vector<redis::PubSub::Done> done;
  for (int t = 0; t < 100 && done.empty(); ++t) {
    r.ps.tick();
    done = r.ps.take_done();
  }
  BOOST_REQUIRE(done.size() == 1u);
  BOOST_TEST(done[0].count == 1);  // "*7?" of tail, once
  BOOST_TEST(r.copies_to(2) == 1u);
  BOOST_TEST(r.copies.back().bytes == pmessage("*7?", "c7z", "m"));
  BOOST_TEST(r.ps.publish("c7z", "n", 0) == 1);
  BOOST_TEST(r.ps.numpat() == static_cast<std::int64_t>(n / 3 + 100));
}

BOOST_AUTO_TEST_CASE(atomic_publish_is_whole_or_refused) {
  Registry r;
  redis::ClientState& many = r.client(1);
  for (std::size_t i = 0; i < 600000; ++i) r.ps.psubscribe(many, "*x" + std::to_string(i));
  redis::ClientState& sub = r.client(2);
  r.ps.psubscribe(sub, "*");
  BOOST_TEST(r.ps.publish_atomic("c", "1", 0).value() == 1);  // ~600k units: fits
  BOOST_TEST(!r.ps.publish_atomic("c", "2", 0).has_value());  // the tick's allowance is spent
  BOOST_TEST(r.copies_to(2) == 1u);                          // nothing of the refused one
  BOOST_TEST(r.ps.info().find("pubsub_publish_refused:1\r\n") != std::string::npos);
  r.ps.tick();
  BOOST_TEST(r.ps.publish_atomic("c", "3", 0).value() == 1);
}

// Patterns behind a literal prefix cost nothing to the other channels' messages: the index
// rules them out, so a tick's allowance holds many atomic PUBLISHes.
BOOST_AUTO_TEST_CASE(indexed_patterns_cost_other_channels_nothing) {
  Registry r;
  redis::ClientState& many = r.client(1);
  for (std::size_t i = 0; i < 200000; ++i) r.ps.psubscribe(many, "k" + std::to_string(i) + ".*");
  BOOST_TEST(r.ps.candidate_work("news") < 10u);
  for (int i = 0; i < 10000; ++i) BOOST_TEST(r.ps.publish_atomic("news", "e", 0).value() == 0);
  BOOST_TEST(r.ps.publish_paced("k17.x", "e", 5).value() == 1);  // its own prefixes only
  BOOST_TEST(r.copies.back().bytes == pmessage("k17.*", "k17.x", "e"));
}

BOOST_AUTO_TEST_CASE(unowned_messages_are_capped) {
  Registry r;
  redis::ClientState& many = r.client(1);
  for (std::size_t i = 0; i < 2 * redis::kPublishWorkPerTick; ++i) {
    r.ps.psubscribe(many, "*x" + std::to_string(i));
  }
  const std::string big(1024 * 1024, 'b');
  std::size_t queued = 0;
  for (int i = 0; i < 40; ++i) queued += r.ps.publish_paced("c", big, 0).has_value() ? 0 : 1;
  BOOST_TEST(queued < 40u);
  BOOST_TEST(queued * big.size() <= redis::kMaxUnownedPublishBytes + big.size());
  BOOST_TEST(r.ps.info().find("pubsub_publish_dropped:0\r\n") == std::string::npos);
  for (int t = 0; t < 1000; ++t) r.ps.tick();
  BOOST_TEST(r.ps.take_done().empty());  // nobody waits for their counts
  BOOST_TEST(r.ps.info().find("pubsub_publish_queue:0\r\n") != std::string::npos);
}

// SEMLOCK.PUBLISH, the members' relay, is in the command table like every SEMLOCK.* command
// (COMMAND COUNT/INFO/DOCS/LIST); a server that is no cluster member says so.
BOOST_FIXTURE_TEST_CASE(semlock_publish_is_in_the_command_table, semlock::test::Fixture) {
  BOOST_TEST(redis::find_command("semlock.publish") != nullptr);
  const std::size_t count = redis::all_commands().size();
  BOOST_TEST(run({"COMMAND", "COUNT"}) == ":" + std::to_string(count) + "\r\n");
  BOOST_TEST(run({"COMMAND", "INFO", "SEMLOCK.PUBLISH"}) ==
             "*1\r\n*10\r\n$15\r\nsemlock.publish\r\n:4\r\n*4\r\n+noscript\r\n+loading\r\n"
             "+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*0\r\n*0\r\n*0\r\n*0\r\n");
  BOOST_TEST(
      run({"COMMAND", "DOCS", "semlock.publish"}) ==
      "*2\r\n$15\r\nsemlock.publish\r\n*10\r\n$7\r\nsummary\r\n$111\r\nCluster relay: "
      "delivers a message published on member origin to this member's subscribers; replies "
      "their count.\r\n$5\r\nsince\r\n$5\r\n0.9.0\r\n$5\r\ngroup\r\n$7\r\nsemlock\r\n"
      "$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*3\r\n*6\r\n$4\r\nname\r\n"
      "$6\r\norigin\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$6\r\norigin\r\n"
      "*6\r\n$4\r\nname\r\n$7\r\nchannel\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\n"
      "display_text\r\n$7\r\nchannel\r\n*6\r\n$4\r\nname\r\n$7\r\nmessage\r\n$4\r\ntype\r\n"
      "$6\r\nstring\r\n$12\r\ndisplay_text\r\n$7\r\nmessage\r\n");
  BOOST_TEST(run({"COMMAND", "LIST", "FILTERBY", "PATTERN", "semlock.p*"}) ==
             "*1\r\n$15\r\nsemlock.publish\r\n");
  const std::string all = run({"COMMAND"});
  BOOST_TEST(all.find("$15\r\nsemlock.publish\r\n") != std::string::npos);
  BOOST_TEST(run({"SEMLOCK.PUBLISH", "1", "c", "m"}) ==
             "-ERR This instance has cluster support disabled\r\n");
  BOOST_TEST(run({"SEMLOCK.PUBLISH", "1", "c"}) ==
             "-ERR wrong number of arguments for 'semlock.publish' command\r\n");
  // Never from a script: the relay is the members' own.
  BOOST_TEST(run({"EVAL", "return redis.call('semlock.publish', '1', 'c', 'm')", "0"})
                 .find("This Redis command is not allowed from script") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
