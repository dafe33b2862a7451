// weft/consensus/raft/log.hpp - the core's bounded in-memory log: entries since the last
// snapshot in a preallocated ring of slots, payload bytes in a preallocated byte arena.
// Appending, truncating and compacting never allocate. Both are reserved zeroed by
// calloc (large blocks are fresh anonymous pages, not written) and never cleared: a page
// is faulted in when an entry first lands on it, so resident memory follows the bytes
// appended until the ring has gone round once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "weft/config.hpp"
#include "weft/consensus/raft/types.hpp"

WEFT_BEGIN
namespace raft {

class memory_log {
 public:
  /// Reserves `entries` slots (rounded up to a power of two) and `bytes` of arena;
  /// allocated() is false when the system refused.
  memory_log(std::uint32_t entries, std::uint64_t bytes) noexcept {
    std::size_t cap = 1;
    while (cap < entries) cap <<= 1;
    // An all-zero log_slot is its default value, and C++20 lets calloc's block hold
    // implicit-lifetime objects (log_slot is an aggregate).
    slots_.reset(static_cast<slot_t*>(std::calloc(cap, sizeof(slot_t))));
    arena_.reset(static_cast<std::uint8_t*>(std::calloc(static_cast<std::size_t>(bytes), 1)));
    if (slots_ && arena_) {
      slot_count_ = cap;
      arena_size_ = static_cast<std::size_t>(bytes);
    }
  }

  [[nodiscard]] bool allocated() const noexcept { return slot_count_ != 0; }

  [[nodiscard]] index_t first_index() const noexcept { return snapshot_index_ + 1; }
  [[nodiscard]] index_t last_index() const noexcept { return last_; }
  [[nodiscard]] index_t snapshot_index() const noexcept { return snapshot_index_; }
  [[nodiscard]] term_t snapshot_term() const noexcept { return snapshot_term_; }
  [[nodiscard]] std::size_t size() const noexcept {
    return static_cast<std::size_t>(last_ - snapshot_index_);
  }
  [[nodiscard]] std::size_t capacity_entries() const noexcept { return slot_count_; }
  [[nodiscard]] term_t last_term() const noexcept { return term_at(last_); }

  /// The term at `index`, or 0 when the index is beyond the log or compacted away
  /// (except the snapshot index itself, whose term is remembered).
  [[nodiscard]] term_t term_at(index_t index) const noexcept {
    if (index == snapshot_index_) return snapshot_term_;
    if (index < snapshot_index_ || index > last_) return 0;
    return slot(index).term;
  }
  [[nodiscard]] bool contains(index_t index) const noexcept {
    return index > snapshot_index_ && index <= last_;
  }
  [[nodiscard]] entry_ref at(index_t index) const noexcept {
    WEFT_ASSERT(contains(index));
    const slot_t& s = slot(index);
    const std::uint8_t* base = arena_.get() + s.arena_at;
    return entry_ref{index, s.term, s.type, byte_view(base, s.size)};
  }
  [[nodiscard]] entry_type type_at(index_t index) const noexcept { return slot(index).type; }
  [[nodiscard]] std::uint32_t size_at(index_t index) const noexcept { return slot(index).size; }

  [[nodiscard]] entry_range range(index_t first, std::size_t count) const noexcept {
    return entry_range(slots_.get(), slot_count_ - 1, arena_.get(), first, count);
  }

  /// True when an entry of `bytes` payload fits now.
  [[nodiscard]] bool fits(std::size_t bytes) const noexcept {
    if (size() >= slot_count_) return false;
    return placement(bytes) != no_room;
  }

  /// Appends at last_index()+1; returns false (nothing changed) when the log is full.
  /// A witness keeps metadata only: pass `keep_payload = false`.
  [[nodiscard]] bool append(term_t term, entry_type type, byte_view payload,
                            bool keep_payload = true) noexcept {
    const std::size_t bytes = keep_payload ? payload.size() : 0;
    if (size() >= slot_count_) return false;
    const std::uint64_t at = placement(bytes);
    if (at == no_room) return false;
    const std::size_t arena_at = at == tail_ ? tail_at_ : 0;  // see placement()
    if (bytes != 0) std::memcpy(arena_.get() + arena_at, payload.data(), bytes);
    ++last_;
    slot_t& s = slot(last_);
    s.arena_at = arena_at;
    s.term = term;
    s.type = type;
    s.size = static_cast<std::uint32_t>(bytes);
    s.offset = at;
    tail_ = at + bytes;
    tail_at_ = wrap(arena_at + bytes);
    return true;
  }

  /// Drops every entry after `index` (index >= snapshot_index()).
  void truncate_after(index_t index) noexcept {
    WEFT_ASSERT(index >= snapshot_index_);
    if (index >= last_) return;
    last_ = index;
    if (last_ == snapshot_index_) {
      tail_ = head_;
      tail_at_ = head_at_;
    } else {
      const slot_t& s = slot(last_);
      tail_ = s.offset + s.size;
      tail_at_ = wrap(s.arena_at + s.size);
    }
  }

  /// Drops every entry up to and including `index` (a snapshot now covers them).
  void compact_to(index_t index, term_t term) noexcept {
    WEFT_ASSERT(index >= snapshot_index_);
    if (index >= last_) {
      snapshot_index_ = index;
      snapshot_term_ = term;
      last_ = index;
      head_ = tail_;
      head_at_ = tail_at_;
      return;
    }
    snapshot_term_ = term;
    snapshot_index_ = index;
    head_ = slot(index + 1).offset;
    head_at_ = slot(index + 1).arena_at;
  }

  /// Empties the log and starts it after a snapshot at (index, term).
  void reset(index_t index, term_t term) noexcept {
    snapshot_index_ = index;
    snapshot_term_ = term;
    last_ = index;
    head_ = tail_ = 0;
    head_at_ = tail_at_ = 0;
  }

 private:
  using slot_t = log_slot;
  static constexpr std::uint64_t no_room = ~std::uint64_t{0};

  struct free_deleter {
    void operator()(void* p) const noexcept { std::free(p); }
  };

  [[nodiscard]] slot_t& slot(index_t index) noexcept {
    return slots_[static_cast<std::size_t>(index) & (slot_count_ - 1)];
  }
  [[nodiscard]] const slot_t& slot(index_t index) const noexcept {
    return slots_[static_cast<std::size_t>(index) & (slot_count_ - 1)];
  }
  /// An arena offset in [0, size]: the end of the arena is its start. Positions are kept
  /// both monotone (for space accounting) and physical (so no hot path divides).
  [[nodiscard]] std::size_t wrap(std::size_t arena_at) const noexcept {
    return arena_at == arena_size_ ? 0 : arena_at;
  }
  /// Where a payload of `bytes` goes so that it is contiguous, or no_room.
  [[nodiscard]] std::uint64_t placement(std::size_t bytes) const noexcept {
    const std::uint64_t cap = arena_size_;
    const std::uint64_t used = tail_ - head_;
    std::uint64_t at = tail_;
    const std::uint64_t to_end = cap - tail_at_;
    if (bytes > to_end) at += to_end;  // skip the arena's tail end to stay contiguous (at 0)
    if ((at - head_) + bytes > cap || used > cap) return no_room;
    return at;
  }

  std::unique_ptr<slot_t[], free_deleter> slots_;
  std::unique_ptr<std::uint8_t[], free_deleter> arena_;
  std::size_t slot_count_ = 0;
  std::size_t arena_size_ = 0;
  index_t snapshot_index_ = 0;
  term_t snapshot_term_ = 0;
  index_t last_ = 0;
  std::uint64_t head_ = 0;  // arena position of the first entry's payload
  std::uint64_t tail_ = 0;  // arena position after the last entry's payload
  std::size_t head_at_ = 0;  // head_ % arena size
  std::size_t tail_at_ = 0;  // tail_ % arena size
};

}  // namespace raft
WEFT_END
