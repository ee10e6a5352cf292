// Fuzzes JSON line framing and request decoding. Checked properties: framing never reads past
// the input and makes progress; decoding never crashes; an echoed id and the reply encoders
// produce exactly one line of valid JSON (valid UTF-8 too) that decodes back: the key survives the
// round trip, except that invalid UTF-8 in it comes back as U+FFFD (as Go's encoder writes it).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include <rapidjson/document.h>

#include "protocol/json_codec.h"

namespace {
// A small arena keeps the reply check cheap (Document's default pool starts at 64 KB).
struct SmallDocument {
  char buffer[4096];
  rapidjson::MemoryPoolAllocator<> arena{buffer, sizeof buffer};
  rapidjson::Document doc{&arena};
};

void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (true) {
    const auto line = semlock::json::next_line(in, 4096);
    if (line.status != semlock::json::LineStatus::kLine) {
      require(line.consumed == 0);
      break;
    }
    require(line.consumed > 0 && line.consumed <= in.size());
    const auto decoded = semlock::json::decode_request(line.line);
    std::string out;
    if (const auto* req = std::get_if<semlock::json::Request>(&decoded)) {
      semlock::json::write_acquired(out, req->id_raw, req->key, req->owner.value_or(""), 1,
                                    req->ttl_ms.value_or(0));
      SmallDocument d;
      auto& doc = d.doc;
      doc.Parse<rapidjson::kParseValidateEncodingFlag>(out.data(), out.size() - 1);
      require(!doc.HasParseError() && doc.IsObject());
      const auto& key = doc["data"]["key"];
      const std::string_view echoed(key.GetString(), key.GetStringLength());
      if (echoed != req->key) {
        // Only a replacement may differ: the input had a byte >= 0x80, the echo has U+FFFD.
        bool high = false;
        for (const char ch : req->key) high = high || static_cast<unsigned char>(ch) >= 0x80;
        require(high && echoed.find("\xEF\xBF\xBD") != std::string_view::npos);
      }
    } else {
      const auto& err = std::get<semlock::json::DecodeError>(decoded);
      require(!err.message.empty());
      semlock::json::write_error(out, err.id_raw, err.message, "BADREQUEST");
      SmallDocument d;
      d.doc.Parse<rapidjson::kParseValidateEncodingFlag>(out.data(), out.size() - 1);
      require(!d.doc.HasParseError() && d.doc.IsObject());
    }
    require(out.find('\n') == out.size() - 1);
    in.remove_prefix(line.consumed);
  }
  return 0;
}
