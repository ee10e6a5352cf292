// The server: one libuv loop owns the sockets, the engine, the timers and the metrics port.
// Nothing else runs on another thread, so the engine needs no lock and every reply is a pure
// function of the order in which requests were read.
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cluster/import_chunks.h"
#include "cluster/sidecar_protocol.h"
#include "config/config.h"
#include "engine/data.h"
#include "engine/engine.h"
#include "persistence/fence_reservation.h"
#include "persistence/files.h"
#include "protocol/json_codec.h"
#include "redis-compat/context.h"
#include "server/buffer_pool.h"
#include "server/commit_pipeline.h"
#include "server/connection.h"
#include "server/fast_clock.h"
#include "server/metrics.h"
#include "server/notify.h"
#include "server/tls.h"

namespace semlock {

class ClusterNode;  // server/cluster_node.h
class Forwarder;    // server/forward_upstream.h
struct ClusterMetrics;
struct PersistenceMetrics;  // server/persistence_info.cc
class WaitMetrics;          // server/wait_metrics.h
namespace cluster {
struct StatusMsg;
struct EntriesMsg;
struct SnapshotInstallMsg;
}  // namespace cluster

// The engine's limits as the configuration sets them.
EngineLimits engine_limits_for(const config::Config& c);

// One member of the Raft group as this member last heard of it.
struct ClusterMember {
  std::uint64_t id = 0;
  std::string raft;    // host:port of its Raft transport
  std::string client;  // host:port of its lock port (where forwarded requests go)
};

enum class ClusterConfOp : std::uint8_t { kAdd = 1, kRemove = 2 };
enum class ClusterRole : std::uint8_t { kFollower, kCandidate, kLeader };

class Server final : public redis::Host, private ReplyGate {
 public:
  explicit Server(config::Config config);
  ~Server() override;

  // Binds the ports and runs the loop until shutdown. Returns the process exit code.
  int run();
  // --repair-journal: cut a damaged journal at its first bad record instead of refusing.
  void set_repair_journal(bool on);

  // --- Cluster mode (server/cluster_*.cc). Stable API for the forwarding and admin code. ---
  // Everything here is also valid with cluster mode off (then: not enabled, no leader).
  bool cluster_enabled() const;
  // True when this member is the leader AND serves writes: it has applied an entry of its own
  // term (and the deadline extension is proposed). Writes executed here are replicated.
  bool cluster_is_leader() const;
  // True when no member has been known as leader for cluster.request_timeout: requests that need
  // the leader answer -CLUSTERDOWN (redis::errors::kClusterDown).
  bool cluster_down() const;
  // The leader's id (0: none known) and its client address ("host:port" from the membership),
  // nullopt when no leader is known or this member is the leader itself.
  std::uint64_t cluster_leader_id() const;
  std::optional<std::string> cluster_leader_client_address() const;
  std::vector<ClusterMember> cluster_members() const;
  // Membership change through Raft (SEMLOCK.CLUSTER ADD/REMOVE). `done` is called exactly once,
  // later from the loop (never from inside this call): ok, or false with an error text
  // ("ERR ..." ready to send). Cluster mode off: fails with "ERR cluster mode is off".
  using ClusterConfCb = std::function<void(bool ok, const std::string& error)>;
  void cluster_conf_change(ClusterConfOp op, std::uint64_t id, const std::string& raft,
                           const std::string& client, ClusterConfCb done);
  // Linearizable-read barrier (ReadIndex): `done(true)` once this member has applied everything
  // committed when the call was made; false when that cannot be known (no leader, lost). Called
  // later from the loop, exactly once.
  using ClusterReadCb = std::function<void(bool ok)>;
  void cluster_read_index(ClusterReadCb done);
  // Asks Raft to hand leadership to member `target` (rolling restarts). Fire and forget: the
  // outcome shows in INFO cluster. Ignored off cluster mode or on a non-leader.
  void cluster_transfer_leadership(std::uint64_t target);

  // redis::Host
  std::string generate_owner() override;
  std::string_view generate_owner_to(std::array<char, 32>& out) override;
  std::uint64_t next_wait_tag() override { return ++last_wait_tag_; }
  void on_blocked(redis::ClientState& client, std::uint64_t tag, WaiterId waiter,
                  std::string_view key, std::string_view owner, bool session,
                  bool lived = false) override;
  void on_session_grant(redis::ClientState& client, std::string_view key, std::string_view owner,
                        std::uint64_t fence, bool lived = false) override;
  void on_blocked_all(redis::ClientState& client, std::uint64_t tag, WaiterId waiter,
                      const std::vector<std::string_view>& keys,
                      std::string_view owner) override;  // multi_glue.cc
  redis::AuthResult check_api_key(std::string_view password) override;
  bool auth_required() const override { return config_.security.auth_required; }
  bool admin_keys_configured() const override { return !config_.security.admin_api_keys.empty(); }
  void on_limit_rejection(EngineStatus status) override;
  std::string info(std::string_view section) override;
  std::string client_list() override;
  std::string client_info(const redis::ClientState& client) override;
  json::StatsView stats_view() override;
  std::int64_t unix_time_us() override;
  redis::Scripting& scripting() override;             // host_compat.cc
  void on_script_heap(std::uint64_t bytes) override;  // host_compat.cc
  std::int64_t exec_budget_ms() const override;        // host_compat.cc
  redis::PubSub* pubsub() override;                   // pubsub.cc
  redis::WatchRegistry* watches() override;           // pubsub.cc
  void on_publish(redis::ClientState& client, std::string_view channel,
                  std::string_view message) override;  // cluster_pubsub.cc
  void on_publish_paced(redis::ClientState& client, std::size_t bytes) override;  // pubsub.cc
  // CONFIG GET/SET/REWRITE and SIGHUP's reload (config_live.cc).
  std::vector<std::pair<std::string, std::string>> config_get(
      std::span<const std::string_view> patterns) override;
  std::string config_set(std::span<const std::string_view> name_values) override;
  std::string config_rewrite() override;
  // How SIGHUP reloads: the same flags, environment and file as at start-up.
  void set_reloader(std::function<config::LoadResult()> reloader) {
    reloader_ = std::move(reloader);
  }

 private:
  // Where a blocked request came from and how to answer it.
  struct PendingWait {
    std::uint64_t conn_id = 0;
    std::string key;
    std::string owner;
    bool session = false;
    WireProtocol protocol = WireProtocol::kResp;
    std::string id_raw;  // JSON id to echo
    bool http_keep_alive = true;
    Millis ttl = 0;
    Millis queued_at = 0;  // when the wait began (the wait metrics)
    std::vector<std::string> keys;  // an ACQUIREALL's keys (then `key` is its first)
    bool lived = false;             // a connection-lived SESSION acquire (TTL 0)
  };

  // Loop plumbing (server.cc; connection bounds in bounds.cc).
  // Which listener a connection came from is read off the listener pointer in on_connection_cb.
  bool listen_on(uv_tcp_t& listener, const std::string& host, std::uint16_t port);
  static void on_connection_cb(uv_stream_t* listener, int status);
  static void alloc_cb(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void write_cb(uv_write_t* req, int status);
  static void close_cb(uv_handle_t* handle);
  static void tick_cb(uv_timer_t* timer);
  static void housekeeping_cb(uv_timer_t* timer);
  static void signal_cb(uv_signal_t* handle, int signum);
  static void shutdown_timeout_cb(uv_timer_t* timer);

  void accept_one(uv_stream_t* listener, bool metrics);
  void on_read(Connection& c, ssize_t nread, const uv_buf_t* buf);
  // Parses and executes buffered requests until one blocks, the input runs out or it must close.
  void process_input(Connection& c, std::string_view data, bool from_shared);
  std::size_t process_requests(Connection& c, std::string_view data, Millis now);
  void flush(Connection& c);
  void update_reading(Connection& c);
  void close_connection(Connection& c);
  void deliver_events(Millis now);
  // Data keys (data_glue.cc): BLPOP/BRPOP answers, and the journal's view of data records.
  void deliver_pop_events(Millis now);
  void restore_data(std::vector<persist::Record>& records, Millis now, std::int64_t now_wall);
  void data_snapshot_records(std::string& body, Millis now, std::int64_t now_wall) const;
  void data_snapshot_epoch(std::string& out) const;
  static void encode_data_mutation(Mutation& m, Millis now, std::int64_t now_wall, std::string& out);
  std::uint64_t data_epoch_ = 0;  // see persistence::ReplayState::begin_file
  // Delivers engine events and resumes unblocked connections until neither is left. Called at the
  // end of every loop callback; re-entrant calls return at once.
  void drain();
  void block(Connection& c, std::uint64_t tag, WaiterId waiter, PendingWait pw);
  void add_session(Connection& c, std::string_view key, std::string_view owner,
                   std::uint64_t fence, bool lived = false);
  // Connection-lived holders (session_lock.cc): true when the connection holds one and has sent
  // nothing for server.session_heartbeat_timeout (then it is closed, as a dead peer).
  bool past_session_heartbeat(Connection& c, Millis now);
  void begin_shutdown();
  // Once shutting down and no lock-port connection is left: closes the metrics port.
  void close_metrics_port_if_drained();
  void housekeeping();
  Millis now_ms() const;
  std::size_t input_cap(const Connection& c) const;
  // Auth is required and this connection has given no valid key yet.
  bool is_pre_auth(const Connection& c) const;
  // Answers "unauthenticated request too large" in the connection's protocol, then closes.
  void refuse_pre_auth_input(Connection& c);
  // Recounts the connection's buffers in the client memory totals; past
  // server.max_client_memory_mb closes the connections holding the most until under it.
  void account(Connection& c);
  void enforce_client_memory();
  // Accept path at the file-descriptor limit: true when the new connection was refused.
  bool refuse_at_fd_limit(Connection& c, bool metrics);
  void log_refused_connection(const char* why);
  // At the metrics port's connection cap, closes the least recently active one.
  void admit_metrics_connection();
  // Housekeeping: closes connections past a deadline (request_timeout with HTTP 408, idle
  // timeouts, the metrics port's idle timeout, output not read for too long).
  void sweep_connections(Millis now);

  // Buffers recycled between connections, so an idle connection holds none.
  std::string take_buffer();
  void give_buffer(std::string& s);
  void fill_buffer(std::string& s) { buffer_pool_.fill(s); }  // see BufferPool::fill

  // Protocol handlers (dispatch_resp.cc, dispatch_json.cc, metrics_http.cc).
  std::size_t process_resp(Connection& c, std::string_view data, Millis now);
  std::size_t process_json(Connection& c, std::string_view data, Millis now);
  std::size_t process_http(Connection& c, std::string_view data, Millis now);
  std::size_t process_metrics_http(Connection& c, std::string_view data);
  // Executes one JSON request; writes the JSON reply line into `body` (false when it blocked).
  // `status` gets the HTTP status for the reply.
  bool execute_json(Connection& c, json::Request& req, WireProtocol wire, bool http_keep_alive,
                    std::string& body, int& status, Millis now);
  void write_json_error(std::string& body, int& status, std::string_view id_raw,
                        std::string_view resp_error);
  void answer_wait(Connection& c, const PendingWait& pw, const WaiterEvent& ev);
  // ACQUIREALL waits (multi_glue.cc): the answer, and the release of a grant not delivered.
  void answer_wait_all(Connection& c, const PendingWait& pw, const WaiterEvent& ev);
  void release_undelivered(const PendingWait& pw, const WaiterEvent& ev, Millis now);
  bool execute_json_multi(Connection& c, json::Request& req, WireProtocol wire,
                          bool http_keep_alive, std::string& body, int& status, Millis now);
  // Ends a wait with an error instead of an engine answer (cluster mode: leadership lost).
  void answer_wait_error(Connection& c, const PendingWait& pw, std::string_view resp_error);
  void update_metrics();

  // --- Security (protect.cc, tls_io.cc, config_live.cc) ---
  // Accept: TLS session for the TLS and metrics-TLS listeners, protected mode's verdict.
  void security_accept(Connection& c, bool tls_port, bool metrics);
  // Protected mode: answers the refusal in the connection's protocol and closes.
  std::size_t refuse_protected(Connection& c, std::string_view data);
  void log_security_mode();
  // Auth failures and refusals, with the client's address, at most one line a second.
  void note_security_event(const char* what, const std::string& client);
  bool tls_start();   // contexts from config_.tls; false: do not start
  bool tls_listen();  // the TLS lock port
  void tls_close_listener();
  void tls_reload();  // SIGHUP: new certificates for new connections
  void tls_on_read(Connection& c, std::string_view cipher);
  void on_plaintext(Connection& c, std::string_view data);
  // flush()'s write step for a TLS connection; false when the connection was closed.
  bool tls_flush(Connection& c);
  static void tls_write_cb(uv_write_t* req, int status);
  std::shared_ptr<tls::Context> lock_tls_;
  std::shared_ptr<tls::Context> metrics_tls_;
  uv_tcp_t tls_listener_{};
  bool tls_listening_ = false;
  bool protected_plain_ = false;
  bool protected_tls_ = false;
  std::string tls_plain_;
  std::uint64_t current_conn_ = 0;  // the connection whose request runs (auth failure logs)
  Connection* running_ = nullptr;   // the connection whose requests process_requests() runs
  std::vector<std::pair<std::string, std::string>> config_aliases() const;
  void apply_live(const config::Config& next);
  void reload_config();
  std::function<config::LoadResult()> reloader_;
  absl::flat_hash_set<std::string> config_dirty_;  // set by CONFIG SET, not yet rewritten
  std::string peer_of(std::uint64_t conn_id) const;

  // The commit pipeline (commit_pipeline.h): end of every drain(), the iteration's mutations go
  // to the sink (journal or Raft). True when that made more work to drain.
  bool commit_after_drain();
  // ReplyGate: the pipeline releases or drops held connections by id.
  void release_replies(std::uint64_t conn_id) override;
  void drop_replies(std::uint64_t conn_id) override;
  void fail_replies(std::uint64_t conn_id) override;  // cluster_read_fail.cc
  // Work run from drain() (callbacks that must not run inside the call that scheduled them).
  void cluster_defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

  config::Config config_;
  std::unique_ptr<Engine> engine_;
  Metrics metrics_;
  FastClock request_clock_;  // per-request durations (fast_clock.h)
  uv_loop_t* loop_ = nullptr;
  uv_tcp_t lock_listener_{};
  uv_tcp_t metrics_listener_{};
  bool metrics_listening_ = false;
  uv_timer_t tick_timer_{};
  uv_timer_t housekeeping_timer_{};
  uv_timer_t shutdown_timer_{};
  std::array<uv_signal_t, 3> signals_{};

  absl::flat_hash_map<std::uint64_t, Connection*> connections_;  // lock-port clients by id
  std::size_t metrics_connections_ = 0;
  std::vector<Connection*> metrics_conns_;  // the metrics port's (at most kMaxMetricsConnections)
  std::uint64_t client_memory_ = 0;  // buffers of counted connections (server.max_client_memory_mb)
  std::uint64_t preauth_memory_ = 0;  // buffers of connections before auth (not counted above)
  bool enforcing_memory_ = false;
  std::uint64_t open_fds_ = 0;  // sampled by housekeeping (process_open_fds)
  Millis last_refused_log_ = -1000000;
  std::uint64_t suppressed_refused_ = 0;
  absl::flat_hash_map<std::uint64_t, PendingWait> waits_;  // by wait tag
  std::vector<std::uint64_t> ready_;                       // unblocked, with input to process
  // Write batching (write_batch.cc): connections whose replies wait for the check phase.
  void start_write_batching();
  void stop_write_batching();
  void flush_soon(Connection& c);
  void flush_pending_writes();
  static void write_check_cb(uv_check_t* handle);
  uv_check_t write_check_{};
  bool write_batching_ = false;
  bool in_read_cb_ = false;
  std::vector<std::uint64_t> pending_writes_;
  std::uint64_t last_conn_id_ = 0;
  std::uint64_t last_wait_tag_ = 0;
  CommitPipeline pipeline_{*this};
  std::vector<std::function<void()>> deferred_;

  std::string read_buffer_;  // shared by every read (one loop, one read at a time)
  BufferPool buffer_pool_;
  std::vector<std::string_view> argv_;  // reused for every RESP command
  std::string scratch_;                 // inline-command unescaping

  // Random owners: 128-bit values from OpenSSL's DRBG (getrandom() if it fails), in blocks.
  std::array<unsigned char, 4096> random_block_{};
  std::size_t random_used_ = sizeof(random_block_);

  bool draining_ = false;
  bool ready_for_traffic_ = false;
  bool shutting_down_ = false;
  int exit_code_ = 0;
  std::int64_t start_unix_ms_ = 0;
  std::uint64_t total_requests_ = 0;
  std::uint64_t rss_bytes_ = 0;
  std::uint64_t external_bytes_ = 0;

  // Rate limit for "Acquire rejected due to limits" (one line a second, with a count).
  Millis last_rejection_log_ = -1000000;
  std::uint64_t suppressed_rejections_ = 0;
  Millis last_auth_log_ = -1000000;
  std::uint64_t suppressed_auth_failures_ = 0;

  // --- Redis scripting (host_compat.cc, owned by the redis-compat work) ---
  // shared_ptr so that the Scripting type may stay incomplete here and in server.cc.
  std::shared_ptr<redis::Scripting> scripting_;
  std::uint64_t script_heap_bytes_ = 0;  // the Lua heap, counted as used memory

  // --- Lost-lock notices (notify.cc) ---
 public:
  void on_notify_acquire(redis::ClientState& client, std::string_view key, std::string_view owner,
                         std::uint64_t fence, std::uint64_t wait_tag) override;
  void on_subscribed(redis::ClientState& client, std::string_view channel) override;

 private:
  NotifyHub& notify_hub();
  void notify_bind(Connection& c, std::string_view key, std::string_view owner,
                   std::uint64_t fence);
  void notify_wait_done(std::uint64_t conn_id, std::string_view key, std::string_view owner,
                        const WaiterEvent& ev);
  void notify_deliver();  // drain(): the engine's notices to this member's listeners
  void notify_tick();     // tick_cb: a new delivery budget; the notices it held back go on
  void notify_drain_backlog();
  // Cluster forwarding: a RESP3 client's forwarded NOTIFY grant (its reply), and a push the
  // leader sent through the client's upstream.
  void notify_forwarded_grant(std::uint64_t conn_id, std::string_view key, std::string_view reply);
  void notify_relay_push(std::uint64_t conn_id, std::string_view frame);
  void notify_notice(const LostNotice& n);
  void notify_forget(Connection& c);
  bool notify_watching(const Connection& c) const;
  bool notify_watch(Connection& c, const json::Request& req, WireProtocol wire, std::string& body,
                    int& status);
  void notify_after_restart(std::vector<LostNotice> lost, Millis now);
  void notify_failover();  // this member's leader changed
  void notify_housekeeping(Millis now);
  std::string notify_info() const;
  std::shared_ptr<NotifyHub> notify_;

  // --- Pub/sub and WATCH (pubsub.cc) ---
  // A PUBLISH copy for connection `id`: appended to its output, flushed (bounded by the output
  // caps like any reply).
  void pubsub_deliver(std::uint64_t id, std::string_view bytes);
  // A closing connection leaves every channel, pattern and watch.
  void pubsub_forget(Connection& c);
  // INFO keyspace: every key, lock and data (data_glue.cc).
  std::string keyspace_info(const EngineStats& e);
  // Paced PUBLISHes (redis-compat/pubsub.h): the tick's budget renewed, finished ones answered.
  void pubsub_tick();
  void pubsub_answer();
  void publish_wait(Connection& c, std::size_t bytes);
  std::shared_ptr<redis::PubSub> pubsub_;
  std::shared_ptr<redis::WatchRegistry> watches_;
  std::uint64_t publishing_conn_ = 0;  // the connection whose command is running a PUBLISH

  // --- Persistence (persistence_hooks.cc, owned by the persistence work) ---
  // Loads the directory into the engine, opens the journal, reserves fences. False: do not
  // start (the reason is logged). Runs the loop for the metrics port while reading.
  bool persistence_start();
  // The journal sink's write (JournalSink in persistence_hooks.cc): writes the batch's
  // mutations, syncs per fsync mode, renews the fence reservation. kFailed (grants taken back)
  // when a batch with grants cannot be made durable under fsync=always.
  CommitSink::Result journal_write(std::vector<Mutation>& mutations);
  // Makes the journal the commit pipeline's sink.
  void persistence_use_pipeline();
  friend class JournalSink;
  // A SESSION binding was made for the holder with `fence`. Only a holder created in this
  // batch with a binding is kept out of the journal; a note for an older holder changes nothing.
  void persistence_note_session(std::uint64_t fence);
  void persistence_housekeeping();            // snapshot when due
  void persistence_snapshot();                // forks a child that writes it
  void persistence_reap_snapshot(bool wait);  // the child's outcome
  void persistence_stop();                    // clean shutdown: last write and sync
  // True when `command` (RESP name, any case) grants and the journal cannot be written.
  bool persistence_rejects(std::string_view command) const;
  static bool data_write_refused(std::string_view command);  // data_glue.cc
  static bool data_mutation_grows(const Mutation& m);         // data_glue.cc
  int persistence_reserve_fences();
  void persistence_fail(int err);
  // Framed hold records of every holder that is journaled and live at `now`, then a fence
  // reservation record `reserved`: a snapshot's body.
  std::string persistence_snapshot_body(Millis now, std::int64_t now_wall,
                                        std::uint64_t reserved) const;
  // Start-up: writes a snapshot of the restored state, a fresh journal, removes journal.prev.
  int persistence_rewrite(Millis now, std::int64_t now_wall);
  std::unique_ptr<persist::JournalFile> journal_;  // null when persistence is off
  std::unique_ptr<persist::FenceReservation> fence_reservation_;
  // SESSION holders are not journaled. session_notes_: bindings made during the current batch;
  // unjournaled_fences_: live holders whose creation was left out of the journal, so their
  // refreshes and drop are too; journal_fence_mark_: the highest fence seen in a hold, so a hold
  // with a higher fence is a holder's creation (fences only rise) and a lower one a refresh.
  absl::flat_hash_set<std::uint64_t> session_notes_;
  absl::flat_hash_set<std::uint64_t> unjournaled_fences_;
  std::uint64_t journal_fence_mark_ = 0;
  std::unique_ptr<CommitSink> journal_sink_;
  std::string persist_error_;  // "ERR persistence: ..." once the journal cannot be written
  bool repair_journal_ = false;
  bool persist_loading_ = false;
  bool journal_dirty_ = false;  // written since the last sync
  Millis last_sync_ms_ = 0;
  Millis last_snapshot_ms_ = 0;
  pid_t snapshot_child_ = 0;  // a background snapshot writer, 0 when none
  // INFO persistence and the ttl_semlock_persistence_* gauges (persistence_info.cc).
  std::string persistence_info() const;
  void update_persistence_metrics();
  std::shared_ptr<PersistenceMetrics> persistence_metrics_;
  // The per-prefix wait metrics and the longest current wait (wait_glue.cc).
  void observe_wait(const PendingWait& pw, bool granted, Millis now);
  void update_wait_metrics(Millis now);
  std::shared_ptr<WaitMetrics> wait_metrics_;
  std::chrono::steady_clock::time_point snapshot_started_{};

  // --- Cluster mode (cluster_glue.cc; the sidecar in cluster_node.cc) ---
  friend class ClusterNode;
  friend class ClusterSink;
  bool cluster_start();  // spawns the sidecar, RESYNC; false: do not start
  void cluster_stop();
  // The engine emptied (fences kept rising) to be rebuilt from committed state.
  void cluster_reset_engine();
  // Leadership lost (or state in doubt): pending batches fail, blocked clients are closed, the
  // engine is rebuilt from committed state (RESYNC).
  void cluster_step_down(const std::string& why);
  void cluster_begin_serving();
  CommitSink::Result cluster_write(std::vector<Mutation>& mutations, std::uint64_t seq);
  // Once per loop iteration (a uv_check handle): proposes the entry built from the iteration's
  // batches.
  static void cluster_check_cb(uv_check_t* handle);
  void cluster_propose_entry();
  void cluster_on_message(cluster::Message& msg);
  void cluster_after_messages();
  void cluster_on_status(const cluster::StatusMsg& s);
  void cluster_on_entries(cluster::EntriesMsg& m);
  void cluster_on_snapshot_install(const cluster::SnapshotInstallMsg& m);
  // Applies one committed entry's data; false when it cannot (the caller resyncs).
  bool cluster_apply_data(const std::string& data, std::uint64_t index, Millis now,
                          std::int64_t now_wall);
  void cluster_apply_records(const std::vector<persist::Record>& records, Millis now,
                             std::int64_t now_wall);
  void cluster_housekeeping();  // snapshots
  void cluster_check();         // once per loop iteration: propose, then maybe snapshot
  // Snapshots (cluster_snapshot.cc).
  void cluster_reap_snapshot();
  void cluster_maybe_snapshot();
  void cluster_snapshot_on_own_entry(std::uint64_t seq, std::uint64_t index);
  void cluster_snapshot_send_if_ready();
  void cluster_snapshot_abandon();
  // A single node's journal imported by a new group's founder (cluster_import.cc).
  bool cluster_import_prepare();  // false: refuse to start
  bool cluster_import_blocks_serving();
  void cluster_import_applied();
  bool cluster_apply_import_chunk(const std::string& data, std::uint64_t index, Millis now,
                                  std::int64_t now_wall);
  // Linearizable reads on the leader (cluster_reads.cc).
  bool cluster_reads_need_barrier() const;
  CommitSink::Result cluster_confirm_reads(std::uint64_t seq);
  void cluster_read_confirmed(std::uint64_t seq, bool ok);
  void cluster_expire_reads(Millis now);
  void cluster_reads_reset();  // a new engine: nothing of it read, no read waits confirmation
  // Cluster mode and this member does not serve writes (not the leader, or not yet).
  bool cluster_refuses_writes() const;
  std::string cluster_info() const;  // INFO cluster lines
  struct Proposed {
    std::uint64_t seq = 0;
    std::uint64_t t0 = 0;  // uv_hrtime at the proposal
    bool last = true;      // the last entry of its batch (a large batch goes in several)
  };
  std::unique_ptr<ClusterNode> cluster_;
  std::unique_ptr<ClusterMetrics> cluster_metrics_;
  std::unique_ptr<CommitSink> cluster_sink_;
  std::deque<Proposed> cluster_proposed_;  // our entries in flight, in order (newest batch's seq)
  std::string cluster_entry_records_;      // the entry being built this loop iteration
  std::uint64_t cluster_entry_seq_ = 0;    // its newest batch (0: nothing to propose)
  // One client command's mutations, [begin, end) indices in the engine's mutation log, and the
  // record offsets they got in cluster_entry_records_: an entry is never cut inside one
  // (cluster_split.h). cluster_command_begin/end bracket the execution of one command.
  std::vector<std::pair<std::size_t, std::size_t>> cluster_command_mutations_;
  std::vector<std::pair<std::size_t, std::size_t>> cluster_entry_commands_;
  std::size_t cluster_command_begin() const;
  void cluster_command_end(std::size_t begin);
  // Adds the engine's all-or-nothing groups (Engine::mutation_groups) to those spans; called
  // before the iteration's mutations are taken.
  void cluster_note_mutation_groups();
  uv_check_t cluster_check_{};
  bool cluster_check_started_ = false;
  bool cluster_stopped_ = false;  // cluster_stop(): nothing commits any more
  std::uint64_t cluster_applied_ = 0;  // last Raft index applied to the engine
  std::uint64_t cluster_applied_term_ = 0;
  // The highest index this process ever applied: a rebuild (cluster_reset_engine) does not
  // lower it, and the leader serves again only once the replay has reached it.
  std::uint64_t cluster_applied_high_ = 0;
  std::uint64_t cluster_applied_since_snapshot_ = 0;
  std::uint64_t cluster_snapshot_index_ = 0;
  Millis cluster_resync_sent_ms_ = 0;
  pid_t cluster_snapshot_child_ = 0;
  std::uint64_t cluster_snapshot_child_index_ = 0;
  std::string cluster_snapshot_path_;
  // A leader's snapshot taken with entries in flight is the state at the index where its newest
  // own entry (this seq) commits; 0 once that index is known.
  std::uint64_t cluster_snapshot_wait_seq_ = 0;
  bool cluster_snapshot_index_known_ = false;
  bool cluster_snapshot_written_ = false;    // the child finished; not yet handed over
  bool cluster_snapshot_abandoned_ = false;  // leadership lost first: the file is deleted
  bool cluster_import_pending_ = false;
  std::vector<std::string> cluster_import_chunks_;  // its entries (cluster/import_chunks.h)
  std::uint64_t cluster_import_id_ = 0;
  std::uint64_t cluster_import_term_ = 0;      // the term its last chunk was proposed in
  std::uint32_t cluster_import_proposed_ = 0;  // ... and that chunk's index
  cluster::ImportAssembler cluster_import_assembler_;  // every member's, in log order
  Millis cluster_divergence_ms_ = -1000000;  // last rebuild for a change outside the log
  // Stepped down while Raft still reports this member leader (a proposal refused during a
  // leadership transfer, ...): it serves again in that term only after an election timeout,
  // so that it does not loop step down / serve / propose / step down (cluster_glue.cc).
  std::uint64_t cluster_serve_hold_term_ = 0;
  Millis cluster_serve_hold_until_ = 0;
  bool cluster_may_serve() const;
  std::uint64_t cluster_reads_seen_ = 0;   // engine reads covered by a proposal or a ReadIndex
  std::deque<std::pair<std::uint64_t, Millis>> cluster_read_batches_;  // seq, give up at

  // --- Cluster forwarding (forward_dispatch.cc, forward_cluster.cc; SEMLOCK.CLUSTER in
  // cluster_admin.cc) ---
  friend class Forwarder;
  enum class ForwardStep : std::uint8_t { kLocal, kDone, kStall };
  // A parsed RESP command (argv_) in cluster mode: sent to the leader or answered here (kDone),
  // left to the command table (kLocal), or not yet (kStall: a forwarded reply comes first).
  ForwardStep forward_resp_command(Connection& c);
  ForwardStep cluster_admin_command(Connection& c);
  // A forwarded WAIT grant whose follower-side client left before the reply reached it
  // (orphan_grants.cc): the leader keeps each such grant it answered on `c`
  // (Connection::answered_grants) and gives back exactly what it added when the follower names
  // it (SEMLOCK.CLUSTER ORPHAN key owner fence, JSON release_grant).
  void note_answered_grant(Connection& c, const GrantView& grant);
  void on_granted_now(redis::ClientState& client, std::string_view key, std::string_view owner,
                      std::uint64_t fence, Millis deadline, bool waited) override;
  // A grant made at once on `c` (server.cc): undelivered until the kernel has taken its reply
  // (sealed after its command, see GrantList::seal), and with `waited` in cluster mode kept for an
  // orphan give-back.
  void note_granted_now(Connection& c, std::string_view key, std::string_view owner,
                        std::uint64_t fence, Millis deadline, bool waited);
  void on_released(redis::ClientState& client, std::string_view key,
                   std::string_view owner) override;
  // A request on `c` released a hold of `key` by `owner`: its latest undelivered grant of them is
  // no longer given back (GrantList::note_release).
  void forget_undelivered(Connection& c, std::string_view key, std::string_view owner) {
    if (!c.undelivered_grants.empty()) c.undelivered_grants.note_release(key, owner);
  }
  // The connection of a client whose request runs (running_ first: no lookup), or null.
  Connection* connection_of(const redis::ClientState& client);
  // A request naming a key on `c` forgets the grants recorded there for that key: the follower
  // names only the latest reply for a key (orphan_grants.cc).
  void forget_answered_grants(Connection& c, const std::vector<std::string_view>& argv);
  void forget_answered_grants(Connection& c, std::string_view key,
                              const std::vector<std::string>& keys);
  bool release_orphan_grant(Connection& c, std::string_view key, std::string_view owner,
                            std::uint64_t fence, Millis now);
  ForwardStep cluster_orphan_command(Connection& c);
  bool execute_json_release_grant(Connection& c, const json::Request& req, bool admin,
                                  std::string& body, int& status, Millis now);
  // PUBLISH across members (cluster_pubsub.cc): SEMLOCK.PUBLISH from a follower, the log's
  // publish records, and which applied entries may still deliver (replays do not).
  ForwardStep cluster_publish_command(Connection& c);
  void cluster_log_publish(std::string_view channel, std::string_view message,
                           std::uint64_t origin);
  void cluster_deliver_publish(const persist::Record& r, std::int64_t now_wall);
  std::uint64_t cluster_pub_index_ = 0;  // newest entry index whose messages were delivered
  std::unique_ptr<Connection> cluster_pub_conn_;  // a follower's own upstream for SEMLOCK.PUBLISH
  std::uint64_t cluster_pub_leader_ = 0;          // the leader it was last sent to
  bool cluster_pub_live_ = false;        // the entry being applied is newer than that
  bool cluster_replay_marked_ = false;   // cluster_pub_index_ raised to the WAL's commit index
  // A JSON/HTTP write on a member that does not serve writes: false when sent to the leader
  // (answered later), true when answered into `body` here.
  bool forward_json(Connection& c, const json::Request& req, WireProtocol wire,
                    bool http_keep_alive, std::string& body, int& status);
  Forwarder& forwarder();
  // A heartbeat (SEMLOCK.HEARTBEAT, JSON ping) goes to the leader too when `c` forwards there.
  bool forward_heartbeat(const Connection& c) const;
  void forward_note_request(Connection& c);  // a request answered here (Forwarder::keep_alive)
  void forward_client_closed(Connection& c);
  void forward_stop();
  std::shared_ptr<Forwarder> forward_;  // shared_ptr: the type stays incomplete in server.cc
};

}  // namespace semlock
