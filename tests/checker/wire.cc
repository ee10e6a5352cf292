#include "tests/checker/wire.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "tests/checker/driver.h"

namespace semlock::checker {

bool read_one_reply(it::RawClient& raw, Proto proto, Nanos deadline, it::RespValue& resp,
                    std::string& line, bool& timed_out) {
  timed_out = false;
  bool ok = false;
  for (;;) {
    Nanos left = deadline - steady_now();
    if (left <= 0) {
      timed_out = true;
      return false;
    }
    ok = raw.read_until(
        [&](std::string_view buf) {
          if (proto == Proto::kJson) {
            auto nl = buf.find('\n');
            if (nl == std::string_view::npos) return false;
            line.assign(buf.substr(0, nl));
            raw.buffer().erase(0, nl + 1);
            return true;
          }
          std::size_t used = 0;
          auto v = it::parse_resp(buf, used);
          if (!v) return false;
          resp = std::move(*v);
          raw.buffer().erase(0, used);
          return true;
        },
        it::Ms{std::min<Nanos>(left / kMs + 1, 200)});
    if (ok) return true;
    if (raw.peer_closed()) return false;
  }
}

void interpret(Op& op, Proto proto, const it::RespValue& v, const std::string& line) {
  if (proto == Proto::kJson) {
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("success") || !d["success"].IsBool()) {
      op.result = Result::kError;
      op.error = "bad JSON reply: " + line;
      return;
    }
    if (d.HasMember("error")) {
      op.result = Result::kError;
      op.error = line;
      return;
    }
    bool ok = d["success"].GetBool();
    const rapidjson::Value* data = ok && d.HasMember("data") ? &d["data"] : nullptr;
    switch (op.kind) {
      case OpKind::kAcquire:
      case OpKind::kRefresh:
        op.result = ok ? Result::kGranted : Result::kNotGranted;
        if (ok && data != nullptr && data->HasMember("fence") && (*data)["fence"].IsUint64()) {
          op.fence = (*data)["fence"].GetUint64();
        }
        return;
      case OpKind::kRelease:
      case OpKind::kExtend:
        op.result = ok ? Result::kOne : Result::kZero;
        return;
      case OpKind::kForce:
        op.result = Result::kCount;
        op.count = data != nullptr && data->HasMember("released") && (*data)["released"].IsInt64()
                       ? (*data)["released"].GetInt64()
                       : 0;
        return;
    }
    return;
  }
  if (v.is_error()) {
    op.result = Result::kError;
    op.error = v.str;
    return;
  }
  switch (op.kind) {
    case OpKind::kAcquire:
    case OpKind::kRefresh:
      if (op.path == Path::kSetNx) {
        op.result = v.type == it::RespValue::Type::kSimple && v.str == "OK" ? Result::kGranted
                    : v.type == it::RespValue::Type::kNull                  ? Result::kNotGranted
                                                                            : Result::kError;
      } else if (v.type == it::RespValue::Type::kArray && v.elements.size() == 2) {
        op.result = Result::kGranted;
        op.fence = static_cast<std::uint64_t>(v.elements[1].integer);
        if (v.elements[0].str != op.owner) {
          op.result = Result::kError;
          op.error = "granted to another owner: " + v.debug();
        }
      } else if (v.type == it::RespValue::Type::kNull) {
        op.result = Result::kNotGranted;
      } else {
        op.result = Result::kError;
        op.error = "unexpected reply " + v.debug();
      }
      if (op.result == Result::kError && op.error.empty()) op.error = v.debug();
      return;
    case OpKind::kRelease:
    case OpKind::kExtend:
      if (v.type == it::RespValue::Type::kInteger && (v.integer == 0 || v.integer == 1)) {
        op.result = v.integer == 1 ? Result::kOne : Result::kZero;
      } else {
        op.result = Result::kError;
        op.error = "unexpected reply " + v.debug();
      }
      return;
    case OpKind::kForce:
      op.result = Result::kCount;
      op.count = v.integer;
      return;
  }
}

void fill_info(Info& info, const it::RespValue& v) {
  if (v.type == it::RespValue::Type::kNull) {
    info.null_reply = true;
    return;
  }
  if (const auto* w = v.field("waiters")) info.waiters = w->integer;
  if (const auto* hs = v.field("holders")) {
    for (const auto& e : hs->elements) {
      if (e.elements.size() < 2) continue;
      info.holders.push_back({e.elements[0].str, static_cast<std::uint64_t>(e.elements[1].integer),
                              e.elements.size() >= 3 ? e.elements[2].integer : 0});
    }
  }
}

}  // namespace semlock::checker
