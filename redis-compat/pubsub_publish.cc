// PUBLISH's delivery: the pattern index walk and its pacing (pubsub.h).
//
// Order and counts are Redis's:
// - A message goes to the channel's subscribers, then to the subscribers of each matching pattern
//   (one copy per pattern), as Redis sends them. Its count is the copies handed out.
// - Paced PUBLISHes (client PUBLISH, a member's relay) form one queue: one is delivered at a time,
//   oldest first, so every subscriber gets them in the one order they were run, and a publisher
//   gets its reply (and runs its next command) only when its message is delivered.
// - A PUBLISH takes its receivers as they are when it begins: a subscription made after it does
//   not get it (sequence numbers), and a member leaving a pattern that the running PUBLISH has not
//   reached yet gets its copy as it leaves (before its PUNSUBSCRIBE reply, where Redis would have
//   put it) — so nobody subscribed when it began misses it, and the count stays exact.
// - A PUBLISH inside MULTI/EXEC or a script is part of its transaction: delivered at once (it may
//   reach a subscriber before a paced PUBLISH still on its way, whose publisher has no reply yet),
//   within kAtomicPublishWorkPerTick per tick, else refused with nothing sent.
// The walk: the channel's prefixes of the lengths some bucket has (prefix_lengths_), shortest
// first, each bucket in subscription order. Its cursor (prefix length, slot) stays valid while
// patterns come and go: buckets are looked up again on resumption, new patterns are appended,
// left ones are marked dead, and compacting a bucket moves the cursor with its slots.
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "engine/engine.h"
#include "redis-compat/pubsub.h"

namespace semlock::redis {

std::string_view PubSub::literal_prefix(std::string_view pattern) {
  const std::size_t n = pattern.find_first_of("*?[\\");
  return n == std::string_view::npos ? pattern : pattern.substr(0, n);
}

std::uint64_t PubSub::candidate_work(std::string_view channel) const {
  std::uint64_t work = 0;
  for (const auto& [len, n] : prefix_lengths_) {
    if (len > channel.size()) break;
    work += 1 + len / 64;
    const auto b = buckets_.find(absl::string_view(channel.data(), len));
    if (b != buckets_.end()) work += b->second.slots.size() + b->second.bytes / 64;
  }
  return work;
}

void PubSub::start(Job& j) {
  j.begun = true;
  j.seq = ++seq_;
}

bool PubSub::step(Job& j, std::uint64_t budget, std::uint64_t& spent, std::vector<Out>& out) {
  const std::string_view channel = j.channel;
  if (!j.begun) {
    start(j);
    const auto it = j.to_channel ? channels_.find(absl::string_view(channel.data(), channel.size()))
                                 : channels_.end();
    if (it != channels_.end()) {
      std::shared_ptr<const std::string> frames[2];  // by protocol, encoded on first use
      for (const auto& [id, c] : it->second) {
        const int p = c->proto >= 3 ? 1 : 0;
        if (!frames[p]) {
          frames[p] = std::make_shared<const std::string>(
              pubsub_frame(p ? 3 : 2, {"message", channel, j.message}));
        }
        out.push_back(Out{id, frames[p]});
        ++j.count;
        ++spent;
      }
    }
    ++spent;
  }
  if (!j.to_patterns) return true;
  for (auto lit = prefix_lengths_.lower_bound(j.plen);
       lit != prefix_lengths_.end() && lit->first <= channel.size(); ++lit) {
    const std::size_t len = lit->first;
    if (len != j.plen) {
      if (spent >= budget) return false;
      j.plen = len;
      j.next = 0;
      spent += 1 + len / 64;
    }
    const auto b = buckets_.find(absl::string_view(channel.data(), len));
    if (b != buckets_.end()) {
      const std::vector<Slot>& slots = b->second.slots;
      for (; j.next < slots.size(); ++j.next) {
        if (spent >= budget) return false;
        const Slot& slot = slots[j.next];
        spent += 1 + slot.pattern.size() / 64;
        if (!slot.live || slot.p.seq > j.seq || !glob_match(slot.pattern, channel)) continue;
        std::shared_ptr<const std::string> frames[2];
        for (const auto& [id, m] : slot.p.members) {
          if (m.seq > j.seq) continue;
          const int proto = m.client->proto >= 3 ? 1 : 0;
          if (!frames[proto]) {
            frames[proto] = std::make_shared<const std::string>(
                pubsub_frame(proto ? 3 : 2, {"pmessage", slot.pattern, channel, j.message}));
          }
          out.push_back(Out{id, frames[proto]});
          ++j.count;
          ++spent;
        }
      }
    }
    j.plen = len + 1;
    j.next = 0;
  }
  j.plen = std::numeric_limits<std::size_t>::max();  // every bucket done
  return true;
}

void PubSub::deliver(std::vector<Out>& out, std::uint64_t publisher_id) {
  // After the walk: a delivery may close a connection, which changes the registry.
  for (const Out& o : out) sink_(o.id, *o.bytes, o.id == publisher_id);
}

void PubSub::leaving(std::string_view pattern, std::size_t slot, const Pattern& p,
                     const Member& m) {
  if (jobs_.empty() || !jobs_.front().begun) return;
  Job& j = jobs_.front();
  if (!j.to_patterns || p.seq > j.seq || m.seq > j.seq) return;
  const std::string_view lit = literal_prefix(pattern);
  if (!std::string_view(j.channel).starts_with(lit)) return;
  const bool passed = lit.size() < j.plen || (lit.size() == j.plen && slot < j.next);
  if (passed || !glob_match(pattern, j.channel)) return;
  ++j.count;
  sink_(m.client->id,
        pubsub_frame(m.client->proto, {"pmessage", pattern, j.channel, j.message}), true);
}

void PubSub::compact(Bucket& b, std::string_view prefix) {
  // The running job's cursor, when it is in this bucket: the live slots before it stay before.
  Job* j = !jobs_.empty() && jobs_.front().begun ? &jobs_.front() : nullptr;
  const bool here = j != nullptr && j->plen == prefix.size() &&
                    std::string_view(j->channel).starts_with(prefix);
  std::vector<Slot> kept;
  kept.reserve(b.slots.size() - b.dead);
  std::size_t next = 0;
  for (std::size_t i = 0; i < b.slots.size(); ++i) {
    if (here && i == j->next) next = kept.size();
    if (!b.slots[i].live) continue;
    b.where[b.slots[i].pattern] = static_cast<std::uint32_t>(kept.size());
    kept.push_back(std::move(b.slots[i]));
  }
  if (here && j->next >= b.slots.size()) next = kept.size();
  if (here) j->next = next;
  b.slots.swap(kept);
  b.dead = 0;
}

std::int64_t PubSub::publish(std::string_view channel, std::string_view message,
                             std::uint64_t publisher_id) {
  return publish_to(channel, message, publisher_id, true, true);
}

std::int64_t PubSub::publish_to(std::string_view channel, std::string_view message,
                                std::uint64_t publisher_id, bool to_channel, bool to_patterns) {
  Job j;
  j.channel = channel;
  j.message = message;
  j.to_channel = to_channel;
  j.to_patterns = to_patterns;
  std::vector<Out> out;
  std::uint64_t spent = 0;
  step(j, std::numeric_limits<std::uint64_t>::max(), spent, out);
  deliver(out, publisher_id);
  return j.count;
}

std::optional<std::int64_t> PubSub::publish_atomic(std::string_view channel,
                                                   std::string_view message,
                                                   std::uint64_t publisher_id) {
  const std::uint64_t need = candidate_work(channel) + 1 + static_cast<std::uint64_t>(numsub(channel));
  if (atomic_spent_ + need > kAtomicPublishWorkPerTick) {
    ++refused_;
    return std::nullopt;
  }
  Job j;
  j.channel = channel;
  j.message = message;
  std::vector<Out> out;
  step(j, std::numeric_limits<std::uint64_t>::max(), atomic_spent_, out);
  deliver(out, publisher_id);
  return j.count;
}

std::optional<std::int64_t> PubSub::publish_paced(std::string_view channel,
                                                  std::string_view message,
                                                  std::uint64_t publisher_id) {
  const std::size_t bytes = channel.size() + message.size();
  if (publisher_id == 0) {
    if (unowned_bytes_ + bytes > kMaxUnownedPublishBytes) {
      ++dropped_;
      return 0;
    }
  }
  Job j;
  j.channel = channel;
  j.message = message;
  j.publisher_id = publisher_id;
  if (jobs_.empty() && spent_ < kPublishWorkPerTick) {
    std::vector<Out> out;
    const std::uint64_t before = spent_;
    const bool done = step(j, kPublishWorkPerTick, spent_, out);
    work_ += spent_ - before;
    if (done) {
      deliver(out, publisher_id);
      return j.count;
    }
    jobs_.push_back(std::move(j));
    deliver(out, publisher_id);
  } else {
    jobs_.push_back(std::move(j));
  }
  ++paced_;
  if (publisher_id == 0) unowned_bytes_ += bytes;
  return std::nullopt;
}

void PubSub::run_queue() {
  while (!jobs_.empty() && spent_ < kPublishWorkPerTick) {
    Job& j = jobs_.front();
    std::vector<Out> out;
    const std::uint64_t before = spent_;
    const bool done = step(j, kPublishWorkPerTick, spent_, out);
    work_ += spent_ - before;
    const std::uint64_t publisher = j.publisher_id;
    if (done) {
      const std::size_t bytes = j.channel.size() + j.message.size();
      if (publisher == 0) {
        unowned_bytes_ -= std::min(unowned_bytes_, bytes);
      } else {
        done_.push_back(Done{publisher, j.count, bytes});
      }
      jobs_.pop_front();  // before delivering: a member leaving now owes this job nothing
    }
    deliver(out, publisher);
    if (!done) return;
  }
}

void PubSub::tick() {
  spent_ = 0;
  atomic_spent_ = 0;
  run_queue();
}

std::vector<PubSub::Done> PubSub::take_done() {
  std::vector<Done> out;
  out.swap(done_);
  return out;
}

std::string PubSub::info() const {
  return fmt::format(
      "pubsub_publish_queue:{}\r\npubsub_publish_paced:{}\r\npubsub_publish_work:{}\r\n"
      "pubsub_publish_refused:{}\r\npubsub_publish_dropped:{}\r\n",
      jobs_.size(), paced_, work_, refused_, dropped_);
}

}  // namespace semlock::redis
