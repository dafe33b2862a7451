// weft/runtime/detail/node_impl.hpp - basic_node: recovery, the ready/persist/send loop,
// membership plumbing and the event-loop callbacks.
// weft:hosted
#pragma once

#include "weft/runtime/node.hpp"

WEFT_BEGIN
namespace runtime {

// ---- lifecycle -----------------------------------------------------------------------------

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::open(const node_options& options) noexcept {
  if (open_) return error(core_errc::invalid_argument, "node: open twice");
  WEFT_TRY(options.validate());
  options_ = options;
  options_.raft.id = options.id;
  send_buffer_.resize(options_.tcp.max_message_size_bytes);
  record_buffer_.resize(options_.raft.max_bytes_per_entry + 1);
  reads_.reserve(options_.max_pending_reads);
  awaited_reads_.reserve(options_.max_pending_reads);
  snapshot_buffer_.resize(options_.snapshot_buffer_size_bytes);
  chunk_buffer_.resize(static_cast<std::size_t>(options_.raft.max_snapshot_chunk_bytes));
  members_.clear();
  for (const node_peer& p : options_.peers) members_.push_back(member_status{p.id});
  WEFT_TRY(open_storage());
  WEFT_TRY(recover_core());
  if (options_.storage_thread) {
    held_.allocate(options_.max_batches_awaiting_sync, options_.max_messages_awaiting_sync,
                   options_.message_bytes_awaiting_sync);
    WEFT_TRY(sync_worker_.start(wal_fs_));
    wal_->set_seal_hook(&on_wal_seal, this);
    if (options_.max_snapshot_image_bytes != 0) WEFT_TRY(snapshot_worker_.start());
  }
  WEFT_TRY(open_transports());
  WEFT_TRY(open_membership());
  WEFT_TRY(open_fds());
  open_ = true;
  add_event("member %llu started", options_.id, 0);
  if (wal_recovery_.possible_acknowledged_loss != 0)
    add_event("wal: POSSIBLE ACKNOWLEDGED LOSS: tail cut at %llu (%llu bytes)",
              wal_recovery_.offset, wal_recovery_.torn_bytes_discarded);
  else if (wal_recovery_.torn_tails_repaired != 0)
    add_event("wal: torn tail cut at offset %llu (%llu bytes)", wal_recovery_.offset,
              wal_recovery_.torn_bytes_discarded);
  return ok();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::close() noexcept {
  if (tick_fd_ >= 0) {
    loop_.unwatch(tick_fd_);
    ::close(tick_fd_);
    tick_fd_ = -1;
  }
  if (wake_fd_ >= 0) {
    loop_.unwatch(wake_fd_);
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
  loop_.cancel_deferred(this);
  process_deferred_ = false;
  if (snapshot_worker_.running()) {
    if (open_ && !failed_) {
      if (auto written = wait_for_snapshot_write(); !written) fail(written.error());
    }
    (void)loop_.unwatch(snapshot_worker_.completion_fd());
    snapshot_worker_.stop();  // a write already started ends first
    snapshot_writing_ = false;
  }
  if (sync_worker_.running()) {
    // Shutdown drains: the queued batches are synced and their acknowledgements leave.
    if (open_ && !failed_) {
      if (auto drained = wait_for_syncs(); !drained) fail(drained.error());
      tcp_.uncork();
    }
    (void)loop_.unwatch(sync_worker_.completion_fd());
    sync_worker_.stop();  // finishes a sync already asked for: the WAL then owns its files
    held_.clear();
  }
  tcp_.close();
  udp_.close();
  if (wal_ && wal_->is_open()) (void)wal_->close();  // flushes and syncs
  open_ = false;
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::leave() noexcept {
  if (!swim_) return error(runtime_errc::stopped, "node: leave before open");
  WEFT_TRY(swim_->leave(now()));
  flush_swim();
  return ok();
}

/// TCP (Noise sessions keyed by the members' Ed25519 keys, unless plaintext) and UDP.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::open_transports() noexcept {
  const auto self = static_cast<transport::peer_id>(options_.id);
  if (options_.member_seed) {
    const auto signing = crypto::libsodium::ed25519::secret_key_from_seed(*options_.member_seed);
    tcp_.set_noise_identity({transport::noise_secret_key_from_ed25519(signing)});
    // Peers refuse datagram sessions older than the last they saw from us, so the session
    // must grow across restarts, even when data_dir was wiped: wall-clock microseconds.
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto session = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
    udp_.set_seal_identity({transport::noise_secret_key_from_ed25519(signing),
                            static_cast<std::uint64_t>(session), nullptr, nullptr});
  }
  WEFT_TRY(tcp_.open(loop_, options_.raft_address, self, options_.tcp, &on_stream, &on_link, this));
  WEFT_TRY(udp_.open(loop_, options_.swim_address, self, options_.udp, &on_datagram, this));
  for (const node_peer& p : options_.peers) {
    std::optional<transport::noise_public_key> key;
    if (p.member_key) {
      WEFT_TRY_ASSIGN(key, transport::noise_public_key_from_ed25519(*p.member_key));
    }
    WEFT_TRY(tcp_.set_peer(static_cast<transport::peer_id>(p.id), p.raft_address, key ? &*key : nullptr));
    WEFT_TRY(udp_.set_peer(static_cast<transport::peer_id>(p.id), p.swim_address, key ? &*key : nullptr));
  }
  return ok();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::set_member_key(std::uint64_t id,
                                                   const std::array<std::uint8_t, 32>& member_key) noexcept {
  const auto peer = std::find_if(options_.peers.begin(), options_.peers.end(),
                                 [id](const node_peer& p) { return p.id == id; });
  if (peer == options_.peers.end()) return error(transport::transport_errc::unknown_peer, "node: set_member_key");
  WEFT_TRY_ASSIGN(const transport::noise_public_key key, transport::noise_public_key_from_ed25519(member_key));
  const auto to = static_cast<transport::peer_id>(id);
  WEFT_TRY(tcp_.set_peer(to, peer->raft_address, &key));
  WEFT_TRY(udp_.set_peer(to, peer->swim_address, &key));
  peer->member_key = member_key;
  return ok();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::open_storage() noexcept {
  const std::string& dir = options_.data_dir;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return error(runtime_errc::system_error, "node: mkdir data_dir");
  WEFT_TRY(state_fs_.attach(dir.c_str()));
  const std::string wal_dir = dir + "/wal";
  WEFT_TRY(wal_fs_.attach(wal_dir.c_str()));
  stable_.emplace(state_fs_, "raft-state");
  WEFT_TRY(stable_->open());
  WEFT_TRY_ASSIGN(const storage::hard_state hs, stable_->load());
  saved_state_ = raft::hard_state{hs.term, hs.vote, hs.commit};
  wal_.emplace(wal_fs_, options_.wal);
  if (auto opened = wal_->open(wal_recovery_); !opened) return opened.error();
  telemetry_.on_recovered(wal_recovery_);
  const std::string snapshot_dir = dir + "/snap";
  WEFT_TRY(snapshot_fs_.attach(snapshot_dir.c_str()));
  snapshots_.emplace(snapshot_fs_, options_.snapshot);
  return snapshots_->open();
}

/// Rebuilds the core from the stable state and the WAL; a new directory bootstraps the
/// static configuration (every founding member a voter).
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::recover_core() noexcept {
  raft::configuration config;
  WEFT_TRY(config.members.push_back(raft::member{options_.id}));
  for (const node_peer& p : options_.peers) WEFT_TRY(config.members.push_back(raft::member{p.id}));
  std::sort(config.members.begin(), config.members.end(),
            [](const raft::member& a, const raft::member& b) { return a.id < b.id; });
  WEFT_TRY_ASSIGN(core_type core, core_type::create(options_.raft,
                                                     typename Stack::random(options_.id * 0x9e3779b97f4a7c15ull)));
  core_.emplace(std::move(core));
  raft::snapshot_metadata start;
  start.config = config;  // membership is static here: a snapshot's is the founding one
  if (auto latest = snapshots_->latest(); latest) {
    WEFT_TRY(load_snapshot(*latest));
    WEFT_TRY(align_wal_with_snapshot(latest->index, latest->term));  // a crash may come between
    start.index = latest->index;
    start.term = latest->term;
    start.size_bytes = latest->size_bytes;
  }
  if (wal_->first_index() > start.index + 1)
    return error(core_errc::invalid_argument, "node: WAL starts after the snapshot (a gap)");
  struct collected {
    std::vector<std::uint8_t> bytes;
    std::vector<raft::entry_ref> refs;  // payloads fixed up below, once bytes stop moving
    std::vector<std::size_t> offsets;
    bool corrupt = false;
  } got;
  const raft::index_t first = start.index + 1;
  const std::uint64_t count = wal_->last_index() + 1 - first;
  if (count > options_.raft.max_log_entries_in_memory)
    return error(raft::raft_errc::log_full, "node: WAL holds more entries than the in-memory log");
  got.refs.reserve(static_cast<std::size_t>(count));
  got.offsets.reserve(static_cast<std::size_t>(count));
  WEFT_TRY(wal_->read_range(
      first, wal_->last_index() + 1,
      [](void* context, const storage::log_entry_view& e) noexcept {
        auto& c = *static_cast<collected*>(context);
        if (e.payload.empty() || e.payload[0] > 2) {
          c.corrupt = true;
          return false;
        }
        c.offsets.push_back(c.bytes.size());
        c.bytes.insert(c.bytes.end(), e.payload.begin() + 1, e.payload.end());
        c.refs.push_back(raft::entry_ref{e.index, e.term, static_cast<raft::entry_type>(e.payload[0]), {}});
        return true;
      },
      &got));
  if (got.corrupt) return error(core_errc::invalid_argument, "node: WAL entry without a type byte");
  for (std::size_t i = 0; i < got.refs.size(); ++i) {
    const std::size_t begin = got.offsets[i];
    const std::size_t end = i + 1 < got.offsets.size() ? got.offsets[i + 1] : got.bytes.size();
    got.refs[i].payload = byte_view(got.bytes.data() + begin, end - begin);
  }
  if (got.refs.empty() && saved_state_ == raft::hard_state{} && start.index == 0)
    return core_->bootstrap(config);
  return core_->restore(saved_state_, start, got.refs, start.index);
}

template <class Stack, class SM>
result<std::uint64_t> basic_node<Stack, SM>::next_incarnation() noexcept {
  // SWIM needs a higher incarnation after every restart; kept in data_dir/swim-incarnation.
  const std::string path = options_.data_dir + "/swim-incarnation";
  std::uint64_t last = 0;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1) last = v;
    std::fclose(f);
  }
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(runtime_errc::system_error, "node: write swim-incarnation");
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%llu\n", static_cast<unsigned long long>(last + 1));
  const bool written = n > 0 && ::write(fd, text, static_cast<std::size_t>(n)) == n && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), path.c_str()) != 0)
    return error(runtime_errc::system_error, "node: write swim-incarnation");
  return last + 1;
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::open_membership() noexcept {
  using scheme = typename Stack::admission;
  swim::identity me;
  me.id = options_.id;
  me.addr = static_cast<swim::address>(options_.id);
  WEFT_TRY_ASSIGN(me.incarnation, next_incarnation());
  me.admitter = swim::anchor_id_base;
  if constexpr (std::same_as<scheme, swim::ed25519_admission_scheme>) {
    // Real admission: the admin-signed statement must name this member and its key.
    if (!options_.member_seed || !options_.admin_public_key || options_.admission_statement.empty())
      return error(core_errc::invalid_options,
                   "node_options: Ed25519 admission needs member_seed, admin_public_key and admission_statement");
    scheme signer(crypto::libsodium::ed25519::secret_key_from_seed(*options_.member_seed));
    WEFT_TRY_ASSIGN(auto gate, swim::admission_gate::create({.max_members = 1}, *options_.admin_public_key));
    WEFT_TRY_ASSIGN(const swim::admitted_member admitted, gate.accept(options_.admission_statement));
    if (admitted.subject != options_.id || !equal_bytes(admitted.member_key, signer.public_key()))
      return error(swim::swim_errc::not_admitted, "node: the admission statement names another member or key");
    admitted.apply_to(me);
    const byte_view anchors[] = {byte_view(*options_.admin_public_key)};
    return start_membership(me, std::move(signer), anchors);
  } else {
    const scheme anchor(options_.admission_seed);  // test scheme: INSECURE
    scheme signer(options_.admission_seed ^ (options_.id * 0xd1b54a32d192ed03ull));
    WEFT_TRY_ASSIGN(me.admission, swim::admit(anchor, options_.id, signer.public_key()));
    const byte_view anchors[] = {anchor.public_key()};
    return start_membership(me, std::move(signer), anchors);
  }
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::start_membership(const swim::identity& me,
                                                     typename Stack::admission signer,
                                                     std::span<const byte_view> anchors) noexcept {
  WEFT_TRY_ASSIGN(swim_type s, swim_type::create(options_.swim, me, std::move(signer),
                                                 typename Stack::random(options_.id ^ 0x5157u), anchors));
  swim_.emplace(std::move(s));
  const time_point t = now();
  WEFT_TRY(swim_->bootstrap(t));
  for (const node_peer& p : options_.peers) (void)swim_->join(t, static_cast<swim::address>(p.id));
  last_join_ = t;
  flush_swim();
  return ok();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::open_fds() noexcept {
  tick_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (tick_fd_ < 0 || wake_fd_ < 0) return error(runtime_errc::system_error, "node: timerfd/eventfd");
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(options_.tick_ms / 1000);
  spec.it_interval.tv_nsec = static_cast<long>(options_.tick_ms % 1000) * 1000000L;
  spec.it_value = spec.it_interval;
  if (::timerfd_settime(tick_fd_, 0, &spec, nullptr) != 0)
    return error(runtime_errc::system_error, "node: timerfd_settime");
  WEFT_TRY(loop_.watch(tick_fd_, EPOLLIN, &on_tick, this));
  WEFT_TRY(loop_.watch(wake_fd_, EPOLLIN, &on_wake, this));
  if (sync_worker_.running()) WEFT_TRY(loop_.watch(sync_worker_.completion_fd(), EPOLLIN, &on_synced, this));
  if (snapshot_worker_.running())
    WEFT_TRY(loop_.watch(snapshot_worker_.completion_fd(), EPOLLIN, &on_snapshot_written, this));
  return ok();
}

// ---- user calls ----------------------------------------------------------------------------

template <class Stack, class SM>
result<raft::index_t> basic_node<Stack, SM>::propose(byte_view payload) noexcept {
  if (!open_ || failed_) return error(runtime_errc::stopped, "node: propose");
  const auto index = core_->propose(payload);
  if (!index) {
    telemetry_.on_proposal_failed();
    return index.error();
  }
  wake();
  return *index;
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::read_index(std::uint64_t context) noexcept {
  if (!open_ || failed_) return error(runtime_errc::stopped, "node: read_index");
  if (awaited_reads_.size() >= options_.max_pending_reads)
    return error(raft::raft_errc::read_queue_full, "node: read_index (max_pending_reads)");
  WEFT_TRY(core_->read_index(context));
  awaited_reads_.push_back(context);
  wake();
  return ok();
}

template <class Stack, class SM>
node_status basic_node<Stack, SM>::status() const noexcept {
  node_status s;
  s.id = options_.id;
  s.isolated = isolated_;
  s.failed = failed_;
  s.wal_torn_tails_repaired = wal_recovery_.torn_tails_repaired;
  s.wal_possible_acknowledged_loss = wal_recovery_.possible_acknowledged_loss;
  if (!core_) return s;
  s.role = core_->current_role();
  s.term = core_->term();
  s.leader = core_->leader();
  s.commit_index = core_->commit_index();
  s.applied_index = core_->applied_index();
  s.last_index = core_->last_index();
  return s;
}

// ---- the ready loop ------------------------------------------------------------------------

/// Ordering (core.hpp, ready_batch): send_now leaves at once (a leader's appends go out
/// before its own write completes); hard state (term/vote), then entries are made durable;
/// only then send_after_persist leaves and persisted() is reported; committed entries
/// (which the core hands out only once durable here) are applied in the batch's bound.
template <class Stack, class SM>
void basic_node<Stack, SM>::process() noexcept {
  if (!open_ || failed_ || in_process_) return;
  in_process_ = true;
  // Every message of this turn to one peer leaves in one send (tcp_transport::cork).
  tcp_.cork();
  if (auto released = release_synced(); !released) fail(released.error());
  if (!failed_) {
    if (auto written = finish_snapshot_write(); !written) fail(written.error());
  }
  for (std::uint32_t round = 0;
       !failed_ && round < options_.max_ready_rounds_per_wake && core_->has_ready(); ++round) {
    const raft::ready_batch rb = core_->ready();
    for (const raft::message& m : rb.send_now) send_raft(m);
    auto done = needs_loop_persist(rb) ? persist_in_turn(rb) : persist_on_thread(rb);
    if (!done) {
      core_->advance();
      fail(done.error());
      break;
    }
    apply(rb.committed);
    note_read_states(rb.read_states);
    if (rb.snapshot_to_restore != nullptr) {
      // The chunks are durable (persist above); load them, then drop the WAL they cover.
      const raft::snapshot_metadata& snap = *rb.snapshot_to_restore;
      auto restored = load_snapshot(storage::snapshot_meta{snap.index, snap.term, snap.size_bytes, 0});
      if (restored) restored = align_wal_with_snapshot(snap.index, snap.term);
      if (!restored) {
        core_->advance();
        fail(restored.error());
        break;
      }
      ++counters_.snapshots_installed;
      bytes_since_snapshot_ = 0;
      add_event("installed snapshot at index %llu (term %llu)", snap.index, snap.term);
    }
    core_->advance();
  }
  if (!failed_) maybe_snapshot();
  const raft::index_t applied = core_->applied_index();
  std::size_t kept = 0;
  for (const pending_read& r : reads_) {
    if (r.index <= applied) {
      ++counters_.reads_released;
      sm_.read_ready(r.context);
    } else {
      reads_[kept++] = r;
    }
  }
  reads_.resize(kept);
  note_leadership();
  tcp_.uncork();
  in_process_ = false;
  if (core_->has_ready()) wake();  // the round bound was hit: continue on the next turn
}

/// Batches that change term or vote, carry snapshot chunks or restore a snapshot are rare
/// and persist on the loop, after every earlier batch's sync (the messages they release,
/// votes among them, depend on all of it); so do small batches with nothing else awaiting
/// a sync (node_options::sync_on_loop_below_entries). Without the storage thread every
/// batch does.
template <class Stack, class SM>
bool basic_node<Stack, SM>::needs_loop_persist(const raft::ready_batch& rb) const noexcept {
  const raft::ready_batch::persist_part& part = rb.must_persist;
  const bool vote_changed = part.hard_state_changed &&
                            (part.state.term != saved_state_.term || part.state.vote != saved_state_.vote);
  const bool small_and_alone = held_.empty() && !part.entries.empty() &&
                               part.entries.size() < options_.sync_on_loop_below_entries;
  return !sync_worker_.running() || vote_changed || !part.snapshot_chunks.empty() ||
         rb.snapshot_to_restore != nullptr || small_and_alone;
}

/// Synchronous persistence: durable on return, then send_after_persist leaves.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::persist_in_turn(const raft::ready_batch& rb) noexcept {
  WEFT_TRY(wait_for_syncs());
  if (!rb.must_persist.snapshot_chunks.empty() || rb.snapshot_to_restore != nullptr)
    WEFT_TRY(wait_for_snapshot_write());  // the snapshot store is the writer thread's until then
  if (will_block(rb.must_persist)) {
    tcp_.uncork();  // the appends leave now: followers write while this member syncs
    tcp_.cork();
  }
  WEFT_TRY(persist(rb.must_persist));
  for (const raft::message& m : rb.send_after_persist) send_raft(m);
  return ok();
}

/// The batch's records are written to the WAL here (so the entries' views may end at
/// advance()) and synced by the storage thread; its send_after_persist messages and
/// persisted() wait in held_ for that sync and every earlier one (docs/raft.md).
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::persist_on_thread(const raft::ready_batch& rb) noexcept {
  const raft::entry_range& entries = rb.must_persist.entries;
  if (entries.empty()) {
    if (held_.empty()) {
      for (const raft::message& m : rb.send_after_persist) send_raft(m);  // nothing to wait for
      return ok();
    }
    if (rb.send_after_persist.empty()) return ok();
  }
  if (held_.batches_full()) WEFT_TRY(wait_for_syncs());
  detail::held_batches::batch b;  // entry-less: sequence 0, released right after the one before
  bool needs_sync = false;
  if (!entries.empty()) {
    WEFT_TRY(append_entries(entries));
    WEFT_TRY_ASSIGN(const storage::wal_sync_ticket ticket, wal_->write_for_sync());
    needs_sync = ticket.file.value != 0;
    if (needs_sync) sync_worker_.request(ticket);
    const raft::entry_ref last = entries.at(entries.size() - 1);
    b = {ticket.position.sequence, last.index, last.term, true, 0};
  }
  held_.push_batch(b);
  WEFT_TRY(hold_after_persist(rb.send_after_persist));
  if (!needs_sync) return release_synced();  // durable already (another sync policy)
  return ok();
}

/// Encodes the newest held batch's messages into held_; when held_ is full, waits for every
/// sync (which releases all held batches, this one included) and sends the rest at once.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::hold_after_persist(std::span<const raft::message> messages) noexcept {
  bool released = false;
  for (const raft::message& m : messages) {
    const byte_view frame = encode_raft(m);
    if (frame.empty()) continue;
    const auto to = static_cast<transport::peer_id>(m.to);
    if (!released && held_.push_message(to, frame)) continue;
    if (!released) {
      WEFT_TRY(wait_for_syncs());
      released = true;
    }
    send_frame(to, frame);
  }
  return ok();
}

/// Takes what the storage thread finished (the WAL records it durable), then releases the
/// held batches it covers, oldest first: their messages leave and persisted() is reported.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::release_synced() noexcept {
  if (!sync_worker_.running()) return ok();
  typename detail::sync_worker<typename Stack::file_system>::completion done;
  if (sync_worker_.take_completion(done)) {
    counters_.wal_syncs += done.syncs;
    // One histogram sample per sync, so its count stays the number of fdatasyncs (each the
    // mean of the syncs this completion covers: the thread may finish several per turn).
    for (std::uint64_t i = 0; i < done.syncs; ++i)
      telemetry_.on_fsync(done.sync_ns / static_cast<std::int64_t>(done.syncs), i == 0 ? done.bytes : 0);
    const result<void> outcome = done.failed ? result<void>(done.failure) : result<void>(ok());
    WEFT_TRY(wal_->complete_sync(done.ticket, outcome));
  }
  const std::uint64_t durable = wal_->durable().sequence;
  while (!held_.empty() && held_.oldest().sequence <= durable) {
    const detail::held_batches::batch b = held_.oldest();
    held_.release_oldest([this](transport::peer_id to, byte_view frame) noexcept { send_frame(to, frame); });
    if (b.has_entries) core_->persisted(b.last_index, b.last_term);
  }
  return ok();
}

/// Waits until the storage thread has synced everything asked of it, then releases.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::wait_for_syncs() noexcept {
  if (!sync_worker_.running()) return ok();
  sync_worker_.wait_idle();
  return release_synced();
}

/// True when persist(part) will write and sync something.
template <class Stack, class SM>
bool basic_node<Stack, SM>::will_block(const raft::ready_batch::persist_part& part) const noexcept {
  const bool vote_changed = part.hard_state_changed &&
                            (part.state.term != saved_state_.term || part.state.vote != saved_state_.vote);
  return vote_changed || !part.entries.empty() || !part.snapshot_chunks.empty();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::persist(const raft::ready_batch::persist_part& part) noexcept {
  if (part.hard_state_changed) {
    // Term and vote must be durable before any message that depends on them leaves; the
    // commit index need not be (it is re-learned), so commit-only changes cost no fsync.
    if (part.state.term != saved_state_.term || part.state.vote != saved_state_.vote) {
      WEFT_TRY(stable_->save(storage::hard_state{part.state.term, part.state.vote, part.state.commit}));
      saved_state_ = part.state;
      ++counters_.hard_state_saves;
    }
  }
  WEFT_TRY(persist_entries(part.entries));
  for (const raft::snapshot_chunk& chunk : part.snapshot_chunks) WEFT_TRY(persist_snapshot_chunk(chunk));
  return ok();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::persist_entries(const raft::entry_range& entries) noexcept {
  if (entries.empty()) return ok();
  WEFT_TRY_ASSIGN(const std::uint64_t bytes, append_entries(entries));
  const raft::entry_ref last = entries.at(entries.size() - 1);
  const time_point before = now();
  WEFT_TRY(wal_->sync());
  ++counters_.wal_syncs;
  ++counters_.wal_syncs_on_loop;
  telemetry_.on_fsync(to_ns(now() - before), bytes);
  core_->persisted(last.index, last.term);
  return ok();
}

/// Appends the entries to the WAL (a conflicting suffix truncated first); returns the bytes.
template <class Stack, class SM>
result<std::uint64_t> basic_node<Stack, SM>::append_entries(const raft::entry_range& entries) noexcept {
  const raft::index_t first = entries.at(0).index;
  if (first <= wal_->last_index()) WEFT_TRY(wal_->truncate_suffix(first));
  else if (first > wal_->last_index() + 1) WEFT_TRY(wal_->compact_prefix(first));  // after a snapshot
  std::uint64_t bytes = 0;
  raft::entry_ref last{};
  for (std::size_t i = 0; i < entries.size(); ++i) {
    last = entries.at(i);
    if (last.payload.size() + 1 > record_buffer_.size())
      return error(storage::storage_errc::record_too_large, "node: entry");
    record_buffer_[0] = static_cast<std::uint8_t>(last.type);
    if (!last.payload.empty()) std::memcpy(record_buffer_.data() + 1, last.payload.data(), last.payload.size());
    WEFT_TRY(wal_->append(last.index, last.term, byte_view(record_buffer_.data(), last.payload.size() + 1)));
    bytes += last.payload.size() + 1;
  }
  return bytes;
}

template <class Stack, class SM>
void basic_node<Stack, SM>::apply(const raft::entry_range& committed) noexcept {
  for (std::size_t i = 0; i < committed.size(); ++i) {
    const raft::entry_ref e = committed.at(i);
    if (e.type == raft::entry_type::normal) sm_.apply(e.index, e.payload);
  }
  counters_.entries_applied += committed.size();
  if (!committed.empty()) telemetry_.on_applied(committed.size());
  for (std::size_t i = 0; i < committed.size(); ++i) bytes_since_snapshot_ += committed.at(i).payload.size();
}

// ---- snapshots -----------------------------------------------------------------------------

/// A chunk from the leader goes straight into the snapshot store: offset 0 starts a new
/// file (dropping any unfinished one), the last chunk installs it (synced, renamed).
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::persist_snapshot_chunk(const raft::snapshot_chunk& chunk) noexcept {
  if (chunk.offset == 0) {
    snapshots_->discard();
    WEFT_TRY(snapshots_->begin(chunk.index, chunk.term));
    receiving_snapshot_ = true;
  }
  WEFT_TRY(snapshots_->write(chunk.data));
  if (chunk.last) {
    receiving_snapshot_ = false;
    WEFT_TRY(snapshots_->install());
  }
  return ok();
}

/// Replaces the state machine's state with the installed snapshot `meta` describes.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::load_snapshot(const storage::snapshot_meta& meta) noexcept {
  WEFT_TRY_ASSIGN(const storage::snapshot_meta installed, snapshots_->latest());
  if (installed.index != meta.index || installed.term != meta.term || installed.size_bytes != meta.size_bytes)
    return error(runtime_errc::snapshot_malformed, "node: installed snapshot is not the one to load");
  const auto source = [](void* context, std::uint64_t offset, mutable_byte_view out) noexcept {
    return static_cast<basic_node*>(context)->snapshots_->read(offset, out);
  };
  snapshot_reader in(mutable_byte_view(snapshot_buffer_), installed.size_bytes, source, this);
  return sm_.load_snapshot(in);
}

/// Raft §7 for the durable log: keep the entries after the snapshot only when the entry at
/// its index has its term; otherwise none of them. Either way the WAL then starts after it.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::align_wal_with_snapshot(raft::index_t index, raft::term_t term) noexcept {
  // A WAL already starting right after `index` was compacted here once this snapshot was
  // durable (taken locally, or installed and aligned before): what follows continues it.
  if (wal_->first_index() > index) return ok();
  const auto term_there = wal_->term_at(index);
  const bool continues = term_there && *term_there == term;
  if (!continues && wal_->last_index() >= wal_->first_index()) WEFT_TRY(wal_->truncate_suffix(wal_->first_index()));
  WEFT_TRY(wal_->compact_prefix(index + 1));
  WEFT_TRY(wal_->sync());
  return ok();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::maybe_snapshot() noexcept {
  const raft::index_t applied = core_->applied_index();
  const raft::index_t last_snapshot = core_->snapshot().index;
  if (applied <= last_snapshot || receiving_snapshot_ || snapshot_writing_) return;  // one file at a time
  if (applied - last_snapshot < options_.snapshot_interval_entries &&
      bytes_since_snapshot_ < options_.snapshot_interval_bytes)
    return;
  if (auto taken = take_snapshot(); !taken) fail(taken.error());
}

/// Saves the state machine at the applied index into the store, then compacts the
/// in-memory log and the WAL up to it. With the snapshot thread the state is saved into
/// memory here and written by the thread (compaction follows in finish_snapshot_write());
/// otherwise, or when it outgrows max_snapshot_image_bytes, it is written here, durable on
/// return, and a large state stalls the loop for the write (docs/runtime.md).
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::take_snapshot() noexcept {
  const raft::index_t index = core_->applied_index();
  const raft::term_t term = core_->log().term_at(index);
  if (snapshot_worker_.running()) {
    auto imaged = save_snapshot_image();
    if (imaged) {
      snapshot_job_ = {index, term, {}, false, {}};
      snapshot_writing_ = true;
      bytes_since_snapshot_ = 0;
      snapshot_worker_.request(&write_snapshot_image, this);
      return ok();
    }
    if (!imaged.error().is(core_errc::capacity_exceeded)) return imaged.error();
  }
  WEFT_TRY(snapshots_->begin(index, term));
  const auto sink = [](void* context, byte_view bytes) noexcept {
    return static_cast<basic_node*>(context)->snapshots_->write(bytes);
  };
  snapshot_writer out(mutable_byte_view(snapshot_buffer_), sink, this);
  auto saved = sm_.save_snapshot(out);
  if (saved) saved = out.flush();
  if (!saved) {
    snapshots_->discard();
    return saved.error();
  }
  WEFT_TRY_ASSIGN(const storage::snapshot_meta meta, snapshots_->install());
  bytes_since_snapshot_ = 0;
  return compact_to_snapshot(index, meta);
}

/// The state machine saved into snapshot_image_; capacity_exceeded beyond
/// max_snapshot_image_bytes (the caller then writes it on the loop).
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::save_snapshot_image() noexcept {
  snapshot_image_.clear();
  const auto sink = [](void* context, byte_view bytes) noexcept -> result<void> {
    auto& self = *static_cast<basic_node*>(context);
    if (self.snapshot_image_.size() + bytes.size() > self.options_.max_snapshot_image_bytes)
      return error(core_errc::capacity_exceeded, "node: max_snapshot_image_bytes");
    self.snapshot_image_.insert(self.snapshot_image_.end(), bytes.begin(), bytes.end());
    return ok();
  };
  snapshot_writer out(mutable_byte_view(snapshot_buffer_), sink, this);
  WEFT_TRY(sm_.save_snapshot(out));
  return out.flush();
}

/// On the snapshot thread: writes, syncs and installs snapshot_image_ (the loop does not
/// touch snapshots_ meanwhile).
template <class Stack, class SM>
void basic_node<Stack, SM>::write_snapshot_image(void* context) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  auto& job = self.snapshot_job_;
  result<void> written = self.snapshots_->begin(job.index, job.term);
  if (written) written = self.snapshots_->write(byte_view(self.snapshot_image_));
  if (written) {
    if (auto installed = self.snapshots_->install(); installed) job.meta = *installed;
    else written = installed.error();
  }
  if (written) return;
  self.snapshots_->discard();
  job.failed = true;
  job.failure = written.error();
}

/// Back on the loop once the thread finished: compact to the installed snapshot.
template <class Stack, class SM>
result<void> basic_node<Stack, SM>::finish_snapshot_write() noexcept {
  if (!snapshot_writing_ || !snapshot_worker_.take_finished()) return ok();
  snapshot_writing_ = false;
  if (snapshot_job_.failed) return snapshot_job_.failure;
  return compact_to_snapshot(snapshot_job_.index, snapshot_job_.meta);
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::wait_for_snapshot_write() noexcept {
  if (!snapshot_writing_) return ok();
  snapshot_worker_.wait_idle();
  return finish_snapshot_write();
}

template <class Stack, class SM>
result<void> basic_node<Stack, SM>::compact_to_snapshot(raft::index_t index,
                                                       const storage::snapshot_meta& meta) noexcept {
  if (!core_->compact(index, meta.size_bytes)) {
    ++counters_.snapshots_skipped;  // e.g. before a configuration the core still needs
    return ok();
  }
  ++counters_.snapshots_taken;
  WEFT_TRY(wal_->compact_prefix(index + 1));
  return ok();
}

// ---- reads ---------------------------------------------------------------------------------

template <class Stack, class SM>
void basic_node<Stack, SM>::note_read_states(std::span<const raft::read_state> states) noexcept {
  for (const raft::read_state& r : states) {
    const auto awaited = std::find(awaited_reads_.begin(), awaited_reads_.end(), r.context);
    if (awaited != awaited_reads_.end()) awaited_reads_.erase(awaited);
    // A refused read (a follower read the leader would not confirm) carries no index:
    // serving it at index 0 would hand out stale state.
    if (r.refused) sm_.read_failed(r.context);
    else if (reads_.size() < options_.max_pending_reads) reads_.push_back({r.context, r.index});
    else ++counters_.reads_dropped;
  }
}

/// The core forgets unconfirmed reads when it stops leading; without this their callers
/// would wait for a timeout. Confirmed reads (in reads_) stay valid and are still served.
template <class Stack, class SM>
void basic_node<Stack, SM>::fail_awaited_reads() noexcept {
  for (const std::uint64_t context : awaited_reads_) {
    ++counters_.reads_failed;
    sm_.read_failed(context);
  }
  awaited_reads_.clear();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::send_raft(const raft::message& m) noexcept {
  if (isolated_) {
    ++counters_.dropped_isolated;
    return;
  }
  const byte_view frame = encode_raft(m);
  if (!frame.empty()) send_frame(static_cast<transport::peer_id>(m.to), frame);
}

template <class Stack, class SM>
void basic_node<Stack, SM>::send_frame(transport::peer_id to, byte_view frame) noexcept {
  if (isolated_) {
    ++counters_.dropped_isolated;
    return;
  }
  if (tcp_.send_message(to, frame)) ++counters_.raft_messages_sent;
  else ++counters_.raft_send_refused;  // Raft retries: heartbeats and probes resend
}

/// The message framed for the TCP link (tag byte + CBOR) in send_buffer_; empty when it
/// cannot be (counted).
template <class Stack, class SM>
byte_view basic_node<Stack, SM>::encode_raft(const raft::message& m) noexcept {
  raft::message filled;
  const raft::message* out = &m;
  if (m.type == raft::message_type::install_snapshot && m.data.empty() && m.data_size > 0) {
    if (!fill_snapshot_chunk(m, filled)) {
      ++counters_.snapshot_chunks_dropped;  // the core resends from the follower's offset
      return {};
    }
    out = &filled;
    ++counters_.snapshot_chunks_sent;
  }
  send_buffer_[0] = tag_raft;
  auto encoded = codec_.encode(*out, mutable_byte_view(send_buffer_.data() + 1, send_buffer_.size() - 1));
  if (!encoded) {
    ++counters_.raft_send_refused;
    return {};
  }
  return byte_view(send_buffer_.data(), encoded->size() + 1);
}

/// The core leaves an outgoing chunk's bytes to the driver: read them from the installed
/// snapshot, which must still be the one the message names.
template <class Stack, class SM>
bool basic_node<Stack, SM>::fill_snapshot_chunk(const raft::message& m, raft::message& filled) noexcept {
  if (snapshot_writing_) return false;  // the store is the writer thread's: the core resends
  const auto installed = snapshots_->latest();
  if (!installed || installed->index != m.snapshot_index || installed->term != m.snapshot_term ||
      m.data_size > chunk_buffer_.size())
    return false;
  const auto size = static_cast<std::size_t>(m.data_size);
  const auto got = snapshots_->read(m.snapshot_offset, mutable_byte_view(chunk_buffer_.data(), size));
  if (!got || *got != size) return false;
  filled = m;
  filled.data = byte_view(chunk_buffer_.data(), size);
  return true;
}

template <class Stack, class SM>
void basic_node<Stack, SM>::flush_swim() noexcept {
  if (!swim_) return;
  for (const swim::outgoing& o : swim_->sends()) {
    if (isolated_) {
      ++counters_.dropped_isolated;
      continue;
    }
    if (o.via == swim::channel::datagram) {
      (void)udp_.send_datagram(o.to, o.bytes);
      continue;
    }
    if (o.bytes.size() + 1 > send_buffer_.size()) continue;
    send_buffer_[0] = tag_swim_stream;
    std::memcpy(send_buffer_.data() + 1, o.bytes.data(), o.bytes.size());
    (void)tcp_.send_message(o.to, byte_view(send_buffer_.data(), o.bytes.size() + 1));
  }
  for (const swim::notification& n : swim_->notifications()) {
    switch (n.kind) {
      case swim::notification_kind::member_joined: add_event("member %llu alive", n.member, 0); break;
      case swim::notification_kind::member_suspected: add_event("member %llu suspect", n.member, 0); break;
      case swim::notification_kind::member_refuted: add_event("member %llu refuted suspicion", n.member, 0); break;
      case swim::notification_kind::member_failed: add_event("member %llu dead", n.member, 0); break;
      case swim::notification_kind::member_leaving: add_event("member %llu leaving", n.member, 0); break;
      case swim::notification_kind::member_left: add_event("member %llu left", n.member, 0); break;
      case swim::notification_kind::member_rejoined: add_event("member %llu rejoined", n.member, 0); break;
      default: break;
    }
  }
  swim_->clear_outputs();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::note_leadership() noexcept {
  const raft::node_id leader = core_->leader();
  const raft::term_t term = core_->term();
  const raft::role role = core_->current_role();
  if (role == raft::role::leader && (seen_role_ != raft::role::leader || seen_term_ != term))
    for (member_status& m : members_) m.match_index = 0;
  if (role != raft::role::leader || term != seen_term_) fail_awaited_reads();
  if (receiving_snapshot_ && (leader != seen_leader_ || term != seen_term_)) {
    snapshots_->discard();  // the core restarts a stream from offset 0 for a new leader or term
    receiving_snapshot_ = false;
  }
  if (leader != seen_leader_) {
    ++counters_.leader_changes;
    telemetry_.on_leader_change();
    if (leader != 0) add_event("member %llu is leader (term %llu)", leader, term);
    else add_event("no leader (term %llu)", term, 0);
  }
  seen_leader_ = leader;
  seen_term_ = term;
  seen_role_ = role;
}

template <class Stack, class SM>
void basic_node<Stack, SM>::refresh_members() noexcept {
  const bool leader = core_->current_role() == raft::role::leader;
  std::size_t alive = 1;
  for (member_status& m : members_) {
    m.swim_state = swim_->state_of(m.id);
    m.incarnation = swim_->incarnation_of(m.id);
    m.match_known = leader;
    alive += m.swim_state == swim::member_state::alive ? 1U : 0U;
    const auto peer = static_cast<transport::peer_id>(m.id);
    telemetry_.observe_peer(m.id, tcp_.traffic(peer), udp_.traffic(peer));
  }
  telemetry_.observe(status(), alive);
  telemetry_.observe_membership(*swim_);
}

template <class Stack, class SM>
void basic_node<Stack, SM>::add_event(const char* format, std::uint64_t a, std::uint64_t b) noexcept {
  node_event& e = events_[(event_head_ + event_count_) % max_events];
  if (event_count_ == max_events) event_head_ = (event_head_ + 1) % max_events;
  else ++event_count_;
  e.at_ms = to_ns(now()) / 1000000;
  std::snprintf(e.text, sizeof e.text, format, static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  ++event_sequence_;
}

template <class Stack, class SM>
void basic_node<Stack, SM>::wake() noexcept {
  if (wake_pending_ || wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) wake_pending_ = true;
}

/// From inside the loop (a message was read): process() once this epoll round's events are
/// all dispatched, without the eventfd's write, read and extra round.
template <class Stack, class SM>
void basic_node<Stack, SM>::process_after_events() noexcept {
  if (process_deferred_) return;
  if (loop_.defer(&on_deferred, this)) process_deferred_ = true;
  else wake();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_deferred(void* context) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  self.process_deferred_ = false;
  self.process();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::fail(const error& e) noexcept {
  // Storage failed: continuing could break the persistence ordering, so this member stops
  // taking part (it sends nothing more); the owner sees status().failed and should exit.
  failed_ = true;
  held_.clear();  // never acknowledged
  add_event("storage failure (code %llu): member %llu stopped", e.code(), options_.id);
}

// ---- event-loop callbacks ------------------------------------------------------------------

template <class Stack, class SM>
void basic_node<Stack, SM>::on_tick(void* context, std::uint32_t) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  std::uint64_t expirations = 0;
  if (::read(self.tick_fd_, &expirations, sizeof expirations) != static_cast<ssize_t>(sizeof expirations))
    return;
  if (self.failed_) return;
  // After a stall, catch up a few ticks, not all: a long pause should not fire elections.
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(expirations, 4); ++i) self.core_->tick();
  const time_point t = self.now();
  self.swim_->tick(t);
  if (t - self.last_join_ >= milliseconds(self.options_.swim_join_retry_ms)) {
    self.last_join_ = t;
    for (const member_status& m : self.members_)
      if (m.swim_state != swim::member_state::alive && m.swim_state != swim::member_state::suspect)
        (void)self.swim_->join(t, static_cast<swim::address>(m.id));
  }
  self.flush_swim();
  self.process();
  self.refresh_members();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_wake(void* context, std::uint32_t) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  std::uint64_t value = 0;
  (void)::read(self.wake_fd_, &value, sizeof value);
  self.wake_pending_ = false;
  self.process();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_synced(void* context, std::uint32_t) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  std::uint64_t value = 0;
  (void)::read(self.sync_worker_.completion_fd(), &value, sizeof value);
  self.process();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_snapshot_written(void* context, std::uint32_t) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  std::uint64_t value = 0;
  (void)::read(self.snapshot_worker_.completion_fd(), &value, sizeof value);
  self.process();
}

/// The WAL is about to seal the segment an outstanding sync may name: let that sync end.
template <class Stack, class SM>
void basic_node<Stack, SM>::on_wal_seal(void* context) noexcept {
  static_cast<basic_node*>(context)->sync_worker_.wait_idle();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_stream(void* context, transport::peer_id from, byte_view payload) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  if (self.isolated_) {
    ++self.counters_.dropped_isolated;
    return;
  }
  if (payload.empty() || self.failed_) return;
  const byte_view body = payload.subspan(1);
  if (payload[0] == tag_swim_stream) {
    if (!self.swim_->step_stream(self.now(), from, body)) ++self.counters_.swim_refused;
    self.flush_swim();
    return;
  }
  if (payload[0] != tag_raft) {
    ++self.counters_.raft_malformed;
    return;
  }
  wire::decode_limits limits;
  limits.max_total_bytes = self.options_.tcp.max_message_size_bytes;
  limits.max_string_bytes = self.options_.raft.max_bytes_per_message;
  auto decoded = self.codec_.decode(body, limits);
  if (!decoded || decoded->from != from) {  // a member may speak only for itself
    ++self.counters_.raft_malformed;
    return;
  }
  const raft::message& m = *decoded;
  ++self.counters_.raft_messages_received;
  if (m.type == raft::message_type::append_response && !m.reject && m.term == self.core_->term()) {
    for (member_status& s : self.members_)
      if (s.id == m.from) s.match_index = std::max(s.match_index, m.log_index);
  }
  self.core_->step(m);
  self.process_after_events();
}

template <class Stack, class SM>
void basic_node<Stack, SM>::on_datagram(void* context, transport::peer_id from, transport::ipv4_endpoint,
                                        byte_view payload, bool) noexcept {
  auto& self = *static_cast<basic_node*>(context);
  if (self.isolated_) {
    ++self.counters_.dropped_isolated;
    return;
  }
  if (self.failed_) return;
  if (!self.swim_->step(self.now(), from, payload)) ++self.counters_.swim_refused;
  self.flush_swim();
}

}  // namespace runtime
WEFT_END
