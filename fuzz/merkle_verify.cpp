// Fuzz the RFC 9162 proof verifiers: the input is read as sizes, an index, a leaf hash,
// roots and a proof of any length. Verification must fail cleanly or succeed; a success
// for inclusion must be reproducible by recomputing with the same inputs (determinism).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "weft/core/bytes.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/crypto/sodium.hpp"

namespace {
namespace wc = weft::crypto;
using sha = wc::libsodium::sha256;
using digest = wc::merkle_digest<sha>;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  weft::byte_reader in(weft::byte_view(data, size));
  auto index = in.get_le<std::uint64_t>();
  auto tree_size = in.get_le<std::uint64_t>();
  auto selector = in.get();
  if (!index || !tree_size || !selector) return 0;
  // Small sizes are more interesting than random 64-bit ones.
  const std::uint64_t i = (*selector & 1) ? *index : (*index & 0xff);
  const std::uint64_t n = (*selector & 2) ? *tree_size : (*tree_size & 0xff);
  auto leaf = in.take(32);
  auto root1 = in.take(32);
  auto root2 = in.take(32);
  if (!leaf || !root1 || !root2) return 0;
  std::vector<digest> proof;
  while (in.remaining() >= 32) {
    digest d;
    std::memcpy(d.data(), in.take(32)->data(), 32);
    proof.push_back(d);
  }
  const auto a = wc::verify_inclusion<sha>(i, n, *leaf, proof, *root1);
  const auto b = wc::verify_inclusion<sha>(i, n, *leaf, proof, *root1);
  if (a.has_value() != b.has_value()) __builtin_trap();
  (void)wc::verify_consistency<sha>(i, n, *root1, *root2, proof);
  return 0;
}
