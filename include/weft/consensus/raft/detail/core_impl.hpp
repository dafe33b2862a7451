// weft/consensus/raft/detail/core_impl.hpp - construction, restore, ticks, elections.
#pragma once

#include "weft/consensus/raft/core.hpp"

WEFT_BEGIN
namespace raft {

template <random_source Random>
basic_core<Random>::basic_core(const options& opts, Random random)
    : opts_(opts), random_(random),
      log_(opts.max_log_entries_in_memory, opts.max_log_bytes_in_memory) {
  inflight_storage_.resize(max_config_members * opts.max_inflight_messages);
  send_now_.slots.resize(opts.max_messages_per_ready);
  send_after_.slots.resize(opts.max_messages_per_ready);
  pending_reads_.reserve(opts.max_pending_reads);
  follower_reads_.reserve(opts.max_pending_reads);
  read_states_.reserve(opts.max_pending_reads);
  forward_refs_.reserve(opts.max_entries_per_message);
  forward_bytes_.resize(static_cast<std::size_t>(opts.max_bytes_per_message));
  chunks_.reserve(opts.max_snapshot_chunks_inflight);
  chunk_bytes_.resize(
      static_cast<std::size_t>(opts.max_snapshot_chunk_bytes * opts.max_snapshot_chunks_inflight));
  config_scratch_.resize(max_config_encoded_bytes);
  reset_election_timer();
}

template <random_source Random>
result<void> basic_core<Random>::restore(const hard_state& state, const snapshot_metadata& snap,
                                         std::span<const entry_ref> entries,
                                         index_t applied) noexcept {
  const auto bad = [](const char* where) { return result<void>(error(raft_errc::restore_invalid, where)); };
  if (snap.config.incoming_voters() == 0) return bad("restore: configuration has no voter");
  if (entries.size() > log_.capacity_entries()) return bad("restore: too many entries");
  term_t previous_term = snap.term;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index != snap.index + 1 + i) return bad("restore: entries not contiguous");
    if (entries[i].term < previous_term || entries[i].term > state.term)
      return bad("restore: entry terms out of order");
    previous_term = entries[i].term;
  }
  log_.reset(snap.index, snap.term);
  for (const entry_ref& e : entries)
    if (!log_.append(e.term, e.type, e.payload)) return bad("restore: in-memory log too small");
  snapshot_ = snap;
  config_ = snap.config;
  config_index_ = snap.index;
  term_ = state.term;
  vote_ = state.vote;
  commit_ = std::clamp(state.commit, snap.index, log_.last_index());
  applied_ = std::clamp(applied, snap.index, commit_);
  persisted_index_ = offered_index_ = log_.last_index();
  offered_state_ = {term_, vote_, commit_};
  const index_t commit = commit_;
  commit_ = snap.index;
  set_commit(commit);  // applies committed configuration entries
  pending_config_index_ = log_.last_index();
  bootstrapped_ = true;
  progress_.clear();
  become_follower(term_, no_node);
  return ok();
}

template <random_source Random>
void basic_core<Random>::reset_election_timer() noexcept {
  election_elapsed_ = 0;
  randomized_timeout_ = static_cast<std::uint32_t>(uniform_between(
      random_, opts_.election_timeout_ticks_min, opts_.election_timeout_ticks_max));
}

template <random_source Random>
bool basic_core<Random>::promotable() const noexcept {
  const member* self = config_.find(opts_.id);
  const bool may_lead = self != nullptr && (self->role == member_role::voter ||
                                            (self->role == member_role::witness && opts_.witness_may_lead));
  return bootstrapped_ && may_lead && config_.is_voter(opts_.id);
}

template <random_source Random>
void basic_core<Random>::become_follower(term_t term, node_id leader) noexcept {
  if (term != term_) {
    term_ = term;
    vote_ = no_node;
  }
  role_ = role::follower;
  leader_ = leader;
  transfer_target_ = no_node;
  removed_leader_ = false;
  pending_reads_.clear();
  reset_election_timer();
}

template <random_source Random>
void basic_core<Random>::become_leader() noexcept {
  role_ = role::leader;
  leader_ = opts_.id;
  heartbeat_elapsed_ = 0;
  transfer_target_ = no_node;
  removed_leader_ = false;
  reset_election_timer();
  sync_progress();
  for (progress& pr : progress_) {
    pr.match = 0;
    pr.next = log_.last_index() + 1;
    pr.commit_sent = 0;
    pr.state = progress_state::probe;
    pr.probe_sent = false;
    pr.recent_active = true;
    pr.acked_round = pr.acked_stamp_tick = 0;
    inflight_reset(pr);
  }
  // An entry of the new term: commits the previous terms' entries (Raft §5.4.2).
  pending_config_index_ = log_.last_index();
  (void)append_local(entry_type::empty, {});
  maybe_commit();
}

template <random_source Random>
void basic_core<Random>::campaign(bool pre, bool transfer) noexcept {
  if (!promotable()) return;
  granted_.clear();
  rejected_.clear();
  leader_ = no_node;
  reset_election_timer();
  term_t vote_term = term_ + 1;
  if (pre) {
    role_ = role::pre_candidate;
    ++counters_.pre_votes_started;
  } else {
    role_ = role::candidate;
    term_ = vote_term;
    vote_ = opts_.id;
    ++counters_.elections_started;
  }
  (void)granted_.push_back(opts_.id);
  const int outcome = tally(pre);
  if (outcome > 0) {
    if (pre) campaign(false, transfer);
    else become_leader();
    return;
  }
  for (const member& mem : config_.members) {
    if (mem.id == opts_.id || !config_.is_voter(mem.id)) continue;
    message m = make(pre ? message_type::pre_vote : message_type::vote, mem.id);
    m.term = vote_term;
    m.log_index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(m);
  }
}

template <random_source Random>
int basic_core<Random>::tally(bool) const noexcept {
  const auto side = [&](bool outgoing) {
    std::size_t voters = 0, yes = 0, no = 0;
    for (const member& mem : config_.members) {
      const bool in = outgoing ? mem.outgoing : (mem.incoming && configuration::votes(mem));
      if (!in) continue;
      ++voters;
      if (std::find(granted_.begin(), granted_.end(), mem.id) != granted_.end()) ++yes;
      else if (std::find(rejected_.begin(), rejected_.end(), mem.id) != rejected_.end()) ++no;
    }
    if (voters == 0) return 1;
    if (yes * 2 > voters) return 1;
    if ((voters - no) * 2 <= voters) return -1;
    return 0;
  };
  const int in = side(false);
  const int out = side(true);
  if (in < 0 || out < 0) return -1;
  return (in > 0 && out > 0) ? 1 : 0;
}

template <random_source Random>
void basic_core<Random>::tick() noexcept {
  ++ticks_;
  expire_follower_reads();
  if (role_ != role::leader) {
    ++election_elapsed_;
    if (election_elapsed_ >= randomized_timeout_) {
      if (promotable()) campaign(opts_.pre_vote, false);
      else reset_election_timer();
    }
    return;
  }
  if (++heartbeat_elapsed_ >= opts_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    send_heartbeats(++round_);
  }
  if (transfer_target_ != no_node && ++transfer_elapsed_ >= opts_.election_timeout_ticks_min)
    transfer_target_ = no_node;  // abort: the target did not take over in time
  if (++election_elapsed_ >= opts_.election_timeout_ticks_min) {
    election_elapsed_ = 0;
    if (opts_.check_quorum && !quorum_active()) {
      ++counters_.check_quorum_step_downs;
      become_follower(term_, no_node);
      return;
    }
    for (progress& pr : progress_) pr.recent_active = false;
  }
}

template <random_source Random>
void basic_core<Random>::step(const message& m) noexcept {
  if (m.type == message_type{} || static_cast<std::uint8_t>(m.type) > max_message_type ||
      m.from == no_node || m.from == opts_.id || (m.to != opts_.id && m.to != no_node)) {
    ++counters_.dropped_malformed;
    return;
  }
  if (!bootstrapped_ && m.type != message_type::append && m.type != message_type::heartbeat &&
      m.type != message_type::install_snapshot) {
    ++counters_.dropped_unknown_sender;
    return;
  }
  if (m.type == message_type::propose) {
    handle_propose(m);
    return;
  }
  const bool vote_request = m.type == message_type::vote || m.type == message_type::pre_vote;
  if (m.term > term_) {
    if (vote_request && opts_.check_quorum && !m.transfer && leader_ != no_node &&
        election_elapsed_ < opts_.election_timeout_ticks_min) {
      return;  // a leader is alive: do not let a partitioned member disrupt it (lease)
    }
    const bool leader_message = m.type == message_type::append ||
                                m.type == message_type::heartbeat ||
                                m.type == message_type::install_snapshot;
    if (m.type == message_type::pre_vote ||
        (m.type == message_type::pre_vote_response && !m.reject)) {
      // pre-vote never changes terms
    } else {
      become_follower(m.term, leader_message ? m.from : no_node);
    }
  } else if (m.term < term_) {
    ++counters_.dropped_stale_term;
    if (m.type == message_type::append || m.type == message_type::heartbeat ||
        m.type == message_type::pre_vote) {
      // Tell a stale leader or pre-candidate about the newer term.
      message r = make(m.type == message_type::pre_vote ? message_type::pre_vote_response
                                                        : message_type::append_response,
                       m.from);
      r.reject = true;
      send(r);
    }
    return;
  }
  const bool known = config_.find(m.from) != nullptr;
  switch (m.type) {
    case message_type::vote:
    case message_type::pre_vote: handle_vote_request(m); break;
    case message_type::vote_response:
    case message_type::pre_vote_response:
      if (!known) { ++counters_.dropped_unknown_sender; break; }
      handle_vote_response(m);
      break;
    case message_type::append: handle_append(m); break;
    case message_type::heartbeat: handle_heartbeat(m); break;
    case message_type::install_snapshot: handle_snapshot(m); break;
    case message_type::append_response:
      if (!known) { ++counters_.dropped_unknown_sender; break; }
      handle_append_response(m);
      break;
    case message_type::heartbeat_response:
      if (!known) { ++counters_.dropped_unknown_sender; break; }
      handle_heartbeat_response(m);
      break;
    case message_type::install_snapshot_response:
      if (!known) { ++counters_.dropped_unknown_sender; break; }
      handle_snapshot_response(m);
      break;
    case message_type::timeout_now:
      if (role_ != role::leader && m.from == leader_) campaign(false, true);
      break;
    case message_type::read_index_request:
      if (!known) { ++counters_.dropped_unknown_sender; break; }
      handle_read_index_request(m);
      break;
    case message_type::read_index_response: handle_read_index_response(m); break;
    case message_type::propose: break;
  }
}

template <random_source Random>
void basic_core<Random>::handle_vote_request(const message& m) noexcept {
  const bool pre = m.type == message_type::pre_vote;
  const bool can_vote = vote_ == m.from || (vote_ == no_node && leader_ == no_node) ||
                        (pre && m.term > term_);
  const bool up_to_date = m.log_term > log_.last_term() ||
                          (m.log_term == log_.last_term() && m.log_index >= log_.last_index());
  message r = make(pre ? message_type::pre_vote_response : message_type::vote_response, m.from);
  if (can_vote && up_to_date) {
    r.term = m.term;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.reject = true;
  }
  send(r);
}

template <random_source Random>
void basic_core<Random>::handle_vote_response(const message& m) noexcept {
  const bool pre = m.type == message_type::pre_vote_response;
  if (pre ? (role_ != role::pre_candidate || (!m.reject && m.term != term_ + 1))
          : (role_ != role::candidate || m.term != term_)) {
    return;
  }
  if (std::find(granted_.begin(), granted_.end(), m.from) != granted_.end() ||
      std::find(rejected_.begin(), rejected_.end(), m.from) != rejected_.end()) {
    return;
  }
  (void)(m.reject ? rejected_.push_back(m.from) : granted_.push_back(m.from));
  const int outcome = tally(pre);
  if (outcome > 0) {
    if (pre) campaign(false, m.transfer);
    else become_leader();
  } else if (outcome < 0) {
    become_follower(term_, no_node);
  }
}

}  // namespace raft
WEFT_END

#include "weft/consensus/raft/detail/replication.hpp"
