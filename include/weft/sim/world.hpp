// weft/sim/world.hpp - the deterministic discrete-event world: virtual time in nanoseconds,
// one event queue ordered by (time, insertion sequence), N nodes each with its own drifting
// clock and random stream, node faults (crash, restart, pause, clock jumps) and a trace hash.
// Everything derives from one 64-bit seed; nothing reads a wall clock or a global random.
// Guide: docs/sim.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/error.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"

WEFT_BEGIN
namespace sim {

/// Errors of the simulator (docs/errors.md, section `sim`).
enum class sim_errc : std::uint16_t {
  ok = 0,
  event_queue_full = 1,         // max_pending_events reached: the scenario schedules too much
  unknown_node = 2,             // a node id >= the world's node count
  node_down = 3,                // the node is crashed
  invalid_options = 4,          // an options struct failed validate()
  impossible_fault_budget = 5,  // the disk fault budget cannot keep a clean copy
  unknown_scenario = 6,         // no scenario registered under that name
  unknown_fault = 7,            // a fault name not in the fault list
  registry_full = 8,            // too many scenarios or event kinds registered
  unsupported_fault = 9,        // the scenario does not support a requested fault
};

constexpr std::string_view describe(sim_errc code) noexcept {
  switch (code) {
    case sim_errc::ok: return "ok";
    case sim_errc::event_queue_full: return "simulator event queue full";
    case sim_errc::unknown_node: return "unknown simulated node";
    case sim_errc::node_down: return "simulated node is down";
    case sim_errc::invalid_options: return "invalid simulator options";
    case sim_errc::impossible_fault_budget: return "disk fault budget leaves no clean copy";
    case sim_errc::unknown_scenario: return "unknown scenario";
    case sim_errc::unknown_fault: return "unknown fault name";
    case sim_errc::registry_full: return "simulator registry full";
    case sim_errc::unsupported_fault: return "fault not supported by the scenario";
  }
  return "unknown simulator error";
}

}  // namespace sim
WEFT_END
WEFT_ERROR_DOMAIN(weft::sim::sim_errc, "sim")

WEFT_BEGIN
namespace sim {

using node_id = std::uint32_t;
inline constexpr node_id no_node = 0xffffffffu;

struct event;
/// What an event does when its time comes. Plain function pointer plus context: no heap.
using event_fn = void (*)(void* context, const event& e) noexcept;

/// Event flags.
inline constexpr std::uint8_t event_needs_up = 1;       // dropped when the node is down
inline constexpr std::uint8_t event_epoch_bound = 2;    // dropped after the node crashed since

/// One scheduled event. `node` is the node it belongs to (no_node for world-level events):
/// a paused node's events wait until it resumes; see the flags for crashed nodes.
struct event {
  std::int64_t at_ns = 0;
  std::uint64_t sequence = 0;
  event_fn fn = nullptr;
  void* context = nullptr;
  std::uint64_t arg0 = 0;
  std::uint64_t arg1 = 0;
  node_id node = no_node;
  std::uint32_t epoch = 0;
  std::uint16_t kind = 0;
  std::uint8_t flags = 0;
};

/// Limits and seed of a world.
struct world_options {
  std::uint64_t seed = 1;
  std::uint32_t nodes = 3;
  std::uint32_t max_nodes = 256;
  std::size_t max_pending_events = 1u << 16;
  std::uint32_t max_event_kinds = 64;
  std::uint32_t max_lifecycle_listeners = 64;

  [[nodiscard]] result<void> validate() const noexcept {
    if (nodes == 0 || nodes > max_nodes)
      return error(sim_errc::invalid_options, "world_options: nodes not in [1, max_nodes]");
    if (max_pending_events < 16)
      return error(sim_errc::invalid_options, "world_options: max_pending_events < 16");
    if (max_event_kinds == 0 || max_event_kinds > 65535)
      return error(sim_errc::invalid_options, "world_options: max_event_kinds");
    return ok();
  }
};

/// What happened to a node; observers (network, disk, scenario) react to it.
enum class lifecycle : std::uint8_t { crashed, restarted, paused, resumed };
using lifecycle_fn = void (*)(void* context, node_id node, lifecycle what) noexcept;

/// Receives one formatted trace line per event (for `weft sim --trace`).
using trace_fn = void (*)(void* context, std::string_view line) noexcept;

namespace detail {
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
struct node_state {
  xoshiro256 random{0};
  std::int64_t local_base_ns = 0;  // local clock reading at world_base_ns
  std::int64_t world_base_ns = 0;
  std::int64_t drift_ppm = 0;      // local clock runs (1 + ppm/1e6) times world time
  std::int64_t paused_until_ns = 0;
  std::uint32_t epoch = 0;         // incremented by every crash
  bool up = true;
  bool paused = false;
};
}  // namespace detail

class world;

/// A node's view of time: models weft::clock. Offset, drift and jumps are applied.
class node_clock {
 public:
  constexpr node_clock() noexcept = default;
  constexpr node_clock(const world* w, node_id node) noexcept : world_(w), node_(node) {}
  [[nodiscard]] time_point now() const noexcept;

 private:
  const world* world_ = nullptr;
  node_id node_ = 0;
};
static_assert(weft::clock<node_clock>, "sim::node_clock must model weft::clock; see "
                                       "docs/requirements/clock.md");

/// The world. Not copyable or movable: endpoints and disks keep a pointer to it.
class world {
 public:
  explicit world(const world_options& options) noexcept : options_(options) {
    status_ = options.validate();
    if (!status_) return;
    random_.reseed(options.seed);
    nodes_.resize(options.nodes);
    for (auto& n : nodes_) n.random = random_.fork();
    queue_.reserve(options.max_pending_events);
    kind_names_.reserve(options.max_event_kinds);
    listeners_.reserve(options.max_lifecycle_listeners);
    kind_names_.push_back({"event", "a", "b"});
  }
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  /// ok(), or why the options were refused (then nothing runs).
  [[nodiscard]] const result<void>& status() const noexcept { return status_; }
  [[nodiscard]] const world_options& options() const noexcept { return options_; }
  [[nodiscard]] std::uint32_t node_count() const noexcept {
    return static_cast<std::uint32_t>(nodes_.size());
  }

  // ---- time --------------------------------------------------------------------------
  [[nodiscard]] time_point now() const noexcept { return time_point_from_ns(now_ns_); }
  [[nodiscard]] std::int64_t now_ns() const noexcept { return now_ns_; }
  /// Node `n`'s local clock reading (offset, drift and jumps applied).
  [[nodiscard]] time_point local_now(node_id n) const noexcept {
    if (n >= nodes_.size()) return now();
    return time_point_from_ns(local_at(nodes_[n], now_ns_));
  }
  [[nodiscard]] node_clock clock(node_id n) const noexcept { return {this, n}; }
  /// World-time length of a `local` duration measured by node n's drifting clock.
  [[nodiscard]] std::int64_t world_duration_ns(node_id n, duration local) const noexcept {
    if (n >= nodes_.size() || nodes_[n].drift_ppm == 0) return to_ns(local);
    const double scale = 1.0 + static_cast<double>(nodes_[n].drift_ppm) * 1e-6;
    return static_cast<std::int64_t>(static_cast<double>(to_ns(local)) / scale);
  }

  // ---- randomness --------------------------------------------------------------------
  /// The world's own stream (fault decisions). Nodes draw from node_random(n).
  [[nodiscard]] xoshiro256& random() noexcept { return random_; }
  [[nodiscard]] xoshiro256& node_random(node_id n) noexcept {
    WEFT_ASSERT(n < nodes_.size());
    return nodes_[n].random;
  }

  // ---- events ------------------------------------------------------------------------
  /// Registers a printable event kind (deduplicated); ids are stable for one registration
  /// order, so they are part of the trace hash. `name` must outlive the world (a literal).
  /// `arg0` and `arg1` name the event's arguments in trace lines ("" hides one).
  [[nodiscard]] result<std::uint16_t> event_kind(std::string_view name, std::string_view arg0 = "a",
                                                 std::string_view arg1 = "b") noexcept {
    for (std::size_t i = 0; i < kind_names_.size(); ++i)
      if (kind_names_[i].name == name) return static_cast<std::uint16_t>(i);
    if (kind_names_.size() >= options_.max_event_kinds)
      return error(sim_errc::registry_full, "world::event_kind");
    kind_names_.push_back({name, arg0, arg1});
    return static_cast<std::uint16_t>(kind_names_.size() - 1);
  }
  [[nodiscard]] std::string_view kind_name(std::uint16_t kind) const noexcept {
    return kind < kind_names_.size() ? kind_names_[kind].name : std::string_view("?");
  }

  /// Schedules `e` at world time `e.at_ns` (clamped to now). Fails when the queue is full.
  [[nodiscard]] result<void> schedule(event e) noexcept {
    if (!status_) return status_.error();
    if (queue_.size() >= options_.max_pending_events)
      return error(sim_errc::event_queue_full, "world::schedule");
    if (e.node != no_node && e.node >= nodes_.size())
      return error(sim_errc::unknown_node, "world::schedule");
    if (e.at_ns < now_ns_) e.at_ns = now_ns_;
    e.sequence = next_sequence_++;
    if (e.node != no_node) e.epoch = nodes_[e.node].epoch;
    queue_.push_back(e);
    std::push_heap(queue_.begin(), queue_.end(), later);
    return ok();
  }
  /// A timer for node n after `local` time on its own clock; dropped if n crashes first.
  [[nodiscard]] result<void> after(node_id n, duration local, event_fn fn, void* context,
                                   std::uint64_t arg0 = 0, std::uint16_t kind = 0) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::after");
    event e;
    e.at_ns = now_ns_ + std::max<std::int64_t>(0, world_duration_ns(n, local));
    e.fn = fn;
    e.context = context;
    e.arg0 = arg0;
    e.node = n;
    e.kind = kind;
    e.flags = event_needs_up | event_epoch_bound;
    return schedule(e);
  }
  /// A world-level event (no node) at world time `at`.
  [[nodiscard]] result<void> at(time_point when, event_fn fn, void* context,
                                std::uint64_t arg0 = 0, std::uint16_t kind = 0) noexcept {
    event e;
    e.at_ns = to_ns(when);
    e.fn = fn;
    e.context = context;
    e.arg0 = arg0;
    e.kind = kind;
    return schedule(e);
  }

  [[nodiscard]] std::size_t pending() const noexcept { return queue_.size(); }
  [[nodiscard]] bool idle() const noexcept { return queue_.empty(); }

  /// Runs the earliest event. False when the queue is empty.
  bool step() noexcept {
    if (queue_.empty()) return false;
    std::pop_heap(queue_.begin(), queue_.end(), later);
    const event e = queue_.back();
    queue_.pop_back();
    if (e.node != no_node) {
      detail::node_state& n = nodes_[e.node];
      if ((e.flags & event_epoch_bound) != 0 && e.epoch != n.epoch) return dropped(e);
      if ((e.flags & event_needs_up) != 0 && !n.up) return dropped(e);
      if (n.paused && n.paused_until_ns > e.at_ns) {
        // Deferred to the end of the pause; the original sequence keeps their order.
        event deferred_event = e;
        deferred_event.at_ns = n.paused_until_ns;
        queue_.push_back(deferred_event);
        std::push_heap(queue_.begin(), queue_.end(), later);
        ++deferred_;
        return true;
      }
    }
    now_ns_ = e.at_ns;
    ++processed_;
    hash_ = detail::mix64(hash_ ^ static_cast<std::uint64_t>(e.at_ns)) ^
            detail::mix64((static_cast<std::uint64_t>(e.node) << 16) ^ e.kind ^ (e.arg0 << 24));
    if (trace_ != nullptr) trace_event(e);
    e.fn(e.context, e);
    return true;
  }
  /// Runs events until none is due at or before `until`; then now() == until.
  std::uint64_t run_until(time_point until, std::uint64_t max_events = ~0ull) noexcept {
    std::uint64_t ran = 0;
    const std::int64_t until_ns = to_ns(until);
    while (!queue_.empty() && queue_.front().at_ns <= until_ns && ran < max_events) {
      step();
      ++ran;
    }
    if (ran < max_events && now_ns_ < until_ns) now_ns_ = until_ns;
    return ran;
  }
  std::uint64_t run_for(duration d, std::uint64_t max_events = ~0ull) noexcept {
    return run_until(time_point_from_ns(now_ns_ + to_ns(d)), max_events);
  }

  // ---- node faults -------------------------------------------------------------------
  [[nodiscard]] bool is_up(node_id n) const noexcept { return n < nodes_.size() && nodes_[n].up; }
  [[nodiscard]] bool is_paused(node_id n) const noexcept {
    return n < nodes_.size() && nodes_[n].paused;
  }
  [[nodiscard]] std::uint32_t epoch(node_id n) const noexcept {
    return n < nodes_.size() ? nodes_[n].epoch : 0;
  }
  /// Crash: the node's timers die, listeners drop its volatile state (network streams,
  /// unsynced disk writes). The scenario rebuilds its node object on restart().
  result<void> crash(node_id n) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::crash");
    if (!nodes_[n].up) return ok();
    nodes_[n].up = false;
    nodes_[n].paused = false;
    ++nodes_[n].epoch;
    note(n, "crash", 0);
    notify(n, lifecycle::crashed);
    return ok();
  }
  result<void> restart(node_id n) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::restart");
    if (nodes_[n].up) return ok();
    nodes_[n].up = true;
    note(n, "restart", 0);
    notify(n, lifecycle::restarted);
    return ok();
  }
  /// Stall: the node's events wait until `d` has passed (world time), then run in order.
  result<void> pause(node_id n, duration d) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::pause");
    nodes_[n].paused = true;
    nodes_[n].paused_until_ns = now_ns_ + std::max<std::int64_t>(0, to_ns(d));
    note(n, "pause", static_cast<std::uint64_t>(to_ns(d)));
    notify(n, lifecycle::paused);
    event e;
    e.at_ns = nodes_[n].paused_until_ns;
    e.fn = &world::resume_thunk;
    e.context = this;
    e.arg0 = n;
    e.arg1 = static_cast<std::uint64_t>(nodes_[n].paused_until_ns);
    return schedule(e);
  }
  /// Moves node n's clock by `delta` (negative: backwards) at once.
  result<void> jump_clock(node_id n, duration delta) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::jump_clock");
    rebase(nodes_[n]);
    nodes_[n].local_base_ns += to_ns(delta);
    note(n, "clock_jump", static_cast<std::uint64_t>(to_ns(delta)));
    return ok();
  }
  result<void> set_clock_drift(node_id n, std::int64_t ppm) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::set_clock_drift");
    if (ppm <= -1'000'000 || ppm > 1'000'000)
      return error(sim_errc::invalid_options, "world::set_clock_drift: ppm");
    rebase(nodes_[n]);
    nodes_[n].drift_ppm = ppm;
    return ok();
  }
  result<void> set_clock_offset(node_id n, duration offset) noexcept {
    if (n >= nodes_.size()) return error(sim_errc::unknown_node, "world::set_clock_offset");
    rebase(nodes_[n]);
    nodes_[n].local_base_ns = now_ns_ + to_ns(offset);
    return ok();
  }

  /// Observers of crash/restart/pause (the network and disks register here).
  result<void> add_listener(lifecycle_fn fn, void* context) noexcept {
    if (listeners_.size() >= options_.max_lifecycle_listeners)
      return error(sim_errc::registry_full, "world::add_listener");
    listeners_.push_back({fn, context});
    return ok();
  }

  // ---- trace -------------------------------------------------------------------------
  /// One line per event to `sink` (nullptr: off). Tracing never changes the run.
  void set_trace(trace_fn sink, void* context) noexcept {
    trace_ = sink;
    trace_context_ = context;
  }
  /// Mixes a scenario-level fact into the trace hash (and prints it when tracing).
  void note(node_id n, std::string_view what, std::uint64_t value) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : what) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;
    hash_ = detail::mix64(hash_ ^ h ^ value ^ (static_cast<std::uint64_t>(n) << 40));
    if (trace_ == nullptr) return;
    char line[192];
    const int size = std::snprintf(line, sizeof line, "%14.6f ms  n%-3d %.*s %llu",
                                   static_cast<double>(now_ns_) * 1e-6,
                                   n == no_node ? -1 : static_cast<int>(n),
                                   static_cast<int>(what.size()), what.data(),
                                   static_cast<unsigned long long>(value));
    if (size > 0) trace_(trace_context_, std::string_view(line, std::min<std::size_t>(
                                                                    static_cast<std::size_t>(size),
                                                                    sizeof line - 1)));
  }
  [[nodiscard]] std::uint64_t trace_hash() const noexcept { return hash_; }
  [[nodiscard]] std::uint64_t events_processed() const noexcept { return processed_; }
  [[nodiscard]] std::uint64_t events_dropped() const noexcept { return dropped_; }
  [[nodiscard]] std::uint64_t events_deferred() const noexcept { return deferred_; }

 private:
  friend class node_clock;
  struct listener {
    lifecycle_fn fn;
    void* context;
  };
  struct kind_label {
    std::string_view name, arg0, arg1;
  };
  static bool later(const event& a, const event& b) noexcept {
    return a.at_ns != b.at_ns ? a.at_ns > b.at_ns : a.sequence > b.sequence;
  }
  static std::int64_t local_at(const detail::node_state& n, std::int64_t world_ns) noexcept {
    const std::int64_t elapsed = world_ns - n.world_base_ns;
    std::int64_t skew = 0;
    if (n.drift_ppm != 0)
      skew = static_cast<std::int64_t>(static_cast<double>(elapsed) *
                                       static_cast<double>(n.drift_ppm) * 1e-6);
    return n.local_base_ns + elapsed + skew;
  }
  void rebase(detail::node_state& n) const noexcept {
    n.local_base_ns = local_at(n, now_ns_);
    n.world_base_ns = now_ns_;
  }
  bool dropped(const event&) noexcept {
    ++dropped_;
    return true;
  }
  void notify(node_id n, lifecycle what) noexcept {
    for (const auto& l : listeners_) l.fn(l.context, n, what);
  }
  static void resume_thunk(void* context, const event& e) noexcept {
    auto* self = static_cast<world*>(context);
    auto& n = self->nodes_[e.arg0];
    if (!n.paused || n.paused_until_ns != static_cast<std::int64_t>(e.arg1)) return;
    n.paused = false;
    self->note(static_cast<node_id>(e.arg0), "resume", 0);
    self->notify(static_cast<node_id>(e.arg0), lifecycle::resumed);
  }
  void trace_event(const event& e) noexcept {
    const kind_label label =
        e.kind < kind_names_.size() ? kind_names_[e.kind] : kind_label{"?", "a", "b"};
    char args[2][64] = {{0}, {0}};
    if (!label.arg0.empty())
      std::snprintf(args[0], sizeof args[0], " %.*s=%llu", static_cast<int>(label.arg0.size()),
                    label.arg0.data(), static_cast<unsigned long long>(e.arg0));
    if (!label.arg1.empty())
      std::snprintf(args[1], sizeof args[1], " %.*s=%llu", static_cast<int>(label.arg1.size()),
                    label.arg1.data(), static_cast<unsigned long long>(e.arg1));
    char line[192];
    const int size = std::snprintf(line, sizeof line, "%14.6f ms  n%-3d %.*s%s%s",
                                   static_cast<double>(e.at_ns) * 1e-6,
                                   e.node == no_node ? -1 : static_cast<int>(e.node),
                                   static_cast<int>(label.name.size()), label.name.data(),
                                   args[0], args[1]);
    if (size > 0) trace_(trace_context_, std::string_view(line, std::min<std::size_t>(
                                                                    static_cast<std::size_t>(size),
                                                                    sizeof line - 1)));
  }

  world_options options_;
  result<void> status_{};
  xoshiro256 random_{0};
  std::vector<detail::node_state> nodes_;
  std::vector<event> queue_;
  std::vector<kind_label> kind_names_;
  std::vector<listener> listeners_;
  std::int64_t now_ns_ = 0;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t processed_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t deferred_ = 0;
  std::uint64_t hash_ = 0x6a09e667f3bcc908ull;
  trace_fn trace_ = nullptr;
  void* trace_context_ = nullptr;
};

inline time_point node_clock::now() const noexcept {
  return world_ == nullptr ? time_point{} : world_->local_now(node_);
}

}  // namespace sim
WEFT_END
