// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the SSE4.2 crc32 instruction where the
// CPU has it, chosen once at run time, else slicing-by-8 tables. Only the functions marked with
// the target attribute use SSE4.2, so the binary still runs on any x86-64.
#include <array>
#include <cstring>

#include "persistence/record.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#define SEMLOCK_CRC32C_X86 1
#endif

namespace semlock::persist {
namespace {

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  // t[k][i]: the CRC of byte i followed by k zero bytes.
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}
constexpr Tables kTables = make_tables();

std::uint32_t update_table(std::uint32_t c, const unsigned char* p, std::size_t n) {
  while (n >= 8) {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= c;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = kTables[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

#ifdef SEMLOCK_CRC32C_X86
__attribute__((target("sse4.2"))) std::uint32_t update_sse42(std::uint32_t c,
                                                             const unsigned char* p,
                                                             std::size_t n) {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
  while (n-- > 0) c = _mm_crc32_u8(c, *p++);
  return c;
}
#endif

using Update = std::uint32_t (*)(std::uint32_t, const unsigned char*, std::size_t);

Update choose() {
#ifdef SEMLOCK_CRC32C_X86
  if (__builtin_cpu_supports("sse4.2")) return update_sse42;
#endif
  return update_table;
}

std::uint32_t run(Update update, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  return update(0xFFFFFFFFu, p, data.size()) ^ 0xFFFFFFFFu;
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  static const Update update = choose();
  return run(update, data);
}

std::uint32_t crc32c_table(std::string_view data) {
  return run(update_table, data);
}

bool crc32c_hardware_available() {
#ifdef SEMLOCK_CRC32C_X86
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

std::uint32_t crc32c_hardware(std::string_view data) {
#ifdef SEMLOCK_CRC32C_X86
  if (crc32c_hardware_available()) return run(update_sse42, data);
#endif
  return run(update_table, data);
}

}  // namespace semlock::persist
