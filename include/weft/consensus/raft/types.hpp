// weft/consensus/raft/types.hpp - Raft vocabulary: ids, errors, entries, configurations,
// messages, hard state, snapshot metadata, options and counters. Plain structs, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/error.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/consensus/raft/errors.hpp"

WEFT_BEGIN
namespace raft {

using node_id = std::uint64_t;  // 0 means "none"
using term_t = std::uint64_t;
using index_t = std::uint64_t;
inline constexpr node_id no_node = 0;

/// The most members (voters, learners and witnesses together) one configuration can hold.
inline constexpr std::size_t max_config_members = 16;

/// The most entries one append (or forwarded proposal) message may carry, in the core and
/// on the wire; options.max_entries_per_message may only lower it.
inline constexpr std::uint32_t max_entries_per_append = 256;

enum class entry_type : std::uint8_t { normal = 0, config = 1, empty = 2 };

/// A view of one log entry; `payload` points into memory owned by the producer of the view
/// (a core's log arena or a decoder's buffer) and is valid until that producer changes.
struct entry_ref {
  index_t index = 0;
  term_t term = 0;
  entry_type type = entry_type::normal;
  byte_view payload{};
};

enum class member_role : std::uint8_t {
  voter = 0,     // votes, replicates, may lead
  learner = 1,   // replicates, never votes nor leads
  witness = 2,   // votes and keeps log metadata only; leads only with options.witness_may_lead
};

struct member {
  node_id id = no_node;
  member_role role = member_role::voter;
  bool outgoing = false;  // joint consensus: voter of the outgoing configuration only
  bool incoming = true;   // member of the incoming (new) configuration
};

/// A configuration. In joint consensus both the incoming voter set (members with
/// `incoming` and a voting role) and the outgoing set (members with `outgoing`) need a
/// majority. Outside joint consensus no member is `outgoing`.
struct configuration {
  static_vector<member, max_config_members> members;

  [[nodiscard]] const member* find(node_id id) const noexcept {
    for (const member& m : members)
      if (m.id == id) return &m;
    return nullptr;
  }
  [[nodiscard]] bool joint() const noexcept {
    for (const member& m : members)
      if (m.outgoing) return true;
    return false;
  }
  [[nodiscard]] static bool votes(const member& m) noexcept {
    return m.role != member_role::learner;
  }
  [[nodiscard]] bool is_incoming_voter(node_id id) const noexcept {
    const member* m = find(id);
    return m != nullptr && m->incoming && votes(*m);
  }
  [[nodiscard]] bool is_outgoing_voter(node_id id) const noexcept {
    const member* m = find(id);
    return m != nullptr && m->outgoing;
  }
  [[nodiscard]] bool is_voter(node_id id) const noexcept {
    return is_incoming_voter(id) || is_outgoing_voter(id);
  }
  [[nodiscard]] std::size_t incoming_voters() const noexcept {
    std::size_t n = 0;
    for (const member& m : members) n += (m.incoming && votes(m)) ? 1U : 0U;
    return n;
  }
  friend bool operator==(const configuration& a, const configuration& b) noexcept {
    if (a.members.size() != b.members.size()) return false;
    for (std::size_t i = 0; i < a.members.size(); ++i) {
      const member& x = a.members[i];
      const member& y = b.members[i];
      if (x.id != y.id || x.role != y.role || x.outgoing != y.outgoing || x.incoming != y.incoming)
        return false;
    }
    return true;
  }
};

struct hard_state {
  term_t term = 0;
  node_id vote = no_node;
  index_t commit = 0;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

struct snapshot_metadata {
  index_t index = 0;
  term_t term = 0;
  configuration config{};
  std::uint64_t size_bytes = 0;  // total size of the snapshot data
};

enum class message_type : std::uint8_t {
  append = 1,
  append_response = 2,
  vote = 3,
  vote_response = 4,
  pre_vote = 5,
  pre_vote_response = 6,
  heartbeat = 7,
  heartbeat_response = 8,
  install_snapshot = 9,
  install_snapshot_response = 10,
  timeout_now = 11,
  propose = 12,  // a proposal forwarded by a follower to the leader
  read_index_request = 13,   // a follower asks the leader for a read index (ReadIndex)
  read_index_response = 14,  // the leader's confirmed read index, or reject
};
inline constexpr std::uint8_t max_message_type = 14;

/// One slot of a core's in-memory log (memory_log), public so that entry_range reads a
/// log's entries inline rather than through a call per entry.
struct log_slot {
  std::uint64_t offset = 0;  // monotone arena position of the payload
  std::size_t arena_at = 0;  // offset % arena size: reads need no division
  term_t term = 0;
  std::uint32_t size = 0;
  entry_type type = entry_type::normal;
};

/// A span of entries in a message. Either `refs` (decoded messages) or a range of a
/// core's log ring (zero-copy outgoing messages), read through `at()`.
class entry_range {
 public:
  constexpr entry_range() noexcept = default;
  explicit entry_range(std::span<const entry_ref> refs) noexcept
      : refs_(refs.data()), count_(refs.size()) {}
  /// `slots` is a ring of `mask + 1` slots (a power of two) indexed by entry index.
  entry_range(const log_slot* slots, std::size_t mask, const std::uint8_t* arena, index_t first,
              std::size_t count) noexcept
      : slots_(slots), arena_(arena), mask_(mask), first_(first), count_(count) {}
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] entry_ref at(std::size_t i) const noexcept {
    WEFT_ASSERT(i < count_);
    if (refs_ != nullptr) return refs_[i];
    const index_t index = first_ + i;
    const log_slot& s = slots_[static_cast<std::size_t>(index) & mask_];
    return entry_ref{index, s.term, s.type, byte_view(arena_ + s.arena_at, s.size)};
  }

 private:
  const entry_ref* refs_ = nullptr;
  const log_slot* slots_ = nullptr;
  const std::uint8_t* arena_ = nullptr;
  std::size_t mask_ = 0;
  index_t first_ = 0;
  std::size_t count_ = 0;
};

/// One Raft message. Fields not used by a type are zero. Views (entries, data,
/// snapshot config) are valid until the producing core's advance() or the decoder's buffer
/// changes; a driver that keeps a message longer encodes it first.
struct message {
  message_type type = message_type::heartbeat;
  node_id from = no_node;
  node_id to = no_node;
  term_t term = 0;
  index_t log_index = 0;   // append: previous index; vote: last log index; resp: match/hint
  term_t log_term = 0;     // append: previous term; vote: last log term; resp: hint term
  index_t commit = 0;
  bool reject = false;
  bool transfer = false;   // vote / pre_vote caused by a leadership transfer
  std::uint64_t round = 0;      // leader's heartbeat round, echoed by responses (ReadIndex);
                                // read_index_request/response: the follower's read context
  std::uint64_t stamp_tick = 0; // leader's tick at send, echoed by responses (leases)
  entry_range entries{};
  // install_snapshot: the snapshot's metadata, the chunk's offset and bytes. In an
  // outgoing install_snapshot the core leaves `data` empty and sets `data_size`: the
  // driver fills bytes [snapshot_offset, snapshot_offset + data_size) of its snapshot.
  index_t snapshot_index = 0;
  term_t snapshot_term = 0;
  std::uint64_t snapshot_size_bytes = 0;
  std::uint64_t snapshot_offset = 0;
  std::uint64_t data_size = 0;
  byte_view data{};
  bool snapshot_done = false;
  const configuration* snapshot_config = nullptr;
};

/// An answer to read_index(): reads at `index` are linearizable once applied >= index.
/// On a follower the core hands a read out only once applied_index() >= index. `refused`:
/// a follower's read the leader refused or did not answer within election_timeout_ticks_min
/// ticks; no index is known, the caller retries (never serve a refused read).
struct read_state {
  std::uint64_t context = 0;
  index_t index = 0;
  bool refused = false;
};

/// A chunk of an incoming snapshot the driver must write (in order) before the messages
/// of the same ready leave.
struct snapshot_chunk {
  index_t index = 0;
  term_t term = 0;
  std::uint64_t offset = 0;
  byte_view data{};
  bool last = false;
};

/// Counters of input that was ignored or refused; every silent drop has one.
struct counters {
  std::uint64_t dropped_unknown_sender = 0;
  std::uint64_t dropped_stale_term = 0;
  std::uint64_t dropped_malformed = 0;
  std::uint64_t dropped_oversize = 0;
  std::uint64_t dropped_outbox_full = 0;
  std::uint64_t dropped_forwarded_proposals = 0;
  std::uint64_t rejected_appends = 0;
  std::uint64_t truncated_appends = 0;  // entries refused because the in-memory log was full
  std::uint64_t elections_started = 0;
  std::uint64_t pre_votes_started = 0;
  std::uint64_t check_quorum_step_downs = 0;
  std::uint64_t ignored_config_entries = 0;
  std::uint64_t snapshots_sent = 0;
  std::uint64_t snapshots_installed = 0;
  std::uint64_t follower_reads_refused = 0;  // refused by the leader or expired unanswered
  std::uint64_t append_responses_merged = 0;  // appends answered by an earlier answer of a ready
};

/// Every limit of a core. Ticks are the driver's tick() calls.
struct options {
  node_id id = no_node;
  std::uint32_t election_timeout_ticks_min = 10;
  std::uint32_t election_timeout_ticks_max = 20;
  std::uint32_t heartbeat_interval_ticks = 1;
  /// When the commit index advances and a follower has no new entries to receive, the
  /// leader waits up to this many ticks before telling it in an entry-less append: under
  /// load the next append (or heartbeat) carries the new commit anyway, and a commit-only
  /// append and its answer cost as much as the append itself. 0 sends it at once. Only
  /// followers' apply waits for it; the leader's commit and answers never do.
  std::uint32_t commit_only_delay_ticks = 1;
  /// Leases are valid for election_timeout_ticks_min minus this bound, to cover tick-rate
  /// drift between members' clocks.
  std::uint32_t lease_clock_drift_bound_ticks = 2;
  bool pre_vote = true;
  bool check_quorum = true;
  bool forward_proposals = true;
  bool lease_reads = false;
  /// read_index() on a follower asks the leader for a read index (else: not_leader). Off by
  /// default: a driver that enables it must never serve a read_state marked `refused`.
  bool follower_reads = false;
  /// A witness may campaign and lead. It then keeps entry payloads like a voter (it must
  /// be able to replicate them); set it for the member's whole life.
  bool witness_may_lead = false;
  std::uint32_t max_inflight_messages = 256;      // appends in flight to one follower
  std::uint64_t max_inflight_bytes = 16u << 20;   // payload bytes in flight to one follower
  std::uint32_t max_entries_per_message = 256;
  std::uint64_t max_bytes_per_message = 1u << 20;
  std::uint64_t max_bytes_per_entry = 64u << 10;
  std::uint32_t max_committed_per_ready = 4096;
  std::uint32_t max_log_entries_in_memory = 1u << 16;  // rounded up to a power of two
  std::uint64_t max_log_bytes_in_memory = 64u << 20;
  std::uint32_t max_uncommitted_entries = 1u << 15;
  std::uint32_t max_messages_per_ready = 1024;
  std::uint32_t max_pending_reads = 1024;
  std::uint64_t max_snapshot_chunk_bytes = 64u << 10;
  std::uint32_t max_snapshot_chunks_inflight = 4;

  [[nodiscard]] result<void> validate() const noexcept {
    const auto bad = [](const char* where) { return result<void>(error(raft_errc::invalid_options, where)); };
    if (id == no_node) return bad("options.id is 0");
    if (election_timeout_ticks_min < 2) return bad("election_timeout_ticks_min < 2");
    if (election_timeout_ticks_max < election_timeout_ticks_min)
      return bad("election_timeout_ticks_max < min");
    if (heartbeat_interval_ticks == 0 || heartbeat_interval_ticks >= election_timeout_ticks_min)
      return bad("heartbeat_interval_ticks must be in [1, election_timeout_ticks_min)");
    if (commit_only_delay_ticks >= election_timeout_ticks_min)
      return bad("commit_only_delay_ticks must be below election_timeout_ticks_min");
    if (lease_reads && lease_clock_drift_bound_ticks + 1 >= election_timeout_ticks_min)
      return bad("lease_clock_drift_bound_ticks leaves no lease");
    if (lease_reads && !check_quorum) return bad("lease_reads needs check_quorum");
    if (max_inflight_messages == 0 || max_entries_per_message == 0) return bad("zero window");
    if (max_entries_per_message > max_entries_per_append)
      return bad("max_entries_per_message above max_entries_per_append (256)");
    if (max_bytes_per_entry == 0 || max_bytes_per_entry > max_bytes_per_message)
      return bad("max_bytes_per_entry must be in [1, max_bytes_per_message]");
    if (max_inflight_bytes < max_bytes_per_message) return bad("max_inflight_bytes too small");
    if (max_committed_per_ready == 0) return bad("max_committed_per_ready is 0");
    if (max_log_entries_in_memory < 4 || max_log_entries_in_memory > (1u << 30))
      return bad("max_log_entries_in_memory out of [4, 2^30]");
    if (max_log_bytes_in_memory < 2 * max_bytes_per_entry) return bad("log bytes too small");
    if (max_uncommitted_entries == 0) return bad("max_uncommitted_entries is 0");
    if (max_messages_per_ready < 2 * max_config_members) return bad("max_messages_per_ready");
    if (max_snapshot_chunk_bytes == 0 || max_snapshot_chunks_inflight == 0)
      return bad("snapshot chunking limits are 0");
    return ok();
  }
};

}  // namespace raft
WEFT_END
