// weft/consensus/raft/errors.hpp - raft_errc, the Raft module's error codes.
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

WEFT_BEGIN
namespace raft {

enum class raft_errc : std::uint16_t {
  ok = 0,
  not_leader = 1,               // the call needs the leader; this member is not it
  log_full = 2,                 // the in-memory log (entries or bytes) has no room: compact
  entry_too_large = 3,          // a proposal is larger than max_bytes_per_entry
  too_many_uncommitted = 4,     // proposals beyond max_uncommitted_entries (inflight limit)
  transfer_in_progress = 5,     // proposals are refused while leadership is being handed over
  config_change_pending = 6,    // an earlier configuration change is not committed yet
  config_change_invalid = 7,    // the change names no member, a duplicate, or too many
  config_change_unsafe = 8,     // the change would leave no quorum (or change >1 voter)
  read_not_ready = 9,           // the leader has not committed an entry in its term yet
  read_queue_full = 10,         // more pending reads than max_pending_reads
  transfer_target_invalid = 11, // the target is not a voter of the configuration
  invalid_options = 12,         // options.validate() failed
  compact_invalid = 13,         // compaction index beyond applied or before the log start
  restore_invalid = 14,         // restore() data is inconsistent
  not_bootstrapped = 15,        // the member has no configuration yet (propose, read_index)
  no_lease = 16,                // reserved, never returned: read_index falls back to ReadIndex
  snapshot_invalid = 17,        // reserved, never returned: bad chunks are dropped and counted
  bad_message = 18,             // a decoded message breaks the schema's rules
  unsupported_version = 19,     // a message of a schema version this build does not know
  message_too_large = 20,       // a decoded message has more than 256 entries or 16 members
};

constexpr std::string_view describe(raft_errc code) noexcept {
  switch (code) {
    case raft_errc::ok: return "ok";
    case raft_errc::not_leader: return "not the leader";
    case raft_errc::log_full: return "in-memory log is full; compact through a snapshot";
    case raft_errc::entry_too_large: return "entry larger than max_bytes_per_entry";
    case raft_errc::too_many_uncommitted: return "too many uncommitted proposals";
    case raft_errc::transfer_in_progress: return "leadership transfer in progress";
    case raft_errc::config_change_pending: return "a configuration change is pending";
    case raft_errc::config_change_invalid: return "invalid configuration change";
    case raft_errc::config_change_unsafe: return "configuration change would lose quorum";
    case raft_errc::read_not_ready: return "leader has not committed in its term yet";
    case raft_errc::read_queue_full: return "too many pending reads";
    case raft_errc::transfer_target_invalid: return "transfer target is not a voter";
    case raft_errc::invalid_options: return "invalid raft options";
    case raft_errc::compact_invalid: return "invalid compaction index";
    case raft_errc::restore_invalid: return "inconsistent restore data";
    case raft_errc::not_bootstrapped: return "no configuration yet";
    case raft_errc::no_lease: return "no valid leader lease";
    case raft_errc::snapshot_invalid: return "snapshot data does not match its metadata";
    case raft_errc::bad_message: return "malformed raft message";
    case raft_errc::unsupported_version: return "unsupported raft message version";
    case raft_errc::message_too_large: return "raft message above a schema limit (entries or members)";
  }
  return "unknown raft error";
}

}  // namespace raft
WEFT_END
WEFT_ERROR_DOMAIN(weft::raft::raft_errc, "raft")
