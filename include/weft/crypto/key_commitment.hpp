// weft/crypto/key_commitment.hpp - member keys committed in an RFC 9162 Merkle tree whose
// root an admin key signs as a tree head (COSE_Sign1 over deterministic CBOR). Members prove
// membership with inclusion proofs; a newer head proves it extends an older one with a
// consistency proof. Format: docs/key-commitment.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/crypto/concepts.hpp"
#include "weft/crypto/cose.hpp"
#include "weft/crypto/errors.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/wire/schema.hpp"

WEFT_BEGIN
namespace crypto {

/// Signed tree heads carry this external AAD, so an admin signature over a tree head can
/// never be passed off as any other COSE_Sign1 the same key made (and vice versa).
inline constexpr std::string_view tree_head_context = "weft/tree-head/v1";

/// A member's identity: HASH(public key bytes).
template <hash_function H, std::size_t N>
[[nodiscard]] fixed_bytes<H::digest_size> member_id(const fixed_bytes<N>& public_key) noexcept {
  return H::digest(public_key);
}

/// The signed payload: the CBOR map {1: tree_size, 2: root_hash, 3: issued_at_ns}.
template <std::size_t DigestSize = 32>
struct basic_tree_head {
  std::uint64_t tree_size = 0;
  fixed_bytes<DigestSize> root_hash{};
  std::uint64_t issued_at_ns = 0;  // the admin's clock (injected), for ordering and audit

  static constexpr void fields(auto& v, auto& self) {
    v(1, self.tree_size);
    v(2, self.root_hash);
    v(3, self.issued_at_ns);
  }
  friend bool operator==(const basic_tree_head&, const basic_tree_head&) = default;
};
using tree_head = basic_tree_head<32>;

/// Largest encoded tree head: map head, three keys, two uint64, a 32..64-byte bstr.
inline constexpr std::size_t max_tree_head_size_bytes = 1 + 3 + 9 + 2 + 64 + 9;
/// Buffers for sign_tree_head(): `out` and `scratch` each of this many bytes suffice.
inline constexpr std::size_t max_signed_tree_head_size_bytes = 512;

/// Signs `head` with the admin key; the admin's member id is the COSE kid.
template <signer S, hash_function H>
[[nodiscard]] result<byte_view> sign_tree_head(const typename S::secret_key& admin,
                                               const basic_tree_head<H::digest_size>& head,
                                               mutable_byte_view out,
                                               mutable_byte_view scratch) noexcept {
  std::array<std::uint8_t, max_tree_head_size_bytes> payload_buffer;
  auto payload = wire::encode(head, mutable_byte_view(payload_buffer));
  if (!payload) return error(crypto_errc::head_bad_format, "sign_tree_head");
  const auto kid = member_id<H>(S::public_key_of(admin));
  cose::encode_options options;
  options.kid = byte_view(kid);
  options.external_aad = as_bytes(tree_head_context);
  return cose::sign1<S>(admin, *payload, options, out, scratch);
}

/// Verifies a signed tree head against the admin key and returns the head.
template <signature_verifier S, hash_function H>
[[nodiscard]] result<basic_tree_head<H::digest_size>> verify_tree_head(
    const typename S::public_key& admin, byte_view signed_head,
    mutable_byte_view scratch) noexcept {
  cose::decode_options options;
  options.tag = cose::tag_policy::required;
  options.cbor.max_total_bytes = max_signed_tree_head_size_bytes;
  WEFT_TRY_ASSIGN(const byte_view payload,
                  cose::verify_sign1<S>(admin, signed_head, as_bytes(tree_head_context), scratch,
                                        options));
  wire::decode_limits limits{.max_depth = 2, .max_items = 8, .max_string_bytes = 64,
                             .max_total_bytes = max_tree_head_size_bytes};
  auto head = wire::decode<basic_tree_head<H::digest_size>>(payload, limits);
  if (!head) return error(crypto_errc::head_bad_format, "verify_tree_head");
  if (head->tree_size == 0 &&
      !equal_bytes(head->root_hash, merkle_hashing<H>::empty_root()))
    return error(crypto_errc::head_bad_format, "verify_tree_head: empty tree, wrong root");
  return *head;
}

/// Checks that `member_key` is leaf `index` of the tree `head` commits to.
template <hash_function H, std::size_t N>
[[nodiscard]] result<void> verify_member(const basic_tree_head<H::digest_size>& head,
                                         const fixed_bytes<N>& member_key, std::uint64_t index,
                                         std::span<const merkle_digest<H>> proof) noexcept {
  const auto leaf = merkle_hashing<H>::leaf(member_key);
  return verify_inclusion<H>(index, head.tree_size, leaf, proof, head.root_hash);
}

/// Checks that `newer` extends `older` (append-only: no member removed or rewritten).
template <hash_function H>
[[nodiscard]] result<void> verify_extends(const basic_tree_head<H::digest_size>& older,
                                          const basic_tree_head<H::digest_size>& newer,
                                          std::span<const merkle_digest<H>> proof) noexcept {
  if (newer.tree_size < older.tree_size)
    return error(crypto_errc::head_not_consistent, "verify_extends: tree shrank");
  if (older.tree_size == 0) return ok();  // everything extends the empty set
  if (!verify_consistency<H>(older.tree_size, newer.tree_size, older.root_hash, newer.root_hash,
                             proof))
    return error(crypto_errc::head_not_consistent, "verify_extends");
  return ok();
}

/// The admin side: an append-only set of member keys of signature scheme S.
template <class S, class H>
class member_registry {
  static_assert(signature_verifier<S>, "member_registry: S must model "
                "weft::crypto::signature_verifier; see docs/requirements/crypto_signature.md");
  static_assert(hash_function<H>, "member_registry: H must model weft::crypto::hash_function; "
                                  "see docs/requirements/crypto_hash.md");

 public:
  using head_type = basic_tree_head<H::digest_size>;

  [[nodiscard]] static result<member_registry> create(const merkle_options& options) noexcept {
    WEFT_TRY_ASSIGN(auto tree, merkle_tree<H>::create(options));
    return member_registry(std::move(tree));
  }

  /// Commits `key`; returns its leaf index.
  [[nodiscard]] result<std::uint64_t> add(const typename S::public_key& key) noexcept {
    const std::uint64_t index = tree_.size();
    WEFT_TRY(tree_.append(key));
    return index;
  }

  [[nodiscard]] std::uint64_t size() const noexcept { return tree_.size(); }

  /// The current head, stamped with the injected time `now`.
  [[nodiscard]] head_type head(time_point now) const noexcept {
    head_type h;
    h.tree_size = tree_.size();
    h.root_hash = tree_.root();
    h.issued_at_ns = static_cast<std::uint64_t>(to_ns(now));
    return h;
  }

  [[nodiscard]] result<merkle_proof<H>> prove_member(std::uint64_t index,
                                                     std::uint64_t tree_size) const noexcept {
    return tree_.inclusion_proof(index, tree_size);
  }
  [[nodiscard]] result<merkle_proof<H>> prove_extends(std::uint64_t old_size,
                                                      std::uint64_t new_size) const noexcept {
    return tree_.consistency_proof(old_size, new_size);
  }
  [[nodiscard]] const merkle_tree<H>& tree() const noexcept { return tree_; }

 private:
  explicit member_registry(merkle_tree<H> tree) noexcept : tree_(std::move(tree)) {}
  merkle_tree<H> tree_;
};

}  // namespace crypto
WEFT_END
