// weft/crypto/errors.hpp - the crypto module's error codes (docs/errors.md, section crypto).
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

WEFT_BEGIN
namespace crypto {

/// Every failure of the crypto layer. Messages never carry key material.
enum class crypto_errc : std::uint16_t {
  ok = 0,
  invalid_length = 1,          // an input has the wrong size for the primitive
  buffer_too_small = 2,        // the caller's output buffer cannot hold the result
  invalid_key = 3,             // a key is malformed or of small order
  bad_signature = 4,           // a signature did not verify
  authentication_failed = 5,   // an AEAD tag or MAC did not verify
  weak_shared_secret = 6,      // key agreement produced the all-zero secret
  backend_failure = 7,         // the backend refused an operation (e.g. init failed)
  replayed = 8,                // the counter was already accepted
  too_old = 9,                 // the counter is behind the replay window
  rate_limited = 10,           // the sender's or the global bucket is empty
  sender_table_full = 11,      // no free or idle slot for a new sender
  merkle_bad_index = 12,       // leaf index not below tree size
  merkle_bad_size = 13,        // a tree size is out of order or zero where not allowed
  merkle_bad_proof_length = 14,// the proof has too few or too many hashes
  merkle_root_mismatch = 15,   // the proof does not lead to the expected root
  merkle_tree_full = 16,       // the tree reached max_leaves
  cose_malformed = 17,         // the CBOR structure is not a COSE message
  cose_wrong_tag = 18,         // a CBOR tag other than the expected COSE tag
  cose_bad_header = 19,        // a header has the wrong type, is duplicated or misplaced
  cose_unsupported_algorithm = 20, // alg missing or not the one this call handles
  cose_unknown_critical = 21,  // crit lists a header this implementation does not know
  cose_too_large = 22,         // a message or field exceeds a configured limit
  noise_bad_state = 23,        // a call out of order for the handshake or session
  noise_message_too_large = 24,// over the 65535-byte Noise limit
  noise_nonce_exhausted = 25,  // the cipher state reached the reserved nonce
  noise_malformed = 26,        // a handshake message is too short or too long
  head_bad_format = 27,        // a signed tree head payload is not the documented map
  head_not_consistent = 28,    // a newer head does not extend an older one
  noise_out_of_order = 29,     // a session frame's nonce is ahead of the next expected one
};

constexpr std::string_view describe(crypto_errc code) noexcept {
  switch (code) {
    case crypto_errc::ok: return "ok";
    case crypto_errc::invalid_length: return "input has the wrong length";
    case crypto_errc::buffer_too_small: return "output buffer too small";
    case crypto_errc::invalid_key: return "invalid key";
    case crypto_errc::bad_signature: return "signature verification failed";
    case crypto_errc::authentication_failed: return "authentication failed";
    case crypto_errc::weak_shared_secret: return "key agreement gave an all-zero secret";
    case crypto_errc::backend_failure: return "crypto backend failure";
    case crypto_errc::replayed: return "replayed counter";
    case crypto_errc::too_old: return "counter behind the replay window";
    case crypto_errc::rate_limited: return "rate limited";
    case crypto_errc::sender_table_full: return "rate limiter sender table full";
    case crypto_errc::merkle_bad_index: return "merkle: leaf index out of range";
    case crypto_errc::merkle_bad_size: return "merkle: bad tree size";
    case crypto_errc::merkle_bad_proof_length: return "merkle: wrong proof length";
    case crypto_errc::merkle_root_mismatch: return "merkle: proof does not match root";
    case crypto_errc::merkle_tree_full: return "merkle: tree is full";
    case crypto_errc::cose_malformed: return "cose: malformed message";
    case crypto_errc::cose_wrong_tag: return "cose: wrong or missing tag";
    case crypto_errc::cose_bad_header: return "cose: bad header";
    case crypto_errc::cose_unsupported_algorithm: return "cose: unsupported algorithm";
    case crypto_errc::cose_unknown_critical: return "cose: unknown critical header";
    case crypto_errc::cose_too_large: return "cose: message exceeds a limit";
    case crypto_errc::noise_bad_state: return "noise: call out of order";
    case crypto_errc::noise_message_too_large: return "noise: message too large";
    case crypto_errc::noise_nonce_exhausted: return "noise: nonce exhausted";
    case crypto_errc::noise_malformed: return "noise: malformed handshake message";
    case crypto_errc::head_bad_format: return "tree head: bad format";
    case crypto_errc::head_not_consistent: return "tree head: not consistent";
    case crypto_errc::noise_out_of_order: return "noise: frame out of order";
  }
  return "unknown crypto error";
}

}  // namespace crypto
WEFT_END
WEFT_ERROR_DOMAIN(weft::crypto::crypto_errc, "crypto")
