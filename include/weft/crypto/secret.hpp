// weft/crypto/secret.hpp - secret_bytes<N>: key material that is move-only, wipes itself,
// cannot be printed and never converts to bytes implicitly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/crypto/errors.hpp"

WEFT_BEGIN
namespace crypto {
namespace detail {

/// Overwrites `bytes` with zeros in a way the optimiser may not remove (volatile stores plus
/// a compiler barrier), like sodium_memzero but portable.
inline void secure_wipe(void* bytes, std::size_t size) noexcept {
  volatile std::uint8_t* p = static_cast<volatile std::uint8_t*>(bytes);
  for (std::size_t i = 0; i < size; ++i) p[i] = 0;
#if defined(__GNUC__) || defined(__clang__)
  __asm__ __volatile__("" : : "r"(bytes) : "memory");
#endif
}

}  // namespace detail

/// N bytes of secret key material.
///
/// - move-only: a copy would leave an unwiped twin behind; moving wipes the source;
/// - wipes itself on destruction;
/// - no operator<<, no fmt formatter, not a range, no implicit conversion: the bytes are
///   reached only through the deliberately named expose() / expose_mutable(), so a grep
///   for "expose" finds every place key material is read.
template <std::size_t N>
class secret_bytes {
  static_assert(N > 0, "a secret needs at least one byte");

 public:
  static constexpr std::size_t size_bytes = N;

  constexpr secret_bytes() noexcept = default;
  /// Copies `bytes` in; the caller wipes its own copy.
  explicit secret_bytes(std::span<const std::uint8_t, N> source) noexcept {
    std::memcpy(bytes_.data(), source.data(), N);
  }
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  secret_bytes(secret_bytes&& other) noexcept {
    std::memcpy(bytes_.data(), other.bytes_.data(), N);
    other.wipe();
  }
  secret_bytes& operator=(secret_bytes&& other) noexcept {
    if (this != &other) {
      std::memcpy(bytes_.data(), other.bytes_.data(), N);
      other.wipe();
    }
    return *this;
  }
  ~secret_bytes() { wipe(); }

  /// Loads from a view of any size; fails on a size mismatch (never truncates or pads).
  [[nodiscard]] static result<secret_bytes> from(byte_view source) noexcept;

  [[nodiscard]] std::span<const std::uint8_t, N> expose() const noexcept { return bytes_; }
  [[nodiscard]] std::span<std::uint8_t, N> expose_mutable() noexcept { return bytes_; }
  void wipe() noexcept { detail::secure_wipe(bytes_.data(), N); }

  /// Constant-time comparison.
  [[nodiscard]] bool equals(const secret_bytes& other) const noexcept {
    std::uint8_t diff = 0;
    for (std::size_t i = 0; i < N; ++i)
      diff = static_cast<std::uint8_t>(diff | (bytes_[i] ^ other.bytes_[i]));
    return diff == 0;
  }

 private:
  std::array<std::uint8_t, N> bytes_{};
};

template <std::size_t N>
result<secret_bytes<N>> secret_bytes<N>::from(byte_view source) noexcept {
  if (source.size() != N) return error(crypto_errc::invalid_length, "secret_bytes::from");
  return secret_bytes(std::span<const std::uint8_t, N>(source.data(), N));
}

/// Constant-time equality of two public byte strings of equal length (tags, MACs).
[[nodiscard]] inline bool equal_constant_time(byte_view a, byte_view b) noexcept {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace crypto
WEFT_END
