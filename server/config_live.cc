// Changing the configuration while running: CONFIG GET/SET/REWRITE (the Host side of
// redis-compat/commands_config.cc) and SIGHUP's reload of the file.
//
// What can change live: the limits (the engine's new limits apply to new acquires only: lowering
// one below current use never drops a held lock), log level, timeouts, connection caps and, on
// SIGHUP only, API keys and TLS certificates. Anything else changed in the file is logged as
// needing a restart. CONFIG SET changes are lost on SIGHUP unless CONFIG REWRITE saved them.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "config/keys.h"
#include "server/logging.h"
#include "server/protect.h"
#include "server/server.h"

namespace semlock {
namespace {

using config::detail::KeySpec;

// Keys that CONFIG SET may change and SIGHUP applies without a restart.
constexpr std::string_view kLiveKeys[] = {
    "server.max_connections",    "server.idle_timeout",          "server.tcp_keepalive",
    "server.request_timeout",    "server.max_reply_bytes",       "server.max_client_memory_mb",
    "limits.max_locks",          "limits.max_memory_mb",         "limits.warn_threshold",
    "limits.reject_requests",    "limits.max_waiters",           "limits.max_permits",
    "limits.max_ttl",            "limits.max_key_bytes",         "cleanup.max_expiries_per_tick",
    "logging.level",             "security.require_owner",
};
// Changed by SIGHUP too, but never by CONFIG SET (secrets and files).
constexpr std::string_view kReloadOnlyKeys[] = {
    "security.api_keys", "security.admin_api_keys", "security.api_keys_file",
    "security.auth_required", "security.protected_mode", "tls.cert_file", "tls.key_file",
    "tls.ca_file", "tls.client_auth", "tls.protocols", "tls.ciphers", "logging.file",
};

bool listed(std::span<const std::string_view> list, std::string_view path) {
  for (std::string_view k : list) {
    if (k == path) return true;
  }
  return false;
}

char lower(char ch) {
  return (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
}

// Redis's glob subset that clients use with CONFIG GET: '*', '?', case-insensitive.
bool glob(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || lower(pat[p]) == lower(s[i]))) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// A key's value in config syntax without the quotes describe() puts around text.
std::string plain_value(const KeySpec& key, const config::Config& c) {
  std::string v = key.show(c);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

std::string redis_loglevel(const std::string& level) {
  if (level == "debug") return "debug";
  if (level == "info") return "notice";
  return "warning";
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

}  // namespace

// Redis's names, read-only, in Redis's units (libraries probe some of them at connect).
std::vector<std::pair<std::string, std::string>> Server::config_aliases() const {
  const config::Config& c = config_;
  return {
      {"maxmemory", std::to_string(c.limits.max_memory_mb * 1024 * 1024)},
      {"maxmemory-policy", "noeviction"},
      {"maxclients", std::to_string(c.server.max_connections)},
      {"timeout", std::to_string(c.server.idle_timeout / 1000)},
      {"tcp-keepalive", std::to_string(c.server.tcp_keepalive / 1000)},
      {"port", std::to_string(c.server.port)},
      {"tls-port", std::to_string(c.tls.enabled ? c.tls.port : 0)},
      {"bind", c.server.host},
      {"protected-mode", yes_no(c.security.protected_mode)},
      {"loglevel", redis_loglevel(c.logging.level)},
      {"appendonly", yes_no(c.persistence.enabled)},
      {"appendfsync", std::string(config::fsync_mode_name(c.persistence.fsync))},
      {"save", ""},
      {"databases", "1"},
      {"busy-reply-threshold", std::to_string(c.scripting.max_ms)},
      {"lua-time-limit", std::to_string(c.scripting.max_ms)},
      {"proto-max-bulk-len", std::to_string(c.server.max_request_bytes)},
      {"cluster-enabled", yes_no(c.cluster.enabled)},
  };
}

std::vector<std::pair<std::string, std::string>> Server::config_get(std::span<const std::string_view> patterns) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](std::string name, std::string value) {
    for (std::string_view pat : patterns) {
      if (glob(pat, name)) {
        for (const auto& [n, v] : out) {
          if (n == name) return;
        }
        out.emplace_back(std::move(name), std::move(value));
        return;
      }
    }
  };
  for (const KeySpec& key : config::detail::all_keys()) {
    if (key.kind != config::detail::KeyKind::kCurrent) continue;
    add(key.path(), plain_value(key, config_));
  }
  for (auto& [name, value] : config_aliases()) add(name, value);
  return out;
}

std::string Server::config_set(std::span<const std::string_view> name_values) {
  config::Config candidate = config_;
  std::vector<std::string> changed;
  for (std::size_t i = 0; i + 1 < name_values.size(); i += 2) {
    const std::string name(name_values[i]);
    const std::string failed = "ERR CONFIG SET failed (possibly related to argument '" + name +
                               "') - ";
    for (const auto& [alias, value] : config_aliases()) {
      if (glob(alias, name)) {
        return failed + "a read-only alias in Redis's units; set TtlSemLock's own key instead";
      }
    }
    const auto dot = name.find('.');
    const KeySpec* key =
        dot == std::string::npos
            ? nullptr
            : config::detail::find_key(std::string_view(name).substr(0, dot),
                                       std::string_view(name).substr(dot + 1));
    if (key == nullptr || key->kind != config::detail::KeyKind::kCurrent) {
      return "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'";
    }
    if (!listed(kLiveKeys, name)) {
      return failed + (listed(kReloadOnlyKeys, name)
                           ? "not settable by CONFIG SET (edit the file and send SIGHUP)"
                           : "needs a restart (edit the file and restart)");
    }
    if (std::string e = key->set(candidate, config::detail::Input{name_values[i + 1]});
        !e.empty()) {
      return failed + e;
    }
    changed.push_back(name);
  }
  if (candidate.cleanup.interval < candidate.cleanup.resolution) {
    return "ERR CONFIG SET failed - cleanup.interval must be at least cleanup.resolution";
  }
  apply_live(candidate);
  for (auto& name : changed) {
    config_dirty_.insert(name);
    log::info("Configuration changed by CONFIG SET", {{"key", name}});
  }
  return {};
}

void Server::apply_live(const config::Config& next) {
  // The fields of kLiveKeys.
  config_.limits = next.limits;
  config_.server.max_connections = next.server.max_connections;
  config_.server.idle_timeout = next.server.idle_timeout;
  config_.server.tcp_keepalive = next.server.tcp_keepalive;
  config_.server.request_timeout = next.server.request_timeout;
  config_.server.max_reply_bytes = next.server.max_reply_bytes;
  config_.server.max_client_memory_mb = next.server.max_client_memory_mb;
  config_.cleanup.max_expiries_per_tick = next.cleanup.max_expiries_per_tick;
  config_.logging.level = next.logging.level;
  config_.security.require_owner = next.security.require_owner;
  // New limits apply to new acquires: nothing held is dropped (the engine checks limits only
  // when it would grow).
  engine_->set_limits(engine_limits_for(config_));
  log::set_level(config_.logging.level);
  update_metrics();
}

std::string Server::config_rewrite() {
  const std::string& path = config_.config_path;
  if (path.empty() || ::access(path.c_str(), W_OK) != 0) return "ERR no writable config file";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag>(
      text.str().c_str());
  if (doc.HasParseError() || !doc.IsObject()) return "ERR no writable config file";
  auto& alloc = doc.GetAllocator();
  // Only what CONFIG SET changed is written: the file's other values (and never keys that came
  // from the environment or a keys file) stay as they were.
  for (const std::string& name : config_dirty_) {
    const auto dot = name.find('.');
    const std::string section = name.substr(0, dot);
    const std::string field = name.substr(dot + 1);
    if (section == "security" && (field == "api_keys" || field == "admin_api_keys")) continue;
    const KeySpec* key = config::detail::find_key(section, field);
    if (key == nullptr) continue;
    if (!doc.HasMember(section.c_str())) {
      doc.AddMember(rapidjson::Value(section.c_str(), alloc), rapidjson::Value(rapidjson::kObjectType),
                    alloc);
    }
    rapidjson::Value& obj = doc[section.c_str()];
    if (!obj.IsObject()) continue;
    const std::string shown = plain_value(*key, config_);
    rapidjson::Value value;
    const std::string_view kind = key->value_name;
    if (kind == "INT" || kind == "NUMBER") {
      rapidjson::Document num;
      num.Parse(shown.c_str());
      value.CopyFrom(num, alloc);
    } else if (kind == "BOOL") {
      value.SetBool(shown == "true");
    } else {
      value.SetString(shown.c_str(), static_cast<rapidjson::SizeType>(shown.size()), alloc);
    }
    if (obj.HasMember(field.c_str())) {
      obj[field.c_str()] = value;
    } else {
      obj.AddMember(rapidjson::Value(field.c_str(), alloc), value, alloc);
    }
  }
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buf);
  writer.SetIndent(' ', 2);
  doc.Accept(writer);
  char stamp[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  const std::string tmp = path + ".rewrite.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "// Written by CONFIG REWRITE at " << stamp
        << ". Comments of the previous file are not kept.\n"
        << buf.GetString() << "\n";
    if (!out) {
      std::remove(tmp.c_str());
      return "ERR no writable config file";
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return "ERR no writable config file";
  }
  config_dirty_.clear();
  log::info("Configuration file rewritten (CONFIG REWRITE)", {{"file", path}});
  return {};
}

void Server::reload_config() {
  if (!reloader_) return;
  config::LoadResult loaded = reloader_();
  if (!loaded.error.empty()) {
    log::error("Configuration not reloaded (SIGHUP), the running one stays: " + loaded.error);
    return;
  }
  config::Config& next = loaded.config;
  for (const auto& w : next.warnings) log::warn(w);
  std::vector<std::string> restart;
  for (const KeySpec& key : config::detail::all_keys()) {
    if (key.kind != config::detail::KeyKind::kCurrent) continue;
    const std::string path = key.path();
    if (listed(kLiveKeys, path) || listed(kReloadOnlyKeys, path)) continue;
    if (key.show(next) != key.show(config_)) restart.push_back(path);
  }
  apply_live(next);
  config_.security = next.security;
  const std::string old_log_file = config_.logging.file;
  config_.tls.cert_file = next.tls.cert_file;
  config_.tls.key_file = next.tls.key_file;
  config_.tls.ca_file = next.tls.ca_file;
  config_.tls.client_auth = next.tls.client_auth;
  config_.tls.protocols = next.tls.protocols;
  config_.tls.ciphers = next.tls.ciphers;
  tls_reload();
  protected_plain_ = config_.server.port != 0 && protect::applies(config_, false);
  protected_tls_ = config_.tls.enabled && protect::applies(config_, true);
  if (next.logging.file != old_log_file) restart.push_back("logging.file");
  config_dirty_.clear();
  log::info("Configuration reloaded (SIGHUP); unsaved CONFIG SET changes are replaced",
            {{"api_keys", config_.security.api_keys.size()}});
  log_security_mode();
  for (const auto& path : restart) {
    log::warn("Changed in the configuration but needs a restart to apply", {{"key", path}});
  }
}

}  // namespace semlock
