// weft/membership/swim/claim_store.hpp - signed member claims kept once, reached by handle
// from member records; refcounted, deduplicated by content, sized at construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/membership/swim/messages.hpp"

WEFT_BEGIN
namespace swim {

/// A member record keeps only a handle to its alive claim (and to its last suspect, dead or
/// leave claim): a claim with key, admission and signature is about 220 bytes, and the same
/// claim about a member is held by every member that knows it. A core owns a store of
/// 2 * max_members + 2 claims, which can never fill (a record refers to at most two); a
/// simulation of many cores in one process passes one store to all of them (single-threaded,
/// so no locking), and then acquire() may find it full: the caller refuses the claim.
class claim_store {
 public:
  using handle = std::uint32_t;
  static constexpr handle none = 0xffffffffu;

  /// Allocates every entry now: acquire() and release() never allocate.
  explicit claim_store(std::uint32_t capacity) noexcept {
    entries_.resize(capacity);
    buckets_.assign(std::size_t{capacity} + 1, none);
    free_.reserve(capacity);
    for (std::uint32_t i = capacity; i-- > 0;) free_.push_back(i);
  }

  /// A handle to a claim equal to `c`, shared with earlier holders (one more reference), or
  /// none when the store is full.
  [[nodiscard]] handle acquire(const member_claim& c) noexcept {
    std::uint32_t& head = buckets_[bucket_of(c)];
    for (handle h = head; h != none; h = entries_[h].next) {
      if (same_claim(entries_[h].claim, c)) {
        ++entries_[h].refs;
        return h;
      }
    }
    if (free_.empty()) return none;
    const handle h = free_.back();
    free_.pop_back();
    entries_[h].claim = c;
    entries_[h].refs = 1;
    entries_[h].next = head;
    head = h;
    ++used_;
    return h;
  }

  /// Drops one reference; the last one frees the entry. `none` is ignored.
  void release(handle h) noexcept {
    if (h == none || entries_[h].refs == 0) return;
    if (--entries_[h].refs != 0) return;
    std::uint32_t* link = &buckets_[bucket_of(entries_[h].claim)];
    while (*link != h) link = &entries_[*link].next;
    *link = entries_[h].next;
    free_.push_back(h);
    --used_;
  }

  /// The claim behind `h`, which stays where it is until its last reference is released.
  [[nodiscard]] const member_claim& get(handle h) const noexcept { return entries_[h].claim; }
  [[nodiscard]] std::uint32_t references(handle h) const noexcept { return entries_[h].refs; }
  [[nodiscard]] std::size_t size() const noexcept { return used_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return entries_.size(); }

 private:
  struct entry {
    member_claim claim;
    std::uint32_t refs = 0;
    handle next = none;  // the next entry in the same bucket
  };

  [[nodiscard]] std::size_t bucket_of(const member_claim& c) const noexcept {
    std::uint64_t z = c.subject * 0x9e3779b97f4a7c15ull;
    z ^= (c.incarnation + static_cast<std::uint64_t>(c.kind)) * 0xbf58476d1ce4e5b9ull;
    z ^= c.from * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<std::size_t>(z % buckets_.size());
  }
  template <std::size_t N>
  static bool same_blob(const blob<N>& a, const blob<N>& b) noexcept {
    return a.size == b.size && equal_bytes(a.view(), b.view());
  }
  static bool same_claim(const member_claim& a, const member_claim& b) noexcept {
    return a.kind == b.kind && a.subject == b.subject && a.incarnation == b.incarnation &&
           a.from == b.from && a.addr == b.addr && a.admitter == b.admitter &&
           a.admission_epoch == b.admission_epoch && same_blob(a.signature, b.signature) &&
           same_blob(a.key, b.key) && same_blob(a.admission, b.admission);
  }

  std::vector<entry> entries_;
  std::vector<handle> buckets_;
  std::vector<handle> free_;
  std::size_t used_ = 0;
};

}  // namespace swim
WEFT_END
