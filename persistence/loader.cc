// Snapshot + journal replay (see loader.h for the damage policy).
#include "persistence/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "persistence/files.h"

namespace semlock::persist {

namespace {

// One string for (key, owner): the key, then the owner (the key's length is kept beside it).
std::string holder_id(const std::string& key, const std::string& owner) {
  std::string id;
  id.reserve(key.size() + owner.size() + 2);
  id.push_back(static_cast<char>(key.size() & 0xFF));
  id.push_back(static_cast<char>(key.size() >> 8));
  id += key;
  id += owner;
  return id;
}

}  // namespace

void ReplayState::apply(const Record& r) {
  max_fence_ = std::max(max_fence_, r.fence);
  switch (r.type) {
    case RecordType::kHold:
      holders_.insert_or_assign(
          holder_id(r.key, r.owner),
          Stored{r.fence, r.wall_deadline_ms, r.limit, static_cast<std::uint32_t>(r.key.size()),
                 r.shared, r.holds, r.notify, r.lived});
      break;
    case RecordType::kDrop:
      holders_.erase(holder_id(r.key, r.owner));
      break;
    case RecordType::kFenceReservation:
      reserved_fence_ = std::max(reserved_fence_, r.fence);
      break;
    case RecordType::kLived:  // never journaled (record.h); nothing to restore
      break;
    case RecordType::kData:
      if (r.data.size() == 2 && r.data[0] == "epoch") {
        const std::uint64_t epoch = std::strtoull(r.data[1].c_str(), nullptr, 10);
        if (in_snapshot_) {
          snapshot_epoch_ = epoch;
        } else {
          skip_data_ = epoch < snapshot_epoch_;
        }
      } else if (!skip_data_) {
        data_.push_back(r);
      }
      break;
  }
}

void ReplayState::begin_file(bool snapshot) {
  in_snapshot_ = snapshot;
  skip_data_ = !snapshot && snapshot_epoch_ > 0;
}

std::vector<PersistedHolder> ReplayState::expired_notify_holders(std::int64_t now_wall_ms) const {
  std::vector<PersistedHolder> out;
  for (const auto& [id, h] : holders_) {
    if (!h.notify || h.wall_deadline_ms > now_wall_ms) continue;
    const std::string_view rest = std::string_view(id).substr(2);
    out.push_back(PersistedHolder{std::string(rest.substr(0, h.key_bytes)),
                                  std::string(rest.substr(h.key_bytes)), h.fence, h.limit,
                                  h.wall_deadline_ms, h.shared, h.holds, true});
  }
  std::sort(out.begin(), out.end(),
            [](const PersistedHolder& a, const PersistedHolder& b) { return a.fence < b.fence; });
  return out;
}

std::vector<PersistedHolder> ReplayState::live_holders(std::int64_t now_wall_ms) const {
  std::vector<PersistedHolder> out;
  out.reserve(holders_.size());
  for (const auto& [id, h] : holders_) {
    if (h.wall_deadline_ms <= now_wall_ms) continue;
    const std::string_view rest = std::string_view(id).substr(2);
    out.push_back(PersistedHolder{std::string(rest.substr(0, h.key_bytes)),
                                  std::string(rest.substr(h.key_bytes)), h.fence, h.limit,
                                  h.wall_deadline_ms, h.shared, h.holds, h.notify, h.lived});
  }
  std::sort(out.begin(), out.end(),
            [](const PersistedHolder& a, const PersistedHolder& b) { return a.fence < b.fence; });
  return out;
}

namespace {

bool all_zero(std::string_view s) {
  return s.find_first_not_of('\0') == std::string_view::npos;
}

// Format 1: true when the bad frame at the start of `rest` is the last thing in the file: its
// declared end reaches the end of the file, or everything left is zeros. (A damaged length can
// look like this too; format 2's frame header check tells them apart.)
bool is_torn_tail_v1(std::string_view rest) {
  if (all_zero(rest)) return true;
  if (rest.size() < kLegacyFrameHeaderBytes) return true;
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length |= std::uint32_t{static_cast<unsigned char>(rest[static_cast<std::size_t>(i)])}
              << (8 * i);
  }
  return length <= kMaxPayloadBytes && kLegacyFrameHeaderBytes + length >= rest.size();
}

// Format 2: a record cut short by the end of the file with a good frame header, a bad frame
// header with only zeros after it, or a bad payload with only zeros after its frame.
bool is_torn_tail_v2(const DecodeResult& d, std::string_view rest) {
  if (d.status == DecodeStatus::kTruncated) return true;
  if (all_zero(rest)) return true;
  const std::size_t end = d.header_ok ? d.frame_bytes : kFrameHeaderBytes;
  return rest.size() <= end || all_zero(rest.substr(end));
}

// A key as it appears in messages: printable ASCII as is, other bytes as \xNN, long keys cut.
std::string printable(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i == 200) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "\"";
}

std::string describe(const PersistedHolder& h) {
  return printable(h.owner) + " fence " + std::to_string(h.fence) + " limit " +
         std::to_string(h.limit);
}

}  // namespace

JournalScan scan_journal(const std::string& path, std::string_view data, bool repair,
                         ReplayState& state) {
  JournalScan scan;
  const FileHeader header = read_journal_header(data);
  switch (header.status) {
    case FileHeader::Status::kTorn:
      scan.warnings.push_back("Journal header cut short: " + path + " (" +
                              std::to_string(data.size()) + " bytes) is started anew");
      return scan;
    case FileHeader::Status::kDamaged:
      scan.ok = false;
      scan.error = "Journal is damaged: " + header.error + " in " + path +
                   " at offset 0; refusing to start. Move the file away to start without it";
      return scan;
    case FileHeader::Status::kUnknown:
      scan.ok = false;
      scan.error = "Journal " + path + " has an " + header.error +
                   "; refusing to start. It was written by a newer ttl-semlock: run that one";
      return scan;
    case FileHeader::Status::kLegacy:
    case FileHeader::Status::kOk:
      break;
  }
  scan.version = header.version;
  std::size_t pos = header.bytes;
  while (pos < data.size()) {
    const DecodeResult d = decode_record(data.substr(pos), header.version);
    if (d.status == DecodeStatus::kOk) {
      state.apply(d.record);
      pos += d.consumed;
      ++scan.records;
      continue;
    }
    const std::string where = path + " at offset " + std::to_string(pos);
    const std::string_view rest = data.substr(pos);
    const bool torn = header.version == kLegacyFormatVersion
                          ? d.status == DecodeStatus::kTruncated || is_torn_tail_v1(rest)
                          : is_torn_tail_v2(d, rest);
    if (torn) {
      scan.warnings.push_back("Journal ends in a torn record (" + d.error + "): " + where + ", " +
                              std::to_string(rest.size()) + " bytes cut off");
    } else if (repair) {
      scan.warnings.push_back("Journal repaired (--repair-journal): bad record (" + d.error +
                              ") in " + where + ", " + std::to_string(rest.size()) +
                              " bytes cut off");
    } else {
      scan.ok = false;
      scan.error = "Journal is damaged: bad record (" + d.error + ") in " + where +
                   ", followed by " + std::to_string(rest.size()) +
                   " more bytes; refusing to start. Start with --repair-journal to cut the "
                   "journal there (the records after it are lost)";
    }
    break;
  }
  scan.valid_bytes = pos;
  return scan;
}

std::string check_limits(std::vector<PersistedHolder>& holders, bool repair,
                         std::vector<PersistedHolder>& dropped,
                         std::vector<std::string>& warnings) {
  // Positions of each key's holders, in fence order (holders are sorted by fence).
  {  // The common case, cheaply: every key within its limit.
    struct Count {
      std::uint32_t holders = 0;
      std::uint32_t limit = 0;
      bool mixed = false;
      std::uint32_t readers = 0;
    };
    absl::flat_hash_map<std::string_view, Count> counts;
    counts.reserve(holders.size());
    for (const PersistedHolder& h : holders) {
      Count& c = counts[h.key];
      if (h.shared) ++c.readers;
      if (c.holders++ == 0) {
        c.limit = h.limit;
      } else if (h.limit != c.limit) {
        c.mixed = true;
      }
    }
    if (std::none_of(counts.begin(), counts.end(), [](const auto& kv) {
          const bool all_readers = kv.second.readers == kv.second.holders && kv.second.limit <= 1;
          return kv.second.mixed || (kv.second.readers != 0 && !all_readers) ||
                 (!all_readers && kv.second.holders > std::max<std::uint32_t>(kv.second.limit, 1));
        })) {
      return "";
    }
  }
  // Keys in the order of their lowest fence, so messages do not depend on hashing.
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_key;
  std::vector<std::string_view> order;
  for (std::size_t i = 0; i < holders.size(); ++i) {
    auto& idx = by_key[holders[i].key];
    if (idx.empty()) order.push_back(holders[i].key);
    idx.push_back(i);
  }
  std::vector<bool> drop(holders.size(), false);
  std::string first_error;
  std::size_t bad_keys = 0;
  for (const std::string_view key : order) {
    const std::vector<std::size_t>& idx = by_key[key];
    const std::uint32_t limit = std::max<std::uint32_t>(holders[idx[0]].limit, 1);
    std::vector<std::size_t> keep;
    std::vector<std::size_t> extra;
    if (limit == 1 && std::all_of(idx.begin(), idx.end(),
                                  [&](std::size_t i) { return holders[i].shared; })) {
      continue;  // readers share the key
    }
    for (std::size_t i : idx) {
      if (holders[i].limit == holders[idx[0]].limit && keep.size() < limit) {
        keep.push_back(i);
      } else {
        extra.push_back(i);
      }
    }
    if (extra.empty()) continue;
    ++bad_keys;
    std::string list;
    for (std::size_t n = 0; n < idx.size() && n < 10; ++n) {
      list += (n == 0 ? "" : ", ") + describe(holders[idx[n]]);
    }
    if (idx.size() > 10) list += ", ...";
    const std::string what = "key " + printable(key) + " (limit " + std::to_string(limit) +
                             ") has " + std::to_string(idx.size()) + " holders (" + list + ")";
    if (!repair) {
      if (first_error.empty()) first_error = what;
      continue;
    }
    std::string kept;
    std::string gone;
    for (std::size_t i : keep)
      kept += (kept.empty() ? "" : ", ") + std::to_string(holders[i].fence);
    for (std::size_t i : extra) {
      gone += (gone.empty() ? "" : ", ") + describe(holders[i]);
      drop[i] = true;
    }
    warnings.push_back("Journal repaired (--repair-journal): " + what + "; kept fence " + kept +
                       ", dropped " + gone);
  }
  if (!repair && bad_keys > 0) {
    std::string more;
    if (bad_keys > 1) more = " (and " + std::to_string(bad_keys - 1) + " more keys)";
    return "Persisted state is over a key's limit: " + first_error + more +
           "; refusing to start. Start with --repair-journal to keep the lowest fences of each "
           "such key (the other holders are dropped)";
  }
  std::vector<PersistedHolder> kept;
  kept.reserve(holders.size());
  for (std::size_t i = 0; i < holders.size(); ++i) {
    (drop[i] ? dropped : kept).push_back(std::move(holders[i]));
  }
  holders.swap(kept);
  return "";
}

namespace {

// Reads `path` into `data`: false with `out` set to the error when it cannot (ENOENT is fine:
// `present` false).
bool read_file(const std::string& path, std::string& data, bool& present, LoadResult& out) {
  const int rc = read_whole_file(path, data);
  present = rc == 0;
  if (rc == 0 || rc == ENOENT) return true;
  out.ok = false;
  out.error = "Cannot read " + path + ": " + std::strerror(rc);
  return false;
}

bool load_snapshot(const std::string& path, std::string_view data, ReplayState& state,
                   LoadResult& out) {
  const FileHeader header = read_snapshot_header(data);
  if (header.status == FileHeader::Status::kUnknown) {
    out.ok = false;
    out.error = "Snapshot " + path + " has an " + header.error +
                "; refusing to start. It was written by a newer ttl-semlock: run that one";
    return false;
  }
  if (header.status != FileHeader::Status::kOk) {
    out.ok = false;
    out.error = "Snapshot is damaged: " + path + " at offset 0: " + header.error;
    return false;
  }
  if (header.version == kLegacyFormatVersion) out.legacy_files.push_back(path);
  if (header.version == kFormat2Version) out.format2_files = true;
  std::size_t pos = header.bytes;
  while (pos < data.size()) {
    const DecodeResult d = decode_record(data.substr(pos), header.version);
    if (d.status != DecodeStatus::kOk) {
      out.ok = false;
      out.error = "Snapshot is damaged: bad record (" + d.error + ") in " + path + " at offset " +
                  std::to_string(pos);
      return false;
    }
    state.apply(d.record);
    pos += d.consumed;
  }
  return true;
}

}  // namespace

LoadResult load_directory(const std::string& dir, std::int64_t now_wall_ms, bool repair) {
  LoadResult out;
  ReplayState state;
  std::string data;
  bool present = false;
  const std::string snap_path = join_path(dir, kSnapshotName);
  if (!read_file(snap_path, data, present, out)) return out;
  state.begin_file(true);
  if (present && !load_snapshot(snap_path, data, state, out)) return out;
  // A background snapshot that did not finish leaves the journal it started from: its records
  // replay on top of whichever snapshot is on disk (a prefix of the history replayed on the state
  // it led to changes nothing, since the last record per holder wins).
  const std::string prev_path = join_path(dir, kJournalPrevName);
  if (!read_file(prev_path, data, present, out)) return out;
  state.begin_file(false);
  if (present) {
    out.journal_prev = true;
    const JournalScan prev = scan_journal(prev_path, data, repair, state);
    out.warnings = prev.warnings;
    if (!prev.ok) {
      out.ok = false;
      out.error = prev.error;
      return out;
    }
    if (prev.version == kLegacyFormatVersion) out.legacy_files.push_back(prev_path);
    if (prev.version == kFormat2Version) out.format2_files = true;
  }
  const std::string journal_path = join_path(dir, kJournalName);
  if (!read_file(journal_path, data, present, out)) return out;
  state.begin_file(false);
  const JournalScan scan = scan_journal(journal_path, data, repair, state);
  out.warnings.insert(out.warnings.end(), scan.warnings.begin(), scan.warnings.end());
  if (!scan.ok) {
    out.ok = false;
    out.error = scan.error;
    return out;
  }
  if (present && scan.version == kLegacyFormatVersion) out.legacy_files.push_back(journal_path);
  if (present && scan.version == kFormat2Version) out.format2_files = true;
  out.journal_valid_bytes = scan.valid_bytes;
  out.holders = state.live_holders(now_wall_ms);
  out.data_records = std::move(state.data_records());
  out.dropped_expired = state.size() - out.holders.size();
  out.lost_notify = state.expired_notify_holders(now_wall_ms);
  out.max_fence = state.max_fence();
  out.reserved_fence = state.reserved_fence();
  if (std::string err = check_limits(out.holders, repair, out.repaired_drops, out.warnings);
      !err.empty()) {
    out.ok = false;
    out.error = std::move(err);
  }
  return out;
}

}  // namespace semlock::persist
