#pragma once

#include <prometheus/registry.h>
#include <uv.h>

#include "config/config.h"

namespace semlock {

// Metrics that only change with the binary or the configuration, registered once at start:
// ttl_semlock_build_info{version,commit} 1, the connection and waiter limits
// (ttl_semlock_max_connections, ttl_semlock_max_waiters) and ttl_semlock_memory_limit_bytes
// (beside ttl_semlock_memory_limit_mb, kept for compatibility).
void register_static_metrics(prometheus::Registry& registry, const config::Config& config);

// The server listens on its ports and its state is loaded, right before the loop runs: registers
// the static metrics and tells systemd READY=1 (and starts the watchdog pings; server/sd_notify.h).
void on_serving(uv_loop_t* loop, prometheus::Registry& registry, const config::Config& config);

}  // namespace semlock
