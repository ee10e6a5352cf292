// The key hash: a wyhash-style multiply-mix over 8-byte words, ~15 instructions for a 16-byte
// key (absl::Hash<string_view> on this Debian build goes through std::_Hash_bytes, ~50). Seeded
// per process (ASLR address), as Abseil does, so clients cannot precompute colliding keys; the
// seed changes only the table's layout, never an observable result (SCAN walks slot order).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace semlock::detail {

__extension__ typedef unsigned __int128 KeyHashU128;

inline std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) {
  KeyHashU128 r = static_cast<KeyHashU128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline const char kHashSeedAnchor = 0;

inline std::uint64_t hash_key(std::string_view key) {
  constexpr std::uint64_t k1 = 0xe7037ed1a0b428dbull;
  constexpr std::uint64_t k2 = 0x8ebc6af09c88c6e3ull;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t seed = reinterpret_cast<std::uintptr_t>(&kHashSeedAnchor) ^ k2;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n <= 16) {
    if (n >= 8) {
      a = load64(p);
      b = load64(p + n - 8);
    } else if (n >= 4) {
      a = load32(p);
      b = load32(p + n - 4);
    } else if (n > 0) {
      a = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
          (std::uint64_t{static_cast<unsigned char>(p[n >> 1])} << 8) |
          static_cast<unsigned char>(p[n - 1]);
    }
  } else {
    std::size_t i = n;
    while (i > 16) {
      seed = hash_mix(load64(p) ^ k1, load64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = load64(p + i - 16);
    b = load64(p + i - 8);
  }
  return hash_mix(k1 ^ n, hash_mix(a ^ k1, b ^ seed));
}

}  // namespace semlock::detail
