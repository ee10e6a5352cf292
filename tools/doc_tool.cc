// ttl-semlock-doc: prints what the documentation is generated from or checked against, read from
// the live tables, so docs/ cannot drift from the code unnoticed (tests/docs):
//   ttl-semlock-doc config-md   the reference part of docs/CONFIGURATION.md: every key of the key
//                               table (config/keys.cc) with its environment variable, flag, type,
//                               default and help, then the --help text
//   ttl-semlock-doc commands    every RESP command of the command table (redis-compat), one per
//                               line, upper case; subcommands as "CLIENT SETNAME"
#include <cctype>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/keys.h"
#include "redis-compat/command_table.h"

namespace {

using semlock::config::detail::KeyKind;
using semlock::config::detail::KeySpec;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string code(std::string_view text) { return "`" + cell(text) + "`"; }

// key path -> flag, read from --help, whose lines name "[<path>, env ...]".
std::map<std::string, std::string> flags_by_path(const std::string& help) {
  std::map<std::string, std::string> out;
  std::string flag;
  std::size_t pos = 0;
  while (pos < help.size()) {
    std::size_t end = help.find('\n', pos);
    if (end == std::string::npos) end = help.size();
    const std::string_view line(help.data() + pos, end - pos);
    if (line.starts_with("  --")) flag = std::string(line.substr(2, line.find(' ', 2) - 2));
    if (const std::size_t open = line.rfind(" ["); open != std::string_view::npos && !flag.empty()) {
      const std::size_t comma = line.find(", env ", open);
      if (comma != std::string_view::npos) out[std::string(line.substr(open + 2, comma - open - 2))] = flag;
    }
    pos = end + 1;
  }
  return out;
}

int config_md() {
  const char* argv[] = {"ttl-semlock", "--help"};
  const std::string help = semlock::config::load(2, argv, nullptr).output;
  const auto flags = flags_by_path(help);
  const semlock::config::Config defaults;
  std::string out;
  std::string section = "\x01";
  for (const KeySpec& key : semlock::config::detail::all_keys()) {
    if (key.kind != KeyKind::kCurrent) continue;
    if (key.section != section) {
      section = std::string(key.section);
      out += "\n### `" + section + "`\n\n";
      out += "| Key | Environment variable | Flag | Type | Default | Meaning |\n";
      out += "|---|---|---|---|---|---|\n";
    }
    const auto flag = flags.find(key.path());
    out += "| " + code(key.path()) + " | " + code(key.env_name()) + " | " +
           (flag == flags.end() ? std::string("—") : code(flag->second)) + " | " +
           code(key.value_name) + " | " + code(key.show(defaults)) + " | " + cell(key.help) + " |\n";
  }
  out += "\n### Older names\n\n";
  out += "Accepted so that configurations written for earlier releases keep loading.\n\n";
  out += "| Key | Where | Meaning |\n|---|---|---|\n";
  for (const KeySpec& key : semlock::config::detail::all_keys()) {
    if (key.kind == KeyKind::kLegacy) {
      out += "| " + code(key.path()) + " | file only | " + cell(key.help) + " |\n";
    } else if (key.kind == KeyKind::kDeprecated) {
      out += "| " + code(key.path()) + " | file, " + code(key.env_name()) +
             " | accepted and ignored, with a warning in the log |\n";
    }
  }
  out += "\n### Command line (`ttl-semlock --help`)\n\n```text\n" + help + "```\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

int commands() {
  for (const auto& cmd : semlock::redis::all_commands()) {
    std::printf("%s\n", upper(cmd.name).c_str());
    for (const auto& sub : cmd.subcommands) {
      std::string name = upper(sub.name);
      if (const std::size_t bar = name.find('|'); bar != std::string::npos) name[bar] = ' ';
      std::printf("%s\n", name.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc == 2 ? argv[1] : "";
  if (mode == "config-md") return config_md();
  if (mode == "commands") return commands();
  std::fprintf(stderr, "usage: ttl-semlock-doc config-md|commands\n");
  return 2;
}
