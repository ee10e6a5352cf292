// EVAL, EVALSHA and SCRIPT LOAD|EXISTS|FLUSH|KILL: argument checks with Redis's texts; the runs
// themselves are Scripting's (scripting.h).
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "redis-compat/scripting.h"

namespace semlock::redis {
namespace {

// EVAL script numkeys [key ...] [arg ...] and EVALSHA sha1 numkeys ...
Outcome eval_generic(CommandContext& ctx, Args argv, bool is_sha) {
  const auto numkeys = parse_int64(argv[2]);
  if (!numkeys) {
    ctx.w.error(errors::kNotInteger);
    return Outcome::kDone;
  }
  if (*numkeys < 0) {
    ctx.w.error(errors::kNegativeNumKeys);
    return Outcome::kDone;
  }
  if (static_cast<std::uint64_t>(*numkeys) > argv.size() - 3) {
    ctx.w.error(errors::kTooManyNumKeys);
    return Outcome::kDone;
  }
  const auto n = static_cast<std::size_t>(*numkeys);
  return ctx.host.scripting().run(ctx, argv[1], is_sha, argv.subspan(3, n), argv.subspan(3 + n));
}

}  // namespace

Outcome cmd_eval(CommandContext& ctx, Args argv) {
  return eval_generic(ctx, argv, false);
}
Outcome cmd_evalsha(CommandContext& ctx, Args argv) {
  return eval_generic(ctx, argv, true);
}

Outcome cmd_script_load(CommandContext& ctx, Args argv) {
  std::string error;
  const std::string sha = ctx.host.scripting().load(argv[2], error);
  if (sha.empty()) {
    ctx.w.error(error);
  } else {
    ctx.w.bulk(sha);
  }
  ctx.host.on_script_heap(ctx.host.scripting().heap_bytes());
  return Outcome::kDone;
}

Outcome cmd_script_exists(CommandContext& ctx, Args argv) {
  Scripting& s = ctx.host.scripting();
  ctx.w.array(argv.size() - 2);
  for (std::size_t i = 2; i < argv.size(); ++i) ctx.w.integer(s.exists(argv[i]) ? 1 : 0);
  return Outcome::kDone;
}

// SCRIPT FLUSH [ASYNC|SYNC]: both flush at once (the cache is small).
Outcome cmd_script_flush(CommandContext& ctx, Args argv) {
  if (argv.size() > 3 ||
      (argv.size() == 3 && !iequals(argv[2], "ASYNC") && !iequals(argv[2], "SYNC"))) {
    ctx.w.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    return Outcome::kDone;
  }
  ctx.host.scripting().flush();
  ctx.host.on_script_heap(ctx.host.scripting().heap_bytes());
  ctx.w.simple("OK");
  return Outcome::kDone;
}

// A script runs to its end before the next request is read, so none is ever running here.
Outcome cmd_script_kill(CommandContext& ctx, Args) {
  ctx.w.error(errors::kNotBusy);
  return Outcome::kDone;
}

}  // namespace semlock::redis
