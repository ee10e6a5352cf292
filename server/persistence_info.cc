// What the persistence layer is doing, for operators: `INFO persistence` and the
// ttl_semlock_persistence_* gauges. The state itself lives in persistence_hooks.cc; this file
// only reads it (journal_, persist_error_, persist_loading_, the last sync and snapshot times).
// ttl_semlock_ready (the /ready answer as a gauge) is kept up to date here too.
//
// "failed" is sticky: once a journal write, fsync or snapshot has failed, acquires are refused
// until a restart (docs/PERSISTENCE.md), so the gauge stays 1 and the alert keeps firing until
// someone acts.
#include <prometheus/gauge.h>

#include <fmt/format.h>

#include "server/server.h"

namespace semlock {

struct PersistenceMetrics {
  explicit PersistenceMetrics(prometheus::Registry& reg, std::string_view fsync) {
    using prometheus::BuildGauge;
    auto gauge = [&reg](const char* name, const char* help) {
      return &BuildGauge().Name(name).Help(help).Register(reg).Add({});
    };
    enabled = &BuildGauge()
                   .Name("ttl_semlock_persistence_enabled")
                   .Help("1 when persistence.enabled; the label is persistence.fsync")
                   .Register(reg)
                   .Add({{"fsync", std::string(fsync)}});
    failed = gauge("ttl_semlock_persistence_failed",
                   "1 once a journal write, fsync or snapshot failed: acquires are refused until a "
                   "restart");
    loading = gauge("ttl_semlock_persistence_loading", "1 while the journal and snapshot load");
    journal_bytes = gauge("ttl_semlock_persistence_journal_bytes", "Size of journal.log");
    dirty = gauge("ttl_semlock_persistence_journal_unsynced",
                  "1 when the journal has records not yet fsynced");
    last_sync = gauge("ttl_semlock_persistence_last_fsync_timestamp_seconds",
                      "When the journal was last fsynced (Unix time)");
    last_snapshot = gauge("ttl_semlock_persistence_last_snapshot_timestamp_seconds",
                          "When the last snapshot started, or the journal was loaded (Unix time)");
    ready = gauge("ttl_semlock_ready",
                  "1 when the lock port takes traffic (/ready answers 200), 0 while starting, "
                  "loading or shutting down");
    snapshot_running = gauge("ttl_semlock_persistence_snapshot_in_progress",
                             "1 while a snapshot child is writing snapshot.dat");
  }
  prometheus::Gauge* enabled;
  prometheus::Gauge* failed;
  prometheus::Gauge* loading;
  prometheus::Gauge* journal_bytes;
  prometheus::Gauge* dirty;
  prometheus::Gauge* last_sync;
  prometheus::Gauge* last_snapshot;
  prometheus::Gauge* snapshot_running;
  prometheus::Gauge* ready;
};

namespace {

// A monotonic time of the loop as Unix seconds.
double unix_seconds(Millis mono, Millis now_mono, std::int64_t now_unix_us) {
  return static_cast<double>(now_unix_us / 1000 - (now_mono - mono)) / 1000.0;
}

}  // namespace

void Server::update_persistence_metrics() {
  if (!persistence_metrics_) {
    persistence_metrics_ = std::make_shared<PersistenceMetrics>(
        metrics_.registry(), fsync_mode_name(config_.persistence.fsync));
  }
  PersistenceMetrics& m = *persistence_metrics_;
  m.ready->Set(ready_for_traffic_ ? 1 : 0);
  const bool on = config_.persistence.enabled;
  m.enabled->Set(on ? 1 : 0);
  m.failed->Set(!persist_error_.empty() ? 1 : 0);
  m.loading->Set(persist_loading_ ? 1 : 0);
  if (!on || !journal_) return;
  const Millis now = now_ms();
  const std::int64_t now_us = unix_time_us();
  m.journal_bytes->Set(static_cast<double>(journal_->size()));
  m.dirty->Set(journal_dirty_ ? 1 : 0);
  m.last_sync->Set(unix_seconds(last_sync_ms_, now, now_us));
  m.last_snapshot->Set(unix_seconds(last_snapshot_ms_, now, now_us));
  m.snapshot_running->Set(snapshot_child_ > 0 ? 1 : 0);
}

std::string Server::persistence_info() const {
  std::string out;
  auto line = [&out](std::string_view k, const auto& v) { out += fmt::format("{}:{}\r\n", k, v); };
  const bool on = config_.persistence.enabled;
  line("persistence_enabled", on ? 1 : 0);
  line("loading", persist_loading_ ? 1 : 0);
  if (!on) return out;
  const Millis now = now_ms();
  line("persistence_dir", config_.persistence.dir);
  line("fsync", fsync_mode_name(config_.persistence.fsync));
  line("journal_status", persist_error_.empty() ? "ok" : "failed");
  line("journal_error", persist_error_);
  line("journal_bytes", journal_ ? journal_->size() : 0);
  line("journal_unsynced", journal_dirty_ ? 1 : 0);
  line("last_fsync_age_ms", now - last_sync_ms_);
  line("snapshot_in_progress", snapshot_child_ > 0 ? 1 : 0);
  line("last_snapshot_age_ms", now - last_snapshot_ms_);
  line("snapshot_every_bytes", config_.persistence.snapshot_every_bytes);
  return out;
}

}  // namespace semlock
