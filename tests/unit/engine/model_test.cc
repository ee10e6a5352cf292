// The engine against a plain model of SPEC §1 (a map of holders per key, due once now > deadline),
// over a long seeded random run: acquires, re-acquires, releases, extends and ticks, with time
// moving by small steps and by jumps of minutes to hours. Exercises the wheel (1 ms slots,
// empty-slot skipping, cascades from every level), the owner index (keys above and below its
// threshold) and expiry on access, and checks every reply, every holder's fence and remaining time,
// and that a tick leaves no due holder behind.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/engine/helpers.h"

using namespace semlock;
using semlock::test::acq;

namespace {

struct ModelHolder {
  std::uint64_t fence = 0;
  Millis deadline = 0;
};

struct ModelKey {
  std::uint32_t limit = 1;
  std::map<std::string, ModelHolder> holders;
};

class Model {
 public:
  explicit Model(std::uint64_t first_fence) : next_fence_(first_fence) {}

  void purge(const std::string& key, Millis now) {
    auto it = keys_.find(key);
    if (it == keys_.end()) return;
    std::erase_if(it->second.holders, [&](const auto& h) { return h.second.deadline < now; });
    if (it->second.holders.empty()) keys_.erase(it);
  }
  void purge_all(Millis now) {
    std::vector<std::string> names;
    for (const auto& [k, v] : keys_) names.push_back(k);
    for (const auto& k : names) purge(k, now);
  }

  // Returns the status and fence the engine must answer.
  std::pair<EngineStatus, std::uint64_t> acquire(const std::string& key, const std::string& owner,
                                                 Millis ttl, std::uint32_t limit, Millis now) {
    purge(key, now);
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      ModelKey& k = keys_[key];
      k.limit = limit;
      k.holders[owner] = {next_fence_, now + ttl};
      return {EngineStatus::kGranted, next_fence_++};
    }
    ModelKey& k = it->second;
    if (k.limit != limit) return {EngineStatus::kMismatch, 0};
    auto h = k.holders.find(owner);
    if (h != k.holders.end()) {
      h->second.deadline = now + ttl;
      return {EngineStatus::kRefreshed, h->second.fence};
    }
    if (k.holders.size() >= k.limit) return {EngineStatus::kNotGranted, 0};
    k.holders[owner] = {next_fence_, now + ttl};
    return {EngineStatus::kGranted, next_fence_++};
  }

  EngineStatus release(const std::string& key, const std::string& owner, Millis now) {
    purge(key, now);
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.holders.erase(owner) == 0) return EngineStatus::kNotHeld;
    if (it->second.holders.empty()) keys_.erase(it);
    return EngineStatus::kOk;
  }

  EngineStatus extend(const std::string& key, const std::string& owner, Millis ttl, Millis now) {
    purge(key, now);
    auto it = keys_.find(key);
    if (it == keys_.end()) return EngineStatus::kNotHeld;
    auto h = it->second.holders.find(owner);
    if (h == it->second.holders.end()) return EngineStatus::kNotHeld;
    h->second.deadline = now + ttl;
    return EngineStatus::kOk;
  }

  // Holders by fence: (owner, fence, remaining).
  std::vector<HolderInfo> holders(const std::string& key, Millis now) {
    purge(key, now);
    std::vector<HolderInfo> out;
    auto it = keys_.find(key);
    if (it == keys_.end()) return out;
    for (const auto& [owner, h] : it->second.holders) {
      out.push_back(HolderInfo{owner, h.fence, h.deadline - now});
    }
    std::sort(out.begin(), out.end(),
              [](const HolderInfo& a, const HolderInfo& b) { return a.fence < b.fence; });
    return out;
  }

  std::uint64_t total() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : keys_) n += v.holders.size();
    return n;
  }

 private:
  std::map<std::string, ModelKey> keys_;
  std::uint64_t next_fence_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(model)

BOOST_AUTO_TEST_CASE(random_run_matches_the_model) {
  EngineLimits l = test::unlimited();
  l.max_ttl = 48ll * 3600 * 1000;
  Engine e(l, 1000);
  Model m(1000);
  std::mt19937_64 rng(20261202);
  auto pick = [&](std::uint64_t n) { return static_cast<std::uint64_t>(rng() % n); };
  const std::vector<std::pair<std::string, std::uint32_t>> keys = {
      {"m1", 1}, {"m2", 1}, {"s3", 3}, {"s12", 12}, {"s40", 40}, {"s40b", 40}};
  std::vector<std::string> owners;
  for (int i = 0; i < 60; ++i) owners.push_back(test::name("owner-", i));
  Millis now = 1'700'000'000'000;
  int mismatches = 0;
  for (int step = 0; step < 200000 && mismatches < 5; ++step) {
    const auto& [key, limit] = keys[pick(keys.size())];
    const std::string& owner = owners[pick(owners.size())];
    // The server's look-ahead hint before each operation (this key, another, an absent one) must
    // change nothing the model can see.
    e.prefetch(key);
    e.prefetch(keys[static_cast<std::size_t>(step) % keys.size()].first);
    e.prefetch("absent");
    e.prefetch(std::string(l.max_key_bytes + 1, 'k'));  // over-long: ignored, not hashed
    e.prefetch({});
    const std::uint64_t op = pick(100);
    Millis ttl = static_cast<Millis>(1 + pick(200));
    if (pick(20) == 0) ttl = static_cast<Millis>(1 + pick(40ll * 3600 * 1000));
    if (op < 45) {
      const auto want = m.acquire(key, owner, ttl, limit, now);
      const auto got = acq(e, key, owner, ttl, now, limit);
      if (got.status != want.first || got.fence != want.second) ++mismatches;
      BOOST_TEST(got.status == want.first, "step " << step << " acquire " << key << " " << owner);
      BOOST_TEST(got.fence == want.second, "step " << step);
    } else if (op < 70) {
      const EngineStatus want = m.release(key, owner, now);
      const EngineStatus got = e.release(key, owner, now);
      if (got != want) ++mismatches;
      BOOST_TEST(got == want, "step " << step << " release " << key << " " << owner);
    } else if (op < 85) {
      const EngineStatus want = m.extend(key, owner, ttl, now);
      const EngineStatus got = e.extend(key, owner, ttl, now);
      if (got != want) ++mismatches;
      BOOST_TEST(got == want, "step " << step << " extend " << key << " " << owner);
    } else if (op < 95) {
      const auto want = m.holders(key, now);
      const auto info = e.info(key, now);
      const std::size_t got_n = info ? info->holders.size() : 0;
      bool same = got_n == want.size();
      for (std::size_t i = 0; same && i < want.size(); ++i) {
        const HolderInfo& g = info->holders[i];
        same = g.owner == want[i].owner && g.fence == want[i].fence &&
               g.remaining == want[i].remaining && g.remaining >= 0;
      }
      if (!same) ++mismatches;
      BOOST_TEST(same, "step " << step << " info " << key);
    } else {
      e.tick(now);
      m.purge_all(now);
      const std::uint64_t got = e.stats().holders;
      if (got != m.total()) ++mismatches;
      BOOST_TEST(got == m.total(), "step " << step << " tick left due holders");
    }
    // Time: mostly a millisecond or less, sometimes minutes, now and then hours.
    const std::uint64_t dt = pick(1000);
    if (dt < 700) {
      now += static_cast<Millis>(pick(3));
    } else if (dt < 995) {
      now += static_cast<Millis>(pick(300));
    } else if (dt < 999) {
      now += static_cast<Millis>(pick(600000));
    } else {
      now += static_cast<Millis>(pick(30ll * 3600 * 1000));
    }
  }
  BOOST_TEST(mismatches == 0);
  now += 48ll * 3600 * 1000;
  e.tick(now);
  BOOST_TEST(e.stats().holders == 0u);
  BOOST_TEST(e.stats().active_locks == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
