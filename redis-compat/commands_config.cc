// CONFIG GET/SET/REWRITE: the Host owns the settings (server/config_live.cc); this file only
// turns its answers into replies.
#include "redis-compat/commands.h"
#include "redis-compat/context.h"

namespace semlock::redis {

Outcome cmd_config_get(CommandContext& ctx, Args argv) {
  const auto pairs = ctx.host.config_get(argv.subspan(2));
  ctx.w.map(pairs.size());
  for (const auto& [name, value] : pairs) {
    ctx.w.bulk(name);
    ctx.w.bulk(value);
  }
  return Outcome::kDone;
}

Outcome cmd_config_set(CommandContext& ctx, Args argv) {
  if ((argv.size() - 2) % 2 != 0) {
    ctx.w.error("ERR wrong number of arguments for 'config|set' command");
    return Outcome::kDone;
  }
  const std::string error = ctx.host.config_set(argv.subspan(2));
  if (error.empty()) {
    ctx.w.simple("OK");
  } else {
    ctx.w.error(error);
  }
  return Outcome::kDone;
}

Outcome cmd_config_rewrite(CommandContext& ctx, Args) {
  const std::string error = ctx.host.config_rewrite();
  if (error.empty()) {
    ctx.w.simple("OK");
  } else {
    ctx.w.error(error);
  }
  return Outcome::kDone;
}

}  // namespace semlock::redis
