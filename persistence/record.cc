// Record framing and payload codec (see record.h for the layout).
#include "persistence/record.h"

#include <array>

namespace semlock::persist {
namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
void put_u16(std::string& out, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Reads little-endian fields from a payload; latches the first overrun.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }
  std::uint64_t uint(std::size_t bytes) {
    if (!ok_ || data_.size() - pos_ < bytes) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      v |= std::uint64_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
    }
    pos_ += bytes;
    return v;
  }
  std::string bytes(std::size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void encode_record(const Record& r, std::string& out) {
  std::string payload;
  payload.reserve(32 + r.key.size() + r.owner.size());
  put_u8(payload, static_cast<std::uint8_t>(r.type));
  put_u64(payload, r.fence);
  if (r.type != RecordType::kFenceReservation) {
    if (r.type == RecordType::kHold) {
      put_u64(payload, static_cast<std::uint64_t>(r.wall_deadline_ms));
      put_u32(payload, r.limit);
    }
    const std::string_view key = std::string_view(r.key).substr(0, 0xFFFF);
    const std::string_view owner = std::string_view(r.owner).substr(0, 0xFF);
    put_u16(payload, static_cast<std::uint16_t>(key.size()));
    payload.append(key);
    put_u8(payload, static_cast<std::uint8_t>(owner.size()));
    payload.append(owner);
  }
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  out.append(payload);
}

DecodeResult decode_record(std::string_view data) {
  DecodeResult r;
  if (data.size() < kFrameHeaderBytes) {
    r.status = DecodeStatus::kTruncated;
    r.error = "record header cut short";
    return r;
  }
  Reader header(data.substr(0, kFrameHeaderBytes));
  const std::size_t length = header.uint(4);
  const auto crc = static_cast<std::uint32_t>(header.uint(4));
  if (length == 0 || length > kMaxPayloadBytes) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "bad record length " + std::to_string(length);
    return r;
  }
  if (data.size() - kFrameHeaderBytes < length) {
    r.status = DecodeStatus::kTruncated;
    r.error = "record cut short";
    return r;
  }
  const std::string_view payload = data.substr(kFrameHeaderBytes, length);
  if (crc32c(payload) != crc) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "checksum mismatch";
    return r;
  }
  Reader in(payload);
  const auto type = static_cast<std::uint8_t>(in.uint(1));
  r.record.fence = in.uint(8);
  if (type == static_cast<std::uint8_t>(RecordType::kHold) ||
      type == static_cast<std::uint8_t>(RecordType::kDrop)) {
    r.record.type = static_cast<RecordType>(type);
    if (r.record.type == RecordType::kHold) {
      r.record.wall_deadline_ms = static_cast<std::int64_t>(in.uint(8));
      r.record.limit = static_cast<std::uint32_t>(in.uint(4));
    }
    r.record.key = in.bytes(in.uint(2));
    r.record.owner = in.bytes(in.uint(1));
  } else if (type == static_cast<std::uint8_t>(RecordType::kFenceReservation)) {
    r.record.type = RecordType::kFenceReservation;
  } else {
    r.status = DecodeStatus::kCorrupt;
    r.error = "unknown record type " + std::to_string(type);
    return r;
  }
  if (!in.ok() || !in.at_end()) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "malformed record payload";
    return r;
  }
  r.consumed = kFrameHeaderBytes + length;
  return r;
}

}  // namespace semlock::persist
