// COMMAND, COMMAND COUNT|INFO|DOCS|LIST, rendered from the command table (so redis-cli shows
// arity-correct hints for SEMLOCK.*).
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "redis-compat/args.h"
#include "redis-compat/command_docs.h"
#include "redis-compat/commands.h"

namespace semlock::redis {
namespace {

std::vector<std::string_view> flag_names(const CommandSpec& spec) {
  std::vector<std::string_view> names;
  if (spec.flags & kWrite) names.push_back("write");
  if (spec.flags & kReadonly) names.push_back("readonly");
  if (spec.flags & kAdmin) names.push_back("admin");
  if (spec.flags & kBlocking) names.push_back("blocking");
  if (spec.flags & kNoAuth) names.push_back("no_auth");
  if (spec.flags & kNoMulti) names.push_back("no_multi");
  if (spec.flags & kNoScript) names.push_back("noscript");
  if (spec.flags & kLoading) names.push_back("loading");
  if (spec.flags & kStale) names.push_back("stale");
  if (spec.flags & kFast) names.push_back("fast");
  if (spec.flags & kKeyNum) names.push_back("movablekeys");
  return names;
}

// A command's one key spec up to its find_keys spec, a map of 3 the caller writes (then "notes"):
// its flags, begin_search at argument `index`, find_keys of type `find_type`.
void begin_key_spec(resp::Writer& w, const CommandSpec& spec, std::int64_t index,
                    std::string_view find_type) {
  w.array(1);
  w.map(4);
  w.bulk("flags");
  w.set(1);
  w.simple((spec.flags & kWrite) ? "RW" : "RO");
  w.bulk("begin_search");
  w.map(2);
  w.bulk("type");
  w.bulk("index");
  w.bulk("spec");
  w.map(1);
  w.bulk("index");
  w.integer(index);
  w.bulk("find_keys");
  w.map(2);
  w.bulk("type");
  w.bulk(find_type);
  w.bulk("spec");
  w.map(3);
}

// Redis's key spec for EVAL-style keys: the count at index 2, the keys right after it.
void write_keynum_spec(resp::Writer& w, const CommandSpec& spec) {
  begin_key_spec(w, spec, 2, "keynum");
  w.bulk("keynumidx");
  w.integer(0);
  w.bulk("firstkey");
  w.integer(1);
  w.bulk("keystep");
  w.integer(1);
  w.bulk("notes");
  w.bulk("");
}

void write_info(resp::Writer& w, const CommandSpec& spec) {
  w.array(10);
  w.bulk(spec.name);
  w.integer(spec.arity);
  const auto flags = flag_names(spec);
  w.set(flags.size());
  for (auto f : flags) w.simple(f);
  w.integer(spec.first_key);
  w.integer(spec.last_key);
  w.integer(spec.key_step);
  w.set(0);  // ACL categories
  w.set(0);  // tips
  if (spec.flags & kKeyNum) {
    write_keynum_spec(w, spec);
  } else if (spec.first_key > 0) {
    // One key spec: begin_search index, find_keys range.
    begin_key_spec(w, spec, spec.first_key, "range");
    w.bulk("lastkey");
    w.integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
    w.bulk("keystep");
    w.integer(spec.key_step);
    w.bulk("limit");
    w.integer(0);
    w.bulk("notes");
    w.bulk("");
  } else {
    w.array(0);
  }
  w.array(spec.subcommands.size());
  for (const auto& sub : spec.subcommands) write_info(w, sub);
}

void write_docs(resp::Writer& w, const CommandSpec& spec) {
  const auto args = parse_syntax(spec.syntax);
  const bool has_subs = !spec.subcommands.empty();
  w.map(4 + (args.empty() ? 0 : 1) + (has_subs ? 1 : 0));
  w.bulk("summary");
  w.bulk(spec.summary);
  w.bulk("since");
  w.bulk(spec.since);
  w.bulk("group");
  w.bulk(spec.group);
  w.bulk("complexity");
  w.bulk("O(1)");
  if (!args.empty()) {
    w.bulk("arguments");
    write_doc_args(w, args);
  }
  if (has_subs) {
    w.bulk("subcommands");
    w.map(spec.subcommands.size());
    for (const auto& sub : spec.subcommands) {
      w.bulk(sub.name);
      write_docs(w, sub);
    }
  }
}

}  // namespace

Outcome cmd_command(CommandContext& ctx, Args) {
  const auto all = all_commands();
  ctx.w.array(all.size());
  for (const auto& spec : all) write_info(ctx.w, spec);
  return Outcome::kDone;
}

Outcome cmd_command_count(CommandContext& ctx, Args) {
  ctx.w.integer(static_cast<std::int64_t>(all_commands().size()));
  return Outcome::kDone;
}

Outcome cmd_command_info(CommandContext& ctx, Args argv) {
  if (argv.size() == 2) return cmd_command(ctx, argv);
  ctx.w.array(argv.size() - 2);
  for (std::size_t i = 2; i < argv.size() && !ctx.w.over_limit(); ++i) {
    const CommandSpec* spec = find_command(argv[i]);
    if (spec) {
      write_info(ctx.w, *spec);
    } else {
      ctx.w.null_array();
    }
  }
  return Outcome::kDone;
}

Outcome cmd_command_docs(CommandContext& ctx, Args argv) {
  std::vector<const CommandSpec*> specs;
  if (argv.size() == 2) {
    for (const auto& spec : all_commands()) specs.push_back(&spec);
  } else {
    for (std::size_t i = 2; i < argv.size(); ++i) {
      if (const CommandSpec* spec = find_command(argv[i])) specs.push_back(spec);
    }
  }
  ctx.w.map(specs.size());
  for (const CommandSpec* spec : specs) {
    // Past server.max_reply_bytes the reply is dropped anyway: stop building it.
    if (ctx.w.over_limit()) break;
    ctx.w.bulk(spec->name);
    write_docs(ctx.w, *spec);
  }
  return Outcome::kDone;
}

Outcome cmd_command_list(CommandContext& ctx, Args argv) {
  std::string_view pattern;
  if (argv.size() == 5 && iequals(argv[2], "FILTERBY") && iequals(argv[3], "PATTERN")) {
    pattern = argv[4];
  } else if (argv.size() != 2) {
    ctx.w.error("ERR syntax error");
    return Outcome::kDone;
  }
  std::vector<std::string_view> names;
  for (const auto& spec : all_commands()) {
    if (pattern.empty() || glob_match(pattern, spec.name)) names.push_back(spec.name);
  }
  ctx.w.array(names.size());
  for (auto n : names) ctx.w.bulk(n);
  return Outcome::kDone;
}

}  // namespace semlock::redis
