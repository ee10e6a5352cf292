// Clients for black-box tests of ttl-semlock: raw TCP (exact bytes), a RESP2/RESP3 reader,
// hiredis, JSON lines, HTTP/1.1 and a Prometheus text scraper. No knowledge of the server's
// internals: these see only what a user's client sees.
#pragma once

#include <hiredis/hiredis.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace semlock::it {

using Ms = std::chrono::milliseconds;
inline constexpr Ms kDefaultTimeout{3000};

// A connected loopback TCP socket (TCP_NODELAY, close-on-exec), or -1 with errno set.
// `rcvbuf` > 0 shrinks SO_RCVBUF before connecting.
int connect_loopback(std::uint16_t port, int rcvbuf = 0);

// A plain TCP client over loopback. Reads accumulate in buffer(); sends never deadlock against a
// server that answers while we write, because send() drains replies into the buffer meanwhile.
class RawClient {
 public:
  // `rcvbuf` > 0 shrinks SO_RCVBUF before connecting (for slow-reader tests).
  explicit RawClient(std::uint16_t port, int rcvbuf = 0);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Writes all of `bytes`; throws on a socket error or if the peer stops reading for `timeout`.
  void send(std::string_view bytes, Ms timeout = Ms{10000});
  // Reads until `done(buffer())` holds, the peer closes, or `timeout`; returns done's last value.
  bool read_until(const std::function<bool(std::string_view)>& done, Ms timeout = kDefaultTimeout);
  // Reads whatever arrives within `duration` (for "nothing more arrives" checks).
  void read_for(Ms duration);
  // Reads until the peer closes (EOF or reset); true if it did within `timeout`.
  bool wait_closed(Ms timeout = kDefaultTimeout);
  void shutdown_write();
  void close();

  std::string& buffer() { return buffer_; }
  bool peer_closed() const { return peer_closed_; }
  int fd() const { return fd_; }

 private:
  // One poll+recv round; returns false on EOF/error.
  bool read_some(Ms timeout);
  int fd_ = -1;
  std::string buffer_;
  bool peer_closed_ = false;
};

// A parsed RESP2/RESP3 reply (hiredis 0.14 cannot read RESP3, so tests that need it use this).
struct RespValue {
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray, kMap, kSet, kBool, kDouble };
  Type type = Type::kNull;
  std::string str;                  // simple, error, bulk, double (as text)
  long long integer = 0;            // integer, bool
  std::vector<RespValue> elements;  // array, set; map as k1, v1, k2, v2 ...
  bool null_array = false;          // "*-1" rather than "$-1" / "_"

  bool is_error() const { return type == Type::kError; }
  // For a map (RESP3) or a flat key/value array (RESP2): the value under `key`, or nullptr.
  const RespValue* field(std::string_view key) const;
  std::string debug() const;
};

// Parses one reply from the front of `in`; nullopt if incomplete (or malformed). Sets `consumed`.
std::optional<RespValue> parse_resp(std::string_view in, std::size_t& consumed);
// Encodes a multibulk command.
std::string resp_command(const std::vector<std::string>& args);

// A raw RESP connection: any protocol version, exact bytes visible.
class RespConn {
 public:
  explicit RespConn(std::uint16_t port) : raw_(port) {}
  // Sends one command and reads its reply (throws on timeout/close).
  RespValue cmd(const std::vector<std::string>& args, Ms timeout = kDefaultTimeout);
  void send(const std::vector<std::string>& args) { raw_.send(resp_command(args)); }
  // Reads the next reply; nullopt on timeout/close.
  std::optional<RespValue> read(Ms timeout = kDefaultTimeout);
  RawClient& raw() { return raw_; }

 private:
  RawClient raw_;
};

// How many wait on `key`, by SEMLOCK.INFO's waiters field (-1 when the reply has none).
inline long long waiters(RespConn& c, const std::string& key) {
  auto info = c.cmd({"SEMLOCK.INFO", key});
  const auto* w = info.field("waiters");
  return w != nullptr ? w->integer : -1;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// A hiredis (RESP2) connection, as a C/C++ Redis user would have.
class Hiredis {
 public:
  explicit Hiredis(std::uint16_t port);
  ~Hiredis();
  Hiredis(const Hiredis&) = delete;
  Hiredis& operator=(const Hiredis&) = delete;
  // Binary-safe (argv with lengths); throws with hiredis's error text on an I/O error.
  Reply cmd(const std::vector<std::string>& args);
  redisContext* get() { return ctx_; }

 private:
  redisContext* ctx_ = nullptr;
};
std::string reply_str(const redisReply* r);  // str of string/status/error replies

// JSON lines over one connection.
class JsonClient {
 public:
  explicit JsonClient(std::uint16_t port) : raw_(port) {}
  // Sends `line` + "\n" and returns the next reply line (without "\n"); throws on timeout.
  std::string request(std::string_view line, Ms timeout = kDefaultTimeout);
  void send_line(std::string_view line) { raw_.send(std::string(line) + "\n"); }
  std::optional<std::string> read_line(Ms timeout = kDefaultTimeout);
  RawClient& raw() { return raw_; }

 private:
  RawClient raw_;
};
// One request on a fresh connection, as TtlSemLock's PHP client does.
std::string json_once(std::uint16_t port, std::string_view line);
// Parses a JSON text; throws if invalid.
rapidjson::Document parse_json(std::string_view text);
// Typed readers that fail (throw) on a missing member or wrong type, so assertions stay short.
bool json_bool(const rapidjson::Value& v, const char* name);
std::string json_string(const rapidjson::Value& v, const char* name);
std::int64_t json_int(const rapidjson::Value& v, const char* name);
std::uint64_t json_uint(const rapidjson::Value& v, const char* name);
bool json_has(const rapidjson::Value& v, const char* name);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};
// Parses one response from the front of raw.buffer() (reading more as needed, Content-Length or
// until EOF), removes it from the buffer; nullopt on timeout.
std::optional<HttpResponse> read_http_response(RawClient& raw, Ms timeout = kDefaultTimeout);
// Formats a request with Host and Content-Length; `headers` are extra "Name: value" lines.
std::string http_request_bytes(std::string_view method, std::string_view target,
                               std::string_view body, const std::vector<std::string>& headers = {},
                               std::string_view version = "HTTP/1.1");
// One request on a fresh connection (Connection: close); throws on no response.
HttpResponse http_once(std::uint16_t port, std::string_view method, std::string_view target,
                       std::string_view body = "", const std::vector<std::string>& headers = {});

// GET /metrics on the metrics port: the exposition text.
std::string scrape_metrics(std::uint16_t metrics_port);
// The value of the sample `name` whose labels include every pair of `labels`; nullopt if absent.
std::optional<double> metric_value(
    std::string_view exposition, std::string_view name,
    const std::vector<std::pair<std::string, std::string>>& labels = {});

}  // namespace semlock::it
