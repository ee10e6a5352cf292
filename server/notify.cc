// Lost-lock notices (SEMLOCK.ACQUIRE ... NOTIFY, JSON "notify": true): the engine reports each
// NOTIFY holder removed by anything but its owner's release (Engine::take_lost); this file hands
// every notice to whoever listens on this member:
// - RESP3: a push frame `>5 semlock-lost <key> <owner> <fence> <reason>` to the connection that
//   acquired (or re-acquired) the holder with NOTIFY, if it is still open and still RESP3;
// - pub/sub: `semlock-lost <key> <owner> <fence> <reason>` published on `__semlock__:lost:<key>`
//   for every NOTIFY holder's loss (RESP2 clients subscribe; RESP3 subscribers get it too);
// - JSON: a connection that sent {"action":"watch","keys":[...]} gets one line per notice for
//   those keys.
// Nothing is ever written into a RESP2 or JSON request/reply stream that did not ask for it.
// Every copy is appended to its connection's output and bounded by the output caps like a
// PUBLISH copy (server/pubsub.cc): a listener that never reads is closed, others go on.
//
// Timing: the wheel removes due holders every tick (cleanup.resolution), and drain() hands their
// notices out in the same loop iteration, so a listener learns within one tick. Except pattern
// subscribers': matching every pattern against every notice is the one cost a client can
// multiply (many patterns x many NOTIFY holders), so their copies go through a backlog paced at
// kPatternWorkPerTick and capped at kMaxPatternBacklogBytes (notify.h).
//
// Forgery: PUBLISH (redis-compat/pubsub.cc) and the members' SEMLOCK.PUBLISH (cluster_pubsub.cc)
// refuse every `__semlock__:` channel, so only this file speaks on them.
//
// Reasons: expired, forced (engine_notify.cc); restart and failover are decided here:
// - restart: a NOTIFY holder the journal held whose TTL ran out while the server was down. The
//   restart lost it; nobody can be listening at start-up, so these notices are kept for
//   kRestartNoticeWindow and given to each JSON watch of the key and each SUBSCRIBE to its channel
//   made in that window (once per connection). Restored holders keep their NOTIFY mark: their
//   connections are gone, so their notices go to subscribers and watchers until the owner
//   re-acquires with NOTIFY on a new RESP3 connection (an idempotent re-acquire: same fence), which
//   takes the push.
// - failover (cluster mode): when the leader this member knew changes, it cannot tell its
//   listeners of a loss within a tick any more (only the leader expires). Every NOTIFY holder it
//   knows then gets a `failover` notice here, once: its later removal says nothing more on this
//   member. The holder itself stays (a new leader extends it); re-acquire to re-arm NOTIFY.
#include "server/notify.h"

#include <fmt/format.h>

#include <algorithm>

#include "protocol/json_codec.h"
#include "protocol/resp_writer.h"
#include "redis-compat/pubsub.h"
#include "server/logging.h"
#include "server/server.h"

namespace semlock {
namespace {

constexpr std::string_view kChannelPrefix = "__semlock__:lost:";

// What a binding or a watched key costs its connection (counted with its buffers).
std::size_t entry_bytes(std::string_view a, std::string_view b = {}) {
  return a.size() + b.size() + 64;
}

// What one watched key costs its connection: the key in the connection's list and again in the
// key -> connections index (shared by its watchers, charged to each), their string and table
// overheads. An overestimate rather than an under-count: these bytes are the only bound on how
// much watch state many connections can make the server hold (server.max_client_memory_mb).
std::size_t watch_entry_bytes(std::string_view key) {
  return 2 * key.size() + 160;
}

}  // namespace

std::string lost_channel(std::string_view key) {
  std::string ch(kChannelPrefix);
  ch.append(key);
  return ch;
}

std::string lost_message(const LostNotice& n) {
  return fmt::format("semlock-lost {} {} {} {}", n.key, n.owner, n.fence,
                     lost_reason_name(n.reason));
}

std::string lost_push(const LostNotice& n) {
  std::string out;
  resp::Writer w(out, 3);
  w.raw(">5\r\n");
  w.bulk("semlock-lost");
  w.bulk(n.key);
  w.bulk(n.owner);
  w.integer(static_cast<std::int64_t>(n.fence));
  w.bulk(lost_reason_name(n.reason));
  return out;
}

NotifyHub& Server::notify_hub() {
  if (!notify_) notify_ = std::make_shared<NotifyHub>();
  return *notify_;
}

void Server::on_notify_acquire(redis::ClientState& client, std::string_view key,
                               std::string_view owner, std::uint64_t fence,
                               std::uint64_t wait_tag) {
  // RESP2 connections never get a push: they subscribe to the key's channel instead.
  if (client.proto < 3) return;
  const auto it = connections_.find(client.id);
  if (it == connections_.end() || it->second->closed) return;
  if (wait_tag != 0) {
    notify_hub().wait_tags[wait_tag] = client.id;
    return;
  }
  notify_bind(*it->second, key, owner, fence);
}

void Server::notify_bind(Connection& c, std::string_view key, std::string_view owner,
                         std::uint64_t fence) {
  NotifyHub& hub = notify_hub();
  NotifyHub::Push& p = hub.pushes[fence];
  const bool moved = p.conn_id != 0 && p.conn_id != c.id;
  if (p.conn_id == c.id) return;  // already this connection's
  if (moved) {
    if (const auto old = connections_.find(p.conn_id); old != connections_.end()) {
      Connection& o = *old->second;
      o.client.compat_bytes -= std::min(o.client.compat_bytes, entry_bytes(p.key, p.owner));
      std::erase(hub.conn_pushes[o.id], fence);
    }
  }
  p = NotifyHub::Push{c.id, std::string(key), std::string(owner)};
  std::vector<std::uint64_t>& mine = hub.conn_pushes[c.id];
  mine.push_back(fence);
  c.client.compat_bytes += entry_bytes(key, owner);
  if (mine.size() >= 64 && (mine.size() & (mine.size() - 1)) == 0) {
    // Holders released by their owners leave no notice: drop their bindings now and then, so a
    // long-lived connection's list stays as long as its live NOTIFY holders.
    std::erase_if(mine, [&](std::uint64_t f) {
      if (engine_->notify_marked(f)) return false;
      const auto b = hub.pushes.find(f);
      if (b != hub.pushes.end() && b->second.conn_id == c.id) {
        c.client.compat_bytes -= std::min(c.client.compat_bytes,
                                          entry_bytes(b->second.key, b->second.owner));
        hub.pushes.erase(b);
      }
      return true;
    });
  }
  // Counted by the next flush(c) (its account()): never close connections mid-command.
}

namespace {

// A RESP frame's elements as the server writes them (bulk strings and integers), read with their
// lengths: "*2 owner fence" replies and ">5 semlock-lost key owner fence reason" pushes.
std::vector<std::string> frame_elements(std::string_view f) {
  std::vector<std::string> out;
  auto line = [&]() -> std::string_view {
    const auto e = f.find("\r\n");
    if (e == std::string_view::npos) return {};
    const std::string_view l = f.substr(0, e);
    f.remove_prefix(e + 2);
    return l;
  };
  const std::string_view head = line();
  if (head.size() < 2 || (head[0] != '*' && head[0] != '>')) return out;
  const long n = std::strtol(std::string(head.substr(1)).c_str(), nullptr, 10);
  for (long i = 0; i < n && !f.empty(); ++i) {
    const std::string_view l = line();
    if (l.empty()) return {};
    if (l[0] == ':') {
      out.emplace_back(l.substr(1));
    } else if (l[0] == '$') {
      const auto len = static_cast<std::size_t>(std::strtol(std::string(l.substr(1)).c_str(), nullptr, 10));
      if (f.size() < len + 2) return {};
      out.emplace_back(f.substr(0, len));
      f.remove_prefix(len + 2);
    } else {
      return {};
    }
  }
  return out;
}

}  // namespace

void Server::notify_forwarded_grant(std::uint64_t conn_id, std::string_view key,
                                    std::string_view reply) {
  const auto e = frame_elements(reply);
  const auto c = connections_.find(conn_id);
  if (e.size() != 2 || c == connections_.end() || c->second->closed) return;
  const std::uint64_t fence = std::strtoull(e[1].c_str(), nullptr, 10);
  notify_bind(*c->second, key, e[0], fence);
  if (const auto b = notify_hub().pushes.find(fence); b != notify_hub().pushes.end()) {
    b->second.relayed = true;
  }
}

void Server::notify_relay_push(std::uint64_t conn_id, std::string_view frame) {
  const auto e = frame_elements(frame);
  // This member gives its forwarded clients its own failover notice (its leader changed); the old
  // leader's would be a second one.
  if (e.size() == 5 && e[4] == lost_reason_name(LostReason::kFailover)) return;
  if (e.size() == 5 && notify_) {
    // Told by the leader: the binding here is done.
    const std::uint64_t fence = std::strtoull(e[3].c_str(), nullptr, 10);
    const auto b = notify_->pushes.find(fence);
    if (b != notify_->pushes.end() && b->second.conn_id == conn_id) notify_->pushes.erase(b);
  }
  ++notify_hub().pushes_sent;
  pubsub_deliver(conn_id, frame);
}

void Server::notify_wait_done(std::uint64_t conn_id, std::string_view key, std::string_view owner,
                              const WaiterEvent& ev) {
  if (!notify_) return;
  const auto it = notify_->wait_tags.find(ev.tag);
  if (it == notify_->wait_tags.end()) return;
  notify_->wait_tags.erase(it);
  if (!ev.granted) return;
  const auto c = connections_.find(conn_id);
  if (c == connections_.end() || c->second->closed) return;
  notify_bind(*c->second, key, owner, ev.fence);
}

void Server::notify_deliver() {
  for (const LostNotice& n : engine_->take_lost()) notify_notice(n);
  if (notify_ && !notify_->pattern_backlog.empty()) notify_drain_backlog();
}

void Server::notify_tick() {
  if (!notify_) return;
  notify_->spent = 0;
  if (!notify_->pattern_backlog.empty()) notify_drain_backlog();
}

void Server::notify_drain_backlog() {
  // Bounded work per tick (kPatternWorkPerTick): the first copy of a tick always goes, so the
  // backlog moves however many patterns there are; the rest wait for the next tick, in order.
  NotifyHub& hub = *notify_;
  while (!hub.pattern_backlog.empty()) {
    const std::uint64_t cost = 1 + (pubsub_ ? pubsub_->pattern_work() : 0);
    if (hub.spent > 0 && hub.spent + cost > kPatternWorkPerTick) {
      ++hub.pattern_deferrals;
      return;
    }
    hub.spent += cost;
    const NotifyHub::PatternJob job = std::move(hub.pattern_backlog.front());
    hub.pattern_backlog.pop_front();
    hub.pattern_backlog_bytes -= std::min(hub.pattern_backlog_bytes,
                                          job.channel.size() + job.message.size());
    if (pubsub_) {
      hub.channel_messages +=
          static_cast<std::uint64_t>(pubsub_->publish_to(job.channel, job.message, 0, false, true));
    }
  }
}

void Server::notify_notice(const LostNotice& n) {
  NotifyHub& hub = notify_hub();
  if (hub.told.erase(n.fence) > 0) return;  // its failover notice was its one notice here
  ++hub.sent[static_cast<std::size_t>(n.reason)];
  if (const auto b = hub.pushes.find(n.fence); b != hub.pushes.end()) {
    const std::uint64_t id = b->second.conn_id;
    // A forwarded holder's push comes from the leader, through the upstream; failover is ours.
    const bool ours = !b->second.relayed || n.reason == LostReason::kFailover;
    hub.pushes.erase(b);
    const auto c = connections_.find(id);
    if (c != connections_.end()) {
      Connection& conn = *c->second;
      conn.client.compat_bytes -= std::min(conn.client.compat_bytes, entry_bytes(n.key, n.owner));
      std::erase(hub.conn_pushes[id], n.fence);
      // Only while it still speaks RESP3 (HELLO 2 since: it reads the channel, if anything).
      if (ours && conn.client.proto >= 3 && !conn.closed) {
        ++hub.pushes_sent;
        pubsub_deliver(id, lost_push(n));
      }
    }
  }
  if (pubsub_) {
    // The channel's subscribers now; pattern subscribers through the paced backlog (above).
    std::string channel = lost_channel(n.key);
    std::string message = lost_message(n);
    hub.channel_messages +=
        static_cast<std::uint64_t>(pubsub_->publish_to(channel, message, 0, true, false));
    if (pubsub_->numpat() > 0) {
      hub.pattern_backlog_bytes += channel.size() + message.size();
      hub.pattern_backlog.push_back({std::move(channel), std::move(message)});
      while (hub.pattern_backlog_bytes > kMaxPatternBacklogBytes) {
        const NotifyHub::PatternJob& old = hub.pattern_backlog.front();
        hub.pattern_backlog_bytes -= std::min(hub.pattern_backlog_bytes,
                                              old.channel.size() + old.message.size());
        hub.pattern_backlog.pop_front();
        ++hub.pattern_drops;
      }
    }
  }
  if (const auto w = hub.watchers.find(n.key); w != hub.watchers.end()) {
    // Collected first: a delivery past the hard cap closes its connection, which unwatches it.
    const std::vector<std::uint64_t> ids(w->second.begin(), w->second.end());
    std::string line;
    json::write_lost_event(line, n.key, n.owner, n.fence, lost_reason_name(n.reason));
    for (const std::uint64_t id : ids) {
      ++hub.watch_lines;
      pubsub_deliver(id, line);
    }
  }
}

void Server::notify_forget(Connection& c) {
  if (!notify_) return;
  NotifyHub& hub = *notify_;
  if (const auto it = hub.conn_pushes.find(c.id); it != hub.conn_pushes.end()) {
    for (const std::uint64_t f : it->second) {
      const auto b = hub.pushes.find(f);
      if (b != hub.pushes.end() && b->second.conn_id == c.id) hub.pushes.erase(b);
    }
    hub.conn_pushes.erase(it);
  }
  if (const auto it = hub.conn_watches.find(c.id); it != hub.conn_watches.end()) {
    hub.watched_keys -= std::min(hub.watched_keys, it->second.size());
    for (const std::string& k : it->second) {
      const auto w = hub.watchers.find(k);
      if (w == hub.watchers.end()) continue;
      w->second.erase(c.id);
      if (w->second.empty()) hub.watchers.erase(w);
    }
    hub.conn_watches.erase(it);
  }
  if (!hub.wait_tags.empty()) {
    absl::erase_if(hub.wait_tags, [&](const auto& kv) { return kv.second == c.id; });
  }
}

bool Server::notify_watching(const Connection& c) const {
  return notify_ && notify_->conn_watches.contains(c.id);
}

bool Server::notify_watch(Connection& c, const json::Request& req, WireProtocol wire,
                          std::string& body, int& status) {
  auto bad = [&](std::string_view text) {
    json::write_error(body, req.id_raw, text, "BADREQUEST");
    status = 400;
    return true;
  };
  if (wire != WireProtocol::kJson) {
    return bad("watch: not supported over HTTP (a notice stream needs its connection)");
  }
  const std::uint32_t max_key = engine_->limits().max_key_bytes;
  for (const std::string& k : req.keys) {
    if (k.size() > max_key) {
      return bad("keys: a key is longer than limits.max_key_bytes (" + std::to_string(max_key) +
                 ")");
    }
  }
  NotifyHub& hub = notify_hub();
  // All or nothing: the keys this request adds are worked out first, in O(n) (the watchers index
  // tells whether this connection already watches a key; `fresh` drops repeats in the request),
  // and nothing is registered unless every one of them fits under kMaxWatchKeys.
  const auto have = hub.conn_watches.find(c.id);
  const std::size_t watched = have == hub.conn_watches.end() ? 0 : have->second.size();
  absl::flat_hash_set<absl::string_view> fresh;  // Debian's abseil: not std::string_view
  fresh.reserve(req.keys.size());
  std::vector<std::string_view> added;
  for (const std::string& k : req.keys) {
    if (const auto w = hub.watchers.find(k); w != hub.watchers.end() && w->second.contains(c.id)) {
      continue;
    }
    if (fresh.insert(absl::string_view(k.data(), k.size())).second) added.push_back(k);
  }
  if (watched + added.size() > kMaxWatchKeys) {
    return bad("keys: at most " + std::to_string(kMaxWatchKeys) + " keys per connection");
  }
  std::vector<std::string>& mine = hub.conn_watches[c.id];
  for (const std::string_view k : added) {
    mine.emplace_back(k);
    hub.watchers[absl::string_view(k.data(), k.size())].insert(c.id);
    c.client.compat_bytes += watch_entry_bytes(k);
  }
  hub.watched_keys += added.size();
  json::write_watching(body, req.id_raw, mine);
  // Notices the restart kept for late listeners (see the top of this file): after the ack.
  if (!hub.restart_notices.empty()) {
    for (const std::string_view k : added) {
      const auto it = hub.restart_notices.find(absl::string_view(k.data(), k.size()));
      if (it == hub.restart_notices.end()) continue;
      for (const LostNotice& n : it->second) {
        json::write_lost_event(body, n.key, n.owner, n.fence, lost_reason_name(n.reason));
      }
    }
  }
  return true;
}

void Server::on_subscribed(redis::ClientState& client, std::string_view channel) {
  if (!notify_ || notify_->restart_notices.empty() || !channel.starts_with(kChannelPrefix)) {
    return;
  }
  const std::string key(channel.substr(kChannelPrefix.size()));
  if (!notify_->restart_notices.contains(key)) return;
  const std::uint64_t id = client.id;
  // After the SUBSCRIBE reply, which the running command is still writing.
  cluster_defer([this, id, key] {
    if (!notify_) return;
    const auto it = notify_->restart_notices.find(key);
    if (it == notify_->restart_notices.end()) return;
    for (const LostNotice& n : it->second) {
      const auto c = connections_.find(id);
      if (c == connections_.end() || c->second->closed) return;
      pubsub_deliver(id, redis::pubsub_frame(c->second->client.proto,
                                             {"message", lost_channel(key), lost_message(n)}));
    }
  });
}

void Server::notify_after_restart(std::vector<LostNotice> lost, Millis now) {
  if (lost.empty()) return;
  NotifyHub& hub = notify_hub();
  hub.sent[static_cast<std::size_t>(LostReason::kRestart)] += lost.size();
  log::info("NOTIFY holders lost while the server was down: their restart notices are kept for "
            "late watchers and subscribers",
            {{"holders", std::to_string(lost.size())},
             {"seconds", std::to_string(kRestartNoticeWindow / 1000)}});
  hub.restart_notices.clear();
  for (LostNotice& n : lost) {
    std::string key = n.key;
    hub.restart_notices[std::move(key)].push_back(std::move(n));
  }
  hub.restart_until = now + kRestartNoticeWindow;
}

void Server::notify_failover() {
  std::vector<LostNotice> gone;
  engine_->for_each_holder([&](const HolderView& h) {
    if (!engine_->notify_marked(h.fence)) return;
    if (notify_ && notify_->told.contains(h.fence)) return;
    gone.push_back(
        LostNotice{std::string(h.key), std::string(h.owner), h.fence, LostReason::kFailover});
  });
  if (gone.empty()) return;
  for (const LostNotice& n : gone) {
    notify_notice(n);
    notify_hub().told.insert(n.fence);
  }
  if (!notify_hub().pattern_backlog.empty()) notify_drain_backlog();
}

void Server::notify_housekeeping(Millis now) {
  if (!notify_) return;
  NotifyHub& hub = *notify_;
  if (!hub.restart_notices.empty() && now >= hub.restart_until) {
    absl::flat_hash_map<std::string, std::vector<LostNotice>>().swap(hub.restart_notices);
  }
  // Fences told of a failover whose holders went silently (released, or rebuilt away).
  if (!hub.told.empty()) {
    absl::erase_if(hub.told, [&](std::uint64_t f) { return !engine_->notify_marked(f); });
  }
}

std::string Server::notify_info() const {
  const std::array<std::uint64_t, 5> none{};
  const auto& sent = notify_ ? notify_->sent : none;
  return fmt::format(
      "notify_holders:{}\r\nlost_notices_expired:{}\r\nlost_notices_forced:{}\r\n"
      "lost_notices_restart:{}\r\nlost_notices_failover:{}\r\nlost_notice_pushes:{}\r\n"
      "lost_notice_watch_lines:{}\r\nlost_notice_channel_messages:{}\r\nnotify_watchers:{}\r\n"
      "notify_watched_keys:{}\r\nlost_notice_pattern_backlog:{}\r\n"
      "lost_notice_pattern_deferrals:{}\r\nlost_notice_pattern_drops:{}\r\n",
      engine_->notify_holders(), sent[1], sent[2], sent[3], sent[4],
      notify_ ? notify_->pushes_sent : 0, notify_ ? notify_->watch_lines : 0,
      notify_ ? notify_->channel_messages : 0, notify_ ? notify_->conn_watches.size() : 0,
      notify_ ? notify_->watched_keys : 0, notify_ ? notify_->pattern_backlog.size() : 0,
      notify_ ? notify_->pattern_deferrals : 0, notify_ ? notify_->pattern_drops : 0);
}

}  // namespace semlock
