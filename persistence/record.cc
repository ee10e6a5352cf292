// Record framing and payload codec (see record.h for the layout).
#include "persistence/record.h"

namespace semlock::persist {
namespace {

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

std::string encode_payload(const Record& r) {
  std::string payload;
  payload.reserve(32 + r.key.size() + r.owner.size());
  put_u8(payload, static_cast<std::uint8_t>(r.type));
  put_u64(payload, r.fence);
  if (r.type == RecordType::kData) {
    put_u64(payload, static_cast<std::uint64_t>(r.wall_deadline_ms));
    const std::string_view key = std::string_view(r.key).substr(0, 0xFFFF);
    put_u16(payload, static_cast<std::uint16_t>(key.size()));
    payload.append(key);
    put_u32(payload, static_cast<std::uint32_t>(r.data.size()));
    for (const std::string& a : r.data) {
      put_u32(payload, static_cast<std::uint32_t>(a.size()));
      payload.append(a);
    }
  } else if (r.type != RecordType::kFenceReservation) {
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
    if (r.type == RecordType::kHold && (r.shared || r.holds != 1 || r.notify || r.lived)) {
      put_u8(payload, static_cast<std::uint8_t>((r.shared ? 1 : 0) | (r.notify ? 2 : 0) |
                                                (r.lived ? 4 : 0)));  // format 3
      put_u32(payload, r.holds);
    }
    if (r.type == RecordType::kDrop && r.reason != 0) put_u8(payload, r.reason);
  }
  return payload;
}

std::uint32_t get_u32(std::string_view data) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= std::uint32_t{static_cast<unsigned char>(data[i])} << (8 * i);
  return v;
}

// The payload of a frame whose header checked out: type and fields.
void decode_payload(std::string_view payload, DecodeResult& r) {
  Reader in(payload);
  const auto type = static_cast<std::uint8_t>(in.uint(1));
  r.record.fence = in.uint(8);
  if (type == static_cast<std::uint8_t>(RecordType::kHold) ||
      type == static_cast<std::uint8_t>(RecordType::kDrop) ||
      type == static_cast<std::uint8_t>(RecordType::kLived)) {
    r.record.type = static_cast<RecordType>(type);
    if (r.record.type == RecordType::kHold) {
      r.record.wall_deadline_ms = static_cast<std::int64_t>(in.uint(8));
      r.record.limit = static_cast<std::uint32_t>(in.uint(4));
    }
    r.record.key = in.bytes(in.uint(2));
    r.record.owner = in.bytes(in.uint(1));
    if (r.record.type == RecordType::kHold && in.ok() && !in.at_end()) {
      const auto flags = in.uint(1);
      r.record.shared = (flags & 1) != 0;
      r.record.notify = (flags & 2) != 0;
      r.record.lived = (flags & 4) != 0;
      r.record.holds = static_cast<std::uint32_t>(in.uint(4));
      if (r.record.holds == 0) r.record.holds = 1;
    } else if (r.record.type == RecordType::kDrop && in.ok() && !in.at_end()) {
      r.record.reason = static_cast<std::uint8_t>(in.uint(1));  // format 3: a NOTIFY drop's reason
      if (r.record.reason > 4) {  // engine LostReason: 0..4; an index into per-reason counters
        r.status = DecodeStatus::kCorrupt;
        r.error = "unknown lost-lock reason " + std::to_string(r.record.reason);
        return;
      }
    }
  } else if (type == static_cast<std::uint8_t>(RecordType::kFenceReservation)) {
    r.record.type = RecordType::kFenceReservation;
  } else if (type == static_cast<std::uint8_t>(RecordType::kData)) {
    r.record.type = RecordType::kData;
    r.record.wall_deadline_ms = static_cast<std::int64_t>(in.uint(8));
    r.record.key = in.bytes(in.uint(2));
    const std::uint64_t n = in.uint(4);
    for (std::uint64_t i = 0; i < n && in.ok(); ++i) r.record.data.push_back(in.bytes(in.uint(4)));
  } else {
    r.status = DecodeStatus::kCorrupt;
    r.error = "unknown record type " + std::to_string(type);
    return;
  }
  if (!in.ok() || !in.at_end()) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "malformed record payload";
  }
}

FileHeader read_header(std::string_view data, std::string_view magic) {
  FileHeader h;
  if (data.size() < kFileHeaderBytes || data.substr(0, magic.size()) != magic) {
    h.status = FileHeader::Status::kDamaged;
    h.error = "not a " + std::string(magic) + " file header";
    return h;
  }
  if (crc32c(data.substr(0, 12)) != get_u32(data.substr(12, 4))) {
    h.status = FileHeader::Status::kDamaged;
    h.error = "file header checksum mismatch";
    return h;
  }
  h.version = get_u32(data.substr(8, 4));
  if (h.version != kFormatVersion && h.version != kFormat2Version) {
    h.status = FileHeader::Status::kUnknown;
    h.error = "unknown format version " + std::to_string(h.version) + " (this build reads " +
              std::to_string(kLegacyFormatVersion) + " to " + std::to_string(kFormatVersion) + ")";
    return h;
  }
  h.status = FileHeader::Status::kOk;
  h.bytes = kFileHeaderBytes;
  return h;
}

}  // namespace

std::string file_header(std::string_view magic, std::uint32_t version) {
  std::string out(magic.substr(0, 8));
  out.resize(8, '\0');
  put_u32(out, version);
  put_u32(out, crc32c(out));
  return out;
}

FileHeader read_journal_header(std::string_view data) {
  FileHeader h;
  if (data.empty()) {
    h.status = FileHeader::Status::kOk;
    h.version = kFormatVersion;
    return h;
  }
  // A journal being created when the machine stopped: zeros, or part of its header.
  if (data.find_first_not_of('\0') == std::string_view::npos ||
      (data.size() < kFileHeaderBytes && file_header(kJournalMagic).starts_with(data))) {
    h.status = FileHeader::Status::kTorn;
    h.version = kFormatVersion;
    return h;
  }
  // Records from byte 0: format 1 (a format-1 record never starts with "SEML").
  if (!data.starts_with(kMagicPrefix)) return h;
  return read_header(data, kJournalMagic);
}

FileHeader read_snapshot_header(std::string_view data) {
  if (data.starts_with(kLegacySnapshotMagic)) {
    FileHeader h;
    h.status = FileHeader::Status::kOk;
    h.version = kLegacyFormatVersion;
    h.bytes = kLegacySnapshotMagic.size();
    return h;
  }
  return read_header(data, kSnapshotMagic);
}

void encode_record(const Record& r, std::string& out) {
  const std::string payload = encode_payload(r);
  const std::size_t start = out.size();
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  put_u32(out, crc32c(std::string_view(out).substr(start, 8)));
  out.append(payload);
}

void encode_record_v1(const Record& r, std::string& out) {
  const std::string payload = encode_payload(r);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32c(payload));
  out.append(payload);
}

DecodeResult decode_record(std::string_view data, std::uint32_t version) {
  DecodeResult r;
  const bool v1 = version == kLegacyFormatVersion;
  const std::size_t header_bytes = v1 ? kLegacyFrameHeaderBytes : kFrameHeaderBytes;
  if (data.size() < header_bytes) {
    r.status = DecodeStatus::kTruncated;
    r.error = "record header cut short";
    return r;
  }
  const std::size_t length = get_u32(data);
  const std::uint32_t crc = get_u32(data.substr(4));
  if (!v1 && crc32c(data.substr(0, 8)) != get_u32(data.substr(8))) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "record header checksum mismatch";
    return r;
  }
  if (length == 0 || length > (v1 ? kMaxPayloadBytes : kMaxDataPayloadBytes)) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "bad record length " + std::to_string(length);
    return r;
  }
  if (data.size() - header_bytes < length) {
    r.status = DecodeStatus::kTruncated;
    r.error = "record cut short";
    return r;
  }
  r.header_ok = true;
  r.frame_bytes = header_bytes + length;
  const std::string_view payload = data.substr(header_bytes, length);
  if (crc32c(payload) != crc) {
    r.status = DecodeStatus::kCorrupt;
    r.error = "checksum mismatch";
    return r;
  }
  decode_payload(payload, r);
  if (r.status != DecodeStatus::kOk) return r;
  r.consumed = r.frame_bytes;
  return r;
}

}  // namespace semlock::persist
