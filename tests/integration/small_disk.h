// A full disk for the journal-failure tests: a 256 KiB tmpfs mounted on a temporary directory
// (needs root), filled on request, unmounted and removed when the test ends.
#pragma once

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/integration/server_fixture.h"

namespace semlock::it {

class SmallDisk {
 public:
  // Not mounted (the test is skipped, with a message saying why) when not root or mount fails.
  SmallDisk() {
    if (::geteuid() != 0) {
      BOOST_TEST_MESSAGE("skipped: needs root to mount a small tmpfs");
      return;
    }
    path_ = make_temp_dir();
    if (std::system(("mount -t tmpfs -o size=256k tmpfs " + path_ + " 2>/dev/null").c_str()) != 0) {
      BOOST_TEST_MESSAGE("skipped: cannot mount a tmpfs");
      std::filesystem::remove_all(path_);
      path_.clear();
    }
  }
  // Servers using it must have stopped by now: declare them after the disk.
  ~SmallDisk() {
    if (path_.empty()) return;
    BOOST_TEST(std::system(("umount " + path_).c_str()) == 0);
    std::filesystem::remove_all(path_);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // Writes a filler file until the file system has no room left.
  void fill() const {
    std::FILE* f = std::fopen(filler().c_str(), "wb");
    BOOST_TEST_REQUIRE(f != nullptr);
    const std::string block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }
  // Frees the room fill() took.
  void unfill() const { std::filesystem::remove(filler()); }

 private:
  std::string filler() const { return path_ + "/filler"; }

  std::string path_;
};

}  // namespace semlock::it
