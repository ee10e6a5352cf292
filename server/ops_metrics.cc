#include "server/ops_metrics.h"

#include <prometheus/gauge.h>

#include "config/build_commit.h"
#include "config/version.h"
#include "server/sd_notify.h"

namespace semlock {

void register_static_metrics(prometheus::Registry& registry, const config::Config& config) {
  using prometheus::BuildGauge;
  BuildGauge()
      .Name("ttl_semlock_build_info")
      .Help("Always 1; the labels name the version and the commit of the running binary")
      .Register(registry)
      .Add({{"version", SEMLOCK_VERSION}, {"commit", config::build_commit()}})
      .Set(1);
  auto gauge = [&registry](const char* name, const char* help, double value) {
    BuildGauge().Name(name).Help(help).Register(registry).Add({}).Set(value);
  };
  gauge("ttl_semlock_max_connections", "server.max_connections: most open client connections",
        static_cast<double>(config.server.max_connections));
  gauge("ttl_semlock_max_waiters", "limits.max_waiters: most queued blocking acquires",
        static_cast<double>(config.limits.max_waiters));
  gauge("ttl_semlock_memory_limit_bytes", "limits.max_memory_mb in bytes (0 = unlimited)",
        static_cast<double>(config.limits.max_memory_mb) * 1024.0 * 1024.0);
}

void on_serving(uv_loop_t* loop, prometheus::Registry& registry, const config::Config& config) {
  register_static_metrics(registry, config);
  sd::ready(loop, "serving on port " + std::to_string(config.server.port));
}

}  // namespace semlock
