// Connection and introspection commands, answered as Redis 7.2 answers them.
#include <fmt/format.h>

#include <string>

#include "config/version.h"
#include "redis-compat/args.h"
#include "redis-compat/commands.h"
#include "redis-compat/errors.h"

namespace semlock::redis {

Outcome cmd_ping(CommandContext& ctx, Args argv) {
  if (argv.size() > 2) {
    ctx.w.error("ERR wrong number of arguments for 'ping' command");
  } else if (argv.size() == 2) {
    ctx.w.bulk(argv[1]);
  } else {
    ctx.w.simple("PONG");
  }
  return Outcome::kDone;
}

Outcome cmd_echo(CommandContext& ctx, Args argv) {
  ctx.w.bulk(argv[1]);
  return Outcome::kDone;
}

Outcome cmd_quit(CommandContext& ctx, Args) {
  ctx.w.simple("OK");
  return Outcome::kClose;
}

Outcome cmd_reset(CommandContext& ctx, Args) {
  ClientState& c = ctx.client;
  c.in_multi = false;
  c.multi_error = false;
  c.multi_queue.clear();
  c.multi_bytes = 0;
  c.name.clear();
  c.proto = 2;
  ctx.w.set_proto(2);
  // Redis's RESET re-authenticates the connection as the default user: no admin rights, and
  // unauthenticated when a key is required.
  c.admin = false;
  if (ctx.host.auth_required()) c.authenticated = false;
  ctx.w.simple("RESET");
  return Outcome::kDone;
}

namespace {

// Applies an API key to the client; writes the error and returns false when it is refused.
// As in Redis 7 (checked against redis-server 7.0: AUTH then ACL WHOAMI), the latest successful
// AUTH decides the connection's rights, so a user key after an admin key drops admin rights; a
// failed AUTH changes nothing, so a connection that had authenticated stays authenticated as
// before.
bool authenticate(CommandContext& ctx, std::optional<std::string_view> user,
                  std::string_view pass) {
  if (user && *user != "default") {
    ctx.host.check_api_key("");  // counted and logged as a failure, as a wrong key
    ctx.w.error(errors::kWrongPass);
    return false;
  }
  switch (ctx.host.check_api_key(pass)) {
    case AuthResult::kOk:
      ctx.client.authenticated = true;
      ctx.client.admin = false;
      return true;
    case AuthResult::kOkAdmin:
      ctx.client.authenticated = true;
      ctx.client.admin = true;
      return true;
    case AuthResult::kNotConfigured:
      if (user) {  // "AUTH default x" with no password: Redis's default user has nopass
        ctx.client.authenticated = true;
        ctx.client.admin = false;
        return true;
      }
      ctx.w.error(errors::kAuthNotConfigured);
      return false;
    case AuthResult::kWrongPass:
      break;
  }
  ctx.w.error(errors::kWrongPass);
  return false;
}

bool valid_client_name(std::string_view name) {
  for (const char c : name) {
    if (c < '!' || c > '~') return false;  // Redis: no spaces, newlines or special characters
  }
  return true;
}

constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// Redis has no hard cap on these; a name is kept per connection and shown by CLIENT LIST, so an
// unbounded one lets each client park a megabyte. The server counts them as connection memory.
constexpr std::size_t kMaxClientNameBytes = 1024;
constexpr std::size_t kMaxLibInfoBytes = 128;
constexpr std::string_view kLongClientName = "ERR Client names cannot be longer than 1024 bytes.";
constexpr std::string_view kLongLibInfo =
    "ERR lib-name and lib-ver cannot be longer than 128 bytes.";

// The error for an unacceptable client name, or empty when it is fine.
std::string_view client_name_error(std::string_view name) {
  if (name.size() > kMaxClientNameBytes) return kLongClientName;
  if (!valid_client_name(name)) return kBadClientName;
  return {};
}

}  // namespace

Outcome cmd_auth(CommandContext& ctx, Args argv) {
  if (argv.size() > 3) {
    ctx.w.error(errors::kSyntax);
    return Outcome::kDone;
  }
  const std::optional<std::string_view> user =
      argv.size() == 3 ? std::optional<std::string_view>(argv[1]) : std::nullopt;
  if (authenticate(ctx, user, argv.back())) ctx.w.simple("OK");
  return Outcome::kDone;
}

Outcome cmd_hello(CommandContext& ctx, Args argv) {
  int proto = ctx.client.proto;
  std::size_t i = 1;
  if (argv.size() >= 2) {
    const auto v = parse_int64(argv[1]);
    if (!v) {
      ctx.w.error("ERR Protocol version is not an integer or out of range");
      return Outcome::kDone;
    }
    if (*v < 2 || *v > 3) {
      ctx.w.error(errors::kNoProto);
      return Outcome::kDone;
    }
    proto = static_cast<int>(*v);
    i = 2;
  }
  std::optional<std::pair<std::string_view, std::string_view>> auth;
  std::optional<std::string_view> setname;
  for (; i < argv.size(); ++i) {
    const std::size_t left = argv.size() - i - 1;
    if (iequals(argv[i], "AUTH") && left >= 2) {
      auth = std::make_pair(argv[i + 1], argv[i + 2]);
      i += 2;
    } else if (iequals(argv[i], "SETNAME") && left >= 1) {
      setname = argv[++i];
    } else {
      ctx.w.error("ERR Syntax error in HELLO option '" + std::string(argv[i]) + "'");
      return Outcome::kDone;
    }
  }
  if (auth && !authenticate(ctx, auth->first, auth->second)) return Outcome::kDone;
  if (ctx.host.auth_required() && !ctx.client.authenticated) {
    ctx.w.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
    return Outcome::kDone;
  }
  if (setname) {
    if (const std::string_view e = client_name_error(*setname); !e.empty()) {
      ctx.w.error(e);
      return Outcome::kDone;
    }
    ctx.client.name = std::string(*setname);
  }
  ctx.client.proto = proto;
  ctx.w.set_proto(proto);
  resp::Writer& w = ctx.w;
  w.map(7);
  w.bulk("server");
  w.bulk("ttl-semlock");
  w.bulk("version");
  w.bulk(kRedisApiVersion);
  w.bulk("proto");
  w.integer(proto);
  w.bulk("id");
  w.integer(static_cast<std::int64_t>(ctx.client.id));
  w.bulk("mode");
  w.bulk("standalone");
  w.bulk("role");
  w.bulk("master");
  w.bulk("modules");
  w.array(0);
  return Outcome::kDone;
}

Outcome cmd_select(CommandContext& ctx, Args argv) {
  const auto v = parse_int64(argv[1]);
  if (!v) {
    ctx.w.error(errors::kNotInteger);
  } else if (*v != 0) {
    ctx.w.error(errors::kSelectOutOfRange);
  } else {
    ctx.w.simple("OK");
  }
  return Outcome::kDone;
}

Outcome cmd_client_setname(CommandContext& ctx, Args argv) {
  if (const std::string_view e = client_name_error(argv[2]); !e.empty()) {
    ctx.w.error(e);
    return Outcome::kDone;
  }
  ctx.client.name = std::string(argv[2]);
  ctx.w.simple("OK");
  return Outcome::kDone;
}

Outcome cmd_client_getname(CommandContext& ctx, Args) {
  if (ctx.client.name.empty()) {
    ctx.w.null();
  } else {
    ctx.w.bulk(ctx.client.name);
  }
  return Outcome::kDone;
}

Outcome cmd_client_id(CommandContext& ctx, Args) {
  ctx.w.integer(static_cast<std::int64_t>(ctx.client.id));
  return Outcome::kDone;
}

Outcome cmd_client_setinfo(CommandContext& ctx, Args argv) {
  if (argv[3].size() > kMaxLibInfoBytes) {
    ctx.w.error(kLongLibInfo);
    return Outcome::kDone;
  }
  if (!valid_client_name(argv[3])) {
    ctx.w.error("ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.");
    return Outcome::kDone;
  }
  if (iequals(argv[2], "LIB-NAME")) {
    ctx.client.lib_name = std::string(argv[3]);
  } else if (iequals(argv[2], "LIB-VER")) {
    ctx.client.lib_ver = std::string(argv[3]);
  } else {
    ctx.w.error("ERR Unrecognized option '" + std::string(argv[2]) + "'");
    return Outcome::kDone;
  }
  ctx.w.simple("OK");
  return Outcome::kDone;
}

Outcome cmd_client_info(CommandContext& ctx, Args) {
  ctx.w.verbatim(ctx.host.client_info(ctx.client));
  return Outcome::kDone;
}

Outcome cmd_client_list(CommandContext& ctx, Args) {
  ctx.w.verbatim(ctx.host.client_list());
  return Outcome::kDone;
}

Outcome cmd_info_server(CommandContext& ctx, Args argv) {
  std::string text;
  if (argv.size() == 1) {
    text = ctx.host.info("");
  } else {
    for (std::size_t i = 1; i < argv.size(); ++i) text += ctx.host.info(argv[i]);
  }
  ctx.w.verbatim(text);
  return Outcome::kDone;
}

Outcome cmd_dbsize(CommandContext& ctx, Args) {
  const EngineStats s = ctx.engine.stats();
  ctx.w.integer(static_cast<std::int64_t>(s.active_locks + s.data_keys));
  return Outcome::kDone;
}

Outcome cmd_time(CommandContext& ctx, Args) {
  const std::int64_t us = ctx.host.unix_time_us();
  ctx.w.array(2);
  ctx.w.bulk(std::to_string(us / 1000000));
  ctx.w.bulk(std::to_string(us % 1000000));
  return Outcome::kDone;
}

}  // namespace semlock::redis
