// Held read replies the group could not confirm, answered CLUSTERDOWN (cluster_read_fail.h).
//
// A leader holds the replies of an iteration that read its engine until ReadIndex confirms it
// still led after the reads (cluster_reads.cc). When that fails (no quorum within
// cluster.request_timeout, leadership lost), those replies may show a stale state and never
// leave; the requests changed nothing, so each is answered `-CLUSTERDOWN The cluster is down`
// (JSON code UNAVAILABLE, HTTP 503) and the client retries, as when a follower has no leader.
// The held bytes are re-framed reply by reply; anything that does not frame as exactly one
// reply per request read since the last release (a push message, an event) closes the
// connection unanswered instead, as before.
#include "server/cluster_read_fail.h"

#include <charconv>

#include "protocol/http.h"
#include "protocol/json_codec.h"
#include "protocol/resp_reply.h"
#include "redis-compat/errors.h"
#include "server/server.h"

namespace semlock {
namespace {

constexpr std::string_view kJsonType = "application/json";

// The raw text of the top-level "id" member of one JSON object (empty: none). Our replies are
// objects whose members are strings, numbers, literals, objects and arrays.
std::string_view json_id(std::string_view obj) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool key_is_id = false;  // the last top-level string was the key "id"
  std::size_t string_start = 0;
  for (std::size_t i = 0; i < obj.size(); ++i) {
    const char ch = obj[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
        if (depth == 1) key_is_id = obj.substr(string_start, i + 1 - string_start) == "\"id\"";
      }
      continue;
    }
    if (ch == '"') {
      in_string = true;
      string_start = i;
    } else if (ch == '{' || ch == '[') {
      ++depth;
    } else if (ch == '}' || ch == ']') {
      --depth;
    } else if (ch == ':' && depth == 1 && key_is_id) {
      // The value runs to the next top-level ',' or the closing '}'.
      int d = 0;
      bool s = false;
      bool esc = false;
      for (std::size_t j = i + 1; j < obj.size(); ++j) {
        const char c = obj[j];
        if (s) {
          if (esc) {
            esc = false;
          } else if (c == '\\') {
            esc = true;
          } else if (c == '"') {
            s = false;
          }
          continue;
        }
        if (c == '"') {
          s = true;
        } else if (c == '{' || c == '[') {
          ++d;
        } else if ((c == '}' || c == ']') && d > 0) {
          --d;
        } else if (d == 0 && (c == ',' || c == '}')) {
          return obj.substr(i + 1, j - i - 1);
        }
      }
      return {};
    } else if (ch == ',') {
      key_is_id = false;
    }
  }
  return {};
}

std::string json_down(std::string_view id) {
  const errors::ErrorReply e = errors::from_resp(errors::kClusterDown);
  std::string body;
  json::write_error(body, id, e.json_text, e.json_code);
  return body;
}

// One HTTP response at the front of `in`: its length (0: not one), body and Connection header.
std::size_t http_response(std::string_view in, std::string_view& body, bool& keep_alive) {
  if (!in.starts_with("HTTP/1.1 ")) return 0;
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  const std::string_view head = in.substr(0, end + 2);
  constexpr std::string_view kLength = "\r\nContent-Length: ";
  const std::size_t at = head.find(kLength);
  if (at == std::string_view::npos) return 0;
  std::size_t n = 0;
  const char* from = head.data() + at + kLength.size();
  const auto res = std::from_chars(from, head.data() + head.size(), n);
  if (res.ec != std::errc() || end + 4 + n > in.size()) return 0;
  keep_alive = head.find("\r\nConnection: close\r\n") == std::string_view::npos;
  body = in.substr(end + 4, n);
  return end + 4 + n;
}

}  // namespace

bool cluster_down_replies(WireProtocol wire, std::string_view held, std::uint64_t requests,
                          std::string& out) {
  std::string res;
  std::uint64_t replies = 0;
  while (!held.empty()) {
    std::size_t n = 0;
    switch (wire) {
      case WireProtocol::kJson: {
        const std::size_t nl = held.find('\n');
        if (nl == std::string_view::npos) return false;
        n = nl + 1;
        res += json_down(json_id(held.substr(0, nl)));
        break;
      }
      case WireProtocol::kHttp: {
        std::string_view body;
        bool keep_alive = true;
        n = http_response(held, body, keep_alive);
        if (n == 0) return false;
        std::string down = json_down(json_id(body));
        while (!down.empty() && down.back() == '\n') down.pop_back();
        http::write_response(res, errors::from_resp(errors::kClusterDown).http_status, kJsonType,
                             down, keep_alive);
        break;
      }
      default: {
        n = resp::reply_length(held);
        if (n == 0 || n == resp::kMalformed) return false;
        res += '-';
        res.append(errors::kClusterDown);
        res += "\r\n";
        break;
      }
    }
    held.remove_prefix(n);
    ++replies;
  }
  if (replies != requests || replies == 0) return false;
  out = std::move(res);
  return true;
}

void Server::fail_replies(std::uint64_t conn_id) {
  auto it = connections_.find(conn_id);
  if (it == connections_.end() || it->second->closed) return;
  Connection& c = *it->second;
  std::string down;
  if (c.held_from > c.out.size() ||
      !cluster_down_replies(c.protocol, std::string_view(c.out).substr(c.held_from),
                            c.held_requests, down)) {
    close_connection(c);
    return;
  }
  c.out.resize(c.held_from);
  c.out += down;
  flush(c);
}

}  // namespace semlock
