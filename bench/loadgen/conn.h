// A blocking TCP client connection for the load generator: RESP commands and replies, JSON lines.
// Blocking sockets with one thread per connection keep every workload a straight-line loop; the
// client cost is the same for both servers, so ratios stay fair.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

// A RESP reply as far as the workloads need it: nested arrays, strings, integers, null, error.
struct Reply {
  enum class Type { kString, kError, kInteger, kNull, kArray };
  Type type = Type::kNull;
  std::string str;
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_null() const { return type == Type::kNull; }
  bool is_error() const { return type == Type::kError; }
};

struct ConnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends one RESP command (an array of bulk strings) to out; pipelined callers append many.
void append_command(std::string& out, const std::vector<std::string_view>& args);

class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // Connects to host:port with TCP_NODELAY; throws ConnError on failure.
  void connect(const std::string& host, int port);
  // Closes with SO_LINGER 0 (a reset), so one-request-per-connection runs leave no TIME_WAIT
  // sockets behind and cannot exhaust the ephemeral ports; harmless for long-lived connections.
  void close_reset();
  bool is_open() const { return fd_ >= 0; }

  // Writes all of data; throws ConnError when the peer is gone.
  void send_all(std::string_view data);
  // Sends one command and reads its reply.
  Reply call(const std::vector<std::string_view>& args);
  // Reads one complete RESP reply (blocking).
  Reply read_reply();
  // Reads one LF-terminated line without its CR/LF (blocking).
  std::string read_line();
  // Waits for replies by polling the socket instead of sleeping in recv (bench --busy-poll).
  void set_busy_poll(bool on) { busy_poll_ = on; }
  // Asks the kernel to stamp each received segment (SO_TIMESTAMPNS, CLOCK_REALTIME), so a
  // latency can end when the reply reached this socket, not when this thread got to read it.
  void enable_rx_timestamps();
  // The kernel's receive time of the last bytes read, in CLOCK_REALTIME nanoseconds; 0 until
  // a stamped segment was read.
  int64_t last_rx_ns() const { return last_rx_ns_; }

 private:
  void fill();  // reads more bytes into buf_, throws ConnError on EOF
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
  bool busy_poll_ = false;
  bool rx_timestamps_ = false;
  int64_t last_rx_ns_ = 0;
};

}  // namespace loadgen
