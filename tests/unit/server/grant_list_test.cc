// GrantList: the undelivered grants of a connection (server/grant_list.h).
#include "server/grant_list.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace semlock {
namespace {

GrantView grant(std::string_view key, std::string_view owner, std::uint64_t fence,
                std::uint64_t reply_end, bool at_once = true) {
  return {key, owner, fence, 1000 + static_cast<Millis>(fence), reply_end, false, at_once};
}

std::vector<std::string> listed(const GrantList& l) {
  std::vector<std::string> out;
  l.for_each([&](const GrantView& g) {
    out.push_back(std::string(g.key) + "/" + std::string(g.owner) + "/" + std::to_string(g.fence) +
                  "/" + (g.reply_end == kReplyNotWritten ? "?" : std::to_string(g.reply_end)));
  });
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(grant_list)

// A grant made while its command runs has no reply end yet; sealing gives it the end of the
// command's reply, and only the grants still unsealed (a waiter's answer keeps its own end).
BOOST_AUTO_TEST_CASE(seal_sets_the_reply_end_of_unsealed_grants_only) {
  GrantList l;
  l.push(grant("a", "o1", 1, kReplyNotWritten));
  l.push(grant("w", "o2", 2, 50, false));  // a waiter's answer, written with its end
  l.push(grant("b", "o1", 3, kReplyNotWritten));
  l.seal(80);
  BOOST_TEST(listed(l) == (std::vector<std::string>{"a/o1/1/80", "w/o2/2/50", "b/o1/3/80"}));
  l.push(grant("c", "o1", 4, kReplyNotWritten));
  l.seal(120);
  BOOST_TEST(listed(l).back() == "c/o1/4/120");
}

// The kernel took the output up to N: every grant whose reply ends by N is delivered, wherever
// it sits in the list; the others stay with their strings intact.
BOOST_AUTO_TEST_CASE(drop_delivered_keeps_exactly_the_undelivered) {
  GrantList l;
  l.push(grant("key-one", "owner-one", 1, 10));
  l.push(grant("key-two", "owner-two", 2, 30));
  l.push(grant("key-three", "owner-three", 3, 20));
  l.drop_delivered(20);
  BOOST_TEST(listed(l) == (std::vector<std::string>{"key-two/owner-two/2/30"}));
  BOOST_TEST(!l.has_waiter_grant());
  l.drop_delivered(30);
  BOOST_TEST(l.empty());
}

BOOST_AUTO_TEST_CASE(has_waiter_grant_tells_a_waiters_grant_from_one_made_at_once) {
  GrantList l;
  l.push(grant("a", "o", 1, 10, true));
  BOOST_TEST(!l.has_waiter_grant());
  l.push(grant("b", "o", 2, 20, false));
  BOOST_TEST(l.has_waiter_grant());
  l.drop_delivered(20);
  BOOST_TEST(!l.has_waiter_grant());
}

// A list that never empties (a slow reader that keeps pipelining acquires) must not keep every
// delivered grant's bytes: the arena is compacted once they are most of it, and what is listed
// reads the same afterwards.
BOOST_AUTO_TEST_CASE(a_list_that_never_empties_stays_bounded) {
  GrantList l;
  const std::string owner(32, 'o');
  std::uint64_t end = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    l.push(grant(key, owner, static_cast<std::uint64_t>(i), kReplyNotWritten));
    end += 50;
    l.seal(end);
    if (i >= 3) l.drop_delivered(end - 150);  // three replies stay unsent
  }
  BOOST_TEST(l.size() == 3u);
  BOOST_TEST(l.bytes() < 64u * 1024);
  BOOST_TEST(listed(l) == (std::vector<std::string>{"key:99997/" + owner + "/99997/4999900",
                                                    "key:99998/" + owner + "/99998/4999950",
                                                    "key:99999/" + owner + "/99999/5000000"}));
}

// Emptied after a burst, the list gives its memory back; erase_if counts what it removed (an
// unsealed grant erased is no longer waited for by seal()).
BOOST_AUTO_TEST_CASE(an_emptied_list_gives_a_burst_back) {
  GrantList l;
  const std::string key(200, 'k');
  for (int i = 0; i < 5000; ++i) l.push(grant(key, "o", static_cast<std::uint64_t>(i), 7));
  BOOST_TEST(l.bytes() > 1000000u);
  l.drop_delivered(7);
  BOOST_TEST(l.empty());
  BOOST_TEST(l.bytes() < 32u * 1024);
  l.push(grant("a", "o", 1, kReplyNotWritten));
  l.push(grant("b", "o", 2, kReplyNotWritten));
  l.erase_if([](const GrantView& g) { return g.key == "b"; });
  l.push(grant("c", "o", 3, 5, false));
  l.seal(9);
  BOOST_TEST(listed(l) == (std::vector<std::string>{"a/o/1/9", "c/o/3/5"}));
}

// A release by the connection's own request cancels the give-back of its newest grant of that
// key and owner (not an older one, nor another owner's).
BOOST_AUTO_TEST_CASE(forget_newest_takes_the_latest_matching_grant_only) {
  GrantList l;
  l.push(grant("k", "o", 1, 10));
  l.push(grant("k", "p", 2, 20));
  l.push(grant("k", "o", 3, kReplyNotWritten));
  BOOST_TEST(l.forget_newest("k", "o"));
  BOOST_TEST(listed(l) == (std::vector<std::string>{"k/o/1/10", "k/p/2/20"}));
  l.seal(30);  // nothing unsealed is left to seal
  BOOST_TEST(listed(l) == (std::vector<std::string>{"k/o/1/10", "k/p/2/20"}));
  BOOST_TEST(!l.forget_newest("x", "o"));
  BOOST_TEST(l.forget_newest("k", "o"));
  BOOST_TEST(l.forget_newest("k", "p"));
  BOOST_TEST(l.empty());
  BOOST_TEST(!l.forget_newest("k", "o"));
}

std::vector<std::string> given_back(const GrantList& l) {
  std::vector<std::string> out;
  l.for_each_to_give_back([&](const GrantView& g) {
    out.push_back(std::string(g.key) + "/" + std::string(g.owner) + "/" + std::to_string(g.fence));
  });
  return out;
}

// A release by the connection's own request (a marker, O(1) however long the list) cancels the
// give-back of the newest grant of that key and owner listed before it, and only that one: not a
// grant made after it, not another owner's, not another key's.
BOOST_AUTO_TEST_CASE(a_release_marker_cancels_the_newest_earlier_grant) {
  GrantList l;
  l.note_release("k", "o");  // nothing listed: nothing to cancel, nothing kept
  BOOST_TEST(l.empty());
  l.push(grant("k", "o", 1, kReplyNotWritten));  // created the holder
  l.push(grant("k", "p", 2, kReplyNotWritten));
  l.push(grant("k", "o", 1, kReplyNotWritten));  // a reentrant hold of the same holder
  l.note_release("k", "o");                      // cancels the reentrant hold's give-back
  l.push(grant("j", "o", 3, kReplyNotWritten));
  l.note_release("j", "p");  // another owner: cancels nothing
  l.seal(100);
  BOOST_TEST(given_back(l) == (std::vector<std::string>{"k/o/1", "k/p/2", "j/o/3"}));
  l.note_release("k", "o");
  l.note_release("k", "o");  // one more than there are grants: the extra cancels nothing
  l.push(grant("k", "o", 4, kReplyNotWritten));  // after the releases: given back
  l.seal(120);
  BOOST_TEST(given_back(l) == (std::vector<std::string>{"k/p/2", "j/o/3", "k/o/4"}));
  BOOST_TEST(!l.has_waiter_grant());  // markers are no waiter's grants
  l.drop_delivered(100);              // markers leave with the replies they came with
  BOOST_TEST(given_back(l) == (std::vector<std::string>{"k/o/4"}));
  l.drop_delivered(120);
  BOOST_TEST(l.empty());
}

// One command keeps at most kMaxUnsealed grants (a script looping on REENTRANT acquires); the
// next command starts afresh, and a waiter's answer (sealed) is always kept.
BOOST_AUTO_TEST_CASE(one_command_keeps_a_bounded_number_of_grants) {
  GrantList l;
  for (std::size_t i = 0; i < GrantList::kMaxUnsealed; ++i) {
    BOOST_TEST_REQUIRE(l.push(grant("k", "o", 1, kReplyNotWritten)));
  }
  BOOST_TEST(!l.push(grant("k", "o", 1, kReplyNotWritten)));
  BOOST_TEST(l.push(grant("w", "o", 2, 5, false)));
  BOOST_TEST(l.size() == GrantList::kMaxUnsealed + 1);
  l.seal(100);
  BOOST_TEST(l.push(grant("k", "o", 1, kReplyNotWritten)));
  l.drop_delivered(100);
  BOOST_TEST(l.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace semlock
