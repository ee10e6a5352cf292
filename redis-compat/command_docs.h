// COMMAND DOCS arguments, parsed from a command table entry's syntax text (the form Redis's
// documentation uses): `key`, `TOKEN name`, `[optional]`, `name [name ...]` or `name ...`
// (multiple), `A | B` (oneof), and several words in one group (block). redis-cli 7 builds its
// hints from exactly these fields (name, type, token, flags, arguments).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/resp_writer.h"

namespace semlock::redis {

struct DocArg {
  std::string name;
  std::string type;   // key, string, integer, pure-token, oneof, block
  std::string token;  // the literal word before the value ("PX"), if any
  bool optional = false;
  bool multiple = false;
  std::vector<DocArg> arguments;  // oneof / block members
};

// Parses a syntax text into arguments. Never fails: unknown shapes become string arguments.
std::vector<DocArg> parse_syntax(std::string_view syntax);

// Writes the arguments array of COMMAND DOCS.
void write_doc_args(resp::Writer& w, const std::vector<DocArg>& args);

}  // namespace semlock::redis
