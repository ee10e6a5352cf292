// The dispatcher: the one place for unknown-command, arity, auth, admin and MULTI checks, in
// Redis's order (lookup, arity, auth), with Redis's texts.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>

#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"
#include "redis-compat/exec_reply_bound.h"
#include "redis-compat/watch.h"

namespace semlock::redis {
namespace {

// Echoed user input has CR/LF replaced (the writer strips them too; Redis turns them into spaces).
std::string sanitize(std::string_view s, std::size_t max) {
  std::string out(s.substr(0, max));
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Redis: "unknown command '%.128s', with args beginning with: " + "'%.*s' " per argument while the
// list is under 128 bytes.
std::string unknown_command_text(Args argv) {
  std::string args;
  for (std::size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    args += "'";
    args += sanitize(argv[i], 128 - args.size());
    args += "' ";
  }
  return "ERR unknown command '" + sanitize(argv[0], 128) + "', with args beginning with: " + args;
}

// The calling thread's CPU time, ms.
std::int64_t thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

constexpr std::size_t kMaxMultiCommands = 10000;
constexpr std::size_t kMaxMultiBytes = 8 * 1024 * 1024;

// RESP2 subscribed mode: only these commands run (Redis 7's list).
bool allowed_when_subscribed(std::string_view name) {
  return name == "subscribe" || name == "unsubscribe" || name == "psubscribe" ||
         name == "punsubscribe" || name == "ping" || name == "quit" || name == "reset";
}

bool arity_ok(const CommandSpec& spec, std::size_t argc) {
  const auto n = static_cast<long>(argc);
  return spec.arity >= 0 ? n == spec.arity : n >= -spec.arity;
}

void fail(CommandContext& ctx, std::string_view text) {
  if (ctx.client.in_multi) ctx.client.multi_error = true;
  ctx.w.error(text);
}

}  // namespace

Outcome execute(CommandContext& ctx, Args argv, const CommandSpec** spec_out) {
  if (spec_out) *spec_out = nullptr;
  const CommandSpec* spec = find_command(argv[0]);
  if (!spec) {
    const std::string name = lower(argv[0]);
    if (is_redis_data_command(name) || name == "scan") {
      std::string text(errors::kNotALockServer);
      text.replace(text.find("%s"), 2, sanitize(argv[0], 128));
      fail(ctx, text);
    } else {
      fail(ctx, unknown_command_text(argv));
    }
    return Outcome::kDone;
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = find_subcommand(*spec, argv[1]);
    if (sub) {
      spec = sub;
    } else if (!spec->handler) {
      std::string upper(spec->name);
      for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      fail(ctx, "ERR unknown subcommand '" + sanitize(argv[1], 128) + "'. Try " + upper + " HELP.");
      return Outcome::kDone;
    }
  }
  if (spec_out) *spec_out = spec;
  if (!arity_ok(*spec, argv.size()) || !spec->handler) {
    fail(ctx, "ERR wrong number of arguments for '" + std::string(spec->name) + "' command");
    return Outcome::kDone;
  }
  if (ctx.host.auth_required() && !ctx.client.authenticated && !(spec->flags & kNoAuth)) {
    fail(ctx, errors::kNoAuth);
    return Outcome::kDone;
  }
  if ((spec->flags & kAdmin) && ctx.host.admin_keys_configured() && !ctx.client.admin) {
    fail(ctx, errors::kNoPerm);
    return Outcome::kDone;
  }
  if (ctx.client.proto < 3 && ctx.client.subscriptions() > 0 &&
      !allowed_when_subscribed(spec->name)) {
    fail(ctx, "ERR Can't execute '" + std::string(spec->name) +
                  "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in "
                  "this context");
    return Outcome::kDone;
  }
  if (ctx.client.in_multi && !(spec->flags & kNoMulti)) {
    // A transaction is bounded like any buffer a client can make the server hold.
    std::size_t bytes = sizeof(std::vector<std::string>);
    for (const auto a : argv) bytes += sizeof(std::string) + a.size();
    if (ctx.client.multi_queue.size() >= kMaxMultiCommands ||
        ctx.client.multi_bytes + bytes > kMaxMultiBytes) {
      fail(ctx, errors::kMultiTooLarge);
      return Outcome::kDone;
    }
    ctx.client.multi_bytes += bytes;
    ctx.client.multi_queue.emplace_back(argv.begin(), argv.end());
    ctx.w.simple("QUEUED");
    return Outcome::kDone;
  }
  const std::size_t reply_start = ctx.w.out().size();
  const Outcome outcome = spec->handler(ctx, argv);
  const std::string& out = ctx.w.out();
  watch_after_command(ctx, *spec, argv,
                      std::string_view(out).substr(std::min(reply_start, out.size())));
  return outcome;
}

Outcome cmd_multi(CommandContext& ctx, Args) {
  if (ctx.client.in_multi) {
    ctx.w.error(errors::kMultiNested);
    return Outcome::kDone;
  }
  ctx.client.in_multi = true;
  ctx.client.multi_error = false;
  ctx.client.multi_queue.clear();
  ctx.client.multi_bytes = 0;
  ctx.w.simple("OK");
  return Outcome::kDone;
}

Outcome cmd_discard(CommandContext& ctx, Args) {
  if (!ctx.client.in_multi) {
    ctx.w.error(errors::kDiscardWithoutMulti);
    return Outcome::kDone;
  }
  ctx.client.in_multi = false;
  ctx.client.multi_error = false;
  ctx.client.multi_queue.clear();
  ctx.client.multi_bytes = 0;
  watch_clear(ctx);
  ctx.w.simple("OK");
  return Outcome::kDone;
}

// Queued commands run together, with WAIT ignored (Redis's rule for blocking commands in MULTI).
Outcome cmd_exec(CommandContext& ctx, Args) {
  if (!ctx.client.in_multi) {
    ctx.w.error(errors::kExecWithoutMulti);
    return Outcome::kDone;
  }
  auto queue = std::move(ctx.client.multi_queue);
  const bool aborted = ctx.client.multi_error;
  ctx.client.in_multi = false;
  ctx.client.multi_error = false;
  ctx.client.multi_queue.clear();
  ctx.client.multi_bytes = 0;
  const bool watched_changed = !aborted && watch_exec_aborts(ctx);
  watch_clear(ctx);
  if (aborted) {
    ctx.w.error(errors::kExecAbort);
    return Outcome::kDone;
  }
  if (watched_changed) {  // a watched key changed: nothing runs
    ctx.w.null_array();
    return Outcome::kDone;
  }
  ctx.w.array(queue.size());
  CommandContext inner{ctx.engine, ctx.host, ctx.client, ctx.w, ctx.now, false};
  Outcome outcome = Outcome::kDone;
  std::vector<std::string_view> args;
  // No transaction holds the loop longer than a script may (scripting.max_ms): past it the
  // commands left are not run and each says so, as a script's stop does (availability first;
  // what ran is kept, as Redis keeps what a failing transaction did). The time counted is the
  // loop thread's CPU time, so a process descheduled on a loaded machine never cuts a short
  // transaction; the cheap wall clock decides when it is worth reading.
  const std::int64_t budget_ms = ctx.host.exec_budget_ms();
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t cpu_start = thread_cpu_ms();
  std::string stopped;
  const auto stop_text = [&] {
    return "ERR transaction stopped after " + std::to_string(thread_cpu_ms() - cpu_start) +
           " ms; this command did not run";
  };
  // server.max_reply_bytes bounds the whole EXEC reply, but each command ran already when its
  // reply passes it: that command alone answers `ERR reply too large` (its reply cut back), so
  // every command that ran is answered. Room is kept for the commands left to answer at least a
  // "did not run" (when the queue is short enough for that to fit); once a command would not
  // find room even for its error, it and the rest do not run and say so.
  ExecReplyBound bound(ctx.w, queue.size());
  for (const auto& cmd : queue) {
    if (stopped.empty() && budget_ms > 0 && &cmd != &queue.front() &&
        std::chrono::steady_clock::now() - start > std::chrono::milliseconds(budget_ms)) {
      const std::int64_t ms = thread_cpu_ms() - cpu_start;
      if (ms > budget_ms) stopped = stop_text();
    }
    if (stopped.empty() && !bound.begin_command()) stopped = stop_text();
    if (!stopped.empty()) {
      bound.write_unbounded(stopped);
      continue;
    }
    args.assign(cmd.begin(), cmd.end());
    if (execute(inner, args) == Outcome::kClose) outcome = Outcome::kClose;
    bound.end_command();
  }
  bound.finish();
  return outcome;
}

}  // namespace semlock::redis
