#pragma once

// The two non-flag layers: a JSON config text and the process environment. Each applies its
// settings on top of `config` and returns "" or one error line naming the key path (file) or the
// variable (environment). Warnings for deprecated keys are appended to config.warnings.

#include <string>
#include <string_view>

#include "config/config.h"

namespace semlock::config::detail {

// `origin` prefixes a syntax error ("config" or "config /etc/x.json").
std::string apply_json_text(Config& config, std::string_view json_text, std::string_view origin);

// Reads the file at `path` and applies it; a read failure gives "config: cannot read <path>: ...".
std::string apply_json_file(Config& config, const std::string& path);

// Applies TTLSEMLOCK_* entries of `env` ("NAME=value" strings, null-terminated array; may be
// null). The client-side TTLSEMLOCK_HOST, _PORT and _API_KEY are skipped; any other unknown
// TTLSEMLOCK_*, and any value in Kubernetes' service-link form (tcp://...), is a warning.
std::string apply_env(Config& config, const char* const* env);

// Rules across keys, run once after every layer: api_keys imply auth_required, auth_required
// needs a key, cleanup.interval >= cleanup.resolution, the two ports differ.
std::string finalize(Config& config);

}  // namespace semlock::config::detail
