// The `cluster` section (SPEC §9): keys, the members object, and the cross-key checks.
#include <algorithm>
#include <charconv>
#include <limits>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "config/duration.h"
#include "config/keys.h"

namespace semlock::config {

std::string members_json(const std::vector<ClusterMemberConfig>& members) {
  // Ids are digits and addresses were checked to be host:port without quotes or controls when
  // loaded; they are escaped anyway so the text is always JSON.
  auto str = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"";
  };
  std::string out = "{";
  for (const ClusterMemberConfig& m : members) {
    if (out.size() > 1) out += ',';
    out += "\"" + std::to_string(m.id) + "\":{\"raft\":" + str(m.raft) +
           ",\"client\":" + str(m.client) + "}";
  }
  return out + "}";
}

namespace detail {
namespace {

constexpr std::uint64_t kMaxMemberId = 1ull << 63;
const std::string kIdRange = "an integer 1..9223372036854775808";

std::optional<std::uint64_t> parse_id(std::string_view text) {
  std::uint64_t v = 0;
  if (text.empty() || text.size() > 19 || text.front() == '0') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (v < 1 || v > kMaxMemberId) return std::nullopt;
  return v;
}

// "host:port" with a non-empty host (IPv6 in brackets) and a port 1..65535.
bool is_host_port(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  const std::string_view port = s.substr(colon + 1);
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  return ec == std::errc() && end == port.data() + port.size() && v >= 1 && v <= 65535;
}

std::string read_members(const rapidjson::Value& v, std::vector<ClusterMemberConfig>& out) {
  if (!v.IsObject()) return "must be an object of member id -> {\"raft\": ..., \"client\": ...}";
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const std::string where = "member " + quote(name);
    const auto id = parse_id(name);
    if (!id) return where + ": the id must be " + kIdRange;
    if (!it->value.IsObject()) return where + ": must be an object with \"raft\" and \"client\"";
    ClusterMemberConfig m;
    m.id = *id;
    for (auto f = it->value.MemberBegin(); f != it->value.MemberEnd(); ++f) {
      const std::string_view key(f->name.GetString(), f->name.GetStringLength());
      std::string* target = key == "raft" ? &m.raft : key == "client" ? &m.client : nullptr;
      if (target == nullptr) return where + ": unknown key " + quote(key);
      if (!f->value.IsString()) return where + ": " + std::string(key) + ": must be a string";
      const std::string_view text(f->value.GetString(), f->value.GetStringLength());
      if (!is_host_port(text)) {
        return where + ": " + std::string(key) + ": must be \"host:port\", got " + quote(text);
      }
      *target = std::string(text);
    }
    if (m.raft.empty()) return where + ": raft: missing";
    if (m.client.empty()) return where + ": client: missing";
    for (const ClusterMemberConfig& other : out) {
      if (other.id == m.id) return where + ": named twice";
      if (other.raft == m.raft) {
        return where + ": raft: " + quote(m.raft) + " is also member \"" +
               std::to_string(other.id) + "\"'s";
      }
      if (other.client == m.client) {
        return where + ": client: " + quote(m.client) + " is also member \"" +
               std::to_string(other.id) + "\"'s";
      }
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const ClusterMemberConfig& a, const ClusterMemberConfig& b) { return a.id < b.id; });
  return {};
}

KeySpec members_key() {
  return KeySpec{
      "cluster",
      "members",
      "bootstrap membership: a JSON object {\"<id>\": {\"raft\": \"host:port\", \"client\": "
      "\"host:port\"}, ...}; used only while cluster.dir is empty",
      "JSON",
      KeyKind::kCurrent,
      [](Config& c, const Input& in) -> std::string {
        std::vector<ClusterMemberConfig> members;
        if (const auto* json = std::get_if<const rapidjson::Value*>(&in)) {
          if (std::string e = read_members(**json, members); !e.empty()) return e;
        } else {
          const std::string text(std::get<std::string_view>(in));
          rapidjson::Document doc;
          doc.Parse(text.c_str(), text.size());
          if (doc.HasParseError()) {
            return std::string("must be a JSON object: ") +
                   rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                   std::to_string(doc.GetErrorOffset());
          }
          if (std::string e = read_members(doc, members); !e.empty()) return e;
        }
        c.cluster.members = std::move(members);
        return {};
      },
      [](const Config& c) { return members_json(c.cluster.members); }};
}

KeySpec node_id_key() {
  return KeySpec{"cluster",
                 "node_id",
                 "this member's id in cluster.members",
                 "ID",
                 KeyKind::kCurrent,
                 [](Config& c, const Input& in) -> std::string {
                   // Ids are written as strings in `members`; a string is taken here too.
                   if (const auto* json = std::get_if<const rapidjson::Value*>(&in);
                       json != nullptr && (*json)->IsString()) {
                     const std::string_view text((*json)->GetString(), (*json)->GetStringLength());
                     const auto id = parse_id(text);
                     if (!id) return "must be " + kIdRange + ", got " + quote(text);
                     c.cluster.node_id = *id;
                     return {};
                   }
                   auto parsed = read_uint(in, 1, kMaxMemberId);
                   if (!parsed.value) return parsed.error;
                   c.cluster.node_id = *parsed.value;
                   return {};
                 },
                 [](const Config& c) { return std::to_string(c.cluster.node_id); }};
}

}  // namespace

void add_cluster_keys(std::vector<KeySpec>& keys) {
  using K = ClusterConfig;
  constexpr Millis kMaxMs = std::numeric_limits<Millis>::max();
  keys.push_back(
      KeySpec{"cluster", "enabled", "run as a member of a replicated group (Raft)", "BOOL",
              KeyKind::kCurrent,
              [](Config& c, const Input& in) -> std::string {
                auto parsed = read_bool(in);
                if (!parsed.value) return parsed.error;
                c.cluster.enabled = *parsed.value;
                return {};
              },
              [](const Config& c) -> std::string { return c.cluster.enabled ? "true" : "false"; }});
  keys.push_back(node_id_key());
  keys.push_back(members_key());
  auto text = [](std::string_view name, std::string_view help, std::string K::*f, bool non_empty) {
    return KeySpec{"cluster",
                   name,
                   help,
                   "TEXT",
                   KeyKind::kCurrent,
                   [f, non_empty](Config& c, const Input& in) -> std::string {
                     auto parsed = read_string(in, non_empty);
                     if (!parsed.value) return parsed.error;
                     c.cluster.*f = std::move(*parsed.value);
                     return {};
                   },
                   [f](const Config& c) { return quote(c.cluster.*f); }};
  };
  auto duration = [](std::string_view name, std::string_view help, Millis K::*f, Millis min,
                     Millis max) {
    return KeySpec{"cluster",
                   name,
                   help,
                   "DURATION",
                   KeyKind::kCurrent,
                   [f, min, max](Config& c, const Input& in) -> std::string {
                     auto parsed = read_duration(in, min, max);
                     if (!parsed.value) return parsed.error;
                     c.cluster.*f = *parsed.value;
                     return {};
                   },
                   [f](const Config& c) { return format_duration(c.cluster.*f); }};
  };
  keys.push_back(
      text("dir", "directory of the Raft log and snapshots (replaces the journal)", &K::dir, true));
  keys.push_back(duration("election_timeout", "a follower that hears no leader this long stands",
                          &K::election_timeout, 10, 60000));
  keys.push_back(duration("heartbeat_interval", "leader heartbeat (one Raft tick)",
                          &K::heartbeat_interval, 1, 60000));
  keys.push_back(duration("request_timeout",
                          "no leader this long: requests needing one answer CLUSTERDOWN",
                          &K::request_timeout, 1, kMaxMs));
  keys.push_back(
      KeySpec{"cluster", "snapshot_entries", "entries applied between snapshots of the engine",
              "INT", KeyKind::kCurrent,
              [](Config& c, const Input& in) -> std::string {
                auto parsed = read_uint(in, 1, std::numeric_limits<std::uint64_t>::max());
                if (!parsed.value) return parsed.error;
                c.cluster.snapshot_entries = *parsed.value;
                return {};
              },
              [](const Config& c) { return std::to_string(c.cluster.snapshot_entries); }});
  keys.push_back(text("raft_listen",
                      "address the Raft transport listens on (\"\" = this member's raft address)",
                      &K::raft_listen, false));
}

std::string finalize_cluster(Config& config) {
  ClusterConfig& cl = config.cluster;
  if (!cl.enabled) return {};
  if (cl.node_id == 0) {
    return "cluster.node_id: must be set (" + kIdRange + ") when cluster.enabled is true";
  }
  if (cl.members.empty()) {
    return "cluster.members: must name at least this member when cluster.enabled is true";
  }
  const auto self = std::find_if(cl.members.begin(), cl.members.end(),
                                 [&](const ClusterMemberConfig& m) { return m.id == cl.node_id; });
  if (self == cl.members.end()) {
    std::string ids;
    for (const ClusterMemberConfig& m : cl.members) {
      ids += (ids.empty() ? "" : ", ") + std::to_string(m.id);
    }
    return "cluster.node_id: " + std::to_string(cl.node_id) + " is not in cluster.members (" + ids +
           ")";
  }
  if (cl.heartbeat_interval * 2 > cl.election_timeout) {
    return "cluster.heartbeat_interval: must be at most half of cluster.election_timeout (" +
           format_duration(cl.election_timeout) + "), got " +
           format_duration(cl.heartbeat_interval);
  }
  if (config.persistence.enabled) {
    return "persistence.enabled: must be false when cluster.enabled is true (cluster.dir holds "
           "the Raft log and snapshots instead of the journal)";
  }
  if (cl.raft_listen.empty()) cl.raft_listen = self->raft;
  if (!is_host_port(cl.raft_listen)) {
    return "cluster.raft_listen: must be \"host:port\", got " + quote(cl.raft_listen);
  }
  return {};
}

}  // namespace detail
}  // namespace semlock::config
