// ttl-semlock: load the configuration (flags > environment > file > defaults), set up logging,
// run the server. Exit codes: 0 clean shutdown, 1 cannot start (port taken, log file, or the
// persisted state is refused: a damaged journal or snapshot, an unknown file format version, a
// key over its limit — the message names the file and offset or the key; docs/PERSISTENCE.md),
// 2 invalid configuration. --repair-journal starts despite journal damage or keys over their
// limit, saying what it cut or dropped.
#include <csignal>
#include <cstdio>

#include "config/config.h"
#include "server/healthcheck.h"
#include "server/logging.h"
#include "server/protect.h"
#include "server/server.h"

extern char** environ;

int main(int argc, char** argv) {
  // A peer that closed its socket must not kill the server on the next write.
  std::signal(SIGPIPE, SIG_IGN);
  semlock::config::LoadResult loaded = semlock::config::load(argc, argv, environ);
  if (loaded.check_config && loaded.exit_code == 0) {
    // What start-up would still refuse: names that do not resolve, certificates that do not load.
    if (const std::string e = semlock::protect::preflight(loaded.config); !e.empty()) {
      std::fprintf(stderr, "%s\n", e.c_str());
      return 2;
    }
  }
  if (loaded.action == semlock::config::LoadAction::kExit) {
    if (!loaded.output.empty()) std::fputs(loaded.output.c_str(), stdout);
    if (!loaded.error.empty()) std::fprintf(stderr, "%s\n", loaded.error.c_str());
    return loaded.exit_code;
  }
  if (loaded.healthcheck) return semlock::run_healthcheck(loaded.config);
  const auto& cfg = loaded.config;
  const std::string err =
      semlock::log::setup({cfg.logging.level, cfg.logging.format, cfg.logging.file});
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  semlock::Server server(std::move(loaded.config));
  server.set_repair_journal(loaded.repair_journal);
  // SIGHUP loads flags > environment > file again (unsaved CONFIG SET changes are replaced).
  server.set_reloader([argc, argv] { return semlock::config::load(argc, argv, environ); });
  return server.run();
}
