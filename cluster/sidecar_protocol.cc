#include "cluster/sidecar_protocol.h"

#include <cstring>

namespace semlock::cluster {

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_bytes(std::string& out, std::string_view v) {
  put_u32(out, static_cast<std::uint32_t>(v.size()));
  out.append(v);
}

bool Reader::take(std::size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}
std::uint8_t Reader::u8() {
  if (!take(1)) return 0;
  return static_cast<std::uint8_t>(data_[pos_++]);
}
std::uint32_t Reader::u32() {
  if (!take(4)) return 0;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= std::uint32_t{static_cast<unsigned char>(data_[pos_ + static_cast<std::size_t>(i)])}
         << (8 * i);
  }
  pos_ += 4;
  return v;
}
std::uint64_t Reader::u64() {
  if (!take(8)) return 0;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(data_[pos_ + static_cast<std::size_t>(i)])}
         << (8 * i);
  }
  pos_ += 8;
  return v;
}
std::string Reader::bytes() {
  const std::uint32_t n = u32();
  if (!take(n)) return {};
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}

void encode_frame(MsgType type, std::string_view payload, std::string& out) {
  put_u32(out, static_cast<std::uint32_t>(payload.size() + 1));
  put_u8(out, static_cast<std::uint8_t>(type));
  out.append(payload);
}

namespace {

// Appends the frame header for a payload of `payload_bytes`, to be followed by the payload.
void begin(MsgType type, std::size_t payload_bytes, std::string& out) {
  put_u32(out, static_cast<std::uint32_t>(payload_bytes + 1));
  put_u8(out, static_cast<std::uint8_t>(type));
}

}  // namespace

void encode_propose(std::uint64_t tag, std::string_view data, std::string& out) {
  begin(MsgType::kPropose, 8 + 4 + data.size(), out);
  put_u64(out, tag);
  put_bytes(out, data);
}

void encode_conf_change(std::uint64_t tag, std::uint8_t op, std::uint64_t id, std::string_view raft,
                        std::string_view client, std::string& out) {
  begin(MsgType::kConfChange, 8 + 1 + 8 + 4 + raft.size() + 4 + client.size(), out);
  put_u64(out, tag);
  put_u8(out, op);
  put_u64(out, id);
  put_bytes(out, raft);
  put_bytes(out, client);
}

void encode_snapshot_taken(std::uint64_t index, std::string_view path, std::string& out) {
  begin(MsgType::kSnapshotTaken, 8 + 4 + path.size(), out);
  put_u64(out, index);
  put_bytes(out, path);
}

void encode_read_index(std::uint64_t tag, std::string& out) {
  begin(MsgType::kReadIndex, 8, out);
  put_u64(out, tag);
}

void encode_resync(std::string& out) {
  begin(MsgType::kResync, 0, out);
}

void encode_ping(std::string& out) {
  begin(MsgType::kPing, 0, out);
}

void encode_transfer(std::uint64_t target, std::string& out) {
  begin(MsgType::kTransfer, 8, out);
  put_u64(out, target);
}

namespace {

bool decode_payload(MsgType type, Reader& r, Message& m, std::string& error) {
  switch (type) {
    case MsgType::kStatus: {
      StatusMsg s;
      s.id = r.u64();
      s.leader_id = r.u64();
      s.term = r.u64();
      const std::uint8_t role = r.u8();
      if (r.ok() && role > 3) {
        error = "STATUS: unknown role " + std::to_string(role);
        return false;
      }
      s.role = static_cast<Role>(role);
      s.commit_index = r.u64();
      s.applied_index = r.u64();
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        MemberInfo mi;
        mi.id = r.u64();
        mi.raft = r.bytes();
        mi.client = r.bytes();
        s.members.push_back(std::move(mi));
      }
      m = std::move(s);
      return true;
    }
    case MsgType::kEntries: {
      EntriesMsg e;
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        Entry en;
        en.index = r.u64();
        en.term = r.u64();
        en.kind = r.u8();
        en.data = r.bytes();
        if (r.ok() && en.kind > 1) {
          error = "ENTRIES: unknown entry kind " + std::to_string(en.kind);
          return false;
        }
        if (r.ok() && !e.entries.empty() && en.index != e.entries.back().index + 1) {
          error = "ENTRIES: indexes not consecutive";
          return false;
        }
        e.entries.push_back(std::move(en));
      }
      m = std::move(e);
      return true;
    }
    case MsgType::kProposeFailed: {
      ProposeFailedMsg p;
      p.tag = r.u64();
      p.reason = r.bytes();
      m = std::move(p);
      return true;
    }
    case MsgType::kSnapshotInstall: {
      SnapshotInstallMsg s;
      s.index = r.u64();
      s.term = r.u64();
      s.data = r.bytes();
      m = std::move(s);
      return true;
    }
    case MsgType::kReadIndexOk: {
      ReadIndexOkMsg o;
      o.tag = r.u64();
      o.index = r.u64();
      m = o;
      return true;
    }
    case MsgType::kReadIndexFailed: {
      ReadIndexFailedMsg f;
      f.tag = r.u64();
      f.reason = r.bytes();
      m = std::move(f);
      return true;
    }
    case MsgType::kConfResult: {
      ConfResultMsg c;
      c.tag = r.u64();
      c.ok = r.u8() != 0;
      c.error = r.bytes();
      m = std::move(c);
      return true;
    }
    default:
      error = "unknown message type " + std::to_string(static_cast<int>(type));
      return false;
  }
}

}  // namespace

FrameResult decode_frame(std::string_view data) {
  FrameResult out;
  if (data.size() < 4) return out;
  Reader head(data.substr(0, 4));
  const std::uint32_t n = head.u32();
  if (n == 0 || n > kMaxFrameBytes) {
    out.status = FrameStatus::kError;
    out.error = "bad frame length " + std::to_string(n);
    return out;
  }
  if (data.size() - 4 < n) return out;
  const auto type = static_cast<MsgType>(static_cast<std::uint8_t>(data[4]));
  Reader r(data.substr(5, n - 1));
  std::string error;
  if (!decode_payload(type, r, out.message, error)) {
    out.status = FrameStatus::kError;
    out.error = error;
    return out;
  }
  if (!r.ok()) {
    out.status = FrameStatus::kError;
    out.error = "message type " + std::to_string(static_cast<int>(type)) + " cut short";
    return out;
  }
  if (!r.at_end()) {
    out.status = FrameStatus::kError;
    out.error = "message type " + std::to_string(static_cast<int>(type)) + " has " +
                std::to_string(n - 1 - r.pos()) + " bytes left over";
    return out;
  }
  out.status = FrameStatus::kOk;
  out.consumed = 4 + static_cast<std::size_t>(n);
  return out;
}

}  // namespace semlock::cluster
