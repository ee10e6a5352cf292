// RESP on the lock port: parse every complete command in the input, execute it through the
// command table, and the Host side of the command handlers (auth keys, INFO, CLIENT LIST, stats).
#include <fmt/format.h>

#include "config/version.h"
#include "protocol/resp_reader.h"
#include "redis-compat/command_table.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "redis-compat/pubsub.h"
#include "server/logging.h"
#include "server/process_stats.h"
#include "server/server.h"

namespace semlock {
namespace {

// The command label of a RESP command: SEMLOCK.X is counted as x, so both protocols share names.
std::string_view command_label(const redis::CommandSpec* spec) {
  if (!spec) return "other";
  std::string_view name = spec->name;
  if (name.substr(0, 8) == "semlock.") name.remove_prefix(8);
  return name;
}

RequestResult classify(std::string_view reply, redis::Outcome outcome) {
  if (outcome == redis::Outcome::kBlocked) return RequestResult::kQueued;
  if (reply.empty()) return RequestResult::kOk;
  if (reply[0] == '-') {
    return reply.substr(0, 10) == "-OVERLIMIT" ? RequestResult::kRejected : RequestResult::kError;
  }
  if (reply[0] == '_' || reply.substr(0, 3) == "$-1" || reply.substr(0, 3) == "*-1") {
    return RequestResult::kNotGranted;
  }
  return RequestResult::kOk;
}

// Constant-time comparison: the time taken does not depend on where the strings differ.
bool equal_constant_time(std::string_view a, std::string_view b) {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// Prefetches the keys of the next few complete commands in the input while earlier ones run, so
// that a pipelined batch's cache misses overlap instead of each lookup waiting for its own (a
// hint only: what runs, and how, is parse_command's and the engine's business). Off while the
// engine's keys fit in cache (Engine::prefetch_pays): there it would only add instructions.
class LookAhead {
 public:
  // Commands ahead of the one about to run: 8, 16 and 32 measured, 32 best (bench/README.md).
  static constexpr std::size_t kDistance = 32;
  LookAhead(const Engine& engine, std::string_view data)
      : engine_(engine), data_(data), pos_(engine.prefetch_pays() ? kStart : 0) {}
  void before_command() {
    while (peeked_ < run_ + kDistance && pos_ != 0) {
      std::string_view key;
      pos_ = resp::peek_key(data_, pos_ == kStart ? 0 : pos_, key);
      if (!key.empty()) engine_.prefetch(key);
      ++peeked_;
    }
    ++run_;
  }

 private:
  static constexpr std::size_t kStart = static_cast<std::size_t>(-1);
  const Engine& engine_;
  std::string_view data_;
  std::size_t pos_;           // where the next peek starts (kStart: at 0); 0: stopped
  std::size_t peeked_ = 0;    // commands peeked (their key prefetched)
  std::size_t run_ = 0;       // commands run
};

}  // namespace

std::size_t Server::process_resp(Connection& c, std::string_view data, Millis now) {
  resp::ReaderLimits full;
  full.max_bulk_bytes = config_.server.max_request_bytes;
  // Redis's tighter limits before authentication (AUTH and HELLO need no more), decided per
  // command: requests pipelined after a successful AUTH get the full limits.
  resp::ReaderLimits unauthenticated = full;
  unauthenticated.max_args = 10;
  unauthenticated.max_bulk_bytes = 16384;
  resp::Writer w(c.out, c.client.proto);
  std::size_t pos = 0;
  std::uint64_t last_done = 0;  // when the previous request of this read was answered
  LookAhead ahead(*engine_, data);
  while (pos < data.size() && c.can_execute()) {
    ahead.before_command();
    const bool pre_auth = auth_required() && !c.client.authenticated;
    const std::string_view rest = data.substr(pos);
    // The cursor resumes an unfinished frame where the last read left it (it only ever
    // describes the frame at the front of the connection's buffered input).
    const resp::ParseResult r = resp::parse_command(rest, pre_auth ? unauthenticated : full, argv_,
                                                    scratch_, &c.resp_cursor);
    if (r.status == resp::ParseStatus::kNeedMore) break;
    if (r.status == resp::ParseStatus::kCommand && !argv_.empty() && cluster_enabled()) {
      const ForwardStep step = forward_resp_command(c);  // forward_dispatch.cc
      if (step == ForwardStep::kStall) {
        c.forward_stalled = true;  // parsed again once the forwarded replies are written
        break;
      }
      if (step == ForwardStep::kDone) {
        pos += r.consumed;
        ++total_requests_;
        continue;
      }
    }
    pos += r.consumed;
    if (r.status == resp::ParseStatus::kSkip) continue;
    ++total_requests_;
    if (r.status == resp::ParseStatus::kError) {
      std::string text = resp::error_text(r);
      if (pre_auth) {
        // Over the pre-auth limits only? Then Redis says "unauthenticated ...".
        const resp::ParseResult again = resp::parse_command(rest, full, argv_, scratch_);
        if (again.status != resp::ParseStatus::kError || again.error != r.error) {
          if (r.error == resp::ProtocolError::kInvalidMultibulkLength) {
            text = "Protocol error: unauthenticated multibulk length";
          } else if (r.error == resp::ProtocolError::kInvalidBulkLength) {
            text = "Protocol error: unauthenticated bulk length";
          }
        }
      }
      // Answered, then closed after the write, as Redis does.
      w.error("ERR " + text);
      c.close_after_write = true;
      metrics_.count_request("other", "resp", RequestResult::kError, 0);
      break;
    }
    if (!argv_.empty() && persistence_rejects(argv_[0])) {
      w.error(persist_error_);
      metrics_.count_request(command_label(nullptr), "resp", RequestResult::kError, 0);
      continue;
    }
    // One clock read per request: a pipelined request's time runs from the previous one's end
    // (so it includes its own parsing).
    const std::uint64_t t0 = last_done != 0 ? last_done : request_clock_.stamp();
    const std::size_t before = c.out.size();
    redis::CommandContext ctx{*engine_, *this, c.client, w, now, true};
    const redis::CommandSpec* spec = nullptr;
    // server.max_reply_bytes: the writer stops growing the reply past it; what was written is
    // dropped and the client told, as no reply that large is worth holding for it.
    w.limit_reply(config_.server.max_reply_bytes);
    if (!c.answered_grants.empty()) forget_answered_grants(c, argv_);  // orphan_grants.cc
    const std::size_t cmd_begin = cluster_command_begin();  // no entry cut inside (cluster_split.h)
    const redis::Outcome outcome = redis::execute(ctx, argv_, &spec);
    engine_->data().serve_pop_waiters(now);  // pushes serve blocked BLPOPs (whole EXEC: after it)
    cluster_command_end(cmd_begin);
    if (w.over_limit()) {
      c.out.resize(before);
      w.clear_limit();
      w.error("ERR reply too large");
    }
    w.clear_limit();
    seal_grants(c);
    if (spec) c.client.last_command = spec->name;
    if (outcome == redis::Outcome::kClose) c.close_after_write = true;
    const auto result = classify(std::string_view(c.out).substr(before), outcome);
    last_done = request_clock_.stamp();
    metrics_.count_request(command_label(spec), "resp", result,
                           request_clock_.seconds(t0, last_done));
  }
  return pos;
}

redis::AuthResult Server::check_api_key(std::string_view password) {
  const auto& sec = config_.security;
  if (sec.api_keys.empty() && sec.admin_api_keys.empty()) return redis::AuthResult::kNotConfigured;
  // Every key is compared, whatever matched first, so timing does not tell which list matched.
  bool admin = false;
  bool user = false;
  for (const auto& k : sec.admin_api_keys) admin |= equal_constant_time(k, password);
  for (const auto& k : sec.api_keys) user |= equal_constant_time(k, password);
  if (admin) return redis::AuthResult::kOkAdmin;
  if (user) return redis::AuthResult::kOk;
  metrics_.count_auth_failure();
  note_security_event("Authentication failed", peer_of(current_conn_));
  return redis::AuthResult::kWrongPass;
}

json::StatsView Server::stats_view() {
  const EngineStats e = engine_->stats();
  const Millis uptime_ms = static_cast<Millis>(unix_time_us() / 1000) - start_unix_ms_;
  json::StatsView s{};
  s.total_requests = total_requests_;
  s.active_locks = e.active_locks;
  s.holders = e.holders;
  s.waiters = e.waiters;
  s.acquire_requests = e.acquire_requests;
  s.release_requests = e.release_requests;
  s.extend_requests = e.extend_requests;
  s.rejected_requests = e.rejected_max_locks + e.rejected_memory + e.rejected_max_waiters;
  s.expired_locks = e.expired_holders;
  s.connections = connections_.size() - metrics_connections_;
  s.memory_usage_bytes = e.memory_bytes;
  s.memory_limit_bytes = engine_->limits().max_memory_bytes;
  s.locks_limit = engine_->limits().max_locks;
  s.uptime_seconds = static_cast<std::uint64_t>(std::max<Millis>(0, uptime_ms / 1000));
  return s;
}

std::string Server::client_info(const redis::ClientState& cl) {
  const auto it = connections_.find(cl.id);
  const Connection* c = it == connections_.end() ? nullptr : it->second;
  const std::int64_t now_unix_ms = unix_time_us() / 1000;
  const Millis idle = c ? (now_ms() - c->last_activity) / 1000 : 0;
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 "
      "multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} "
      "tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
      cl.id, cl.addr, cl.laddr, c ? c->handle.io_watcher.fd : -1, cl.name,
      (now_unix_ms - cl.created_unix_ms) / 1000, idle,
      c && c->blocked ? "b" : (cl.subscriptions() > 0 ? "P" : "N"), cl.channels.size(),
      cl.patterns.size(),
      cl.in_multi ? static_cast<long>(cl.multi_queue.size()) : -1L, c ? c->in.size() : 0,
      c ? c->in.capacity() : 0, c ? c->pending_output() : 0,
      c ? c->buffer_bytes() + sizeof(Connection) : 0,
      cl.last_command.empty() ? "NULL" : cl.last_command, cl.proto, cl.lib_name, cl.lib_ver);
}

std::string Server::client_list() {
  std::string out;
  for (const auto& [id, c] : connections_) {
    if (!c->metrics_port && !c->closed) out += client_info(c->client);
  }
  return out;
}

std::string Server::info(std::string_view section_arg) {
  std::string section(section_arg);
  for (char& ch : section) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool all =
      section.empty() || section == "all" || section == "default" || section == "everything";
  const EngineStats e = engine_->stats();
  const EngineLimits& l = engine_->limits();
  const ProcessStats p = process_stats();  // O(1): no walk of /proc/self/fd here
  std::string out;
  auto want = [&](std::string_view name) { return all || section == name; };
  auto begin = [&](std::string_view title) {
    if (!out.empty()) out += "\r\n";
    out += "# ";
    out += title;
    out += "\r\n";
  };
  auto line = [&](std::string_view k, const auto& v) { out += fmt::format("{}:{}\r\n", k, v); };
  const std::int64_t uptime = (unix_time_us() / 1000 - start_unix_ms_) / 1000;
  if (want("server")) {
    begin("Server");
    line("redis_version", redis::kRedisApiVersion);
    line("ttl_semlock_version", SEMLOCK_VERSION);
    line("redis_mode", "standalone");
    line("os", "Linux");
    line("arch_bits", 64);
    line("multiplexing_api", "epoll");
    line("process_id", getpid());
    line("tcp_port", config_.server.port);
    line("uptime_in_seconds", uptime);
    line("uptime_in_days", uptime / 86400);
  }
  if (want("clients")) {
    begin("Clients");
    line("connected_clients", connections_.size() - metrics_connections_);
    line("maxclients", config_.server.max_connections);
    line("blocked_clients", waits_.size());
  }
  if (want("memory")) {
    begin("Memory");
    line("used_memory", e.memory_bytes);
    line("used_memory_human",
         fmt::format("{:.2f}M", static_cast<double>(e.memory_bytes) / 1048576.0));
    line("used_memory_rss", p.rss_bytes);
    line("used_memory_engine", e.engine_memory_bytes);
    // Connection buffers: reported, bounded by maxmemory_clients, not part of used_memory.
    line("used_memory_clients", client_memory_ + preauth_memory_);
    line("used_memory_clients_unauthenticated", preauth_memory_);
    line("maxmemory", l.max_memory_bytes);
    line("maxmemory_clients", config_.server.max_client_memory_mb * 1024 * 1024);
    line("maxmemory_policy", "noeviction");
  }
  if (want("stats")) {
    begin("Stats");
    line("total_connections_received", last_conn_id_);
    line("total_commands_processed", total_requests_);
    line("expired_keys", e.expired_holders);
    line("rejected_requests", e.rejected_max_locks + e.rejected_memory + e.rejected_max_waiters);
    line("pubsub_channels", pubsub_ ? pubsub_->numchannels() : 0);  // as Redis 7 counts them
    line("pubsub_patterns", pubsub_ ? pubsub_->numpat() : 0);
    if (pubsub_) out += pubsub_->info();  // paced PUBLISHes (redis-compat/pubsub_publish.cc)
  }
  if (want("semlock")) {
    begin("Semlock");
    line("active_locks", e.active_locks);
    line("holders", e.holders);
    line("waiters", e.waiters);
    line("acquire_requests", e.acquire_requests);
    line("release_requests", e.release_requests);
    line("extend_requests", e.extend_requests);
    line("granted", e.granted);
    line("expired_holders", e.expired_holders);
    line("waiter_timeouts", e.waiter_timeouts);
    line("next_fence", e.next_fence);
    out += notify_info();  // lost-lock notices (notify.cc)
  }
  if (want("limits")) {
    begin("Limits");
    line("max_locks", l.max_locks);
    line("max_memory_mb", l.max_memory_bytes / (1024 * 1024));
    line("warn_threshold", l.warn_threshold);
    line("reject_requests", l.reject_requests ? 1 : 0);
    line("max_waiters", l.max_waiters);
    line("max_permits", l.max_permits);
    line("max_ttl_ms", l.max_ttl);
    line("max_key_bytes", l.max_key_bytes);
    line("rejected_max_locks", e.rejected_max_locks);
    line("rejected_memory", e.rejected_memory);
    line("rejected_max_waiters", e.rejected_max_waiters);
    line("exceeded_max_locks", e.exceeded_max_locks);
    line("exceeded_memory", e.exceeded_memory);
  }
  if (want("persistence")) {
    begin("Persistence");
    out += persistence_info();
  }
  if (want("cluster")) {
    begin("Cluster");
    out += cluster_info();
  }
  if (want("keyspace")) {
    begin("Keyspace");
    out += keyspace_info(e);  // data_glue.cc
  }
  return out;
}

void Server::update_metrics() {
  const ProcessStats p = process_stats();
  Metrics::Snapshot s;
  s.engine = engine_->stats();
  s.connections = connections_.size() - metrics_connections_;
  s.locks_limit = engine_->limits().max_locks;
  s.memory_limit_bytes = engine_->limits().max_memory_bytes;
  s.rss_bytes = p.rss_bytes;
  s.cpu_seconds = p.cpu_seconds;
  s.open_fds = open_fds_;  // sampled by housekeeping: a scrape does not walk /proc/self/fd
  s.client_buffer_bytes = client_memory_ + preauth_memory_;
  s.start_time_seconds = static_cast<double>(start_unix_ms_) / 1000.0;
  metrics_.update(s);
  update_persistence_metrics();
  update_wait_metrics(now_ms());
}

}  // namespace semlock
