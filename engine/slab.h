// A slab of fixed-size, trivially copyable entries addressed by uint32 slot numbers.
//
// Why: the key index stores 4-byte slot numbers instead of whole entries, so the hash table's
// empty half (Abseil's flat_hash_map sits near 48% load right after doubling) costs 4 bytes a
// slot instead of ~90. Entries live in fixed chunks, so growing never copies or moves them and a
// slot number stays valid for the entry's life.
//
// Shrinking: when the slab empties, every chunk but the first is released and the slab returns to
// its idle layout (one chunk, free list in order), so an idle engine keeps one chunk per slab it
// has used and a lone acquire/release cycle never calls malloc. Otherwise, once live entries fall to
// a quarter of the capacity, trailing chunks with no live entry are released and the free list is
// filtered; the next such pass waits until the live count halves again, so the filtering work is
// amortised O(1) per free.
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
      : bytes_(bytes), chunks_(CountingAllocator<T*>(bytes)),
        chunk_live_(CountingAllocator<std::uint32_t>(bytes)),
        free_(CountingAllocator<std::uint32_t>(bytes)) {}
  ~Slab() { release_all(); }
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  // A value-initialised entry; its slot number.
  std::uint32_t alloc() {
    if (free_.empty()) add_chunk();
    std::uint32_t slot = free_.back();
    free_.pop_back();
    ++live_;
    ++chunk_live_[slot >> kChunkBits];
    (*this)[slot] = T{};
    return slot;
  }

  void free(std::uint32_t slot) {
    free_.push_back(slot);
    --live_;
    --chunk_live_[slot >> kChunkBits];
    if (live_ == 0) {
      if (capacity() > kChunk || free_.capacity() != kChunk) reset_to_idle();
    } else if (live_ <= shrink_at_) {
      shrink();
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
    shrink_at_ = capacity() / 4;
  }

  void shrink() {
    std::uint32_t old_capacity = capacity();
    while (!chunks_.empty() && chunk_live_.back() == 0) {
      CountingAllocator<T>(bytes_).deallocate(chunks_.back(), kChunk);
      chunks_.pop_back();
      chunk_live_.pop_back();
    }
    if (capacity() != old_capacity) {
      std::uint32_t cap = capacity();
      std::erase_if(free_, [cap](std::uint32_t s) { return s >= cap; });
      free_.shrink_to_fit();
      chunks_.shrink_to_fit();
      chunk_live_.shrink_to_fit();
    }
    shrink_at_ = live_ / 2;
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
    shrink_at_ = 0;
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
    shrink_at_ = 0;
  }

  std::uint64_t* bytes_;
  std::vector<T*, CountingAllocator<T*>> chunks_;
  std::vector<std::uint32_t, CountingAllocator<std::uint32_t>> chunk_live_;
  std::vector<std::uint32_t, CountingAllocator<std::uint32_t>> free_;
  std::uint32_t live_ = 0;
  std::uint32_t shrink_at_ = 0;
};

}  // namespace semlock::detail
