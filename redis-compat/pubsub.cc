// Pub/sub registry and the SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE / PUNSUBSCRIBE / PUBLISH / PUBSUB
// commands, with Redis 7's replies (RESP2 arrays; RESP3 push frames).
#include "redis-compat/pubsub.h"

#include <fmt/format.h>

#include <algorithm>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"

namespace semlock::redis {
namespace {

// What a subscription costs the connection (counted with its buffers).
std::size_t entry_bytes(std::string_view name) {
  return name.size() + sizeof(std::string) + 16;
}

// A pattern is held twice (the client's set, the index's slot and its lookup) with its members'
// table.
std::size_t pattern_entry_bytes(std::string_view name) {
  return 2 * name.size() + 180;
}

bool add(absl::flat_hash_map<std::string, absl::flat_hash_map<std::uint64_t, ClientState*>>& index,
         absl::flat_hash_set<std::string>& own, ClientState& c, std::string_view name) {
  if (!own.emplace(std::string(name)).second) return false;
  c.compat_bytes += entry_bytes(name);
  index[std::string(name)][c.id] = &c;
  return true;
}

bool remove(
    absl::flat_hash_map<std::string, absl::flat_hash_map<std::uint64_t, ClientState*>>& index,
    absl::flat_hash_set<std::string>& own, ClientState& c, std::string_view name) {
  const auto it = own.find(absl::string_view(name.data(), name.size()));
  if (it == own.end()) return false;
  own.erase(it);
  c.compat_bytes -= std::min(c.compat_bytes, entry_bytes(name));
  const auto idx = index.find(absl::string_view(name.data(), name.size()));
  if (idx != index.end()) {
    idx->second.erase(c.id);
    if (idx->second.empty()) index.erase(idx);
  }
  return true;
}

}  // namespace

std::string pubsub_frame(int proto, std::initializer_list<std::string_view> bulks,
                         std::int64_t count) {
  std::string out;
  resp::Writer w(out, proto);
  const std::size_t n = bulks.size() + (count >= 0 ? 1 : 0);
  w.raw(fmt::format("{}{}\r\n", proto >= 3 ? '>' : '*', n));
  for (const auto b : bulks) w.bulk(b);
  if (count >= 0) w.integer(count);
  return out;
}

PubSub::PubSub(Sink sink) : sink_(std::move(sink)) {}
PubSub::~PubSub() = default;

bool PubSub::subscribe(ClientState& c, std::string_view channel) {
  return add(channels_, c.channels, c, channel);
}
bool PubSub::unsubscribe(ClientState& c, std::string_view channel) {
  return remove(channels_, c.channels, c, channel);
}
bool PubSub::psubscribe(ClientState& c, std::string_view pattern) {
  if (!c.patterns.emplace(std::string(pattern)).second) return false;
  c.compat_bytes += pattern_entry_bytes(pattern);
  const std::string_view lit = literal_prefix(pattern);
  auto [b, new_bucket] = buckets_.try_emplace(std::string(lit));
  if (new_bucket) ++prefix_lengths_[lit.size()];
  Bucket& bucket = b->second;
  auto [w, new_pattern] =
      bucket.where.try_emplace(std::string(pattern), static_cast<std::uint32_t>(bucket.slots.size()));
  if (new_pattern) {
    bucket.slots.push_back(Slot{std::string(pattern), Pattern{{}, ++seq_}, true});
    ++npatterns_;
    pattern_bytes_ += pattern.size();
    bucket.bytes += pattern.size();
  }
  bucket.slots[w->second].p.members[c.id] = Member{&c, ++seq_};
  return true;
}

bool PubSub::punsubscribe(ClientState& c, std::string_view pattern) {
  const auto own = c.patterns.find(absl::string_view(pattern.data(), pattern.size()));
  if (own == c.patterns.end()) return false;
  c.patterns.erase(own);
  c.compat_bytes -= std::min(c.compat_bytes, pattern_entry_bytes(pattern));
  const std::string_view lit = literal_prefix(pattern);
  const auto b = buckets_.find(absl::string_view(lit.data(), lit.size()));
  if (b == buckets_.end()) return true;
  Bucket& bucket = b->second;
  const auto w = bucket.where.find(absl::string_view(pattern.data(), pattern.size()));
  if (w == bucket.where.end()) return true;
  const std::uint32_t at = w->second;
  Slot& slot = bucket.slots[at];
  const auto m = slot.p.members.find(c.id);
  if (m != slot.p.members.end()) {
    leaving(pattern, at, slot.p, m->second);
    slot.p.members.erase(m);
  }
  if (!slot.p.members.empty()) return true;
  slot.live = false;
  std::string().swap(slot.pattern);
  decltype(slot.p.members)().swap(slot.p.members);
  bucket.where.erase(w);
  ++bucket.dead;
  --npatterns_;
  pattern_bytes_ -= std::min<std::uint64_t>(pattern_bytes_, pattern.size());
  bucket.bytes -= std::min<std::uint64_t>(bucket.bytes, pattern.size());
  if (bucket.where.empty()) {
    buckets_.erase(b);
    const auto n = prefix_lengths_.find(lit.size());
    if (n != prefix_lengths_.end() && --n->second == 0) prefix_lengths_.erase(n);
  } else if (bucket.dead >= 32 && 2 * bucket.dead >= bucket.slots.size()) {
    compact(bucket, lit);
  }
  return true;
}

void PubSub::forget(ClientState& c) {
  const std::vector<std::string> chans(c.channels.begin(), c.channels.end());
  for (const auto& ch : chans) unsubscribe(c, ch);
  const std::vector<std::string> pats(c.patterns.begin(), c.patterns.end());
  for (const auto& p : pats) punsubscribe(c, p);
}

std::vector<std::string> PubSub::channels(std::string_view pattern) const {
  std::vector<std::string> out;
  for (const auto& [name, members] : channels_) {
    if (pattern.empty() || glob_match(pattern, name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::int64_t PubSub::numsub(std::string_view channel) const {
  const auto it = channels_.find(absl::string_view(channel.data(), channel.size()));
  return it == channels_.end() ? 0 : static_cast<std::int64_t>(it->second.size());
}

namespace {

constexpr std::string_view kPublishOverBudget =
    "ERR PUBLISH inside MULTI/EXEC or a script would try more patterns than this tick allows "
    "(pub/sub pattern budget): publish outside the transaction";

using AddFn = bool (PubSub::*)(ClientState&, std::string_view);

Outcome change(CommandContext& ctx, Args argv, std::string_view kind, AddFn fn,
               absl::flat_hash_set<std::string>& own) {
  PubSub* ps = ctx.host.pubsub();
  if (ps == nullptr) {
    ctx.w.error("ERR pub/sub is not available here");
    return Outcome::kDone;
  }
  std::vector<std::string> names;
  if (argv.size() > 1) {
    for (std::size_t i = 1; i < argv.size(); ++i) names.emplace_back(argv[i]);
  } else {
    names.assign(own.begin(), own.end());  // UNSUBSCRIBE / PUNSUBSCRIBE without arguments: all
    std::sort(names.begin(), names.end());
  }
  if (names.empty()) {  // nothing to leave: one reply with a null name
    std::string& out = ctx.w.out();
    out += ctx.client.proto >= 3 ? ">3\r\n" : "*3\r\n";
    ctx.w.bulk(kind);
    ctx.w.null();
    ctx.w.integer(static_cast<std::int64_t>(ctx.client.subscriptions()));
    return Outcome::kDone;
  }
  for (const auto& name : names) {
    const bool added = (ps->*fn)(ctx.client, name);
    ctx.w.raw(pubsub_frame(ctx.client.proto, {kind, name},
                           static_cast<std::int64_t>(ctx.client.subscriptions())));
    if (added && kind == "subscribe") ctx.host.on_subscribed(ctx.client, name);
  }
  return Outcome::kDone;
}

}  // namespace

Outcome cmd_subscribe(CommandContext& ctx, Args argv) {
  return change(ctx, argv, "subscribe", &PubSub::subscribe, ctx.client.channels);
}
Outcome cmd_unsubscribe(CommandContext& ctx, Args argv) {
  return change(ctx, argv, "unsubscribe", &PubSub::unsubscribe, ctx.client.channels);
}
Outcome cmd_psubscribe(CommandContext& ctx, Args argv) {
  return change(ctx, argv, "psubscribe", &PubSub::psubscribe, ctx.client.patterns);
}
Outcome cmd_punsubscribe(CommandContext& ctx, Args argv) {
  return change(ctx, argv, "punsubscribe", &PubSub::punsubscribe, ctx.client.patterns);
}

Outcome cmd_publish(CommandContext& ctx, Args argv) {
  // The server's own channels: a forged lost-lock notice would tell a holder it lost its lock.
  // Checked here, so RESP, MULTI/EXEC and scripts' redis.call all meet it.
  if (std::string_view(argv[1]).starts_with(errors::kReservedChannelPrefix)) {
    ctx.w.error(errors::kReservedChannel);
    return Outcome::kDone;
  }
  PubSub* ps = ctx.host.pubsub();
  if (ps == nullptr) {
    ctx.host.on_publish(ctx.client, argv[1], argv[2]);
    ctx.w.integer(0);
    return Outcome::kDone;
  }
  if (!ctx.may_block) {
    // MULTI/EXEC, scripts: the transaction cannot wait for later ticks, so the message goes at
    // once with its exact count, or not at all when the pattern work does not fit (pubsub.h).
    const auto n = ps->publish_atomic(argv[1], argv[2], ctx.client.id);
    if (!n) {
      ctx.w.error(kPublishOverBudget);
      return Outcome::kDone;
    }
    ctx.host.on_publish(ctx.client, argv[1], argv[2]);  // the other members (cluster mode)
    ctx.w.integer(*n);  // this member's subscribers, as Redis Cluster counts
    return Outcome::kDone;
  }
  ctx.host.on_publish(ctx.client, argv[1], argv[2]);
  const auto n = ps->publish_paced(argv[1], argv[2], ctx.client.id);
  if (n) {
    ctx.w.integer(*n);
    return Outcome::kDone;
  }
  // Finished in later ticks: the server answers the count then (server/pubsub.cc).
  ctx.host.on_publish_paced(ctx.client, argv[1].size() + argv[2].size());
  return Outcome::kBlocked;
}

// Members run SEMLOCK.PUBLISH before the command table is consulted (server/cluster_pubsub.cc):
// here it only meets a server that is not a cluster member.
Outcome cmd_semlock_publish(CommandContext& ctx, Args) {
  ctx.w.error("ERR This instance has cluster support disabled");
  return Outcome::kDone;
}

Outcome cmd_pubsub_channels(CommandContext& ctx, Args argv) {
  PubSub* ps = ctx.host.pubsub();
  const auto names = ps ? ps->channels(argv.size() > 2 ? argv[2] : "") : std::vector<std::string>{};
  ctx.w.array(names.size());
  for (const auto& n : names) ctx.w.bulk(n);
  return Outcome::kDone;
}

Outcome cmd_pubsub_numsub(CommandContext& ctx, Args argv) {
  PubSub* ps = ctx.host.pubsub();
  ctx.w.array(2 * (argv.size() - 2));  // an array in RESP3 too, as Redis 7 answers
  for (std::size_t i = 2; i < argv.size(); ++i) {
    ctx.w.bulk(argv[i]);
    ctx.w.integer(ps ? ps->numsub(argv[i]) : 0);
  }
  return Outcome::kDone;
}

Outcome cmd_pubsub_numpat(CommandContext& ctx, Args) {
  PubSub* ps = ctx.host.pubsub();
  ctx.w.integer(ps ? ps->numpat() : 0);
  return Outcome::kDone;
}

}  // namespace semlock::redis
