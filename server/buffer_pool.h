// Reusable connection buffers (input leftovers, replies): taking one from the pool saves a
// malloc per request on busy connections.
//
// Bounded by bytes, not only by count: a pipelined burst grows buffers to tens of KB, and 256 of
// them kept for ever are megabytes of RSS that no lock uses (issue 18: a 1,000,000-lock fill left
// ~8 MB pooled, 8 bytes of RSS per lock). Past kMaxBytes of pooled capacity a given-back buffer
// is freed instead.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace semlock {

class BufferPool {
 public:
  static constexpr std::size_t kMaxBuffer = 64 * 1024;  // larger buffers are freed, not pooled
  static constexpr std::size_t kMaxCount = 256;
  static constexpr std::size_t kMaxBytes = 1024 * 1024;

  // A string's own inline capacity (15 bytes in libstdc++): an empty std::string has it, so a
  // buffer with no more than that was never grown and is not worth pooling.
  static std::size_t inline_capacity() { return std::string().capacity(); }
  static bool bare(const std::string& s) { return s.capacity() <= inline_capacity(); }

  // An empty string, with pooled capacity when there is some.
  std::string take() {
    if (pool_.empty()) return std::string();
    std::string s = std::move(pool_.back());
    pool_.pop_back();
    bytes_ -= s.capacity();
    return s;
  }

  // Gives an empty, bare s (see bare()) pooled capacity when there is some; keeps any other s as
  // it is. Never one holding bytes: a short reply still unsent fits the inline capacity.
  void fill(std::string& s) {
    if (s.empty() && bare(s) && !pool_.empty()) s = take();
  }

  // Pools s's capacity (or frees it) and leaves s empty and bare.
  void give(std::string& s) {
    const std::size_t cap = s.capacity();
    if (!bare(s) && cap <= kMaxBuffer && pool_.size() < kMaxCount && bytes_ + cap <= kMaxBytes) {
      s.clear();
      bytes_ += cap;
      pool_.push_back(std::move(s));
    }
    std::string().swap(s);
  }

  // Capacity held by pooled buffers.
  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return pool_.size(); }

 private:
  std::vector<std::string> pool_;
  std::size_t bytes_ = 0;
};

}  // namespace semlock
