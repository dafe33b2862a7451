// weft/consensus/raft/detail/replication.hpp - log replication, flow control, commit.
#pragma once

#include "weft/consensus/raft/core.hpp"

WEFT_BEGIN
namespace raft {

template <random_source Random>
message& basic_core<Random>::emit(message_type type, node_id to) noexcept {
  // Built in place in the outbox: constructing a message on the stack and copying it in
  // cost more than the rest of a batch-1 round (docs/raft.md, Performance).
  const bool leader_stream = role_ == role::leader &&
                             (type == message_type::append || type == message_type::heartbeat ||
                              type == message_type::install_snapshot ||
                              type == message_type::timeout_now);
  outbox& box = leader_stream ? send_now_ : send_after_;
  message* out = &discarded_;
  if (box.count >= box.slots.size()) {
    ++counters_.dropped_outbox_full;  // like a lost message: the protocol retries
  } else {
    out = &box.slots[box.count++];
  }
  *out = message{};
  out->type = type;
  out->from = opts_.id;
  out->to = to;
  out->term = term_;
  return *out;
}

template <random_source Random>
void basic_core<Random>::send(const message& m) noexcept {
  emit(m.type, m.to) = m;
}

template <random_source Random>
typename basic_core<Random>::progress* basic_core<Random>::find_progress(node_id id) noexcept {
  for (progress& pr : progress_)
    if (pr.id == id) return &pr;
  return nullptr;
}

template <random_source Random>
void basic_core<Random>::inflight_reset(progress& pr) noexcept {
  pr.inflight_head = 0;
  pr.inflight_count = 0;
  pr.inflight_bytes = 0;
}

template <random_source Random>
bool basic_core<Random>::inflight_full(const progress& pr) const noexcept {
  return pr.inflight_count >= opts_.max_inflight_messages ||
         pr.inflight_bytes >= opts_.max_inflight_bytes;
}

template <random_source Random>
void basic_core<Random>::inflight_add(progress& pr, index_t last, std::uint64_t bytes) noexcept {
  WEFT_ASSERT(pr.inflight_count < opts_.max_inflight_messages);
  const std::size_t slot = (pr.inflight_head + pr.inflight_count) % opts_.max_inflight_messages;
  inflight_storage_[pr.inflight_base + slot] = inflight_t{last, bytes};
  ++pr.inflight_count;
  pr.inflight_bytes += bytes;
}

template <random_source Random>
void basic_core<Random>::inflight_free_to(progress& pr, index_t index) noexcept {
  while (pr.inflight_count > 0) {
    const inflight_t& f = inflight_storage_[pr.inflight_base + pr.inflight_head];
    if (f.last > index) break;
    pr.inflight_bytes -= f.bytes;
    pr.inflight_head = (pr.inflight_head + 1) % opts_.max_inflight_messages;
    --pr.inflight_count;
  }
}

template <random_source Random>
result<index_t> basic_core<Random>::append_local(entry_type type, byte_view payload) noexcept {
  if (!log_.append(term_, type, payload)) return error(raft_errc::log_full, "append_local");
  return log_.last_index();
}

template <random_source Random>
result<index_t> basic_core<Random>::propose(byte_view payload) noexcept {
  if (payload.size() > opts_.max_bytes_per_entry) return error(raft_errc::entry_too_large, "propose");
  if (!bootstrapped_) return error(raft_errc::not_bootstrapped, "propose");
  if (role_ != role::leader) {
    if (!opts_.forward_proposals || leader_ == no_node)
      return error(raft_errc::not_leader, "propose");
    std::size_t used = 0;
    for (const entry_ref& e : forward_refs_) used += e.payload.size();
    if (forward_refs_.size() >= opts_.max_entries_per_message ||
        used + payload.size() > forward_bytes_.size())
      return error(raft_errc::too_many_uncommitted, "propose: forward batch full");
    std::uint8_t* at = forward_bytes_.data() + used;
    if (!payload.empty()) std::memcpy(at, payload.data(), payload.size());
    forward_refs_.push_back(entry_ref{0, 0, entry_type::normal, byte_view(at, payload.size())});
    return index_t{0};
  }
  if (transfer_target_ != no_node || removed_leader_)
    return error(raft_errc::transfer_in_progress, "propose");
  if (log_.last_index() - commit_ >= opts_.max_uncommitted_entries)
    return error(raft_errc::too_many_uncommitted, "propose");
  return append_local(entry_type::normal, payload);
}

template <random_source Random>
void basic_core<Random>::handle_propose(const message& m) noexcept {
  if (role_ != role::leader || transfer_target_ != no_node || removed_leader_ ||
      config_.find(m.from) == nullptr) {
    ++counters_.dropped_forwarded_proposals;
    return;
  }
  if (m.entries.size() > max_entries_per_append) {
    counters_.dropped_forwarded_proposals += m.entries.size();
    return;
  }
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const entry_ref e = m.entries.at(i);
    if (e.type != entry_type::normal || e.payload.size() > opts_.max_bytes_per_entry ||
        log_.last_index() - commit_ >= opts_.max_uncommitted_entries ||
        !append_local(entry_type::normal, e.payload)) {
      ++counters_.dropped_forwarded_proposals;
    }
  }
}

template <random_source Random>
bool basic_core<Random>::valid_entries(const message& m) const noexcept {
  term_t previous = m.log_term;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const entry_ref e = m.entries.at(i);
    if (e.index != m.log_index + 1 + i || e.term < previous || e.term > m.term) return false;
    if (static_cast<std::uint8_t>(e.type) > 2) return false;
    previous = e.term;
    bytes += e.payload.size();
  }
  return bytes <= opts_.max_bytes_per_message;
}

template <random_source Random>
void basic_core<Random>::handle_append(const message& m) noexcept {
  if (role_ != role::follower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;
  if (m.entries.size() > opts_.max_entries_per_message || !valid_entries(m)) {
    ++counters_.dropped_oversize;
    return;
  }
  const auto reply = [&](index_t log_index, bool reject) {
    if (!reject && merge_append_ack(m, log_index)) return;
    if (!reject) ack_slot_ = send_after_.count;
    message& r = emit(message_type::append_response, m.from);
    r.round = m.round;
    r.stamp_tick = m.stamp_tick;
    r.log_index = log_index;
    r.log_term = reject ? log_.term_at(log_index) : 0;
    r.reject = reject;
    r.commit = commit_;
  };
  if (m.log_index < commit_) {  // stale: everything up to commit is known to match
    reply(commit_, false);
    return;
  }
  if (m.log_index > log_.last_index() || log_.term_at(m.log_index) != m.log_term) {
    ++counters_.rejected_appends;
    reply(std::min(m.log_index, log_.last_index()), true);  // hint: retry from here
    return;
  }
  index_t last_new = m.log_index;
  const bool keep_payload = keeps_payloads();
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const entry_ref e = m.entries.at(i);
    if (e.index <= log_.last_index()) {
      if (log_.term_at(e.index) == e.term) { last_new = e.index; continue; }
      if (e.index <= commit_) { ++counters_.dropped_malformed; break; }  // never rewrite commits
      log_.truncate_after(e.index - 1);
      offered_index_ = std::min(offered_index_, e.index - 1);
      persisted_index_ = std::min(persisted_index_, e.index - 1);
    }
    if (!log_.append(e.term, e.type, e.payload, keep_payload)) { ++counters_.truncated_appends; break; }
    last_new = e.index;
  }
  set_commit(std::max(commit_, std::min(m.commit, last_new)));
  reply(last_new, false);
}

// Several appends accepted from one leader in one ready get one answer: the highest match
// says all the others do (log matching), and the leader takes the maximum of round, stamp
// and commit from any answer. The answer leaves only once this ready's entries are durable,
// which covers the higher match too.
template <random_source Random>
bool basic_core<Random>::merge_append_ack(const message& m, index_t log_index) noexcept {
  if (ack_slot_ >= send_after_.count) return false;
  message& r = send_after_.slots[ack_slot_];
  if (r.type != message_type::append_response || r.to != m.from || r.term != term_ || r.reject)
    return false;
  r.log_index = std::max(r.log_index, log_index);
  r.round = std::max(r.round, m.round);
  r.stamp_tick = std::max(r.stamp_tick, m.stamp_tick);
  r.commit = commit_;
  ++counters_.append_responses_merged;
  return true;
}

// What every append or heartbeat response tells the leader: the follower is alive, how far
// it has committed, and which round and lease stamp it acknowledges. Null when this node
// does not lead or the sender is unknown (counted).
template <random_source Random>
typename basic_core<Random>::progress* basic_core<Random>::note_follower_reply(const message& m) noexcept {
  if (role_ != role::leader) return nullptr;
  progress* pr = find_progress(m.from);
  if (pr == nullptr) {
    ++counters_.dropped_unknown_sender;
    return nullptr;
  }
  pr->recent_active = true;
  pr->follower_commit = std::max(pr->follower_commit, std::min(m.commit, log_.last_index()));
  pr->acked_round = std::max(pr->acked_round, m.round);
  pr->acked_stamp_tick = std::max(pr->acked_stamp_tick, m.stamp_tick);
  return pr;
}

template <random_source Random>
void basic_core<Random>::handle_append_response(const message& m) noexcept {
  progress* pr = note_follower_reply(m);
  if (pr == nullptr) return;
  if (m.reject) {
    if (m.log_index < pr->match || pr->next <= pr->match + 1) return;  // stale rejection
    pr->next = std::max(pr->match + 1, std::min(pr->next - 1, m.log_index + 1));
    pr->state = progress_state::probe;
    pr->probe_sent = false;
    inflight_reset(*pr);
    send_append(*pr, true);
  } else if (m.log_index > pr->match) {
    pr->match = std::min(m.log_index, log_.last_index());
    pr->next = std::max(pr->next, pr->match + 1);
    inflight_free_to(*pr, pr->match);
    if (pr->state == progress_state::probe) {
      pr->state = progress_state::replicate;
      pr->next = pr->match + 1;
      pr->probe_sent = false;
      inflight_reset(*pr);
    }
    maybe_commit();
    if (transfer_target_ == pr->id && pr->match == log_.last_index()) {
      send(make(message_type::timeout_now, pr->id));
    }
  } else {
    pr->probe_sent = false;
  }
  release_reads();
  if (removed_leader_) removed_leader_step_down();
}

template <random_source Random>
void basic_core<Random>::handle_heartbeat(const message& m) noexcept {
  if (role_ != role::follower) become_follower(term_, m.from);
  leader_ = m.from;
  election_elapsed_ = 0;
  set_commit(std::max(commit_, std::min(m.commit, log_.last_index())));
  message& r = emit(message_type::heartbeat_response, m.from);
  r.round = m.round;
  r.stamp_tick = m.stamp_tick;
  r.log_index = log_.last_index();
  r.commit = commit_;
}

template <random_source Random>
void basic_core<Random>::handle_heartbeat_response(const message& m) noexcept {
  progress* pr = note_follower_reply(m);
  if (pr == nullptr) return;
  if (pr->state == progress_state::snapshot) {
    pr->snapshot_sent = pr->snapshot_acked;  // resend lost chunks
  } else if (pr->match < log_.last_index()) {
    if (pr->match == pr->match_at_heartbeat) {  // no progress since the last heartbeat
      pr->state = progress_state::probe;
      pr->next = pr->match + 1;
      inflight_reset(*pr);
    }
    pr->probe_sent = false;
  }
  pr->match_at_heartbeat = pr->match;
  release_reads();
  if (removed_leader_) removed_leader_step_down();
}

template <random_source Random>
void basic_core<Random>::send_heartbeats(std::uint64_t round) noexcept {
  for (progress& pr : progress_) {
    message& m = emit(message_type::heartbeat, pr.id);
    m.commit = std::min(pr.match, commit_);
    // A heartbeat carrying the whole commit index stands for the commit-only append.
    if (m.commit == commit_) pr.commit_sent = std::max(pr.commit_sent, commit_);
    m.round = round;
    m.stamp_tick = ticks_;
  }
}

template <random_source Random>
void basic_core<Random>::send_append(progress& pr, bool allow_empty) noexcept {
  if (pr.state == progress_state::snapshot) { send_snapshot_chunks(pr); return; }
  if (pr.state == progress_state::probe && pr.probe_sent) return;
  if (pr.next < log_.first_index()) {
    if (snapshot_.index == 0 || snapshot_.index < pr.next - 1) return;
    pr.state = progress_state::snapshot;
    pr.snapshot_index = 0;
    send_snapshot_chunks(pr);
    return;
  }
  do {
    if (pr.state == progress_state::replicate && inflight_full(pr)) return;
    const index_t last = log_.last_index();
    std::size_t count = 0;
    std::uint64_t bytes = 0;
    while (pr.next + count <= last && count < opts_.max_entries_per_message) {
      const std::uint64_t size = log_.size_at(pr.next + count);
      if (count > 0 && bytes + size > opts_.max_bytes_per_message) break;
      bytes += size;
      ++count;
    }
    if (count == 0 && !(allow_empty || commit_due(pr))) return;
    message& m = emit(message_type::append, pr.id);
    m.log_index = pr.next - 1;
    m.log_term = log_.term_at(m.log_index);
    m.commit = commit_;
    m.round = round_;
    m.stamp_tick = ticks_;
    m.entries = log_.range(pr.next, count);
    pr.commit_sent = commit_;
    if (pr.state == progress_state::probe) { pr.probe_sent = true; return; }
    if (count == 0) return;
    pr.next += count;
    inflight_add(pr, pr.next - 1, bytes);
    allow_empty = false;
  } while (pr.next <= log_.last_index());
}

// Whether send_append(pr, false) - what ready() does for every follower - would send
// anything, without sending. has_ready() asks this: a promise that ready() then does not
// keep makes the driver spin on empty readies (docs/raft.md). Keep it in step with
// send_append.
template <random_source Random>
bool basic_core<Random>::append_due(const progress& pr) const noexcept {
  if (pr.state == progress_state::snapshot) return snapshot_chunk_due(pr);
  if (pr.state == progress_state::probe && pr.probe_sent) return false;
  if (pr.next < log_.first_index()) return snapshot_.index != 0 && snapshot_.index >= pr.next - 1;
  if (pr.state == progress_state::replicate && inflight_full(pr)) return false;
  return pr.next <= log_.last_index() || commit_due(pr);
}

// An entry-less append that only carries a new commit index waits commit_only_delay_ticks
// for an append with entries (or a heartbeat) to carry it instead. A removed leader tells
// the commit at once: it steps down only once the new voters acknowledged it.
template <random_source Random>
bool basic_core<Random>::commit_due(const progress& pr) const noexcept {
  if (pr.commit_sent >= commit_) return false;
  return removed_leader_ || ticks_ - pr.commit_owed_tick >= opts_.commit_only_delay_ticks;
}

template <random_source Random>
void basic_core<Random>::flush_replication() noexcept {
  if (role_ != role::leader) return;
  for (progress& pr : progress_) send_append(pr, false);
}

template <random_source Random>
template <class Value>
std::uint64_t basic_core<Random>::quorum_of(const configuration& config, Value value) noexcept {
  // The largest v such that a majority of each voter set has a value >= v.
  const auto side = [&](bool outgoing) -> std::uint64_t {
    std::uint64_t values[max_config_members];
    std::size_t n = 0;
    for (const member& mem : config.members) {
      const bool in = outgoing ? mem.outgoing : (mem.incoming && configuration::votes(mem));
      if (in) values[n++] = value(mem.id);
    }
    if (n == 0) return ~std::uint64_t{0};
    // The largest value that a majority holds at least. Counting instead of sorting:
    // n <= 16, and a sort of a freshly written array stalled on store forwarding.
    std::uint64_t best = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t at_least = 0;
      for (std::size_t j = 0; j < n; ++j) at_least += values[j] >= values[i] ? 1U : 0U;
      if (at_least * 2 > n && values[i] > best) best = values[i];
    }
    return best;
  };
  return std::min(side(false), side(true));
}

template <random_source Random>
bool basic_core<Random>::quorum_active() const noexcept {
  const auto active = [this](node_id id) -> std::uint64_t {
    if (id == opts_.id) return 1;
    for (const progress& pr : progress_)
      if (pr.id == id) return pr.recent_active ? 1 : 0;
    return 0;
  };
  return quorum_value(active) == 1;
}

template <random_source Random>
void basic_core<Random>::maybe_commit() noexcept {
  if (role_ != role::leader) return;
  const auto match = [this](node_id id) -> std::uint64_t {
    if (id == opts_.id) return persisted_index_;
    for (const progress& pr : progress_)
      if (pr.id == id) return pr.match;
    return 0;
  };
  const index_t quorum = std::min<index_t>(quorum_value(match), log_.last_index());
  if (quorum > commit_ && log_.term_at(quorum) == term_) {  // only current-term entries (§5.4.2)
    set_commit(quorum);
    release_reads();
  }
}

template <random_source Random>
void basic_core<Random>::set_commit(index_t commit) noexcept {
  if (commit <= commit_) return;
  WEFT_ASSERT(commit <= log_.last_index());
  for (index_t i = commit_ + 1; i <= commit; ++i) {
    if (log_.type_at(i) != entry_type::config) continue;
    auto decoded = decode_configuration(log_.at(i).payload);
    if (decoded) apply_configuration(*decoded, i);
    else ++counters_.ignored_config_entries;
  }
  if (role_ == role::leader) {
    for (progress& pr : progress_)
      if (pr.commit_sent >= commit_) pr.commit_owed_tick = ticks_;  // owed from now on
  }
  commit_ = commit;
  if (role_ == role::leader && config_.joint() && config_index_ <= commit_ &&
      pending_config_index_ <= commit_) {
    configuration leave;  // joint consensus committed: leave it automatically
    for (member mem : config_.members) {
      if (!mem.incoming) continue;
      mem.outgoing = false;
      (void)leave.members.push_back(mem);
    }
    auto size = encode_configuration(leave, config_scratch_);
    if (size && append_local(entry_type::config, byte_view(config_scratch_.data(), *size)))
      pending_config_index_ = log_.last_index();
  }
}

template <random_source Random>
void basic_core<Random>::apply_configuration(const configuration& config, index_t index) noexcept {
  config_ = config;
  config_index_ = index;
  bootstrapped_ = true;  // a member that joined empty learns its configuration here
  if (role_ == role::leader) {
    sync_progress();
    if (!config_.is_voter(opts_.id)) removed_leader_ = true;
  }
}

template <random_source Random>
void basic_core<Random>::sync_progress() noexcept {
  // Keep progress for members that stay; add fresh progress for new ones.
  static_vector<progress, max_config_members> next;
  for (const member& mem : config_.members) {
    if (mem.id == opts_.id) continue;
    const progress* old = find_progress(mem.id);
    progress pr;
    if (old != nullptr) {
      pr = *old;
    } else {
      pr.id = mem.id;
      pr.next = log_.last_index() + 1;
      pr.recent_active = true;
    }
    (void)next.push_back(pr);
  }
  progress_ = next;
  // Every member owns a fixed region of the inflight storage, by position.
  for (std::size_t i = 0; i < progress_.size(); ++i) {
    progress& pr = progress_[i];
    const std::size_t base = i * opts_.max_inflight_messages;
    if (pr.inflight_base != base || pr.inflight_count == 0) {
      pr.inflight_base = base;
      inflight_reset(pr);
      if (pr.state == progress_state::replicate) {
        pr.state = progress_state::probe;
        pr.next = pr.match + 1;
        pr.probe_sent = false;
      }
    }
  }
}

template <random_source Random>
void basic_core<Random>::removed_leader_step_down() noexcept {
  // A leader that committed its own removal stays until a majority of the new voters
  // know the configuration is committed, then hands over with TimeoutNow and steps down,
  // so the remaining voters never wait for a vote from the removed member (etcd #11038).
  const auto knows = [this](node_id id) -> std::uint64_t {
    for (const progress& pr : progress_)
      if (pr.id == id) return std::min(pr.follower_commit, pr.match) >= config_index_ ? 1 : 0;
    return 0;
  };
  if (commit_ < config_index_ || quorum_value(knows) != 1) return;
  const progress* best = nullptr;
  for (const progress& pr : progress_) {
    const member* mem = config_.find(pr.id);
    if (mem == nullptr || mem->role != member_role::voter || !config_.is_voter(pr.id)) continue;
    if (knows(pr.id) == 1 && (best == nullptr || pr.match > best->match)) best = &pr;
  }
  if (best != nullptr) send(make(message_type::timeout_now, best->id));
  become_follower(term_, no_node);
}

}  // namespace raft
WEFT_END

#include "weft/consensus/raft/detail/control.hpp"
