// Noise_XX_25519_ChaChaPoly_BLAKE2b: the cacophony vector byte for byte, then the failure
// paths (tampering, order, sizes, nonce exhaustion, rekey).
#include "test_support.hpp"

#include "weft/crypto/noise.hpp"
#include "weft/crypto/sodium.hpp"

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using suite = wc::noise_suite<ls::x25519, ls::chacha20poly1305_ietf, ls::blake2b512>;
using handshake = wc::noise_xx_handshake<suite>;
using crypto_test::bytes;
using crypto_test::hex;

namespace {

ls::x25519::secret_key key_from_hex(const std::string& h) {
  auto k = ls::x25519::secret_key::from(hex(h));
  REQUIRE(k.has_value());
  return std::move(*k);
}

struct pair_of_parties {
  handshake initiator;
  handshake responder;
};

pair_of_parties fresh_pair(ls::random_source& random) {
  return {handshake(wc::noise_role::initiator, wc::generate_secret<32>(random),
                    wc::generate_secret<32>(random), weft::as_bytes("weft")),
          handshake(wc::noise_role::responder, wc::generate_secret<32>(random),
                    wc::generate_secret<32>(random), weft::as_bytes("weft"))};
}

}  // namespace

TEST_CASE("noise XX reproduces the cacophony vector byte for byte", "[crypto][noise]") {
  auto doc = crypto_test::load_vector("noise/noise_XX_25519_ChaChaPoly_BLAKE2b_cacophony.json");
  if (!doc) return;
  const auto& v = *doc;
  REQUIRE(handshake::protocol_name() == v["protocol_name"].get<std::string>());
  handshake init(wc::noise_role::initiator, key_from_hex(v["init_static"]),
                 key_from_hex(v["init_ephemeral"]), hex(v["init_prologue"]));
  handshake resp(wc::noise_role::responder, key_from_hex(v["resp_static"]),
                 key_from_hex(v["resp_ephemeral"]), hex(v["resp_prologue"]));
  bytes wire(wc::noise_max_message_size_bytes), payload(wc::noise_max_message_size_bytes);
  const auto& messages = v["messages"];
  std::optional<wc::noise_transport<suite>> init_t, resp_t;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    INFO("message " << i);
    const auto expected_payload = hex(messages[i]["payload"]);
    const auto expected_ciphertext = hex(messages[i]["ciphertext"]);
    const bool from_initiator = i % 2 == 0;
    weft::result<std::size_t> written = 0, read = 0;
    if (i < 3) {
      auto& sender = from_initiator ? init : resp;
      auto& receiver = from_initiator ? resp : init;
      written = sender.write_message(expected_payload, wire);
      REQUIRE(written.has_value());
      REQUIRE(bytes(wire.begin(), wire.begin() + static_cast<long>(*written)) ==
              expected_ciphertext);
      read = receiver.read_message(expected_ciphertext, payload);
    } else {
      if (!init_t) {
        REQUIRE(init.complete());
        REQUIRE(resp.complete());
        CHECK(weft::to_hex(init.handshake_hash()) == v["handshake_hash"].get<std::string>());
        CHECK(weft::to_hex(resp.handshake_hash()) == v["handshake_hash"].get<std::string>());
        CHECK(init.remote_static() == ls::x25519::public_key_of(key_from_hex(v["resp_static"])));
        CHECK(resp.remote_static() == ls::x25519::public_key_of(key_from_hex(v["init_static"])));
        init_t.emplace(std::move(*init.split()));
        resp_t.emplace(std::move(*resp.split()));
      }
      auto& sender = from_initiator ? *init_t : *resp_t;
      auto& receiver = from_initiator ? *resp_t : *init_t;
      written = sender.write_message(expected_payload, wire);
      REQUIRE(written.has_value());
      REQUIRE(bytes(wire.begin(), wire.begin() + static_cast<long>(*written)) ==
              expected_ciphertext);
      read = receiver.read_message(expected_ciphertext, payload);
    }
    REQUIRE(read.has_value());
    CHECK(bytes(payload.begin(), payload.begin() + static_cast<long>(*read)) == expected_payload);
  }
}

TEST_CASE("noise handshake rejects tampering, wrong order and oversize", "[crypto][noise]") {
  ls::random_source random;
  bytes m1(200), m2(200), m3(200), out(200);
  {
    auto [init, resp] = fresh_pair(random);
    // Order: the responder cannot speak first; the initiator cannot read first.
    CHECK(resp.write_message({}, m1).error().is(wc::crypto_errc::noise_bad_state));
    CHECK(init.read_message(m1, out).error().is(wc::crypto_errc::noise_bad_state));
    auto n1 = init.write_message({}, m1);
    REQUIRE(n1.has_value());
    REQUIRE(resp.read_message(weft::byte_view(m1).first(*n1), out).has_value());
    auto n2 = resp.write_message(weft::as_bytes("hi"), m2);
    REQUIRE(n2.has_value());
    // Flip one bit of the encrypted static key: authentication fails, the state is dead.
    m2[40] ^= 1;
    CHECK(init.read_message(weft::byte_view(m2).first(*n2), out).error().is(
        wc::crypto_errc::authentication_failed));
    m2[40] ^= 1;
    CHECK(init.read_message(weft::byte_view(m2).first(*n2), out).error().is(
        wc::crypto_errc::noise_bad_state));
    CHECK(init.split().error().is(wc::crypto_errc::noise_bad_state));
  }
  {
    auto [init, resp] = fresh_pair(random);
    REQUIRE(init.write_message({}, m1).has_value());
    // Too short for an ephemeral key.
    CHECK(resp.read_message(weft::byte_view(m1).first(31), out).error().is(
        wc::crypto_errc::noise_malformed));
  }
  {
    auto [init, resp] = fresh_pair(random);
    bytes big(wc::noise_max_message_size_bytes + 1), big_out(70000);
    CHECK(init.write_message(weft::byte_view(big).first(65535 - 31), big_out)
              .error()
              .is(wc::crypto_errc::noise_message_too_large));
    CHECK(init.write_message(weft::byte_view(big).first(65535 - 32), big_out).has_value());
    CHECK(resp.read_message(big, big_out).error().is(wc::crypto_errc::noise_message_too_large));
  }
}

TEST_CASE("noise transport: max size, rekey, nonce exhaustion, tamper", "[crypto][noise]") {
  ls::random_source random;
  auto [init, resp] = fresh_pair(random);
  bytes m(200), out(200);
  for (int i = 0; i < 3; ++i) {
    auto& w = i % 2 == 0 ? init : resp;
    auto& r = i % 2 == 0 ? resp : init;
    auto n = w.write_message({}, m);
    REQUIRE(n.has_value());
    REQUIRE(r.read_message(weft::byte_view(m).first(*n), out).has_value());
  }
  CHECK(init.handshake_hash() == resp.handshake_hash());
  auto a = std::move(*init.split());
  auto b = std::move(*resp.split());
  bytes big(70000), wire(70000), plain(70000);
  CHECK(a.write_message(weft::byte_view(big).first(65535 - 15), wire).error().is(
      wc::crypto_errc::noise_message_too_large));
  auto n = a.write_message(weft::byte_view(big).first(65535 - 16), wire);
  REQUIRE(n.has_value());
  CHECK(*n == 65535);
  REQUIRE(b.read_message(weft::byte_view(wire).first(*n), plain).has_value());

  // Rekey on both sides keeps them talking; on one side only breaks the channel.
  REQUIRE(a.rekey_send().has_value());
  REQUIRE(b.rekey_receive().has_value());
  n = a.write_message(weft::as_bytes("after rekey"), wire);
  REQUIRE(n.has_value());
  auto p = b.read_message(weft::byte_view(wire).first(*n), plain);
  REQUIRE(p.has_value());
  CHECK(weft::as_chars(weft::byte_view(plain).first(*p)) == "after rekey");
  REQUIRE(a.rekey_send().has_value());
  n = a.write_message(weft::as_bytes("x"), wire);
  CHECK(b.read_message(weft::byte_view(wire).first(*n), plain).error().is(
      wc::crypto_errc::authentication_failed));

  // The nonce 2^64-1 is reserved.
  b.sender().set_nonce(~std::uint64_t{0});
  CHECK(b.write_message(weft::as_bytes("x"), wire).error().is(
      wc::crypto_errc::noise_nonce_exhausted));
  b.sender().set_nonce(~std::uint64_t{0} - 1);
  CHECK(b.write_message(weft::as_bytes("x"), wire).has_value());
}
