// weft/membership/swim/sim_scenario.hpp - the `swim` scenario for `weft sim`: SWIM cores on
// the simulated world and network, one crash and one pause, invariants checked per seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "weft/config.hpp"
#include "weft/membership/swim/core.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/world.hpp"

WEFT_BEGIN
namespace swim {
namespace detail {

/// One seeded run. Each seed draws its loss, duplication and reordering rates from
/// sim::fault_mix (loss capped at 10%: the detector's claim is "no false dead at 10% loss"),
/// crashes one member (when crash is allowed) and pauses another for 1-3 s, shorter than the
/// minimum suspicion timeout (when pause is allowed). Invariants: every live member declares
/// the crashed member dead within the maximum suspicion timeout plus slack; nobody declares
/// any other member dead.
class sim_swarm_run {
 public:
  static constexpr double max_loss = 0.10;
  static constexpr std::uint32_t anchor_seed = 0x5eed;

  sim_swarm_run(std::uint64_t seed, const sim::run_options& run)
      : seed_(seed), mix_(sim::fault_mix::generate(seed, run.faults)),
        world_({.seed = seed, .nodes = run.nodes, .max_pending_events = 1u << 16}),
        net_(world_, {.max_datagram_size_bytes = 512,
                      .max_message_size_bytes = 8192,
                      .max_in_flight_messages = 2048,
                      .loss_probability = std::min(mix_.loss_probability, max_loss),
                      .duplicate_probability = mix_.duplicate_probability,
                      .reorder_probability = mix_.reorder_probability}) {
    world_.set_trace(run.trace, run.trace_context);
    if (auto kind = world_.event_kind("swim_tick", "", "")) tick_kind_ = *kind;
    opts_.mtu_bytes = 512;
    opts_.max_payload_bytes = 100;
    opts_.max_members = run.nodes + 4;
    opts_.max_stream_message_bytes = 8192;  // full state of 64 members fits
  }

  sim::outcome run() {
    if (!world_.status() || !net_.status()) return failed("setup refused");
    const std::uint32_t n = world_.node_count();
    members_.resize(n);
    for (sim::node_id i = 0; i < n; ++i)
      if (!start_member(i)) return failed("a member could not be created");
    introduce_everyone();
    world_.run_for(seconds(10));
    xoshiro256 plan(seed_ ^ 0x53574d5f70616e73ull);
    crashed_ = mix_.on.has(sim::fault::crash)
                   ? static_cast<sim::node_id>(uniform_below(plan, n))
                   : no_member;
    if (crashed_ != no_member) (void)world_.crash(crashed_);
    crash_ns_ = world_.now_ns();
    if (mix_.on.has(sim::fault::pause)) {
      const auto paused = static_cast<sim::node_id>((crashed_ + 1 + uniform_below(plan, n - 1)) % n);
      world_.run_for(seconds(3));
      (void)world_.pause(paused, milliseconds(static_cast<std::int64_t>(1000 + uniform_below(plan, 2001))));
    }
    world_.run_until(time_point_from_ns(crash_ns_ + to_ns(detection_bound())));
    return verdict();
  }

 private:
  static constexpr sim::node_id no_member = ~sim::node_id{0};

  struct member {
    sim_swarm_run* run = nullptr;
    sim::node_id self = 0;
    std::unique_ptr<core> k;
  };

  /// Max suspicion timeout (memberlist's formula at this n) plus probe and gossip slack.
  [[nodiscard]] duration detection_bound() const noexcept {
    const double n = static_cast<double>(world_.node_count());
    const double min_s = static_cast<double>(opts_.suspicion_multiplier) * std::max(1.0, std::log10(n));
    const double bound_s = min_s * static_cast<double>(opts_.suspicion_max_timeout_multiplier) + 10.0;
    return milliseconds(static_cast<std::int64_t>(bound_s * 1000.0));
  }

  bool start_member(sim::node_id i) {
    const test_admission_scheme anchor(anchor_seed);
    const test_admission_scheme scheme(seed_ * 1000 + i);
    identity self;
    self.id = i + 1;
    self.addr = i + 1;  // swim address = sim node + 1 (0 means none)
    auto admission = admit(anchor, self.id, scheme.public_key());
    if (!admission) return false;
    self.admission = *admission;
    const byte_view anchors[] = {anchor.public_key()};
    auto c = core::create(opts_, self, scheme, xoshiro256(world_.node_random(i).next_u64()), anchors);
    if (!c) return false;
    members_[i] = {this, i, std::make_unique<core>(std::move(*c))};
    net_.set_receiver(i, {&sim_swarm_run::on_message, nullptr, &members_[i]});
    return true;
  }
  void introduce_everyone() {
    for (member& m : members_) {
      (void)m.k->bootstrap(world_.clock(m.self).now());
      for (const member& other : members_)
        if (&other != &m) (void)m.k->add_member(world_.clock(m.self).now(), other.k->self_claim());
      flush(m);
      (void)world_.after(m.self, milliseconds(10 + m.self), &sim_swarm_run::on_tick, &m, 0,
                         tick_kind_);
    }
  }

  void flush(member& m) {
    for (const outgoing& o : m.k->sends()) {
      const auto to = static_cast<sim::node_id>(o.to - 1);
      if (o.via == channel::datagram) (void)net_.endpoint_for(m.self).send_datagram(to, o.bytes);
      else (void)net_.endpoint_for(m.self).send_message(to, o.bytes);
    }
    for (const notification& note : m.k->notifications())
      if (note.kind == notification_kind::member_failed) record_verdict(m.self, note.member);
    m.k->clear_outputs();
  }
  void record_verdict(sim::node_id judge, node_id about) {
    world_.note(judge, "swim_dead_verdict_about", about);
    if (crashed_ != no_member && about == crashed_ + 1) {
      ++crash_verdicts_;
      latest_verdict_ns_ = std::max(latest_verdict_ns_, world_.now_ns());
      return;
    }
    if (false_verdicts_++ == 0) {
      char line[160];
      std::snprintf(line, sizeof line, "member %u declared live member %llu dead at %.1f s",
                    judge + 1, static_cast<unsigned long long>(about),
                    static_cast<double>(world_.now_ns()) / 1e9);
      first_false_verdict_ = line;
    }
  }
  static void on_message(void* context, sim::node_id, sim::node_id from, sim::channel ch,
                         byte_view payload) noexcept {
    auto* m = static_cast<member*>(context);
    const time_point now = m->run->world_.clock(m->self).now();
    if (ch == sim::channel::datagram) (void)m->k->step(now, from + 1, payload);
    else (void)m->k->step_stream(now, from + 1, payload);
    m->run->flush(*m);
  }
  static void on_tick(void* context, const sim::event&) noexcept {
    auto* m = static_cast<member*>(context);
    m->k->tick(m->run->world_.clock(m->self).now());
    m->run->flush(*m);
    (void)m->run->world_.after(m->self, milliseconds(50), &sim_swarm_run::on_tick, m, 0,
                               m->run->tick_kind_);
  }

  sim::outcome verdict() {
    sim::outcome out;
    out.events = world_.events_processed();
    out.trace_hash = world_.trace_hash();
    out.simulated_ns = world_.now_ns();
    const std::uint32_t judges = crashed_ == no_member ? 0 : world_.node_count() - 1;
    char line[200];
    if (false_verdicts_ != 0) {
      out.passed = false;
      std::snprintf(line, sizeof line, "%llu false dead verdicts; first: %s",
                    static_cast<unsigned long long>(false_verdicts_), first_false_verdict_.c_str());
    } else if (crash_verdicts_ < judges) {
      out.passed = false;
      std::snprintf(line, sizeof line, "crashed member %u declared dead by %llu of %u live members",
                    crashed_ + 1, static_cast<unsigned long long>(crash_verdicts_), judges);
    } else if (judges == 0) {
      std::snprintf(line, sizeof line, "no crash this seed, no false dead; loss %.3f; faults %s",
                    std::min(mix_.loss_probability, max_loss), sim::format_faults(mix_.on).c_str());
    } else {
      std::snprintf(line, sizeof line, "crash detected by all %u in %.1f s; loss %.3f; faults %s",
                    judges, static_cast<double>(latest_verdict_ns_ - crash_ns_) / 1e9,
                    std::min(mix_.loss_probability, max_loss), sim::format_faults(mix_.on).c_str());
    }
    out.message = line;
    return out;
  }
  sim::outcome failed(const char* why) {
    sim::outcome out;
    out.passed = false;
    out.message = why;
    return out;
  }

  std::uint64_t seed_;
  std::uint16_t tick_kind_ = 0;
  sim::fault_mix mix_;
  sim::world world_;
  sim::network net_;
  options opts_;
  std::vector<member> members_;
  sim::node_id crashed_ = no_member;
  std::int64_t crash_ns_ = 0, latest_verdict_ns_ = 0;
  std::uint64_t crash_verdicts_ = 0, false_verdicts_ = 0;
  std::string first_false_verdict_;
};

}  // namespace detail

inline sim::outcome run_sim_scenario(std::uint64_t seed, const sim::run_options& run) {
  auto r = std::make_unique<detail::sim_swarm_run>(seed, run);
  return r->run();
}

/// `weft sim --scenario swim`: crash detection and no false dead verdicts under loss,
/// duplication, reordering and a pause. Register with
/// `static const weft::sim::scenario_registration r{weft::swim::sim_scenario};`.
inline constexpr sim::scenario sim_scenario{
    .name = "swim",
    .description = "SWIM+Lifeguard: a crashed member is declared dead by all, nobody else "
                   "(loss <= 10%, duplication, reordering, one pause)",
    .run = &run_sim_scenario,
    .min_nodes = 4,
    .max_nodes = 64,
    .default_nodes = 16,
    .supported = {(1u << static_cast<unsigned>(sim::fault::loss)) |
                  (1u << static_cast<unsigned>(sim::fault::duplicate)) |
                  (1u << static_cast<unsigned>(sim::fault::reorder)) |
                  (1u << static_cast<unsigned>(sim::fault::crash)) |
                  (1u << static_cast<unsigned>(sim::fault::pause))},
    .min_clean_disks = 0,
};

}  // namespace swim
WEFT_END
