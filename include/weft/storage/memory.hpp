// weft/storage/memory.hpp - in-memory models of log_store, stable_store and snapshot_store:
// the reference semantics the durable stores are tested against, and the stores of a
// simulated node whose "disk" is its memory. Capacities are fixed at construction.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/concepts.hpp"

WEFT_BEGIN
namespace storage {

struct memory_log_options {
  std::size_t max_entries = 1u << 16;
  std::size_t max_payload_bytes_total = std::size_t{64} << 20;
  std::uint64_t first_index = 1;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_entries == 0 || max_payload_bytes_total == 0 || first_index == 0)
      return error(core_errc::invalid_options, "memory_log_options");
    return ok();
  }
};

/// A log held in two buffers reserved at construction: entry descriptors and payload bytes.
/// Every append is "durable" as soon as sync() is called, like the file WAL.
class memory_log_store {
 public:
  explicit memory_log_store(const memory_log_options& options = {}) noexcept
      : options_(options), first_(options.first_index) {
    entries_.reserve(options.max_entries);
    arena_.reserve(options.max_payload_bytes_total);
  }

  [[nodiscard]] std::uint64_t first_index() const noexcept { return first_; }
  [[nodiscard]] std::uint64_t last_index() const noexcept {
    return first_ + (entries_.size() - head_) - 1;
  }
  [[nodiscard]] log_position durable() const noexcept { return durable_; }

  [[nodiscard]] result<log_position> append(std::uint64_t index, std::uint64_t term,
                                            byte_view payload) noexcept {
    if (index != last_index() + 1) return error(storage_errc::index_mismatch, "memory_log");
    if (entries_.size() == options_.max_entries) squeeze();
    if (entries_.size() == options_.max_entries)
      return error(storage_errc::log_full, "memory_log: max_entries");
    if (arena_.size() + payload.size() > options_.max_payload_bytes_total) squeeze();
    if (arena_.size() + payload.size() > options_.max_payload_bytes_total)
      return error(storage_errc::log_full, "memory_log: max_payload_bytes_total");
    entries_.push_back({term, arena_.size(), payload.size()});
    arena_.insert(arena_.end(), payload.begin(), payload.end());
    return advance();
  }

  [[nodiscard]] result<log_position> truncate_suffix(std::uint64_t from_index) noexcept {
    if (from_index < first_ || from_index > last_index() + 1)
      return error(storage_errc::out_of_range, "memory_log: truncate_suffix");
    const std::size_t keep = head_ + static_cast<std::size_t>(from_index - first_);
    if (keep < entries_.size()) arena_.resize(entries_[keep].offset);
    entries_.resize(keep);
    return advance();
  }

  [[nodiscard]] result<void> compact_prefix(std::uint64_t new_first_index) noexcept {
    if (new_first_index <= first_) return ok();
    if (new_first_index > last_index() + 1) {  // a snapshot beyond the log replaces it all
      entries_.clear();
      arena_.clear();
      head_ = 0;
    } else {
      head_ += static_cast<std::size_t>(new_first_index - first_);
    }
    first_ = new_first_index;
    return ok();
  }

  [[nodiscard]] result<log_position> sync() noexcept {
    durable_ = written_;
    return durable_;
  }

  [[nodiscard]] result<std::uint64_t> term_at(std::uint64_t index) const noexcept {
    if (index < first_ || index > last_index())
      return error(storage_errc::out_of_range, "memory_log: term_at");
    return entries_[slot(index)].term;
  }

  [[nodiscard]] result<void> read_range(std::uint64_t from_index, std::uint64_t end_index,
                                        entry_visitor visit, void* context) noexcept {
    if (from_index < first_ || end_index > last_index() + 1 || from_index > end_index)
      return error(storage_errc::out_of_range, "memory_log: read_range");
    for (std::uint64_t i = from_index; i < end_index; ++i) {
      const descriptor& d = entries_[slot(i)];
      const log_entry_view view{i, d.term, byte_view(arena_).subspan(d.offset, d.size)};
      if (!visit(context, view)) break;
    }
    return ok();
  }

 private:
  struct descriptor {
    std::uint64_t term;
    std::size_t offset;
    std::size_t size;
  };
  [[nodiscard]] std::size_t slot(std::uint64_t index) const noexcept {
    return head_ + static_cast<std::size_t>(index - first_);
  }
  log_position advance() noexcept {
    written_ = {written_.sequence + 1, last_index()};
    return written_;
  }
  // Drops compacted entries and their bytes from the front of both buffers.
  void squeeze() noexcept {
    if (head_ == 0) return;
    const std::size_t byte_shift =
        head_ < entries_.size() ? entries_[head_].offset : arena_.size();
    arena_.erase(arena_.begin(), arena_.begin() + static_cast<std::ptrdiff_t>(byte_shift));
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
    for (descriptor& d : entries_) d.offset -= byte_shift;
    head_ = 0;
  }

  memory_log_options options_;
  std::vector<descriptor> entries_;
  std::vector<std::uint8_t> arena_;
  std::size_t head_ = 0;  // entries_[head_] has index first_
  std::uint64_t first_;
  log_position written_{};
  log_position durable_{};
};

/// Hard state in memory: save() is immediately "durable".
class memory_stable_store {
 public:
  [[nodiscard]] result<void> save(const hard_state& state) noexcept {
    state_ = state;
    return ok();
  }
  [[nodiscard]] result<hard_state> load() const noexcept { return state_; }

 private:
  hard_state state_{};
};

struct memory_snapshot_options {
  std::size_t max_snapshot_size_bytes = std::size_t{64} << 20;

  [[nodiscard]] result<void> validate() const noexcept {
    if (max_snapshot_size_bytes == 0)
      return error(core_errc::invalid_options, "memory_snapshot_options");
    return ok();
  }
};

/// One installed snapshot and one being written, both in buffers reserved at construction.
class memory_snapshot_store {
 public:
  explicit memory_snapshot_store(const memory_snapshot_options& options = {}) noexcept
      : options_(options) {
    installed_.reserve(options.max_snapshot_size_bytes);
    pending_.reserve(options.max_snapshot_size_bytes);
  }

  [[nodiscard]] result<void> begin(std::uint64_t index, std::uint64_t term) noexcept {
    if (writing_) return error(storage_errc::snapshot_state, "memory_snapshot: begin twice");
    if (has_installed_ && index <= meta_.index)
      return error(storage_errc::stale_snapshot, "memory_snapshot: begin");
    pending_.clear();
    pending_meta_ = {index, term, 0, 0};
    writing_ = true;
    return ok();
  }
  [[nodiscard]] result<void> write(byte_view chunk) noexcept {
    if (!writing_) return error(storage_errc::snapshot_state, "memory_snapshot: write");
    if (pending_.size() + chunk.size() > options_.max_snapshot_size_bytes)
      return error(core_errc::capacity_exceeded, "memory_snapshot: max_snapshot_size_bytes");
    pending_.insert(pending_.end(), chunk.begin(), chunk.end());
    pending_meta_.checksum = crc32c_extend(pending_meta_.checksum, chunk);
    return ok();
  }
  [[nodiscard]] result<snapshot_meta> install() noexcept {
    if (!writing_) return error(storage_errc::snapshot_state, "memory_snapshot: install");
    pending_meta_.size_bytes = pending_.size();
    installed_.swap(pending_);
    meta_ = pending_meta_;
    has_installed_ = true;
    writing_ = false;
    return meta_;
  }
  void discard() noexcept { writing_ = false; }

  [[nodiscard]] result<snapshot_meta> latest() const noexcept {
    if (!has_installed_) return error(storage_errc::no_snapshot, "memory_snapshot: latest");
    return meta_;
  }
  [[nodiscard]] result<std::size_t> read(std::uint64_t offset, mutable_byte_view out) noexcept {
    if (!has_installed_) return error(storage_errc::no_snapshot, "memory_snapshot: read");
    if (offset > installed_.size()) return error(storage_errc::out_of_range, "memory_snapshot");
    const std::size_t n =
        std::min(out.size(), installed_.size() - static_cast<std::size_t>(offset));
    if (n > 0) std::memcpy(out.data(), installed_.data() + offset, n);
    return n;
  }

 private:
  memory_snapshot_options options_;
  std::vector<std::uint8_t> installed_;
  std::vector<std::uint8_t> pending_;
  snapshot_meta meta_{};
  snapshot_meta pending_meta_{};
  bool has_installed_ = false;
  bool writing_ = false;
};

static_assert(log_store<memory_log_store>, "memory_log_store: see docs/requirements/log_store.md");
static_assert(stable_store<memory_stable_store>,
              "memory_stable_store: see docs/requirements/stable_store.md");
static_assert(snapshot_store<memory_snapshot_store>,
              "memory_snapshot_store: see docs/requirements/snapshot_store.md");

}  // namespace storage
WEFT_END
