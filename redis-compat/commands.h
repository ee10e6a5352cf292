// Executing RESP commands: the dispatcher (lookup, arity, auth, admin, MULTI queueing) and the
// handlers it calls. The server hands every parsed command to execute().
#pragma once

#include <string>
#include <vector>

#include "redis-compat/command_table.h"
#include "redis-compat/context.h"

namespace semlock::redis {

// Runs one command (argv[0] is its name) and writes its reply. `spec_out`, when non-null, gets the
// command's table entry (nullptr for an unknown command) so the caller can label metrics.
Outcome execute(CommandContext& ctx, Args argv, const CommandSpec** spec_out = nullptr);

// Keys for SEMLOCK.LIST and JSON list: up to `count` live keys matching `match`.
std::vector<std::string> list_keys(Engine& engine, std::string_view match, std::size_t count,
                                   Millis now);

// Handlers (command_table.cc refers to them).
Outcome cmd_acquire(CommandContext& ctx, Args argv);
Outcome cmd_release(CommandContext& ctx, Args argv);
Outcome cmd_extend(CommandContext& ctx, Args argv);
Outcome cmd_exists(CommandContext& ctx, Args argv);
Outcome cmd_info(CommandContext& ctx, Args argv);
Outcome cmd_forcerelease(CommandContext& ctx, Args argv);
Outcome cmd_scan(CommandContext& ctx, Args argv);
Outcome cmd_list(CommandContext& ctx, Args argv);
Outcome cmd_stats(CommandContext& ctx, Args argv);
Outcome cmd_acquireall(CommandContext& ctx, Args argv);  // commands_multi.cc
Outcome cmd_releaseall(CommandContext& ctx, Args argv);
Outcome cmd_heartbeat(CommandContext& ctx, Args argv);        // commands_lock.cc
Outcome cmd_semlock_cluster(CommandContext& ctx, Args argv);  // each SEMLOCK.CLUSTER subcommand
// [owner, [fence, ...]]: SEMLOCK.ACQUIREALL's grant (also written for a waiter's grant).
void write_acquire_all_reply(resp::Writer& w, std::string_view owner,
                             const std::vector<std::uint64_t>& fences);

Outcome cmd_set(CommandContext& ctx, Args argv);
Outcome cmd_get(CommandContext& ctx, Args argv);
Outcome cmd_del(CommandContext& ctx, Args argv);
Outcome cmd_exists_keys(CommandContext& ctx, Args argv);
Outcome cmd_pexpire(CommandContext& ctx, Args argv);
Outcome cmd_expire(CommandContext& ctx, Args argv);
Outcome cmd_pttl(CommandContext& ctx, Args argv);
Outcome cmd_ttl(CommandContext& ctx, Args argv);
Outcome cmd_delex(CommandContext& ctx, Args argv);
Outcome cmd_delifeq(CommandContext& ctx, Args argv);

Outcome cmd_eval(CommandContext& ctx, Args argv);
Outcome cmd_evalsha(CommandContext& ctx, Args argv);
Outcome cmd_script_load(CommandContext& ctx, Args argv);
Outcome cmd_script_exists(CommandContext& ctx, Args argv);
Outcome cmd_script_flush(CommandContext& ctx, Args argv);
Outcome cmd_script_kill(CommandContext& ctx, Args argv);

Outcome cmd_ping(CommandContext& ctx, Args argv);
Outcome cmd_echo(CommandContext& ctx, Args argv);
Outcome cmd_quit(CommandContext& ctx, Args argv);
Outcome cmd_reset(CommandContext& ctx, Args argv);
Outcome cmd_hello(CommandContext& ctx, Args argv);
Outcome cmd_auth(CommandContext& ctx, Args argv);
Outcome cmd_select(CommandContext& ctx, Args argv);
Outcome cmd_client_setname(CommandContext& ctx, Args argv);
Outcome cmd_client_getname(CommandContext& ctx, Args argv);
Outcome cmd_client_id(CommandContext& ctx, Args argv);
Outcome cmd_client_setinfo(CommandContext& ctx, Args argv);
Outcome cmd_client_info(CommandContext& ctx, Args argv);
Outcome cmd_client_list(CommandContext& ctx, Args argv);
Outcome cmd_info_server(CommandContext& ctx, Args argv);
Outcome cmd_command(CommandContext& ctx, Args argv);
Outcome cmd_command_count(CommandContext& ctx, Args argv);
Outcome cmd_command_info(CommandContext& ctx, Args argv);
Outcome cmd_command_docs(CommandContext& ctx, Args argv);
Outcome cmd_command_list(CommandContext& ctx, Args argv);
Outcome cmd_dbsize(CommandContext& ctx, Args argv);
Outcome cmd_time(CommandContext& ctx, Args argv);
Outcome cmd_multi(CommandContext& ctx, Args argv);
Outcome cmd_exec(CommandContext& ctx, Args argv);
Outcome cmd_discard(CommandContext& ctx, Args argv);

Outcome cmd_subscribe(CommandContext& ctx, Args argv);  // pubsub.cc
Outcome cmd_unsubscribe(CommandContext& ctx, Args argv);
Outcome cmd_psubscribe(CommandContext& ctx, Args argv);
Outcome cmd_punsubscribe(CommandContext& ctx, Args argv);
Outcome cmd_publish(CommandContext& ctx, Args argv);
Outcome cmd_semlock_publish(CommandContext& ctx, Args argv);
Outcome cmd_pubsub_channels(CommandContext& ctx, Args argv);
Outcome cmd_pubsub_numsub(CommandContext& ctx, Args argv);
Outcome cmd_pubsub_numpat(CommandContext& ctx, Args argv);
Outcome cmd_watch(CommandContext& ctx, Args argv);  // watch.cc
Outcome cmd_unwatch(CommandContext& ctx, Args argv);

// CONFIG (commands_config.cc): the Host's settings.
Outcome cmd_config_get(CommandContext& ctx, Args argv);
Outcome cmd_config_set(CommandContext& ctx, Args argv);
Outcome cmd_config_rewrite(CommandContext& ctx, Args argv);

}  // namespace semlock::redis
