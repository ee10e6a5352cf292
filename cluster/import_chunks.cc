#include "cluster/import_chunks.h"

#include <algorithm>

#include "cluster/sidecar_protocol.h"

namespace semlock::cluster {

std::vector<std::string> encode_import_chunks(std::string_view entry, std::uint64_t import_id,
                                              std::size_t chunk_bytes) {
  const DecodedEntry head = decode_entry(entry.substr(0, kEntryHeaderBytes));
  const std::string_view records =
      entry.size() > kEntryHeaderBytes ? entry.substr(kEntryHeaderBytes) : std::string_view();
  chunk_bytes = std::max<std::size_t>(chunk_bytes, 1);
  const std::size_t count = std::max<std::size_t>(1, (records.size() + chunk_bytes - 1) / chunk_bytes);
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view part = records.substr(std::min(records.size(), i * chunk_bytes),
                                                 chunk_bytes);
    std::string data;
    data.reserve(kImportChunkHeaderBytes + part.size());
    put_u8(data, kImportChunkVersion);
    put_u64(data, head.header.proposer);
    put_u64(data, head.header.seq);
    put_u64(data, head.header.next_fence);
    put_u64(data, import_id);
    put_u32(data, static_cast<std::uint32_t>(i));
    put_u32(data, static_cast<std::uint32_t>(count));
    data.append(part);
    out.push_back(std::move(data));
  }
  return out;
}

bool decode_import_chunk(std::string_view data, ImportChunk& out, std::string& error) {
  Reader r(data);
  const std::uint8_t version = r.u8();
  out.header.proposer = r.u64();
  out.header.seq = r.u64();
  out.header.next_fence = r.u64();
  out.import_id = r.u64();
  out.index = r.u32();
  out.count = r.u32();
  if (!r.ok() || version != kImportChunkVersion) {
    error = "import chunk shorter than its header (" + std::to_string(data.size()) + " bytes)";
    return false;
  }
  if (out.count == 0 || out.index >= out.count) {
    error = "import chunk " + std::to_string(out.index) + " of " + std::to_string(out.count);
    return false;
  }
  out.bytes = data.substr(kImportChunkHeaderBytes);
  return true;
}

ImportAssembler::Step ImportAssembler::add(const ImportChunk& chunk, std::string& entry) {
  if (std::find(done_.begin(), done_.end(), chunk.import_id) != done_.end()) {
    return Step::kIgnored;  // applied already (a chunk proposed again after its import ended)
  }
  if (chunk.index == 0) {  // an import starts (again): whatever was begun is dropped
    id_ = chunk.import_id;
    count_ = chunk.count;
    header_ = chunk.header;
    records_.clear();
    next_ = 0;
  } else if (chunk.import_id != id_ || chunk.index != next_ || chunk.count != count_) {
    return Step::kIgnored;  // a duplicate, or a chunk of a load given up
  }
  records_.append(chunk.bytes);
  next_ = chunk.index + 1;
  if (next_ < count_) return Step::kStored;
  entry.clear();
  entry.reserve(kEntryHeaderBytes + records_.size());
  begin_entry(header_, entry);
  entry.append(records_);
  done_.push_back(id_);
  std::string().swap(records_);
  id_ = 0;
  next_ = 0;
  count_ = 0;
  return Step::kComplete;
}

}  // namespace semlock::cluster
