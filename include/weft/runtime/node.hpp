// weft/runtime/node.hpp - the hosted node driver: binds the pure Raft core to the file WAL
// and stable store, the TCP transport (Raft and SWIM push-pull), the UDP transport with the
// SWIM core (membership) and a telemetry policy, on one weft::runtime::event_loop.
// weft:hosted (POSIX files, sockets, timerfd, eventfd)
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <concepts>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "weft/config.hpp"
#include "weft/consensus/raft/codec.hpp"
#include "weft/consensus/raft/core.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/membership/swim/sodium_admission.hpp"
#include "weft/membership/swim/swim.hpp"
#include "weft/runtime/detail/storage_thread.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/event_loop.hpp"
#include "weft/runtime/snapshot_stream.hpp"
#include "weft/storage/posix_file_system.hpp"
#include "weft/storage/snapshot.hpp"
#include "weft/storage/stable_file.hpp"
#include "weft/storage/wal.hpp"
#include "weft/telemetry/catalogue.hpp"
#include "weft/transport/peer_metrics.hpp"
#include "weft/transport/tcp.hpp"
#include "weft/transport/udp.hpp"

WEFT_BEGIN
namespace runtime {

/// Another founding member of the group (membership is static in this driver).
struct node_peer {
  std::uint64_t id = 0;
  transport::ipv4_endpoint raft_address{};
  transport::ipv4_endpoint swim_address{};
  /// The member's Ed25519 public key: its Noise static key (as X25519) must match it.
  std::optional<std::array<std::uint8_t, 32>> member_key{};
};

/// Defaults of the Raft core that suit a driver ticking every 10 ms on a LAN.
[[nodiscard]] inline raft::options default_node_raft_options() noexcept {
  raft::options o;
  o.election_timeout_ticks_min = 30;
  o.election_timeout_ticks_max = 60;
  o.heartbeat_interval_ticks = 5;
  o.max_bytes_per_message = 256u << 10;
  o.max_inflight_bytes = 8u << 20;
  o.max_bytes_per_entry = 64u << 10;
  // The node snapshots every node_options::snapshot_interval_entries / _bytes, so the log
  // only holds what came after the last snapshot plus what is not yet committed.
  o.max_log_entries_in_memory = 1u << 17;
  o.max_log_bytes_in_memory = 64u << 20;
  return o;
}

[[nodiscard]] inline swim::options default_node_swim_options() noexcept {
  swim::options o;
  o.probe_interval_ms = 500;
  o.probe_timeout_ms = 200;
  o.stall_threshold_ms = 2000;
  o.gossip_interval_ms = 100;
  o.push_pull_interval_ms = 10000;
  o.leave_propagate_ms = 200;
  o.mtu_bytes = 1400 - transport::udp_transport::max_overhead_bytes;  // room to seal
  return o;
}

struct node_options {
  std::uint64_t id = 0;
  transport::ipv4_endpoint raft_address{};  // TCP listen address
  transport::ipv4_endpoint swim_address{};  // UDP bind address
  std::vector<node_peer> peers;             // the other founding members
  std::string data_dir;                     // created when absent
  std::uint32_t tick_ms = 10;               // one Raft tick
  raft::options raft = default_node_raft_options();
  transport::tcp_options tcp{};
  transport::udp_options udp{};
  swim::options swim = default_node_swim_options();
  storage::wal_options wal{};
  std::uint64_t admission_seed = 0x77656674u;  // test admission scheme only (INSECURE)
  /// This member's Ed25519 seed: its Noise static key and datagram sealing key (as X25519).
  /// Required, with every peer's member_key, when tcp.security is noise or udp.security sealed.
  std::optional<std::array<std::uint8_t, 32>> member_seed{};
  /// Ed25519 SWIM admission (a Stack whose admission is swim::ed25519_admission_scheme, such
  /// as secure_stack): the admin's public key, every member's trust anchor, and this
  /// member's admin-signed statement (`weft admit member`). Checked at open().
  std::optional<std::array<std::uint8_t, 32>> admin_public_key{};
  std::vector<std::uint8_t> admission_statement{};
  std::uint32_t max_ready_rounds_per_wake = 16;  // bounds one process() call
  std::uint32_t max_pending_reads = 4096;        // read states waiting for apply
  std::int64_t swim_join_retry_ms = 1000;
  // Snapshot the state machine (and compact the log and the WAL) once this many entries,
  // or this many payload bytes, were applied since the last snapshot.
  std::uint64_t snapshot_interval_entries = 50000;
  std::uint64_t snapshot_interval_bytes = 16u << 20;
  std::size_t snapshot_buffer_size_bytes = 64u << 10;  // save/load/stream buffer, each
  storage::snapshot_options snapshot{};
  // The storage thread (docs/runtime.md, "Storage thread"): each batch's WAL records are
  // written on the loop and synced on a thread of their own while the loop goes on; the
  // batch's send_after_persist messages and persisted() wait, in order, for that sync.
  // false: every batch syncs on the loop thread (targets without threads, A/B measurement).
  bool storage_thread = true;
  std::uint32_t max_batches_awaiting_sync = 1024;     // beyond: the loop waits for the thread
  std::uint32_t max_messages_awaiting_sync = 4096;    // held send_after_persist messages
  std::size_t message_bytes_awaiting_sync = 1u << 20;  // their encoded bytes
  // A batch of fewer entries than this, with no earlier batch awaiting its sync, is synced
  // on the loop: with nothing else waiting, the hand-off to the thread and back (two
  // wake-ups) only adds latency (one client: p50 0.21 ms on the loop, 0.31 ms handed off).
  // 0: every batch goes to the thread.
  std::uint32_t sync_on_loop_below_entries = 4;
  // With the storage thread, a local snapshot is saved into memory on the loop (up to this
  // size; kept between snapshots) and written, synced and installed by a thread; a larger
  // one, or any without the storage thread, is written on the loop. 0: always on the loop.
  std::size_t max_snapshot_image_bytes = 256u << 20;

  [[nodiscard]] result<void> validate() const noexcept {
    const auto bad = [](const char* where) { return result<void>(error(core_errc::invalid_options, where)); };
    if (id == 0 || id >= (std::uint64_t{1} << 31)) return bad("node_options.id outside [1, 2^31)");
    if (peers.size() + 1 > raft::max_config_members) return bad("node_options.peers: too many");
    for (const node_peer& p : peers)
      if (p.id == 0 || p.id == id || p.id >= (std::uint64_t{1} << 31))
        return bad("node_options.peers: bad or duplicate id");
    if (data_dir.empty() || data_dir.size() > 3000) return bad("node_options.data_dir");
    if (tick_ms == 0 || tick_ms > 10000) return bad("node_options.tick_ms outside [1, 10000]");
    if (max_ready_rounds_per_wake == 0 || max_pending_reads == 0 || swim_join_retry_ms <= 0)
      return bad("node_options: zero limit");
    if (max_batches_awaiting_sync == 0 || max_messages_awaiting_sync == 0 || message_bytes_awaiting_sync < 4096)
      return bad("node_options: max_batches_awaiting_sync, max_messages_awaiting_sync or message_bytes_awaiting_sync");
    if (snapshot_interval_entries == 0 || snapshot_interval_bytes == 0 || snapshot_buffer_size_bytes < 64)
      return bad("node_options: snapshot_interval_entries, snapshot_interval_bytes or snapshot_buffer_size_bytes");
    if (snapshot_interval_entries + raft.max_uncommitted_entries > raft.max_log_entries_in_memory)
      return bad("node_options: snapshot_interval_entries + raft.max_uncommitted_entries > raft.max_log_entries_in_memory");
    if (snapshot_interval_bytes > raft.max_log_bytes_in_memory / 2)
      return bad("node_options: snapshot_interval_bytes > raft.max_log_bytes_in_memory / 2");
    if (raft.max_entries_per_message > raft::max_wire_entries)
      return bad("node_options: raft.max_entries_per_message above raft::max_wire_entries");
    if (tcp.max_message_size_bytes < raft.max_bytes_per_message + 4096)
      return bad("node_options: tcp.max_message_size_bytes < raft.max_bytes_per_message + 4 KiB");
    if (wal.max_record_size_bytes < raft.max_bytes_per_entry + 1)
      return bad("node_options: wal.max_record_size_bytes <= raft.max_bytes_per_entry");
    if (swim.mtu_bytes + transport::udp_transport::max_overhead_bytes > udp.max_datagram_size_bytes)
      return bad("node_options: swim.mtu_bytes + 48 > udp.max_datagram_size_bytes");
    if (tcp.security == transport::tcp_security::noise) {
      if (!member_seed) return bad("node_options.member_seed: needed for tcp.security = noise");
      for (const node_peer& p : peers)
        if (!p.member_key) return bad("node_options.peers: member_key needed for tcp.security = noise");
    }
    if (udp.security == transport::udp_security::sealed) {
      if (!member_seed) return bad("node_options.member_seed: needed for udp.security = sealed");
      for (const node_peer& p : peers)
        if (!p.member_key) return bad("node_options.peers: member_key needed for udp.security = sealed");
    }
    raft::options with_id = raft;
    with_id.id = id;  // open() sets it the same way
    WEFT_TRY(with_id.validate());
    WEFT_TRY(swim.validate());
    WEFT_TRY(tcp.validate());
    WEFT_TRY(udp.validate());
    WEFT_TRY(snapshot.validate());
    return wal.validate();
  }
};

/// What this node knows of another member.
struct member_status {
  std::uint64_t id = 0;
  swim::member_state swim_state = swim::member_state::absent;
  std::uint64_t incarnation = 0;
  bool match_known = false;  // true on the leader only
  raft::index_t match_index = 0;
};

struct node_counters {
  std::uint64_t raft_messages_sent = 0;
  std::uint64_t raft_messages_received = 0;
  std::uint64_t raft_send_refused = 0;      // transport queue full or peer unknown
  std::uint64_t raft_malformed = 0;         // undecodable frames (dropped)
  std::uint64_t swim_refused = 0;           // datagrams or streams the SWIM core refused
  std::uint64_t dropped_isolated = 0;       // traffic dropped by the isolation test hook
  std::uint64_t snapshots_taken = 0;        // local snapshots (then log and WAL compacted)
  std::uint64_t snapshots_installed = 0;    // snapshots received from a leader and loaded
  std::uint64_t snapshot_chunks_sent = 0;
  std::uint64_t snapshot_chunks_dropped = 0;  // chunk of a snapshot no longer held, or unreadable
  std::uint64_t snapshots_skipped = 0;      // the core refused to compact at the applied index
  std::uint64_t wal_syncs = 0;
  std::uint64_t wal_syncs_on_loop = 0;      // of wal_syncs: made on the loop thread
  std::uint64_t hard_state_saves = 0;
  std::uint64_t entries_applied = 0;
  std::uint64_t reads_released = 0;
  std::uint64_t reads_dropped = 0;          // read states beyond max_pending_reads
  std::uint64_t reads_failed = 0;           // reads cancelled because leadership was lost
  std::uint64_t leader_changes = 0;
};

/// One membership or leadership event for the status feed (steady-clock time).
struct node_event {
  std::int64_t at_ms = 0;
  char text[72] = {};
};

/// The driver's view for /status.
struct node_status {
  std::uint64_t id = 0;
  raft::role role = raft::role::follower;
  raft::term_t term = 0;
  raft::node_id leader = 0;
  raft::index_t commit_index = 0;
  raft::index_t applied_index = 0;
  raft::index_t last_index = 0;
  bool isolated = false;
  bool failed = false;  // storage failed: the node stopped taking part
  // What opening the WAL found (storage::recovery_report): a torn tail cut off, and the
  // alarm that the tail began with a record written whole and damaged later, which may
  // have been acknowledged (this member gets such entries back from its peers).
  std::uint64_t wal_torn_tails_repaired = 0;
  std::uint64_t wal_possible_acknowledged_loss = 0;
};

/// Telemetry policy that costs nothing.
struct null_node_telemetry {
  void observe(const node_status&, std::size_t) noexcept {}
  template <class Membership>
  void observe_membership(const Membership&) noexcept {}
  void on_fsync(std::int64_t, std::uint64_t) noexcept {}
  void on_applied(std::uint64_t) noexcept {}
  void on_leader_change() noexcept {}
  void on_recovered(const storage::recovery_report&) noexcept {}
  void on_proposal_failed() noexcept {}
  void observe_peer(std::uint64_t, const transport::peer_traffic*, const transport::peer_traffic*) noexcept {}
};

/// Telemetry policy that feeds the process-wide series of weft/telemetry/catalogue.hpp.
/// Counters the SWIM core and the commit index keep as running totals are exported as the
/// growth seen since the previous observation (so several nodes in one process add up).
struct catalogue_node_telemetry {
  void observe(const node_status& s, std::size_t members_alive) noexcept {
    namespace c = telemetry::catalogue;
    c::raft_has_leader.set(s.leader != 0 ? 1 : 0);
    c::raft_term.set(static_cast<std::int64_t>(s.term));
    c::raft_apply_lag.set(static_cast<std::int64_t>(s.commit_index - s.applied_index));
    // Entries this leader appended that no quorum has acknowledged yet.
    const bool leading = s.role == raft::role::leader && s.last_index > s.commit_index;
    c::raft_proposals_pending.set(leading ? static_cast<std::int64_t>(s.last_index - s.commit_index) : 0);
    c::raft_proposals_committed.add(growth(seen_commit_index_, s.commit_index));
    c::swim_members.set(static_cast<std::int64_t>(members_alive));
  }
  /// `Membership` is a swim::basic_core: health_score(), broadcast_queue_size(), stats().
  template <class Membership>
  void observe_membership(const Membership& swim) noexcept {
    namespace c = telemetry::catalogue;
    c::swim_health_score.set(static_cast<std::int64_t>(swim.health_score()));
    c::swim_queue_depth.set(static_cast<std::int64_t>(swim.broadcast_queue_size()));
    const auto& totals = swim.stats();
    c::swim_probes.add(growth(seen_swim_.probes, totals.probes));
    c::swim_probe_failures.add(growth(seen_swim_.probe_failures, totals.probe_failures));
    c::swim_suspects.add(growth(seen_swim_.suspicions, totals.suspicions_started));
    c::swim_deads.add(growth(seen_swim_.deads, totals.dead_verdicts));
    c::swim_refutes.add(growth(seen_swim_.refutes, totals.refutations));
  }
  void on_fsync(std::int64_t ns, std::uint64_t bytes) noexcept {
    telemetry::catalogue::wal_fsync_duration.record(static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)));
    telemetry::catalogue::wal_written_bytes.add(bytes);
  }
  void on_applied(std::uint64_t n) noexcept { telemetry::catalogue::raft_proposals_applied.add(n); }
  void on_leader_change() noexcept { telemetry::catalogue::raft_leader_changes.add(1); }
  void on_recovered(const storage::recovery_report& report) noexcept {
    telemetry::catalogue::wal_torn_tail_repairs.add(report.torn_tails_repaired);
    telemetry::catalogue::wal_possible_acknowledged_loss.add(report.possible_acknowledged_loss);
  }
  void on_proposal_failed() noexcept { telemetry::catalogue::raft_proposals_failed.add(1); }
  /// Per-peer transport series (label peer = member id; TCP and UDP summed).
  void observe_peer(std::uint64_t id, const transport::peer_traffic* stream,
                    const transport::peer_traffic* datagram) noexcept {
    peers_.observe(static_cast<transport::peer_id>(id), stream, datagram);
  }

 private:
  /// Growth of a running total since the last call; a total that went back (a restarted
  /// core) starts over from its new value.
  static std::uint64_t growth(std::uint64_t& seen, std::uint64_t total) noexcept {
    const std::uint64_t grown = total >= seen ? total - seen : total;
    seen = total;
    return grown;
  }
  std::uint64_t seen_commit_index_ = 0;
  struct {
    std::uint64_t probes = 0, probe_failures = 0, suspicions = 0, deads = 0, refutes = 0;
  } seen_swim_;
  transport::peer_traffic_exporter peers_;
};

/// The policies of a hosted node (DESIGN.md §3).
struct default_stack {
  using clock = steady_clock;
  using random = xoshiro256;
  using file_system = storage::posix_file_system;
  using stream_transport = transport::tcp_transport;
  using datagram_transport = transport::udp_transport;
  using admission = swim::test_admission_scheme;  // INSECURE: see docs/runtime.md
  using codec = raft::message_codec;  // deterministic CBOR (weft/consensus/raft/codec.hpp)
  using telemetry = catalogue_node_telemetry;
};

/// What a state machine gives the node: apply committed normal entries in log order; hear
/// when a ReadIndex read of `context` may be served (applied has reached its index) or has
/// failed (this member lost leadership before a quorum confirmed it: ask the new leader);
/// save its whole state into a snapshot, and replace its whole state with a snapshot's.
template <class SM>
concept node_state_machine = requires(SM& sm, raft::index_t index, byte_view payload,
                                      std::uint64_t context, snapshot_writer& out,
                                      snapshot_reader& in) {
  { sm.apply(index, payload) } noexcept;
  { sm.read_ready(context) } noexcept;
  { sm.read_failed(context) } noexcept;
  { sm.save_snapshot(out) } noexcept -> std::same_as<result<void>>;
  { sm.load_snapshot(in) } noexcept -> std::same_as<result<void>>;
};

template <class Stack, class StateMachine>
class basic_node {
  static_assert(node_state_machine<StateMachine>,
                "StateMachine needs apply, read_ready, read_failed, save_snapshot and "
                "load_snapshot (all noexcept); see docs/runtime.md");

 public:
  using core_type = raft::basic_core<typename Stack::random>;
  using swim_type = swim::basic_core<typename Stack::admission, typename Stack::random>;
  static constexpr std::uint8_t tag_raft = 1;
  static constexpr std::uint8_t tag_swim_stream = 2;
  static constexpr std::size_t max_events = 50;

  basic_node(event_loop& loop, StateMachine& sm) noexcept : loop_(loop), sm_(sm) {}
  basic_node(const basic_node&) = delete;
  basic_node& operator=(const basic_node&) = delete;
  ~basic_node() { close(); }

  /// Recovers from `options.data_dir` (or bootstraps a new group), opens the transports
  /// and starts ticking on the loop.
  [[nodiscard]] result<void> open(const node_options& options) noexcept;
  /// Flushes the WAL and closes everything (after leave(), if the mesh should know).
  void close() noexcept;
  /// SWIM graceful leave; the loop must keep running ~leave_propagate_ms to spread it.
  result<void> leave() noexcept;

  /// Proposes a normal entry: its index on the leader, 0 when forwarded to the leader.
  [[nodiscard]] result<raft::index_t> propose(byte_view payload) noexcept;
  /// Starts a ReadIndex read (leader only); sm.read_ready(context) fires once it may be served.
  [[nodiscard]] result<void> read_index(std::uint64_t context) noexcept;

  /// Key rotation: member `id` now holds `member_key` (Ed25519). Its Noise links re-handshake
  /// (connections the old key proved are closed) and its datagrams are sealed with the new
  /// pair keys, so the old key is refused on TCP and UDP from now on.
  [[nodiscard]] result<void> set_member_key(std::uint64_t id,
                                            const std::array<std::uint8_t, 32>& member_key) noexcept;
  /// Revocation: SWIM refuses alive claims admitted for an epoch below `epoch` (after the
  /// admin re-issued every statement at `epoch` or above). One member's re-issued statement
  /// at a higher epoch supersedes its older ones without this.
  void revoke_admissions_below(std::uint64_t epoch) noexcept {
    if (swim_) swim_->revoke_admissions_below(epoch);
  }

  /// Test hook: drop every Raft and SWIM message in and out while isolated.
  void set_isolated(bool isolated) noexcept { isolated_ = isolated; }

  [[nodiscard]] node_status status() const noexcept;
  [[nodiscard]] std::span<const member_status> members() const noexcept { return members_; }
  [[nodiscard]] const node_counters& counters() const noexcept { return counters_; }
  /// What recovery found when open() opened the WAL (file, offset, reason of a repair).
  [[nodiscard]] const storage::recovery_report& wal_recovery() const noexcept { return wal_recovery_; }
  [[nodiscard]] const core_type* core() const noexcept { return core_ ? &*core_ : nullptr; }
  [[nodiscard]] const swim_type* membership() const noexcept { return swim_ ? &*swim_ : nullptr; }
  [[nodiscard]] const transport::tcp_counters& tcp_counters() const noexcept { return tcp_.counters(); }
  [[nodiscard]] const transport::udp_counters& udp_counters() const noexcept { return udp_.counters(); }
  [[nodiscard]] typename Stack::telemetry& telemetry() noexcept { return telemetry_; }
  /// Events oldest first (at most max_events).
  template <class F>
  void for_each_event(F&& visit) const noexcept {
    for (std::size_t i = 0; i < event_count_; ++i)
      visit(events_[(event_head_ + i) % max_events]);
  }
  [[nodiscard]] std::uint64_t event_sequence() const noexcept { return event_sequence_; }

  /// Runs pending Raft work now (the loop also does so on its own).
  void process() noexcept;

 private:
  struct pending_read {
    std::uint64_t context;
    raft::index_t index;
  };

  [[nodiscard]] result<void> open_storage() noexcept;
  [[nodiscard]] result<void> open_transports() noexcept;
  [[nodiscard]] result<void> recover_core() noexcept;
  [[nodiscard]] result<void> open_membership() noexcept;
  [[nodiscard]] result<void> start_membership(const swim::identity& me, typename Stack::admission signer,
                                              std::span<const byte_view> anchors) noexcept;
  [[nodiscard]] result<void> open_fds() noexcept;
  [[nodiscard]] result<std::uint64_t> next_incarnation() noexcept;
  [[nodiscard]] bool will_block(const raft::ready_batch::persist_part& part) const noexcept;
  [[nodiscard]] result<void> persist_in_turn(const raft::ready_batch& rb) noexcept;
  [[nodiscard]] result<void> persist_on_thread(const raft::ready_batch& rb) noexcept;
  [[nodiscard]] bool needs_loop_persist(const raft::ready_batch& rb) const noexcept;
  [[nodiscard]] result<void> hold_after_persist(std::span<const raft::message> messages) noexcept;
  [[nodiscard]] result<void> release_synced() noexcept;
  [[nodiscard]] result<void> wait_for_syncs() noexcept;
  [[nodiscard]] result<void> persist(const raft::ready_batch::persist_part& part) noexcept;
  [[nodiscard]] result<void> persist_entries(const raft::entry_range& entries) noexcept;
  [[nodiscard]] result<std::uint64_t> append_entries(const raft::entry_range& entries) noexcept;
  [[nodiscard]] result<void> persist_snapshot_chunk(const raft::snapshot_chunk& chunk) noexcept;
  [[nodiscard]] result<void> load_snapshot(const storage::snapshot_meta& meta) noexcept;
  [[nodiscard]] result<void> align_wal_with_snapshot(raft::index_t index, raft::term_t term) noexcept;
  [[nodiscard]] result<void> take_snapshot() noexcept;
  [[nodiscard]] result<void> save_snapshot_image() noexcept;
  [[nodiscard]] result<void> compact_to_snapshot(raft::index_t index, const storage::snapshot_meta& meta) noexcept;
  [[nodiscard]] result<void> finish_snapshot_write() noexcept;
  [[nodiscard]] result<void> wait_for_snapshot_write() noexcept;
  static void write_snapshot_image(void* context) noexcept;
  static void on_snapshot_written(void* context, std::uint32_t) noexcept;
  void maybe_snapshot() noexcept;
  void note_read_states(std::span<const raft::read_state> states) noexcept;
  void fail_awaited_reads() noexcept;
  void apply(const raft::entry_range& committed) noexcept;
  void send_raft(const raft::message& m) noexcept;
  [[nodiscard]] byte_view encode_raft(const raft::message& m) noexcept;
  void send_frame(transport::peer_id to, byte_view frame) noexcept;
  [[nodiscard]] bool fill_snapshot_chunk(const raft::message& m, raft::message& filled) noexcept;
  void flush_swim() noexcept;
  void note_leadership() noexcept;
  void refresh_members() noexcept;
  void add_event(const char* format, std::uint64_t a, std::uint64_t b) noexcept;
  void wake() noexcept;
  void process_after_events() noexcept;
  void fail(const error& e) noexcept;
  [[nodiscard]] time_point now() const noexcept { return clock_.now(); }

  static void on_tick(void* context, std::uint32_t) noexcept;
  static void on_wake(void* context, std::uint32_t) noexcept;
  static void on_deferred(void* context) noexcept;
  static void on_synced(void* context, std::uint32_t) noexcept;
  static void on_wal_seal(void* context) noexcept;
  static void on_stream(void* context, transport::peer_id from, byte_view payload) noexcept;
  static void on_link(void*, transport::peer_id, bool) noexcept {}
  static void on_datagram(void* context, transport::peer_id from, transport::ipv4_endpoint,
                          byte_view payload, bool known) noexcept;

  event_loop& loop_;
  StateMachine& sm_;
  node_options options_{};
  typename Stack::clock clock_{};
  typename Stack::telemetry telemetry_{};
  typename Stack::file_system state_fs_{};
  typename Stack::file_system wal_fs_{};
  std::optional<storage::file_stable_store<typename Stack::file_system>> stable_;
  std::optional<storage::wal<typename Stack::file_system>> wal_;
  detail::sync_worker<typename Stack::file_system> sync_worker_;  // runs the WAL's syncs
  detail::held_batches held_;  // batches written, waiting for their sync (loop thread only)
  storage::recovery_report wal_recovery_{};
  typename Stack::file_system snapshot_fs_{};
  std::optional<storage::file_snapshot_store<typename Stack::file_system>> snapshots_;
  std::vector<std::uint8_t> snapshot_buffer_;  // save/load through snapshot_writer/reader
  std::vector<std::uint8_t> chunk_buffer_;     // one outgoing install-snapshot chunk
  std::uint64_t bytes_since_snapshot_ = 0;
  bool receiving_snapshot_ = false;  // a leader's snapshot is being written to the store
  // A local snapshot written by snapshot_worker_: while true the worker owns snapshots_,
  // snapshot_image_ and snapshot_job_ (the loop reads the job only after take_finished()).
  bool snapshot_writing_ = false;
  detail::job_worker snapshot_worker_;
  std::vector<std::uint8_t> snapshot_image_;
  struct {
    raft::index_t index = 0;
    raft::term_t term = 0;
    storage::snapshot_meta meta{};
    bool failed = false;
    error failure{};
  } snapshot_job_;
  std::optional<core_type> core_;
  std::optional<swim_type> swim_;
  typename Stack::stream_transport tcp_{};
  typename Stack::datagram_transport udp_{};
  int tick_fd_ = -1;
  int wake_fd_ = -1;
  bool wake_pending_ = false;
  bool process_deferred_ = false;  // on_deferred is queued on the loop
  bool isolated_ = false;
  bool failed_ = false;
  bool open_ = false;
  bool in_process_ = false;
  raft::hard_state saved_state_{};
  std::vector<std::uint8_t> send_buffer_;
  std::vector<std::uint8_t> record_buffer_;
  typename Stack::codec codec_{};  // one message at a time: encode, or decode then step
  std::vector<pending_read> reads_;
  std::vector<std::uint64_t> awaited_reads_;  // asked of the core, no read state yet
  std::vector<member_status> members_;
  node_event events_[max_events]{};
  std::size_t event_head_ = 0;
  std::size_t event_count_ = 0;
  std::uint64_t event_sequence_ = 0;
  raft::node_id seen_leader_ = 0;
  raft::term_t seen_term_ = 0;
  raft::role seen_role_ = raft::role::follower;
  time_point last_join_{};
  node_counters counters_{};
};

template <class StateMachine>
using node = basic_node<default_stack, StateMachine>;

/// default_stack with real admission: Ed25519 statements from an admin key
/// (swim/sodium_admission.hpp); needs member_seed, admin_public_key and admission_statement.
struct secure_stack : default_stack {
  using admission = swim::ed25519_admission_scheme;
};

}  // namespace runtime
WEFT_END

#include "weft/runtime/detail/node_impl.hpp"
