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

bool PubSub::subscribe(ClientState& c, std::string_view channel) {
  return add(channels_, c.channels, c, channel);
}
bool PubSub::unsubscribe(ClientState& c, std::string_view channel) {
  return remove(channels_, c.channels, c, channel);
}
bool PubSub::psubscribe(ClientState& c, std::string_view pattern) {
  return add(patterns_, c.patterns, c, pattern);
}
bool PubSub::punsubscribe(ClientState& c, std::string_view pattern) {
  return remove(patterns_, c.patterns, c, pattern);
}

void PubSub::forget(ClientState& c) {
  const std::vector<std::string> chans(c.channels.begin(), c.channels.end());
  for (const auto& ch : chans) unsubscribe(c, ch);
  const std::vector<std::string> pats(c.patterns.begin(), c.patterns.end());
  for (const auto& p : pats) punsubscribe(c, p);
}

std::int64_t PubSub::publish(std::string_view channel, std::string_view message,
                             std::uint64_t publisher_id) {
  // Collected first: a delivery may close a connection, which changes the registry.
  std::vector<std::pair<std::uint64_t, std::string>> out;
  std::string frames[2];  // by protocol, encoded on first use
  const auto it = channels_.find(absl::string_view(channel.data(), channel.size()));
  if (it != channels_.end()) {
    for (const auto& [id, c] : it->second) {
      const int p = c->proto >= 3 ? 1 : 0;
      if (frames[p].empty()) frames[p] = pubsub_frame(p ? 3 : 2, {"message", channel, message});
      out.emplace_back(id, frames[p]);
    }
  }
  for (const auto& [pattern, members] : patterns_) {
    if (!glob_match(pattern, channel)) continue;
    std::string pframes[2];
    for (const auto& [id, c] : members) {
      const int p = c->proto >= 3 ? 1 : 0;
      if (pframes[p].empty()) {
        pframes[p] = pubsub_frame(p ? 3 : 2, {"pmessage", pattern, channel, message});
      }
      out.emplace_back(id, pframes[p]);
    }
  }
  for (const auto& [id, bytes] : out) sink_(id, bytes, id == publisher_id);
  return static_cast<std::int64_t>(out.size());
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
    (ps->*fn)(ctx.client, name);
    ctx.w.raw(pubsub_frame(ctx.client.proto, {kind, name},
                           static_cast<std::int64_t>(ctx.client.subscriptions())));
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
  PubSub* ps = ctx.host.pubsub();
  ctx.w.integer(ps ? ps->publish(argv[1], argv[2], ctx.client.id) : 0);
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
