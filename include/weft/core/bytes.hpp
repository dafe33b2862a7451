// weft/core/bytes.hpp - byte views, hex conversion, and bounds-checked cursors over
// caller-owned memory (byte_writer, byte_reader). Nothing here allocates except to_hex
// into a std::string, which is for tools and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN

using byte_view = std::span<const std::uint8_t>;
using mutable_byte_view = std::span<std::uint8_t>;

[[nodiscard]] inline byte_view as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
[[nodiscard]] inline std::string_view as_chars(byte_view bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
[[nodiscard]] inline bool equal_bytes(byte_view a, byte_view b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

namespace detail {
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace detail

/// Lowercase hex of `bytes`.
[[nodiscard]] inline std::string to_hex(byte_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return out;
}

/// Decodes hex (either case) into `out`; returns the number of bytes written.
[[nodiscard]] inline result<std::size_t> from_hex(std::string_view hex,
                                                  mutable_byte_view out) noexcept {
  if (hex.size() % 2 != 0) return error(core_errc::invalid_hex, "from_hex: odd length");
  if (hex.size() / 2 > out.size()) return error(core_errc::capacity_exceeded, "from_hex");
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = detail::hex_digit_value(hex[i]);
    const int lo = detail::hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return error(core_errc::invalid_hex, "from_hex: not a hex digit");
    out[i / 2] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return hex.size() / 2;
}

/// Appends into caller-owned memory; every write is checked against the end.
class byte_writer {
 public:
  constexpr byte_writer() noexcept = default;
  constexpr explicit byte_writer(mutable_byte_view buffer) noexcept : buffer_(buffer) {}

  [[nodiscard]] constexpr std::size_t size() const noexcept { return used_; }
  [[nodiscard]] constexpr std::size_t capacity() const noexcept { return buffer_.size(); }
  [[nodiscard]] constexpr std::size_t remaining() const noexcept { return buffer_.size() - used_; }
  [[nodiscard]] constexpr byte_view written() const noexcept { return buffer_.first(used_); }
  [[nodiscard]] constexpr std::uint8_t* cursor() noexcept { return buffer_.data() + used_; }
  constexpr void clear() noexcept { used_ = 0; }

  [[nodiscard]] constexpr result<void> put(std::uint8_t b) noexcept {
    if (used_ == buffer_.size()) return error(core_errc::capacity_exceeded, "byte_writer");
    buffer_[used_++] = b;
    return ok();
  }
  [[nodiscard]] result<void> put(byte_view bytes) noexcept {
    if (bytes.size() > remaining()) return error(core_errc::capacity_exceeded, "byte_writer");
    if (!bytes.empty()) std::memcpy(buffer_.data() + used_, bytes.data(), bytes.size());
    used_ += bytes.size();
    return ok();
  }
  template <unsigned_word U>
  [[nodiscard]] constexpr result<void> put_be(U v) noexcept {
    if (sizeof(U) > remaining()) return error(core_errc::capacity_exceeded, "byte_writer");
    store_be<U>(buffer_.data() + used_, v);
    used_ += sizeof(U);
    return ok();
  }
  template <unsigned_word U>
  [[nodiscard]] constexpr result<void> put_le(U v) noexcept {
    if (sizeof(U) > remaining()) return error(core_errc::capacity_exceeded, "byte_writer");
    store_le<U>(buffer_.data() + used_, v);
    used_ += sizeof(U);
    return ok();
  }

 private:
  mutable_byte_view buffer_{};
  std::size_t used_ = 0;
};

/// Reads from a byte view; every read is checked against the end.
class byte_reader {
 public:
  constexpr byte_reader() noexcept = default;
  constexpr explicit byte_reader(byte_view input) noexcept : input_(input) {}

  [[nodiscard]] constexpr std::size_t position() const noexcept { return position_; }
  [[nodiscard]] constexpr std::size_t remaining() const noexcept {
    return input_.size() - position_;
  }
  [[nodiscard]] constexpr bool empty() const noexcept { return position_ == input_.size(); }
  [[nodiscard]] constexpr byte_view rest() const noexcept { return input_.subspan(position_); }

  [[nodiscard]] constexpr result<std::uint8_t> get() noexcept {
    if (position_ == input_.size()) return error(core_errc::truncated, "byte_reader");
    return input_[position_++];
  }
  [[nodiscard]] constexpr result<byte_view> take(std::size_t count) noexcept {
    if (count > remaining()) return error(core_errc::truncated, "byte_reader");
    const byte_view out = input_.subspan(position_, count);
    position_ += count;
    return out;
  }
  template <unsigned_word U>
  [[nodiscard]] constexpr result<U> get_be() noexcept {
    if (sizeof(U) > remaining()) return error(core_errc::truncated, "byte_reader");
    const U v = load_be<U>(input_.data() + position_);
    position_ += sizeof(U);
    return v;
  }
  template <unsigned_word U>
  [[nodiscard]] constexpr result<U> get_le() noexcept {
    if (sizeof(U) > remaining()) return error(core_errc::truncated, "byte_reader");
    const U v = load_le<U>(input_.data() + position_);
    position_ += sizeof(U);
    return v;
  }

 private:
  byte_view input_{};
  std::size_t position_ = 0;
};

WEFT_END
