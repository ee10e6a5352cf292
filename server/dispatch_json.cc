// JSON lines and HTTP POST on the lock port (SPEC §4–5): one JSON request per line (or per HTTP
// body), executed against the engine, answered with TtlSemLock's reply shapes. Blocked waits are
// answered later by answer_wait(), in the connection's protocol.
#include <string>
#include <variant>

#include "protocol/http.h"
#include "protocol/json_codec.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "server/http_read.h"
#include "server/json_reply.h"
#include "server/server.h"

namespace semlock {
namespace {

std::string_view action_label(json::Action a) {
  switch (a) {
    case json::Action::kAcquire:
      return "acquire";
    case json::Action::kRelease:
      return "release";
    case json::Action::kExtend:
      return "extend";
    case json::Action::kExists:
      return "exists";
    case json::Action::kStatus:
      return "info";
    case json::Action::kStats:
      return "stats";
    case json::Action::kList:
      return "list";
    case json::Action::kForceRelease:
      return "forcerelease";
    case json::Action::kPing:
      return "ping";
    case json::Action::kAuth:
      return "auth";
    case json::Action::kAcquireAll:
      return "acquireall";
    case json::Action::kReleaseAll:
      return "releaseall";
    case json::Action::kWatch:
      return "watch";
    case json::Action::kReleaseGrant:
      return "releasegrant";
  }
  return "other";
}

// Every reply starts with its outcome ({"success":true|false, then "error" for real errors: SPEC
// §4's field order), so a prefix tells the result without scanning the reply.
RequestResult classify_json(std::string_view body, bool blocked) {
  if (blocked) return RequestResult::kQueued;
  if (body.starts_with(R"({"success":true)")) return RequestResult::kOk;
  if (!body.starts_with(R"({"success":false,"error")")) return RequestResult::kNotGranted;
  return body.find(R"("code":"OVERLIMIT")") != std::string_view::npos ? RequestResult::kRejected
                                                                      : RequestResult::kError;
}

constexpr std::string_view kJsonType = "application/json";

}  // namespace

void Server::write_json_error(std::string& body, int& status, std::string_view id_raw,
                              std::string_view resp_error) {
  const errors::ErrorReply e = errors::from_resp(resp_error);
  json::write_error(body, id_raw, e.json_text, e.json_code);
  status = e.http_status;
}

std::size_t Server::process_json(Connection& c, std::string_view data, Millis now) {
  std::size_t pos = 0;
  // The unfinished line at the front was already searched this far on earlier reads.
  const std::size_t scanned = c.json_scanned;
  c.json_scanned = 0;
  const std::size_t max_reply = config_.server.max_reply_bytes;
  while (pos < data.size() && c.can_execute()) {
    const json::LineResult lr =
        json::next_line(data.substr(pos), config_.server.max_request_bytes, pos == 0 ? scanned : 0);
    if (lr.status == json::LineStatus::kNeedMore) {
      c.json_scanned = data.size() - pos;
      break;
    }
    if (lr.status == json::LineStatus::kTooLong) {
      json::write_error(c.out, "", "request too large", "BADREQUEST");
      c.close_after_write = true;
      return data.size();
    }
    pos += lr.consumed;
    if (lr.line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank line
    ++total_requests_;
    const std::uint64_t t0 = uv_hrtime();
    auto decoded = json::decode_request(lr.line);
    if (auto* err = std::get_if<json::DecodeError>(&decoded)) {
      json::write_error(c.out, err->id_raw, err->message, "BADREQUEST");
      metrics_.count_request("other", "json", RequestResult::kError, 0);
      continue;
    }
    auto& req = std::get<json::Request>(decoded);
    const std::size_t before = c.out.size();
    int status = 200;
    const std::size_t cmd_begin = cluster_command_begin();  // no entry cut inside (cluster_split.h)
    const bool answered = execute_json(c, req, WireProtocol::kJson, true, c.out, status, now);
    cluster_command_end(cmd_begin);
    if (c.out.size() - before > max_reply) {
      c.out.resize(before);
      json::write_error(c.out, req.id_raw, "reply too large", "BADREQUEST");
    }
    seal_grants(c);
    metrics_.count_request(action_label(req.action), "json",
                           classify_json(std::string_view(c.out).substr(before), !answered),
                           static_cast<double>(uv_hrtime() - t0) / 1e9);
  }
  return pos;
}

std::size_t Server::process_http(Connection& c, std::string_view data, Millis now) {
  http::Limits limits;
  limits.max_body_bytes = config_.server.max_request_bytes;
  std::size_t pos = 0;
  std::string body;
  while (pos < data.size() && c.can_execute()) {
    http::Request hr;
    const http::ParseResult r = read_http_request(c, data.substr(pos), limits, hr);
    if (r.status == http::Status::kNeedMore) break;
    ++total_requests_;
    if (r.status == http::Status::kError) {
      body.clear();
      json::write_error(body, "", std::string(r.error_reason), "BADREQUEST");
      http::write_response(c.out, r.error_status, kJsonType, body, false);
      c.close_after_write = true;
      metrics_.count_request("other", "http", RequestResult::kError, 0);
      return data.size();
    }
    pos += r.consumed;
    const std::uint64_t t0 = uv_hrtime();
    body.clear();
    if (hr.method != "POST") {
      json::write_error(body, "", "method not allowed: send the JSON request with POST",
                        "BADREQUEST");
      http::ResponseExtras extras;
      extras.allow = "POST";
      extras.head_request = hr.method == "HEAD";
      http::write_response(c.out, 405, kJsonType, body, hr.keep_alive, extras);
      if (!hr.keep_alive) c.close_after_write = true;
      metrics_.count_request("other", "http", RequestResult::kError, 0);
      continue;
    }
    auto decoded = json::decode_request(hr.body);
    if (auto* err = std::get_if<json::DecodeError>(&decoded)) {
      json::write_error(body, err->id_raw, err->message, "BADREQUEST");
      http::write_response(c.out, 400, kJsonType, body, hr.keep_alive);
      if (!hr.keep_alive) c.close_after_write = true;
      metrics_.count_request("other", "http", RequestResult::kError, 0);
      continue;
    }
    auto& req = std::get<json::Request>(decoded);
    if (!req.api_key) {
      if (const std::string_view token = http::bearer_token(hr.authorization); !token.empty()) {
        req.api_key = std::string(token);
      }
    }
    int status = 200;
    const std::size_t cmd_begin = cluster_command_begin();  // no entry cut inside (cluster_split.h)
    const bool answered =
        execute_json(c, req, WireProtocol::kHttp, hr.keep_alive, body, status, now);
    cluster_command_end(cmd_begin);
    if (answered && body.size() > config_.server.max_reply_bytes) {
      body.clear();
      write_json_error(body, status, req.id_raw, "ERR reply too large");
    }
    if (answered) {
      http::write_response(c.out, status, kJsonType, body, hr.keep_alive);
      if (!hr.keep_alive) c.close_after_write = true;
    }
    seal_grants(c);
    metrics_.count_request(action_label(req.action), "http", classify_json(body, !answered),
                           static_cast<double>(uv_hrtime() - t0) / 1e9);
  }
  return pos;
}

bool Server::execute_json(Connection& c, json::Request& req, WireProtocol wire,
                          bool http_keep_alive, std::string& body, int& status, Millis now) {
  status = 200;
  const std::string_view id = req.id_raw;
  const bool admin_configured = admin_keys_configured();

  // Authentication (SPEC §8): the request's api_key, else the connection's earlier auth action.
  bool admin = false;
  if (req.action == json::Action::kAuth) {
    // The latest successful auth decides the connection's rights (a user key after an admin key
    // drops admin rights); a failed one changes nothing, as AUTH in Redis 7.
    switch (const redis::AuthResult r = check_api_key(req.api_key.value_or("")); r) {
      case redis::AuthResult::kOkAdmin:
      case redis::AuthResult::kOk:
      case redis::AuthResult::kNotConfigured:
        c.json_authenticated = true;
        c.key_seen = true;
        c.json_admin = r == redis::AuthResult::kOkAdmin;
        json::write_ok(body, id);
        return true;
      case redis::AuthResult::kWrongPass:
        break;
    }
    write_json_error(body, status, id, "WRONGPASS authentication failed");
    return true;
  }
  if (req.api_key) {
    switch (check_api_key(*req.api_key)) {
      case redis::AuthResult::kOkAdmin:
        admin = true;
        c.key_seen = true;  // a keyed client: its buffers get the full caps
        break;
      case redis::AuthResult::kOk:
      case redis::AuthResult::kNotConfigured:
        c.key_seen = true;
        break;
      case redis::AuthResult::kWrongPass:
        write_json_error(body, status, id, "WRONGPASS authentication failed");
        return true;
    }
  } else if (wire == WireProtocol::kJson && c.json_authenticated) {
    admin = c.json_admin;
  } else if (auth_required() && req.action != json::Action::kPing) {
    metrics_.count_auth_failure();
    note_security_event("Authentication missing", c.client.addr);
    write_json_error(body, status, id, "NOAUTH authentication failed");
    return true;
  }
  const bool needs_admin =
      req.action == json::Action::kForceRelease || req.action == json::Action::kList;
  if (needs_admin && admin_configured && !admin) {
    write_json_error(body, status, id, errors::kNoPerm);
    return true;
  }

  const EngineLimits& limits = engine_->limits();
  auto bad = [&](std::string_view text) {
    json::write_error(body, id, text, "BADREQUEST");
    status = 400;
    return true;
  };
  auto engine_error = [&](EngineStatus s) {
    auto err = errors::status_error(s, *engine_);
    if (!errors::limit_reason(s).empty()) on_limit_rejection(s);
    write_json_error(body, status, id, err->resp);
    return true;
  };
  // A watch connection is a stream of lost-lock notices (notify.cc): only watch, ping and auth.
  if (wire == WireProtocol::kJson && notify_watching(c) && req.action != json::Action::kWatch &&
      req.action != json::Action::kPing) {
    return bad(
        "action: this connection streams lost-lock notices (watch) and takes only watch, "
        "ping and auth; send other requests on another connection");
  }
  if (!c.answered_grants.empty() && req.action != json::Action::kReleaseGrant) {
    forget_answered_grants(c, req.key, req.keys);  // orphan_grants.cc
  }
  if (req.action == json::Action::kAcquireAll || req.action == json::Action::kReleaseAll) {
    return execute_json_multi(c, req, wire, http_keep_alive, body, status, now);  // multi_glue.cc
  }
  const bool needs_key = req.action != json::Action::kStats && req.action != json::Action::kList &&
                         req.action != json::Action::kPing && req.action != json::Action::kWatch;
  if (needs_key) {
    if (req.key.empty()) return bad("key: must be a non-empty string");
    if (req.key.size() > limits.max_key_bytes) {
      return bad("key: longer than limits.max_key_bytes (" + std::to_string(limits.max_key_bytes) +
                 ")");
    }
  }
  if (req.owner && (req.owner->empty() || req.owner->size() > kMaxOwnerBytes)) {
    return bad("owner: must be 1..128 bytes");
  }
  // The TTL of acquire and extend: empty when valid, else the BADREQUEST text.
  auto ttl_error = [&]() -> std::string {
    if (!req.ttl_ms || *req.ttl_ms <= 0) return "ttl: must be a positive number";
    if (*req.ttl_ms > limits.max_ttl) {
      return "ttl: longer than limits.max_ttl (" + std::to_string(limits.max_ttl / 1000) + " s)";
    }
    return "";
  };

  if (req.action == json::Action::kReleaseGrant) {  // between members: orphan_grants.cc
    return execute_json_release_grant(c, req, admin, body, status, now);
  }
  if (wire == WireProtocol::kJson) forward_note_request(c);  // forward_dispatch.cc
  if (cluster_refuses_writes() &&
      (req.action == json::Action::kAcquire || req.action == json::Action::kRelease ||
       req.action == json::Action::kExtend || req.action == json::Action::kForceRelease ||
       req.action == json::Action::kExists || req.action == json::Action::kStatus ||
       req.action == json::Action::kList ||
       (req.action == json::Action::kPing && wire == WireProtocol::kJson &&
        forward_heartbeat(c)))) {
    return forward_json(c, req, wire, http_keep_alive, body, status);  // forward_dispatch.cc
  }
  switch (req.action) {
    case json::Action::kAcquire: {
      if (!persist_error_.empty()) {
        write_json_error(body, status, id, persist_error_);
        return true;
      }
      // ttl_ms 0 with session: a connection-lived holder, capped at limits.max_ttl.
      const bool lived = req.session && req.ttl_ms && *req.ttl_ms == 0;
      if (lived) req.ttl_ms = limits.max_ttl;
      if (const std::string e = ttl_error(); !e.empty()) return bad(e);
      if (req.limit && (*req.limit < 1 || *req.limit > limits.max_permits)) {
        return bad("limit: must be 1.." + std::to_string(limits.max_permits));
      }
      if (req.wait_ms < 0 || req.wait_ms > limits.max_ttl) {
        return bad("wait_ms: must be 0.." + std::to_string(limits.max_ttl));
      }
      if (req.session && wire == WireProtocol::kHttp) {
        return bad(
            "session: not supported over HTTP (the connection does not outlive the request)");
      }
      AcquireRequest ar;
      ar.key = req.key;
      std::string owner = req.owner ? *req.owner : generate_owner();
      ar.owner = owner;
      ar.reacquire = req.owner.has_value() && !req.owner_from_pid_host;
      ar.shared = req.shared;
      ar.reentrant = req.reentrant;
      ar.ttl = *req.ttl_ms;
      ar.limit = req.limit.value_or(0);
      ar.wait = req.wait_ms;
      ar.notify = req.notify;
      if (ar.wait > 0) ar.tag = next_wait_tag();
      const AcquireResult r = engine_->acquire(ar, now);
      switch (r.status) {
        case EngineStatus::kGranted:
        case EngineStatus::kRefreshed:
          // SPEC §1: the binding stays with the connection that created the holder; a refresh
          // (an explicit owner that already holds) creates nothing, so it binds nothing.
          // A connection-lived refresh (ttl_ms 0) set the holder to the cap: bound here too.
          if (req.session && (r.status == EngineStatus::kGranted || lived)) {
            add_session(c, req.key, owner, r.fence, lived);
          }
          if (r.status == EngineStatus::kGranted || ar.reentrant) {
            note_granted_now(c, req.key, owner, r.fence, now + r.ttl, ar.wait > 0);
          }
          json::write_acquired(body, id, req.key, owner, r.fence, r.ttl);
          return true;
        case EngineStatus::kNotGranted:
          json::write_fail(body, id);
          return true;
        case EngineStatus::kQueued: {
          PendingWait pw;
          pw.conn_id = c.id;
          pw.key = req.key;
          pw.owner = std::move(owner);
          pw.session = req.session;
          pw.lived = lived;
          pw.protocol = wire;
          pw.id_raw = req.id_raw;
          pw.http_keep_alive = http_keep_alive;
          pw.ttl = ar.ttl;
          block(c, ar.tag, r.waiter, std::move(pw));
          return false;
        }
        default:
          return engine_error(r.status);
      }
    }
    case json::Action::kRelease: {
      if (req.owner) {
        const EngineStatus s = engine_->release(req.key, *req.owner, now);
        if (s == EngineStatus::kOk) {
          forget_undelivered(c, req.key, *req.owner);
          json::write_released(body, id, 1);
        } else if (s == EngineStatus::kNotHeld) {
          json::write_fail(body, id);
        } else {
          return engine_error(s);
        }
        return true;
      }
      if (config_.security.require_owner) return bad("owner: required (security.require_owner)");
      // TtlSemLock's own behaviour: a release without an owner frees the key's holders.
      const std::uint64_t n = engine_->release_all(req.key, now, true);
      if (n > 0) {
        json::write_released(body, id, n);
      } else {
        json::write_fail(body, id);
      }
      return true;
    }
    case json::Action::kExtend: {
      if (!req.owner) return bad("owner: required");
      if (const std::string e = ttl_error(); !e.empty()) return bad(e);
      const EngineStatus s = engine_->extend(req.key, *req.owner, *req.ttl_ms, now);
      if (s == EngineStatus::kOk) {
        json::write_extended(body, id, *req.ttl_ms);
      } else if (s == EngineStatus::kNotHeld) {
        json::write_fail(body, id);
      } else {
        return engine_error(s);
      }
      return true;
    }
    case json::Action::kExists:
      if (engine_->exists(req.key, now)) {
        json::write_exists(body, id);
      } else {
        json::write_fail(body, id);
      }
      return true;
    case json::Action::kStatus: {
      const auto info = engine_->info(req.key, now);
      if (!info || info->holders.empty()) {
        json::write_fail(body, id);
        return true;
      }
      std::vector<json::HolderView> holders;
      holders.reserve(info->holders.size());
      for (const auto& h : info->holders) {
        holders.push_back({h.owner, h.fence, h.remaining, h.holds});
      }
      json::write_status(body, id, req.key, info->limit, holders, info->waiters, info->shared);
      return true;
    }
    case json::Action::kStats:
      json::write_stats(body, id, stats_view());
      return true;
    case json::Action::kList: {
      // Fewer keys than asked is within list's (SCAN's) contract; more than a reply may hold is
      // not worth building (server.max_reply_bytes).
      const std::uint64_t fit =
          std::max<std::uint64_t>(1, config_.server.max_reply_bytes / (limits.max_key_bytes + 8));
      const std::size_t count = static_cast<std::size_t>(std::clamp<std::uint64_t>(
          req.count.value_or(100), 1, std::min<std::uint64_t>(fit, 1'000'000)));
      const ScanResult r = engine_->scan(req.cursor, req.match, count, now);
      json::write_list(body, id, r.keys, r.next_cursor);
      return true;
    }
    case json::Action::kForceRelease:
      json::write_force_released(body, id, engine_->release_all(req.key, now));
      return true;
    case json::Action::kPing:
      json::write_pong(body, id);
      return true;
    case json::Action::kAuth:
    case json::Action::kAcquireAll:
    case json::Action::kReleaseAll:
    case json::Action::kReleaseGrant:
      break;  // handled above
    case json::Action::kWatch:
      return notify_watch(c, req, wire, body, status);  // notify.cc
  }
  return bad("action: unknown");
}

void Server::answer_wait_error(Connection& c, const PendingWait& pw, std::string_view resp_error) {
  c.blocked = false;
  buffer_pool_.fill(c.out);
  switch (pw.protocol) {
    case WireProtocol::kJson:
    case WireProtocol::kHttp:
      write_json_reply(c, pw.protocol, pw.http_keep_alive, [&](std::string& out) {
        int status = 200;
        write_json_error(out, status, pw.id_raw, resp_error);
        return status;
      });
      break;
    default: {
      resp::Writer w(c.out, c.client.proto);
      w.error(resp_error);
      break;
    }
  }
  ready_.push_back(c.id);
}

void Server::answer_wait(Connection& c, const PendingWait& pw, const WaiterEvent& ev) {
  if (!pw.keys.empty()) return answer_wait_all(c, pw, ev);  // multi_glue.cc
  c.blocked = false;
  buffer_pool_.fill(c.out);
  // SPEC §1: the binding stays with the connection that created the holder. A waiter grant
  // usually creates it; when the owner came to hold the key while it waited (another connection
  // with the same owner, or SET), the grant only refreshed that holder and binds nothing.
  // A connection-lived wait (TTL 0) that refreshed set the holder to the cap: bound here too.
  if (ev.granted && (!ev.refreshed || pw.lived) && pw.session) {
    add_session(c, pw.key, pw.owner, ev.fence, pw.lived);
  }
  write_wait_answer(
      c, pw, ev.granted,
      [&](std::string& out) {
        json::write_acquired(out, pw.id_raw, pw.key, pw.owner, ev.fence, ev.ttl);
      },
      [&](resp::Writer& w) {
        w.array(2);
        w.bulk(pw.owner);
        w.integer(static_cast<std::int64_t>(ev.fence));
      });
  // Not delivered until the kernel has taken the whole reply (see Server::deliver_events()). A
  // refresh is not undone: the holder belongs to whoever created it.
  if (ev.granted && (!ev.refreshed || ev.added_hold)) {  // a reentrant hold is the grant's own
    c.undelivered_grants.push(
        {pw.key, pw.owner, ev.fence, ev.deadline, output_end(c), ev.added_mark, false});
    note_answered_grant(c, c.undelivered_grants.back());  // orphan_grants.cc
  }
  ready_.push_back(c.id);
}

}  // namespace semlock
