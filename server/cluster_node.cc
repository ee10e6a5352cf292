// The sidecar process and the socket to it (cluster_node.h).
#include "server/cluster_node.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "server/logging.h"

namespace semlock {
namespace {

constexpr std::size_t kReadChunk = 256 * 1024;

ClusterRole role_of(cluster::Role r) {
  switch (r) {
    case cluster::Role::kLeader:
      return ClusterRole::kLeader;
    case cluster::Role::kCandidate:
    case cluster::Role::kPreCandidate:
      return ClusterRole::kCandidate;
    case cluster::Role::kFollower:
      break;
  }
  return ClusterRole::kFollower;
}

// ttl-semlock-raft: $TTLSEMLOCK_RAFT_BIN, else next to this executable.
std::string sidecar_path() {
  if (const char* env = std::getenv("TTLSEMLOCK_RAFT_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  char buf[PATH_MAX];
  std::size_t size = sizeof buf;
  if (uv_exepath(buf, &size) != 0) return "ttl-semlock-raft";
  std::string exe(buf, size);
  const auto slash = exe.rfind('/');
  return (slash == std::string::npos ? std::string(".") : exe.substr(0, slash)) +
         "/ttl-semlock-raft";
}

}  // namespace

ClusterNode::ClusterNode(Server& server, uv_loop_t* loop, const config::ClusterConfig& config)
    : server_(server), loop_(loop), config_(config) {
  status_.id = config.node_id;
  for (const auto& m : config.members) status_.members.push_back({m.id, m.raft, m.client});
}

ClusterNode::~ClusterNode() = default;

bool ClusterNode::start(Millis now) {
  leader_seen_ms_ = now;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    log::error(std::string("Cannot create the sidecar socket: ") + std::strerror(errno));
    return false;
  }
  const std::string path = sidecar_path();
  const std::string id = std::to_string(config_.node_id);
  const std::string election = std::to_string(config_.election_timeout);
  const std::string heartbeat = std::to_string(config_.heartbeat_interval);
  const std::string members = config::members_json(config_.members);
  const std::string snap = std::to_string(config_.snapshot_entries);
  const std::string request = std::to_string(config_.request_timeout);
  std::vector<std::string> args = {path,
                                   "--id",
                                   id,
                                   "--dir",
                                   config_.dir,
                                   "--raft-listen",
                                   config_.raft_listen,
                                   "--election-ms",
                                   election,
                                   "--heartbeat-ms",
                                   heartbeat,
                                   "--members",
                                   members,
                                   "--snapshot-entries",
                                   snap,
                                   "--request-timeout-ms",
                                   request};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  uv_stdio_container_t stdio[4];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 1;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = fds[1];
  uv_process_options_t opts{};
  opts.file = path.c_str();
  opts.args = argv.data();
  opts.exit_cb = exit_cb;
  opts.stdio = stdio;
  opts.stdio_count = 4;
  process_.data = this;
  const int rc = uv_spawn(loop_, &process_, &opts);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    log::error("Cannot start the Raft sidecar " + path + ": " + uv_strerror(rc) +
               " (set TTLSEMLOCK_RAFT_BIN or install ttl-semlock-raft next to ttl-semlock)");
    return false;
  }
  spawned_ = true;
  uv_pipe_init(loop_, &pipe_, 0);
  pipe_.data = this;
  if (uv_pipe_open(&pipe_, fds[0]) != 0 ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe_), read_alloc_cb, read_cb) != 0) {
    log::error("Cannot read from the Raft sidecar");
    return false;
  }
  log::info("Raft sidecar started", {{"pid", process_.pid},
                                     {"path", path},
                                     {"id", id},
                                     {"raft_listen", config_.raft_listen},
                                     {"dir", config_.dir}});
  send_resync();
  return true;
}

void ClusterNode::stop() {
  if (!spawned_ || stopping_) return;
  stopping_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);  // EOF: the sidecar exits
  // Wait (bounded) for it to sync its WAL and exit: a member started again at once must not
  // find the old sidecar still holding the data directory and the Raft port.
  const pid_t pid = process_.pid;
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {  // up to 10 s
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    gone = r == pid || (r < 0 && errno == ECHILD);
    if (!gone) ::usleep(10000);
  }
  if (!gone) {
    log::warn("The Raft sidecar did not exit within 10 s of the shutdown; killing it",
              {{"pid", pid}});
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&process_), nullptr);
}

void ClusterNode::fail_together(const std::string& why) {
  log::error("Raft sidecar lost: " + why + "; the server stops serving (exit 1)");
  if (spawned_ && !stopping_) uv_process_kill(&process_, SIGKILL);
  std::fflush(nullptr);
  ::_exit(1);
}

void ClusterNode::exit_cb(uv_process_t* process, std::int64_t status, int signal) {
  auto* self = static_cast<ClusterNode*>(process->data);
  if (self->stopping_) return;
  self->fail_together("it exited (status " + std::to_string(status) + ", signal " +
                      std::to_string(signal) + ")");
}

void ClusterNode::read_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<ClusterNode*>(handle->data);
  self->read_buf_.resize(kReadChunk);
  buf->base = self->read_buf_.data();
  buf->len = self->read_buf_.size();
}

void ClusterNode::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ClusterNode*>(stream->data);
  if (nread == 0 || self->stopping_) return;
  if (nread < 0) {
    self->fail_together(nread == UV_EOF ? std::string("its socket closed")
                                        : std::string("socket read failed: ") +
                                              uv_strerror(static_cast<int>(nread)));
  }
  self->in_.append(buf->base, static_cast<std::size_t>(nread));
  std::size_t pos = 0;
  while (true) {
    cluster::FrameResult r = cluster::decode_frame(std::string_view(self->in_).substr(pos));
    if (r.status == cluster::FrameStatus::kNeedMore) break;
    if (r.status == cluster::FrameStatus::kError) self->fail_together("bad frame: " + r.error);
    pos += r.consumed;
    self->server_.cluster_on_message(r.message);
    if (self->stopping_) return;
  }
  self->in_.erase(0, pos);
  self->server_.cluster_after_messages();
}

void ClusterNode::write_cb(uv_write_t* req, int status) {
  auto* frame = static_cast<std::string*>(req->data);
  auto* self = static_cast<ClusterNode*>(req->handle->data);
  delete frame;
  delete req;
  if (status < 0 && !self->stopping_) {
    self->fail_together(std::string("socket write failed: ") + uv_strerror(status));
  }
}

void ClusterNode::send(std::string frame) {
  if (!spawned_ || stopping_) return;
  auto* owned = new std::string(std::move(frame));
  auto* req = new uv_write_t;
  req->data = owned;
  uv_buf_t b = uv_buf_init(owned->data(), static_cast<unsigned>(owned->size()));
  const int rc = uv_write(req, reinterpret_cast<uv_stream_t*>(&pipe_), &b, 1, write_cb);
  if (rc != 0) {
    delete owned;
    delete req;
    fail_together(std::string("socket write failed: ") + uv_strerror(rc));
  }
}

void ClusterNode::propose(std::uint64_t tag, std::string_view data) {
  std::string f;
  f.reserve(data.size() + 32);
  cluster::encode_propose(tag, data, f);
  send(std::move(f));
}

void ClusterNode::send_resync() {
  std::string f;
  cluster::encode_resync(f);
  send(std::move(f));
}

void ClusterNode::ping(Millis now) {
  if (!spawned_ || stopping_ || now - last_ping_ms_ < config_.heartbeat_interval) return;
  last_ping_ms_ = now;
  std::string f;
  cluster::encode_ping(f);
  send(std::move(f));
}

void ClusterNode::transfer(std::uint64_t target) {
  std::string f;
  cluster::encode_transfer(target, f);
  send(std::move(f));
}

void ClusterNode::send_snapshot_taken(std::uint64_t index, const std::string& path) {
  std::string f;
  cluster::encode_snapshot_taken(index, path, f);
  send(std::move(f));
}

bool ClusterNode::down(Millis now) const {
  return status_.leader_id == 0 && now - leader_seen_ms_ >= config_.request_timeout;
}

void ClusterNode::note_status(const cluster::StatusMsg& s, Millis now) {
  status_.id = s.id;
  status_.leader_id = s.leader_id;
  status_.term = s.term;
  status_.role = role_of(s.role);
  status_.commit_index = s.commit_index;
  status_.members.clear();
  for (const auto& m : s.members) status_.members.push_back({m.id, m.raft, m.client});
  if (s.leader_id != 0) leader_seen_ms_ = now;
}

void ClusterNode::conf_change(ClusterConfOp op, std::uint64_t id, const std::string& raft,
                              const std::string& client, Server::ClusterConfCb done) {
  const std::uint64_t tag = ++last_tag_;
  conf_waits_.emplace(tag, std::move(done));
  std::string f;
  cluster::encode_conf_change(tag, static_cast<std::uint8_t>(op), id, raft, client, f);
  send(std::move(f));
}

void ClusterNode::read_index(Server::ClusterReadCb done) {
  const std::uint64_t tag = ++last_tag_;
  read_waits_.emplace(tag, std::move(done));
  std::string f;
  cluster::encode_read_index(tag, f);
  send(std::move(f));
}

void ClusterNode::on_conf_result(const cluster::ConfResultMsg& m) {
  auto it = conf_waits_.find(m.tag);
  if (it == conf_waits_.end()) return;
  auto done = std::move(it->second);
  conf_waits_.erase(it);
  done(m.ok, m.ok ? std::string() : "ERR " + m.error);
}

void ClusterNode::on_read_index_ok(const cluster::ReadIndexOkMsg& m, std::uint64_t applied) {
  auto it = read_waits_.find(m.tag);
  if (it == read_waits_.end()) return;
  auto done = std::move(it->second);
  read_waits_.erase(it);
  if (applied >= m.index) {
    done(true);
  } else {
    read_ready_.emplace_back(m.index, std::move(done));
  }
}

void ClusterNode::on_read_index_failed(const cluster::ReadIndexFailedMsg& m) {
  auto it = read_waits_.find(m.tag);
  if (it == read_waits_.end()) return;
  auto done = std::move(it->second);
  read_waits_.erase(it);
  done(false);
}

void ClusterNode::on_applied(std::uint64_t applied) {
  if (read_ready_.empty()) return;
  std::vector<std::pair<std::uint64_t, Server::ClusterReadCb>> later;
  std::vector<Server::ClusterReadCb> now;
  for (auto& [index, done] : read_ready_) {
    if (index <= applied) {
      now.push_back(std::move(done));
    } else {
      later.emplace_back(index, std::move(done));
    }
  }
  read_ready_.swap(later);
  for (auto& done : now) done(true);
}

void ClusterNode::fail_waiting(const std::string& why) {
  auto reads = std::move(read_ready_);
  read_ready_.clear();
  for (auto& [index, done] : reads) done(false);
  (void)why;
}

}  // namespace semlock
