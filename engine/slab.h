// A slab of fixed-size, trivially copyable entries addressed by uint32 slot numbers.
//
// Why: the key index stores 4-byte slot numbers instead of whole entries, so the hash table's
// empty half (Abseil's flat_hash_map sits near 48% load right after doubling) costs 4 bytes a
// slot instead of ~90. Entries live in fixed chunks, so growing never copies or moves them and a
// slot number stays valid for the entry's life.
//
// Shrinking: when the slab empties, every chunk but the first is released and the slab returns to
// its idle layout (one chunk, free list in order), so an idle engine keeps one chunk per slab it
// has used and a lone acquire/release cycle never calls malloc. Otherwise, when a free empties
// the last chunk, the trailing empty chunks are released at once. Their slots stay in the free
// list as stale entries (>= capacity), skipped by alloc(); once they are half the list, the list
// is filtered and shrunk, so that work is amortised O(1) per free. A new chunk hands out its
// slots lowest first, so long-lived entries gather at the front. Survivors scattered
// over every chunk keep their chunks: there is no compaction (slot numbers are stable).
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "engine/counting_alloc.h"

namespace semlock::detail {

template <class T, std::uint32_t kChunkBits>
class Slab {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;

  explicit Slab(std::uint64_t* bytes)
      : bytes_(bytes),
        chunks_(CountingAllocator<T*>(bytes)),
        chunk_live_(CountingAllocator<std::uint32_t>(bytes)),
        free_(CountingAllocator<std::uint32_t>(bytes)) {}
  ~Slab() { release_all(); }
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // A value-initialised entry; its slot number.
  std::uint32_t alloc() {
    std::uint32_t slot;
    do {
      if (free_.empty()) add_chunk();
      slot = free_.back();
      free_.pop_back();
      if (slot >= capacity()) --stale_;
    } while (slot >= capacity());
    ++live_;
    ++chunk_live_[slot >> kChunkBits];
    (*this)[slot] = T{};
    return slot;
  }

  void free(std::uint32_t slot) {
    free_.push_back(slot);
    --live_;
    std::uint32_t chunk = slot >> kChunkBits;
    --chunk_live_[chunk];
    if (live_ == 0) {
      if (capacity() > kChunk || free_.capacity() != kChunk) reset_to_idle();
    } else if (chunk_live_[chunk] == 0 && chunk + 1 == chunks_.size()) {
      drop_trailing_chunks();
    }
  }

  T& operator[](std::uint32_t slot) { return chunks_[slot >> kChunkBits][slot & (kChunk - 1)]; }
  const T& operator[](std::uint32_t slot) const {
    return chunks_[slot >> kChunkBits][slot & (kChunk - 1)];
  }
  std::uint32_t capacity() const { return static_cast<std::uint32_t>(chunks_.size()) * kChunk; }
  std::uint32_t live() const { return live_; }

 private:
  void add_chunk() {
    if (chunks_.empty()) {
      reset_to_idle_from_empty();
      return;
    }
    T* chunk = new_chunk();
    std::uint32_t base = capacity();
    chunks_.push_back(chunk);
    chunk_live_.push_back(0);
    // Pushed in reverse so that low slots are used first: scans and shrinking like that.
    for (std::uint32_t i = kChunk; i-- > 0;) free_.push_back(base + i);
  }

  void drop_trailing_chunks() {
    while (chunks_.size() > 1 && chunk_live_.back() == 0) {
      CountingAllocator<T>(bytes_).deallocate(chunks_.back(), kChunk);
      chunks_.pop_back();
      chunk_live_.pop_back();
      stale_ += kChunk;  // all its slots were free, so all are in the list
    }
    if (stale_ * 2 > free_.size()) {
      std::uint32_t cap = capacity();
      std::erase_if(free_, [cap](std::uint32_t s) { return s >= cap; });
      free_.shrink_to_fit();
      chunks_.shrink_to_fit();
      chunk_live_.shrink_to_fit();
      stale_ = 0;
    }
  }

  // Every entry starts value-initialised, so free ones read as free (key_len 0, generation 0).
  T* new_chunk() {
    T* chunk = CountingAllocator<T>(bytes_).allocate(kChunk);
    std::uninitialized_value_construct_n(chunk, kChunk);
    return chunk;
  }

  void reset_to_idle_from_empty() {
    chunks_.reserve(1);
    chunk_live_.reserve(1);
    chunks_.push_back(new_chunk());
    chunk_live_.push_back(0);
    reset_to_idle();
  }

  void reset_to_idle() {
    while (chunks_.size() > 1) {
      CountingAllocator<T>(bytes_).deallocate(chunks_.back(), kChunk);
      chunks_.pop_back();
      chunk_live_.pop_back();
    }
    chunks_.shrink_to_fit();
    chunk_live_.shrink_to_fit();
    std::vector<std::uint32_t, CountingAllocator<std::uint32_t>> fresh(
        (CountingAllocator<std::uint32_t>(bytes_)));
    fresh.reserve(kChunk);
    for (std::uint32_t i = kChunk; i-- > 0;) fresh.push_back(i);
    free_.swap(fresh);
    stale_ = 0;
  }

  void release_all() {
    for (T* chunk : chunks_) CountingAllocator<T>(bytes_).deallocate(chunk, kChunk);
    // Swapping with empty vectors is the only way to give the capacity back.
    std::vector<T*, CountingAllocator<T*>>(CountingAllocator<T*>(bytes_)).swap(chunks_);
    std::vector<std::uint32_t, CountingAllocator<std::uint32_t>>(
        CountingAllocator<std::uint32_t>(bytes_))
        .swap(chunk_live_);
    std::vector<std::uint32_t, CountingAllocator<std::uint32_t>>(
        CountingAllocator<std::uint32_t>(bytes_))
        .swap(free_);
    live_ = 0;
    stale_ = 0;
  }

  std::uint64_t* bytes_;
  std::vector<T*, CountingAllocator<T*>> chunks_;
  std::vector<std::uint32_t, CountingAllocator<std::uint32_t>> chunk_live_;
  std::vector<std::uint32_t, CountingAllocator<std::uint32_t>> free_;
  std::uint32_t live_ = 0;
  std::uint32_t stale_ = 0;  // free-list entries >= capacity()
};

}  // namespace semlock::detail
