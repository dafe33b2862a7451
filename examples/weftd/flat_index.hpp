// weftd flat hash index: open addressing with linear probing over 8-byte cells {hash tag,
// reference}, and backward-shift deletion (no tombstones), for the KV table, the remembered
// request ids and the pending requests. The index stores no keys: a lookup compares tags in
// the cells and asks the caller whether a candidate reference holds the key, so a hit costs
// one cache miss for the cell and one for the caller's record.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace weftd {

/// A seeded 64-bit hash of a byte string (8-byte chunks, multiply-xorshift mixing). Seeded
/// per process so that request ids chosen by a client cannot be aimed at one probe run.
inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) noexcept {
  constexpr std::uint64_t multiplier = 0xd6e8feb86659fd93ull;
  const auto mix = [](std::uint64_t x) noexcept {
    x ^= x >> 32;
    x *= multiplier;
    x ^= x >> 32;
    x *= multiplier;
    return x ^ (x >> 32);
  };
  std::uint64_t h = seed ^ (static_cast<std::uint64_t>(s.size()) * 0x9e3779b97f4a7c15ull);
  std::size_t at = 0;
  for (; at + 8 <= s.size(); at += 8) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, s.data() + at, 8);
    h = mix(h ^ chunk) + at;
  }
  if (at < s.size()) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, s.data() + at, s.size() - at);
    h = mix(h ^ tail ^ 0xff);
  }
  return mix(h);
}

class flat_index {
 public:
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  /// `cells` is rounded up to a power of two (at least 16); the caller keeps the load at
  /// most one half (grow() rebuilds larger).
  explicit flat_index(std::size_t cells = 16) { reset(cells); }

  /// Empties the index with room for `cells` (a power of two at least that large).
  void reset(std::size_t cells) {
    cells_.assign(std::bit_ceil(cells < 16 ? std::size_t{16} : cells), cell{});
    mask_ = static_cast<std::uint32_t>(cells_.size() - 1);
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return cells_.size(); }

  /// The reference whose record `holds(reference)` says is the key hashed to `hash`, or none.
  template <class Holds>
  [[nodiscard]] std::uint32_t find(std::uint64_t hash, Holds&& holds) const noexcept {
    const std::uint32_t tag = tag_of(hash);
    for (std::uint32_t at = tag & mask_;; at = (at + 1) & mask_) {
      const cell c = cells_[at];
      if (c.reference_plus_one == 0) return none;
      if (c.tag == tag && holds(c.reference_plus_one - 1)) return c.reference_plus_one - 1;
    }
  }

  /// Adds `reference` under `hash` (the caller has checked it is not there, if it matters).
  void insert(std::uint64_t hash, std::uint32_t reference) noexcept {
    const std::uint32_t tag = tag_of(hash);
    std::uint32_t at = tag & mask_;
    while (cells_[at].reference_plus_one != 0) at = (at + 1) & mask_;
    cells_[at] = cell{tag, reference + 1};
  }

  /// Removes the cell of `reference` under `hash`; later cells of the run shift back into
  /// the hole so that every lookup still ends at the first empty cell.
  void erase(std::uint64_t hash, std::uint32_t reference) noexcept {
    std::uint32_t hole = locate(hash, reference);
    if (hole == none) return;
    for (std::uint32_t at = (hole + 1) & mask_; cells_[at].reference_plus_one != 0; at = (at + 1) & mask_) {
      const std::uint32_t home = cells_[at].tag & mask_;
      if (((at - home) & mask_) >= ((at - hole) & mask_)) {  // the hole lies in [home, at)
        cells_[hole] = cells_[at];
        hole = at;
      }
    }
    cells_[hole] = cell{};
  }

  /// Points the cell of `from` under `hash` at `to` (a record moved in its array).
  void move(std::uint64_t hash, std::uint32_t from, std::uint32_t to) noexcept {
    const std::uint32_t at = locate(hash, from);
    if (at != none) cells_[at].reference_plus_one = to + 1;
  }

 private:
  struct cell {
    std::uint32_t tag = 0;                 // the hash's high half; its low bits are the home cell
    std::uint32_t reference_plus_one = 0;  // 0: empty
  };
  static std::uint32_t tag_of(std::uint64_t hash) noexcept { return static_cast<std::uint32_t>(hash >> 32); }

  [[nodiscard]] std::uint32_t locate(std::uint64_t hash, std::uint32_t reference) const noexcept {
    for (std::uint32_t at = tag_of(hash) & mask_;; at = (at + 1) & mask_) {
      if (cells_[at].reference_plus_one == 0) return none;
      if (cells_[at].reference_plus_one == reference + 1) return at;
    }
  }

  std::vector<cell> cells_;
  std::uint32_t mask_ = 0;
};

}  // namespace weftd
