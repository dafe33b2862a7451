// Wycheproof vectors against the libsodium backend, and the secret-key type's guarantees.
#include "test_support.hpp"

#include <cstring>
#include <map>
#include <new>
#include <string>
#include <type_traits>

#include "weft/crypto/cose.hpp"
#include "weft/crypto/sodium.hpp"
#include "weft/telemetry/concepts.hpp"

#if __has_include(<fmt/format.h>)
#  include <fmt/format.h>
#  define WEFT_TEST_HAVE_FMT 1
#endif

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using crypto_test::hex;
using crypto_test::load_vector;

namespace {

template <class T>
concept streamable = requires(std::ostream& os, const T& t) { os << t; };

/// Whether a T can become a telemetry field (`kv("key", value)`, what logs and metrics take).
template <class T>
concept telemetry_field = requires(const T& t) { weft::telemetry::kv("key", t); };

struct tally {
  std::map<std::string, int> by_result;
  std::map<std::string, int> acceptable_accepted;
};

template <class Aead>
void run_aead_vectors(const char* file) {
  auto doc = load_vector(std::string("wycheproof/") + file);
  if (!doc) return;
  int valid = 0, invalid = 0;
  for (const auto& group : (*doc)["testGroups"]) {
    for (const auto& test : group["tests"]) {
      const auto key = hex(test["key"]), iv = hex(test["iv"]), aad = hex(test["aad"]);
      const auto msg = hex(test["msg"]), ct = hex(test["ct"]), tag = hex(test["tag"]);
      const std::string result = test["result"];
      INFO(file << " tcId " << test["tcId"].get<int>() << " " << test["comment"].get<std::string>());
      auto k = typename Aead::key();
      auto parsed_key = Aead::key::from(key);
      crypto_test::bytes sealed(msg.size() + Aead::tag_size);
      crypto_test::bytes joined = ct;
      joined.insert(joined.end(), tag.begin(), tag.end());
      crypto_test::bytes opened(joined.size());
      bool accepted = false;
      if (parsed_key) {
        k = std::move(*parsed_key);
        auto o = Aead::open(k, iv, aad, joined, opened);
        accepted = o.has_value() && *o == msg.size() &&
                   weft::equal_bytes(weft::byte_view(opened).first(*o), msg);
        if (!o.has_value())
          CHECK((o.error().is(wc::crypto_errc::authentication_failed) ||
                 o.error().is(wc::crypto_errc::invalid_length)));
        auto s = Aead::seal(k, iv, aad, msg, sealed);
        if (result == "valid") {
          REQUIRE(s.has_value());
          CHECK(weft::equal_bytes(sealed, joined));
        }
      }
      if (result == "valid") {
        CHECK(accepted);
        ++valid;
      } else {
        REQUIRE(result == "invalid");
        CHECK_FALSE(accepted);
        ++invalid;
      }
    }
  }
  CHECK(valid > 200);
  CHECK(invalid > 50);
}

}  // namespace

TEST_CASE("secret_bytes is move-only, wipes on move, and cannot be printed", "[crypto][secret]") {
  using key = wc::secret_bytes<32>;
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<key>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<key>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<key>);
  STATIC_REQUIRE_FALSE(streamable<key>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<key, weft::byte_view>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<weft::byte_view, const key&>);
  STATIC_REQUIRE_FALSE(std::ranges::range<key>);
  STATIC_REQUIRE_FALSE(telemetry_field<key>);
  STATIC_REQUIRE_FALSE(telemetry_field<ls::ed25519::secret_key>);
  STATIC_REQUIRE(telemetry_field<int>);  // the probe itself works
#ifdef WEFT_TEST_HAVE_FMT
  STATIC_REQUIRE_FALSE(fmt::is_formattable<key>::value);
#endif
  crypto_test::bytes raw(32, 0xab);
  auto made = key::from(raw);
  REQUIRE(made.has_value());
  key a = std::move(*made);
  for (auto b : made->expose()) CHECK(b == 0);  // the moved-from source is wiped
  key b = std::move(a);
  CHECK(b.expose()[0] == 0xab);
  for (auto byte : a.expose()) CHECK(byte == 0);
  b.wipe();
  for (auto byte : b.expose()) CHECK(byte == 0);
  CHECK(key::from(crypto_test::bytes(31)).error().is(wc::crypto_errc::invalid_length));
}

TEST_CASE("wycheproof ChaCha20-Poly1305", "[crypto][wycheproof]") {
  run_aead_vectors<ls::chacha20poly1305_ietf>("chacha20_poly1305_test.json");
}

TEST_CASE("wycheproof XChaCha20-Poly1305", "[crypto][wycheproof]") {
  run_aead_vectors<ls::xchacha20poly1305_ietf>("xchacha20_poly1305_test.json");
}

TEST_CASE("wycheproof Ed25519 verify", "[crypto][wycheproof]") {
  auto doc = load_vector("wycheproof/ed25519_test.json");
  if (!doc) return;
  int valid = 0, invalid = 0;
  for (const auto& group : (*doc)["testGroups"]) {
    auto pk = ls::ed25519::parse_public_key(hex(group["publicKey"]["pk"]));
    REQUIRE(pk.has_value());
    for (const auto& test : group["tests"]) {
      INFO("tcId " << test["tcId"].get<int>() << " " << test["comment"].get<std::string>());
      const auto verdict = ls::ed25519::verify(*pk, hex(test["msg"]), hex(test["sig"]));
      if (test["result"] == "valid") {
        CHECK(verdict.has_value());
        ++valid;
      } else {
        REQUIRE(test["result"] == "invalid");
        CHECK_FALSE(verdict.has_value());
        ++invalid;
      }
    }
  }
  CHECK(valid == 88);
  CHECK(invalid == 63);
}

TEST_CASE("wycheproof X25519", "[crypto][wycheproof]") {
  auto doc = load_vector("wycheproof/x25519_test.json");
  if (!doc) return;
  int valid = 0, acceptable_accepted = 0, acceptable_rejected = 0;
  for (const auto& group : (*doc)["testGroups"]) {
    for (const auto& test : group["tests"]) {
      INFO("tcId " << test["tcId"].get<int>() << " " << test["comment"].get<std::string>());
      auto sk = ls::x25519::secret_key::from(hex(test["private"]));
      auto pk = ls::x25519::parse_public_key(hex(test["public"]));
      REQUIRE(sk.has_value());
      REQUIRE(pk.has_value());
      const auto expected = hex(test["shared"]);
      auto shared = ls::x25519::agree(*sk, *pk);
      const bool zero = expected == crypto_test::bytes(32, 0);
      if (test["result"] == "valid") {
        REQUIRE(shared.has_value());
        CHECK(weft::equal_bytes(shared->expose(), expected));
        ++valid;
      } else {
        REQUIRE(test["result"] == "acceptable");
        // Policy (docs/crypto.md): accepted unless the secret is all zero, and then the
        // result must be the documented weak_shared_secret error, never a zero key.
        if (zero) {
          REQUIRE_FALSE(shared.has_value());
          CHECK(shared.error().is(wc::crypto_errc::weak_shared_secret));
          ++acceptable_rejected;
        } else {
          REQUIRE(shared.has_value());
          CHECK(weft::equal_bytes(shared->expose(), expected));
          ++acceptable_accepted;
        }
      }
    }
  }
  CHECK(valid == 264);
  CHECK(acceptable_accepted + acceptable_rejected == 254);
  WARN("x25519 acceptable: " << acceptable_accepted << " accepted, " << acceptable_rejected
                             << " rejected as all-zero");
}

TEST_CASE("hashes and HMAC match published test vectors", "[crypto][hash]") {
  // FIPS 180-2 "abc" examples and RFC 4231 test case 2 (key "Jefe" is shorter than 32
  // bytes, so case 2 does not fit a 32-byte key; RFC 4231 case with a 32-byte key is not
  // published, so HMAC is checked by the identity HMAC(k,m) = H((k^opad)||H((k^ipad)||m))).
  CHECK(weft::to_hex(ls::sha256::digest(weft::as_bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(weft::to_hex(ls::sha512::digest(weft::as_bytes("abc"))) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(weft::to_hex(ls::blake2b512::digest(weft::as_bytes("abc"))) ==
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  // Incremental equals one-shot.
  ls::sha256 h;
  h.update(weft::as_bytes("a"));
  h.update(weft::as_bytes("bc"));
  wc::fixed_bytes<32> out;
  h.finish(out);
  CHECK(out == ls::sha256::digest(weft::as_bytes("abc")));

  crypto_test::bytes raw(32);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(i);
  auto key = ls::hmac_sha256::key::from(raw);
  REQUIRE(key.has_value());
  const auto message = weft::as_bytes("weft hmac");
  crypto_test::bytes inner(64, 0x36), outer(64, 0x5c);
  for (std::size_t i = 0; i < 32; ++i) {
    inner[i] ^= raw[i];
    outer[i] ^= raw[i];
  }
  inner.insert(inner.end(), message.begin(), message.end());
  const auto inner_hash = ls::sha256::digest(inner);
  outer.insert(outer.end(), inner_hash.begin(), inner_hash.end());
  const auto tag = ls::hmac_sha256::compute(*key, message);
  CHECK(tag == ls::sha256::digest(outer));
  CHECK(ls::hmac_sha256::verify(*key, message, tag).has_value());
  auto bad = tag;
  bad[0] ^= 1;
  CHECK(ls::hmac_sha256::verify(*key, message, bad).error().is(
      wc::crypto_errc::authentication_failed));
  CHECK(ls::hmac_sha256::verify(*key, message, weft::byte_view(tag).first(31))
            .error()
            .is(wc::crypto_errc::invalid_length));
}

TEST_CASE("ed25519 sign/verify round trip from a seed (RFC 8032 test 1)", "[crypto][ed25519]") {
  const auto seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto sk = ls::ed25519::secret_key_from_seed(std::span<const std::uint8_t, 32>(seed.data(), 32));
  CHECK(weft::to_hex(ls::ed25519::public_key_of(sk)) ==
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto sig = ls::ed25519::sign(sk, {});
  CHECK(weft::to_hex(sig) ==
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(ls::ed25519::verify(ls::ed25519::public_key_of(sk), {}, sig).has_value());
  CHECK(ls::ed25519::verify(ls::ed25519::public_key_of(sk), weft::as_bytes("x"), sig)
            .error()
            .is(wc::crypto_errc::bad_signature));
  ls::random_source random;
  auto generated = wc::generate_signing_key<ls::ed25519>(random);
  CHECK_FALSE(generated.equals(sk));
}

namespace {

/// Ends the lifetime of a secret built in `storage` and reports whether every byte of the
/// storage is zero afterwards (the destructor's wipe, not a later overwrite).
template <class Key>
bool destructor_wipes(const crypto_test::bytes& material) {
  alignas(Key) unsigned char storage[sizeof(Key)];
  auto made = Key::from(material);
  REQUIRE(made.has_value());
  Key* key = new (storage) Key(std::move(*made));
  CHECK(std::memcmp(key->expose().data(), material.data(), material.size()) == 0);
  key->~Key();
  for (const unsigned char b : storage)
    if (b != 0) return false;
  return true;
}

/// Everything an error can show a user or a log: domain, description, where.
std::string rendered(const weft::error& e) {
  return std::string(e.domain().name) + ": " + std::string(e.message()) + " (" + e.where() + ")";
}

}  // namespace

TEST_CASE("secret keys wipe their storage on destruction", "[crypto][secret]") {
  CHECK(destructor_wipes<wc::secret_bytes<32>>(crypto_test::bytes(32, 0xab)));
  CHECK(destructor_wipes<ls::ed25519::secret_key>(crypto_test::bytes(64, 0xcd)));
  CHECK(destructor_wipes<ls::x25519::secret_key>(crypto_test::bytes(32, 0xef)));
  CHECK(destructor_wipes<ls::chacha20poly1305_ietf::key>(crypto_test::bytes(32, 0x11)));
}

TEST_CASE("errors from bad input carry no key, nonce or plaintext bytes", "[crypto][secret]") {
  // An error holds a domain, a code and a pointer to static text (no buffer a secret could
  // be copied into); this checks the text of errors raised while secrets are in use.
  STATIC_REQUIRE(std::is_trivially_copyable_v<weft::error>);
  const crypto_test::bytes key_bytes(32, 'S'), nonce(12, 'N'), plaintext(40, 'P');
  auto key = ls::chacha20poly1305_ietf::key::from(key_bytes);
  auto other_key = ls::chacha20poly1305_ietf::key::from(crypto_test::bytes(32, 'T'));
  REQUIRE(key.has_value());
  REQUIRE(other_key.has_value());
  std::vector<weft::error> errors;
  crypto_test::bytes out(256), plain(256);
  auto sealed = wc::cose::encrypt0<ls::chacha20poly1305_ietf>(*key, nonce, plaintext, {}, out);
  REQUIRE(sealed.has_value());
  const crypto_test::bytes message(sealed->begin(), sealed->end());
  errors.push_back(wc::cose::decrypt0<ls::chacha20poly1305_ietf>(*other_key, message, {}, plain).error());
  errors.push_back(wc::cose::decrypt0<ls::chacha20poly1305_ietf>(*key, message, plaintext, plain).error());
  errors.push_back(wc::cose::decrypt0<ls::chacha20poly1305_ietf>(
                       *key, weft::byte_view(message).first(message.size() - 1), {}, plain)
                       .error());
  errors.push_back(wc::cose::encrypt0<ls::chacha20poly1305_ietf>(*key, nonce, plaintext, {},
                                                                 weft::mutable_byte_view(out).first(20))
                       .error());
  errors.push_back(ls::chacha20poly1305_ietf::open(*key, nonce, {}, plaintext, plain).error());
  auto mac_key = ls::hmac_sha256::key::from(key_bytes);
  REQUIRE(mac_key.has_value());
  errors.push_back(ls::hmac_sha256::verify(*mac_key, plaintext, key_bytes).error());
  auto x_key = ls::x25519::secret_key::from(key_bytes);
  REQUIRE(x_key.has_value());
  errors.push_back(ls::x25519::agree(*x_key, ls::x25519::public_key{}).error());  // all zero
  const auto seed = std::span<const std::uint8_t, 32>(key_bytes.data(), 32);
  const auto signing = ls::ed25519::secret_key_from_seed(seed);
  const auto signature = ls::ed25519::sign(signing, plaintext);
  errors.push_back(
      ls::ed25519::verify(ls::ed25519::public_key_of(signing), key_bytes, signature).error());
  errors.push_back(wc::secret_bytes<32>::from(crypto_test::bytes(31, 'S')).error());
  const std::string key_hex = weft::to_hex(key_bytes), nonce_hex = weft::to_hex(nonce),
                    plain_hex = weft::to_hex(plaintext);
  for (const auto& e : errors) {
    const std::string text = rendered(e);
    INFO(text);
    CHECK(e.domain().name == std::string_view("crypto"));
    CHECK(text.find("SSSS") == std::string::npos);
    CHECK(text.find("NNNN") == std::string::npos);
    CHECK(text.find("PPPP") == std::string::npos);
    CHECK(text.find(key_hex.substr(0, 8)) == std::string::npos);
    CHECK(text.find(nonce_hex.substr(0, 8)) == std::string::npos);
    CHECK(text.find(plain_hex.substr(0, 8)) == std::string::npos);
  }
  CHECK(errors.size() == 9);
}
