// Cluster mode on the server side: the Raft sidecar as a child process, the socket to it, and
// what this member knows of the group (SIDECAR protocol: cluster/sidecar_protocol.h).
//
// Happy path: start() spawns `ttl-semlock-raft` with one end of a socketpair as its fd 3, sends
// RESYNC, and reads frames; every message is handed to the server (Server::cluster_on_*), which
// applies committed entries to the engine and releases replies.
//
// Failure modes: the sidecar and the server fail together. EOF on the socket, a frame that does
// not parse, or the child's exit: the server logs it and exits 1 at once (its clients see the
// connection close; nothing unacknowledged was ever acknowledged). A write to the socket that
// fails is the same.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cluster/sidecar_protocol.h"
#include "config/config.h"
#include "engine/engine.h"
#include "server/server.h"

namespace semlock {

struct ClusterStatus {
  std::uint64_t id = 0;
  std::uint64_t leader_id = 0;
  std::uint64_t term = 0;
  ClusterRole role = ClusterRole::kFollower;
  std::uint64_t commit_index = 0;
  std::vector<ClusterMember> members;
};

class ClusterNode {
 public:
  ClusterNode(Server& server, uv_loop_t* loop, const config::ClusterConfig& config);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Spawns the sidecar and sends RESYNC. False (logged) when it cannot be started.
  bool start(Millis now);
  // Stops reading and kills the sidecar (shutdown).
  void stop();

  const ClusterStatus& status() const { return status_; }
  // Leader and serving writes (an entry of its own term applied).
  bool serving() const { return serving_; }
  void set_serving(bool on) { serving_ = on; }
  bool spawned() const { return spawned_; }
  // No leader known for request_timeout.
  bool down(Millis now) const;
  void note_status(const cluster::StatusMsg& s, Millis now);

  // Messages to the sidecar.
  void propose(std::uint64_t tag, std::string_view data);
  void send_resync();
  void transfer(std::uint64_t target);
  // Liveness for the sidecar: a PING every heartbeat interval (called from the loop's tick).
  // A server that stops sending (hung, SIGSTOP) has the sidecar give up leadership.
  void ping(Millis now);
  void send_snapshot_taken(std::uint64_t index, const std::string& path);
  void conf_change(ClusterConfOp op, std::uint64_t id, const std::string& raft,
                   const std::string& client, Server::ClusterConfCb done);
  void read_index(Server::ClusterReadCb done);
  // Answers from the sidecar for the calls above.
  void on_conf_result(const cluster::ConfResultMsg& m);
  void on_read_index_ok(const cluster::ReadIndexOkMsg& m, std::uint64_t applied);
  void on_read_index_failed(const cluster::ReadIndexFailedMsg& m);
  // Entries were applied up to `applied`: read barriers waiting for it are answered.
  void on_applied(std::uint64_t applied);
  // Fails every read barrier and membership change still waiting (leadership lost).
  void fail_waiting(const std::string& why);

  const config::ClusterConfig& config() const { return config_; }

 private:
  static void read_alloc_cb(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void exit_cb(uv_process_t* process, std::int64_t status, int signal);
  static void write_cb(uv_write_t* req, int status);
  void send(std::string frame);
  [[noreturn]] void fail_together(const std::string& why);

  Server& server_;
  uv_loop_t* loop_;
  config::ClusterConfig config_;
  uv_process_t process_{};
  uv_pipe_t pipe_{};
  bool spawned_ = false;
  bool stopping_ = false;
  std::string in_;
  std::vector<char> read_buf_;
  ClusterStatus status_;
  bool serving_ = false;
  Millis leader_seen_ms_ = 0;  // last time a leader was known (or start)
  Millis last_ping_ms_ = 0;
  std::uint64_t last_tag_ = 0;
  absl::flat_hash_map<std::uint64_t, Server::ClusterConfCb> conf_waits_;
  absl::flat_hash_map<std::uint64_t, Server::ClusterReadCb> read_waits_;
  // ReadIndex answered: waiting for applied >= index.
  std::vector<std::pair<std::uint64_t, Server::ClusterReadCb>> read_ready_;
};

}  // namespace semlock
