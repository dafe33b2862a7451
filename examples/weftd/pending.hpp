// weftd pending requests: the KV requests waiting for commit and apply (writes, read
// barriers) or for a read index (ReadIndex reads), in a slab indexed by a small integer.
// Ids live inline in their slot and are found through a flat index; every request is on a
// FIFO deadline list (one fixed timeout: oldest first is soonest due) and read barriers
// also on a list ordered by their request counter. Slots and their key strings are reused,
// so the write path allocates nothing once the slab has grown to its high-water mark.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "flat_index.hpp"

namespace weftd {

enum class pending_kind : std::uint8_t { write, read };

template <class Session>
class pending_table {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr std::uint32_t none = flat_index::none;
  static constexpr std::size_t max_request_id_bytes = 128;

  struct request {
    std::shared_ptr<Session> session;  // keeps the connection open while waiting
    pending_kind what = pending_kind::write;
    std::string key;  // reads only: what to answer with (capacity kept between uses)
    time_point started{};
    time_point deadline{};
    time_point barrier_retry_at{};  // re-issue, then refuse (read barriers)
    std::uint64_t sequence = 0;     // a read barrier's request counter
    bool barrier_reissued = false;
    [[nodiscard]] std::string_view request_id() const noexcept { return {id_bytes, id_size}; }

   private:
    friend class pending_table;
    struct links {
      std::uint32_t prev = none;
      std::uint32_t next = none;
      bool linked = false;
    };
    links on[2];  // deadline list, barrier list
    std::uint64_t hash = 0;
    std::uint32_t generation = 0;  // bumped at each use: a stale read context names an old one
    bool in_use = false;
    bool indexed = false;          // has a request id in the index (ReadIndex reads have none)
    std::uint8_t id_size = 0;
    char id_bytes[max_request_id_bytes] = {};
  };

  /// Room for `capacity` requests (slots are made as needed up to it; the index is whole).
  pending_table(std::size_t capacity, std::uint64_t hash_seed)
      : capacity_(capacity), seed_(hash_seed), index_(capacity * 2) {
    free_.reserve(capacity);  // remove() never allocates
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool full() const noexcept { return size_ >= capacity_; }
  [[nodiscard]] request& at(std::uint32_t slot) noexcept { return slots_[slot]; }

  /// Takes a slot for a request (with `request_id` indexed unless empty; at most
  /// max_request_id_bytes) and puts it last on the deadline list; none when full.
  /// References to requests are invalidated (the slab may grow).
  std::uint32_t add(std::string_view request_id, pending_kind what, const std::shared_ptr<Session>& session,
                    time_point now, time_point deadline) {
    if (full() || request_id.size() > max_request_id_bytes) return none;
    const std::uint32_t slot = take_slot();
    request& r = slots_[slot];
    r.session = session;
    r.what = what;
    r.key.clear();
    r.started = now;
    r.deadline = deadline;
    r.barrier_retry_at = {};
    r.sequence = 0;
    r.barrier_reissued = false;
    r.in_use = true;
    set_id(slot, request_id);
    link_back(deadline_list, slot);
    ++size_;
    return slot;
  }

  /// The slot waiting under `request_id`, or none.
  [[nodiscard]] std::uint32_t find(std::string_view request_id) const noexcept {
    if (request_id.empty() || size_ == 0) return none;
    const std::uint64_t hash = hash_bytes(request_id, seed_);
    return index_.find(hash, [&](std::uint32_t slot) {
      return slots_[slot].hash == hash && slots_[slot].request_id() == request_id;
    });
  }

  /// Gives the request a new id (a re-issued read barrier).
  void rename(std::uint32_t slot, std::string_view request_id) noexcept {
    unset_id(slot);
    set_id(slot, request_id);
  }

  /// Frees the slot: off both lists, out of the index, its session released.
  void remove(std::uint32_t slot) noexcept {
    request& r = slots_[slot];
    if (!r.in_use) return;
    unset_id(slot);
    unlink(deadline_list, slot);
    unlink(barrier_list, slot);
    r.session.reset();
    r.in_use = false;
    free_.push_back(slot);  // within the capacity reserved at construction
    --size_;
  }

  /// A ReadIndex context naming this use of the slot (never 0), and back.
  [[nodiscard]] std::uint64_t context_of(std::uint32_t slot) const noexcept {
    return (std::uint64_t{slots_[slot].generation} << 32) | slot;
  }
  [[nodiscard]] std::uint32_t slot_of_context(std::uint64_t context) const noexcept {
    const auto slot = static_cast<std::uint32_t>(context);
    if (slot >= slots_.size() || !slots_[slot].in_use || slots_[slot].indexed ||
        slots_[slot].generation != static_cast<std::uint32_t>(context >> 32))
      return none;
    return slot;
  }

  /// The request added longest ago and still waiting (soonest due), or none.
  [[nodiscard]] std::uint32_t oldest() const noexcept { return heads_[deadline_list]; }

  /// Read barriers, by request counter: push_barrier appends (counters only grow).
  void push_barrier(std::uint32_t slot, std::uint64_t sequence) noexcept {
    unlink(barrier_list, slot);
    slots_[slot].sequence = sequence;
    link_back(barrier_list, slot);
  }
  [[nodiscard]] std::uint32_t oldest_barrier() const noexcept { return heads_[barrier_list]; }

  /// Calls f(slot) for every waiting request; f may remove the slot it is given.
  template <class F>
  void for_each(F&& f) {
    for (std::uint32_t slot = heads_[deadline_list]; slot != none;) {
      const std::uint32_t next = slots_[slot].on[deadline_list].next;
      f(slot);
      slot = next;
    }
  }

 private:
  static constexpr int deadline_list = 0;
  static constexpr int barrier_list = 1;

  std::uint32_t take_slot() {
    if (!free_.empty()) {
      const std::uint32_t slot = free_.back();
      free_.pop_back();
      ++slots_[slot].generation;
      return slot;
    }
    slots_.emplace_back();
    slots_.back().generation = 1;
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }

  void set_id(std::uint32_t slot, std::string_view request_id) noexcept {
    request& r = slots_[slot];
    r.id_size = static_cast<std::uint8_t>(request_id.size());
    if (!request_id.empty()) std::memcpy(r.id_bytes, request_id.data(), request_id.size());
    r.indexed = !request_id.empty();
    if (!r.indexed) return;
    r.hash = hash_bytes(request_id, seed_);
    index_.insert(r.hash, slot);
  }
  void unset_id(std::uint32_t slot) noexcept {
    request& r = slots_[slot];
    if (r.indexed) index_.erase(r.hash, slot);
    r.indexed = false;
    r.id_size = 0;
  }

  void link_back(int list, std::uint32_t slot) noexcept {
    auto& l = slots_[slot].on[list];
    l = {tails_[list], none, true};
    if (tails_[list] != none) slots_[tails_[list]].on[list].next = slot;
    else heads_[list] = slot;
    tails_[list] = slot;
  }
  void unlink(int list, std::uint32_t slot) noexcept {
    auto& l = slots_[slot].on[list];
    if (!l.linked) return;
    if (l.prev != none) slots_[l.prev].on[list].next = l.next;
    else heads_[list] = l.next;
    if (l.next != none) slots_[l.next].on[list].prev = l.prev;
    else tails_[list] = l.prev;
    l = {};
  }

  std::size_t capacity_;
  std::uint64_t seed_;
  std::vector<request> slots_;
  std::vector<std::uint32_t> free_;
  flat_index index_;
  std::uint32_t heads_[2] = {none, none};
  std::uint32_t tails_[2] = {none, none};
  std::size_t size_ = 0;
};

}  // namespace weftd
