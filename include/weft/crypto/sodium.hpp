// weft/crypto/sodium.hpp - the libsodium backend: Ed25519, X25519, ChaCha20-Poly1305 (IETF),
// XChaCha20-Poly1305, BLAKE2b, SHA-256/512, HMAC-SHA-256 and the system random source.
// weft:hosted (needs <sodium.h>; link weft::sodium)
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/concepts.hpp"

WEFT_BEGIN
namespace crypto {
namespace libsodium {
namespace detail {

/// sodium_init() once (thread-safe function-local static); it picks the fastest
/// implementations for this CPU and seeds randombytes. Returns false if it failed.
inline bool initialized() noexcept {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

}  // namespace detail

/// SHA-256 (FIPS 180-4).
class sha256 {
 public:
  static constexpr std::size_t digest_size = 32;
  static constexpr std::size_t block_size = 64;
  sha256() noexcept { crypto_hash_sha256_init(&state_); }
  void update(byte_view input) noexcept {
    crypto_hash_sha256_update(&state_, input.data(), input.size());
  }
  void finish(std::span<std::uint8_t, digest_size> out) noexcept {
    crypto_hash_sha256_final(&state_, out.data());
  }
  [[nodiscard]] static fixed_bytes<digest_size> digest(byte_view input) noexcept {
    fixed_bytes<digest_size> out;
    crypto_hash_sha256(out.data(), input.data(), input.size());
    return out;
  }

 private:
  crypto_hash_sha256_state state_;
};

/// SHA-512 (FIPS 180-4).
class sha512 {
 public:
  static constexpr std::size_t digest_size = 64;
  static constexpr std::size_t block_size = 128;
  sha512() noexcept { crypto_hash_sha512_init(&state_); }
  void update(byte_view input) noexcept {
    crypto_hash_sha512_update(&state_, input.data(), input.size());
  }
  void finish(std::span<std::uint8_t, digest_size> out) noexcept {
    crypto_hash_sha512_final(&state_, out.data());
  }
  [[nodiscard]] static fixed_bytes<digest_size> digest(byte_view input) noexcept {
    fixed_bytes<digest_size> out;
    crypto_hash_sha512(out.data(), input.data(), input.size());
    return out;
  }

 private:
  crypto_hash_sha512_state state_;
};

/// BLAKE2b with a 64-byte digest and no key (the "BLAKE2b" of Noise).
class blake2b512 {
 public:
  static constexpr std::size_t digest_size = 64;
  static constexpr std::size_t block_size = 128;
  static constexpr std::string_view noise_name = "BLAKE2b";
  blake2b512() noexcept { crypto_generichash_blake2b_init(&state_, nullptr, 0, digest_size); }
  void update(byte_view input) noexcept {
    crypto_generichash_blake2b_update(&state_, input.data(), input.size());
  }
  void finish(std::span<std::uint8_t, digest_size> out) noexcept {
    crypto_generichash_blake2b_final(&state_, out.data(), digest_size);
  }
  [[nodiscard]] static fixed_bytes<digest_size> digest(byte_view input) noexcept {
    fixed_bytes<digest_size> out;
    crypto_generichash_blake2b(out.data(), digest_size, input.data(), input.size(), nullptr, 0);
    return out;
  }

 private:
  crypto_generichash_blake2b_state state_;
};

/// HMAC-SHA-256 (RFC 2104) with a 32-byte key.
class hmac_sha256 {
 public:
  static constexpr std::size_t key_size = crypto_auth_hmacsha256_KEYBYTES;
  static constexpr std::size_t tag_size = crypto_auth_hmacsha256_BYTES;
  using key = secret_bytes<key_size>;

  [[nodiscard]] static fixed_bytes<tag_size> compute(const key& k, byte_view message) noexcept {
    fixed_bytes<tag_size> out;
    crypto_auth_hmacsha256(out.data(), message.data(), message.size(), k.expose().data());
    return out;
  }
  [[nodiscard]] static result<void> verify(const key& k, byte_view message,
                                           byte_view tag) noexcept {
    if (tag.size() != tag_size) return error(crypto_errc::invalid_length, "hmac_sha256::verify");
    if (crypto_auth_hmacsha256_verify(tag.data(), message.data(), message.size(),
                                      k.expose().data()) != 0)
      return error(crypto_errc::authentication_failed, "hmac_sha256::verify");
    return ok();
  }
};

/// Ed25519 (RFC 8032, pure). libsodium's verifier rejects non-canonical S and encodings
/// and small-order public keys and R; see docs/crypto.md for the Wycheproof outcome.
class ed25519 {
 public:
  static constexpr std::size_t public_key_size = crypto_sign_ed25519_PUBLICKEYBYTES;
  static constexpr std::size_t signature_size = crypto_sign_ed25519_BYTES;
  static constexpr std::size_t seed_size = crypto_sign_ed25519_SEEDBYTES;
  using public_key = fixed_bytes<public_key_size>;
  using signature = fixed_bytes<signature_size>;
  /// libsodium's expanded form: seed || public key.
  using secret_key = secret_bytes<crypto_sign_ed25519_SECRETKEYBYTES>;

  [[nodiscard]] static result<public_key> parse_public_key(byte_view bytes) noexcept {
    if (bytes.size() != public_key_size)
      return error(crypto_errc::invalid_length, "ed25519::parse_public_key");
    public_key out;
    std::memcpy(out.data(), bytes.data(), public_key_size);
    return out;
  }
  [[nodiscard]] static secret_key secret_key_from_seed(
      std::span<const std::uint8_t, seed_size> seed) noexcept {
    (void)detail::initialized();
    secret_key sk;
    public_key pk;
    crypto_sign_ed25519_seed_keypair(pk.data(), sk.expose_mutable().data(), seed.data());
    return sk;
  }
  [[nodiscard]] static public_key public_key_of(const secret_key& sk) noexcept {
    public_key pk;
    crypto_sign_ed25519_sk_to_pk(pk.data(), sk.expose().data());
    return pk;
  }
  [[nodiscard]] static signature sign(const secret_key& sk, byte_view message) noexcept {
    signature sig;
    crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(),
                                 sk.expose().data());
    return sig;
  }
  [[nodiscard]] static result<void> verify(const public_key& pk, byte_view message,
                                           byte_view sig) noexcept {
    if (sig.size() != signature_size) return error(crypto_errc::invalid_length, "ed25519::verify");
    if (crypto_sign_ed25519_verify_detached(sig.data(), message.data(), message.size(),
                                            pk.data()) != 0)
      return error(crypto_errc::bad_signature, "ed25519::verify");
    return ok();
  }
};

/// X25519 (RFC 7748). agree() refuses the all-zero shared secret (a small-order peer key).
class x25519 {
 public:
  static constexpr std::size_t public_key_size = crypto_scalarmult_curve25519_BYTES;
  static constexpr std::size_t secret_key_size = crypto_scalarmult_curve25519_SCALARBYTES;
  static constexpr std::size_t shared_secret_size = crypto_scalarmult_curve25519_BYTES;
  static constexpr std::string_view noise_name = "25519";
  using public_key = fixed_bytes<public_key_size>;
  using secret_key = secret_bytes<secret_key_size>;
  using shared_secret = secret_bytes<shared_secret_size>;

  [[nodiscard]] static result<public_key> parse_public_key(byte_view bytes) noexcept {
    if (bytes.size() != public_key_size)
      return error(crypto_errc::invalid_length, "x25519::parse_public_key");
    public_key out;
    std::memcpy(out.data(), bytes.data(), public_key_size);
    return out;
  }
  [[nodiscard]] static public_key public_key_of(const secret_key& sk) noexcept {
    public_key pk;
    crypto_scalarmult_curve25519_base(pk.data(), sk.expose().data());
    return pk;
  }
  [[nodiscard]] static result<shared_secret> agree(const secret_key& sk,
                                                   const public_key& pk) noexcept {
    shared_secret out;
    if (crypto_scalarmult_curve25519(out.expose_mutable().data(), sk.expose().data(),
                                     pk.data()) != 0)
      return error(crypto_errc::weak_shared_secret, "x25519::agree");
    return out;
  }
};

namespace detail {

/// The common shape of libsodium's detached IETF AEAD calls.
template <std::size_t KeySize, std::size_t NonceSize, std::size_t TagSize,
          int (*Encrypt)(unsigned char*, unsigned char*, unsigned long long*,
                         const unsigned char*, unsigned long long, const unsigned char*,
                         unsigned long long, const unsigned char*, const unsigned char*,
                         const unsigned char*),
          int (*Decrypt)(unsigned char*, unsigned char*, const unsigned char*,
                         unsigned long long, const unsigned char*, const unsigned char*,
                         unsigned long long, const unsigned char*, const unsigned char*)>
struct sodium_aead {
  static constexpr std::size_t key_size = KeySize;
  static constexpr std::size_t nonce_size = NonceSize;
  static constexpr std::size_t tag_size = TagSize;
  /// The ChaCha20 block counter limits one message to 2^32 - 1 blocks minus the tag.
  static constexpr std::uint64_t max_message_size_bytes = 64ull * 0xffffffffull;
  using key = secret_bytes<KeySize>;

  [[nodiscard]] static result<std::size_t> seal(const key& k, byte_view nonce, byte_view aad,
                                                byte_view input,
                                                mutable_byte_view output) noexcept {
    if (nonce.size() != nonce_size) return error(crypto_errc::invalid_length, "aead::seal nonce");
    if (input.size() > max_message_size_bytes)
      return error(crypto_errc::invalid_length, "aead::seal input");
    if (output.size() < input.size() + tag_size)
      return error(crypto_errc::buffer_too_small, "aead::seal");
    Encrypt(output.data(), output.data() + input.size(), nullptr, input.data(), input.size(),
            aad.data(), aad.size(), nullptr, nonce.data(), k.expose().data());
    return input.size() + tag_size;
  }

  /// `output` may start where `input` does: libsodium checks the tag before it decrypts,
  /// in place.
  [[nodiscard]] static result<std::size_t> open(const key& k, byte_view nonce, byte_view aad,
                                                byte_view input,
                                                mutable_byte_view output) noexcept {
    if (nonce.size() != nonce_size) return error(crypto_errc::invalid_length, "aead::open nonce");
    if (input.size() < tag_size) return error(crypto_errc::authentication_failed, "aead::open");
    const std::size_t plain_size = input.size() - tag_size;
    if (output.size() < plain_size) return error(crypto_errc::buffer_too_small, "aead::open");
    if (Decrypt(output.data(), nullptr, input.data(), plain_size, input.data() + plain_size,
                aad.data(), aad.size(), nonce.data(), k.expose().data()) != 0)
      return error(crypto_errc::authentication_failed, "aead::open");
    return plain_size;
  }
};

}  // namespace detail

/// ChaCha20-Poly1305 as in RFC 8439 (96-bit nonce, 128-bit tag).
struct chacha20poly1305_ietf
    : detail::sodium_aead<crypto_aead_chacha20poly1305_ietf_KEYBYTES,
                          crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
                          crypto_aead_chacha20poly1305_ietf_ABYTES,
                          &crypto_aead_chacha20poly1305_ietf_encrypt_detached,
                          &crypto_aead_chacha20poly1305_ietf_decrypt_detached> {
  static constexpr std::string_view noise_name = "ChaChaPoly";
};

/// XChaCha20-Poly1305 (192-bit nonce: safe to draw at random).
struct xchacha20poly1305_ietf
    : detail::sodium_aead<crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
                          crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                          crypto_aead_xchacha20poly1305_ietf_ABYTES,
                          &crypto_aead_xchacha20poly1305_ietf_encrypt_detached,
                          &crypto_aead_xchacha20poly1305_ietf_decrypt_detached> {};

/// The operating system's CSPRNG through randombytes_buf.
class random_source {
 public:
  random_source() noexcept { (void)detail::initialized(); }
  void fill(mutable_byte_view out) noexcept { randombytes_buf(out.data(), out.size()); }
};

}  // namespace libsodium

/// The libsodium backend by role (see crypto_backend in concepts.hpp).
struct sodium {
  using hash = libsodium::sha256;
  using mac = libsodium::hmac_sha256;
  using signature = libsodium::ed25519;
  using aead = libsodium::chacha20poly1305_ietf;
  using key_agreement = libsodium::x25519;
  using random = libsodium::random_source;

  /// Call once at start-up (idempotent); false if libsodium could not initialise.
  [[nodiscard]] static bool initialize() noexcept { return libsodium::detail::initialized(); }
};

static_assert(hash_function<libsodium::sha256>, "see docs/requirements/crypto_hash.md");
static_assert(hash_function<libsodium::sha512>, "see docs/requirements/crypto_hash.md");
static_assert(hash_function<libsodium::blake2b512>, "see docs/requirements/crypto_hash.md");
static_assert(aead<libsodium::xchacha20poly1305_ietf>, "see docs/requirements/crypto_aead.md");
static_assert(crypto_random_source<libsodium::random_source>,
              "see docs/requirements/crypto_random.md");
static_assert(crypto_backend<sodium>, "see docs/requirements/crypto_*.md");

}  // namespace crypto
WEFT_END
