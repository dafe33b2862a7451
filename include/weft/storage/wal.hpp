// weft/storage/wal.hpp - the durable log store: a segmented write-ahead log over any
// file_system (POSIX or the simulator's disk). Preallocated, zero-filled segments; records
// framed with a checksummed header and a payload checksum; group commit (many appends,
// one sync); recovery that repairs a torn tail and refuses corruption before it.
// Format: weft/storage/detail/wal_format.hpp. Guide: docs/storage.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/concepts.hpp"
#include "weft/storage/detail/wal_format.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace storage {

/// When the WAL calls sync on the file system.
enum class sync_policy : std::uint8_t {
  on_sync,       // safe default: sync() is one fdatasync covering every append before it
  every_append,  // each append is synced before it returns (no group commit)
  never,         // sync() only hands bytes to the OS: data survives a process crash only
};

/// How new segments reserve their space.
enum class preallocation_mode : std::uint8_t {
  allocate,   // the file system's preallocate() (fallocate) when it has one, else zeros
  zero_fill,  // write zeros: later fdatasyncs touch no metadata, at twice the bytes written
};

struct wal_options {
  std::uint64_t segment_size_bytes = std::uint64_t{64} << 20;
  std::size_t max_record_size_bytes = std::size_t{1} << 20;
  std::size_t write_buffer_size_bytes = std::size_t{4} << 20;  // group-commit buffer
  std::size_t max_entries = std::size_t{1} << 20;              // live entries indexed
  // Live segments (64 MiB each by default: 256 GiB); at the limit append() answers
  // log_full (compact first). Only the segment being written and at most
  // max_open_read_segments sealed ones are open at a time, so this is not bounded by the
  // file system's open-file limit.
  std::size_t max_segments = 4096;
  std::size_t max_open_read_segments = 8;  // sealed segments kept open for reads (LRU)
  std::uint64_t first_index = 1;                               // of a brand-new log
  sync_policy sync = sync_policy::on_sync;
  preallocation_mode preallocation = preallocation_mode::allocate;
  // With fallocated segments: a flush smaller than this also writes zeros over the next
  // zero_ahead_bytes of the segment (once), so the syncs that follow overwrite written
  // blocks. (ext4 and XFS keep fallocated space "unwritten": the first sync that writes
  // into such a block must also commit the extent conversion to the journal.) Batches of at
  // least this size, or of 64 KiB and more, skip it: their own sync amortizes the
  // conversion, and so do syncs under 4 KiB (they mostly rewrite one block). 0: never.
  // Capped at half of write_buffer_size_bytes (the zeros go out in the records' write).
  std::size_t zero_ahead_bytes = std::size_t{1} << 20;
  // After each sync that made records durable, write (without syncing) a small sync-marker
  // record whose synced_through proves them durable, and on close() sync a final one, so that
  // damage to the last synced batch is a hard error instead of a torn tail to cut off.
  // Costs one small write per sync. See docs/storage.md, "what recovery guarantees".
  bool sync_markers = true;
  /// Verify and read only (operators' tools): recovery reports a torn tail or an unfinished
  /// segment instead of repairing it, creates nothing, and every write is refused.
  bool read_only = false;

  [[nodiscard]] result<void> validate() const noexcept {
    const char* where = nullptr;
    if (segment_size_bytes < 4096 || segment_size_bytes > (std::uint64_t{1} << 32))
      where = "wal_options: segment_size_bytes outside [4096, 4 GiB]";
    else if (max_record_size_bytes == 0 || max_record_size_bytes > (std::size_t{1} << 30))
      where = "wal_options: max_record_size_bytes";
    else if (write_buffer_size_bytes < detail::record_size(max_record_size_bytes))
      where = "wal_options: write_buffer_size_bytes smaller than one maximal record";
    else if (detail::segment_header_size + detail::record_size(max_record_size_bytes) >
             segment_size_bytes)
      where = "wal_options: a maximal record does not fit in a segment";
    else if (max_entries == 0 || max_segments < 2 || first_index == 0)
      where = "wal_options: max_entries, max_segments or first_index";
    else if (max_open_read_segments == 0 || max_open_read_segments > 1024)
      where = "wal_options: max_open_read_segments outside [1, 1024]";
    if (where != nullptr) return error(core_errc::invalid_options, where);
    return ok();
  }
};

/// What recovery found, for the caller to log. Filled by open() whether it succeeds or not.
struct recovery_report {
  std::uint64_t segments = 0;             // segment files scanned
  std::uint64_t records = 0;              // records replayed
  std::uint64_t torn_tails_repaired = 0;  // 0 or 1: a torn tail was cut off
  std::uint64_t torn_bytes_discarded = 0;
  std::uint64_t torn_segments_removed = 0;  // a last segment whose creation never completed
  // 0 or 1: the cut-off tail began with a record that had been written whole and was
  // damaged afterwards (bit rot, a misdirected write): a crash cannot do that, and the
  // record may have been acknowledged before its sync marker reached the disk. Log it as
  // possible loss of acknowledged data (a replica can refetch it; a single node cannot).
  std::uint64_t possible_acknowledged_loss = 0;
  char file[detail::segment_name_size + 1] = {};  // file of the repair or of the hard error
  std::uint64_t offset = 0;                        // offset of the repair or hard error
  std::string_view reason{};                       // what happened there (static text)

  [[nodiscard]] std::string_view file_name() const noexcept { return {file}; }
};

/// Running counters of one open WAL.
struct wal_stats {
  std::uint64_t appends = 0;
  std::uint64_t syncs = 0;          // file-system syncs issued (segment rolls included)
  std::uint64_t bytes_written = 0;
  std::uint64_t segments_created = 0;
  std::uint64_t segments_removed = 0;
  std::uint64_t torn_tails_repaired = 0;
  std::uint64_t possible_acknowledged_loss = 0;  // see recovery_report
  std::uint64_t sync_markers = 0;   // sync-marker records written
  std::uint64_t zero_ahead_bytes = 0;  // zeros written ahead of the records (fallocated segments)
};

/// What a sync on another thread will make durable (wal::write_for_sync).
struct wal_sync_ticket {
  file_handle file{};          // value 0: no sync needed
  log_position position{};     // durable once `file` is synced
  std::uint64_t bytes = 0;     // record bytes the sync covers
};

template <class FS>
class wal {
  static_assert(file_system<FS>, "wal<FS>: FS must model weft::storage::file_system; "
                                 "see docs/requirements/file_system.md");

 public:
  explicit wal(FS& fs, const wal_options& options = {}) noexcept : fs_(fs), options_(options) {}
  wal(const wal&) = delete;
  wal& operator=(const wal&) = delete;
  ~wal() { release(); }

  /// Recovers the log from the directory (or creates it). On a hard error the WAL stays
  /// closed and `report` names the file and offset.
  [[nodiscard]] result<void> open(recovery_report& report) noexcept;

  /// Flushes and (per policy) syncs, then closes every segment.
  [[nodiscard]] result<void> close() noexcept {
    result<void> flushed = ok();
    if (open_ && !poisoned_ && !options_.read_only) {
      auto synced = sync();
      if (!synced) flushed = synced.error();
      else if (auto marked = sync_final_marker(); !marked) flushed = marked.error();
    }
    release();
    return flushed;
  }

  [[nodiscard]] bool is_open() const noexcept { return open_; }
  [[nodiscard]] std::uint64_t first_index() const noexcept { return first_; }
  [[nodiscard]] std::uint64_t last_index() const noexcept { return first_ + live() - 1; }
  [[nodiscard]] log_position durable() const noexcept { return durable_; }
  [[nodiscard]] log_position written() const noexcept { return written_; }
  [[nodiscard]] const wal_stats& stats() const noexcept { return stats_; }

  [[nodiscard]] result<log_position> append(std::uint64_t index, std::uint64_t term,
                                            byte_view payload) noexcept {
    WEFT_TRY(writable());
    if (payload.size() > options_.max_record_size_bytes)
      return error(storage_errc::record_too_large, "wal: append");
    if (index != last_index() + 1) return error(storage_errc::index_mismatch, "wal: append");
    if (live() == options_.max_entries) return error(storage_errc::log_full, "wal: max_entries");
    if (entries_.size() == options_.max_entries) squeeze();
    WEFT_TRY_ASSIGN(const location where, emit(detail::record_type::entry, index, term, payload));
    entries_.push_back({term, where.segment, where.offset, static_cast<std::uint32_t>(payload.size())});
    ++stats_.appends;
    written_.last_index = last_index();
    if (options_.sync == sync_policy::every_append) return sync();
    return written_;
  }

  /// Removes entries from `from_index` on (a conflicting suffix). Durable after sync().
  [[nodiscard]] result<log_position> truncate_suffix(std::uint64_t from_index) noexcept {
    WEFT_TRY(writable());
    if (from_index < first_ || from_index > last_index() + 1)
      return error(storage_errc::out_of_range, "wal: truncate_suffix");
    WEFT_TRY(emit(detail::record_type::truncate, from_index, 0, {}));
    entries_.resize(head_ + static_cast<std::size_t>(from_index - first_));
    written_.last_index = last_index();
    if (options_.sync == sync_policy::every_append) return sync();
    return written_;
  }

  /// Forgets entries before `new_first_index` (covered by a snapshot) and removes segments
  /// that hold nothing live. `new_first_index` may lie beyond the last entry.
  [[nodiscard]] result<void> compact_prefix(std::uint64_t new_first_index) noexcept {
    WEFT_TRY(writable());
    if (new_first_index <= first_) return ok();
    WEFT_TRY(emit(detail::record_type::compact, new_first_index, 0, {}));
    drop_before(new_first_index);
    written_.last_index = last_index();
    return remove_dead_segments();
  }

  /// Group commit: one flush and one fdatasync cover every append before it. Returns the
  /// position now durable.
  [[nodiscard]] result<log_position> sync() noexcept {
    WEFT_TRY(writable());
    WEFT_TRY(flush());
    // Nothing written since the last sync but (perhaps) its marker: the marker needs no sync.
    if (written_.sequence == durable_.sequence || written_.sequence == marker_sequence_)
      return durable_;
    if (options_.sync != sync_policy::never) {
      if (auto synced = fs_.sync(current().handle); !synced) return poison(synced.error());
      ++stats_.syncs;
    }
    durable_ = written_;
    last_batch_bytes_ = std::exchange(flushed_since_sync_, 0);
    WEFT_TRY(write_sync_marker());
    return durable_;
  }

  /// Sync off this thread (docs/storage.md, "syncing on another thread"), first half: hands
  /// every buffered record to the OS and names the file whose sync makes them durable,
  /// without syncing. Another thread may then call the file system's sync(ticket.file)
  /// while this WAL keeps appending: the file stays open until roll() seals it, which calls
  /// the seal hook (set_seal_hook) first so that thread can finish. A ticket with file value
  /// 0 needs no sync (nothing new, or a policy other than on_sync, already applied).
  [[nodiscard]] result<wal_sync_ticket> write_for_sync() noexcept {
    WEFT_TRY(writable());
    if (options_.sync != sync_policy::on_sync) {
      WEFT_TRY_ASSIGN(const log_position done, sync());
      return wal_sync_ticket{{}, done, 0};
    }
    WEFT_TRY(flush());
    if (written_.sequence == durable_.sequence || written_.sequence == marker_sequence_ ||
        written_.sequence == ticketed_sequence_)
      return wal_sync_ticket{{}, durable_, 0};
    ticketed_sequence_ = written_.sequence;
    last_batch_bytes_ = std::exchange(flushed_since_sync_, 0);
    return wal_sync_ticket{current().handle, written_, last_batch_bytes_};
  }

  /// Second half, back on this thread: `outcome` is what sync(ticket.file) returned. On
  /// success everything the ticket names is durable (a sync covers every write before it,
  /// so tickets may be completed out of turn or skipped for a later one); on failure the
  /// WAL is poisoned (the OS may have dropped the dirty pages). Returns the durable position.
  [[nodiscard]] result<log_position> complete_sync(const wal_sync_ticket& ticket,
                                                   const result<void>& outcome) noexcept {
    WEFT_TRY(writable());
    if (!outcome) return poison(outcome.error());
    if (ticket.file.value == 0 || ticket.position.sequence <= durable_.sequence) return durable_;
    ++stats_.syncs;
    durable_ = ticket.position;
    // The marker proves the ticket's records durable; records written after the ticket
    // precede it in the file, and it claims no more than durable_ (its synced_through).
    WEFT_TRY(write_sync_marker());
    return durable_;
  }

  /// Called at the start of every segment roll, before the current segment (which an
  /// outstanding wal_sync_ticket may name) is synced and closed.
  void set_seal_hook(void (*hook)(void* context) noexcept, void* context) noexcept {
    seal_hook_ = hook;
    seal_hook_context_ = context;
  }

  [[nodiscard]] result<std::uint64_t> term_at(std::uint64_t index) const noexcept {
    if (!open_) return error(storage_errc::not_open, "wal: term_at");
    if (index < first_ || index > last_index())
      return error(storage_errc::out_of_range, "wal: term_at");
    return entries_[slot(index)].term;
  }

  /// Visits entries [from_index, end_index), re-checking each record's checksums.
  [[nodiscard]] result<void> read_range(std::uint64_t from_index, std::uint64_t end_index,
                                        entry_visitor visit, void* context) noexcept {
    if (!open_ || poisoned_) return error(storage_errc::not_open, "wal: read_range");
    if (from_index < first_ || end_index > last_index() + 1 || from_index > end_index)
      return error(storage_errc::out_of_range, "wal: read_range");
    for (std::uint64_t i = from_index; i < end_index; ++i) {
      WEFT_TRY_ASSIGN(const byte_view payload, load(i));
      if (!visit(context, {i, entries_[slot(i)].term, payload})) break;
    }
    return ok();
  }

 private:
  struct entry_location {
    std::uint64_t term;
    std::uint64_t segment;
    std::uint32_t offset;
    std::uint32_t length;
  };
  struct segment {
    std::uint64_t number;
    file_handle handle;  // value 0: closed (a sealed segment not in the read cache)
    detail::segment_header header;
  };
  struct location {
    std::uint64_t segment;
    std::uint32_t offset;
  };

  [[nodiscard]] std::size_t live() const noexcept { return entries_.size() - head_; }
  [[nodiscard]] std::size_t slot(std::uint64_t index) const noexcept {
    return head_ + static_cast<std::size_t>(index - first_);
  }
  segment& current() noexcept { return segments_.back(); }

  [[nodiscard]] result<void> writable() const noexcept {
    if (!open_) return error(storage_errc::not_open, "wal");
    if (poisoned_) return error(storage_errc::poisoned, "wal");
    if (options_.read_only) return error(storage_errc::read_only, "wal");
    return ok();
  }
  error poison(const error& failure) noexcept {
    poisoned_ = true;
    return failure;
  }

  void drop_before(std::uint64_t new_first) noexcept {
    if (new_first <= first_) return;
    if (new_first > last_index() + 1) {
      entries_.clear();
      head_ = 0;
    } else {
      head_ += static_cast<std::size_t>(new_first - first_);
    }
    first_ = new_first;
  }
  void squeeze() noexcept {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  // A record proving every record before it durable (its synced_through), handed to the OS
  // at once: without it, damage to the last synced batch would look like a torn tail. It is
  // not itself synced (the next sync or the OS's writeback makes it durable), and durable_
  // stays before it, so no later record claims it durable before a sync covers it. When it
  // does not fit in the segment it is skipped: the next segment's creation seals this one.
  [[nodiscard]] result<void> write_sync_marker() noexcept {
    if (!options_.sync_markers || options_.sync == sync_policy::never) return ok();
    if (write_offset_ + detail::record_size(0) > current().header.segment_size) return ok();
    WEFT_TRY(emit(detail::record_type::sync_marker, last_index(), 0, {}));
    marker_sequence_ = written_.sequence;
    ++stats_.sync_markers;
    return flush();
  }

  // On a clean close: the last marker is synced too, so every acknowledged record is proven.
  [[nodiscard]] result<void> sync_final_marker() noexcept {
    if (options_.sync == sync_policy::never || written_.sequence != marker_sequence_ ||
        durable_.sequence == written_.sequence)
      return ok();
    if (auto synced = fs_.sync(current().handle); !synced) return poison(synced.error());
    ++stats_.syncs;
    durable_ = written_;
    return ok();
  }

  // Encodes one record into the group-commit buffer, rolling to a new segment first when
  // it would not fit. Nothing reaches the file until flush(), which also checksums the
  // buffered records (three at a time: see detail::seal_records).
  // (Scalar arguments: a header struct passed by value went through the stack, and its
  // byte-wide type field stalled the wide loads that copied it, on every append.)
  [[nodiscard]] result<location> emit(detail::record_type type, std::uint64_t index,
                                      std::uint64_t term, byte_view payload) noexcept {
    const std::size_t size = detail::record_size(payload.size());
    if (write_offset_ + size > current().header.segment_size) WEFT_TRY(roll());
    if (buffered_ + size > write_buffer_.size()) WEFT_TRY(flush());
    const std::uint64_t sequence = written_.sequence + 1;
    detail::encode_record_unsealed({0, type, 0, sequence, durable_.sequence, index, term}, payload,
                                   write_buffer_.data() + buffered_);
    const location where{current().number, static_cast<std::uint32_t>(write_offset_)};
    buffered_ += size;
    write_offset_ += size;
    written_.sequence = sequence;
    return where;
  }

  [[nodiscard]] result<void> flush() noexcept {
    if (buffered_ == 0) return ok();
    detail::seal_records(write_buffer_.data(), buffered_);
    const std::size_t zeros = zeros_to_append();
    std::memset(write_buffer_.data() + buffered_, 0, zeros);
    const byte_view bytes(write_buffer_.data(), buffered_ + zeros);
    if (auto wrote = fs_.write(current().handle, buffer_offset_, bytes); !wrote)
      return poison(wrote.error());
    stats_.bytes_written += buffered_;
    stats_.zero_ahead_bytes += zeros;
    flushed_since_sync_ += buffered_;
    buffer_offset_ += buffered_;
    zeroed_through_ = std::max(zeroed_through_, buffer_offset_ + zeros);
    buffered_ = 0;
    return ok();
  }

  // Syncs of less than a block mostly rewrite the block the previous one converted; measured
  // on ext4 they were ~10% slower into zeroed space than into fallocated space.
  static constexpr std::uint64_t min_batch_to_zero_ahead_bytes = 4096;
  // From 64 KiB up a sync's own writes amortize the extent conversion, while zeroing ahead
  // doubles the bytes written: on ext4/virtio 1 KiB x 256 and 16 KiB x 16 batches reached
  // 53-81% of raw write+fdatasync with zeros ahead and 75-90% without.
  static constexpr std::uint64_t max_batch_to_zero_ahead_bytes = std::uint64_t{64} << 10;

  [[nodiscard]] std::size_t zero_ahead() const noexcept {
    return std::min(options_.zero_ahead_bytes, write_buffer_.size() / 2);
  }

  // How many zeros to write after the buffered records in the same write (see
  // wal_options::zero_ahead_bytes): a small batch (everything flushed since the last sync)
  // (or the last synced one: a sync marker's flush follows it) reaching past the zeroed part
  // of a fallocated segment zeroes the next zero_ahead_bytes,
  // so later syncs overwrite written blocks instead of converting unwritten extents one
  // sync at a time. A large batch pays for its own conversion once.
  [[nodiscard]] std::size_t zeros_to_append() noexcept {
    const std::uint64_t end = buffer_offset_ + buffered_;
    const std::uint64_t batch = std::max(last_batch_bytes_, flushed_since_sync_ + buffered_);
    if (end <= zeroed_through_ || batch < min_batch_to_zero_ahead_bytes ||
        batch >= std::min<std::uint64_t>(zero_ahead(), max_batch_to_zero_ahead_bytes))
      return 0;
    const std::uint64_t limit = std::min<std::uint64_t>(current().header.segment_size,
                                                        end + zero_ahead());
    const std::uint64_t room = write_buffer_.size() - buffered_;
    return static_cast<std::size_t>(std::min(limit > end ? limit - end : 0, room));
  }

  // Seals the current segment (flush + sync: earlier segments are always fully durable,
  // which recovery relies on) and starts the next one.
  [[nodiscard]] result<void> roll() noexcept {
    if (segments_.size() == options_.max_segments)
      return error(storage_errc::log_full, "wal: max_segments; compact first");
    if (seal_hook_ != nullptr) seal_hook_(seal_hook_context_);
    WEFT_TRY(flush());
    if (options_.sync != sync_policy::never) {
      if (auto synced = fs_.sync(current().handle); !synced) return poison(synced.error());
      ++stats_.syncs;
    }
    durable_ = written_;
    last_batch_bytes_ = std::exchange(flushed_since_sync_, 0);
    const std::uint64_t number = current().number + 1;
    seal(current());
    if (auto created = create_segment(number, written_.sequence + 1); !created)
      return poison(created.error());
    return ok();
  }

  // Creates a segment: zero-filled to its full size (so appends never change the file's
  // size, and a torn tail is followed by zeros), header written, file and directory synced.
  [[nodiscard]] result<void> create_segment(std::uint64_t number,
                                            std::uint64_t first_sequence) noexcept {
    char name[detail::segment_name_size + 1];
    detail::format_segment_name(number, name);
    WEFT_TRY_ASSIGN(const file_handle handle, fs_.open(name, open_mode::create_exclusive));
    segments_.push_back({number, handle, {}});
    segment& s = segments_.back();
    s.header = {number, first_sequence, first_, last_index(), options_.segment_size_bytes};
    WEFT_TRY(preallocate(handle));
    std::uint8_t header[detail::segment_header_size];
    detail::encode_segment_header(s.header, header);
    WEFT_TRY(fs_.write(handle, 0, byte_view(header, sizeof header)));
    if (options_.sync != sync_policy::never) {
      WEFT_TRY(fs_.sync(handle));
      WEFT_TRY(fs_.sync_directory());
      stats_.syncs += 2;
    }
    ++stats_.segments_created;
    write_offset_ = detail::segment_header_size;
    buffer_offset_ = write_offset_;
    return ok();
  }

  // Reserves the whole segment up front: through the file system's optional
  // preallocate() (fallocate) when it has one and preallocation is `allocate`, otherwise
  // by writing zeros. Either way the bytes past the last record read as zeros.
  [[nodiscard]] result<void> preallocate(file_handle handle) noexcept {
    if constexpr (requires(FS& f) { { f.preallocate(file_handle{}, std::uint64_t{}) } noexcept; }) {
      if (options_.preallocation == preallocation_mode::allocate) {
        auto reserved = fs_.preallocate(handle, options_.segment_size_bytes);
        if (reserved || reserved.error() == fs_errc::no_space) {
          zeroed_through_ = 0;  // unwritten extents: zeroed ahead by flush()
          return reserved;
        }
      }
    }
    zeroed_through_ = options_.segment_size_bytes;
    return zero_fill(handle, 0, options_.segment_size_bytes);
  }

  [[nodiscard]] result<void> zero_fill(file_handle handle, std::uint64_t from,
                                       std::uint64_t to) noexcept {
    std::fill(read_buffer_.begin(), read_buffer_.end(), std::uint8_t{0});
    for (std::uint64_t at = from; at < to;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_.size(), to - at));
      WEFT_TRY(fs_.write(handle, at, byte_view(read_buffer_.data(), n)));
      at += n;
    }
    window_size_ = 0;  // the read buffer no longer holds file bytes
    return ok();
  }

  [[nodiscard]] result<void> remove_dead_segments() noexcept {
    // Segment k holds only entries up to segments_[k+1].header.last_index.
    bool removed = false;
    while (segments_.size() > 1 && segments_[1].header.last_index < first_) {
      char name[detail::segment_name_size + 1];
      detail::format_segment_name(segments_.front().number, name);
      close_segment(segments_.front());
      segments_.erase(segments_.begin());
      if (auto gone = fs_.remove(name); !gone) return poison(gone.error());
      ++stats_.segments_removed;
      removed = true;
    }
    if (removed && options_.sync != sync_policy::never) {
      if (auto synced = fs_.sync_directory(); !synced) return poison(synced.error());
    }
    return ok();
  }

  segment* find_segment(std::uint64_t number) noexcept {
    if (segments_.empty() || number < segments_.front().number) return nullptr;
    const auto i = static_cast<std::size_t>(number - segments_.front().number);
    return i < segments_.size() ? &segments_[i] : nullptr;
  }

  // The payload of entry `index`, from the unflushed buffer or re-read and re-checked.
  [[nodiscard]] result<byte_view> load(std::uint64_t index) noexcept {
    const entry_location& e = entries_[slot(index)];
    const std::size_t size = detail::record_size(e.length);
    if (e.segment == current().number && e.offset >= buffer_offset_) {
      const std::size_t at = static_cast<std::size_t>(e.offset - buffer_offset_);
      return byte_view(write_buffer_.data() + at + detail::record_header_size, e.length);
    }
    segment* s = find_segment(e.segment);
    if (s == nullptr) return error(storage_errc::corrupt_sequence, "wal: read: segment missing");
    window_size_ = 0;
    WEFT_TRY_ASSIGN(const file_handle handle, acquire(*s));
    WEFT_TRY_ASSIGN(const std::size_t got,
                    fs_.read(handle, e.offset, mutable_byte_view(read_buffer_.data(), size)));
    detail::record_header h;
    const byte_view bytes(read_buffer_.data(), got);
    if (got < size || !detail::decode_record_header(bytes, options_.max_record_size_bytes, h) ||
        h.index != index || h.payload_length != e.length ||
        !detail::payload_matches(h, bytes.subspan(detail::record_header_size, e.length)))
      return error(storage_errc::corrupt_record, "wal: read: record fails its checksum");
    return bytes.subspan(detail::record_header_size, e.length);
  }

  // ---- open handles: the current segment, plus a small LRU cache of sealed ones ----
  // A sealed segment (flushed and synced) is closed unless it is in the read cache.
  void seal(segment& s) noexcept { close_segment(s); }

  void close_segment(segment& s) noexcept {
    if (s.handle.value == 0) return;
    (void)fs_.close(s.handle);
    if (window_handle_ == s.handle) window_size_ = 0;  // the value may be reused by another file
    s.handle = {};
    for (cached_reader& c : read_cache_)
      if (c.number == s.number) c = {};
  }

  // The segment's handle, opened on demand; at most max_open_read_segments sealed segments
  // are open: the least recently used one is closed to make room.
  [[nodiscard]] result<file_handle> acquire(segment& s) noexcept {
    ++read_clock_;
    if (s.handle.value != 0 && &s == &segments_.back()) return s.handle;  // being written
    cached_reader* victim = &read_cache_.front();
    for (cached_reader& c : read_cache_) {
      if (c.used != 0 && c.number == s.number && s.handle.value != 0) {
        c.used = read_clock_;
        return s.handle;
      }
      if (c.used < victim->used) victim = &c;
    }
    if (victim->used != 0)
      if (segment* old = find_segment(victim->number); old != nullptr) close_segment(*old);
    char name[detail::segment_name_size + 1];
    detail::format_segment_name(s.number, name);
    WEFT_TRY_ASSIGN(s.handle, fs_.open(name, open_mode::open_existing));
    *victim = {s.number, read_clock_};
    return s.handle;
  }

  void release() noexcept {
    for (segment& s : segments_) close_segment(s);
    segments_.clear();
    entries_.clear();
    head_ = 0;
    buffered_ = 0;
    open_ = false;
  }

  // ---- recovery (definitions below) ----
  struct scan_state;
  [[nodiscard]] result<void> recover(recovery_report& report) noexcept;
  [[nodiscard]] result<void> list_segments(std::vector<std::uint64_t>& numbers,
                                           recovery_report& report) noexcept;
  [[nodiscard]] result<void> open_segments(const std::vector<std::uint64_t>& numbers,
                                           recovery_report& report) noexcept;
  [[nodiscard]] result<void> scan_segment(std::size_t i, scan_state& state,
                                          recovery_report& report) noexcept;
  [[nodiscard]] result<void> judge_tail(std::size_t i, std::uint64_t offset,
                                        std::uint64_t limit, scan_state& state,
                                        recovery_report& report) noexcept;
  [[nodiscard]] result<void> replay(const detail::record_header& h, std::uint64_t segment,
                                    std::uint64_t offset) noexcept;
  [[nodiscard]] result<bool> all_zero_after(file_handle handle, std::uint64_t from) noexcept;
  [[nodiscard]] result<bool> written_whole_then_damaged(file_handle handle, std::uint64_t offset,
                                                        std::uint64_t limit,
                                                        std::uint64_t sequence) noexcept;
  [[nodiscard]] result<byte_view> fetch(file_handle handle, std::uint64_t offset,
                                        std::size_t size, std::uint64_t limit) noexcept;

  struct cached_reader {
    std::uint64_t number = 0;
    std::uint64_t used = 0;  // read_clock_ at the last use; 0: free slot
  };

  FS& fs_;
  wal_options options_;
  std::vector<segment> segments_;
  std::vector<cached_reader> read_cache_;
  std::uint64_t read_clock_ = 0;
  std::vector<entry_location> entries_;
  std::vector<std::uint8_t> write_buffer_;
  std::vector<std::uint8_t> read_buffer_;
  std::size_t head_ = 0;             // entries_[head_] has index first_
  std::uint64_t first_ = 1;
  std::size_t buffered_ = 0;         // bytes in write_buffer_
  std::uint64_t buffer_offset_ = 0;  // file offset of write_buffer_[0] in the current segment
  std::uint64_t write_offset_ = 0;   // file offset of the next record
  std::uint64_t zeroed_through_ = 0;  // the current segment's bytes below this were written
  std::uint64_t flushed_since_sync_ = 0;  // record bytes handed to the OS since the last sync
  std::uint64_t last_batch_bytes_ = 0;    // record bytes the last sync covered
  std::uint64_t marker_sequence_ = 0;  // sequence of the latest sync marker (0: none)
  std::uint64_t ticketed_sequence_ = 0;  // written_.sequence at the last write_for_sync ticket
  void (*seal_hook_)(void*) noexcept = nullptr;
  void* seal_hook_context_ = nullptr;
  std::uint64_t window_offset_ = 0;  // file bytes held in read_buffer_ while scanning
  std::size_t window_size_ = 0;
  file_handle window_handle_{};
  log_position written_{};
  log_position durable_{};
  wal_stats stats_{};
  bool open_ = false;
  bool poisoned_ = false;
};

// ---------------------------------------------------------------------------------------
// Recovery.
//
// Invariants the writer keeps and recovery relies on:
//  * every segment but the last was flushed and synced before the next was created, and
//    the next one's header records the sequence its first record will carry;
//  * segments are zero-filled at creation, so the bytes after the last record are zeros
//    unless a write was torn;
//  * every record carries `synced_through`, the highest sequence durable when it was
//    written. A damaged record followed by a valid record whose synced_through reaches it
//    was acknowledged: that is corruption, a hard error. A damaged record followed by
//    nothing that proves it durable is a torn tail: cut off and reported.

template <class FS>
struct wal<FS>::scan_state {
  std::uint64_t next_sequence = 0;   // expected sequence of the next record (0 = unknown)
  bool started = false;
};

template <class FS>
result<void> wal<FS>::open(recovery_report& report) noexcept {
  report = {};
  release();
  poisoned_ = false;
  stats_ = {};
  WEFT_TRY(options_.validate());
  segments_.reserve(options_.max_segments);
  read_cache_.assign(options_.max_open_read_segments, cached_reader{});
  read_clock_ = 0;
  entries_.reserve(options_.max_entries);
  write_buffer_.assign(options_.write_buffer_size_bytes, 0);
  read_buffer_.assign(options_.write_buffer_size_bytes, 0);
  window_size_ = 0;
  first_ = options_.first_index;
  written_ = durable_ = {};
  marker_sequence_ = 0;
  ticketed_sequence_ = 0;
  zeroed_through_ = 0;
  flushed_since_sync_ = last_batch_bytes_ = 0;
  auto recovered = recover(report);
  if (!recovered) {
    release();
    return recovered;
  }
  open_ = true;
  return ok();
}

template <class FS>
result<void> wal<FS>::list_segments(std::vector<std::uint64_t>& numbers,
                                    recovery_report& report) noexcept {
  struct collector {
    std::vector<std::uint64_t>* numbers;
    std::size_t max;
    bool overflow = false;
  } c{&numbers, options_.max_segments};
  numbers.reserve(options_.max_segments);
  WEFT_TRY(fs_.list(
      [](void* context, std::string_view name) noexcept {
        auto* self = static_cast<collector*>(context);
        std::uint64_t number = 0;
        if (!detail::parse_segment_name(name, number)) return;
        if (self->numbers->size() == self->max) {
          self->overflow = true;
          return;
        }
        self->numbers->push_back(number);
      },
      &c));
  if (c.overflow) return error(storage_errc::log_full, "wal: more segment files than max_segments");
  std::sort(numbers.begin(), numbers.end());
  for (std::size_t i = 1; i < numbers.size(); ++i) {
    if (numbers[i] != numbers[i - 1] + 1) {
      detail::format_segment_name(numbers[i], report.file);
      report.reason = "segment numbers are not contiguous (a segment is missing)";
      return error(storage_errc::corrupt_sequence, "wal: open: missing segment");
    }
  }
  return ok();
}

template <class FS>
result<void> wal<FS>::open_segments(const std::vector<std::uint64_t>& numbers,
                                    recovery_report& report) noexcept {
  std::uint8_t raw[detail::segment_header_size];
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    char name[detail::segment_name_size + 1];
    detail::format_segment_name(numbers[i], name);
    std::memcpy(report.file, name, sizeof name);
    report.offset = 0;
    WEFT_TRY_ASSIGN(const file_handle handle, fs_.open(name, open_mode::open_existing));
    segments_.push_back({numbers[i], handle, {}});
    WEFT_TRY_ASSIGN(const std::size_t got, fs_.read(handle, 0, mutable_byte_view(raw, sizeof raw)));
    const bool last = i + 1 == numbers.size();
    detail::header_verdict verdict = detail::header_verdict::bad_crc;
    if (got == sizeof raw) verdict = detail::decode_segment_header(byte_view(raw), segments_.back().header);
    else {
      bool zero = true;
      for (std::size_t k = 0; k < got; ++k) zero = zero && raw[k] == 0;
      if (zero) verdict = detail::header_verdict::all_zero;
    }
    bool unfinished = verdict == detail::header_verdict::all_zero && last;
    if (unfinished) {
      // A zero header followed by records is a damaged header (a misdirected or rotted
      // write), not an unfinished creation: those records may have been acknowledged.
      WEFT_TRY_ASSIGN(unfinished, all_zero_after(handle, sizeof raw));
      if (!unfinished) {
        report.reason = "segment header is zero but records follow it";
        return error(storage_errc::corrupt_header, "wal: open: zero segment header");
      }
    }
    if (unfinished) {
      // The crash came while this segment was being created: nothing in it was ever
      // acknowledged (its header is synced before any record is written to it).
      (void)fs_.close(handle);
      segments_.pop_back();
      if (!options_.read_only) {
        WEFT_TRY(fs_.remove(name));
        WEFT_TRY(fs_.sync_directory());
      }
      report.torn_segments_removed = 1;
      report.reason = options_.read_only ? "a segment whose creation never completed"
                                         : "removed a segment whose creation never completed";
      return ok();
    }
    switch (verdict) {
      case detail::header_verdict::ok: break;
      case detail::header_verdict::bad_magic:
        report.reason = "unknown magic: not a weft WAL segment";
        return error(storage_errc::bad_magic, "wal: open: segment magic");
      case detail::header_verdict::future_version:
        report.reason = "segment written by a newer format version";
        return error(storage_errc::unsupported_version, "wal: open: segment version");
      default:
        report.reason = "segment header fails its checksum";
        return error(storage_errc::corrupt_header, "wal: open: segment header");
    }
    const detail::segment_header& h = segments_.back().header;
    if (h.number != numbers[i] || h.segment_size < detail::segment_header_size + 8 ||
        h.segment_size > (std::uint64_t{1} << 32)) {
      report.reason = "segment header names another segment or an impossible size";
      return error(storage_errc::corrupt_header, "wal: open: segment header fields");
    }
    if (!last) close_segment(segments_.back());  // sealed: reopened on demand
  }
  return ok();
}

template <class FS>
result<bool> wal<FS>::all_zero_after(file_handle handle, std::uint64_t from) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t size, fs_.size(handle));
  window_size_ = 0;
  for (std::uint64_t at = from; at < size;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_.size(), size - at));
    WEFT_TRY_ASSIGN(const std::size_t got,
                    fs_.read(handle, at, mutable_byte_view(read_buffer_.data(), want)));
    for (std::size_t k = 0; k < got; ++k)
      if (read_buffer_[k] != 0) return false;
    if (got == 0) break;
    at += got;
  }
  return true;
}

template <class FS>
result<byte_view> wal<FS>::fetch(file_handle handle, std::uint64_t offset, std::size_t size,
                                 std::uint64_t limit) noexcept {
  if (offset + size > limit) return byte_view{};
  if (window_size_ > 0 && handle == window_handle_ && offset >= window_offset_ &&
      offset + size <= window_offset_ + window_size_)
    return byte_view(read_buffer_.data() + (offset - window_offset_), size);
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(read_buffer_.size(), limit - offset));
  window_size_ = 0;
  WEFT_TRY_ASSIGN(const std::size_t got,
                  fs_.read(handle, offset, mutable_byte_view(read_buffer_.data(), want)));
  window_handle_ = handle;
  window_offset_ = offset;
  window_size_ = got;
  if (got < size) return byte_view{};
  return byte_view(read_buffer_.data(), size);
}

template <class FS>
result<void> wal<FS>::replay(const detail::record_header& h, std::uint64_t segment_number,
                             std::uint64_t offset) noexcept {
  switch (h.type) {
    case detail::record_type::entry:
      if (h.index != last_index() + 1) return error(storage_errc::corrupt_sequence, "wal: replay: index gap");
      if (live() == options_.max_entries) return error(storage_errc::log_full, "wal: replay: max_entries");
      if (entries_.size() == options_.max_entries) squeeze();
      entries_.push_back({h.term, segment_number, static_cast<std::uint32_t>(offset), h.payload_length});
      break;
    case detail::record_type::truncate:
      if (h.index > last_index() + 1) return error(storage_errc::corrupt_sequence, "wal: replay: truncate");
      if (h.index < first_) {  // reaches into segments already removed: nothing below is kept
        entries_.clear();
        head_ = 0;
        first_ = h.index;
      } else {
        entries_.resize(slot(h.index));
      }
      break;
    case detail::record_type::compact:
      drop_before(h.index);
      break;
    case detail::record_type::sync_marker:
      marker_sequence_ = h.sequence;
      break;
  }
  return ok();
}

template <class FS>
result<void> wal<FS>::scan_segment(std::size_t i, scan_state& state,
                                   recovery_report& report) noexcept {
  segment& s = segments_[i];
  const bool last = i + 1 == segments_.size();
  if (state.started && s.header.first_sequence != state.next_sequence) {
    report.offset = 0;
    report.reason = "segment's first sequence does not follow the previous segment";
    return error(storage_errc::corrupt_sequence, "wal: open: segment sequence");
  }
  if (!state.started) {  // the oldest kept segment sets where the log starts
    first_ = s.header.last_index + 1;
    state.next_sequence = s.header.first_sequence;
    state.started = true;
  }
  WEFT_TRY_ASSIGN(const file_handle handle, acquire(s));
  WEFT_TRY_ASSIGN(const std::uint64_t file_size, fs_.size(handle));
  const std::uint64_t limit = std::min(file_size, s.header.segment_size);
  const std::uint64_t expected_end =
      last ? ~std::uint64_t{0} : segments_[i + 1].header.first_sequence;
  std::uint64_t offset = detail::segment_header_size;
  window_size_ = 0;
  while (state.next_sequence < expected_end) {
    WEFT_TRY_ASSIGN(const byte_view head, fetch(handle, offset, detail::record_header_size, limit));
    detail::record_header h;
    bool good = !head.empty() && detail::decode_record_header(head, options_.max_record_size_bytes, h);
    good = good && h.sequence == state.next_sequence &&
           offset + detail::record_size(h.payload_length) <= limit;
    if (good) {
      WEFT_TRY_ASSIGN(const byte_view payload,
                      fetch(handle, offset + detail::record_header_size, h.payload_length, limit));
      good = payload.size() == h.payload_length && detail::payload_matches(h, payload);
    }
    if (!good) {
      if (!last) {  // sealed segments are fully durable: any damage is corruption
        report.offset = offset;
        report.reason = "damaged record in a sealed segment";
        return error(storage_errc::corrupt_record, "wal: open: corrupt record");
      }
      return judge_tail(i, offset, limit, state, report);
    }
    if (auto applied = replay(h, s.number, offset); !applied) {
      report.offset = offset;
      report.reason = "record does not follow the log (index or truncation out of order)";
      return applied;
    }
    ++report.records;
    ++state.next_sequence;
    offset += detail::record_size(h.payload_length);
  }
  return ok();  // a sealed segment: the bytes after its last record are never read
}

// The last segment stopped at `offset`. Decide: clean end, torn tail (repair), or damage
// to a record some later valid record proves was durable (hard error).
template <class FS>
result<void> wal<FS>::judge_tail(std::size_t i, std::uint64_t offset, std::uint64_t limit,
                                 scan_state& state, recovery_report& report) noexcept {
  segment& s = segments_[i];
  const std::uint64_t bad_sequence = state.next_sequence;
  std::uint64_t dirty_end = offset;  // one past the last nonzero 8-byte word
  bool proven_durable = false;
  for (std::uint64_t at = offset; at + 8 <= limit; at += 8) {
    WEFT_TRY_ASSIGN(const byte_view word, fetch(s.handle, at, 8, limit));
    if (word.empty()) break;
    std::uint64_t bits = 0;
    std::memcpy(&bits, word.data(), 8);
    if (bits == 0) continue;
    dirty_end = at + 8;
    if (at + detail::record_header_size > limit) continue;
    WEFT_TRY_ASSIGN(const byte_view head, fetch(s.handle, at, detail::record_header_size, limit));
    detail::record_header h;
    if (!head.empty() && detail::decode_record_header(head, options_.max_record_size_bytes, h) &&
        h.sequence > bad_sequence && h.synced_through >= bad_sequence)
      proven_durable = true;
  }
  if (limit % 8 != 0 && limit > dirty_end) dirty_end = limit;  // a ragged end is never clean
  report.offset = offset;
  if (proven_durable) {
    report.reason = "damaged record followed by records that prove it was durable";
    return error(storage_errc::corrupt_record, "wal: open: corrupt record before the tail");
  }
  write_offset_ = offset;
  buffer_offset_ = offset;
  zeroed_through_ = offset;
  if (dirty_end > offset) {
    WEFT_TRY_ASSIGN(const bool rotted, written_whole_then_damaged(s.handle, offset, limit, bad_sequence));
    window_size_ = 0;
    if (!options_.read_only) {
      WEFT_TRY(zero_fill(s.handle, offset, dirty_end));
      if (options_.sync != sync_policy::never) WEFT_TRY(fs_.sync(s.handle));
    }
    report.torn_tails_repaired = 1;
    report.torn_bytes_discarded = dirty_end - offset;
    report.reason = options_.read_only ? "torn tail (not repaired: read-only)" : "torn tail cut off";
    if (rotted) {
      report.possible_acknowledged_loss = stats_.possible_acknowledged_loss = 1;
      report.reason = options_.read_only
                          ? "damaged tail (not repaired: read-only): its first record was written "
                            "whole and damaged later; possible loss of acknowledged data"
                          : "damaged tail cut off: its first record was written whole and damaged "
                            "later; possible loss of acknowledged data";
    }
    stats_.torn_tails_repaired = 1;
  }
  return ok();
}

// A crash keeps a sector-aligned prefix of a write, and the rest of a record's (8-aligned)
// extent then reads as zeros: a torn record always holds an all-zero aligned word. A record
// with a valid header (the expected sequence), a bad payload and no zero word was written
// whole and changed afterwards: not a tear.
template <class FS>
result<bool> wal<FS>::written_whole_then_damaged(file_handle handle, std::uint64_t offset,
                                                 std::uint64_t limit,
                                                 std::uint64_t sequence) noexcept {
  WEFT_TRY_ASSIGN(const byte_view head, fetch(handle, offset, detail::record_header_size, limit));
  detail::record_header h;
  if (head.empty() || !detail::decode_record_header(head, options_.max_record_size_bytes, h) ||
      h.sequence != sequence)
    return false;
  const std::size_t size = detail::record_size(h.payload_length);
  WEFT_TRY_ASSIGN(const byte_view record, fetch(handle, offset, size, limit));
  if (record.size() != size) return false;
  for (std::size_t at = 0; at + 8 <= size; at += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, record.data() + at, 8);
    if (word == 0) return false;
  }
  return true;
}

template <class FS>
result<void> wal<FS>::recover(recovery_report& report) noexcept {
  std::vector<std::uint64_t> numbers;
  WEFT_TRY(list_segments(numbers, report));
  WEFT_TRY(open_segments(numbers, report));
  report.segments = segments_.size();
  if (segments_.empty()) {  // a new log (or only a torn creation, removed above)
    first_ = options_.first_index;
    if (report.torn_segments_removed == 0) report.reason = "new log";
    if (options_.read_only) return ok();  // an empty log; nothing is created
    return create_segment(numbers.empty() ? 0 : numbers.back(), 1);
  }
  scan_state state;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    std::memset(report.file, 0, sizeof report.file);
    detail::format_segment_name(segments_[i].number, report.file);
    WEFT_TRY(scan_segment(i, state, report));
  }
  written_ = {state.next_sequence - 1, last_index()};
  if (report.torn_segments_removed == 1 && report.torn_tails_repaired == 0) {
    std::memset(report.file, 0, sizeof report.file);
    detail::format_segment_name(segments_.back().number + 1, report.file);
    report.offset = 0;
  }
  // What recovery read may have come from the page cache of a crashed process: make it
  // durable before anyone treats it as such.
  if (options_.sync != sync_policy::never && !options_.read_only)
    WEFT_TRY(fs_.sync(current().handle));
  durable_ = written_;
  // The log may end with a synced batch whose marker never reached the disk: mark it now.
  if (!options_.read_only && written_.sequence != 0 && written_.sequence != marker_sequence_)
    WEFT_TRY(write_sync_marker());
  if (report.torn_tails_repaired == 0 && report.torn_segments_removed == 0) {
    std::memset(report.file, 0, sizeof report.file);
    report.offset = 0;
    report.reason = "clean";
  }
  return ok();
}

}  // namespace storage
WEFT_END
