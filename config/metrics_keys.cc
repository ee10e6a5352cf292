// metrics.key_prefixes: the label values of the per-prefix wait metrics (server/wait_metrics.cc).
#include <string>

#include "config/keys.h"

namespace semlock::config::detail {

namespace {
constexpr std::size_t kMaxPrefixes = 64;
}  // namespace

void add_metrics_prefix_key(std::vector<KeySpec>& keys) {
  keys.push_back(KeySpec{
      "metrics", "key_prefixes",
      "key prefixes that get their own prefix label in the wait metrics (longest match wins; "
      "every other key is prefix=\"other\"); at most 64, none empty",
      "LIST", KeyKind::kCurrent,
      [](Config& c, const Input& in) -> std::string {
        auto parsed = read_list(in);
        if (!parsed.value) return parsed.error;
        if (parsed.value->size() > kMaxPrefixes) {
          return "at most " + std::to_string(kMaxPrefixes) + " prefixes, got " +
                 std::to_string(parsed.value->size());
        }
        for (const std::string& p : *parsed.value) {
          if (p.empty()) return "a prefix must not be empty";
          if (p == "other") return "\"other\" is the label of every other key, not a prefix";
        }
        c.metrics.key_prefixes = std::move(*parsed.value);
        return {};
      },
      [](const Config& c) {
        std::string s = "[";
        for (const std::string& p : c.metrics.key_prefixes) {
          if (s.size() > 1) s += ",";
          s += quote(p);
        }
        s += "]";
        return s;
      }});
}

}  // namespace semlock::config::detail
