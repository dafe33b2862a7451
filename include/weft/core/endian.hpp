// weft/core/endian.hpp - loads and stores of fixed-width integers in a stated byte order.
// Byte loops rather than casts: no alignment or aliasing assumptions, and compilers fold
// them to single moves (plus a bswap where needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "weft/config.hpp"

WEFT_BEGIN

template <class U>
concept unsigned_word = std::is_unsigned_v<U> && !std::is_same_v<U, bool>;

template <unsigned_word U>
[[nodiscard]] constexpr U load_be(const std::uint8_t* p) noexcept {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | p[i]);
  return v;
}
template <unsigned_word U>
[[nodiscard]] constexpr U load_le(const std::uint8_t* p) noexcept {
  U v = 0;
  for (std::size_t i = sizeof(U); i > 0; --i) v = static_cast<U>((v << 8) | p[i - 1]);
  return v;
}
template <unsigned_word U>
constexpr void store_be(std::uint8_t* p, U v) noexcept {
  for (std::size_t i = sizeof(U); i > 0; --i) {
    p[i - 1] = static_cast<std::uint8_t>(v & 0xffu);
    v = static_cast<U>(v >> 8);
  }
}
template <unsigned_word U>
constexpr void store_le(std::uint8_t* p, U v) noexcept {
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    p[i] = static_cast<std::uint8_t>(v & 0xffu);
    v = static_cast<U>(v >> 8);
  }
}

WEFT_END
