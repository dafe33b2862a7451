// weft/sim/reference_register.hpp - the simulator's reference scenario: a register
// replicated on every node with majority quorums (the ABD algorithm: a write queries a
// majority for the highest timestamp and stores a higher one on a majority; a read queries
// a majority and writes the highest value back to a majority before answering). Replicas
// keep their state on the simulated disk (synced before acknowledging), clients retry
// over lossy datagrams and time out into `info`. The history is checked for
// linearizability. A switch plants a known bug (reads answer from the first replica that
// replies, without write-back) so that tests show the swarm finds it from a seed.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/linearizability.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/world.hpp"

WEFT_BEGIN
namespace sim {
namespace reference {

struct register_options {
  bool bug_read_from_one = false;                // the planted bug
  std::int64_t active_ns = 500'000'000;          // clients issue operations this long
  std::int64_t quiet_ns = 2'000'000'000;         // then faults stop; pending ops finish
  std::int64_t retry_ns = 10'000'000;            // resend to replicas that did not answer
  std::int64_t timeout_ns = 150'000'000;         // an operation gives up (outcome unknown)
  std::int64_t think_max_ns = 5'000'000;         // pause between a client's operations
  std::uint64_t max_checker_states = 500'000;
};

namespace detail {

enum class msg : std::uint8_t { query = 1, query_reply = 2, store = 3, store_ack = 4 };

struct stamp {
  std::uint64_t seq = 0;
  std::uint32_t node = 0;
  friend constexpr bool operator<(const stamp& a, const stamp& b) noexcept {
    return a.seq != b.seq ? a.seq < b.seq : a.node < b.node;
  }
};

struct wire {
  msg type = msg::query;
  std::uint64_t tag = 0;
  stamp ts{};
  std::int64_t value = 0;
};
inline constexpr std::size_t wire_size = 1 + 8 + 8 + 4 + 8;

inline void encode(const wire& m, std::uint8_t (&out)[wire_size]) noexcept {
  byte_writer w(out);
  (void)w.put(static_cast<std::uint8_t>(m.type));
  (void)w.put_le<std::uint64_t>(m.tag);
  (void)w.put_le<std::uint64_t>(m.ts.seq);
  (void)w.put_le<std::uint32_t>(m.ts.node);
  (void)w.put_le<std::uint64_t>(static_cast<std::uint64_t>(m.value));
}
inline result<wire> decode(byte_view bytes) noexcept {
  byte_reader r(bytes);
  wire m;
  WEFT_TRY_ASSIGN(const std::uint8_t type, r.get());
  if (type < 1 || type > 4) return error(core_errc::invalid_argument, "reference: type");
  m.type = static_cast<msg>(type);
  WEFT_TRY_ASSIGN(m.tag, r.get_le<std::uint64_t>());
  WEFT_TRY_ASSIGN(m.ts.seq, r.get_le<std::uint64_t>());
  WEFT_TRY_ASSIGN(m.ts.node, r.get_le<std::uint32_t>());
  WEFT_TRY_ASSIGN(const std::uint64_t value, r.get_le<std::uint64_t>());
  m.value = static_cast<std::int64_t>(value);
  return m;
}

struct replica {
  stamp ts{};
  std::int64_t value = 0;
  bool loaded = false;
};

struct client {
  std::uint64_t tag = 0;          // current operation (0: none)
  std::uint64_t counter = 0;
  std::size_t history_id = 0;
  bool is_write = false;
  int phase = 0;                  // 1 query, 2 store
  std::uint64_t answered = 0;     // bitmask of replicas that answered this phase
  stamp best{};
  std::int64_t best_value = 0;
  std::int64_t write_value = 0;
  std::int64_t started_ns = 0;
};

}  // namespace detail

/// One run of the replicated register on `nodes` nodes.
class register_cluster {
 public:
  register_cluster(std::uint64_t seed, const run_options& run, const register_options& o)
      : options_(o),
        world_({.seed = seed, .nodes = run.nodes, .max_pending_events = 1u << 16}),
        net_(world_, {.max_datagram_size_bytes = 244,
                      .max_message_size_bytes = 256,
                      .max_in_flight_messages = 4096}) {
    mix_ = fault_mix::generate(seed, run.faults);
    for (node_id n = 0; n < run.nodes; ++n) {
      disks_.push_back(std::make_unique<disk>(world_, n, disk_options{}));
      disk_pointers_.push_back(disks_.back().get());
      net_.set_receiver(n, {&register_cluster::on_message, nullptr, this});
    }
    replicas_.resize(run.nodes);
    clients_.resize(run.nodes);
    nemesis::options nemo;
    nemo.max_down = (run.nodes - 1) / 2;  // a majority stays up
    nemesis_ = std::make_unique<nemesis>(world_, &net_, disk_pointers_, mix_, nemo);
    (void)world_.add_listener(&register_cluster::on_lifecycle, this);
    world_.set_trace(run.trace, run.trace_context);
    auto kind = world_.event_kind("client_timer", "op", "");
    timer_kind_ = kind ? *kind : 0;
    kind = world_.event_kind("store_ack", "op", "to");
    ack_kind_ = kind ? *kind : 0;
  }

  outcome run() {
    outcome out;
    if (!world_.status() || !net_.status()) return failed("setup refused");
    for (node_id n = 0; n < world_.node_count(); ++n) {
      load_replica(n);
      schedule_next_op(n);
    }
    if (auto started = nemesis_->start(); !started)
      return failed(std::string(started.error().message()));
    world_.run_until(time_point_from_ns(options_.active_ns));
    stopping_ = true;
    nemesis_->stop();
    world_.run_until(time_point_from_ns(options_.active_ns + options_.quiet_ns));
    for (node_id n = 0; n < world_.node_count(); ++n) abandon(n);
    check_options check_opts;
    check_opts.max_states = options_.max_checker_states;
    const check_result verdict_of = check(history_, check_opts);
    out.events = world_.events_processed();
    out.trace_hash = world_.trace_hash();
    out.simulated_ns = world_.now_ns();
    char note[160];
    std::snprintf(note, sizeof note, "%zu ops, %llu checker states, faults %s", history_.size(),
                  static_cast<unsigned long long>(verdict_of.states),
                  format_faults(mix_.on).c_str());
    if (verdict_of.answer == verdict::not_linearizable) {
      out.passed = false;
      out.message = verdict_of.report;
    } else {
      out.message = note;
      if (verdict_of.answer == verdict::unknown) out.message += " (checker gave up: unknown)";
    }
    return out;
  }

  [[nodiscard]] const history<register_model>& recorded() const noexcept { return history_; }

 private:
  outcome failed(std::string why) {
    outcome out;
    out.passed = false;
    out.message = std::move(why);
    return out;
  }
  std::uint32_t majority() const noexcept { return world_.node_count() / 2 + 1; }

  // ---- replica ------------------------------------------------------------------------
  void load_replica(node_id n) {
    detail::replica& r = replicas_[n];
    r = {};
    r.loaded = true;
    disk& d = *disks_[n];
    auto file = d.open("register", storage::open_mode::open_existing);
    if (!file) return;  // never written: the initial value
    std::uint8_t buffer[24] = {};
    auto got = d.read(*file, 0, buffer);
    (void)d.close(*file);
    if (!got || *got != sizeof buffer) return;
    byte_reader reader(buffer);
    const std::uint64_t seq = *reader.get_le<std::uint64_t>();
    const std::uint32_t node = *reader.get_le<std::uint32_t>();
    const std::uint64_t value = *reader.get_le<std::uint64_t>();
    const std::uint32_t crc = *reader.get_le<std::uint32_t>();
    if (crc != crc32c(byte_view(buffer, 20))) return;
    r.ts = {seq, node};
    r.value = static_cast<std::int64_t>(value);
  }
  bool persist(node_id n) {
    const detail::replica& r = replicas_[n];
    std::uint8_t buffer[24];
    byte_writer w(buffer);
    (void)w.put_le<std::uint64_t>(r.ts.seq);
    (void)w.put_le<std::uint32_t>(r.ts.node);
    (void)w.put_le<std::uint64_t>(static_cast<std::uint64_t>(r.value));
    (void)w.put_le<std::uint32_t>(crc32c(byte_view(buffer, 20)));
    disk& d = *disks_[n];
    auto file = d.open("register", storage::open_mode::create_or_open);
    if (!file) return false;
    const bool written = d.write(*file, 0, buffer) && d.sync(*file);
    (void)d.close(*file);
    return written && d.sync_directory();
  }
  void on_replica(node_id self, node_id from, const detail::wire& m) {
    detail::replica& r = replicas_[self];
    if (m.type == detail::msg::query) {
      send(self, from, {detail::msg::query_reply, m.tag, r.ts, r.value});
      return;
    }
    // store: keep the higher stamp, make it durable, acknowledge once the disk is done.
    if (r.ts < m.ts) {
      const detail::replica before = r;
      r.ts = m.ts;
      r.value = m.value;
      if (!persist(self)) {
        r = before;  // not durable: do not acknowledge
        return;
      }
    }
    event e;
    e.at_ns = to_ns(disks_[self]->busy_until());
    e.fn = &register_cluster::ack_thunk;
    e.context = this;
    e.arg0 = m.tag;
    e.arg1 = from;
    e.node = self;
    e.kind = ack_kind_;
    e.flags = event_needs_up | event_epoch_bound;
    (void)world_.schedule(e);
  }
  static void ack_thunk(void* context, const event& e) noexcept {
    auto* self = static_cast<register_cluster*>(context);
    self->send(e.node, static_cast<node_id>(e.arg1), {detail::msg::store_ack, e.arg0, {}, 0});
  }

  // ---- client -------------------------------------------------------------------------
  void schedule_next_op(node_id n) {
    const auto think = static_cast<std::int64_t>(
        uniform_below(world_.node_random(n), static_cast<std::uint64_t>(options_.think_max_ns)));
    (void)world_.after(n, nanoseconds(think), &register_cluster::start_thunk, this, n,
                       timer_kind_);
  }
  static void start_thunk(void* context, const event& e) noexcept {
    static_cast<register_cluster*>(context)->start_op(static_cast<node_id>(e.arg0));
  }
  void start_op(node_id n) {
    detail::client& c = clients_[n];
    if (stopping_ || c.tag != 0) return;
    c.tag = (static_cast<std::uint64_t>(n + 1) << 40) | ++c.counter;
    c.is_write = chance(world_.node_random(n), 0.5);
    c.phase = 1;
    c.answered = 0;
    c.best = {};
    c.best_value = 0;
    c.started_ns = world_.now_ns();
    register_model::input in;
    if (c.is_write) {
      // Unique and readable: node 2's 17th operation writes 3000017.
      c.write_value = static_cast<std::int64_t>((n + 1) * 1'000'000ull + c.counter);
      in = {register_model::kind::write, c.write_value, 0};
    }
    c.history_id = history_.invoke(n, in, world_.now_ns());
    world_.note(n, c.is_write ? "invoke_write" : "invoke_read", static_cast<std::uint64_t>(c.write_value));
    broadcast(n);
    arm_retry(n);
  }
  void broadcast(node_id n) {
    const detail::client& c = clients_[n];
    for (node_id to = 0; to < world_.node_count(); ++to) {
      if ((c.answered >> to) & 1u) continue;
      if (c.phase == 1) send(n, to, {detail::msg::query, c.tag, {}, 0});
      else send(n, to, {detail::msg::store, c.tag, c.best, c.best_value});
    }
  }
  void arm_retry(node_id n) {
    (void)world_.after(n, nanoseconds(options_.retry_ns), &register_cluster::retry_thunk, this,
                       clients_[n].tag, timer_kind_);
  }
  static void retry_thunk(void* context, const event& e) noexcept {
    auto* self = static_cast<register_cluster*>(context);
    const node_id n = e.node;
    detail::client& c = self->clients_[n];
    if (c.tag != e.arg0) return;  // that operation is over
    if (self->world_.now_ns() - c.started_ns >= self->options_.timeout_ns) {
      self->abandon(n);
      self->schedule_next_op(n);
      return;
    }
    self->broadcast(n);
    self->arm_retry(n);
  }
  /// The operation's outcome is unknown (timeout or crash): record info, forget it.
  void abandon(node_id n) {
    detail::client& c = clients_[n];
    if (c.tag == 0) return;
    history_.info(c.history_id, world_.now_ns());
    world_.note(n, "timeout", c.tag);
    c.tag = 0;
  }
  void on_client(node_id self, node_id from, const detail::wire& m) {
    detail::client& c = clients_[self];
    if (c.tag == 0 || m.tag != c.tag) return;  // a late answer to an older operation
    if ((c.answered >> from) & 1u) return;     // a duplicate
    const bool query_phase = c.phase == 1 && m.type == detail::msg::query_reply;
    const bool store_phase = c.phase == 2 && m.type == detail::msg::store_ack;
    if (!query_phase && !store_phase) return;
    c.answered |= 1ull << from;
    if (query_phase && (c.best < m.ts || c.answered == (1ull << from))) {
      c.best = m.ts;
      c.best_value = m.value;
    }
    const auto count = static_cast<std::uint32_t>(std::popcount(c.answered));
    const bool buggy_read = options_.bug_read_from_one && !c.is_write && query_phase;
    if (buggy_read) return complete(self, c.best_value);
    if (count < majority()) return;
    if (query_phase) {
      if (c.is_write) {
        c.best = {c.best.seq + 1, self};
        c.best_value = c.write_value;
      }
      c.phase = 2;
      c.answered = 0;
      broadcast(self);
      return;
    }
    complete(self, c.is_write ? 0 : c.best_value);
  }
  void complete(node_id n, std::int64_t read_value) {
    detail::client& c = clients_[n];
    history_.ok(c.history_id, {read_value, true}, world_.now_ns());
    world_.note(n, c.is_write ? "write_ok" : "read_ok", static_cast<std::uint64_t>(read_value));
    c.tag = 0;
    schedule_next_op(n);
  }

  // ---- plumbing -----------------------------------------------------------------------
  void send(node_id from, node_id to, const detail::wire& m) {
    std::uint8_t bytes[detail::wire_size];
    detail::encode(m, bytes);
    (void)net_.send(from, to, channel::datagram, bytes);  // loss is the retry's business
  }
  static void on_message(void* context, node_id self, node_id from, channel,
                         byte_view payload) noexcept {
    auto* me = static_cast<register_cluster*>(context);
    auto m = detail::decode(payload);
    if (!m) return;  // hostile or corrupted bytes are dropped
    if (m->type == detail::msg::query || m->type == detail::msg::store) me->on_replica(self, from, *m);
    else me->on_client(self, from, *m);
  }
  static void on_lifecycle(void* context, node_id n, lifecycle what) noexcept {
    auto* self = static_cast<register_cluster*>(context);
    if (what == lifecycle::crashed) {
      self->abandon(n);          // the client's outcome is unknown
      self->replicas_[n] = {};   // volatile state is gone
    } else if (what == lifecycle::restarted) {
      self->load_replica(n);     // rebuilt from the disk
      self->schedule_next_op(n);
    }
  }

  register_options options_;
  world world_;
  network net_;
  fault_mix mix_{};
  std::vector<std::unique_ptr<disk>> disks_;
  std::vector<disk*> disk_pointers_;
  std::unique_ptr<nemesis> nemesis_;
  std::vector<detail::replica> replicas_;
  std::vector<detail::client> clients_;
  history<register_model> history_;
  bool stopping_ = false;
  std::uint16_t timer_kind_ = 0;
  std::uint16_t ack_kind_ = 0;
};

inline constexpr fault_set register_faults() noexcept {
  fault_set s;
  s.add(fault::loss).add(fault::duplicate).add(fault::reorder).add(fault::partition);
  s.add(fault::swizzle).add(fault::crash).add(fault::pause).add(fault::clock);
  s.add(fault::disk_loss);
  return s;
}

inline outcome run_register(std::uint64_t seed, const run_options& run) {
  register_cluster cluster(seed, run, {});
  return cluster.run();
}
inline outcome run_register_buggy(std::uint64_t seed, const run_options& run) {
  register_options o;
  o.bug_read_from_one = true;
  register_cluster cluster(seed, run, o);
  return cluster.run();
}

inline constexpr scenario register_scenario{
    "register", "quorum-replicated register (ABD) checked for linearizability", &run_register,
    3, 15, 3, register_faults()};
inline constexpr scenario register_buggy_scenario{
    "register_buggy", "the same register with a planted bug: reads trust one replica",
    &run_register_buggy, 3, 15, 3, register_faults()};

}  // namespace reference
}  // namespace sim
WEFT_END
