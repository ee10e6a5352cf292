// Durable locks on the server side: start-up load, the journal written at the end of every
// drain, the fsync modes, fence reservation, snapshots, and the journal-failure state.
//
// Happy path: run() loads the directory before the lock port listens (the metrics port answers
// /ready 503 "loading" meanwhile), restores the live holders, reserves fences and turns the
// engine's mutation log on. Each drain() ends in the commit pipeline (commit_pipeline.h), whose
// sink here is the journal (journal_write()): the batch's mutations become records, one write();
// with fsync=always one fdatasync, and the replies held back during the batch go out only after
// it (group commit); with everysec the
// journal is synced at most a second after a write; with no, never by us.
//
// Failure modes: a failed write or fsync marks the journal broken (logged once): acquires get
// `ERR persistence: cannot write the journal (<strerror>)`, releases and reads keep working.
// With fsync=always, the grants of the failed batch — and any grant made while broken (waiters,
// scripts, MULTI) — are released again and the connections whose replies were held are closed
// unanswered: no grant that is not durable is ever acknowledged. Broken lasts until a restart.
//
// SESSION holders are never restored (SPEC §1): a holder created with a SESSION binding (the
// binding noted in the batch of its creation) is not journaled, nor are its refreshes and its
// drop, nor is it put in snapshots (unjournaled_fences_). The skip is keyed on the holder's
// creation: a holder whose hold was journaled always gets its drop journaled, whatever bindings
// are made to it later.
//
// Start-up refuses a state over a key's limit (the loader names the key); --repair-journal keeps
// the lowest fences and journals the drops of the others. A directory with format-1 files or a
// journal.prev (a snapshot that did not finish) is rewritten at start-up: a snapshot of the
// restored state, a fresh journal, journal.prev removed.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <absl/container/flat_hash_set.h>

#include "persistence/files.h"
#include "persistence/loader.h"
#include "persistence/record.h"
#include "server/commit_pipeline.h"
#include "server/logging.h"
#include "server/server.h"
#include "server/snapshot_child.h"

namespace semlock {
namespace {

constexpr std::uint64_t kFenceBlock = 1'000'000;
// One batch (a tick's expiries handing permits to waiters, a read of pipelined acquires) grants
// at most ~100,000 fences; renewing half a block early leaves five such batches of room.
constexpr std::uint64_t kFenceMargin = 500'000;
constexpr Millis kEverysecInterval = 1000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t wall_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

void Server::set_repair_journal(bool on) {
  repair_journal_ = on;
}

bool Server::persistence_start() {
  const config::PersistenceConfig& pc = config_.persistence;
  if (const int rc = persist::ensure_directory(pc.dir); rc != 0) {
    log::error("Cannot create the persistence directory " + pc.dir + ": " + std::strerror(rc));
    return false;
  }
  // Read and replay the files on a thread while the loop keeps serving the metrics port, so
  // /ready can answer 503 "loading" meanwhile.
  persist_loading_ = true;
  persist::LoadResult loaded;
  std::atomic<bool> done{false};
  uv_async_t wake{};
  uv_async_init(loop_, &wake, [](uv_async_t*) {});
  const bool repair = repair_journal_;
  std::thread reader([&] {
    loaded = persist::load_directory(pc.dir, wall_ms(), repair);
    done = true;
    uv_async_send(&wake);
  });
  while (!done.load()) uv_run(loop_, UV_RUN_ONCE);
  reader.join();
  uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  uv_run(loop_, UV_RUN_NOWAIT);  // lets the close complete: `wake` lives on this stack
  persist_loading_ = false;

  for (const std::string& w : loaded.warnings) log::warn(w);
  if (!loaded.ok) {
    log::error(loaded.error);
    return false;
  }
  // Deadlines are stored as wall-clock time: downtime counts against the TTL (SPEC §1).
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms();
  engine_->tick(now);
  // Data keys first: a key that was data and is now a held lock ends as the lock (data_glue.cc).
  restore_data(loaded.data_records, now, now_wall);
  // Connection-lived holders journaled before their binding: their connection is gone with the
  // old process, so they go as if it had closed (a SESSION holder made with its binding is
  // never journaled and does not come back either). Their drops are journaled below.
  std::vector<persist::PersistedHolder> lived_gone;
  std::erase_if(loaded.holders, [&](persist::PersistedHolder& h) {
    if (!h.lived) return false;
    lived_gone.push_back(std::move(h));
    return true;
  });
  for (const persist::PersistedHolder& h : lived_gone) {
    if (h.notify) loaded.lost_notify.push_back(h);  // a restart notice (notify.cc)
  }
  for (const persist::PersistedHolder& h : loaded.holders) {
    // The loader checked the limits; the engine checks again and never goes over one.
    if (!engine_->restore_holder(h.key, h.owner, h.fence, h.limit,
                                 now + (h.wall_deadline_ms - now_wall), h.shared, h.holds)) {
      log::error(
          "Cannot restore a persisted holder over its key's limit or with another limit; "
          "refusing to start. Start with --repair-journal to keep the lowest fences",
          {{"key", h.key}, {"owner", h.owner}, {"fence", h.fence}});
      return false;
    }
    if (h.notify) engine_->mark_notify(h.key, h.owner, h.fence);
  }
  {
    std::vector<LostNotice> lost;  // NOTIFY holders whose TTL ran out while down (notify.cc)
    for (const persist::PersistedHolder& h : loaded.lost_notify) {
      lost.push_back(LostNotice{h.key, h.owner, h.fence, LostReason::kRestart});
    }
    notify_after_restart(std::move(lost), now);
  }
  const std::uint64_t first =
      persist::FenceReservation::first_fence(loaded.reserved_fence, loaded.max_fence, wall_us());
  engine_->ensure_next_fence_above(first - 1);
  engine_->tick(now);  // data keys whose expiry passed while the server was down are gone
  journal_fence_mark_ = engine_->stats().next_fence - 1;

  std::uint64_t keep_bytes = loaded.journal_valid_bytes;
  if (loaded.needs_rewrite()) {
    if (const int rc = persistence_rewrite(now, now_wall); rc == 0) {
      keep_bytes = persist::kFileHeaderBytes;  // the fresh journal: its header only
      log::info(
          "Persistence directory rewritten: a snapshot of the restored state, a fresh "
          "journal" +
              std::string(loaded.journal_prev ? ", journal.prev folded in" : ""),
          {{"dir", pc.dir}, {"format_1_files", std::to_string(loaded.legacy_files.size())}});
    } else if (!loaded.legacy_files.empty()) {
      log::error("Cannot rewrite the format-1 files of " + pc.dir + " in format " +
                 std::to_string(persist::kFormatVersion) + " (" + std::strerror(rc) +
                 "); refusing to start");
      return false;
    } else {
      // journal.prev stays; the next snapshot appends journal.log to it instead of replacing it.
      log::warn("Cannot fold journal.prev into a new snapshot: it is kept",
                {{"dir", pc.dir}, {"error", std::strerror(rc)}});
    }
  }

  journal_ = std::make_unique<persist::JournalFile>();
  const std::string path = persist::join_path(pc.dir, persist::kJournalName);
  if (const int rc = journal_->open(path, keep_bytes); rc != 0) {
    log::error("Cannot open the journal " + path + ": " + std::strerror(rc));
    return false;
  }
  if (keep_bytes == persist::kFileHeaderBytes && data_epoch_ != 0) {
    std::string epoch;
    data_snapshot_epoch(epoch);
    if (const int rc = journal_->append(epoch); rc != 0) {
      log::error("Cannot write the journal " + path + ": " + std::strerror(rc));
      return false;
    }
  }
  fence_reservation_ = std::make_unique<persist::FenceReservation>(kFenceBlock, kFenceMargin);
  loaded.repaired_drops.insert(loaded.repaired_drops.end(), lived_gone.begin(), lived_gone.end());
  if (!loaded.repaired_drops.empty()) {
    // --repair-journal dropped holders over their key's limit, and connection-lived holders
    // went: make that last.
    std::string drops;
    for (const persist::PersistedHolder& h : loaded.repaired_drops) {
      persist::Record r;
      r.type = persist::RecordType::kDrop;
      r.key = h.key;
      r.owner = h.owner;
      r.fence = h.fence;
      persist::encode_record(r, drops);
    }
    if (const int rc = journal_->append(drops); rc != 0) {
      log::error("Cannot write the journal " + path + ": " + std::strerror(rc));
      return false;
    }
  }
  if (const int rc = persistence_reserve_fences(); rc != 0) {
    log::error("Cannot write the journal " + path + ": " + std::strerror(rc));
    return false;
  }
  engine_->set_mutation_log(true);
  persistence_use_pipeline();
  last_snapshot_ms_ = now;
  last_sync_ms_ = now;
  log::info("Persistence loaded", {{"dir", pc.dir},
                                   {"fsync", std::string(config::fsync_mode_name(pc.fsync))},
                                   {"restored_holders", loaded.holders.size()},
                                   {"expired_while_down", loaded.dropped_expired},
                                   {"journal_bytes", journal_->size()}});
  return true;
}

std::string Server::persistence_snapshot_body(Millis now, std::int64_t now_wall,
                                              std::uint64_t reserved) const {
  std::string body;
  data_snapshot_records(body, now, now_wall);
  engine_->for_each_holder([&](const HolderView& h) {
    if (h.deadline <= now || unjournaled_fences_.contains(h.fence)) return;
    persist::Record r{persist::RecordType::kHold, std::string(h.key), std::string(h.owner),
                      h.fence, h.limit, now_wall + (h.deadline - now), {}, h.shared, h.holds};
    r.notify = engine_->notify_marked(h.fence);
    r.lived = engine_->is_lived(h.fence);
    persist::encode_record(r, body);
  });
  persist::Record reservation;
  reservation.type = persist::RecordType::kFenceReservation;
  reservation.fence = reserved;
  persist::encode_record(reservation, body);
  return body;
}

// Each step leaves files that load to the same state: the new snapshot holds everything the old
// files did (replaying journal.prev and journal.log over it changes nothing), so the fresh
// journal and the removal of journal.prev can follow in any crash-interrupted order.
int Server::persistence_rewrite(Millis now, std::int64_t now_wall) {
  const std::string& dir = config_.persistence.dir;
  data_epoch_ = wall_us();  // the fresh journal starts with it (see persistence_load)
  // No fence up to next_fence - 1 may be handed out again: carry the old reservation over.
  const std::string body =
      persistence_snapshot_body(now, now_wall, engine_->stats().next_fence - 1);
  int rc = persist::write_snapshot(dir, body);
  if (rc == 0) rc = persist::write_fresh_journal(dir);
  if (rc != 0) return rc;
  const std::string prev = persist::join_path(dir, persist::kJournalPrevName);
  if (::unlink(prev.c_str()) != 0 && errno != ENOENT) return errno;
  return persist::sync_directory(dir);
}

int Server::persistence_reserve_fences() {
  const std::uint64_t mark = fence_reservation_->next_mark(engine_->stats().next_fence);
  persist::Record r;
  r.type = persist::RecordType::kFenceReservation;
  r.fence = mark;
  std::string bytes;
  persist::encode_record(r, bytes);
  // Written and synced at once, whatever the fsync mode: no fence may ever be handed out twice.
  int rc = journal_->append(bytes);
  if (rc == 0) rc = journal_->sync();
  if (rc == 0) {
    fence_reservation_->set_reserved(mark);
    journal_dirty_ = false;
    last_sync_ms_ = now_ms();
  }
  return rc;
}

void Server::persistence_note_session(std::uint64_t fence) {
  if (journal_) session_notes_.insert(fence);
}

// The journal as the commit pipeline's sink (commit_pipeline.h): fsync=always holds the replies
// of a batch until its fdatasync; everysec and no release them at once.
class JournalSink final : public CommitSink {
 public:
  explicit JournalSink(Server& server) : server_(server) {}
  bool holds_replies() const override {
    return server_.config_.persistence.fsync == config::FsyncMode::kAlways;
  }
  Result write(std::vector<Mutation>& mutations, std::uint64_t) override {
    return server_.journal_write(mutations);
  }

 private:
  Server& server_;
};

void Server::persistence_use_pipeline() {
  journal_sink_ = std::make_unique<JournalSink>(*this);
  pipeline_.set_sink(journal_sink_.get());
}

void Server::persistence_fail(int err) {
  if (!persist_error_.empty()) return;
  persist_error_ =
      std::string("ERR persistence: cannot write the journal (") + std::strerror(err) + ")";
  log::error(
      "Journal write failed: acquires are rejected until a restart; releases and reads "
      "keep working",
      {{"dir", config_.persistence.dir}, {"error", std::strerror(err)}});
}

CommitSink::Result Server::journal_write(std::vector<Mutation>& mutations) {
  const bool always = config_.persistence.fsync == config::FsyncMode::kAlways;
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms();
  std::string bytes;
  std::vector<Mutation> holds;  // grants and refreshes of this batch
  bool data_grew = false;       // a data key created, grown or given a later expiry
  for (Mutation& m : mutations) {
    bool skip = false;
    if (m.kind == Mutation::Kind::kHold && m.fence > journal_fence_mark_) {
      // A new holder (fences only rise): left out when it was created with a SESSION binding.
      journal_fence_mark_ = m.fence;
      skip = session_notes_.contains(m.fence);
      if (skip) unjournaled_fences_.insert(m.fence);
    } else if (m.kind == Mutation::Kind::kDrop) {
      skip = unjournaled_fences_.erase(m.fence) > 0;
    } else {
      // A refresh, or a connection-lived mark: of a holder created with its SESSION binding,
      // never journaled; of one journaled before its binding, journaled again with the mark
      // (a restart must not bring it back to its cap: persistence_load).
      skip = unjournaled_fences_.contains(m.fence);
    }
    if (m.kind == Mutation::Kind::kData) {
      data_grew = data_grew || data_mutation_grows(m);
      encode_data_mutation(m, now, now_wall, bytes);
      continue;
    }
    if (skip) continue;
    persist::Record r;
    const bool lived = m.kind == Mutation::Kind::kLived;
    r.type = m.kind == Mutation::Kind::kDrop ? persist::RecordType::kDrop
                                             : persist::RecordType::kHold;
    r.key = m.key;
    r.owner = m.owner;
    r.fence = m.fence;
    r.limit = m.limit;
    r.wall_deadline_ms = now_wall + (m.deadline - now);
    r.shared = m.shared;
    r.holds = m.holds;
    r.lived = lived;
    r.notify = m.notify && m.kind != Mutation::Kind::kDrop;  // lost-lock notices (notify.cc)
    if (m.notify && m.kind == Mutation::Kind::kDrop) r.reason = static_cast<std::uint8_t>(m.reason);
    persist::encode_record(r, bytes);
    if (m.kind == Mutation::Kind::kHold) holds.push_back(std::move(m));
  }
  session_notes_.clear();  // every binding of this batch has met its holder's creation, if any
  int err = 0;
  if (persist_error_.empty()) {
    if (!bytes.empty()) {
      err = journal_->append(bytes);
      if (err == 0) journal_dirty_ = true;
    }
    if (err == 0 && fence_reservation_->needs_renewal(engine_->stats().next_fence)) {
      err = persistence_reserve_fences();
    }
    const bool sync_due = always || now - last_sync_ms_ >= kEverysecInterval;
    if (err == 0 && journal_dirty_ && sync_due &&
        config_.persistence.fsync != config::FsyncMode::kNo) {
      err = journal_->sync();
      if (err == 0) {
        journal_dirty_ = false;
        last_sync_ms_ = now;
      }
    }
    if (err != 0) persistence_fail(err);
  }
  // Lost: the batch added to a holder (a grant, a reentrant hold, a later deadline). A batch that
  // only took away (releases, a reentrant release's lost hold) is answered as ever.
  const bool lost = !persist_error_.empty() && (Engine::batch_adds(holds) || data_grew);
  if (always && lost) {
    // Not durable, so never acknowledged: take back what the batch added (a holder it created
    // goes; one it refreshed or re-entered keeps its earlier count and deadline); the pipeline
    // closes the connections whose replies were held. (A data change stays in memory,
    // unacknowledged: the client cannot tell it from a lost connection, and later growth is
    // refused.)
    engine_->take_back(holds, now);
    // A waiter grant of this batch whose reply the kernel has not taken is in its connection's
    // undelivered grants; it is taken back now, so its connection's close (which comes next)
    // must not take it back again (a reentrant count would lose a second hold).
    absl::flat_hash_set<std::pair<std::uint64_t, Millis>> added;
    for (const Mutation& m : holds) {
      if (m.prev_holds == 0 || m.holds > m.prev_holds || m.deadline > m.prev_deadline) {
        added.emplace(m.fence, m.deadline);
      }
    }
    for (auto& [id, c] : connections_) {
      c->undelivered_grants.erase_if([&](const GrantView& g) {
        if (g.release) return false;
        return added.contains(std::make_pair(g.fence, g.deadline));
      });
    }
    return CommitSink::Result::kFailed;
  }
  return CommitSink::Result::kDurable;
}

void Server::persistence_housekeeping() {
  if (!journal_) return;
  persistence_reap_snapshot(false);
  if (!persist_error_.empty() || snapshot_child_ > 0) return;
  const Millis now = now_ms();
  const config::PersistenceConfig& pc = config_.persistence;
  const bool big = journal_->size() > pc.snapshot_every_bytes;
  const bool old = now - last_snapshot_ms_ >= pc.snapshot_interval && journal_->size() > 0;
  if (!big && !old) return;
  persistence_snapshot();
}

// Snapshots do not stall the loop: the loop only rotates the journal (journal.log becomes
// journal.prev, a new journal.log takes every later record) and forks; the child walks the
// engine in its copy-on-write view of memory, writes snapshot.dat (tmp + fsync + rename) and
// exits. When it has succeeded, journal.prev is removed. A crash at any point leaves files that
// load to the same state: snapshot.dat (old or new), then journal.prev if still there, then
// journal.log. The loop's pause is the fork itself (page tables), measured and logged.
void Server::persistence_snapshot() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& dir = config_.persistence.dir;
  const std::string prev = persist::join_path(dir, persist::kJournalPrevName);
  const std::string current = persist::join_path(dir, persist::kJournalName);
  // journal.prev must be complete before it becomes the snapshot's base.
  int rc = journal_dirty_ ? journal_->sync() : 0;
  if (rc == 0 && ::access(prev.c_str(), F_OK) == 0) {
    // An earlier snapshot did not finish (and start-up could not fold its journal.prev in):
    // replacing journal.prev would lose that history, so journal.log is appended to it.
    log::warn("journal.prev of an earlier snapshot is still there: journal.log is appended to it",
              {{"dir", dir}, {"bytes", journal_->size()}});
    rc = persist::chain_journal_into_prev(dir);
    if (rc == 0) rc = journal_->reset();
  } else if (rc == 0) {
    journal_->close();
    if (::rename(current.c_str(), prev.c_str()) != 0) rc = errno;
    if (rc == 0) rc = journal_->open(current, 0);
  }
  if (rc == 0) {
    // The new journal's data records follow the snapshot about to be written (loader.h: epochs).
    data_epoch_ = wall_us();
    std::string epoch;
    data_snapshot_epoch(epoch);
    rc = journal_->append(epoch);
  }
  if (rc == 0) rc = persist::sync_directory(dir);
  if (rc != 0) {
    persistence_fail(rc);
    return;
  }
  journal_dirty_ = false;
  const Millis now = now_ms();
  const std::int64_t now_wall = wall_ms();
  const pid_t server_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    persistence_fail(errno);
    return;
  }
  if (pid == 0) {
    detach_snapshot_child(server_pid);
    // The child: no libuv, no logging, no allocation beyond the snapshot body; _exit only.
    const std::string body =
        persistence_snapshot_body(now, now_wall, fence_reservation_->reserved());
    const int err = persist::write_snapshot(dir, body);
    ::_exit(err == 0 ? 0 : (err & 0x7f) | 0x80);
  }
  snapshot_child_ = pid;
  snapshot_started_ = t0;
  last_snapshot_ms_ = now;
  const auto pause_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  log::info("Snapshot started", {{"pid", pid},
                                 {"holders", engine_->stats().holders},
                                 {"loop_pause_us", pause_us}});
}

void Server::persistence_reap_snapshot(bool wait) {
  if (snapshot_child_ <= 0) return;
  int status = 0;
  const pid_t r = ::waitpid(snapshot_child_, &status, wait ? 0 : WNOHANG);
  if (r == 0) return;  // still writing
  snapshot_child_ = 0;
  const bool ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const std::string& dir = config_.persistence.dir;
  if (!ok) {
    // journal.prev stays (it is loaded at start-up); with no way to rotate again, stop granting.
    const int err = r > 0 && WIFEXITED(status) ? (WEXITSTATUS(status) & 0x7f) : EIO;
    log::error("Snapshot failed", {{"dir", dir}, {"error", std::strerror(err)}});
    persistence_fail(err);
    return;
  }
  const std::string prev = persist::join_path(dir, persist::kJournalPrevName);
  int rc = ::unlink(prev.c_str()) == 0 ? 0 : errno;
  if (rc == 0) rc = persist::sync_directory(dir);
  if (rc != 0) {
    persistence_fail(rc);
    return;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - snapshot_started_)
                      .count();
  log::info("Snapshot written", {{"dir", dir}, {"ms", ms}});
}

void Server::persistence_stop() {
  if (!journal_) return;
  persistence_reap_snapshot(true);
  commit_after_drain();
  if (persist_error_.empty() && journal_dirty_ &&
      config_.persistence.fsync != config::FsyncMode::kNo) {
    journal_->sync();
  }
  journal_->close();
}

bool Server::persistence_rejects(std::string_view command) const {
  if (persist_error_.empty()) return false;
  // Commands that grant, and data commands that create or grow (data_glue.cc): they are refused
  // while nothing can be made durable. Scripts and EXEC
  // are let through (release scripts must work); with fsync=always their grants are taken back.
  auto is = [&](std::string_view name) {
    return command.size() == name.size() &&
           std::equal(command.begin(), command.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return is("semlock.acquire") || is("set") || data_write_refused(command);
}

}  // namespace semlock
