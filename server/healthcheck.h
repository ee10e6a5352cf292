#pragma once

#include "config/config.h"

namespace semlock {

// `ttl-semlock --healthcheck`: probes the server that `config` describes, from the same host (the
// container image's HEALTHCHECK; the image has no curl). With metrics on: GET /health on the
// metrics port must answer 200; with metrics off: PING on the lock port must answer +PONG. A
// wildcard bind address (0.0.0.0, ::, "") is probed on the loopback. Prints one line on stdout
// ("healthy: ..." or "unhealthy: ...") and returns the exit code: 0 healthy, 1 not. Gives up
// after `timeout_ms` in all.
int run_healthcheck(const config::Config& config, int timeout_ms = 2000);

}  // namespace semlock
