// Minimal models of every crypto concept, including a KEM and a signer with ML-KEM-768 and
// ML-DSA-65 sizes (toy, insecure constructions: they prove the concepts fit post-quantum
// sizes and that generic code works with them, nothing else), plus the backend's models.
#include "test_support.hpp"

#include <cstring>

#include "weft/crypto/concepts.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/crypto/sodium.hpp"

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;

namespace {

/// FNV-1a widened to 32 bytes: a toy hash_function (not cryptographic).
struct toy_hash {
  static constexpr std::size_t digest_size = 32;
  static constexpr std::size_t block_size = 64;
  std::uint64_t state = 0xcbf29ce484222325ull;
  void update(weft::byte_view in) noexcept {
    for (auto b : in) state = (state ^ b) * 0x100000001b3ull;
  }
  void finish(std::span<std::uint8_t, digest_size> out) noexcept {
    for (std::size_t i = 0; i < digest_size; ++i) {
      state = (state ^ i) * 0x100000001b3ull;
      out[i] = static_cast<std::uint8_t>(state >> 56);
    }
  }
  static wc::fixed_bytes<digest_size> digest(weft::byte_view in) noexcept {
    toy_hash h;
    h.update(in);
    wc::fixed_bytes<digest_size> out;
    h.finish(out);
    return out;
  }
};

/// ML-KEM sizes (FIPS 203): ML-KEM-768 pk 1184, sk 2400, ct 1088; ML-KEM-1024 pk 1568,
/// sk 3168, ct 1568; both ss 32, d||z seed 64, m 32.
/// Toy construction: pk = expand(seed), ct = coins || pad, ss = H(pk || coins).
template <std::size_t PublicKeySize, std::size_t SecretKeySize, std::size_t CiphertextSize>
struct toy_mlkem {
  static constexpr std::size_t public_key_size = PublicKeySize, secret_key_size = SecretKeySize,
                               ciphertext_size = CiphertextSize, shared_secret_size = 32,
                               keygen_seed_size = 64, encaps_coins_size = 32;
  using public_key = wc::fixed_bytes<public_key_size>;
  using secret_key = wc::secret_bytes<secret_key_size>;
  using ciphertext = wc::fixed_bytes<ciphertext_size>;
  using shared_secret = wc::secret_bytes<shared_secret_size>;

  static weft::result<secret_key> secret_key_from_seed(
      std::span<const std::uint8_t, keygen_seed_size> seed) noexcept {
    secret_key sk;
    auto s = sk.expose_mutable();
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(seed[i % 64] ^ i);
    return sk;
  }
  static public_key public_key_of(const secret_key& sk) noexcept {
    public_key pk;
    std::memcpy(pk.data(), sk.expose().data(), public_key_size);
    return pk;
  }
  static weft::result<public_key> parse_public_key(weft::byte_view b) noexcept {
    if (b.size() != public_key_size) return wc::crypto_errc::invalid_length;
    public_key pk;
    std::memcpy(pk.data(), b.data(), b.size());
    return pk;
  }
  static shared_secret derive(const public_key& pk, weft::byte_view coins) noexcept {
    toy_hash h;
    h.update(pk);
    h.update(coins);
    shared_secret ss;
    h.finish(ss.expose_mutable());
    return ss;
  }
  static weft::result<shared_secret> encapsulate(
      const public_key& pk, std::span<const std::uint8_t, encaps_coins_size> coins,
      ciphertext& ct) noexcept {
    ct.fill(0);
    std::memcpy(ct.data(), coins.data(), coins.size());
    return derive(pk, coins);
  }
  static weft::result<shared_secret> decapsulate(const secret_key& sk,
                                                 const ciphertext& ct) noexcept {
    return derive(public_key_of(sk), weft::byte_view(ct).first(encaps_coins_size));
  }
};

using toy_mlkem768 = toy_mlkem<1184, 2400, 1088>;
using toy_mlkem1024 = toy_mlkem<1568, 3168, 1568>;

/// ML-DSA-65 sizes (FIPS 204): pk 1952, sk 4032, signature 3309, seed 32. Toy: a "MAC" with
/// the public key (anyone can forge; sizes and plumbing only).
struct toy_mldsa65 {
  static constexpr std::size_t public_key_size = 1952, signature_size = 3309, seed_size = 32;
  using public_key = wc::fixed_bytes<public_key_size>;
  using signature = wc::fixed_bytes<signature_size>;
  using secret_key = wc::secret_bytes<4032>;
  static weft::result<public_key> parse_public_key(weft::byte_view b) noexcept {
    if (b.size() != public_key_size) return wc::crypto_errc::invalid_length;
    public_key pk;
    std::memcpy(pk.data(), b.data(), b.size());
    return pk;
  }
  static secret_key secret_key_from_seed(std::span<const std::uint8_t, seed_size> seed) noexcept {
    secret_key sk;
    auto s = sk.expose_mutable();
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(seed[i % 32] + i);
    return sk;
  }
  static public_key public_key_of(const secret_key& sk) noexcept {
    public_key pk;
    std::memcpy(pk.data(), sk.expose().data(), public_key_size);
    return pk;
  }
  static signature sign_with(const public_key& pk, weft::byte_view m) noexcept {
    signature sig{};
    const auto d = toy_hash::digest(m);
    for (std::size_t i = 0; i < signature_size; ++i)
      sig[i] = static_cast<std::uint8_t>(d[i % 32] ^ pk[i % public_key_size]);
    return sig;
  }
  static signature sign(const secret_key& sk, weft::byte_view m) noexcept {
    return sign_with(public_key_of(sk), m);
  }
  static weft::result<void> verify(const public_key& pk, weft::byte_view m,
                                   weft::byte_view sig) noexcept {
    if (sig.size() != signature_size) return wc::crypto_errc::invalid_length;
    const auto expected = sign_with(pk, m);
    if (!wc::equal_constant_time(expected, sig)) return wc::crypto_errc::bad_signature;
    return weft::ok();
  }
};

struct counter_random {
  std::uint8_t next = 1;
  void fill(weft::mutable_byte_view out) noexcept {
    for (auto& b : out) b = next++;
  }
};

static_assert(wc::hash_function<toy_hash>);
static_assert(wc::kem<toy_mlkem768>);
static_assert(wc::kem<toy_mlkem1024>);
static_assert(wc::signer<toy_mldsa65>);
static_assert(wc::crypto_random_source<counter_random>);
static_assert(!wc::hash_function<int>);
static_assert(!wc::signer<toy_hash>);
static_assert(wc::signer<ls::ed25519>);
static_assert(wc::key_agreement<ls::x25519>);
static_assert(wc::aead<ls::chacha20poly1305_ietf>);
static_assert(wc::mac_function<ls::hmac_sha256>);
static_assert(wc::crypto_backend<wc::sodium>);

}  // namespace

TEMPLATE_TEST_CASE("a KEM with ML-KEM-768 and ML-KEM-1024 sizes works through the concept",
                   "[crypto][concepts]", toy_mlkem768, toy_mlkem1024) {
  using kem = TestType;
  counter_random random;
  auto seed = wc::generate_secret<64>(random);
  auto sk = kem::secret_key_from_seed(seed.expose());
  REQUIRE(sk.has_value());
  const auto pk = kem::public_key_of(*sk);
  auto coins = wc::generate_secret<32>(random);
  typename kem::ciphertext ct{};
  auto sender = kem::encapsulate(pk, coins.expose(), ct);
  auto receiver = kem::decapsulate(*sk, ct);
  REQUIRE(sender.has_value());
  REQUIRE(receiver.has_value());
  CHECK(sender->equals(*receiver));
  CHECK(kem::parse_public_key(weft::byte_view(pk).first(kem::public_key_size - 1))
            .error()
            .is(wc::crypto_errc::invalid_length));
}

TEST_CASE("a signer with ML-DSA-65 sizes works through generic code", "[crypto][concepts]") {
  counter_random random;
  const auto sk = wc::generate_signing_key<toy_mldsa65>(random);
  const auto pk = toy_mldsa65::public_key_of(sk);
  const auto sig = toy_mldsa65::sign(sk, weft::as_bytes("hello"));
  CHECK(toy_mldsa65::verify(pk, weft::as_bytes("hello"), sig).has_value());
  CHECK(toy_mldsa65::verify(pk, weft::as_bytes("hellO"), sig).error().is(wc::crypto_errc::bad_signature));
  // The Merkle tree is generic over the hash concept too.
  auto tree = wc::merkle_tree<toy_hash>::create({.max_leaves = 4});
  REQUIRE(tree.has_value());
  REQUIRE(tree->append(pk).has_value());
  REQUIRE(tree->append(weft::as_bytes("x")).has_value());
  auto proof = tree->inclusion_proof(0, 2);
  REQUIRE(proof.has_value());
  CHECK(wc::verify_inclusion<toy_hash>(0, 2, wc::merkle_hashing<toy_hash>::leaf(pk),
                                       std::span(proof->begin(), proof->size()), tree->root())
            .has_value());
}
