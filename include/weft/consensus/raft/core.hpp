// weft/consensus/raft/core.hpp - the pure Raft core: no I/O, no threads, no clock reads.
// Inputs: tick(), step(message), propose(), read_index(), transfer_leadership(),
// change_membership(), compact(), persisted(). Output: ready(), then advance().
// See docs/raft.md for the persistence ordering rule and the driver loop.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "weft/config.hpp"
#include "weft/consensus/raft/config_codec.hpp"
#include "weft/consensus/raft/log.hpp"
#include "weft/consensus/raft/types.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/random.hpp"

WEFT_BEGIN
namespace raft {

enum class role : std::uint8_t { follower = 0, pre_candidate = 1, candidate = 2, leader = 3 };

/// One batch of work for the driver. Every view is valid until advance().
/// Ordering rule (docs/raft.md): `send_now` may leave at once, in parallel with the
/// writes; `must_persist` (hard_state when changed, then `entries`, then
/// `snapshot_chunks`) must be durable before any of `send_after_persist` leaves; then
/// report durability with persisted(). `committed` may be applied at once (the core only
/// hands out entries it knows are durable locally).
struct ready_batch {
  struct persist_part {
    bool hard_state_changed = false;
    hard_state state{};
    entry_range entries{};  // overwrite any durable entries from entries.at(0).index on
    std::span<const snapshot_chunk> snapshot_chunks{};
    [[nodiscard]] bool empty() const noexcept {
      return !hard_state_changed && entries.empty() && snapshot_chunks.empty();
    }
  };
  persist_part must_persist{};
  std::span<const message> send_after_persist{};
  std::span<const message> send_now{};
  entry_range committed{};
  std::span<const read_state> read_states{};
  /// Set when a snapshot was installed: restore the state machine from it.
  const snapshot_metadata* snapshot_to_restore = nullptr;

  [[nodiscard]] bool empty() const noexcept {
    return must_persist.empty() && send_after_persist.empty() && send_now.empty() &&
           committed.empty() && read_states.empty() && snapshot_to_restore == nullptr;
  }
};

/// The kind of a single-server membership change.
enum class change_kind : std::uint8_t {
  add_voter = 0,
  add_learner = 1,
  add_witness = 2,
  promote_learner = 3,
  remove = 4,
};

template <random_source Random = xoshiro256>
class basic_core {
  static_assert(random_source<Random>, "Random must model weft::random_source; see "
                                       "docs/requirements/random.md");

 public:
  /// Validates `opts` and allocates every buffer the core will ever use.
  [[nodiscard]] static result<basic_core> create(const options& opts, Random random) noexcept {
    WEFT_TRY(opts.validate());
    basic_core core(opts, random);
    if (!core.log_.allocated()) return error(core_errc::capacity_exceeded, "raft: in-memory log allocation");
    return core;
  }

  // ---- lifecycle ---------------------------------------------------------------------
  /// Starts a brand-new group with `config` (identical on every founding member).
  [[nodiscard]] result<void> bootstrap(const configuration& config) noexcept {
    snapshot_metadata meta;
    meta.config = config;
    return restore(hard_state{}, meta, {}, 0);
  }

  /// Restarts from durable state: the hard state, the last snapshot's metadata, the
  /// entries after it, and the index the state machine was restored to.
  [[nodiscard]] result<void> restore(const hard_state& state, const snapshot_metadata& snap,
                                     std::span<const entry_ref> entries,
                                     index_t applied) noexcept;

  // ---- inputs ------------------------------------------------------------------------
  void tick() noexcept;
  void step(const message& m) noexcept;
  [[nodiscard]] result<index_t> propose(byte_view payload) noexcept;
  [[nodiscard]] result<void> read_index(std::uint64_t context) noexcept;
  [[nodiscard]] result<void> transfer_leadership(node_id to) noexcept;
  [[nodiscard]] result<void> change_membership(change_kind kind, node_id id) noexcept;
  [[nodiscard]] result<void> change_membership_joint(const configuration& target) noexcept;
  /// Durability completion: entries up to `index` (with term `term` there) and the
  /// hard state handed out with them are on stable storage.
  void persisted(index_t index, term_t term) noexcept;
  /// The driver took a snapshot of the state machine at `index` (<= applied) of
  /// `size_bytes`; entries up to `index` leave the in-memory log.
  [[nodiscard]] result<void> compact(index_t index, std::uint64_t size_bytes) noexcept;
  /// UNSAFE (docs/raft.md): forces `config` on this surviving member after permanent
  /// loss of quorum. May lose committed entries; call on exactly one member.
  [[nodiscard]] result<void> force_new_configuration(const configuration& config) noexcept;

  // ---- output ------------------------------------------------------------------------
  [[nodiscard]] bool has_ready() const noexcept;
  [[nodiscard]] ready_batch ready() noexcept;
  void advance() noexcept;

  // ---- observers ---------------------------------------------------------------------
  [[nodiscard]] node_id id() const noexcept { return opts_.id; }
  [[nodiscard]] role current_role() const noexcept { return role_; }
  [[nodiscard]] term_t term() const noexcept { return term_; }
  [[nodiscard]] node_id leader() const noexcept { return leader_; }
  [[nodiscard]] node_id vote() const noexcept { return vote_; }
  [[nodiscard]] index_t commit_index() const noexcept { return commit_; }
  [[nodiscard]] index_t applied_index() const noexcept { return applied_; }
  [[nodiscard]] index_t persisted_index() const noexcept { return persisted_index_; }
  [[nodiscard]] index_t last_index() const noexcept { return log_.last_index(); }
  [[nodiscard]] const memory_log& log() const noexcept { return log_; }
  [[nodiscard]] const configuration& config() const noexcept { return config_; }
  [[nodiscard]] const counters& stats() const noexcept { return counters_; }
  [[nodiscard]] const snapshot_metadata& snapshot() const noexcept { return snapshot_; }
  [[nodiscard]] hard_state state() const noexcept { return {term_, vote_, commit_}; }
  [[nodiscard]] node_id transfer_target() const noexcept { return transfer_target_; }
  [[nodiscard]] bool has_lease() const noexcept;

 private:
  enum class progress_state : std::uint8_t { probe, replicate, snapshot };
  struct inflight_t {
    index_t last = 0;
    std::uint64_t bytes = 0;
  };
  struct progress {
    node_id id = no_node;
    index_t match = 0;
    index_t next = 1;
    index_t commit_sent = 0;
    std::uint64_t commit_owed_tick = 0;  // tick when commit_ first passed commit_sent
    index_t follower_commit = 0;
    index_t match_at_heartbeat = 0;
    progress_state state = progress_state::probe;
    bool probe_sent = false;
    bool recent_active = false;
    std::uint64_t acked_round = 0;
    std::uint64_t acked_stamp_tick = 0;
    // inflight window: a ring inside inflight_storage_
    std::size_t inflight_base = 0;
    std::size_t inflight_head = 0;
    std::size_t inflight_count = 0;
    std::uint64_t inflight_bytes = 0;
    // snapshot streaming
    index_t snapshot_index = 0;
    std::uint64_t snapshot_sent = 0;
    std::uint64_t snapshot_acked = 0;
  };
  struct pending_read {
    std::uint64_t context = 0;
    index_t index = 0;
    std::uint64_t round = 0;
    node_id requester = no_node;  // a follower that asked (read_index_request), or none
  };
  /// A read this follower asked the leader for; handed out once applied reaches `index`.
  struct follower_read {
    std::uint64_t context = 0;
    index_t index = 0;
    std::uint64_t asked_tick = 0;
    bool answered = false;
  };

  basic_core(const options& opts, Random random);

  // elections
  void become_follower(term_t term, node_id leader) noexcept;
  void become_leader() noexcept;
  void campaign(bool pre, bool transfer) noexcept;
  void reset_election_timer() noexcept;
  [[nodiscard]] bool promotable() const noexcept;
  void handle_vote_request(const message& m) noexcept;
  void handle_vote_response(const message& m) noexcept;
  [[nodiscard]] int tally(bool pre) const noexcept;  // 1 won, -1 lost, 0 pending
  // replication
  void handle_append(const message& m) noexcept;
  [[nodiscard]] bool merge_append_ack(const message& m, index_t log_index) noexcept;
  void handle_append_response(const message& m) noexcept;
  [[nodiscard]] progress* note_follower_reply(const message& m) noexcept;
  void handle_heartbeat(const message& m) noexcept;
  void handle_heartbeat_response(const message& m) noexcept;
  void handle_propose(const message& m) noexcept;
  void flush_replication() noexcept;
  void send_append(progress& pr, bool allow_empty) noexcept;
  [[nodiscard]] bool append_due(const progress& pr) const noexcept;
  [[nodiscard]] bool commit_due(const progress& pr) const noexcept;
  void send_heartbeats(std::uint64_t round) noexcept;
  void maybe_commit() noexcept;
  void set_commit(index_t commit) noexcept;
  void apply_configuration(const configuration& config, index_t index) noexcept;
  void sync_progress() noexcept;
  void removed_leader_step_down() noexcept;
  [[nodiscard]] result<void> propose_config(const configuration& target, bool joint) noexcept;
  [[nodiscard]] bool valid_entries(const message& m) const noexcept;
  [[nodiscard]] result<index_t> append_local(entry_type type, byte_view payload) noexcept;
  // snapshots
  void handle_snapshot(const message& m) noexcept;
  void handle_snapshot_response(const message& m) noexcept;
  void send_snapshot_chunks(progress& pr) noexcept;
  [[nodiscard]] bool snapshot_chunk_due(const progress& pr) const noexcept;
  // reads
  void release_reads() noexcept;
  [[nodiscard]] result<void> ask_leader_for_read(std::uint64_t context) noexcept;
  void handle_read_index_request(const message& m) noexcept;
  void handle_read_index_response(const message& m) noexcept;
  void answer_read_request(node_id to, std::uint64_t context, index_t index, bool reject) noexcept;
  void expire_follower_reads() noexcept;
  void release_follower_reads() noexcept;
  [[nodiscard]] bool keeps_payloads() const noexcept;
  // quorum helpers
  template <class Value>
  [[nodiscard]] static std::uint64_t quorum_of(const configuration& config, Value value) noexcept;
  template <class Value>
  [[nodiscard]] std::uint64_t quorum_value(Value value) const noexcept {
    return quorum_of(config_, value);
  }
  [[nodiscard]] bool quorum_active() const noexcept;
  // plumbing
  [[nodiscard]] progress* find_progress(node_id id) noexcept;
  void inflight_add(progress& pr, index_t last, std::uint64_t bytes) noexcept;
  void inflight_free_to(progress& pr, index_t index) noexcept;
  void inflight_reset(progress& pr) noexcept;
  [[nodiscard]] bool inflight_full(const progress& pr) const noexcept;
  [[nodiscard]] message& emit(message_type type, node_id to) noexcept;
  void send(const message& m) noexcept;
  [[nodiscard]] message make(message_type type, node_id to) const noexcept {
    message m;
    m.type = type;
    m.from = opts_.id;
    m.to = to;
    m.term = term_;
    return m;
  }
  [[nodiscard]] bool committed_in_term() const noexcept { return log_.term_at(commit_) == term_; }

  options opts_;
  Random random_;
  memory_log log_;
  configuration config_{};
  index_t config_index_ = 0;
  index_t pending_config_index_ = 0;
  snapshot_metadata snapshot_{};
  bool bootstrapped_ = false;

  role role_ = role::follower;
  term_t term_ = 0;
  node_id vote_ = no_node;
  node_id leader_ = no_node;
  index_t commit_ = 0;
  index_t applied_ = 0;
  index_t persisted_index_ = 0;
  index_t offered_index_ = 0;  // entries up to here were handed out for persistence
  hard_state offered_state_{};

  std::uint64_t ticks_ = 0;
  std::uint32_t election_elapsed_ = 0;
  std::uint32_t heartbeat_elapsed_ = 0;
  std::uint32_t transfer_elapsed_ = 0;
  std::uint32_t randomized_timeout_ = 0;
  std::uint64_t round_ = 0;
  node_id transfer_target_ = no_node;
  bool removed_leader_ = false;

  static_vector<progress, max_config_members> progress_{};
  std::vector<inflight_t> inflight_storage_;
  static_vector<node_id, max_config_members> granted_{};
  static_vector<node_id, max_config_members> rejected_{};

  /// Messages of the coming ready(): slots allocated once, reused; `count` are in use.
  struct outbox {
    std::vector<message> slots;
    std::size_t count = 0;
    [[nodiscard]] bool empty() const noexcept { return count == 0; }
    [[nodiscard]] std::span<const message> view() const noexcept { return {slots.data(), count}; }
  };
  outbox send_now_;
  outbox send_after_;
  message discarded_{};  // target of emit() when the outbox is full
  /// The slot in send_after_ of this ready's accepting append response, if any: a second
  /// append accepted in the same ready updates it instead of answering again.
  std::size_t ack_slot_ = no_ack_slot;
  static constexpr std::size_t no_ack_slot = ~std::size_t{0};
  std::vector<pending_read> pending_reads_;
  std::vector<follower_read> follower_reads_;
  std::vector<read_state> read_states_;
  std::vector<entry_ref> forward_refs_;
  std::vector<std::uint8_t> forward_bytes_;
  std::vector<snapshot_chunk> chunks_;
  std::vector<std::uint8_t> chunk_bytes_;
  std::vector<std::uint8_t> config_scratch_;

  // incoming snapshot
  snapshot_metadata incoming_{};
  std::uint64_t incoming_offset_ = 0;
  node_id incoming_from_ = no_node;
  term_t incoming_sender_term_ = 0;
  bool incoming_active_ = false;
  bool snapshot_restored_ = false;
  snapshot_metadata restored_{};

  // what the last ready() handed out
  index_t ready_entries_last_ = 0;
  index_t ready_committed_last_ = 0;
  bool in_ready_ = false;

  counters counters_{};
};

using core = basic_core<xoshiro256>;

}  // namespace raft
WEFT_END

#include "weft/consensus/raft/detail/core_impl.hpp"
