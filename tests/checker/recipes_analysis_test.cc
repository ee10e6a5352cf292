// The recipes invariants (recipes_analysis.h) on hand-made histories: a valid history passes, and
// each kind of violation is found where it is.
#include <boost/test/unit_test.hpp>

#include "tests/checker/recipes_analysis.h"

using namespace semlock::checker::recipes;
using semlock::checker::kMs;
using semlock::checker::Nanos;

namespace {

Call call(CallKind kind, Nanos send_ms, Reply reply, std::int64_t value = 0, std::int64_t now = 0) {
  Call c;
  c.kind = kind;
  c.send = send_ms * kMs;
  c.recv = reply == Reply::kNone ? -1 : send_ms * kMs + kMs;
  c.reply = reply;
  c.value = value;
  c.now_ms = now;
  return c;
}

Attempt attempt(Recipe r, int key, const std::string& owner, std::int64_t ttl,
                std::vector<Call> calls) {
  Attempt a;
  a.recipe = r;
  a.key = key;
  a.owner = owner;
  a.ttl_ms = ttl;
  a.calls = std::move(calls);
  return a;
}

History base() {
  History h;
  h.keys = {{"rlock", Recipe::kRedisson, 1},
            {"sem", Recipe::kSemaphore, 2},
            {"mutex", Recipe::kMutex, 1}};
  return h;
}

using K = CallKind;
using R = Reply;

}  // namespace

BOOST_AUTO_TEST_SUITE(recipes_analysis)

BOOST_AUTO_TEST_CASE(redisson_reentrant_lock) {
  History h = base();
  // Locked twice, unlocked twice (0 then 1), one unlock too many (nil); then another owner gets
  // it; a third is refused while the second holds.
  h.attempts = {
      attempt(Recipe::kRedisson, 0, "a", 100,
              {call(K::kAcquire, 0, R::kOk), call(K::kReenter, 5, R::kOk),
               call(K::kRelease, 10, R::kOk, 0), call(K::kRelease, 15, R::kOk, 1),
               call(K::kRelease, 20, R::kNo)}),
      attempt(Recipe::kRedisson, 0, "b", 100,
              {call(K::kAcquire, 30, R::kOk), call(K::kRenew, 60, R::kOk),
               call(K::kRelease, 150, R::kOk, 1)}),
      attempt(Recipe::kRedisson, 0, "c", 100, {call(K::kAcquire, 140, R::kNo, 20)}),
  };
  Report r = analyze(h, Options{});
  BOOST_TEST(r.total() == 0u);
  BOOST_TEST(r.by_recipe[Recipe::kRedisson].grants == 2u);
  BOOST_TEST(r.by_recipe[Recipe::kRedisson].reentries == 1u);

  // The first unlock of two holds released the hash.
  History bad = h;
  bad.attempts[0].calls[2].value = 1;
  BOOST_TEST(analyze(bad, Options{}).violations["hold_count"] >= 1u);
  // Granted to "b" while "a" surely held it (before a's unlock was sent).
  bad = h;
  bad.attempts[1].calls[0] = call(K::kAcquire, 8, R::kOk);
  BOOST_TEST(analyze(bad, Options{}).violations["over_limit"] == 1u);
  // The renewal found the hash gone 30 ms into a 100 ms lease (the key expired early).
  bad = h;
  bad.attempts[1].calls[1].reply = R::kNo;
  bad.attempts[1].calls.pop_back();
  BOOST_TEST(analyze(bad, Options{}).violations["lost_before_ttl"] == 1u);
  // An unlock long after the lease ran out still found the hash (it expired late).
  bad = h;
  bad.attempts[1].calls[2] = call(K::kRelease, 300, R::kOk, 1);
  bad.attempts[2].calls[0] = call(K::kAcquire, 400, R::kNo, 20);
  Report br = analyze(bad, Options{});
  BOOST_TEST(br.violations["resurrected"] == 1u);
  // A refusal with nobody there: "b" released at 150, "c" tries at 160.
  bad = h;
  bad.attempts[2].calls[0] = call(K::kAcquire, 160, R::kNo, 20);
  BOOST_TEST(analyze(bad, Options{}).violations["refused_while_free"] == 1u);
}

BOOST_AUTO_TEST_CASE(sorted_set_semaphore) {
  History h = base();
  // Limit 2, timeout 100: two members, a third refused while both are in the set; after the
  // first ages out (its score 0 <= now 120 - 100), a fourth gets in.
  h.attempts = {
      attempt(Recipe::kSemaphore, 1, "s1", 100, {call(K::kAcquire, 0, R::kOk, 0, 0)}),
      attempt(Recipe::kSemaphore, 1, "s2", 100,
              {call(K::kAcquire, 10, R::kOk, 0, 10), call(K::kRenew, 50, R::kOk, 0, 50),
               call(K::kRelease, 140, R::kOk)}),
      attempt(Recipe::kSemaphore, 1, "s3", 100, {call(K::kAcquire, 60, R::kNo, 0, 60)}),
      attempt(Recipe::kSemaphore, 1, "s4", 100,
              {call(K::kAcquire, 120, R::kOk, 0, 120), call(K::kRelease, 130, R::kOk)}),
  };
  Report r = analyze(h, Options{});
  BOOST_TEST(r.total() == 0u);
  BOOST_TEST(r.by_recipe[Recipe::kSemaphore].grants == 3u);

  // A third member admitted while two surely hold (ZCARD or the limit not honoured): three at
  // 61 ms (s1, s2, s3), and again at 121 ms (s2, s3, s4).
  History bad = h;
  bad.attempts[2].calls[0] = call(K::kAcquire, 60, R::kOk, 0, 60);
  BOOST_TEST(analyze(bad, Options{}).violations["over_limit"] == 2u);
  // Refused although its own ZREMRANGEBYSCORE must have dropped s1 (score 0, now 105).
  bad = h;
  bad.attempts[2].calls[0] = call(K::kAcquire, 105, R::kNo, 0, 105);
  BOOST_TEST(analyze(bad, Options{}).violations["refused_while_free"] == 1u);
  // s2's refresh at now 50 found it gone: the key expired early.
  bad = h;
  bad.attempts[1].calls[1].reply = R::kNo;
  bad.attempts[1].calls.pop_back();
  BOOST_TEST(analyze(bad, Options{}).violations["lost_before_ttl"] == 1u);
  // A refresh that succeeded with now 111 >= score 10 + 100: its own range delete should have
  // dropped the member first.
  bad = h;
  bad.attempts[1].calls[1] = call(K::kRenew, 111, R::kOk, 0, 111);
  BOOST_TEST(analyze(bad, Options{}).violations["resurrected"] == 1u);
}

BOOST_AUTO_TEST_CASE(simple_mutex_fences) {
  History h = base();
  h.attempts = {
      attempt(Recipe::kMutex, 2, "0.1", 100,
              {call(K::kAcquire, 0, R::kOk), call(K::kFence, 2, R::kOk, 1),
               call(K::kRelease, 20, R::kOk)}),
      attempt(Recipe::kMutex, 2, "0.2", 100,
              {call(K::kAcquire, 30, R::kOk), call(K::kFence, 32, R::kOk, 2)}),
      attempt(Recipe::kMutex, 2, "0.3", 100, {call(K::kAcquire, 50, R::kNo)}),
      attempt(Recipe::kMutex, 2, "0.4", 100,
              {call(K::kAcquire, 200, R::kOk), call(K::kFence, 202, R::kOk, 3),
               call(K::kRelease, 210, R::kOk)}),
  };
  h.messages = {{25 * kMs, 2, "0.1"}, {215 * kMs, 2, "0.4"}};
  h.kills = {100 * kMs};
  Report r = analyze(h, Options{});
  BOOST_TEST(r.total() == 0u);
  BOOST_TEST(r.fences == 3u);

  // The counter reset by the restart: a token repeats, and one goes backwards.
  History bad = h;
  bad.attempts[3].calls[1].value = 1;
  Report br = analyze(bad, Options{});
  BOOST_TEST(br.violations["fence_reused"] == 1u);
  BOOST_TEST(br.violations["fence_order"] == 1u);
  // A notice for a value nobody released.
  bad = h;
  bad.messages.push_back({60 * kMs, 2, "0.2"});
  BOOST_TEST(analyze(bad, Options{}).violations["publish_unknown"] == 1u);
  // SET NX granted while 0.2 surely held (it is abandoned: held until its TTL at 130).
  bad = h;
  bad.attempts[2].calls[0].reply = R::kOk;
  BOOST_TEST(analyze(bad, Options{}).violations["over_limit"] == 1u);
  // Refused after 0.2's TTL surely ran out (130 ms plus slack), nobody else there.
  bad = h;
  bad.attempts[2].calls[0] = call(K::kAcquire, 150, R::kNo);
  BOOST_TEST(analyze(bad, Options{}).violations["refused_while_free"] == 1u);
  // An error reply is a finding.
  bad = h;
  bad.attempts[2].calls[0].reply = R::kError;
  bad.attempts[2].calls[0].error = "ERR unknown command";
  BOOST_TEST(analyze(bad, Options{}).violations["error_reply"] == 1u);
}

BOOST_AUTO_TEST_CASE(late_finds_restores_and_extra_unlocks) {
  History h = base();
  // Mutex "0.1" (ttl 100) abandoned; its release script is sent at 150 ms, after its latest
  // possible deadline (1 + 100 + 1 + 3 slack), and its notice says it found the value.
  h.attempts = {attempt(Recipe::kMutex, 2, "0.1", 100,
                        {call(K::kAcquire, 0, R::kOk), call(K::kFence, 2, R::kOk, 1),
                         call(K::kRelease, 150, R::kOk)})};
  h.messages = {{152 * kMs, 2, "0.1"}};
  BOOST_TEST(analyze(h, Options{}).violations["resurrected"] == 1u);
  // ... unless another holder's refresh PEXPIRE ran late (after its own deadline) and may have
  // extended this key: "0.0" (granted before) GETs at 40, PEXPIREs at 90..95, past its DL 60.
  Attempt other = attempt(Recipe::kMutex, 2, "0.0", 100,
                          {call(K::kAcquire, -40, R::kOk), call(K::kFence, -38, R::kOk, 0),
                           call(K::kRenew, 40, R::kOk)});
  other.calls[2].aux_send = 90 * kMs;
  other.calls[2].recv = 95 * kMs;
  h.attempts.push_back(other);
  BOOST_TEST(analyze(h, Options{}).violations["resurrected"] == 0u);

  // Redisson: after the unlock that released, one more unlock must answer nil.
  History r = base();
  r.attempts = {attempt(Recipe::kRedisson, 0, "a", 100,
                        {call(K::kAcquire, 0, R::kOk), call(K::kRelease, 10, R::kOk, 1),
                         call(K::kRelease, 12, R::kNo)})};
  BOOST_TEST(analyze(r, Options{}).total() == 0u);
  r.attempts[0].calls[2] = call(K::kRelease, 12, R::kOk, 0);
  BOOST_TEST(analyze(r, Options{}).violations["hold_count"] == 1u);

  // Across a kill the deadline comes back through wall-clock milliseconds: a renewal that finds
  // the hash gone 2 ms before the deadline is excused (5 ms margin), 20 ms before is not.
  History k = base();
  k.kills = {50 * kMs};
  k.attempts = {attempt(Recipe::kRedisson, 0, "a", 100,
                        {call(K::kAcquire, 0, R::kOk), call(K::kRenew, 97, R::kNo)})};
  BOOST_TEST(analyze(k, Options{}).total() == 0u);
  k.attempts[0].calls[1] = call(K::kRenew, 79, R::kNo);
  BOOST_TEST(analyze(k, Options{}).violations["lost_before_ttl"] == 1u);
  // An acquire whose reply the kill swallowed may hold the key until the kill plus its TTL.
  k.attempts = {attempt(Recipe::kRedisson, 0, "a", 100, {call(K::kAcquire, 45, R::kNone)}),
                attempt(Recipe::kRedisson, 0, "b", 100, {call(K::kAcquire, 140, R::kNo, 10)})};
  BOOST_TEST(analyze(k, Options{}).total() == 0u);
  k.attempts[1].calls[0] = call(K::kAcquire, 170, R::kNo, 10);
  BOOST_TEST(analyze(k, Options{}).violations["refused_while_free"] == 1u);
  // A Redisson unlock whose reply the kill swallowed may have counted down and set the lease
  // anew (its PEXPIRE) just before the kill at 60: the key may be held until 60 + 100 + margin.
  k.attempts = {attempt(Recipe::kRedisson, 0, "a", 100,
                        {call(K::kAcquire, 0, R::kOk), call(K::kReenter, 5, R::kOk),
                         call(K::kRelease, 10, R::kOk, 0), call(K::kRelease, 20, R::kNone)}),
                attempt(Recipe::kRedisson, 0, "b", 100, {call(K::kAcquire, 155, R::kNo, 10)})};
  k.kills = {60 * kMs};
  BOOST_TEST(analyze(k, Options{}).total() == 0u);
  k.attempts[1].calls[0] = call(K::kAcquire, 175, R::kNo, 10);
  BOOST_TEST(analyze(k, Options{}).violations["refused_while_free"] == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
