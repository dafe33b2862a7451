// weft/crypto/merkle.hpp - RFC 9162 Merkle trees over any hash_function (SHA-256 in
// practice): an append-only tree, roots of any past size, inclusion and consistency proofs,
// and both verifiers. Portable: the hash comes from a backend.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/crypto/concepts.hpp"
#include "weft/crypto/errors.hpp"

WEFT_BEGIN
namespace crypto {

/// Proofs for trees of up to 2^64 - 1 leaves have at most 64 hashes (inclusion) and at most
/// 2 * 64 (consistency, generously); proofs are fixed-capacity values.
inline constexpr std::size_t merkle_max_proof_hashes = 128;

template <hash_function H>
using merkle_digest = fixed_bytes<H::digest_size>;

template <hash_function H>
using merkle_proof = static_vector<merkle_digest<H>, merkle_max_proof_hashes>;

struct merkle_options {
  /// Leaves the tree may hold; storage for about 2 * max_leaves digests is reserved at
  /// construction so appends never allocate.
  std::uint64_t max_leaves = 1u << 16;
  /// Leaf data longer than this is refused by append() (hashing itself has no limit).
  std::size_t max_leaf_size_bytes = 1u << 20;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_leaves == 0 || max_leaves > (std::uint64_t{1} << 40))
      return error(core_errc::invalid_options, "merkle_options::max_leaves");
    if (max_leaf_size_bytes == 0)
      return error(core_errc::invalid_options, "merkle_options::max_leaf_size_bytes");
    return ok();
  }
};

namespace detail {

/// Largest power of two strictly below n (n >= 2).
constexpr std::uint64_t split_point(std::uint64_t n) noexcept {
  return std::uint64_t{1} << (63 - std::countl_zero(n - 1));
}

}  // namespace detail

/// RFC 9162 §2.1.1 hashing: leaves are HASH(0x00 || data), interior nodes
/// HASH(0x01 || left || right), the empty tree is HASH().
template <hash_function H>
struct merkle_hashing {
  using digest = merkle_digest<H>;
  static constexpr std::size_t digest_size = H::digest_size;

  [[nodiscard]] static digest empty_root() noexcept { return H::digest({}); }

  [[nodiscard]] static digest leaf(byte_view data) noexcept {
    digest out;
    if (data.size() <= 255) {  // one-shot over a stack copy: faster for small leaves
      std::array<std::uint8_t, 256> buffer;
      buffer[0] = 0x00;
      if (!data.empty()) std::memcpy(buffer.data() + 1, data.data(), data.size());
      return H::digest(byte_view(buffer.data(), data.size() + 1));
    }
    H h;
    const std::uint8_t prefix = 0x00;
    h.update(byte_view(&prefix, 1));
    h.update(data);
    h.finish(out);
    return out;
  }

  [[nodiscard]] static digest node(const digest& left, const digest& right) noexcept {
    std::array<std::uint8_t, 1 + 2 * digest_size> buffer;
    buffer[0] = 0x01;
    std::memcpy(buffer.data() + 1, left.data(), digest_size);
    std::memcpy(buffer.data() + 1 + digest_size, right.data(), digest_size);
    return H::digest(buffer);
  }
};

/// A digest from bytes off the wire; any other length is refused.
template <hash_function H>
[[nodiscard]] result<merkle_digest<H>> parse_merkle_digest(byte_view bytes) noexcept {
  if (bytes.size() != H::digest_size)
    return error(crypto_errc::invalid_length, "parse_merkle_digest");
  merkle_digest<H> out;
  std::memcpy(out.data(), bytes.data(), H::digest_size);
  return out;
}

/// RFC 9162 §2.1.3.2: checks that `leaf_hash` is leaf `index` of the tree of `size` leaves
/// whose root is `root`.
template <hash_function H>
[[nodiscard]] result<void> verify_inclusion(std::uint64_t index, std::uint64_t size,
                                            byte_view leaf_hash,
                                            std::span<const merkle_digest<H>> proof,
                                            byte_view root) noexcept {
  using hashing = merkle_hashing<H>;
  if (index >= size) return error(crypto_errc::merkle_bad_index, "verify_inclusion");
  WEFT_TRY_ASSIGN(merkle_digest<H> r, parse_merkle_digest<H>(leaf_hash));
  if (proof.size() > 64) return error(crypto_errc::merkle_bad_proof_length, "verify_inclusion");
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  for (const auto& p : proof) {
    if (sn == 0) return error(crypto_errc::merkle_bad_proof_length, "verify_inclusion");
    if ((fn & 1) != 0 || fn == sn) {
      r = hashing::node(p, r);
      if ((fn & 1) == 0) {
        while (fn != 0 && (fn & 1) == 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = hashing::node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return error(crypto_errc::merkle_bad_proof_length, "verify_inclusion");
  if (!equal_bytes(r, root)) return error(crypto_errc::merkle_root_mismatch, "verify_inclusion");
  return ok();
}

/// RFC 9162 §2.1.4.2: checks that the tree (size2, root2) extends the tree (size1, root1).
/// Equal sizes need an empty proof and equal roots (compared as opaque bytes).
template <hash_function H>
[[nodiscard]] result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2,
                                              byte_view root1, byte_view root2,
                                              std::span<const merkle_digest<H>> proof) noexcept {
  using hashing = merkle_hashing<H>;
  if (size2 < size1) return error(crypto_errc::merkle_bad_size, "verify_consistency");
  if (size1 == size2) {
    if (size1 == 0) return error(crypto_errc::merkle_bad_size, "verify_consistency");
    if (!proof.empty()) return error(crypto_errc::merkle_bad_proof_length, "verify_consistency");
    if (!equal_bytes(root1, root2))
      return error(crypto_errc::merkle_root_mismatch, "verify_consistency");
    return ok();
  }
  // RFC 9162 defines consistency proofs for 0 < size1 < size2 only: every tree extends
  // the empty one, so such a "proof" proves nothing and is refused.
  if (size1 == 0) return error(crypto_errc::merkle_bad_size, "verify_consistency");
  if (root1.size() != H::digest_size || root2.size() != H::digest_size)
    return error(crypto_errc::invalid_length, "verify_consistency root");
  if (proof.empty() || proof.size() > merkle_max_proof_hashes)
    return error(crypto_errc::merkle_bad_proof_length, "verify_consistency");
  // Step 2: when size1 is a power of two, the old root itself starts the path.
  const bool prepend = std::has_single_bit(size1);
  std::size_t next = prepend ? 0 : 1;
  std::uint64_t fn = size1 - 1;
  std::uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  merkle_digest<H> fr = prepend ? parse_merkle_digest<H>(root1).value() : proof[0];
  merkle_digest<H> sr = fr;
  for (; next < proof.size(); ++next) {
    const auto& c = proof[next];
    if (sn == 0) return error(crypto_errc::merkle_bad_proof_length, "verify_consistency");
    if ((fn & 1) != 0 || fn == sn) {
      fr = hashing::node(c, fr);
      sr = hashing::node(c, sr);
      while (fn != 0 && (fn & 1) == 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = hashing::node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return error(crypto_errc::merkle_bad_proof_length, "verify_consistency");
  if (!equal_bytes(fr, root1) || !equal_bytes(sr, root2))
    return error(crypto_errc::merkle_root_mismatch, "verify_consistency");
  return ok();
}

/// An append-only Merkle tree that keeps every perfect subtree hash (about 2n digests), so
/// the root of any past size and any proof costs O(log n) hashes.
template <class H>
class merkle_tree {
  static_assert(hash_function<H>, "merkle_tree<H>: H must model weft::crypto::hash_function; "
                                  "see docs/requirements/crypto_hash.md");

 public:
  using hashing = merkle_hashing<H>;
  using digest = merkle_digest<H>;
  using proof = merkle_proof<H>;

  /// Reserves storage for options.max_leaves (the only allocation the tree makes).
  [[nodiscard]] static result<merkle_tree> create(const merkle_options& options) noexcept {
    WEFT_TRY(options.validate());
    merkle_tree tree(options);
    std::uint64_t count = options.max_leaves;
    for (std::size_t level = 0; count > 0 && level < tree.levels_.size(); ++level) {
      tree.levels_[level].reserve(static_cast<std::size_t>(count));
      count >>= 1;
    }
    return tree;
  }

  [[nodiscard]] std::uint64_t size() const noexcept { return levels_[0].size(); }
  [[nodiscard]] const merkle_options& options() const noexcept { return options_; }
  [[nodiscard]] const digest& leaf_hash(std::uint64_t index) const noexcept {
    WEFT_ASSERT(index < size());
    return levels_[0][static_cast<std::size_t>(index)];
  }

  /// Appends HASH(0x00 || data).
  [[nodiscard]] result<void> append(byte_view data) noexcept {
    if (data.size() > options_.max_leaf_size_bytes)
      return error(crypto_errc::invalid_length, "merkle_tree::append");
    return append_leaf_hash(hashing::leaf(data));
  }

  /// Appends an already computed leaf hash.
  [[nodiscard]] result<void> append_leaf_hash(const digest& leaf) noexcept {
    if (size() >= options_.max_leaves) return error(crypto_errc::merkle_tree_full, "append");
    levels_[0].push_back(leaf);
    for (std::size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
      const auto& row = levels_[level];
      levels_[level + 1].push_back(hashing::node(row[row.size() - 2], row[row.size() - 1]));
    }
    return ok();
  }

  [[nodiscard]] digest root() const noexcept { return subtree(0, size()); }

  [[nodiscard]] result<digest> root_at(std::uint64_t tree_size) const noexcept {
    if (tree_size > size()) return error(crypto_errc::merkle_bad_size, "root_at");
    return subtree(0, tree_size);
  }

  /// RFC 9162 §2.1.3.1 PATH(index, D[0:tree_size]), leaf side first.
  [[nodiscard]] result<proof> inclusion_proof(std::uint64_t index,
                                              std::uint64_t tree_size) const noexcept {
    if (tree_size > size()) return error(crypto_errc::merkle_bad_size, "inclusion_proof");
    if (index >= tree_size) return error(crypto_errc::merkle_bad_index, "inclusion_proof");
    proof out;
    std::uint64_t lo = 0, hi = tree_size;
    while (hi - lo > 1) {
      const std::uint64_t k = detail::split_point(hi - lo);
      if (index - lo < k) {
        WEFT_TRY(out.push_back(subtree(lo + k, hi)));
        hi = lo + k;
      } else {
        WEFT_TRY(out.push_back(subtree(lo, lo + k)));
        lo += k;
      }
    }
    reverse(out);
    return out;
  }

  /// RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]).
  [[nodiscard]] result<proof> consistency_proof(std::uint64_t old_size,
                                                std::uint64_t new_size) const noexcept {
    if (new_size > size() || old_size > new_size)
      return error(crypto_errc::merkle_bad_size, "consistency_proof");
    proof out;
    if (old_size == 0 || old_size == new_size) return out;
    std::uint64_t lo = 0, hi = new_size;
    bool complete = true;  // SUBPROOF's b: the old tree is a complete subtree so far
    for (;;) {
      const std::uint64_t n = hi - lo, m = old_size - lo;
      if (m == n) {
        if (!complete) WEFT_TRY(out.push_back(subtree(lo, hi)));
        break;
      }
      const std::uint64_t k = detail::split_point(n);
      if (m <= k) {
        WEFT_TRY(out.push_back(subtree(lo + k, hi)));
        hi = lo + k;
      } else {
        WEFT_TRY(out.push_back(subtree(lo, lo + k)));
        lo += k;
        complete = false;
      }
    }
    reverse(out);
    return out;
  }

 private:
  explicit merkle_tree(const merkle_options& options) noexcept : options_(options) {}

  static void reverse(proof& p) noexcept {
    for (std::size_t i = 0, j = p.size(); i + 1 < j; ++i, --j) std::swap(p[i], p[j - 1]);
  }

  /// MTH(D[begin:end]) where begin is aligned to the largest power of two in end - begin
  /// (true of every range RFC 9162's recursions produce): fold the perfect subtrees of
  /// the binary decomposition from the right.
  [[nodiscard]] digest subtree(std::uint64_t begin, std::uint64_t end) const noexcept {
    const std::uint64_t length = end - begin;
    if (length == 0) return hashing::empty_root();
    std::array<const digest*, 64> pieces{};
    std::size_t count = 0;
    std::uint64_t position = begin;
    for (int bit = 63; bit >= 0; --bit) {
      const std::uint64_t piece = std::uint64_t{1} << bit;
      if ((length & piece) == 0) continue;
      WEFT_ASSERT(position % piece == 0);
      pieces[count++] = &levels_[static_cast<std::size_t>(bit)][static_cast<std::size_t>(position >> bit)];
      position += piece;
    }
    digest acc = *pieces[count - 1];
    for (std::size_t i = count - 1; i > 0; --i) acc = hashing::node(*pieces[i - 1], acc);
    return acc;
  }

  merkle_options options_;
  std::array<std::vector<digest>, 42> levels_{};  // 2^41 > max_leaves limit
};

}  // namespace crypto
WEFT_END
