// weft/crypto/concepts.hpp - the crypto policies: hash, MAC, signature, AEAD, key agreement,
// KEM and the cryptographic random source. Requirements tables: docs/requirements/crypto_*.md.
//
// Every primitive is a type with static constexpr sizes and static noexcept functions, so a
// backend is a set of types (weft::crypto::sodium, later a post-quantum or hardware one) and
// protocols (Noise, COSE, Merkle, key commitment) are templates over them. Sizes are
// compile-time constants of any magnitude: ML-KEM-768 (1184-byte public keys, 2400-byte
// secret keys, 1088-byte ciphertexts) and ML-DSA-65 (1952/4032/3309 bytes) fit the same
// concepts as X25519 and Ed25519. Secret keys are secret_bytes<N> (move-only, self-wiping).
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/errors.hpp"
#include "weft/crypto/secret.hpp"

WEFT_BEGIN
namespace crypto {

/// Public, fixed-size byte strings: digests, public keys, signatures, ciphertexts.
template <std::size_t N>
using fixed_bytes = std::array<std::uint8_t, N>;

namespace detail {
template <class T>
struct is_secret : std::false_type {};
template <std::size_t N>
struct is_secret<secret_bytes<N>> : std::true_type {};
template <class T>
concept secret_type = is_secret<T>::value;
}  // namespace detail

/// A cryptographic hash with an incremental interface. See docs/requirements/crypto_hash.md.
template <class H>
concept hash_function = requires(H& h, byte_view input,
                                 std::span<std::uint8_t, H::digest_size> out) {
  requires H::digest_size > 0;
  requires H::block_size > 0;
  requires std::is_nothrow_default_constructible_v<H>;
  { h.update(input) } noexcept -> std::same_as<void>;
  { h.finish(out) } noexcept -> std::same_as<void>;
  { H::digest(input) } noexcept -> std::same_as<fixed_bytes<H::digest_size>>;
};

/// A message authentication code with a fixed-size secret key.
/// See docs/requirements/crypto_mac.md.
template <class M>
concept mac_function = requires(const typename M::key& key, byte_view message,
                                byte_view tag) {
  requires detail::secret_type<typename M::key>;
  requires M::tag_size > 0;
  { M::compute(key, message) } noexcept -> std::same_as<fixed_bytes<M::tag_size>>;
  { M::verify(key, message, tag) } noexcept -> std::same_as<result<void>>;
};

/// Verifies signatures. See docs/requirements/crypto_signature.md.
template <class S>
concept signature_verifier = requires(byte_view bytes, const typename S::public_key& public_key,
                                      byte_view message, byte_view signature) {
  requires std::same_as<typename S::public_key, fixed_bytes<S::public_key_size>>;
  requires std::same_as<typename S::signature, fixed_bytes<S::signature_size>>;
  { S::parse_public_key(bytes) } noexcept -> std::same_as<result<typename S::public_key>>;
  { S::verify(public_key, message, signature) } noexcept -> std::same_as<result<void>>;
};

/// Signs (and verifies). Secret keys derive deterministically from a seed so that key
/// generation is the caller's randomness, injected. See docs/requirements/crypto_signature.md.
template <class S>
concept signer = signature_verifier<S> &&
    requires(const typename S::secret_key& secret_key, byte_view message,
             std::span<const std::uint8_t, S::seed_size> seed) {
  requires detail::secret_type<typename S::secret_key>;
  { S::secret_key_from_seed(seed) } noexcept -> std::same_as<typename S::secret_key>;
  { S::public_key_of(secret_key) } noexcept -> std::same_as<typename S::public_key>;
  { S::sign(secret_key, message) } noexcept -> std::same_as<typename S::signature>;
};

/// Authenticated encryption with associated data. `seal` writes ciphertext||tag
/// (input.size() + tag_size bytes), `open` writes the plaintext; both return the number of
/// bytes written. Output may alias input exactly (in place). See docs/requirements/crypto_aead.md.
template <class A>
concept aead = requires(const typename A::key& key, byte_view nonce, byte_view aad,
                        byte_view input, mutable_byte_view output) {
  requires detail::secret_type<typename A::key>;
  requires A::key_size == A::key::size_bytes;
  requires A::nonce_size > 0;
  requires A::tag_size > 0;
  { A::seal(key, nonce, aad, input, output) } noexcept -> std::same_as<result<std::size_t>>;
  { A::open(key, nonce, aad, input, output) } noexcept -> std::same_as<result<std::size_t>>;
};

/// Diffie-Hellman style key agreement. See docs/requirements/crypto_key_agreement.md.
template <class K>
concept key_agreement = requires(const typename K::secret_key& secret_key,
                                 const typename K::public_key& public_key) {
  requires detail::secret_type<typename K::secret_key>;
  requires detail::secret_type<typename K::shared_secret>;
  requires std::same_as<typename K::public_key, fixed_bytes<K::public_key_size>>;
  { K::public_key_of(secret_key) } noexcept -> std::same_as<typename K::public_key>;
  { K::agree(secret_key, public_key) } noexcept -> std::same_as<result<typename K::shared_secret>>;
};

/// A key-encapsulation mechanism (ML-KEM and friends), derandomised: the caller passes the
/// seed for key generation and the coins for encapsulation.
/// See docs/requirements/crypto_kem.md.
template <class K>
concept kem = requires(std::span<const std::uint8_t, K::keygen_seed_size> seed,
                       std::span<const std::uint8_t, K::encaps_coins_size> coins,
                       const typename K::public_key& public_key,
                       const typename K::secret_key& secret_key,
                       const typename K::ciphertext& ciphertext,
                       typename K::ciphertext& ciphertext_out, byte_view bytes) {
  requires detail::secret_type<typename K::secret_key>;
  requires detail::secret_type<typename K::shared_secret>;
  requires std::same_as<typename K::public_key, fixed_bytes<K::public_key_size>>;
  requires std::same_as<typename K::ciphertext, fixed_bytes<K::ciphertext_size>>;
  { K::secret_key_from_seed(seed) } noexcept -> std::same_as<result<typename K::secret_key>>;
  { K::public_key_of(secret_key) } noexcept -> std::same_as<typename K::public_key>;
  { K::parse_public_key(bytes) } noexcept -> std::same_as<result<typename K::public_key>>;
  { K::encapsulate(public_key, coins, ciphertext_out) } noexcept
      -> std::same_as<result<typename K::shared_secret>>;
  { K::decapsulate(secret_key, ciphertext) } noexcept
      -> std::same_as<result<typename K::shared_secret>>;
};

/// Cryptographically secure random bytes (never weft::xoshiro256).
/// See docs/requirements/crypto_random.md.
template <class R>
concept crypto_random_source = requires(R& random, mutable_byte_view out) {
  { random.fill(out) } noexcept -> std::same_as<void>;
};

/// A backend: one type naming the primitives protocols need by role.
template <class B>
concept crypto_backend = hash_function<typename B::hash> && mac_function<typename B::mac> &&
                         signer<typename B::signature> && aead<typename B::aead> &&
                         key_agreement<typename B::key_agreement>;

/// Draws a fresh secret of N bytes from `random`.
template <std::size_t N, crypto_random_source R>
[[nodiscard]] secret_bytes<N> generate_secret(R& random) noexcept {
  secret_bytes<N> out;
  random.fill(out.expose_mutable());
  return out;
}

/// A new signing key from a fresh random seed (the seed is wiped).
template <signer S, crypto_random_source R>
[[nodiscard]] typename S::secret_key generate_signing_key(R& random) noexcept {
  secret_bytes<S::seed_size> seed = generate_secret<S::seed_size>(random);
  return S::secret_key_from_seed(seed.expose());
}

}  // namespace crypto
WEFT_END
