// weft/consensus/raft/detail/control.hpp - ready/advance, persistence completions, reads,
// leadership transfer, membership changes, snapshots and the unsafe recovery operation.
#pragma once

#include "weft/consensus/raft/core.hpp"

WEFT_BEGIN
namespace raft {

template <random_source Random>
bool basic_core<Random>::has_ready() const noexcept {
  for (const follower_read& r : follower_reads_)
    if (r.answered && r.index <= applied_) return true;
  if (!send_now_.empty() || !send_after_.empty() || !read_states_.empty() ||
      !chunks_.empty() || snapshot_restored_)
    return true;
  // Forwarded proposals leave only towards a known leader (ready()).
  if (!forward_refs_.empty() && leader_ != no_node && role_ != role::leader) return true;
  if (offered_index_ < log_.last_index() || !(offered_state_ == state())) return true;
  if (applied_ < std::min(commit_, persisted_index_)) return true;
  if (role_ == role::leader) {
    for (const progress& pr : progress_)
      if (append_due(pr)) return true;
  }
  return false;
}

template <random_source Random>
ready_batch basic_core<Random>::ready() noexcept {
  flush_replication();
  if (!forward_refs_.empty() && leader_ != no_node && role_ != role::leader) {
    message m = make(message_type::propose, leader_);
    m.term = 0;  // proposals are not bound to a term
    m.entries = entry_range(std::span<const entry_ref>(forward_refs_));
    send(m);
  }
  release_follower_reads();
  const hard_state now = state();
  const bool state_changed = !(now == offered_state_);
  const index_t last = log_.last_index();
  const index_t apply_to = std::min<index_t>(std::min(commit_, persisted_index_),
                                             applied_ + opts_.max_committed_per_ready);
  // Every member named: a default-constructed batch was zeroed with `rep stos`, a fixed cost
  // that showed in batch-1 profiles.
  const ready_batch rb{
      .must_persist = {.hard_state_changed = state_changed,
                       .state = state_changed ? now : hard_state{},
                       .entries = offered_index_ < last
                                      ? log_.range(offered_index_ + 1, last - offered_index_)
                                      : entry_range{},
                       .snapshot_chunks = chunks_},
      .send_after_persist = send_after_.view(),
      .send_now = send_now_.view(),
      .committed = apply_to > applied_ ? log_.range(applied_ + 1, apply_to - applied_)
                                       : entry_range{},
      .read_states = read_states_,
      .snapshot_to_restore = snapshot_restored_ ? &restored_ : nullptr,
  };
  ready_entries_last_ = last;
  ready_committed_last_ = std::max(applied_, apply_to);
  in_ready_ = true;
  return rb;
}

template <random_source Random>
void basic_core<Random>::advance() noexcept {
  if (!in_ready_) return;
  in_ready_ = false;
  offered_index_ = std::max(offered_index_, std::min(ready_entries_last_, log_.last_index()));
  offered_state_ = state();
  applied_ = std::max(applied_, ready_committed_last_);
  send_now_.count = 0;
  send_after_.count = 0;
  ack_slot_ = no_ack_slot;
  read_states_.clear();
  chunks_.clear();
  forward_refs_.clear();
  snapshot_restored_ = false;
}

template <random_source Random>
void basic_core<Random>::persisted(index_t index, term_t term) noexcept {
  if (index > log_.last_index() || index <= persisted_index_) return;
  if (log_.term_at(index) != term) return;  // the log changed since that write: stale
  const index_t offered = in_ready_ ? std::max(offered_index_, ready_entries_last_) : offered_index_;
  if (index > offered) return;  // never handed out for persistence
  persisted_index_ = index;
  maybe_commit();
}

template <random_source Random>
result<void> basic_core<Random>::read_index(std::uint64_t context) noexcept {
  if (!bootstrapped_) return error(raft_errc::not_bootstrapped, "read_index");
  if (role_ != role::leader) return ask_leader_for_read(context);
  if (!committed_in_term()) return error(raft_errc::read_not_ready, "read_index");
  if (read_states_.size() >= opts_.max_pending_reads ||
      pending_reads_.size() >= opts_.max_pending_reads)
    return error(raft_errc::read_queue_full, "read_index");
  if (opts_.lease_reads && has_lease()) {
    read_states_.push_back(read_state{context, commit_});
    return ok();
  }
  pending_reads_.push_back(pending_read{context, commit_, ++round_});
  send_heartbeats(round_);
  release_reads();
  return ok();
}

template <random_source Random>
void basic_core<Random>::release_reads() noexcept {
  if (pending_reads_.empty() || role_ != role::leader) return;
  const auto acked = [this](node_id id) -> std::uint64_t {
    if (id == opts_.id) return round_;
    for (const progress& pr : progress_)
      if (pr.id == id) return pr.acked_round;
    return 0;
  };
  const std::uint64_t confirmed = quorum_value(acked);
  std::size_t released = 0;
  while (released < pending_reads_.size() && pending_reads_[released].round <= confirmed &&
         read_states_.size() < opts_.max_pending_reads) {
    const pending_read& r = pending_reads_[released];
    if (r.requester != no_node) answer_read_request(r.requester, r.context, r.index, false);
    else read_states_.push_back(read_state{r.context, r.index});
    ++released;
  }
  pending_reads_.erase(pending_reads_.begin(),
                       pending_reads_.begin() + static_cast<std::ptrdiff_t>(released));
}

// ReadIndex on a follower (Raft thesis §6.4): the leader confirms its leadership for the
// follower as for itself and answers with its commit index; the follower hands the read out
// once it has applied that index, so the read sees every write committed before it began.
template <random_source Random>
result<void> basic_core<Random>::ask_leader_for_read(std::uint64_t context) noexcept {
  if (!opts_.follower_reads || leader_ == no_node) return error(raft_errc::not_leader, "read_index");
  if (follower_reads_.size() >= opts_.max_pending_reads ||
      read_states_.size() >= opts_.max_pending_reads)
    return error(raft_errc::read_queue_full, "read_index");
  follower_reads_.push_back(follower_read{context, 0, ticks_, false});
  message& m = emit(message_type::read_index_request, leader_);
  m.round = context;
  return ok();
}

template <random_source Random>
void basic_core<Random>::answer_read_request(node_id to, std::uint64_t context, index_t index,
                                             bool reject) noexcept {
  message& r = emit(message_type::read_index_response, to);
  r.round = context;
  r.log_index = index;
  r.reject = reject;
  // The follower serves the read once it applied `index`: tell it the commit now rather
  // than after commit_only_delay_ticks (the append leaves before this answer: send_now).
  progress* pr = reject ? nullptr : find_progress(to);
  if (pr != nullptr && pr->commit_sent < index && pr->match >= index) send_append(*pr, true);
}

template <random_source Random>
void basic_core<Random>::handle_read_index_request(const message& m) noexcept {
  if (role_ != role::leader || !committed_in_term() ||
      pending_reads_.size() >= opts_.max_pending_reads) {
    answer_read_request(m.from, m.round, 0, true);
    return;
  }
  if (opts_.lease_reads && has_lease()) {
    answer_read_request(m.from, m.round, commit_, false);
    return;
  }
  pending_reads_.push_back(pending_read{m.round, commit_, ++round_, m.from});
  send_heartbeats(round_);
  release_reads();
}

template <random_source Random>
void basic_core<Random>::handle_read_index_response(const message& m) noexcept {
  if (m.from != leader_ || role_ == role::leader) return;  // only the leader asked answers
  for (std::size_t i = 0; i < follower_reads_.size(); ++i) {
    follower_read& r = follower_reads_[i];
    if (r.answered || r.context != m.round) continue;
    if (!m.reject) {
      r.index = m.log_index;
      r.answered = true;
      return;
    }
    // With the read-state queue full the read stays unanswered; expire_follower_reads
    // refuses it once there is room, so the queue never grows past its reserved bound.
    if (read_states_.size() >= opts_.max_pending_reads) return;
    ++counters_.follower_reads_refused;
    read_states_.push_back(read_state{r.context, 0, true});
    follower_reads_.erase(follower_reads_.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
}

template <random_source Random>
void basic_core<Random>::expire_follower_reads() noexcept {
  std::size_t kept = 0;
  for (const follower_read& r : follower_reads_) {
    if (!r.answered && ticks_ - r.asked_tick >= opts_.election_timeout_ticks_min &&
        read_states_.size() < opts_.max_pending_reads) {
      ++counters_.follower_reads_refused;  // lost on the way, or the leader changed
      read_states_.push_back(read_state{r.context, 0, true});
      continue;
    }
    follower_reads_[kept++] = r;
  }
  follower_reads_.resize(kept);
}

template <random_source Random>
void basic_core<Random>::release_follower_reads() noexcept {
  std::size_t kept = 0;
  for (const follower_read& r : follower_reads_) {
    if (r.answered && r.index <= applied_ && read_states_.size() < opts_.max_pending_reads) {
      read_states_.push_back(read_state{r.context, r.index});
      continue;
    }
    follower_reads_[kept++] = r;
  }
  follower_reads_.resize(kept);
}

template <random_source Random>
bool basic_core<Random>::keeps_payloads() const noexcept {
  const member* self = config_.find(opts_.id);
  return self == nullptr || self->role != member_role::witness || opts_.witness_may_lead;
}

template <random_source Random>
bool basic_core<Random>::has_lease() const noexcept {
  if (role_ != role::leader || !opts_.check_quorum) return false;
  const auto stamp = [this](node_id id) -> std::uint64_t {
    if (id == opts_.id) return ticks_;
    for (const progress& pr : progress_)
      if (pr.id == id) return pr.acked_stamp_tick;
    return 0;
  };
  const std::uint64_t since = quorum_value(stamp);
  const std::uint64_t span = opts_.election_timeout_ticks_min - opts_.lease_clock_drift_bound_ticks;
  // `since` is the leader's tick when a quorum last confirmed it; add one tick for the
  // part of the current tick that already elapsed.
  return since > 0 && ticks_ + 1 < since + span;
}

template <random_source Random>
result<void> basic_core<Random>::transfer_leadership(node_id to) noexcept {
  if (role_ != role::leader) return error(raft_errc::not_leader, "transfer_leadership");
  if (to == opts_.id) return ok();
  const member* target = config_.find(to);
  if (target == nullptr || target->role != member_role::voter || !config_.is_voter(to))
    return error(raft_errc::transfer_target_invalid, "transfer_leadership");
  progress* pr = find_progress(to);
  if (pr == nullptr) return error(raft_errc::transfer_target_invalid, "transfer_leadership");
  transfer_target_ = to;
  transfer_elapsed_ = 0;
  if (pr->match == log_.last_index()) send(make(message_type::timeout_now, to));
  else send_append(*pr, true);
  return ok();
}

template <random_source Random>
result<void> basic_core<Random>::change_membership(change_kind kind, node_id id) noexcept {
  const auto invalid = [](const char* where) { return result<void>(error(raft_errc::config_change_invalid, where)); };
  if (config_.joint()) return error(raft_errc::config_change_pending, "change_membership: joint");
  if (id == no_node) return invalid("change_membership: id 0");
  configuration target = config_;
  member* existing = nullptr;
  for (member& mem : target.members)
    if (mem.id == id) existing = &mem;
  switch (kind) {
    case change_kind::add_voter:
    case change_kind::add_learner:
    case change_kind::add_witness: {
      if (existing != nullptr) return invalid("change_membership: already a member");
      member mem;
      mem.id = id;
      mem.role = kind == change_kind::add_voter     ? member_role::voter
                 : kind == change_kind::add_learner ? member_role::learner
                                                    : member_role::witness;
      if (!target.members.push_back(mem)) return invalid("change_membership: too many members");
      break;
    }
    case change_kind::promote_learner:
      if (existing == nullptr || existing->role != member_role::learner)
        return invalid("change_membership: not a learner");
      existing->role = member_role::voter;
      break;
    case change_kind::remove: {
      if (existing == nullptr) return invalid("change_membership: not a member");
      const bool voter = configuration::votes(*existing);
      *existing = target.members[target.members.size() - 1];
      target.members.pop_back();
      bool witness_left = false;
      for (const member& mem : target.members) witness_left |= mem.role == member_role::witness;
      if (voter && config_.incoming_voters() == 2 && !witness_left)
        return error(raft_errc::config_change_unsafe, "change_membership: 2-voter removal");
      break;
    }
  }
  return propose_config(target, false);
}

template <random_source Random>
result<void> basic_core<Random>::change_membership_joint(const configuration& target) noexcept {
  if (config_.joint()) return error(raft_errc::config_change_pending, "joint: already joint");
  for (const member& mem : target.members)
    if (mem.id == no_node || mem.outgoing || !mem.incoming)
      return error(raft_errc::config_change_invalid, "joint: target member flags");
  configuration joint;
  for (const member& old : config_.members) {
    const member* wanted = target.find(old.id);
    member mem = wanted != nullptr ? *wanted : old;
    mem.incoming = wanted != nullptr;
    mem.outgoing = configuration::votes(old);
    if (!mem.incoming && !mem.outgoing) continue;  // a learner that leaves
    if (!joint.members.push_back(mem)) return error(raft_errc::config_change_invalid, "joint: size");
  }
  for (const member& mem : target.members) {
    if (config_.find(mem.id) != nullptr) continue;
    if (!joint.members.push_back(mem)) return error(raft_errc::config_change_invalid, "joint: size");
  }
  return propose_config(joint, true);
}

template <random_source Random>
result<void> basic_core<Random>::propose_config(const configuration& target, bool joint) noexcept {
  if (role_ != role::leader) return error(raft_errc::not_leader, "change_membership");
  if (transfer_target_ != no_node || removed_leader_)
    return error(raft_errc::transfer_in_progress, "change_membership");
  if (pending_config_index_ > commit_ || !committed_in_term())
    return error(raft_errc::config_change_pending, "change_membership");
  if (target.incoming_voters() == 0)
    return error(raft_errc::config_change_unsafe, "change_membership: no voter left");
  if (!joint) {
    std::size_t changed = 0;
    for (const member& mem : target.members)
      changed += config_.is_voter(mem.id) != target.is_voter(mem.id) ? 1U : 0U;
    for (const member& mem : config_.members)
      changed += (config_.is_voter(mem.id) && target.find(mem.id) == nullptr) ? 1U : 0U;
    if (changed > 1)
      return error(raft_errc::config_change_unsafe, "change_membership: >1 voter; use joint");
  }
  // Both the current and the proposed configuration must have a reachable quorum, or the
  // change could never commit (or the group could not make progress after it).
  const auto active = [this](node_id id) -> std::uint64_t {
    if (id == opts_.id) return 1;
    for (const progress& pr : progress_)
      if (pr.id == id) return pr.recent_active ? 1 : 0;
    return 0;
  };
  if (quorum_of(config_, active) != 1 || quorum_of(target, active) != 1)
    return error(raft_errc::config_change_unsafe, "change_membership: no active quorum");
  WEFT_TRY_ASSIGN(const std::size_t size, encode_configuration(target, config_scratch_));
  WEFT_TRY(append_local(entry_type::config, byte_view(config_scratch_.data(), size)));
  pending_config_index_ = log_.last_index();
  return ok();
}

template <random_source Random>
result<void> basic_core<Random>::force_new_configuration(const configuration& config) noexcept {
  if (!config.is_incoming_voter(opts_.id) || config.joint() || config.incoming_voters() == 0)
    return error(raft_errc::config_change_invalid, "force_new_configuration");
  WEFT_TRY_ASSIGN(const std::size_t size, encode_configuration(config, config_scratch_));
  become_follower(term_ + 1, no_node);
  WEFT_TRY(append_local(entry_type::config, byte_view(config_scratch_.data(), size)));
  // The forced entry is declared committed here, without any quorum: that is the unsafe
  // part. It is durable once the next ready() is persisted.
  persisted_index_ = std::min(persisted_index_, log_.last_index() - 1);
  commit_ = log_.last_index() - 1;
  set_commit(log_.last_index());
  pending_config_index_ = log_.last_index();
  return ok();
}

template <random_source Random>
result<void> basic_core<Random>::compact(index_t index, std::uint64_t size_bytes) noexcept {
  if (index > applied_ || index < log_.snapshot_index() || index < config_index_)
    return error(raft_errc::compact_invalid, "compact");
  if (index == log_.snapshot_index()) return ok();
  snapshot_.index = index;
  snapshot_.term = log_.term_at(index);
  snapshot_.config = config_;
  snapshot_.size_bytes = size_bytes;
  log_.compact_to(index, snapshot_.term);
  return ok();
}

template <random_source Random>
void basic_core<Random>::send_snapshot_chunks(progress& pr) noexcept {
  if (snapshot_.index == 0) return;
  if (pr.snapshot_index != snapshot_.index) {  // start (or restart on a newer snapshot)
    pr.snapshot_index = snapshot_.index;
    pr.snapshot_sent = pr.snapshot_acked = 0;
    ++counters_.snapshots_sent;
  }
  const std::uint64_t chunk = opts_.max_snapshot_chunk_bytes;
  while (snapshot_chunk_due(pr)) {
    message m = make(message_type::install_snapshot, pr.id);
    m.snapshot_index = snapshot_.index;
    m.snapshot_term = snapshot_.term;
    m.snapshot_size_bytes = snapshot_.size_bytes;
    m.snapshot_offset = pr.snapshot_sent;
    m.data_size = std::min(chunk, snapshot_.size_bytes - pr.snapshot_sent);
    m.snapshot_done = pr.snapshot_sent + m.data_size == snapshot_.size_bytes;
    m.snapshot_config = &snapshot_.config;
    m.commit = commit_;
    send(m);
    pr.snapshot_sent += m.data_size;
    if (m.snapshot_done) break;
  }
}

// Whether the stream to `pr` has a chunk to send: a new stream starts with its first chunk
// (an empty snapshot is one empty chunk); after that, unsent bytes within the window of
// max_snapshot_chunks_inflight unacknowledged chunks. Shared by send_snapshot_chunks and
// has_ready(), so a full window is no work for either.
template <random_source Random>
bool basic_core<Random>::snapshot_chunk_due(const progress& pr) const noexcept {
  if (snapshot_.index == 0) return false;
  if (pr.snapshot_index != snapshot_.index) return true;
  const std::uint64_t window = opts_.max_snapshot_chunk_bytes * opts_.max_snapshot_chunks_inflight;
  const bool unsent = pr.snapshot_sent == 0 || pr.snapshot_sent < snapshot_.size_bytes;
  return unsent && pr.snapshot_sent - pr.snapshot_acked < window;
}

template <random_source Random>
void basic_core<Random>::handle_snapshot(const message& m) noexcept {
  if (role_ != role::follower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;
  message r = make(message_type::install_snapshot_response, m.from);
  r.snapshot_index = m.snapshot_index;
  if (m.snapshot_config == nullptr || m.data.size() != m.data_size ||
      m.data_size > opts_.max_snapshot_chunk_bytes ||
      m.snapshot_offset + m.data_size > m.snapshot_size_bytes ||
      m.snapshot_config->incoming_voters() == 0 || m.snapshot_term > m.term) {
    ++counters_.dropped_malformed;
    return;
  }
  if (m.snapshot_index <= commit_) {  // already have it: report where we are
    r.log_index = commit_;
    r.snapshot_offset = m.snapshot_size_bytes;
    send(r);
    return;
  }
  // A stream is one snapshot from one leader in one term (members may encode the same
  // state differently). Within a stream a reordered chunk of an older snapshot is ignored.
  const bool same_sender = incoming_active_ && incoming_from_ == m.from && incoming_sender_term_ == m.term;
  const bool same = same_sender && incoming_.index == m.snapshot_index &&
                    incoming_.term == m.snapshot_term && incoming_.size_bytes == m.snapshot_size_bytes;
  if (m.snapshot_offset == 0 && !same && (!same_sender || m.snapshot_index > incoming_.index)) {
    incoming_ = snapshot_metadata{m.snapshot_index, m.snapshot_term, *m.snapshot_config,
                                  m.snapshot_size_bytes};
    incoming_from_ = m.from;
    incoming_sender_term_ = m.term;
    incoming_offset_ = 0;
    incoming_active_ = true;
  } else if (!same || m.snapshot_offset != incoming_offset_) {
    r.reject = true;  // out of order: tell the leader where to resume
    r.snapshot_offset = same ? incoming_offset_ : 0;
    send(r);
    return;
  }
  if (chunks_.size() >= opts_.max_snapshot_chunks_inflight) return;  // treated as loss
  std::uint8_t* at = chunk_bytes_.data() + chunks_.size() * opts_.max_snapshot_chunk_bytes;
  if (!m.data.empty()) std::memcpy(at, m.data.data(), m.data.size());
  chunks_.push_back(snapshot_chunk{m.snapshot_index, m.snapshot_term, m.snapshot_offset,
                                   byte_view(at, m.data.size()), m.snapshot_done});
  incoming_offset_ += m.data_size;
  r.snapshot_offset = incoming_offset_;
  if (m.snapshot_done) {
    incoming_active_ = false;
    if (log_.term_at(incoming_.index) == incoming_.term && log_.contains(incoming_.index))
      log_.compact_to(incoming_.index, incoming_.term);  // keep the matching suffix
    else
      log_.reset(incoming_.index, incoming_.term);
    snapshot_ = incoming_;
    restored_ = incoming_;
    snapshot_restored_ = true;
    config_ = incoming_.config;
    config_index_ = incoming_.index;
    bootstrapped_ = true;
    commit_ = applied_ = incoming_.index;
    persisted_index_ = std::max(incoming_.index, std::min(persisted_index_, log_.last_index()));
    offered_index_ = std::max(incoming_.index, std::min(offered_index_, log_.last_index()));
    ++counters_.snapshots_installed;
    r.log_index = incoming_.index;
  }
  send(r);
}

template <random_source Random>
void basic_core<Random>::handle_snapshot_response(const message& m) noexcept {
  if (role_ != role::leader) return;
  progress* pr = find_progress(m.from);
  if (pr == nullptr) { ++counters_.dropped_unknown_sender; return; }
  pr->recent_active = true;
  if (pr->state != progress_state::snapshot || m.snapshot_index != pr->snapshot_index) {
    if (m.log_index > pr->match && pr->state != progress_state::snapshot) {
      pr->match = std::min(m.log_index, log_.last_index());
      pr->next = std::max(pr->next, pr->match + 1);
    }
    return;
  }
  if (m.log_index >= pr->snapshot_index) {  // installed
    pr->match = std::max(pr->match, std::min(m.log_index, log_.last_index()));
    pr->next = pr->match + 1;
    pr->state = progress_state::probe;
    pr->probe_sent = false;
    inflight_reset(*pr);
    maybe_commit();
    send_append(*pr, true);
    return;
  }
  if (m.reject) {  // the follower holds exactly this much of our snapshot: resume there
    pr->snapshot_sent = pr->snapshot_acked = std::min(m.snapshot_offset, snapshot_.size_bytes);
  } else {
    pr->snapshot_acked = std::max(pr->snapshot_acked, std::min(m.snapshot_offset, pr->snapshot_sent));
  }
  send_snapshot_chunks(*pr);
}

}  // namespace raft
WEFT_END
