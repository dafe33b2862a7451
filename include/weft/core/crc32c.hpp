// weft/core/crc32c.hpp - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used
// by iSCSI, ext4 and most write-ahead logs. Uses the SSE4.2 instruction when the CPU has it
// (checked once at run time), otherwise slicing-by-8 tables built at compile time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define WEFT_CRC32C_X86 1
#  include <nmmintrin.h>
#else
#  define WEFT_CRC32C_X86 0
#endif

WEFT_BEGIN

namespace detail {
inline constexpr std::uint32_t crc32c_polynomial = 0x82F63B78u;

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32c_tables() noexcept {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_polynomial : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t i = 0; i < 256; ++i)
    for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xffu];
  return t;
}
inline constexpr auto crc32c_tables = make_crc32c_tables();

/// Table-driven update on the raw (pre-inverted) register.
constexpr std::uint32_t crc32c_update_portable(std::uint32_t crc, const std::uint8_t* p,
                                               std::size_t n) noexcept {
  const auto& t = crc32c_tables;
  while (n >= 8) {
    const std::uint32_t lo = crc ^ (static_cast<std::uint32_t>(p[0]) |
                                    static_cast<std::uint32_t>(p[1]) << 8 |
                                    static_cast<std::uint32_t>(p[2]) << 16 |
                                    static_cast<std::uint32_t>(p[3]) << 24);
    crc = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^
          t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xffu];
  return crc;
}

#if WEFT_CRC32C_X86
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_update_sse42(
    std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t c = crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
inline bool cpu_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2") != 0;
  return has;
}
#endif
}  // namespace detail

/// Extends `crc` (a finished CRC-32C of earlier bytes, or 0 to start) over `bytes`.
[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, byte_view bytes) noexcept {
  std::uint32_t reg = ~crc;
#if WEFT_CRC32C_X86
  if (detail::cpu_has_sse42()) return ~detail::crc32c_update_sse42(reg, bytes.data(), bytes.size());
#endif
  reg = detail::crc32c_update_portable(reg, bytes.data(), bytes.size());
  return ~reg;
}

/// CRC-32C of `bytes`.
[[nodiscard]] inline std::uint32_t crc32c(byte_view bytes) noexcept {
  return crc32c_extend(0, bytes);
}

/// The portable path, exposed so tests can check both paths agree.
[[nodiscard]] constexpr std::uint32_t crc32c_portable(byte_view bytes) noexcept {
  return ~detail::crc32c_update_portable(~0u, bytes.data(), bytes.size());
}

/// Masked form for CRCs stored beside the data they cover (as LevelDB does), so that a
/// CRC computed over bytes that themselves embed CRCs does not degenerate.
[[nodiscard]] constexpr std::uint32_t crc32c_mask(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
[[nodiscard]] constexpr std::uint32_t crc32c_unmask(std::uint32_t masked) noexcept {
  const std::uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

WEFT_END
