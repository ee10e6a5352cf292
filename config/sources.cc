#include "config/sources.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "config/duration.h"
#include "config/keys.h"

namespace semlock::config::detail {
namespace {

constexpr unsigned kParseFlags =
    rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag;

// TtlSemLock 0.7.4 configured retry backoff for its clients here; retries are the client's
// business in this server, so the section is accepted and ignored rather than breaking old files.
constexpr std::string_view kIgnoredSections[] = {"retry"};

std::string_view name_of(const rapidjson::Value& name) {
  return {name.GetString(), name.GetStringLength()};
}

std::string apply_key(Config& config, const KeySpec& key, const rapidjson::Value& value,
                      const std::string& path) {
  if (key.kind == KeyKind::kDeprecated) {
    config.warnings.push_back(path + ": no longer used; accepted and ignored");
    return {};
  }
  std::string error = key.set(config, Input{&value});
  return error.empty() ? error : path + ": " + error;
}

std::string apply_section(Config& config, std::string_view section, const rapidjson::Value& body) {
  if (!body.IsObject()) return std::string(section) + ": must be an object";
  for (const auto& member : body.GetObject()) {
    const std::string path = std::string(section) + "." + std::string(name_of(member.name));
    const KeySpec* key = find_key(section, name_of(member.name));
    if (key == nullptr) return path + ": unknown key";
    if (std::string error = apply_key(config, *key, member.value, path); !error.empty()) {
      return error;
    }
  }
  return {};
}

}  // namespace

std::string apply_json_text(Config& config, std::string_view json_text, std::string_view origin) {
  rapidjson::Document doc;
  doc.Parse<kParseFlags>(json_text.data(), json_text.size());
  if (doc.HasParseError()) {
    return std::string(origin) + ": invalid JSON at offset " +
           std::to_string(doc.GetErrorOffset()) + ": " +
           rapidjson::GetParseError_En(doc.GetParseError());
  }
  if (!doc.IsObject()) return std::string(origin) + ": must be a JSON object";
  // Const iteration: RapidJSON's mutable member iterators compare ambiguously under C++20.
  const rapidjson::Value& root = doc;

  // Old top-level keys first, so that a file carrying both spellings ends with server.*'s value.
  for (const auto& member : root.GetObject()) {
    const KeySpec* key = find_key("", name_of(member.name));
    if (key == nullptr) continue;
    if (std::string error = apply_key(config, *key, member.value, key->path()); !error.empty()) {
      return error;
    }
  }
  for (const auto& member : root.GetObject()) {
    const std::string_view name = name_of(member.name);
    if (find_key("", name) != nullptr) continue;
    if (is_section(name)) {
      if (std::string error = apply_section(config, name, member.value); !error.empty()) {
        return error;
      }
      continue;
    }
    bool ignored = false;
    for (std::string_view section : kIgnoredSections) ignored = ignored || section == name;
    if (!ignored) return std::string(name) + ": unknown key";
    config.warnings.push_back(std::string(name) + ": no longer used; accepted and ignored");
  }
  return {};
}

std::string apply_json_file(Config& config, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return "config: cannot read " + path + ": " + std::strerror(errno);
  std::string text;
  char buf[16384];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
  // A directory opens fine and fails on the first read (EISDIR).
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) return "config: cannot read " + path + ": " + std::strerror(read_errno);
  config.config_path = path;
  return apply_json_text(config, text, "config " + path);
}

std::string apply_env(Config& config, const char* const* env) {
  constexpr std::string_view kPrefix = "TTLSEMLOCK_";
  // What TtlSemLock's clients read to find the server; a server sharing their environment
  // must not take them as its own settings.
  constexpr std::string_view kClientSide[] = {"TTLSEMLOCK_HOST", "TTLSEMLOCK_PORT",
                                              "TTLSEMLOCK_API_KEY"};
  for (const char* const* entry = env; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with(kPrefix)) continue;
    const std::size_t eq = text.find('=');
    const std::string_view name = text.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : text.substr(eq + 1);

    bool client_side = false;
    for (std::string_view skip : kClientSide) client_side = client_side || name == skip;
    if (client_side) continue;
    // Not a setting but read where it is used: the Raft sidecar's path (server/cluster_node.cc).
    if (name == "TTLSEMLOCK_RAFT_BIN") continue;

    const KeySpec* found = nullptr;
    if (value.starts_with("tcp://") || value.starts_with("udp://")) {
      // Kubernetes' service links (a Service named ttlsemlock-server injects
      // TTLSEMLOCK_SERVER_PORT=tcp://10.0.0.7:8765): never a setting of ours, whatever the name.
      config.warnings.push_back(std::string(name) +
                                ": a Kubernetes service link (tcp://...), not a setting; ignored");
      continue;
    }
    if (name == "TTLSEMLOCK_API_KEYS") {
      found = find_key("security", "api_keys");
    } else if (name == "TTLSEMLOCK_API_KEYS_FILE") {
      found = find_key("security", "api_keys_file");
    } else if (name == "TTLSEMLOCK_ADMIN_API_KEYS") {
      found = find_key("security", "admin_api_keys");
    } else {
      for (const KeySpec& key : all_keys()) {
        if (key.kind != KeyKind::kLegacy && key.env_name() == name) found = &key;
      }
    }
    if (found == nullptr) {
      // SPEC §7: orchestrators set variables the operator never wrote (Kubernetes'
      // TTLSEMLOCK_SERVICE_HOST for a Service named ttlsemlock): a warning, not a refusal.
      config.warnings.push_back(std::string(name) + ": unknown variable; ignored");
      continue;
    }
    if (found->kind == KeyKind::kDeprecated) {
      config.warnings.push_back(std::string(name) + ": no longer used; accepted and ignored");
      continue;
    }
    if (std::string error = found->set(config, Input{value}); !error.empty()) {
      return std::string(name) + ": " + error;
    }
  }
  return {};
}

std::string finalize(Config& config) {
  if (std::string error = finalize_security(config); !error.empty()) return error;
  SecurityConfig& security = config.security;
  if (!security.api_keys.empty()) security.auth_required = true;
  if (security.auth_required && security.api_keys.empty()) {
    return "security.auth_required: needs at least one key in security.api_keys";
  }
  if (config.cleanup.interval < config.cleanup.resolution) {
    return "cleanup.interval: must be at least cleanup.resolution (" +
           format_duration(config.cleanup.resolution) + "), got " +
           format_duration(config.cleanup.interval);
  }
  // Same port on overlapping addresses cannot both bind; different addresses can share a port.
  const auto wildcard = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
  if (config.metrics.enabled && config.metrics.port == config.server.port &&
      (config.metrics.host == config.server.host || wildcard(config.metrics.host) ||
       wildcard(config.server.host))) {
    return "metrics.port: must differ from server.port (" + std::to_string(config.server.port) +
           ")";
  }
  return finalize_cluster(config);
}

}  // namespace semlock::config::detail
