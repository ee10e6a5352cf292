#include "tests/integration/clients.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace semlock::it {
namespace {

using Clock = std::chrono::steady_clock;

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int connect_loopback(std::uint16_t port, int rcvbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// ---- RawClient --------------------------------------------------------------------------------

RawClient::RawClient(std::uint16_t port, int rcvbuf) {
  fd_ = connect_loopback(port, rcvbuf);
  if (fd_ < 0) throw sys_error("connect to port " + std::to_string(port));
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

RawClient::~RawClient() {
  close();
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void RawClient::send(std::string_view bytes, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      throw sys_error("send");
    }
    if (Clock::now() >= deadline) throw std::runtime_error("send: peer stopped reading");
    pollfd p{fd_, POLLOUT | POLLIN, 0};
    ::poll(&p, 1, std::min(remaining_ms(deadline), 100));
    if ((p.revents & POLLIN) != 0 && !peer_closed_) read_some(Ms{0});
  }
}

bool RawClient::read_some(Ms timeout) {
  if (peer_closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return true;
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n > 0) {
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  peer_closed_ = true;  // EOF or reset
  return false;
}

bool RawClient::read_until(const std::function<bool(std::string_view)>& done, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done(buffer_)) return true;
    if (peer_closed_ || Clock::now() >= deadline) return false;
    read_some(Ms{std::min(remaining_ms(deadline), 50)});
  }
}

void RawClient::read_for(Ms duration) {
  read_until([](std::string_view) { return false; }, duration);
}

bool RawClient::wait_closed(Ms timeout) {
  read_until([](std::string_view) { return false; }, timeout);
  return peer_closed_;
}

// ---- RESP ---------------------------------------------------------------------------------------

const RespValue* RespValue::field(std::string_view key) const {
  if (type != Type::kMap && type != Type::kArray) return nullptr;
  for (std::size_t i = 0; i + 1 < elements.size(); i += 2) {
    const auto& k = elements[i];
    if ((k.type == Type::kBulk || k.type == Type::kSimple) && k.str == key) {
      return &elements[i + 1];
    }
  }
  return nullptr;
}

std::string RespValue::debug() const {
  switch (type) {
    case Type::kSimple:
      return "+" + str;
    case Type::kError:
      return "-" + str;
    case Type::kInteger:
      return ":" + std::to_string(integer);
    case Type::kBulk:
      return "\"" + str + "\"";
    case Type::kNull:
      return null_array ? "(nil array)" : "(nil)";
    case Type::kBool:
      return integer != 0 ? "#t" : "#f";
    case Type::kDouble:
      return "," + str;
    default: {
      std::string out = type == Type::kMap ? "{" : "[";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        out += (i != 0 ? ", " : "") + elements[i].debug();
      }
      return out + (type == Type::kMap ? "}" : "]");
    }
  }
}

namespace {

std::optional<RespValue> parse_at(std::string_view in, std::size_t& pos) {
  std::size_t eol = in.find("\r\n", pos);
  if (eol == std::string_view::npos || pos >= in.size()) return std::nullopt;
  char kind = in[pos];
  std::string line(in.substr(pos + 1, eol - pos - 1));
  std::size_t next = eol + 2;
  RespValue v;
  auto number = [&]() -> long long { return std::strtoll(line.c_str(), nullptr, 10); };
  switch (kind) {
    case '+':
      v.type = RespValue::Type::kSimple;
      v.str = line;
      break;
    case '-':
      v.type = RespValue::Type::kError;
      v.str = line;
      break;
    case ':':
      v.type = RespValue::Type::kInteger;
      v.integer = number();
      break;
    case '_':
      v.type = RespValue::Type::kNull;
      break;
    case '#':
      v.type = RespValue::Type::kBool;
      v.integer = line == "t" ? 1 : 0;
      break;
    case ',':
      v.type = RespValue::Type::kDouble;
      v.str = line;
      break;
    case '$':
    case '=': {
      long long n = number();
      if (n < 0) {
        v.type = RespValue::Type::kNull;
        break;
      }
      auto len = static_cast<std::size_t>(n);
      if (in.size() < next + len + 2) return std::nullopt;
      v.type = RespValue::Type::kBulk;
      v.str = std::string(in.substr(next, len));
      next += len + 2;
      break;
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      long long n = number();
      if (n < 0) {
        v.type = RespValue::Type::kNull;
        v.null_array = true;
        break;
      }
      v.type = kind == '%'   ? RespValue::Type::kMap
               : kind == '~' ? RespValue::Type::kSet
                             : RespValue::Type::kArray;
      auto count = static_cast<std::size_t>(n) * (kind == '%' ? 2 : 1);
      for (std::size_t i = 0; i < count; ++i) {
        auto e = parse_at(in, next);
        if (!e) return std::nullopt;
        v.elements.push_back(std::move(*e));
      }
      break;
    }
    default:
      return std::nullopt;
  }
  pos = next;
  return v;
}

}  // namespace

std::optional<RespValue> parse_resp(std::string_view in, std::size_t& consumed) {
  std::size_t pos = 0;
  auto v = parse_at(in, pos);
  if (v) consumed = pos;
  return v;
}

std::string resp_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

std::optional<RespValue> RespConn::read(Ms timeout) {
  std::optional<RespValue> value;
  raw_.read_until(
      [&](std::string_view buf) {
        std::size_t used = 0;
        value = parse_resp(buf, used);
        if (value) raw_.buffer().erase(0, used);
        return value.has_value();
      },
      timeout);
  return value;
}

RespValue RespConn::cmd(const std::vector<std::string>& args, Ms timeout) {
  send(args);
  auto v = read(timeout);
  if (!v) {
    throw std::runtime_error("no reply to " + args.at(0) + " (buffer: " + raw_.buffer() + ")");
  }
  return *v;
}

// ---- hiredis ------------------------------------------------------------------------------------

Hiredis::Hiredis(std::uint16_t port) {
  timeval tv{3, 0};
  ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (ctx_ == nullptr || ctx_->err != 0) {
    std::string err = ctx_ != nullptr ? ctx_->errstr : "allocation failed";
    if (ctx_ != nullptr) redisFree(ctx_);
    throw std::runtime_error("hiredis connect: " + err);
  }
  redisSetTimeout(ctx_, tv);
}

Hiredis::~Hiredis() {
  redisFree(ctx_);
}

Reply Hiredis::cmd(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (r == nullptr) throw std::runtime_error(std::string("hiredis: ") + ctx_->errstr);
  return Reply(r);
}

std::string reply_str(const redisReply* r) {
  if (r == nullptr || r->str == nullptr) return {};
  return std::string(r->str, r->len);
}

// ---- JSON lines ---------------------------------------------------------------------------------

std::optional<std::string> JsonClient::read_line(Ms timeout) {
  std::optional<std::string> line;
  raw_.read_until(
      [&](std::string_view buf) {
        auto nl = buf.find('\n');
        if (nl == std::string_view::npos) return false;
        line = std::string(buf.substr(0, nl));
        raw_.buffer().erase(0, nl + 1);
        return true;
      },
      timeout);
  return line;
}

std::string JsonClient::request(std::string_view line, Ms timeout) {
  send_line(line);
  auto reply = read_line(timeout);
  if (!reply) throw std::runtime_error("no JSON reply to " + std::string(line));
  return *reply;
}

std::string json_once(std::uint16_t port, std::string_view line) {
  JsonClient c(port);
  return c.request(line);
}

rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) throw std::runtime_error("invalid JSON: " + std::string(text));
  return d;
}

namespace {
const rapidjson::Value& member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject() || !v.HasMember(name)) {
    throw std::runtime_error(std::string("JSON member missing: ") + name);
  }
  return v[name];
}
}  // namespace

bool json_has(const rapidjson::Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name);
}

bool json_bool(const rapidjson::Value& v, const char* name) {
  const auto& m = member(v, name);
  if (!m.IsBool()) throw std::runtime_error(std::string("not a bool: ") + name);
  return m.GetBool();
}

std::string json_string(const rapidjson::Value& v, const char* name) {
  const auto& m = member(v, name);
  if (!m.IsString()) throw std::runtime_error(std::string("not a string: ") + name);
  return std::string(m.GetString(), m.GetStringLength());
}

std::int64_t json_int(const rapidjson::Value& v, const char* name) {
  const auto& m = member(v, name);
  if (!m.IsInt64()) throw std::runtime_error(std::string("not an integer: ") + name);
  return m.GetInt64();
}

std::uint64_t json_uint(const rapidjson::Value& v, const char* name) {
  const auto& m = member(v, name);
  if (!m.IsUint64()) throw std::runtime_error(std::string("not an unsigned integer: ") + name);
  return m.GetUint64();
}

// ---- HTTP ---------------------------------------------------------------------------------------

std::optional<HttpResponse> read_http_response(RawClient& raw, Ms timeout) {
  std::optional<HttpResponse> result;
  auto complete = [&](std::string_view buf) {
    auto head_end = buf.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return false;
    HttpResponse r;
    std::istringstream head{std::string(buf.substr(0, head_end))};
    std::string line;
    std::getline(head, line);
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) return false;
    r.status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[lowercase(line.substr(0, colon))] = value;
    }
    std::size_t body_start = head_end + 4;
    std::size_t total;
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
      total = body_start + std::stoul(it->second);
      if (buf.size() < total) return false;
    } else {
      if (!raw.peer_closed()) return false;  // body runs to EOF
      total = buf.size();
    }
    r.body = std::string(buf.substr(body_start, total - body_start));
    raw.buffer().erase(0, total);
    result = std::move(r);
    return true;
  };
  raw.read_until(complete, timeout);
  return result;
}

std::string http_request_bytes(std::string_view method, std::string_view target,
                               std::string_view body, const std::vector<std::string>& headers,
                               std::string_view version) {
  std::string out = std::string(method) + " " + std::string(target) + " " + std::string(version) +
                    "\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) out += h + "\r\n";
  if (!body.empty() || method == "POST") {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

HttpResponse http_once(std::uint16_t port, std::string_view method, std::string_view target,
                       std::string_view body, const std::vector<std::string>& headers) {
  RawClient raw(port);
  auto all = headers;
  all.emplace_back("Connection: close");
  raw.send(http_request_bytes(method, target, body, all));
  auto r = read_http_response(raw);
  if (!r) throw std::runtime_error("no HTTP response; got: " + raw.buffer());
  return *r;
}

std::string scrape_metrics(std::uint16_t metrics_port) {
  auto r = http_once(metrics_port, "GET", "/metrics");
  if (r.status != 200) throw std::runtime_error("GET /metrics: " + std::to_string(r.status));
  return r.body;
}

std::optional<double> metric_value(std::string_view exposition, std::string_view name,
                                   const std::vector<std::pair<std::string, std::string>>& labels) {
  std::istringstream in{std::string(exposition)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    std::size_t after = name.size();
    if (after >= line.size() || (line[after] != '{' && line[after] != ' ')) continue;
    std::string label_text;
    std::size_t value_pos = after;
    if (line[after] == '{') {
      auto close = line.find('}', after);
      if (close == std::string::npos) continue;
      label_text = line.substr(after, close - after + 1);
      value_pos = close + 1;
    }
    bool all = true;
    for (const auto& [k, v] : labels) {
      std::string pair = k + "=\"" + v + "\"";
      all = all && (label_text.find("{" + pair) != std::string::npos ||
                    label_text.find("," + pair) != std::string::npos);
    }
    if (all) return std::strtod(line.c_str() + value_pos, nullptr);
  }
  return std::nullopt;
}

}  // namespace semlock::it
