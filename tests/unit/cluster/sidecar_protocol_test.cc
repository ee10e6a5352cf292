// The sidecar frame codec: every message decodes from its bytes, every prefix is "need more",
// and bad input is refused with the reason.
#include <boost/test/unit_test.hpp>

#include "cluster/sidecar_protocol.h"

namespace semlock::cluster {
namespace {

std::string status_frame() {
  std::string p;
  put_u64(p, 2);   // id
  put_u64(p, 1);   // leader
  put_u64(p, 7);   // term
  put_u8(p, 2);    // leader role
  put_u64(p, 40);  // commit
  put_u64(p, 39);  // applied
  put_u32(p, 2);
  put_u64(p, 1);
  put_bytes(p, "127.0.0.1:7001");
  put_bytes(p, "127.0.0.1:8001");
  put_u64(p, 2);
  put_bytes(p, "127.0.0.1:7002");
  put_bytes(p, "127.0.0.1:8002");
  std::string f;
  encode_frame(MsgType::kStatus, p, f);
  return f;
}

std::string entries_frame(std::uint64_t first, std::uint64_t second) {
  std::string p;
  put_u32(p, 2);
  put_u64(p, first);
  put_u64(p, 3);
  put_u8(p, 0);
  put_bytes(p, "");
  put_u64(p, second);
  put_u64(p, 3);
  put_u8(p, 1);
  put_bytes(p, R"({"op":"add","id":"4"})");
  std::string f;
  encode_frame(MsgType::kEntries, p, f);
  return f;
}

BOOST_AUTO_TEST_SUITE(sidecar_protocol)

BOOST_AUTO_TEST_CASE(status_decodes_and_every_prefix_needs_more) {
  const std::string f = status_frame();
  for (std::size_t n = 0; n < f.size(); ++n) {
    BOOST_TEST((decode_frame(std::string_view(f).substr(0, n)).status == FrameStatus::kNeedMore));
  }
  const FrameResult r = decode_frame(f + "trailing");
  BOOST_TEST((r.status == FrameStatus::kOk));
  BOOST_TEST(r.consumed == f.size());
  const auto& s = std::get<StatusMsg>(r.message);
  BOOST_TEST(s.id == 2u);
  BOOST_TEST(s.leader_id == 1u);
  BOOST_TEST(s.term == 7u);
  BOOST_TEST((s.role == Role::kLeader));
  BOOST_TEST(s.commit_index == 40u);
  BOOST_TEST(s.applied_index == 39u);
  BOOST_TEST(s.members.size() == 2u);
  BOOST_TEST(s.members[1].raft == "127.0.0.1:7002");
  BOOST_TEST(s.members[1].client == "127.0.0.1:8002");
}

BOOST_AUTO_TEST_CASE(entries_decode_in_order) {
  const FrameResult r = decode_frame(entries_frame(5, 6));
  BOOST_TEST((r.status == FrameStatus::kOk));
  const auto& e = std::get<EntriesMsg>(r.message);
  BOOST_TEST(e.entries.size() == 2u);
  BOOST_TEST(e.entries[0].index == 5u);
  BOOST_TEST(e.entries[0].data.empty());
  BOOST_TEST(e.entries[1].kind == 1);
  BOOST_TEST(e.entries[1].data == R"({"op":"add","id":"4"})");
}

BOOST_AUTO_TEST_CASE(entries_with_a_gap_are_refused) {
  const FrameResult r = decode_frame(entries_frame(5, 7));
  BOOST_TEST((r.status == FrameStatus::kError));
  BOOST_TEST(r.error == "ENTRIES: indexes not consecutive");
}

BOOST_AUTO_TEST_CASE(small_messages_decode) {
  std::string p;
  put_u64(p, 9);
  put_bytes(p, "not leader");
  std::string f;
  encode_frame(MsgType::kProposeFailed, p, f);
  p.clear();
  put_u64(p, 11);
  put_u64(p, 77);
  encode_frame(MsgType::kReadIndexOk, p, f);
  p.clear();
  put_u64(p, 12);
  put_u8(p, 0);
  put_bytes(p, "member 4 exists");
  encode_frame(MsgType::kConfResult, p, f);
  p.clear();
  put_u64(p, 100);
  put_u64(p, 4);
  put_bytes(p, "SNAPDATA");
  encode_frame(MsgType::kSnapshotInstall, p, f);

  std::string_view rest = f;
  FrameResult r = decode_frame(rest);
  BOOST_TEST(std::get<ProposeFailedMsg>(r.message).reason == "not leader");
  rest.remove_prefix(r.consumed);
  r = decode_frame(rest);
  BOOST_TEST(std::get<ReadIndexOkMsg>(r.message).index == 77u);
  rest.remove_prefix(r.consumed);
  r = decode_frame(rest);
  BOOST_TEST(std::get<ConfResultMsg>(r.message).ok == false);
  BOOST_TEST(std::get<ConfResultMsg>(r.message).error == "member 4 exists");
  rest.remove_prefix(r.consumed);
  r = decode_frame(rest);
  BOOST_TEST(std::get<SnapshotInstallMsg>(r.message).data == "SNAPDATA");
  BOOST_TEST(std::get<SnapshotInstallMsg>(r.message).term == 4u);
  BOOST_TEST(r.consumed == rest.size());
}

BOOST_AUTO_TEST_CASE(bad_frames_are_refused_with_the_reason) {
  std::string zero;
  put_u32(zero, 0);
  BOOST_TEST(decode_frame(zero).error == "bad frame length 0");
  std::string huge;
  put_u32(huge, kMaxFrameBytes + 1);
  BOOST_TEST(decode_frame(huge).error == "bad frame length " + std::to_string(kMaxFrameBytes + 1));
  std::string unknown;
  encode_frame(static_cast<MsgType>(99), "x", unknown);
  BOOST_TEST(decode_frame(unknown).error == "unknown message type 99");
  std::string request;  // a server -> sidecar type is not something the sidecar sends
  encode_resync(request);
  BOOST_TEST(decode_frame(request).error == "unknown message type 5");
  std::string shortp;
  encode_frame(MsgType::kReadIndexOk, std::string(12, '\0'), shortp);
  BOOST_TEST(decode_frame(shortp).error == "message type 14 cut short");
  std::string longp;
  encode_frame(MsgType::kReadIndexOk, std::string(17, '\0'), longp);
  BOOST_TEST(decode_frame(longp).error == "message type 14 has 1 bytes left over");
  std::string role;
  std::string p;
  put_u64(p, 1);
  put_u64(p, 0);
  put_u64(p, 1);
  put_u8(p, 9);
  put_u64(p, 0);
  put_u64(p, 0);
  put_u32(p, 0);
  encode_frame(MsgType::kStatus, p, role);
  BOOST_TEST(decode_frame(role).error == "STATUS: unknown role 9");
  // A member count far past the payload: cut short, not a huge allocation.
  std::string many;
  p.clear();
  put_u64(p, 1);
  put_u64(p, 0);
  put_u64(p, 1);
  put_u8(p, 0);
  put_u64(p, 0);
  put_u64(p, 0);
  put_u32(p, 0xFFFFFFFF);
  encode_frame(MsgType::kStatus, p, many);
  BOOST_TEST(decode_frame(many).error == "message type 10 cut short");
}

BOOST_AUTO_TEST_CASE(requests_are_framed_as_agreed) {
  std::string f;
  encode_propose(0x0102030405060708ull, "abc", f);
  const std::string want_propose = std::string("\x10\x00\x00\x00\x01", 5) +
                                   std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8) +
                                   std::string("\x03\x00\x00\x00", 4) + "abc";
  BOOST_TEST(f == want_propose);
  f.clear();
  encode_resync(f);
  BOOST_TEST(f == std::string("\x01\x00\x00\x00\x05", 5));
  f.clear();
  encode_conf_change(1, 2, 4, "r:1", "c:2", f);
  Reader r(std::string_view(f).substr(5));
  BOOST_TEST(f.size() == 5u + 8 + 1 + 8 + 7 + 7);
  BOOST_TEST(r.u64() == 1u);
  BOOST_TEST(r.u8() == 2);
  BOOST_TEST(r.u64() == 4u);
  BOOST_TEST(r.bytes() == "r:1");
  BOOST_TEST(r.bytes() == "c:2");
  BOOST_TEST(r.at_end());
  f.clear();
  encode_snapshot_taken(42, "/d/engine-42.snap", f);
  BOOST_TEST(f.size() == 5u + 8 + 4 + 17);
  f.clear();
  encode_read_index(3, f);
  encode_transfer(2, f);
  BOOST_TEST(f.size() == 2u * (5 + 8));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace semlock::cluster
