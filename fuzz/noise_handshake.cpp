// Fuzz Noise XX handshake message processing: a responder reads the input as the first
// message; an initiator that sent a real first message reads the input as the second.
// Each either fails with a typed error (and then refuses to continue) or accepts.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/crypto/noise.hpp"
#include "weft/crypto/sodium.hpp"

namespace {
namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using suite = wc::noise_suite<ls::x25519, ls::chacha20poly1305_ietf, ls::blake2b512>;
using handshake = wc::noise_xx_handshake<suite>;

ls::x25519::secret_key fixed_key(std::uint8_t b) {
  std::array<std::uint8_t, 32> raw{};
  raw.fill(b);
  return ls::x25519::secret_key(raw);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const weft::byte_view input(data, size);
  std::vector<std::uint8_t> payload(size + 64), wire(200);
  {
    handshake responder(wc::noise_role::responder, fixed_key(1), fixed_key(2), {});
    auto read = responder.read_message(input, payload);
    if (read) {
      // After a well-formed first message the reply works, unless the peer's ephemeral key
      // is a small-order point: then X25519 yields zero and the reply is refused.
      auto reply = responder.write_message({}, wire);
      if (!reply && !reply.error().is(wc::crypto_errc::weak_shared_secret)) __builtin_trap();
    } else if (responder.read_message(input, payload)) {
      __builtin_trap();  // a failed handshake must stay failed
    }
  }
  {
    handshake initiator(wc::noise_role::initiator, fixed_key(3), fixed_key(4), {});
    if (!initiator.write_message({}, wire)) __builtin_trap();
    (void)initiator.read_message(input, payload);
    (void)initiator.split();
  }
  return 0;
}
