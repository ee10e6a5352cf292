// POSIX file handling for the journal and the snapshot (see files.h).
#include "persistence/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace semlock::persist {
namespace {

int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

int sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

std::string join_path(const std::string& dir, const char* name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

int read_whole_file(const std::string& path, std::string& out) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return 0;
}

int ensure_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return 0;
  return errno;
}

JournalFile::~JournalFile() {
  close();
}

void JournalFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int JournalFile::open(const std::string& path, std::uint64_t keep_bytes) {
  close();
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return errno;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno;
  if (keep_bytes < kFileHeaderBytes) keep_bytes = 0;  // no whole header: start the file anew
  if (static_cast<std::uint64_t>(st.st_size) > keep_bytes) {
    if (::ftruncate(fd_, static_cast<off_t>(keep_bytes)) != 0) return errno;
    if (::fsync(fd_) != 0) return errno;
    size_ = keep_bytes;
  } else {
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  if (::lseek(fd_, static_cast<off_t>(size_), SEEK_SET) < 0) return errno;
  if (size_ == 0) {
    if (const int rc = append(file_header(kJournalMagic)); rc != 0) return rc;
    if (::fsync(fd_) != 0) return errno;
  }
  return 0;
}

int JournalFile::append(std::string_view bytes) {
  if (fd_ < 0) return EBADF;
  const int rc = write_all(fd_, bytes);
  if (rc != 0) {
    // A partial append would leave a torn record in the middle once later appends succeed.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {
      ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
    }
    return rc;
  }
  size_ += bytes.size();
  return 0;
}

int JournalFile::sync() {
  if (fd_ < 0) return EBADF;
  return ::fdatasync(fd_) == 0 ? 0 : errno;
}

int JournalFile::reset() {
  if (fd_ < 0) return EBADF;
  if (::ftruncate(fd_, 0) != 0) return errno;
  if (::lseek(fd_, 0, SEEK_SET) < 0) return errno;
  size_ = 0;
  if (const int rc = append(file_header(kJournalMagic)); rc != 0) return rc;
  return ::fsync(fd_) == 0 ? 0 : errno;
}

int write_snapshot(const std::string& dir, std::string_view body) {
  const std::string tmp = join_path(dir, kSnapshotTmpName);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int rc = write_all(fd, file_header(kSnapshotMagic));
  if (rc == 0) rc = write_all(fd, body);
  if (rc == 0 && ::fsync(fd) != 0) rc = errno;
  ::close(fd);
  if (rc == 0 && ::rename(tmp.c_str(), join_path(dir, kSnapshotName).c_str()) != 0) rc = errno;
  if (rc != 0) {
    ::unlink(tmp.c_str());
    return rc;
  }
  return sync_directory(dir);
}

int write_fresh_journal(const std::string& dir) {
  const std::string tmp = join_path(dir, kJournalTmpName);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int rc = write_all(fd, file_header(kJournalMagic));
  if (rc == 0 && ::fsync(fd) != 0) rc = errno;
  ::close(fd);
  if (rc == 0 && ::rename(tmp.c_str(), join_path(dir, kJournalName).c_str()) != 0) rc = errno;
  if (rc != 0) {
    ::unlink(tmp.c_str());
    return rc;
  }
  return sync_directory(dir);
}

int chain_journal_into_prev(const std::string& dir) {
  std::string current;
  int rc = read_whole_file(join_path(dir, kJournalName), current);
  if (rc != 0) return rc;
  const FileHeader current_header = read_journal_header(current);
  if (current_header.status != FileHeader::Status::kOk) return EINVAL;
  const std::string prev_path = join_path(dir, kJournalPrevName);
  const int fd = ::open(prev_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno;
  char head[kFileHeaderBytes];
  const ssize_t n = ::pread(fd, head, sizeof head, 0);
  if (n != static_cast<ssize_t>(sizeof head) ||
      read_journal_header(std::string_view(head, sizeof head)).status != FileHeader::Status::kOk) {
    ::close(fd);
    return EINVAL;
  }
  rc = ::lseek(fd, 0, SEEK_END) < 0 ? errno : 0;
  if (rc == 0) rc = write_all(fd, std::string_view(current).substr(current_header.bytes));
  if (rc == 0 && ::fdatasync(fd) != 0) rc = errno;
  ::close(fd);
  return rc;
}

}  // namespace semlock::persist
