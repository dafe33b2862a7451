// weft/membership/swim/admission.hpp - who may join: every member has a public key and an
// admission statement signed by an admitted key (a trust anchor or an admitted member).
// Claims about members are signed by their originator, so forged claims are dropped.
//
// The signer/verifier is a policy (admission_scheme). crypto_admission_scheme<S> adapts any
// weft::crypto::signer (e.g. crypto::libsodium::ed25519) to it. test_admission_scheme is a
// deterministic, INSECURE stand-in (a keyed hash whose key is the public key) for tests and
// simulations only.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/concepts.hpp"
#include "weft/membership/swim/errors.hpp"

WEFT_BEGIN
namespace swim {

/// Largest public key and signature any scheme may use (message buffers are sized by them).
inline constexpr std::size_t max_public_key_bytes = 32;
inline constexpr std::size_t max_signature_bytes = 64;

/// Requirements (see docs/swim.md, "Admission"):
///  - S::public_key_bytes, S::signature_bytes: exact sizes, at most the caps above.
///  - s.public_key(): this member's public key (public_key_bytes long).
///  - s.sign(message, out): writes signature_bytes into out; a short `out` is an error.
///  - S::verify(key, message, signature): true only for a signature made by the holder of
///    `key` over exactly `message`. Never throws, never allocates.
template <class S>
concept admission_scheme =
    std::movable<S> && requires(const S& s, byte_view bytes, mutable_byte_view out) {
      { S::public_key_bytes } -> std::convertible_to<std::size_t>;
      { S::signature_bytes } -> std::convertible_to<std::size_t>;
      { s.public_key() } noexcept -> std::convertible_to<byte_view>;
      { s.sign(bytes, out) } noexcept -> std::same_as<result<void>>;
      { S::verify(bytes, bytes, bytes) } noexcept -> std::same_as<bool>;
    } && (S::public_key_bytes <= max_public_key_bytes) &&
    (S::signature_bytes <= max_signature_bytes) && (S::public_key_bytes > 0) &&
    (S::signature_bytes > 0);

/// A deterministic keyed-hash stand-in for a signature scheme. INSECURE: anyone who knows
/// the public key can "sign". It exists so the protocol, its admission rules and its
/// simulations run without a crypto backend; tests forge with a different key.
class test_admission_scheme {
 public:
  static constexpr std::size_t public_key_bytes = 16;
  static constexpr std::size_t signature_bytes = 16;

  constexpr explicit test_admission_scheme(std::uint64_t seed = 1) noexcept {
    std::uint64_t a = mix(seed ^ 0x243f6a8885a308d3ull);
    std::uint64_t b = mix(a ^ 0x13198a2e03707344ull);
    for (std::size_t i = 0; i < 8; ++i) {
      key_[i] = static_cast<std::uint8_t>(a >> (8 * i));
      key_[8 + i] = static_cast<std::uint8_t>(b >> (8 * i));
    }
  }

  [[nodiscard]] byte_view public_key() const noexcept { return {key_.data(), key_.size()}; }

  [[nodiscard]] result<void> sign(byte_view message, mutable_byte_view out) const noexcept {
    if (out.size() < signature_bytes) return error(swim_errc::bad_signature, "test sign: short");
    tag(public_key(), message, out.first(signature_bytes));
    return ok();
  }

  [[nodiscard]] static bool verify(byte_view key, byte_view message,
                                   byte_view signature) noexcept {
    if (key.size() != public_key_bytes || signature.size() != signature_bytes) return false;
    std::array<std::uint8_t, signature_bytes> expect{};
    tag(key, message, expect);
    return equal_bytes(expect, signature);
  }

 private:
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static void tag(byte_view key, byte_view message, mutable_byte_view out) noexcept {
    std::uint64_t lanes[2] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull};
    for (std::size_t i = 0; i < key.size(); ++i)
      lanes[i & 1] = mix(lanes[i & 1] ^ (std::uint64_t{key[i]} << (8 * (i % 8))));
    for (std::size_t i = 0; i < message.size(); ++i)
      lanes[i & 1] = mix(lanes[i & 1] + message[i] + (std::uint64_t{i} << 32));
    lanes[0] = mix(lanes[0] ^ message.size() ^ lanes[1]);
    lanes[1] = mix(lanes[1] ^ lanes[0]);
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<std::uint8_t>(lanes[i / 8 % 2] >> (8 * (i % 8)));
  }
  std::array<std::uint8_t, public_key_bytes> key_{};
};

/// Adapts a weft::crypto::signer (Ed25519 from the sodium backend, or any other) into an
/// admission_scheme: holds this member's secret key, signs with it, verifies with S.
template <crypto::signer S>
class crypto_admission_scheme {
 public:
  static constexpr std::size_t public_key_bytes = S::public_key_size;
  static constexpr std::size_t signature_bytes = S::signature_size;

  explicit crypto_admission_scheme(typename S::secret_key secret) noexcept
      : secret_(std::move(secret)), public_(S::public_key_of(secret_)) {}

  [[nodiscard]] byte_view public_key() const noexcept { return {public_.data(), public_.size()}; }

  [[nodiscard]] result<void> sign(byte_view message, mutable_byte_view out) const noexcept {
    if (out.size() < signature_bytes) return error(swim_errc::bad_signature, "swim sign: short");
    const typename S::signature sig = S::sign(secret_, message);
    std::memcpy(out.data(), sig.data(), sig.size());
    return ok();
  }

  [[nodiscard]] static bool verify(byte_view key, byte_view message,
                                   byte_view signature) noexcept {
    auto parsed = S::parse_public_key(key);
    if (!parsed) return false;
    return S::verify(*parsed, message, signature).has_value();
  }

 private:
  typename S::secret_key secret_;
  typename S::public_key public_;
};

static_assert(admission_scheme<test_admission_scheme>,
              "test_admission_scheme must model admission_scheme; see docs/swim.md");

}  // namespace swim
WEFT_END
