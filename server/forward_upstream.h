// Cluster forwarding (SPEC §9): a follower sends the writes and reads of its clients to the
// leader and relays the leader's replies, so any client works against any member (and a read on
// any member sees every write acknowledged before it).
//
// Design: each client connection that forwards gets its own upstream connection to the leader's
// lock port, in the client's framing (RESP at the client's RESP version, or JSON lines for JSON
// and HTTP clients). Per-connection state on the leader then is the client's: a WAIT acquire
// blocks only its own upstream, MULTI/EXEC queues there, and a SESSION holder is bound to the
// upstream, which closes when the client closes (the leader then proposes the release).
// Replies come back in request order; the client's later requests that run locally wait until
// the forwarded replies before them are written (pipelining keeps its order).
//
// Failure modes:
// - No leader known: requests are parked for cluster.request_timeout, then answered
//   CLUSTERDOWN (JSON UNAVAILABLE, HTTP 503); a leader appearing takes them.
// - The leader changes or the upstream breaks: every request sent and not answered gets
//   CLUSTERDOWN (it may or may not have been executed: the client retries); a MULTI begun there
//   is over (its later commands and EXEC get CLUSTERDOWN, DISCARD +OK).
// - The client closes with a WAIT acquire (or a WAIT ACQUIREALL) in flight: the upstream is kept
//   until it is answered, and a grant that arrives is given back at once (nobody can hold it):
//   the leader takes back what that grant added, named by its fence, every key of an ACQUIREALL
//   (orphan_grants.cc); then it closes.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/engine.h"
#include "protocol/detect.h"

namespace prometheus {
class Counter;
}

namespace semlock {

class Server;
struct Connection;
class Forwarder;

// One forwarded request (or a preamble command whose reply is dropped).
struct ForwardSlot {
  bool relay = true;             // false: the reply is dropped (AUTH, HELLO)
  WireProtocol wire = WireProtocol::kResp;
  bool http_keep_alive = true;
  std::string id_raw;            // JSON id, for an error made here
  bool wait_acquire = false;     // a grant arriving after the client left is released
  std::string key;               // its key
  std::vector<std::string> keys;  // a WAIT ACQUIREALL's keys (released with RELEASEALL)
  bool notify = false;           // a RESP3 NOTIFY acquire: its grant is noted (notify.cc)
  bool orphan = false;           // gives back an orphan WAIT grant (orphan_grants.cc)
};

// The request(s) that give back a WAIT grant whose client left (`reply`, in the upstream's
// framing): one per key, naming the grant's fence (orphan_grants.cc); empty when not granted.
// `requests`: how many (each is answered).
std::string orphan_release_request(bool json, const ForwardSlot& slot, std::string_view reply,
                                   std::size_t& requests);

struct UpstreamSocket;
struct Upstream;
// The socket's callbacks go to `up` from now on (forward_upstream.cc).
void rebind_socket(UpstreamSocket& sock, Upstream& up);

// Appends `s` to a JSON line for the leader as a string, byte for byte: `"` and `\` escaped,
// control bytes as \u00XX, every other byte as it is (the leader must see the client's exact key).
void append_forward_json_string(std::string& out, std::string_view s);

// A request not yet written to a leader.
struct ParkedRequest {
  std::string bytes;
  std::vector<ForwardSlot> slots;
  int proto = 2;      // the client's RESP version when it was sent
  int multi = 0;      // 1: begins a MULTI, 2: ends it (EXEC, DISCARD)
  Millis since = 0;
};

struct Upstream {
  enum class State : std::uint8_t { kIdle, kConnecting, kConnected };
  Forwarder* fwd = nullptr;
  std::uint64_t conn_id = 0;     // the client connection
  bool json = false;             // framing: JSON lines (else RESP)
  bool client_gone = false;      // the client closed: closes once no WAIT grant is in flight
  bool detached = false;         // left behind by a leader change: its replies are not relayed
                                 // (it stays open while the client is, for its SESSION holders)
  State state = State::kIdle;
  UpstreamSocket* sock = nullptr;
  std::uint64_t leader_id = 0;   // the member it is connected to
  int proto = 2;                 // RESP version the upstream speaks
  bool multi_on_socket = false;  // a MULTI was sent here and no EXEC/DISCARD yet
  // Not yet written to a leader (no leader known, or connecting).
  std::deque<ParkedRequest> parked;
  // Written, waiting for replies, in order.
  std::deque<ForwardSlot> sent;
  std::string in;
  std::string out;
  Millis last_write = 0;  // when a request last went out on it (the loop's uv_now)
};

class Forwarder {
 public:
  Forwarder(Server& server, uv_loop_t* loop);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;
  void stop();

  // Sends `bytes` (one request, possibly with its MULTI around it) for client `c`.
  void forward(Connection& c, bool json, ParkedRequest req);
  // The client connection closed.
  void on_client_closed(Connection& c);
  std::uint64_t forwarded() const { return forwarded_; }
  // Client `conn_id` forwards through an upstream of its own (its SESSION bindings live there).
  bool has_upstream(std::uint64_t conn_id) const { return ups_.contains(conn_id); }
  // Client `conn_id` sent a request answered here: its upstream gets a heartbeat of its own
  // when nothing went out on it for a tenth of `timeout` (server.session_heartbeat_timeout; at
  // most 50 ms), so that any request keeps its connection-lived holders alive, as on the leader.
  void keep_alive(std::uint64_t conn_id, Millis timeout);
  // One reply owed to client `conn_id` was written: its later requests may run.
  void reply_done(std::uint64_t conn_id);

  // Socket callbacks (forward_upstream.cc).
  void on_connected(Upstream& up, int status);
  void on_data(Upstream& up, std::string_view data);
  void on_broken(Upstream& up, const char* why);
  void on_write_done(Upstream& up, int status);

 private:
  static void timer_cb(uv_timer_t* t);
  void check();  // leader changes, parked deadlines, connects
  // Where requests go now (the leader's client address) and the leader's id; nullopt: nowhere.
  std::optional<std::string> target(std::uint64_t& leader) const;
  void connect(Upstream& up, const std::string& address, std::uint64_t leader);
  void write(Upstream& up, std::string_view bytes);
  void pump(Upstream& up);
  void close_socket(Upstream& up);
  void send_parked(Upstream& up);
  // The upstream's leader is no longer the leader: its requests in flight are answered
  // CLUSTERDOWN and the socket is kept aside (not relayed) until the client closes.
  void detach(Upstream& up);
  // Fails every request sent on `up` with CLUSTERDOWN (and ends a MULTI begun there).
  void fail_sent(Upstream& up);
  void fail_parked(Upstream& up);
  void deliver(Upstream& up, const ForwardSlot& slot, std::string_view reply);
  void deliver_error(std::uint64_t conn_id, const ForwardSlot& slot);
  // A WAIT acquire answered after its client was told CLUSTERDOWN or left: a grant is released.
  void release_orphan_grant(Upstream& up, const ForwardSlot& slot, std::string_view reply);
  Connection* client(std::uint64_t conn_id);
  void check_others();

  Server& server_;
  uv_loop_t* loop_;
  uv_timer_t timer_{};
  bool timer_started_ = false;
  bool stopped_ = false;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<Upstream>> ups_;  // by client connection
  std::vector<std::unique_ptr<Upstream>> others_;  // detached, or their client closed
  std::uint64_t forwarded_ = 0;
  prometheus::Counter* forwarded_metric_ = nullptr;
  prometheus::Counter* failed_metric_ = nullptr;
};

}  // namespace semlock
