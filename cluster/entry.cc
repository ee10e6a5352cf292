#include "cluster/entry.h"

#include "cluster/sidecar_protocol.h"

namespace semlock::cluster {

void begin_entry(const EntryHeader& header, std::string& out) {
  put_u8(out, kEntryVersion);
  put_u64(out, header.proposer);
  put_u64(out, header.seq);
  put_u64(out, header.next_fence);
}

DecodedEntry decode_entry(std::string_view data) {
  DecodedEntry out;
  Reader r(data);
  const std::uint8_t version = r.u8();
  out.header.proposer = r.u64();
  out.header.seq = r.u64();
  out.header.next_fence = r.u64();
  if (!r.ok()) {
    out.error = "entry shorter than its header (" + std::to_string(data.size()) + " bytes)";
    return out;
  }
  out.version = version;
  if (version > kEntryVersion) {
    out.newer = true;
    out.error = "entry version " + std::to_string(version) + " was written by a newer ttl-semlock (this build reads versions " +
                std::to_string(kOldestEntryVersion) + " to " + std::to_string(kEntryVersion) +
                ")";
    return out;
  }
  if (version < kOldestEntryVersion) {
    out.error = "entry of unknown version " + std::to_string(version);
    return out;
  }
  std::size_t pos = kEntryHeaderBytes;
  while (pos < data.size()) {
    persist::DecodeResult d = persist::decode_record(data.substr(pos));
    if (d.status != persist::DecodeStatus::kOk) {
      out.error = "bad record at offset " + std::to_string(pos) + " of the entry: " + d.error;
      return out;
    }
    if (d.record.type == persist::RecordType::kFenceReservation) {
      out.error = "fence reservation record in an entry at offset " + std::to_string(pos);
      return out;
    }
    pos += d.consumed;
    out.records.push_back(std::move(d.record));
  }
  out.ok = true;
  return out;
}

std::string entry_refusal(const DecodedEntry& e, std::uint64_t index) {
  std::string out = "Cluster: the committed entry at index " + std::to_string(index) +
                    " does not decode (" + e.error + ")";
  if (e.newer) {
    out += "; this member cannot follow the group's log and stops: upgrade it to the version "
           "the leader runs (upgrade every member before the leader)";
  }
  return out;
}

std::string encode_snapshot(std::string_view records, std::uint64_t next_fence) {
  std::string out = persist::file_header(persist::kSnapshotMagic);
  out.append(records);
  persist::Record fence;
  fence.type = persist::RecordType::kFenceReservation;
  fence.fence = next_fence - 1;
  persist::encode_record(fence, out);
  return out;
}

DecodedSnapshot decode_snapshot(std::string_view data) {
  DecodedSnapshot out;
  const persist::FileHeader h = persist::read_snapshot_header(data);
  if (h.status != persist::FileHeader::Status::kOk || h.version < persist::kFormat2Version) {
    out.error = h.error.empty() ? "not a format-2 snapshot" : h.error;
    return out;
  }
  std::size_t pos = h.bytes;
  bool fence_seen = false;
  while (pos < data.size()) {
    persist::DecodeResult d = persist::decode_record(data.substr(pos), h.version);
    if (d.status != persist::DecodeStatus::kOk) {
      out.error = "bad record at offset " + std::to_string(pos) + " of the snapshot: " + d.error;
      return out;
    }
    pos += d.consumed;
    switch (d.record.type) {
      case persist::RecordType::kHold:
        out.holds.push_back(std::move(d.record));
        break;
      case persist::RecordType::kFenceReservation:
        fence_seen = true;
        if (d.record.fence + 1 > out.next_fence) out.next_fence = d.record.fence + 1;
        break;
      case persist::RecordType::kDrop:
        out.error = "drop record in a snapshot at offset " + std::to_string(pos - d.consumed);
        return out;
      case persist::RecordType::kData:
        out.data.push_back(std::move(d.record));
        break;
      case persist::RecordType::kLived:  // after its holder: applied in order with the holds
        out.holds.push_back(std::move(d.record));
        break;
    }
  }
  if (!fence_seen) {
    out.error = "snapshot without its fence record";
    return out;
  }
  out.ok = true;
  return out;
}

}  // namespace semlock::cluster
