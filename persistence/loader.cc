// Snapshot + journal replay (see loader.h for the damage policy).
#include "persistence/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "persistence/files.h"

namespace semlock::persist {

void ReplayState::apply(const Record& r) {
  max_fence_ = std::max(max_fence_, r.fence);
  switch (r.type) {
    case RecordType::kHold:
      holders_[{r.key, r.owner}] =
          PersistedHolder{r.key, r.owner, r.fence, r.limit, r.wall_deadline_ms};
      break;
    case RecordType::kDrop:
      holders_.erase({r.key, r.owner});
      break;
    case RecordType::kFenceReservation:
      reserved_fence_ = std::max(reserved_fence_, r.fence);
      break;
  }
}

std::vector<PersistedHolder> ReplayState::live_holders(std::int64_t now_wall_ms) const {
  std::vector<PersistedHolder> out;
  out.reserve(holders_.size());
  for (const auto& [k, h] : holders_) {
    if (h.wall_deadline_ms > now_wall_ms) out.push_back(h);
  }
  std::sort(out.begin(), out.end(),
            [](const PersistedHolder& a, const PersistedHolder& b) { return a.fence < b.fence; });
  return out;
}

namespace {

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

// True when the bad frame at the start of `rest` is the last thing in the file: its declared
// end reaches the end of the file, or everything left is zeros.
bool is_torn_tail(std::string_view rest) {
  if (all_zero(rest)) return true;
  if (rest.size() < kFrameHeaderBytes) return true;
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length |= std::uint32_t{static_cast<unsigned char>(rest[static_cast<std::size_t>(i)])}
              << (8 * i);
  }
  return length <= kMaxPayloadBytes && kFrameHeaderBytes + length >= rest.size();
}

}  // namespace

JournalScan scan_journal(const std::string& path, std::string_view data, bool repair,
                         ReplayState& state) {
  JournalScan scan;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const DecodeResult d = decode_record(data.substr(pos));
    if (d.status == DecodeStatus::kOk) {
      state.apply(d.record);
      pos += d.consumed;
      ++scan.records;
      continue;
    }
    const std::string where = path + " at offset " + std::to_string(pos);
    const std::string_view rest = data.substr(pos);
    if (d.status == DecodeStatus::kTruncated || is_torn_tail(rest)) {
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

LoadResult load_directory(const std::string& dir, std::int64_t now_wall_ms, bool repair) {
  LoadResult out;
  ReplayState state;
  std::string data;
  const std::string snap_path = join_path(dir, kSnapshotName);
  int rc = read_whole_file(snap_path, data);
  if (rc != 0 && rc != ENOENT) {
    out.ok = false;
    out.error = "Cannot read " + snap_path + ": " + std::strerror(rc);
    return out;
  }
  if (rc == 0) {
    if (data.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
      out.ok = false;
      out.error = "Snapshot is damaged: " + snap_path + " at offset 0: not a snapshot file";
      return out;
    }
    std::size_t pos = kSnapshotMagic.size();
    while (pos < data.size()) {
      const DecodeResult d = decode_record(std::string_view(data).substr(pos));
      if (d.status != DecodeStatus::kOk) {
        out.ok = false;
        out.error = "Snapshot is damaged: bad record (" + d.error + ") in " + snap_path +
                    " at offset " + std::to_string(pos);
        return out;
      }
      state.apply(d.record);
      pos += d.consumed;
    }
  }
  // A background snapshot that did not finish leaves the journal it started from: its records
  // replay on top of whichever snapshot is on disk (a prefix of the history replayed on the state
  // it led to changes nothing, since the last record per holder wins).
  const std::string prev_path = join_path(dir, kJournalPrevName);
  rc = read_whole_file(prev_path, data);
  if (rc != 0 && rc != ENOENT) {
    out.ok = false;
    out.error = "Cannot read " + prev_path + ": " + std::strerror(rc);
    return out;
  }
  if (rc == 0) {
    const JournalScan prev = scan_journal(prev_path, data, repair, state);
    out.warnings = prev.warnings;
    if (!prev.ok) {
      out.ok = false;
      out.error = prev.error;
      return out;
    }
  }
  const std::string journal_path = join_path(dir, kJournalName);
  rc = read_whole_file(journal_path, data);
  if (rc != 0 && rc != ENOENT) {
    out.ok = false;
    out.error = "Cannot read " + journal_path + ": " + std::strerror(rc);
    return out;
  }
  const JournalScan scan = scan_journal(journal_path, data, repair, state);
  out.warnings.insert(out.warnings.end(), scan.warnings.begin(), scan.warnings.end());
  if (!scan.ok) {
    out.ok = false;
    out.error = scan.error;
    return out;
  }
  out.journal_valid_bytes = scan.valid_bytes;
  out.holders = state.live_holders(now_wall_ms);
  out.dropped_expired = state.size() - out.holders.size();
  out.max_fence = state.max_fence();
  out.reserved_fence = state.reserved_fence();
  return out;
}

}  // namespace semlock::persist
