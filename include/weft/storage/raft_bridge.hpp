// weft/storage/raft_bridge.hpp - persists the `must_persist` part of a consensus core's
// ready batch (hard state, entries) into a log_store and a stable_store, and reads the log
// back for a restart. Duck-typed on the batch so storage does not depend on consensus:
// any part with `hard_state_changed`, `state{term, vote, commit}` and `entries` (size(),
// at(i) -> {index, term, type, payload}) fits, which is what weft::raft hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/storage/concepts.hpp"

WEFT_BEGIN
namespace storage {

/// A consensus entry is stored as one log record: its type (one byte), then its payload.
inline constexpr std::size_t entry_type_prefix_bytes = 1;

/// What to report back to the core (raft: `persisted(last_index, last_term)`).
struct persist_outcome {
  bool wrote_entries = false;
  std::uint64_t last_index = 0;
  std::uint64_t last_term = 0;
  log_position durable{};
};

/// persist_ready without the final log sync, for drivers that overlap the sync with other
/// work (asynchronous persistence): the entries are durable, and the batch's dependent
/// messages may leave, only after a later `log.sync()` returns. The hard state is synced
/// here (the stable store syncs every save).
template <class PersistPart, log_store Log, stable_store Stable>
[[nodiscard]] result<persist_outcome> write_ready(const PersistPart& part, Log& log,
                                                  Stable& stable, hard_state& last_saved,
                                                  mutable_byte_view scratch) noexcept {
  persist_outcome out;
  if (part.hard_state_changed) {
    const hard_state next{part.state.term, part.state.vote, part.state.commit};
    if (next.term != last_saved.term || next.vote != last_saved.vote) {
      WEFT_TRY(stable.save(next));
      last_saved = next;
    }
  }
  if (part.entries.empty()) return out;
  const std::uint64_t first = part.entries.at(0).index;
  if (first <= log.last_index()) {
    WEFT_TRY(log.truncate_suffix(first));
  } else if (first > log.last_index() + 1) {
    WEFT_TRY(log.compact_prefix(first));
  }
  for (std::size_t i = 0; i < part.entries.size(); ++i) {
    const auto e = part.entries.at(i);
    if (e.payload.size() + entry_type_prefix_bytes > scratch.size())
      return error(storage_errc::record_too_large, "persist_ready: scratch smaller than entry");
    scratch[0] = static_cast<std::uint8_t>(e.type);
    if (!e.payload.empty()) std::memcpy(scratch.data() + 1, e.payload.data(), e.payload.size());
    WEFT_TRY(log.append(e.index, e.term,
                        byte_view(scratch.data(), e.payload.size() + entry_type_prefix_bytes)));
    out.last_index = e.index;
    out.last_term = e.term;
  }
  out.wrote_entries = true;
  return out;
}

/// Writes the hard state when its term or vote changed (a commit index alone is not needed
/// for safety and is saved only alongside them), then the entries — truncating the
/// conflicting suffix first, compacting when they start past the log — and syncs the log
/// once. Only after this returns successfully may the batch's dependent messages leave.
/// `scratch` holds one encoded record: at least 1 + the largest entry payload.
template <class PersistPart, log_store Log, stable_store Stable>
[[nodiscard]] result<persist_outcome> persist_ready(const PersistPart& part, Log& log,
                                                    Stable& stable, hard_state& last_saved,
                                                    mutable_byte_view scratch) noexcept {
  WEFT_TRY_ASSIGN(persist_outcome out, write_ready(part, log, stable, last_saved, scratch));
  if (out.wrote_entries) {
    WEFT_TRY_ASSIGN(out.durable, log.sync());
  }
  return out;
}

/// One stored consensus entry, as read back for a restart.
struct stored_entry_view {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint8_t type = 0;
  byte_view payload{};  // valid during the visit only
};

/// Splits a record written by persist_ready; false for a record too short to be one.
[[nodiscard]] inline bool decode_stored_entry(const log_entry_view& record,
                                              stored_entry_view& out) noexcept {
  if (record.payload.size() < entry_type_prefix_bytes) return false;
  out = {record.index, record.term, record.payload[0],
         record.payload.subspan(entry_type_prefix_bytes)};
  return true;
}

}  // namespace storage
WEFT_END
