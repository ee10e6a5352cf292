// Data keys on the server's side (engine/data.h): answering blocked BLPOP/BRPOP, and the journal's
// records of data keys (written by journal_write, replayed at start-up, in snapshots).
#include "engine/data.h"
#include "persistence/record.h"
#include "protocol/resp_writer.h"
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
      }
      if (c && !c->closed) {
        c->blocked = false;
        if (ev.served) close_connection(*c);
      }
      continue;
    }
    c->blocked = false;
    if (c->out.capacity() == 0) c->out = take_buffer();
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
