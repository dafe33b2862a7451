// weft/storage/raft_sim_scenario.hpp - the `raft` scenario for `weft sim`: Raft cores that
// persist every ready batch into a file WAL and hard-state file on their own sim::disk,
// exchange CBOR messages over sim::network, and replicate a key-value store whose client
// histories the linearizability checker verifies. Faults: partitions, loss, duplication,
// reordering, crashes (unsynced writes lost or torn), pauses, clock jumps and disk
// corruption within the disk-fault budget. A member whose disk reports damage on restart
// stops taking part for good (fail-stop) instead of serving what it could not read back.
// Invariants checked after every step: one leader per term, leader completeness (no
// committed entry lost), identical applied sequences, nobody applies past commit.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weft/config.hpp"
#include "weft/consensus/raft/codec.hpp"
#include "weft/consensus/raft/core.hpp"
#include "weft/core/endian.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/linearizability.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/world.hpp"
#include "weft/storage/raft_bridge.hpp"
#include "weft/storage/stable_file.hpp"
#include "weft/storage/wal.hpp"

WEFT_BEGIN
namespace storage {

struct raft_sim_options {
  std::int64_t active_ns = 1'000'000'000;   // clients and the nemesis run this long
  std::int64_t quiet_ns = 1'500'000'000;    // then faults stop and pending operations end
  std::int64_t tick_ns = 10'000'000;        // one Raft tick on each member's own clock
  std::int64_t think_max_ns = 15'000'000;   // between a client's operations
  std::int64_t timeout_ns = 300'000'000;    // an operation gives up: outcome unknown
  std::int64_t sync_ns = 2'000'000;         // an fdatasync: a crash inside it loses the batch
  std::uint32_t keys = 3;
  std::uint64_t max_checker_states = 500'000;
  // The planted bug tests use to show the swarm finds lost writes: the WAL never syncs, so
  // a crash loses entries the member already acknowledged.
  bool bug_skip_sync = false;
  // Every this often (0: never) the current leader is asked, at random, to transfer its
  // leadership to another member or to change the membership one step: add a learner,
  // promote it, or remove a voter (a removed member comes back later as a learner).
  std::int64_t reconfigure_interval_ns = 0;
};

namespace detail {

inline constexpr std::size_t kv_command_size = 25;  // kind, key, value, operation id

inline std::array<std::uint8_t, kv_command_size> encode_kv_command(
    std::uint8_t kind, std::int64_t key, std::int64_t value, std::uint64_t op) noexcept {
  std::array<std::uint8_t, kv_command_size> out{};
  out[0] = kind;
  store_be<std::uint64_t>(out.data() + 1, static_cast<std::uint64_t>(key));
  store_be<std::uint64_t>(out.data() + 9, static_cast<std::uint64_t>(value));
  store_be<std::uint64_t>(out.data() + 17, op);
  return out;
}

struct raft_sim_member {
  std::unique_ptr<raft::core> core;
  std::unique_ptr<wal<sim::disk>> log;
  std::unique_ptr<file_stable_store<sim::disk>> stable;
  hard_state saved{};
  std::map<std::int64_t, std::int64_t> kv;
  raft::index_t applied = 0;
  bool failed = false;  // its disk reported damage: out of the group for good
  // Batches written but not yet synced: the sync completes when the disk is done; only then
  // are the entries reported persisted and the batch's dependent messages sent.
  struct unsynced_batch {
    raft::index_t last_index = 0;
    raft::term_t last_term = 0;
    std::vector<std::pair<raft::node_id, std::vector<std::uint8_t>>> outbox;
  };
  std::vector<unsynced_batch> unsynced;  // oldest first
};

/// The client on one node: one operation at a time, proposed to the member its own member
/// believes leads (a redirect without the round trip).
struct raft_sim_client {
  std::uint64_t op = 0;  // history id + 1 of the operation in flight (0: idle)
  sim::node_id proposer = 0;
  raft::index_t index = 0;
  std::int64_t deadline_ns = 0;
};

}  // namespace detail

class raft_sim_cluster {
 public:
  raft_sim_cluster(std::uint64_t seed, const sim::run_options& run, const raft_sim_options& o)
      : options_(o),
        reconfigure_random_(seed ^ 0x5265636f6e666967ull),
        world_({.seed = seed, .nodes = run.nodes, .max_pending_events = 1u << 16}),
        net_(world_, {.max_datagram_size_bytes = 2048,
                      .max_message_size_bytes = 2048,
                      .max_in_flight_messages = 4096}) {
    mix_ = sim::fault_mix::generate(seed, run.faults);
    sim::disk_options disk_options;
    disk_options.capacity_bytes = 16u << 20;
    // Small sectors on half the seeds: a crash then tears records in the middle (headers
    // too), not only between the (sector-sized) groups a real 512-byte sector keeps whole;
    // and the first write a crash loses is usually torn, so recoveries meet torn tails
    // often (the swarm test counts them).
    if ((seed & 2) != 0) disk_options.sector_size_bytes = 16;
    disk_options.torn_write_probability = 0.9;
    for (sim::node_id n = 0; n < run.nodes; ++n) {
      disks_.push_back(std::make_unique<sim::disk>(world_, n, disk_options));
      disk_pointers_.push_back(disks_.back().get());
      net_.set_receiver(n, {&raft_sim_cluster::on_message, nullptr, this});
      (void)config_.members.push_back(raft::member{.id = n + 1u});
    }
    members_.resize(run.nodes);
    clients_.resize(run.nodes);
    sim::nemesis::options nemo;
    nemo.max_down = (run.nodes - 1) / 2;
    nemo.disk_budget = {run.max_faulty_disks, 1};
    nemesis_ = std::make_unique<sim::nemesis>(world_, &net_, disk_pointers_, mix_, nemo);
    (void)world_.add_listener(&raft_sim_cluster::on_lifecycle, this);
    world_.set_trace(run.trace, run.trace_context);
    auto kind = world_.event_kind("raft_tick", "", "");
    tick_kind_ = kind ? *kind : 0;
    kind = world_.event_kind("client", "op", "");
    client_kind_ = kind ? *kind : 0;
    kind = world_.event_kind("wal_synced", "", "");
    sync_kind_ = kind ? *kind : 0;
    kind = world_.event_kind("reconfigure", "", "");
    reconfigure_kind_ = kind ? *kind : 0;
    scratch_.resize(4096);
    send_buffer_.resize(2048);
  }

  sim::outcome run() {
    if (!world_.status() || !net_.status()) return failed("setup refused");
    for (sim::node_id n = 0; n < world_.node_count(); ++n) start_member(n, true);
    if (auto started = nemesis_->start(); !started)
      return failed(std::string(started.error().message()));
    schedule_reconfigure();
    world_.run_until(time_point_from_ns(options_.active_ns));
    stopping_ = true;
    nemesis_->stop();
    world_.run_until(time_point_from_ns(options_.active_ns + options_.quiet_ns));
    for (sim::node_id n = 0; n < world_.node_count(); ++n) abandon(n);
    sim::outcome out;
    out.events = world_.events_processed();
    out.trace_hash = world_.trace_hash();
    out.simulated_ns = world_.now_ns();
    if (!violations_.empty()) {
      out.passed = false;
      out.message = violations_.front();
      return out;
    }
    sim::check_options check_opts;
    check_opts.max_states = options_.max_checker_states;
    const sim::check_result verdict_of = sim::check(history_, check_opts);
    if (verdict_of.answer == sim::verdict::not_linearizable) {
      out.passed = false;
      out.message = verdict_of.report;
      return out;
    }
    char note[200];
    std::snprintf(note, sizeof note,
                  "%zu ops (%llu ok), commit %llu, %u fail-stopped, %llu crashes mid-write, "
                  "%llu torn tails, faults %s%s",
                  history_.size(), static_cast<unsigned long long>(completed_),
                  static_cast<unsigned long long>(oracle_.size()), fail_stopped(),
                  static_cast<unsigned long long>(crashes_mid_write_),
                  static_cast<unsigned long long>(torn_tails_), sim::format_faults(mix_.on).c_str(),
                  verdict_of.answer == sim::verdict::unknown ? " (checker gave up: unknown)" : "");
    out.message = note;
    return out;
  }

  [[nodiscard]] std::uint64_t completed() const noexcept { return completed_; }
  [[nodiscard]] std::uint64_t committed() const noexcept { return oracle_.size(); }
  /// Recoveries that cut a torn tail off a member's WAL (what the swarm must exercise).
  [[nodiscard]] std::uint64_t torn_tails() const noexcept { return torn_tails_; }
  [[nodiscard]] std::uint64_t possible_acknowledged_losses() const noexcept {
    return possible_losses_;
  }
  [[nodiscard]] std::uint64_t crashes_mid_write() const noexcept { return crashes_mid_write_; }
  /// Leadership transfers and one-step membership changes a leader accepted, and
  /// configuration entries that committed (reconfigure_interval_ns).
  [[nodiscard]] std::uint64_t transfers_accepted() const noexcept { return transfers_accepted_; }
  [[nodiscard]] std::uint64_t config_changes_accepted() const noexcept { return config_changes_accepted_; }
  [[nodiscard]] std::uint64_t config_entries_committed() const noexcept { return config_entries_committed_; }
  /// Writes the simulated disks tore at a crash (a sector-aligned prefix kept).
  [[nodiscard]] std::uint64_t torn_disk_writes() const noexcept {
    std::uint64_t torn = 0;
    for (const auto& d : disks_) torn += d->stats().torn;
    return torn;
  }

 private:
  using member = detail::raft_sim_member;
  using client = detail::raft_sim_client;

  sim::outcome failed(std::string why) {
    sim::outcome out;
    out.passed = false;
    out.message = std::move(why);
    return out;
  }
  void violation(const char* what, std::uint64_t a, std::uint64_t b) {
    char line[160];
    std::snprintf(line, sizeof line, "%s (%llu, %llu) at %lld ns", what,
                  static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
                  static_cast<long long>(world_.now_ns()));
    if (violations_.size() < 16) violations_.emplace_back(line);
  }
  [[nodiscard]] unsigned fail_stopped() const noexcept {
    unsigned count = 0;
    for (const member& m : members_) count += m.failed ? 1u : 0u;
    return count;
  }

  [[nodiscard]] raft::options core_options(sim::node_id n) const noexcept {
    raft::options o;
    o.id = n + 1u;
    o.election_timeout_ticks_min = 10;
    o.election_timeout_ticks_max = 20;
    o.heartbeat_interval_ticks = 2;
    o.max_log_entries_in_memory = 1u << 14;
    o.max_log_bytes_in_memory = 4u << 20;
    o.max_bytes_per_entry = 64;
    o.max_bytes_per_message = 1024;
    o.max_entries_per_message = 8;
    o.max_inflight_messages = 4;
    o.max_committed_per_ready = 16;
    o.max_uncommitted_entries = 256;
    return o;
  }
  [[nodiscard]] wal_options log_options() const noexcept {
    wal_options o;
    if (options_.bug_skip_sync) o.sync = sync_policy::never;
    o.segment_size_bytes = 64u << 10;
    o.max_record_size_bytes = 128;
    o.write_buffer_size_bytes = 16u << 10;
    o.max_entries = 1u << 14;
    o.max_segments = 48;
    return o;
  }

  // ---- a member's life ----------------------------------------------------------------
  // Opens the member's stores on its disk and restores the core from them. Any damage
  // the stores report (a hard error, a read error) fail-stops the member.
  void start_member(sim::node_id n, bool first_boot) {
    member& m = members_[n];
    if (m.failed) return;
    m.kv.clear();
    m.applied = 0;
    if (!open_stores(n)) return fail_stop(n, "store open");
    auto created = raft::core::create(core_options(n), world_.node_random(n).fork());
    if (!created) return fail_stop(n, "core options");
    m.core = std::make_unique<raft::core>(std::move(*created));
    const bool restored = first_boot ? m.core->bootstrap(config_).has_value() : restore(n);
    if (!restored) return fail_stop(n, "restore");
    arm_tick(n);
    schedule_op(n);
  }
  bool open_stores(sim::node_id n) {
    member& m = members_[n];
    m.log = std::make_unique<wal<sim::disk>>(*disks_[n], log_options());
    recovery_report report;
    if (!m.log->open(report)) return false;
    torn_tails_ += report.torn_tails_repaired;
    possible_losses_ += report.possible_acknowledged_loss;
    m.stable = std::make_unique<file_stable_store<sim::disk>>(*disks_[n]);
    if (!m.stable->open()) return false;
    auto loaded = m.stable->load();
    if (!loaded) return false;
    m.saved = *loaded;
    return true;
  }
  bool restore(sim::node_id n) {
    member& m = members_[n];
    arena_.clear();
    refs_.clear();
    if (m.log->last_index() >= m.log->first_index()) {
      auto read = m.log->read_range(
          m.log->first_index(), m.log->last_index() + 1,
          [](void* context, const log_entry_view& record) noexcept {
            auto* self = static_cast<raft_sim_cluster*>(context);
            self->arena_.emplace_back(record.payload.begin(), record.payload.end());
            self->refs_.push_back({record.index, record.term, raft::entry_type::normal, {}});
            return true;
          },
          this);
      if (!read) return false;
    }
    for (std::size_t i = 0; i < refs_.size(); ++i) {
      stored_entry_view e;
      if (!decode_stored_entry({refs_[i].index, refs_[i].term, byte_view(arena_[i])}, e) || e.type > 2)
        return false;
      refs_[i].type = static_cast<raft::entry_type>(e.type);
      refs_[i].payload = e.payload;
    }
    raft::snapshot_metadata genesis;
    genesis.config = config_;
    return m.core->restore({m.saved.term, m.saved.vote, m.saved.commit}, genesis, refs_, 0)
        .has_value();
  }
  void fail_stop(sim::node_id n, const char* why) {
    member& m = members_[n];
    m.failed = true;
    m.core.reset();
    m.stable.reset();
    m.log.reset();
    m.unsynced.clear();
    world_.note(n, why, 0);
  }

  // ---- driving the core ---------------------------------------------------------------
  void process(sim::node_id n) {
    member& m = members_[n];
    for (int guard = 0; guard < 64 && m.core && m.core->has_ready(); ++guard) {
      raft::ready_batch rb = m.core->ready();
      for (const raft::message& msg : rb.send_now) send(n, msg);
      auto written = write_ready(rb.must_persist, *m.log, *m.stable, m.saved,
                                 mutable_byte_view(scratch_));
      if (!written) return fail_stop(n, "persist");  // a failed write is never acknowledged
      if (written->wrote_entries) {
        hold_until_synced(n, *written, rb.send_after_persist);
      } else if (!m.unsynced.empty()) {
        // Nothing new to sync, but these messages may speak for entries an earlier batch
        // wrote (an append response saying "I have up to i"): they wait for that sync.
        queue_behind(m.unsynced.back(), rb.send_after_persist);
      } else {
        for (const raft::message& msg : rb.send_after_persist) send(n, msg);
      }
      for (std::size_t i = 0; i < rb.committed.size(); ++i) apply(n, rb.committed.at(i));
      m.core->advance();
      check(n);
    }
  }
  // The sync runs while the member goes on (Raft thesis 10.2.1): it completes sync_ns after
  // the disk has finished what was issued so far; a crash before then loses or tears the
  // unsynced writes.
  void hold_until_synced(sim::node_id n, const persist_outcome& written,
                         std::span<const raft::message> after) {
    member& m = members_[n];
    member::unsynced_batch batch;
    batch.last_index = written.last_index;
    batch.last_term = written.last_term;
    queue_behind(batch, after);
    m.unsynced.push_back(std::move(batch));
    sim::event e;
    e.at_ns = std::max(world_.now_ns(), to_ns(disks_[n]->busy_until())) + options_.sync_ns;
    e.fn = &raft_sim_cluster::synced_thunk;
    e.context = this;
    e.node = n;
    e.kind = sync_kind_;
    e.flags = sim::event_needs_up | sim::event_epoch_bound;
    (void)world_.schedule(e);
  }
  void queue_behind(member::unsynced_batch& batch, std::span<const raft::message> messages) {
    for (const raft::message& msg : messages) {
      auto bytes = encoder_.encode(msg, mutable_byte_view(send_buffer_));
      if (bytes) batch.outbox.emplace_back(msg.to, std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
    }
  }
  static void synced_thunk(void* context, const sim::event& e) noexcept {
    auto* self = static_cast<raft_sim_cluster*>(context);
    member& m = self->members_[e.node];
    if (!m.core || m.unsynced.empty()) return;
    if (!m.log->sync()) return self->fail_stop(e.node, "sync");
    member::unsynced_batch batch = std::move(m.unsynced.front());
    m.unsynced.erase(m.unsynced.begin());
    m.core->persisted(batch.last_index, batch.last_term);
    for (const auto& [to, bytes] : batch.outbox)
      if (to != 0 && to <= self->world_.node_count())
        (void)self->net_.send(e.node, static_cast<sim::node_id>(to - 1), sim::channel::datagram,
                              byte_view(bytes));
    self->process(e.node);
  }
  void send(sim::node_id from, const raft::message& msg) {
    auto bytes = encoder_.encode(msg, mutable_byte_view(send_buffer_));
    if (!bytes || msg.to == 0 || msg.to > world_.node_count()) return;
    (void)net_.send(from, static_cast<sim::node_id>(msg.to - 1), sim::channel::datagram, *bytes);
  }
  static void on_message(void* context, sim::node_id self, sim::node_id, sim::channel,
                         byte_view payload) noexcept {
    auto* me = static_cast<raft_sim_cluster*>(context);
    member& m = me->members_[self];
    if (!m.core) return;
    auto decoded = me->decoder_.decode(payload);
    if (!decoded) return;
    m.core->step(*decoded);
    me->process(self);
  }
  void arm_tick(sim::node_id n) {
    (void)world_.after(n, nanoseconds(options_.tick_ns), &raft_sim_cluster::tick_thunk, this, 0,
                       tick_kind_);
  }
  static void tick_thunk(void* context, const sim::event& e) noexcept {
    auto* self = static_cast<raft_sim_cluster*>(context);
    member& m = self->members_[e.node];
    if (!m.core) return;
    m.core->tick();
    self->process(e.node);
    self->expire(e.node);
    self->arm_tick(e.node);
  }

  // ---- the state machine and the invariants -------------------------------------------
  void apply(sim::node_id n, const raft::entry_ref& e) {
    member& m = members_[n];
    if (e.index != m.applied + 1) violation("apply gap: node, index", n, e.index);
    m.applied = e.index;
    auto [it, inserted] = oracle_.emplace(e.index, std::make_pair(e.term, std::vector<std::uint8_t>(
                                                                              e.payload.begin(), e.payload.end())));
    if (inserted && e.type == raft::entry_type::config) ++config_entries_committed_;
    if (!inserted && (it->second.first != e.term ||
                      !std::equal(e.payload.begin(), e.payload.end(), it->second.second.begin(),
                                  it->second.second.end())))
      violation("state machine safety: index, node", e.index, n);
    if (e.type != raft::entry_type::normal || e.payload.size() != detail::kv_command_size) return;
    const auto kind = static_cast<sim::kv_model::kind>(e.payload[0]);
    const auto key = static_cast<std::int64_t>(load_be<std::uint64_t>(e.payload.data() + 1));
    const auto value = static_cast<std::int64_t>(load_be<std::uint64_t>(e.payload.data() + 9));
    const std::uint64_t op = load_be<std::uint64_t>(e.payload.data() + 17);
    sim::kv_model::output out;
    if (auto found = m.kv.find(key); found != m.kv.end()) out = {true, found->second};
    if (kind == sim::kv_model::kind::put) m.kv[key] = value;
    if (kind == sim::kv_model::kind::remove) m.kv.erase(key);
    for (sim::node_id k = 0; k < clients_.size(); ++k) {
      client& c = clients_[k];
      if (c.op == 0 || c.proposer != n || c.index != e.index) continue;
      // The client's entry was accepted at this index: either it is the one committed
      // here, or another entry won the index and the client's can never commit.
      if (op == c.op) {
        history_.ok(static_cast<std::size_t>(c.op - 1), out, world_.now_ns());
        ++completed_;
      } else {
        history_.fail(static_cast<std::size_t>(c.op - 1), world_.now_ns());
      }
      c.op = 0;
      schedule_op(k);
    }
  }
  void check(sim::node_id n) {
    const raft::core& c = *members_[n].core;
    if (c.applied_index() > c.commit_index()) violation("applied past commit: node, index", n, c.applied_index());
    if (c.current_role() != raft::role::leader) return;
    auto [it, inserted] = leaders_.emplace(c.term(), n);
    if (!inserted && it->second != n) violation("two leaders in term: term, node", c.term(), n);
    if (!inserted) return;
    for (const auto& [index, value] : oracle_)  // leader completeness: every applied entry
      if (index > c.last_index() || c.log().term_at(index) != value.first) {
        violation("leader lacks a committed entry: term, index", c.term(), index);
        break;
      }
  }

  // ---- membership changes and leadership transfers ------------------------------------
  // A world-level event (it survives crashes) with its own random stream, so turning it on
  // leaves the fault and client streams of a seed as they were.
  void schedule_reconfigure() {
    if (options_.reconfigure_interval_ns <= 0 || stopping_) return;
    sim::event e;
    e.at_ns = world_.now_ns() + options_.reconfigure_interval_ns;
    e.fn = &raft_sim_cluster::reconfigure_thunk;
    e.context = this;
    e.kind = reconfigure_kind_;
    (void)world_.schedule(e);
  }
  static void reconfigure_thunk(void* context, const sim::event&) noexcept {
    auto* self = static_cast<raft_sim_cluster*>(context);
    self->reconfigure();
    self->schedule_reconfigure();
  }
  void reconfigure() {
    sim::node_id leader = sim::no_node;
    for (sim::node_id n = 0; n < members_.size(); ++n) {
      const auto& core = members_[n].core;
      if (core && core->current_role() == raft::role::leader &&
          (leader == sim::no_node || core->term() > members_[leader].core->term()))
        leader = n;
    }
    if (leader == sim::no_node) return;
    const raft::node_id target = 1 + uniform_below(reconfigure_random_, members_.size());
    if (target == leader + 1u) return;
    raft::core& c = *members_[leader].core;
    if (uniform_below(reconfigure_random_, 2) == 0) {
      if (c.transfer_leadership(target)) ++transfers_accepted_;
    } else {
      const raft::member* m = c.config().find(target);
      const raft::change_kind kind = m == nullptr ? raft::change_kind::add_learner
                                     : m->role == raft::member_role::learner
                                         ? raft::change_kind::promote_learner
                                         : raft::change_kind::remove;
      if (c.change_membership(kind, target)) ++config_changes_accepted_;
    }
    process(leader);
  }

  // ---- clients ------------------------------------------------------------------------
  void schedule_op(sim::node_id n) {
    const auto think = static_cast<std::int64_t>(uniform_below(
        world_.node_random(n), static_cast<std::uint64_t>(options_.think_max_ns))) + 1;
    (void)world_.after(n, nanoseconds(think), &raft_sim_cluster::op_thunk, this, 0, client_kind_);
  }
  static void op_thunk(void* context, const sim::event& e) noexcept {
    static_cast<raft_sim_cluster*>(context)->start_op(e.node);
  }
  void start_op(sim::node_id n) {
    client& c = clients_[n];
    if (stopping_ || c.op != 0 || !members_[n].core) return;
    const raft::node_id leader = members_[n].core->leader();
    member* target = leader == 0 || leader > members_.size() ? nullptr : &members_[leader - 1];
    if (target == nullptr || !target->core || target->core->current_role() != raft::role::leader)
      return schedule_op(n);  // no leader known: ask again later
    auto& r = world_.node_random(n);
    sim::kv_model::input in;
    in.op = static_cast<sim::kv_model::kind>(uniform_below(r, 3));
    in.key = static_cast<std::int64_t>(uniform_below(r, options_.keys));
    in.value = static_cast<std::int64_t>((n + 1) * 1'000'000'000ull + ++values_);
    const std::size_t id = history_.invoke(n, in, world_.now_ns());
    const auto bytes = detail::encode_kv_command(static_cast<std::uint8_t>(in.op), in.key, in.value, id + 1);
    auto accepted = target->core->propose(byte_view(bytes));
    if (!accepted) {
      history_.fail(id, world_.now_ns());  // refused: certainly no effect
      return schedule_op(n);
    }
    c = {id + 1, static_cast<sim::node_id>(leader - 1), *accepted,
         world_.now_ns() + options_.timeout_ns};
    process(c.proposer);
  }
  void expire(sim::node_id n) {
    client& c = clients_[n];
    if (c.op != 0 && world_.now_ns() >= c.deadline_ns) {
      abandon(n);
      schedule_op(n);
    }
  }
  /// The outcome of the client's operation is unknown (timeout, crash): record info.
  void abandon(sim::node_id n) {
    client& c = clients_[n];
    if (c.op == 0) return;
    history_.info(static_cast<std::size_t>(c.op - 1), world_.now_ns());
    c.op = 0;
  }

  static void on_lifecycle(void* context, sim::node_id n, sim::lifecycle what) noexcept {
    auto* self = static_cast<raft_sim_cluster*>(context);
    member& m = self->members_[n];
    if (what == sim::lifecycle::crashed) {
      if (!m.unsynced.empty()) ++self->crashes_mid_write_;
      self->abandon(n);
      m.core.reset();  // volatile state is gone; the disk keeps what was durable
      m.stable.reset();
      m.log.reset();
      m.unsynced.clear();
    } else if (what == sim::lifecycle::restarted && !m.core) {
      self->start_member(n, false);
    }
  }

  raft_sim_options options_;
  xoshiro256 reconfigure_random_;
  sim::world world_;
  sim::network net_;
  sim::fault_mix mix_{};
  std::vector<std::unique_ptr<sim::disk>> disks_;
  std::vector<sim::disk*> disk_pointers_;
  std::unique_ptr<sim::nemesis> nemesis_;
  std::vector<member> members_;
  std::vector<client> clients_;
  raft::configuration config_{};
  raft::message_codec encoder_;
  raft::message_codec decoder_;
  std::vector<std::uint8_t> send_buffer_;
  std::vector<std::uint8_t> scratch_;
  std::vector<std::vector<std::uint8_t>> arena_;
  std::vector<raft::entry_ref> refs_;
  sim::history<sim::kv_model> history_;
  std::map<raft::term_t, sim::node_id> leaders_;
  std::map<raft::index_t, std::pair<raft::term_t, std::vector<std::uint8_t>>> oracle_;
  std::vector<std::string> violations_;
  std::uint64_t completed_ = 0;
  std::uint64_t values_ = 0;
  std::uint64_t torn_tails_ = 0;
  std::uint64_t possible_losses_ = 0;
  std::uint64_t crashes_mid_write_ = 0;  // crashes with a batch written but not yet synced
  std::uint64_t transfers_accepted_ = 0;
  std::uint64_t config_changes_accepted_ = 0;
  std::uint64_t config_entries_committed_ = 0;
  bool stopping_ = false;
  std::uint16_t tick_kind_ = 0;
  std::uint16_t client_kind_ = 0;
  std::uint16_t sync_kind_ = 0;
  std::uint16_t reconfigure_kind_ = 0;
};

inline sim::outcome run_raft_sim(std::uint64_t seed, const sim::run_options& run) {
  raft_sim_cluster cluster(seed, run, {});
  return cluster.run();
}

inline sim::outcome run_raft_sim_unsynced(std::uint64_t seed, const sim::run_options& run) {
  raft_sim_options o;
  o.bug_skip_sync = true;
  raft_sim_cluster cluster(seed, run, o);
  return cluster.run();
}

inline constexpr sim::scenario raft_sim_scenario{
    "raft",
    "Raft cores on the file WAL over sim::disk; KV histories checked for linearizability",
    &run_raft_sim, 3, 7, 3, sim::fault_set::all()};
inline constexpr sim::scenario raft_sim_unsynced_scenario{
    "raft_unsynced", "the same with a planted bug: the WAL never syncs (acknowledged writes "
    "are lost at a crash)", &run_raft_sim_unsynced, 3, 7, 3, sim::fault_set::all()};

}  // namespace storage
WEFT_END
