// weft/sim/swarm.hpp - swarm testing: a registry of named scenarios, a fault mix drawn
// per seed (each fault switched on or off, its rate picked at random), a nemesis that
// injects the mix into a world, and the runner behind `weft sim`. A failing seed is
// reproduced exactly by its command line. Guide: docs/sim.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/random.hpp"
#include "weft/core/result.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/world.hpp"

WEFT_BEGIN
namespace sim {

/// The faults a swarm can switch on. Names are the `--faults` list words.
enum class fault : std::uint8_t {
  loss, duplicate, reorder, partition, swizzle, crash, pause, clock, disk_loss, disk_corruption,
};
inline constexpr std::size_t fault_count = 10;
inline constexpr std::string_view fault_names[fault_count] = {
    "loss", "duplicate", "reorder", "partition", "swizzle",
    "crash", "pause", "clock", "disk_loss", "disk_corruption"};

/// A set of faults (bit i = fault i).
struct fault_set {
  std::uint32_t bits = 0;
  static constexpr fault_set all() noexcept { return {(1u << fault_count) - 1}; }
  static constexpr fault_set none() noexcept { return {0}; }
  [[nodiscard]] constexpr bool has(fault f) const noexcept {
    return (bits >> static_cast<unsigned>(f)) & 1u;
  }
  constexpr fault_set& add(fault f) noexcept {
    bits |= 1u << static_cast<unsigned>(f);
    return *this;
  }
  [[nodiscard]] constexpr bool subset_of(fault_set other) const noexcept {
    return (bits & ~other.bits) == 0;
  }
  friend constexpr bool operator==(fault_set, fault_set) noexcept = default;
};

/// Parses "loss,crash,partition", "all" or "none". Unknown words are refused.
[[nodiscard]] inline result<fault_set> parse_faults(std::string_view list) noexcept {
  if (list == "all") return fault_set::all();
  if (list == "none" || list.empty()) return fault_set::none();
  fault_set out;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view word = list.substr(0, comma);
    bool known = false;
    for (std::size_t i = 0; i < fault_count; ++i)
      if (fault_names[i] == word) {
        out.add(static_cast<fault>(i));
        known = true;
      }
    if (!known) return error(sim_errc::unknown_fault, "parse_faults");
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (list.empty()) return error(sim_errc::unknown_fault, "parse_faults: trailing comma");
  }
  return out;
}

/// The canonical comma list of `set` ("none" when empty).
inline std::string format_faults(fault_set set) {
  if (set.bits == 0) return "none";
  if (set == fault_set::all()) return "all";
  std::string out;
  for (std::size_t i = 0; i < fault_count; ++i)
    if (set.has(static_cast<fault>(i))) {
      if (!out.empty()) out.push_back(',');
      out.append(fault_names[i]);
    }
  return out;
}

/// One seed's faults and rates (swarm testing: a different mix for every seed).
struct fault_mix {
  fault_set on;
  double loss_probability = 0, duplicate_probability = 0, reorder_probability = 0;
  std::int64_t partition_every_ns = 0;   // mean time between partition changes
  std::int64_t crash_every_ns = 0;       // mean time between crashes
  std::int64_t pause_every_ns = 0;
  std::int64_t clock_every_ns = 0;
  std::int64_t disk_rotate_every_ns = 0;
  double disk_error_probability = 0;     // latent errors, bit rot, misdirected writes

  /// Draws the mix for `seed`: each fault in `allowed` is on with probability 1/2 and its
  /// rate is picked log-uniformly in a useful range.
  static fault_mix generate(std::uint64_t seed, fault_set allowed) noexcept {
    xoshiro256 r(seed ^ 0x6d1f0c3a9e2b5a71ull);
    fault_mix m;
    for (std::size_t i = 0; i < fault_count; ++i)
      if (allowed.has(static_cast<fault>(i)) && chance(r, 0.5)) m.on.add(static_cast<fault>(i));
    auto log_uniform = [&r](double low, double high) {
      return low * std::pow(high / low, uniform_unit(r));
    };
    auto interval_ns = [&](double low_ms, double high_ms) {
      return static_cast<std::int64_t>(log_uniform(low_ms, high_ms) * 1e6);
    };
    if (m.on.has(fault::loss)) m.loss_probability = log_uniform(0.001, 0.3);
    if (m.on.has(fault::duplicate)) m.duplicate_probability = log_uniform(0.001, 0.2);
    if (m.on.has(fault::reorder)) m.reorder_probability = log_uniform(0.01, 0.5);
    if (m.on.has(fault::partition) || m.on.has(fault::swizzle))
      m.partition_every_ns = interval_ns(20, 500);
    if (m.on.has(fault::crash)) m.crash_every_ns = interval_ns(50, 1000);
    if (m.on.has(fault::pause)) m.pause_every_ns = interval_ns(50, 1000);
    if (m.on.has(fault::clock)) m.clock_every_ns = interval_ns(50, 1000);
    if (m.on.has(fault::disk_corruption)) {
      m.disk_rotate_every_ns = interval_ns(50, 500);
      m.disk_error_probability = log_uniform(0.001, 0.05);
    }
    return m;
  }
};

/// Injects a fault_mix into a running world: partitions and heals, crashes and restarts
/// (at most max_down nodes down at once), pauses, clock jumps, disk-fault rotation within
/// a budget. Everything it does is drawn from the world's seeded stream.
class nemesis {
 public:
  struct options {
    std::uint32_t max_down = 1;                   // nodes crashed at the same time
    std::int64_t downtime_max_ns = 200'000'000;
    std::int64_t pause_max_ns = 100'000'000;
    std::int64_t clock_jump_max_ns = 500'000'000;
    disk_fault_budget disk_budget{};
  };

  nemesis(world& w, network* net, std::span<disk* const> disks, const fault_mix& mix,
          const options& opts) noexcept
      : world_(w), net_(net), disks_(disks.begin(), disks.end()), mix_(mix), options_(opts) {
    auto kind = w.event_kind("nemesis", "", "");
    kind_ = kind ? *kind : 0;
  }
  nemesis(const nemesis&) = delete;
  nemesis& operator=(const nemesis&) = delete;

  /// Validates the plan (disk budget) and schedules the first faults.
  result<void> start() noexcept {
    if (mix_.on.has(fault::disk_corruption))
      WEFT_TRY(options_.disk_budget.validate(static_cast<std::uint32_t>(disks_.size())));
    if (net_ != nullptr)
      WEFT_TRY(net_->set_rates(mix_.loss_probability, mix_.duplicate_probability,
                               mix_.reorder_probability));
    for (disk* d : disks_) {
      d->set_error_probability(mix_.disk_error_probability);
      d->set_crash_loss(mix_.on.has(fault::disk_loss));
    }
    active_ = true;
    WEFT_TRY(arm(action::partition, mix_.partition_every_ns));
    WEFT_TRY(arm(action::crash, mix_.crash_every_ns));
    WEFT_TRY(arm(action::pause, mix_.pause_every_ns));
    WEFT_TRY(arm(action::clock, mix_.clock_every_ns));
    WEFT_TRY(arm(action::disk, mix_.disk_rotate_every_ns));
    return ok();
  }
  /// Stops injecting, heals the network and restarts every node (the quiet phase at the
  /// end of a run, so that liveness can be checked).
  void stop() noexcept {
    active_ = false;
    if (net_ != nullptr) {
      net_->heal();
      (void)net_->set_rates(0, 0, 0);
    }
    for (disk* d : disks_) d->enable_faults(false);
    for (node_id n = 0; n < world_.node_count(); ++n) (void)world_.restart(n);
  }

 private:
  enum class action : std::uint8_t { partition, crash, pause, clock, disk, restart, heal };

  result<void> arm(action a, std::int64_t mean_ns, std::uint64_t arg = 0) noexcept {
    if (mean_ns <= 0) return ok();
    event e;
    e.at_ns = world_.now_ns() + 1 +
              static_cast<std::int64_t>(exponential(world_.random(), static_cast<double>(mean_ns)));
    e.fn = &nemesis::thunk;
    e.context = this;
    e.arg0 = static_cast<std::uint64_t>(a);
    e.arg1 = arg;
    e.kind = kind_;
    return world_.schedule(e);
  }
  static void thunk(void* context, const event& e) noexcept {
    static_cast<nemesis*>(context)->act(static_cast<action>(e.arg0), e.arg1);
  }
  void act(action a, std::uint64_t arg) noexcept {
    if (!active_) return;
    auto& r = world_.random();
    const std::uint32_t n = world_.node_count();
    switch (a) {
      case action::partition: partition_step(r); break;
      case action::heal:
        if (net_ != nullptr) net_->heal();
        world_.note(no_node, "heal", 0);
        break;
      case action::crash: {
        const auto victim = static_cast<node_id>(uniform_below(r, n));
        if (world_.is_up(victim) && down() < options_.max_down) {
          (void)world_.crash(victim);
          (void)arm(action::restart, std::max<std::int64_t>(1, options_.downtime_max_ns / 2),
                    victim);
        }
        (void)arm(action::crash, mix_.crash_every_ns);
        break;
      }
      case action::restart: (void)world_.restart(static_cast<node_id>(arg)); break;
      case action::pause: {
        const auto victim = static_cast<node_id>(uniform_below(r, n));
        (void)world_.pause(victim, nanoseconds(static_cast<std::int64_t>(uniform_below(
                                       r, static_cast<std::uint64_t>(options_.pause_max_ns)))));
        (void)arm(action::pause, mix_.pause_every_ns);
        break;
      }
      case action::clock: {
        const auto victim = static_cast<node_id>(uniform_below(r, n));
        const auto size = static_cast<std::int64_t>(
            uniform_below(r, static_cast<std::uint64_t>(options_.clock_jump_max_ns)));
        (void)world_.jump_clock(victim, nanoseconds(chance(r, 0.5) ? size : -size));
        (void)world_.set_clock_drift(victim, static_cast<std::int64_t>(uniform_below(r, 401)) - 200);
        (void)arm(action::clock, mix_.clock_every_ns);
        break;
      }
      case action::disk:
        (void)rotate_disk_faults(disks_, options_.disk_budget, r);
        (void)arm(action::disk, mix_.disk_rotate_every_ns);
        break;
    }
  }
  void partition_step(xoshiro256& r) noexcept {
    if (net_ != nullptr) {
      const bool swizzle = mix_.on.has(fault::swizzle) &&
                           (!mix_.on.has(fault::partition) || chance(r, 0.3));
      const std::uint32_t n = world_.node_count();
      net_->heal();
      if (swizzle) {
        (void)net_->swizzle_clog(nanoseconds(mix_.partition_every_ns / (2 * n + 1) + 1));
        world_.note(no_node, "swizzle_clog", 0);
      } else {
        switch (uniform_below(r, 3)) {
          case 0:
            net_->partition_random_halves();
            world_.note(no_node, "partition_halves", 0);
            break;
          case 1: {
            const auto victim = static_cast<node_id>(uniform_below(r, n));
            net_->isolate(victim);
            world_.note(victim, "isolate", 0);
            break;
          }
          default: {
            const node_id from[] = {static_cast<node_id>(uniform_below(r, n))};
            const node_id to[] = {static_cast<node_id>(uniform_below(r, n))};
            net_->partition_one_way(from, to);
            world_.note(from[0], "cut_one_way_to", to[0]);
          }
        }
        (void)arm(action::heal, mix_.partition_every_ns / 2);
      }
    }
    (void)arm(action::partition, mix_.partition_every_ns);
  }
  [[nodiscard]] std::uint32_t down() const noexcept {
    std::uint32_t count = 0;
    for (node_id n = 0; n < world_.node_count(); ++n) count += world_.is_up(n) ? 0u : 1u;
    return count;
  }

  world& world_;
  network* net_;
  std::vector<disk*> disks_;
  fault_mix mix_;
  options options_;
  std::uint16_t kind_ = 0;
  bool active_ = false;
};

/// How one scenario run is configured.
struct run_options {
  std::uint32_t nodes = 3;
  fault_set faults = fault_set::all();  // allowed; the seed's mix picks among them
  std::uint32_t max_faulty_disks = 1;   // disk_corruption touches at most this many at once
  trace_fn trace = nullptr;             // per-event lines for --trace
  void* trace_context = nullptr;
};

/// What one run produced.
struct outcome {
  bool passed = true;
  std::uint64_t events = 0;
  std::uint64_t trace_hash = 0;
  std::int64_t simulated_ns = 0;
  std::string message;  // why it failed (first line), or a short note
};

/// A named scenario other modules register (Raft, SWIM, storage swarms, the reference one).
struct scenario {
  std::string_view name;
  std::string_view description;
  outcome (*run)(std::uint64_t seed, const run_options& options) = nullptr;
  std::uint32_t min_nodes = 1;
  std::uint32_t max_nodes = 64;
  std::uint32_t default_nodes = 3;
  fault_set supported = fault_set::all();
  std::uint32_t min_clean_disks = 1;  // disks that must stay clean (disk_fault_budget)
};

/// Scenarios known to this program. Register from a static object:
/// `static const weft::sim::scenario_registration r{my_scenario};`.
class scenario_registry {
 public:
  static constexpr std::size_t capacity = 64;
  result<void> add(const scenario& s) noexcept {
    if (find(s.name) != nullptr) return ok();
    if (count_ == capacity) return error(sim_errc::registry_full, "scenario_registry::add");
    entries_[count_++] = s;
    return ok();
  }
  [[nodiscard]] const scenario* find(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < count_; ++i)
      if (entries_[i].name == name) return &entries_[i];
    return nullptr;
  }
  [[nodiscard]] std::span<const scenario> all() const noexcept { return {entries_, count_}; }

 private:
  scenario entries_[capacity]{};
  std::size_t count_ = 0;
};

inline scenario_registry& scenarios() noexcept {
  static scenario_registry registry;
  return registry;
}
struct scenario_registration {
  explicit scenario_registration(const scenario& s) noexcept { (void)scenarios().add(s); }
};

/// Refuses node counts and fault lists the scenario cannot run.
[[nodiscard]] inline result<void> validate_run(const scenario& s, const run_options& o) noexcept {
  if (o.nodes < s.min_nodes || o.nodes > s.max_nodes)
    return error(sim_errc::invalid_options, "nodes outside the scenario's range");
  if (!o.faults.subset_of(s.supported))
    return error(sim_errc::unsupported_fault, "fault not supported by the scenario");
  if (o.faults.has(fault::disk_corruption))
    WEFT_TRY((disk_fault_budget{o.max_faulty_disks, s.min_clean_disks}.validate(o.nodes)));
  return ok();
}

/// The command that replays one seed.
inline std::string reproduce_command(const scenario& s, std::uint64_t seed, const run_options& o) {
  char line[256];
  std::snprintf(line, sizeof line,
                "weft sim --scenario %.*s --seed %llu --nodes %u --faults %s --faulty-disks %u",
                static_cast<int>(s.name.size()), s.name.data(),
                static_cast<unsigned long long>(seed), o.nodes, format_faults(o.faults).c_str(),
                o.max_faulty_disks);
  return line;
}

struct swarm_options {
  std::uint64_t first_seed = 1;
  std::uint64_t seeds = 100;
  run_options run{};
  std::size_t max_reported_failures = 50;
  /// Called after every seed (for progress displays); may be null.
  void (*progress)(void* context, std::uint64_t done, std::uint64_t total,
                   std::uint64_t failures) = nullptr;
  void* progress_context = nullptr;
};

struct failed_seed {
  std::uint64_t seed;
  std::string message;
  std::string command;
};

struct swarm_summary {
  std::uint64_t seeds = 0;
  std::uint64_t events = 0;
  std::uint64_t failures = 0;
  std::int64_t simulated_ns = 0;
  std::vector<failed_seed> failed;  // at most max_reported_failures
};

/// Runs seeds first_seed .. first_seed + seeds - 1; refuses a bad configuration first.
[[nodiscard]] inline result<swarm_summary> run_swarm(const scenario& s,
                                                     const swarm_options& o) noexcept {
  WEFT_TRY(validate_run(s, o.run));
  if (o.seeds == 0) return error(sim_errc::invalid_options, "run_swarm: zero seeds");
  swarm_summary summary;
  for (std::uint64_t i = 0; i < o.seeds; ++i) {
    const std::uint64_t seed = o.first_seed + i;
    const outcome out = s.run(seed, o.run);
    ++summary.seeds;
    summary.events += out.events;
    summary.simulated_ns += out.simulated_ns;
    if (!out.passed) {
      ++summary.failures;
      if (summary.failed.size() < o.max_reported_failures)
        summary.failed.push_back({seed, out.message, reproduce_command(s, seed, o.run)});
    }
    if (o.progress != nullptr) o.progress(o.progress_context, i + 1, o.seeds, summary.failures);
  }
  return summary;
}

}  // namespace sim
WEFT_END
