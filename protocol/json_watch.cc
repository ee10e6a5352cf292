// The `keys` array of a JSON watch request (SPEC §4 extension: lost-lock notices). Read apart
// from decode_request(): only this action has an array field, and only its lines pay for
// reading it.
#include <rapidjson/document.h>

#include "protocol/json_codec.h"

namespace semlock::json {

std::variant<std::vector<std::string>, std::string> decode_watch_keys(std::string_view line,
                                                                      std::size_t max_keys) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::string("invalid JSON");
  const rapidjson::Value& root = doc;  // const iterators on both sides (clang's C++20 == rule)
  const auto it = root.FindMember("keys");
  if (it == root.MemberEnd()) return std::string("keys: required");
  if (!it->value.IsArray()) return std::string("keys: must be an array of strings");
  const auto& arr = it->value;
  if (arr.Empty()) return std::string("keys: must not be empty");
  if (arr.Size() > max_keys) {
    return "keys: at most " + std::to_string(max_keys) + " keys per connection";
  }
  std::vector<std::string> keys;
  keys.reserve(arr.Size());
  for (const auto& v : arr.GetArray()) {
    if (!v.IsString()) return std::string("keys: must be an array of strings");
    if (v.GetStringLength() == 0) return std::string("keys: must not contain an empty key");
    keys.emplace_back(v.GetString(), v.GetStringLength());
  }
  return keys;
}

}  // namespace semlock::json
