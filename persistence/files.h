// The files of a persistence directory, with plain POSIX calls: `journal.log` (append-only) and
// `snapshot.dat` (replaced atomically: written to snapshot.tmp, fsynced, renamed, dir fsynced).
// Errors come back as errno values (0 = done) so the caller can report strerror and decide.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persistence/record.h"

namespace semlock::persist {

inline constexpr const char* kJournalName = "journal.log";
inline constexpr const char* kSnapshotName = "snapshot.dat";
inline constexpr const char* kSnapshotTmpName = "snapshot.tmp";
// The journal a background snapshot is being written from: renamed from journal.log when the
// snapshot starts, removed once snapshot.dat holds its state. Loaded between the two if present.
inline constexpr const char* kJournalPrevName = "journal.prev";
// A fresh journal being written (start-up conversion), renamed over journal.log when complete.
inline constexpr const char* kJournalTmpName = "journal.tmp";

std::string join_path(const std::string& dir, const char* name);

// Reads the whole file into `out`. ENOENT when it does not exist (out empty).
int read_whole_file(const std::string& path, std::string& out);

// Creates the directory (one level) when missing. 0 or errno.
int ensure_directory(const std::string& dir);

// The journal, open for appending. Not copyable; closes on destruction.
class JournalFile {
 public:
  JournalFile() = default;
  ~JournalFile();
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;

  // Opens (creating) `path`, cuts it to `keep_bytes` (the end of its last good record) and
  // positions at the end. A file cut below kFileHeaderBytes is emptied and gets a fresh
  // (format 2) journal header, synced. 0 or errno. Only for format-2 journals.
  int open(const std::string& path, std::uint64_t keep_bytes);
  // Writes every byte (retrying short writes). 0 or errno (ENOSPC on a full disk). After a
  // failure the file is cut back to its last complete append, so no half record stays behind.
  int append(std::string_view bytes);
  // fdatasync. 0 or errno.
  int sync();
  // Empties the journal (after a snapshot took its place) to a bare header and syncs. 0 or errno.
  int reset();
  std::uint64_t size() const { return size_; }
  bool is_open() const { return fd_ >= 0; }
  void close();

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// Writes `body` (framed records) after the snapshot file header to dir/snapshot.tmp, fsyncs it,
// renames it over dir/snapshot.dat and fsyncs the directory. 0 or errno; on failure snapshot.dat is
// intact.
int write_snapshot(const std::string& dir, std::string_view body);

// Replaces dir/journal.log with a fresh, empty format-2 journal: journal.tmp written and synced,
// renamed over journal.log, directory synced. 0 or errno.
int write_fresh_journal(const std::string& dir);

// Appends the records of dir/journal.log (after its header) to dir/journal.prev and syncs it, so
// a snapshot started while an earlier one's journal.prev is still there keeps both histories in
// order. journal.log is left as it is (replaying its records twice changes nothing). 0, errno,
// or EINVAL when either file is not a format-2 journal.
int chain_journal_into_prev(const std::string& dir);

// fsync of the directory itself (after a rename or unlink in it). 0 or errno.
int sync_directory(const std::string& dir);

}  // namespace semlock::persist
