// Fuzz COSE decoding and verification: any bytes are decoded as COSE_Sign1 and
// COSE_Encrypt0, verified against a fixed Ed25519 key and decrypted with a fixed ChaCha20
// key. Everything must end in a typed error or a valid result, never a crash. When the
// input is accepted, the payload must lie inside the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/crypto/cose.hpp"
#include "weft/crypto/sodium.hpp"

namespace {
namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;

const ls::ed25519::public_key& verify_key() {
  static const ls::ed25519::public_key key = [] {
    std::array<std::uint8_t, 32> seed{};
    seed[0] = 7;
    return ls::ed25519::public_key_of(ls::ed25519::secret_key_from_seed(seed));
  }();
  return key;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const weft::byte_view input(data, size);
  std::vector<std::uint8_t> scratch(wc::cose::sig_structure_size(size, 0));
  if (auto payload = wc::cose::verify_sign1<ls::ed25519>(verify_key(), input, {}, scratch)) {
    if (payload->data() < data || payload->data() + payload->size() > data + size)
      __builtin_trap();
  }
  (void)wc::cose::decode_sign1(input);
  (void)wc::cose::decode_encrypt0(input);
  static const ls::chacha20poly1305_ietf::key key{};
  std::vector<std::uint8_t> plain(size);
  if (auto n = wc::cose::decrypt0<ls::chacha20poly1305_ietf>(key, input, {}, plain)) {
    if (*n > size) __builtin_trap();
  }
  return 0;
}
