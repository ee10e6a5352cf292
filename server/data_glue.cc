// Data keys on the server's side (engine/data.h): answering blocked BLPOP/BRPOP, and the journal's
// records of data keys (written by journal_write, replayed at start-up, in snapshots).
#include <algorithm>
#include <cctype>
#include <string>

#include "engine/data.h"
#include "persistence/record.h"
#include "protocol/resp_writer.h"
#include "redis-compat/command_table.h"
#include "redis-compat/watch.h"
#include "server/server.h"

namespace semlock {

// A pop whose client is gone (closed before the answer could be written) is put back where it
// came from, so no element is lost; the list's next waiter gets it.
void Server::deliver_pop_events(Millis now) {
  DataStore& data = engine_->data();
  for (ListPopEvent& ev : data.take_pop_events()) {
    auto wit = waits_.find(ev.tag);
    if (wit == waits_.end()) continue;
    const PendingWait pw = std::move(wit->second);
    waits_.erase(wit);
    auto cit = connections_.find(pw.conn_id);
    Connection* c = cit == connections_.end() ? nullptr : cit->second;
    if (!c || c->closed || c->read_eof) {
      if (ev.served) {
        // Back at the end it was taken from (BLPOP: the head).
        const bool left = pw.owner == "blpop";
        data.apply(ev.key, {left ? "lpush" : "rpush", ev.value}, 0, now);
        data.log(data.find(ev.key, now), {left ? "lpush" : "rpush", ev.value});
        data.note_list_ready(ev.key);
        if (watches_) watches_->touch(ev.key);  // the list changed again (redis-compat/watch.h)
      }
      if (c && !c->closed) {
        c->blocked = false;
        if (ev.served) close_connection(*c);
      }
      continue;
    }
    c->blocked = false;
    buffer_pool_.fill(c->out);
    resp::Writer w(c->out, c->client.proto);
    if (ev.served) {
      w.array(2);
      w.bulk(ev.key);
      w.bulk(ev.value);
    } else {
      w.null_array();
    }
    flush(*c);
    if (!c->in.empty()) ready_.push_back(c->id);
  }
  data.serve_pop_waiters(now);  // elements put back above go to the next waiter
}

// Redis's line: every key (lock keys and data keys), those with an expiry, and the mean remaining
// TTL in ms. Every lock key has one (its holders' deadlines; limits.max_ttl when none was given);
// avg_ttl is the data keys' exact mean (the lock engine keeps no sum of deadlines; Redis's own
// figure is a sampled estimate), 0 when no data key has an expiry.
std::string Server::keyspace_info(const EngineStats& e) {
  DataStore& data = engine_->data();
  const std::uint64_t keys = e.active_locks + data.size();
  if (keys == 0) return {};
  return "db0:keys=" + std::to_string(keys) +
         ",expires=" + std::to_string(e.active_locks + data.expires()) +
         ",avg_ttl=" + std::to_string(data.avg_ttl(now_ms())) + "\r\n";
}

// After a journal failure (persistence_rejects): the data commands that create a key or grow or
// change a value (INCR, HSET, ZADD, LPUSH, SETNX, ...) are refused as acquires are — a counter
// whose increment is lost in a crash would hand out the same number twice. Those that only
// remove or shorten (UNLINK, GETDEL, HDEL, ZREM, LPOP, BLPOP, ...) or change an expiry (EXPIRE,
// PERSIST, GETEX) run, as releases and extends do, so a full disk can still be drained.
bool Server::data_write_refused(std::string_view command) {
  std::string name(command);
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const redis::CommandSpec* spec = redis::find_command(name);
  if (spec == nullptr || (spec->flags & redis::kWrite) == 0) return false;
  const std::string_view group = spec->group;
  if (group != "string" && group != "hash" && group != "sorted-set" && group != "list") {
    return false;  // generic: DEL, UNLINK, EXPIRE, PERSIST ...
  }
  static constexpr std::string_view kShrinking[] = {
      "getdel",   "getex",    "delex",    "delifeq",          "hdel",
      "zrem",     "zpopmin",  "zpopmax",  "zremrangebyscore", "zremrangebyrank",
      "zremrangebylex", "bzpopmin", "bzpopmax", "zmpop", "bzmpop",
      "lpop",     "rpop",     "lrem",     "ltrim",            "blpop",
      "brpop",    "lmpop",    "blmpop"};
  return std::find(std::begin(kShrinking), std::end(kShrinking), name) == std::end(kShrinking);
}

// A logged data operation that creates, grows or extends (not one that removes or shortens).
bool Server::data_mutation_grows(const Mutation& m) {
  if (m.data.empty()) return false;
  const std::string_view op = m.data[0];
  return op == "ctr" || op == "hset" || op == "zadd" || op == "lpush" || op == "rpush" ||
         op == "expire";
}

void Server::encode_data_mutation(Mutation& m, Millis now, std::int64_t now_wall,
                                  std::string& out) {
  persist::Record r;
  r.type = persist::RecordType::kData;
  r.key = std::move(m.key);
  r.data = std::move(m.data);
  if (m.deadline == kNoDeadline) {
    r.wall_deadline_ms = INT64_MAX;
  } else if (m.deadline != 0) {
    r.wall_deadline_ms = now_wall + (m.deadline - now);
  }
  persist::encode_record(r, out);
}

void Server::restore_data(std::vector<persist::Record>& records, Millis now,
                          std::int64_t now_wall) {
  DataStore& data = engine_->data();
  for (persist::Record& r : records) {
    const Millis deadline = r.wall_deadline_ms == INT64_MAX
                                ? kNoDeadline
                                : now + (r.wall_deadline_ms - now_wall);
    data.apply(r.key, r.data, deadline, now);
  }
}

void Server::data_snapshot_epoch(std::string& out) const {
  persist::Record epoch;
  epoch.type = persist::RecordType::kData;
  epoch.data = {"epoch", std::to_string(data_epoch_)};
  persist::encode_record(epoch, out);
}

void Server::data_snapshot_records(std::string& body, Millis now, std::int64_t now_wall) const {
  data_snapshot_epoch(body);
  engine_->data().for_each_key(
      [&](std::string_view key, const std::vector<std::string>& op, Millis deadline) {
        Mutation m;
        m.key = std::string(key);
        m.data = op;
        m.deadline = deadline;
        encode_data_mutation(m, now, now_wall, body);
      });
}

}  // namespace semlock
