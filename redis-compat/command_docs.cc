#include "redis-compat/command_docs.h"

namespace semlock::redis {
namespace {

bool is_upper_word(std::string_view w) {
  if (w.empty()) return false;
  for (const char c : w) {
    if (!((c >= 'A' && c <= 'Z') || c == '-' || (c >= '0' && c <= '9'))) return false;
  }
  return w[0] >= 'A' && w[0] <= 'Z';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits at top level (outside brackets): items are words or whole [bracketed] groups.
std::vector<std::string_view> split_items(std::string_view s) {
  std::vector<std::string_view> items;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t j = i;
    if (s[i] == '[') {
      int depth = 0;
      for (; j < s.size(); ++j) {
        if (s[j] == '[') ++depth;
        if (s[j] == ']' && --depth == 0) break;
      }
      j = j < s.size() ? j + 1 : s.size();
    } else {
      while (j < s.size() && s[j] != ' ') ++j;
    }
    items.push_back(s.substr(i, j - i));
    i = j;
  }
  return items;
}

// Splits at top-level " | ".
std::vector<std::string_view> split_alternatives(std::string_view s) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']') --depth;
    if (depth == 0 && s[i] == '|') {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  parts.push_back(trim(s.substr(start)));
  return parts;
}

DocArg parse_group(std::string_view s);

// A sequence of items: `name [name ...]` collapses into one multiple argument.
std::vector<DocArg> parse_sequence(std::string_view s) {
  std::vector<DocArg> args;
  for (const std::string_view item : split_items(s)) {
    if (item.front() == '[') {
      const std::string_view inner = item.substr(1, item.size() - 2);
      // "[x ...]" right after "x": the previous argument repeats.
      if (!args.empty() && inner.size() > 4 && inner.substr(inner.size() - 4) == " ...") {
        const std::string_view repeated = trim(inner.substr(0, inner.size() - 4));
        DocArg& prev = args.back();
        if (repeated == prev.name || repeated == prev.token + " " + prev.name) {
          prev.multiple = true;
          continue;
        }
      }
      DocArg arg = parse_group(inner);
      arg.optional = true;
      args.push_back(std::move(arg));
    } else if (item == "..." && !args.empty()) {
      args.back().multiple = true;
    } else {
      DocArg arg;
      arg.name = is_upper_word(item) ? lower(item) : std::string(item);
      if (is_upper_word(item)) {
        arg.token = std::string(item);
        arg.type = "pure-token";
      } else {
        arg.type = arg.name == "key" ? "key" : "string";
      }
      // TOKEN value: one argument with a token.
      if (!args.empty() && args.back().type == "pure-token" && arg.type != "pure-token" &&
          !args.back().optional && !args.back().multiple) {
        args.back().name = arg.name;
        args.back().type = arg.type;
        continue;
      }
      args.push_back(std::move(arg));
    }
  }
  return args;
}

// The inside of brackets, or one alternative: one argument (oneof, block or simple).
DocArg parse_group(std::string_view s) {
  const auto alternatives = split_alternatives(s);
  if (alternatives.size() > 1) {
    DocArg arg;
    arg.type = "oneof";
    for (const std::string_view alt : alternatives) {
      DocArg member = parse_group(alt);
      if (!arg.name.empty()) arg.name += "-";
      arg.name += member.name;
      arg.arguments.push_back(std::move(member));
    }
    return arg;
  }
  std::vector<DocArg> seq = parse_sequence(s);
  if (seq.size() == 1) return std::move(seq.front());
  DocArg block;
  block.type = "block";
  for (const auto& a : seq) {
    if (!block.name.empty()) block.name += "-";
    block.name += a.name;
  }
  block.arguments = std::move(seq);
  return block;
}

void write_arg(resp::Writer& w, const DocArg& a) {
  const bool has_display = a.type != "oneof" && a.type != "block" && a.type != "pure-token";
  const std::size_t flags = (a.optional ? 1 : 0) + (a.multiple ? 1 : 0);
  w.map(2 + (has_display ? 1 : 0) + (a.type == "key" ? 1 : 0) + (a.token.empty() ? 0 : 1) +
        (flags ? 1 : 0) + (a.arguments.empty() ? 0 : 1));
  w.bulk("name");
  w.bulk(a.name);
  w.bulk("type");
  w.bulk(a.type);
  if (has_display) {
    w.bulk("display_text");
    w.bulk(a.name);
  }
  if (a.type == "key") {
    w.bulk("key_spec_index");
    w.integer(0);  // every command here has one key spec
  }
  if (!a.token.empty()) {
    w.bulk("token");
    w.bulk(a.token);
  }
  if (flags) {
    w.bulk("flags");
    w.set(flags);
    if (a.optional) w.simple("optional");
    if (a.multiple) w.simple("multiple");
  }
  if (!a.arguments.empty()) {
    w.bulk("arguments");
    w.array(a.arguments.size());
    for (const auto& sub : a.arguments) write_arg(w, sub);
  }
}

}  // namespace

std::vector<DocArg> parse_syntax(std::string_view syntax) {
  return parse_sequence(trim(syntax));
}

void write_doc_args(resp::Writer& w, const std::vector<DocArg>& args) {
  w.array(args.size());
  for (const auto& a : args) write_arg(w, a);
}

}  // namespace semlock::redis
