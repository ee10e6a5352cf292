#include "protocol/json_codec.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <limits>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

// Request decoding for the JSON-lines protocol. The parse runs in an arena on the stack (no
// heap allocation for ordinary lines) and iteratively, so hostile nesting cannot overflow the
// C++ stack. Note the RapidJSON trap (STYLE.md): never compare values with ==.

namespace semlock::json {
namespace {

using Arena = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Arena, Arena>;
using Value = rapidjson::GenericValue<rapidjson::UTF8<>, Arena>;

// The id is echoed verbatim; a client has no reason to nest it deeply, and re-serializing is
// recursive, so the depth is capped.
constexpr int kMaxIdDepth = 32;

bool depth_ok(const Value& v, int depth) {
  if (depth > kMaxIdDepth) return false;
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (!depth_ok(e, depth + 1)) return false;
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (!depth_ok(m.value, depth + 1)) return false;
    }
  }
  return true;
}

struct ActionName {
  std::string_view name;
  Action action;
};
constexpr ActionName kActions[] = {
    {"acquire", Action::kAcquire}, {"release", Action::kRelease},
    {"extend", Action::kExtend},   {"exists", Action::kExists},
    {"status", Action::kStatus},   {"stats", Action::kStats},
    {"list", Action::kList},       {"force_release", Action::kForceRelease},
    {"ping", Action::kPing},       {"auth", Action::kAuth},
    {"acquire_all", Action::kAcquireAll}, {"release_all", Action::kReleaseAll},
    {"watch", Action::kWatch},     {"release_grant", Action::kReleaseGrant},
};

std::string_view view(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// The request fields this decoder reads; members are matched to them in one pass.
constexpr const char* kFieldNames[] = {"id",      "action",  "key",    "ttl_ms", "ttl",
                                       "owner",   "pid",     "host",   "limit",  "wait_ms",
                                       "session", "api_key", "cursor", "match",  "count",
                                       "mode",    "reentrant", "keys",   "notify", "fence"};
constexpr std::size_t kFieldCount = sizeof kFieldNames / sizeof kFieldNames[0];

// The decoder latches the first error, so each field reader can simply return.
class Decoder {
 public:
  // One pass over the members; the first occurrence of a duplicated name wins.
  explicit Decoder(const Value& obj) {
    for (const auto& m : obj.GetObject()) {
      const std::string_view name = view(m.name);
      for (std::size_t i = 0; i < kFieldCount; ++i) {
        if (fields_[i] == nullptr && name == kFieldNames[i]) {
          fields_[i] = &m.value;
          break;
        }
      }
    }
  }

  bool failed() const { return !error_.empty(); }
  std::string take_error() { return std::move(error_); }

  const Value* find(std::string_view name) const {
    for (std::size_t i = 0; i < kFieldCount; ++i) {
      if (name == kFieldNames[i]) return fields_[i];
    }
    return nullptr;
  }

  std::optional<std::string_view> string(const char* name) {
    const Value* v = find(name);
    if (v == nullptr || failed()) return std::nullopt;
    if (!v->IsString()) return fail(name, "must be a string"), std::nullopt;
    return view(*v);
  }

  std::optional<bool> boolean(const char* name) {
    const Value* v = find(name);
    if (v == nullptr || failed()) return std::nullopt;
    if (!v->IsBool()) return fail(name, "must be a boolean"), std::nullopt;
    return v->GetBool();
  }

  // An integer >= min. Integral doubles (3e4) count as integers; larger than int64 saturates,
  // so that the server's range check (not this decoder) rejects it.
  std::optional<std::int64_t> integer(const char* name, std::int64_t min, const char* what) {
    const Value* v = find(name);
    if (v == nullptr || failed()) return std::nullopt;
    std::int64_t out = 0;
    if (v->IsInt64()) {
      out = v->GetInt64();
    } else if (v->IsUint64()) {
      out = std::numeric_limits<std::int64_t>::max();
    } else if (v->IsDouble() && std::isfinite(v->GetDouble()) &&
               std::floor(v->GetDouble()) == v->GetDouble()) {
      const double d = v->GetDouble();
      out = d >= 9.2e18    ? std::numeric_limits<std::int64_t>::max()
            : d <= -9.2e18 ? std::numeric_limits<std::int64_t>::min()
                           : static_cast<std::int64_t>(d);
    } else {
      return fail(name, what), std::nullopt;
    }
    if (out < min) return fail(name, what), std::nullopt;
    return out;
  }

  std::optional<std::uint64_t> unsigned_integer(const char* name, const char* what) {
    const Value* v = find(name);
    if (v == nullptr || failed()) return std::nullopt;
    if (v->IsUint64()) return v->GetUint64();
    if (v->IsDouble() && v->GetDouble() >= 0 && v->GetDouble() < 1.8e19 &&
        std::floor(v->GetDouble()) == v->GetDouble()) {
      return static_cast<std::uint64_t>(v->GetDouble());
    }
    return fail(name, what), std::nullopt;
  }

  // Seconds, possibly fractional, rounded up to whole milliseconds. A product within a
  // relative 1e-9 of an integer is that integer: 1.1 s is 1100 ms, not 1101.
  std::optional<std::int64_t> seconds_as_ms(const char* name) {
    const Value* v = find(name);
    if (v == nullptr || failed()) return std::nullopt;
    if (!v->IsNumber() || v->GetDouble() <= 0) {
      return fail(name, "must be a positive number"), std::nullopt;
    }
    if (v->IsInt64() && v->GetInt64() <= std::numeric_limits<std::int64_t>::max() / 1000) {
      return v->GetInt64() * 1000;
    }
    const double ms = v->GetDouble() * 1000.0;
    if (!(ms < 9.2e18)) return std::numeric_limits<std::int64_t>::max();
    const double nearest = std::round(ms);
    const double rounded = std::fabs(ms - nearest) <= 1e-9 * ms ? nearest : std::ceil(ms);
    return rounded < 1 ? 1 : static_cast<std::int64_t>(rounded);
  }

  void fail(std::string_view field, std::string_view what) {
    if (failed()) return;
    error_.assign(field);
    error_ += ": ";
    error_ += what;
  }

 private:
  const Value* fields_[kFieldCount] = {};
  std::string error_;
};

DecodeError error(std::string message, std::string id_raw) {
  return DecodeError{std::move(message), std::move(id_raw)};
}

bool needs_key(Action a) {
  return a == Action::kAcquire || a == Action::kRelease || a == Action::kExtend ||
         a == Action::kExists || a == Action::kStatus || a == Action::kForceRelease ||
         a == Action::kReleaseGrant;
}

}  // namespace

std::variant<Request, DecodeError> decode_request(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  char value_buffer[2048];
  char stack_buffer[1024];
  Arena value_arena(value_buffer, sizeof value_buffer);
  Arena stack_arena(stack_buffer, sizeof stack_buffer);
  Document doc(&value_arena, sizeof stack_buffer / 2, &stack_arena);
  doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError()) return error("invalid JSON", {});
  if (!doc.IsObject()) return error("request: must be a JSON object", {});

  Request req;
  Decoder d(doc);
  if (const Value* id = d.find("id"); id != nullptr) {
    if (!depth_ok(*id, 0)) return error("id: nested too deeply", {});
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> writer(sb);
    id->Accept(writer);
    req.id_raw.assign(sb.GetString(), sb.GetSize());
  }

  const std::optional<std::string_view> action = d.string("action");
  if (d.failed()) return error(d.take_error(), std::move(req.id_raw));
  if (!action) return error("action: required", std::move(req.id_raw));
  bool known = false;
  for (const ActionName& a : kActions) {
    if (a.name == *action) {
      req.action = a.action;
      known = true;
    }
  }
  if (!known) {
    std::string msg = "action: unknown action '";
    for (const char c : action->substr(0, 64)) {
      if (c != '\r' && c != '\n') msg.push_back(c);
    }
    msg += "'";
    return error(std::move(msg), std::move(req.id_raw));
  }

  const auto key = d.string("key");
  // ttl_ms 0 is a connection-lived lock, only on an acquire with "session": true.
  const Value* session_value = d.find("session");
  const bool session_true = req.action == Action::kAcquire && session_value != nullptr &&
                            session_value->IsBool() && session_value->GetBool();
  const auto ttl_ms = d.integer("ttl_ms", session_true ? 0 : 1, "must be a positive integer");
  const auto ttl = d.seconds_as_ms("ttl");
  const auto owner = d.string("owner");
  const Value* pid = d.find("pid");
  if (pid != nullptr && !pid->IsString() && !pid->IsInt64() && !pid->IsUint64()) {
    d.fail("pid", "must be an integer or a string");
  }
  const auto host = d.string("host");
  const auto limit = d.integer("limit", 1, "must be a positive integer");
  const auto wait_ms = d.integer("wait_ms", 0, "must be a non-negative integer");
  const auto session = d.boolean("session");
  const auto api_key = d.string("api_key");
  const auto cursor = d.unsigned_integer("cursor", "must be a non-negative integer");
  const auto match = d.string("match");
  const auto count = d.integer("count", 1, "must be a positive integer");
  const auto mode = d.string("mode");
  const auto reentrant = d.boolean("reentrant");
  const auto notify = d.boolean("notify");
  const auto fence = d.unsigned_integer("fence", "must be a non-negative integer");
  if (d.failed()) return error(d.take_error(), std::move(req.id_raw));
  if (mode && *mode != "shared" && *mode != "exclusive") {
    return error("mode: must be \"shared\" or \"exclusive\"", std::move(req.id_raw));
  }
  req.shared = mode && *mode == "shared";
  if (reentrant) req.reentrant = *reentrant;

  if (needs_key(req.action)) {
    if (!key) return error("key: required", std::move(req.id_raw));
    if (key->empty()) return error("key: must not be empty", std::move(req.id_raw));
  }
  if (key) req.key.assign(*key);
  if (ttl_ms) {
    req.ttl_ms = *ttl_ms;
  } else if (ttl) {
    req.ttl_ms = *ttl;
  }
  if (req.action == Action::kAcquireAll || req.action == Action::kReleaseAll) {
    const Value* keys = d.find("keys");
    if (keys == nullptr) return error("keys: required", std::move(req.id_raw));
    if (!keys->IsArray()) return error("keys: must be an array of strings", std::move(req.id_raw));
    if (keys->Size() == 0 || keys->Size() > kMaxRequestKeys) {
      return error("keys: must hold 1.." + std::to_string(kMaxRequestKeys) + " keys",
                   std::move(req.id_raw));
    }
    for (const Value& k : keys->GetArray()) {
      if (!k.IsString()) return error("keys: must be an array of strings", std::move(req.id_raw));
      if (k.GetStringLength() == 0) {
        return error("keys: must not hold an empty key", std::move(req.id_raw));
      }
      req.keys.emplace_back(view(k));
    }
    std::vector<std::string_view> sorted(req.keys.begin(), req.keys.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return error("keys: duplicate key", std::move(req.id_raw));
    }
  }
  if ((req.action == Action::kAcquire || req.action == Action::kExtend ||
       req.action == Action::kAcquireAll) &&
      !req.ttl_ms) {
    return error("ttl: required", std::move(req.id_raw));
  }
  if (owner) {
    req.owner.emplace(*owner);
  } else if (pid != nullptr || host) {
    std::string derived;
    if (pid != nullptr && pid->IsString()) {
      derived.assign(view(*pid));
    } else if (pid != nullptr && pid->IsInt64()) {
      derived = std::to_string(pid->GetInt64());
    } else if (pid != nullptr) {
      derived = std::to_string(pid->GetUint64());
    }
    derived.push_back('@');
    if (host) derived.append(*host);
    req.owner = std::move(derived);
    req.owner_from_pid_host = true;
  }
  if (limit) {
    constexpr std::int64_t kMax = std::numeric_limits<std::uint32_t>::max();
    req.limit = static_cast<std::uint32_t>(*limit > kMax ? kMax : *limit);
  }
  if (wait_ms) req.wait_ms = *wait_ms;
  if (session) req.session = *session;
  if (api_key) req.api_key.emplace(*api_key);
  if (req.action == Action::kAuth && !req.api_key) {
    return error("api_key: required", std::move(req.id_raw));
  }
  if (cursor) req.cursor = *cursor;
  if (match) req.match.assign(*match);
  if (count) req.count = static_cast<std::uint64_t>(*count);
  if (notify) req.notify = *notify;
  if (fence) req.fence = *fence;
  if (req.action == Action::kReleaseGrant && (!req.owner || req.fence == 0)) {
    return error("release_grant: owner and fence required", std::move(req.id_raw));
  }
  if (req.action == Action::kWatch) {
    auto keys = decode_watch_keys(line, kMaxWatchRequestKeys);
    if (auto* e = std::get_if<std::string>(&keys)) return error(std::move(*e), std::move(req.id_raw));
    req.keys = std::move(std::get<std::vector<std::string>>(keys));
  }
  return req;
}

std::string_view action_name(Action action) {
  for (const ActionName& a : kActions) {
    if (a.action == action) return a.name;
  }
  return {};
}

LineResult next_line(std::string_view in, std::size_t max_line, std::size_t from) {
  // A line of exactly max_line bytes plus its LF is accepted; the search window is bounded so
  // the verdict does not depend on how much has been buffered.
  const std::size_t window = in.size() < max_line + 1 ? in.size() : max_line + 1;
  if (from > window) from = window;
  const void* hit = std::memchr(in.data() + from, '\n', window - from);
  if (hit == nullptr) {
    if (in.size() > max_line) return {LineStatus::kTooLong, {}, 0};
    return {LineStatus::kNeedMore, {}, 0};
  }
  const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - in.data());
  std::string_view line = in.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return {LineStatus::kLine, line, lf + 1};
}

}  // namespace semlock::json
