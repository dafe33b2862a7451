// SWIM cores driven by the weft::sim world and network (docs/sim.md): drifting node
// clocks, datagram loss, duplication and reordering, a 244-byte MTU, a crash and a pause.
// Every live member must declare the crashed one dead and nobody else; one seed, one run.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "../unit/swim/swim_harness.hpp"
#include "weft/membership/swim/sim_scenario.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/world.hpp"

using namespace swim_test;

namespace {
struct outcome {
  std::uint64_t trace_hash = 0;
  std::size_t failed_about_crashed = 0, failed_about_others = 0;
  std::size_t datagrams_refused = 0;
  std::uint64_t duplicates_seen = 0;
};

struct swim_node {
  sim::world* world = nullptr;
  sim::endpoint net;
  sim::node_id self = 0;
  std::unique_ptr<core> k;
  outcome* out = nullptr;
  node_id crashed_id = 0;

  void flush() {
    for (const outgoing& o : k->sends()) {
      const auto to = static_cast<sim::node_id>(o.to - 1);  // swim address = sim node + 1
      const auto r = o.via == channel::datagram ? net.send_datagram(to, o.bytes)
                                                : net.send_message(to, o.bytes);
      // A stream to the crashed member is refused (not connected): the fallback probe.
      if (!r && o.via == channel::datagram) ++out->datagrams_refused;
    }
    for (const notification& n : k->notifications()) {
      if (n.kind != notification_kind::member_failed) continue;
      if (n.member == crashed_id) ++out->failed_about_crashed;
      else ++out->failed_about_others;
    }
    k->clear_outputs();
  }
  static void on_message(void* context, sim::node_id, sim::node_id from, sim::channel ch,
                         byte_view payload) noexcept {
    auto* n = static_cast<swim_node*>(context);
    const time_point now = n->world->clock(n->self).now();
    if (ch == sim::channel::datagram) (void)n->k->step(now, from + 1, payload);
    else (void)n->k->step_stream(now, from + 1, payload);
    n->flush();
  }
  static void on_tick(void* context, const sim::event&) noexcept {
    auto* n = static_cast<swim_node*>(context);
    n->k->tick(n->world->clock(n->self).now());
    n->flush();
    (void)n->world->after(n->self, milliseconds(50), &on_tick, n);
  }
};

outcome run(std::uint64_t seed, std::uint32_t members) {
  sim::world world({.seed = seed, .nodes = members});
  sim::network net(world, {.max_datagram_size_bytes = 244,
                           .max_message_size_bytes = 8192,
                           .loss_probability = 0.05,
                           .duplicate_probability = 0.02,
                           .reorder_probability = 0.05});
  REQUIRE(net.status());
  options o = sim_options(members);
  o.mtu_bytes = 244;
  o.max_payload_bytes = 100;
  outcome out;
  const sim::node_id crashed = 5;
  std::vector<swim_node> nodes(members);
  for (sim::node_id i = 0; i < members; ++i) {
    nodes[i].world = &world;
    nodes[i].net = net.endpoint_for(i);
    nodes[i].self = i;
    nodes[i].k = std::make_unique<core>(make_core(o, i, seed));
    nodes[i].out = &out;
    nodes[i].crashed_id = crashed + 1;
    net.set_receiver(i, {&swim_node::on_message, nullptr, &nodes[i]});
  }
  // Everyone knows everyone from configuration; node 0 bootstraps the rest join through it.
  for (auto& n : nodes) {
    REQUIRE(n.k->bootstrap(world.clock(n.self).now()));
    for (auto& m : nodes)
      if (&m != &n) (void)n.k->add_member(world.now(), m.k->self_claim());
    n.flush();
    REQUIRE(world.after(n.self, milliseconds(10 + n.self), &swim_node::on_tick, &n));
  }
  world.run_for(seconds(10));
  REQUIRE(world.crash(crashed));
  world.run_for(seconds(20));
  REQUIRE(world.pause(7, seconds(4)));  // a stall shorter than the suspicion timeout
  world.run_for(seconds(90));
  for (auto& n : nodes) out.duplicates_seen += n.k->stats().duplicates;
  out.trace_hash = world.trace_hash();
  return out;
}
}  // namespace

TEST_CASE("swim on the weft::sim world: crash detected, pause survived, replayable",
          "[swim][sim][world]") {
  const std::uint32_t members = 16;
  const outcome a = run(2026, members);
  CHECK(a.failed_about_crashed == members - 1);
  CHECK(a.failed_about_others == 0);
  CHECK(a.datagrams_refused == 0);  // nothing over the 244-byte MTU
  const outcome b = run(2026, members);
  CHECK(a.trace_hash == b.trace_hash);  // same seed, same run
  CHECK(a.failed_about_crashed == b.failed_about_crashed);
}

TEST_CASE("swim sim scenario: seeds pass, replay from their seed, and run the faults they draw",
          "[swim][sim][world]") {
  const weft::sim::run_options run{.nodes = 12};
  std::size_t crashed_runs = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const weft::sim::outcome a = weft::swim::run_sim_scenario(seed, run);
    INFO("seed " << seed << ": " << a.message);
    CHECK(a.passed);
    CHECK(a.events > 0);
    if (a.message.find("detected by all 11") != std::string::npos) ++crashed_runs;
    const weft::sim::outcome b = weft::swim::run_sim_scenario(seed, run);
    CHECK(a.trace_hash == b.trace_hash);
  }
  CHECK(crashed_runs > 0);  // some seed did crash a member and it was found
}
