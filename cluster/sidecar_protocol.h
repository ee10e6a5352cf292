// The messages between the server and its Raft sidecar (`ttl-semlock-raft`, replication/), over
// a Unix stream socket: frames [u32 LE n][u8 type][payload of n-1 bytes], little-endian
// integers, `bytes` = u32 LE length + bytes, `str` = bytes holding UTF-8. docs/CLUSTER.md has
// the table of message types. Pure functions over bytes: no sockets, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace semlock::cluster {

// Largest frame either side accepts (a snapshot of a full engine travels in one frame).
inline constexpr std::uint32_t kMaxFrameBytes = 512u * 1024 * 1024;

enum class MsgType : std::uint8_t {
  // server -> sidecar
  kPropose = 1,
  kConfChange = 2,
  kSnapshotTaken = 3,
  kReadIndex = 4,
  kResync = 5,
  kTransfer = 6,
  kPing = 7,  // the server's loop is alive (every heartbeat); a silent server loses leadership
  // sidecar -> server
  kStatus = 10,
  kEntries = 11,
  kProposeFailed = 12,
  kSnapshotInstall = 13,
  kReadIndexOk = 14,
  kReadIndexFailed = 15,
  kConfResult = 16,
};

// --- encoding (server -> sidecar), each appends one whole frame to `out` ---
void encode_propose(std::uint64_t tag, std::string_view data, std::string& out);
void encode_conf_change(std::uint64_t tag, std::uint8_t op, std::uint64_t id, std::string_view raft,
                        std::string_view client, std::string& out);
void encode_snapshot_taken(std::uint64_t index, std::string_view path, std::string& out);
void encode_read_index(std::uint64_t tag, std::string& out);
void encode_resync(std::string& out);
void encode_transfer(std::uint64_t target, std::string& out);
void encode_ping(std::string& out);

// --- decoding (sidecar -> server) ---
struct MemberInfo {
  std::uint64_t id = 0;
  std::string raft;
  std::string client;
};
enum class Role : std::uint8_t { kFollower = 0, kCandidate = 1, kLeader = 2, kPreCandidate = 3 };
struct StatusMsg {
  std::uint64_t id = 0;
  std::uint64_t leader_id = 0;
  std::uint64_t term = 0;
  Role role = Role::kFollower;
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
  std::vector<MemberInfo> members;
};
struct Entry {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint8_t kind = 0;  // 0 normal, 1 conf change
  std::string data;
};
struct EntriesMsg {
  std::vector<Entry> entries;
};
struct ProposeFailedMsg {
  std::uint64_t tag = 0;
  std::string reason;
};
struct SnapshotInstallMsg {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::string data;
};
struct ReadIndexOkMsg {
  std::uint64_t tag = 0;
  std::uint64_t index = 0;
};
struct ReadIndexFailedMsg {
  std::uint64_t tag = 0;
  std::string reason;
};
struct ConfResultMsg {
  std::uint64_t tag = 0;
  bool ok = false;
  std::string error;
};
using Message = std::variant<StatusMsg, EntriesMsg, ProposeFailedMsg, SnapshotInstallMsg,
                             ReadIndexOkMsg, ReadIndexFailedMsg, ConfResultMsg>;

enum class FrameStatus : std::uint8_t { kOk, kNeedMore, kError };
struct FrameResult {
  FrameStatus status = FrameStatus::kNeedMore;
  std::size_t consumed = 0;  // kOk: bytes of the frame
  Message message;           // kOk
  std::string error;         // kError: what was wrong (the stream cannot be trusted after it)
};

// Decodes the first frame of `data` (a sidecar -> server message). kNeedMore when the frame is
// not complete yet; kError for a zero or oversized length, an unknown type, or a payload that
// does not parse exactly (short, or bytes left over).
FrameResult decode_frame(std::string_view data);

// For tests and tools: a whole frame of type `type` around `payload`.
void encode_frame(MsgType type, std::string_view payload, std::string& out);

// Little-endian building blocks, shared with the entry codec.
void put_u8(std::string& out, std::uint8_t v);
void put_u32(std::string& out, std::uint32_t v);
void put_u64(std::string& out, std::uint64_t v);
void put_bytes(std::string& out, std::string_view v);

// Reads fields in order; the first short read latches `ok = false` (and later reads return 0).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string bytes();
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }
  std::size_t pos() const { return pos_; }

 private:
  bool take(std::size_t n);
  std::string_view data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace semlock::cluster
