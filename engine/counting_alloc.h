// An allocator that adds every byte it hands out to a counter, so the engine's memory figure is
// the exact sum of what its containers asked the heap for (capacities, not sizes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace semlock::detail {

template <class T>
struct CountingAllocator {
  using value_type = T;

  std::uint64_t* bytes;

  explicit CountingAllocator(std::uint64_t* counter) noexcept : bytes(counter) {}
  template <class U>
  CountingAllocator(const CountingAllocator<U>& other) noexcept : bytes(other.bytes) {}

  T* allocate(std::size_t n) {
    *bytes += n * sizeof(T);
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    *bytes -= n * sizeof(T);
    ::operator delete(p);
  }

  template <class U>
  bool operator==(const CountingAllocator<U>& other) const noexcept {
    return bytes == other.bytes;
  }
};

// Raw byte blocks (long keys and owners), counted the same way.
inline char* counted_alloc(std::uint64_t* counter, std::size_t n) {
  *counter += n;
  return static_cast<char*>(::operator new(n));
}
inline void counted_free(std::uint64_t* counter, char* p, std::size_t n) noexcept {
  *counter -= n;
  ::operator delete(p);
}

}  // namespace semlock::detail
