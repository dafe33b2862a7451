// weft/storage/concepts.hpp - the storage policies a consensus driver persists through:
// log_store, stable_store and snapshot_store, with the storage error codes and the small
// value types they exchange. Requirements tables: docs/requirements/log_store.md,
// docs/requirements/stable_store.md, docs/requirements/snapshot_store.md.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/file_system.hpp"

WEFT_BEGIN
namespace storage {

enum class storage_errc : std::uint16_t {
  ok = 0,
  bad_magic = 1,             // a file in the directory is not a weft file of its kind
  unsupported_version = 2,   // written by a newer format version: refused, never guessed at
  corrupt_header = 3,        // a segment, snapshot or state header fails its checksum
  corrupt_record = 4,        // a record before the log's tail fails its checksum: hard error
  corrupt_sequence = 5,      // records or segments out of order or missing
  record_too_large = 6,      // payload larger than max_record_size_bytes
  index_mismatch = 7,        // append index is not last_index() + 1
  out_of_range = 8,          // index compacted away or beyond the last entry
  log_full = 9,              // max_entries or max_segments reached: compact first
  not_open = 10,             // open() has not succeeded
  poisoned = 11,             // an earlier write or sync failed; reopen to recover
  no_snapshot = 12,          // no snapshot has been installed
  corrupt_snapshot = 13,     // a snapshot file fails its checksum or size
  snapshot_state = 14,       // begin/write/install called out of order
  stale_snapshot = 15,       // a snapshot no newer than the installed one
  corrupt_state = 16,        // both hard-state slots are damaged
  read_only = 17,            // a write to a store opened read-only
};

constexpr std::string_view describe(storage_errc code) noexcept {
  switch (code) {
    case storage_errc::ok: return "ok";
    case storage_errc::bad_magic: return "not a weft storage file (unknown magic)";
    case storage_errc::unsupported_version: return "written by a newer weft format version";
    case storage_errc::corrupt_header: return "file header checksum mismatch";
    case storage_errc::corrupt_record: return "corrupt record before the log tail";
    case storage_errc::corrupt_sequence: return "log records or segments out of order or missing";
    case storage_errc::record_too_large: return "record larger than max_record_size_bytes";
    case storage_errc::index_mismatch: return "append index is not last_index + 1";
    case storage_errc::out_of_range: return "index compacted or beyond the last entry";
    case storage_errc::log_full: return "log capacity reached; compact first";
    case storage_errc::not_open: return "storage not open";
    case storage_errc::poisoned: return "an earlier write failed; reopen to recover";
    case storage_errc::no_snapshot: return "no snapshot installed";
    case storage_errc::corrupt_snapshot: return "snapshot checksum or size mismatch";
    case storage_errc::snapshot_state: return "snapshot call out of order";
    case storage_errc::stale_snapshot: return "snapshot not newer than the installed one";
    case storage_errc::corrupt_state: return "both hard-state slots are damaged";
    case storage_errc::read_only: return "store opened read-only";
  }
  return "unknown storage error";
}

/// One log entry as a log store hands it out; `payload` is valid only during the visit.
struct log_entry_view {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  byte_view payload{};
};

/// A durability point. `sequence` counts records ever written (appends, truncations) and
/// never decreases; `last_index` is the log's last index after that record. A driver that
/// noted the position returned by append() knows the entry is durable once sync() returns
/// a position with a sequence at least as large.
struct log_position {
  std::uint64_t sequence = 0;
  std::uint64_t last_index = 0;
  friend constexpr bool operator==(const log_position&, const log_position&) noexcept = default;
};

/// Called for each entry of a range; return false to stop early.
using entry_visitor = bool (*)(void* context, const log_entry_view& entry) noexcept;

/// Raft's persistent scalar state.
struct hard_state {
  std::uint64_t term = 0;
  std::uint64_t vote = 0;    // 0 = voted for nobody
  std::uint64_t commit = 0;
  friend constexpr bool operator==(const hard_state&, const hard_state&) noexcept = default;
};

/// What identifies an installed snapshot: the last log entry it covers.
struct snapshot_meta {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint64_t size_bytes = 0;
  std::uint32_t checksum = 0;  // CRC-32C of the snapshot bytes, for the receiver to check
  friend constexpr bool operator==(const snapshot_meta&, const snapshot_meta&) noexcept = default;
};

/// An append-only log of (index, term, payload) with suffix truncation and prefix
/// compaction. Nothing is durable until sync(). See docs/requirements/log_store.md.
template <class L>
concept log_store = requires(L& log, const L& clog, std::uint64_t index, std::uint64_t term,
                             byte_view payload, entry_visitor visit, void* context) {
  { log.append(index, term, payload) } noexcept -> std::same_as<result<log_position>>;
  { log.truncate_suffix(index) } noexcept -> std::same_as<result<log_position>>;
  { log.compact_prefix(index) } noexcept -> std::same_as<result<void>>;
  { log.sync() } noexcept -> std::same_as<result<log_position>>;
  { log.read_range(index, index, visit, context) } noexcept -> std::same_as<result<void>>;
  { clog.term_at(index) } noexcept -> std::same_as<result<std::uint64_t>>;
  { clog.first_index() } noexcept -> std::same_as<std::uint64_t>;
  { clog.last_index() } noexcept -> std::same_as<std::uint64_t>;
  { clog.durable() } noexcept -> std::same_as<log_position>;
};

/// Raft's term, vote and commit index; save() is durable when it returns.
/// See docs/requirements/stable_store.md.
template <class S>
concept stable_store = requires(S& store, const hard_state& state) {
  { store.save(state) } noexcept -> std::same_as<result<void>>;
  { store.load() } noexcept -> std::same_as<result<hard_state>>;
};

/// Streams one snapshot in (begin, write..., install or discard), installs it atomically, and
/// serves the installed one in chunks. See docs/requirements/snapshot_store.md.
template <class S>
concept snapshot_store = requires(S& store, const S& cstore, std::uint64_t index,
                                  std::uint64_t term, byte_view chunk, mutable_byte_view out) {
  { store.begin(index, term) } noexcept -> std::same_as<result<void>>;
  { store.write(chunk) } noexcept -> std::same_as<result<void>>;
  { store.install() } noexcept -> std::same_as<result<snapshot_meta>>;
  { store.discard() } noexcept -> std::same_as<void>;
  { cstore.latest() } noexcept -> std::same_as<result<snapshot_meta>>;
  { store.read(index, out) } noexcept -> std::same_as<result<std::size_t>>;  // offset, chunk
};

}  // namespace storage
WEFT_END
WEFT_ERROR_DOMAIN(weft::storage::storage_errc, "storage")
