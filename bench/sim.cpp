// bench_sim: simulated events per second of wall time for a 5-node ping-pong workload with
// every network fault on (loss, duplication, reordering, partitions, swizzle-clog).
// Target: >= 1,000,000 events/s on one core. Run:
//   ./bench_sim --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>

#include "weft/sim/network.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/sim/world.hpp"

namespace {
namespace sim = weft::sim;

constexpr std::uint32_t nodes = 5;
constexpr std::uint64_t events_per_run = 2'000'000;

struct ping_pong {
  sim::world* world;
  sim::network* net;
  static void on_message(void* context, sim::node_id self, sim::node_id from, sim::channel,
                         weft::byte_view payload) noexcept {
    auto* me = static_cast<ping_pong*>(context);
    std::uint8_t reply[16] = {};
    reply[0] = payload.empty() ? 0 : static_cast<std::uint8_t>(payload[0] ^ 1u);  // ping <-> pong
    if (reply[0] == 1) {
      (void)me->net->send(self, from, sim::channel::datagram, reply);  // answer the ping
    } else {  // a pong: ping someone else, so traffic keeps flowing despite losses
      const auto to = static_cast<sim::node_id>(weft::uniform_below(me->world->node_random(self), nodes));
      (void)me->net->send(self, to, sim::channel::datagram, reply);
    }
  }
  // Each node's heartbeat re-seeds pings that the faults ate.
  static void heartbeat(void* context, const sim::event& e) noexcept {
    auto* me = static_cast<ping_pong*>(context);
    std::uint8_t ping[16] = {};
    const auto to = static_cast<sim::node_id>(weft::uniform_below(me->world->node_random(e.node), nodes));
    (void)me->net->send(e.node, to, sim::channel::datagram, ping);
    (void)me->world->after(e.node, weft::microseconds(200), &heartbeat, me, 0, e.kind);
  }
};

void run_once(std::uint64_t seed, std::uint64_t& total, benchmark::State& state);

void BM_sim_ping_pong_all_network_faults(benchmark::State& state) {
  std::uint64_t total = 0;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    state.PauseTiming();
    run_once(seed++, total, state);
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

void run_once(std::uint64_t seed, std::uint64_t& total, benchmark::State& state) {
  {
    sim::world world({.seed = seed, .nodes = nodes, .max_pending_events = 1u << 16});
    sim::network net(world, {.max_datagram_size_bytes = 244, .max_message_size_bytes = 256,
                             .max_in_flight_messages = 8192});
    ping_pong app{&world, &net};
    sim::fault_mix mix;
    mix.on.add(sim::fault::loss).add(sim::fault::duplicate).add(sim::fault::reorder);
    mix.on.add(sim::fault::partition).add(sim::fault::swizzle);
    mix.loss_probability = 0.05;
    mix.duplicate_probability = 0.05;
    mix.reorder_probability = 0.1;
    mix.partition_every_ns = 50'000'000;
    sim::nemesis chaos(world, &net, {}, mix, {});
    const auto kind = *world.event_kind("heartbeat", "", "");
    for (sim::node_id n = 0; n < nodes; ++n) {
      net.set_receiver(n, {&ping_pong::on_message, nullptr, &app});
      for (int k = 0; k < 8; ++k)  // eight pings in flight per node
        (void)world.after(n, weft::microseconds(k * 10), &ping_pong::heartbeat, &app, 0, kind);
    }
    (void)chaos.start();
    state.ResumeTiming();
    std::uint64_t ran = 0;
    while (ran < events_per_run && world.step()) ++ran;
    total += world.events_processed();
    const auto& stats = net.stats();  // proof that the faults were on
    state.counters["lost"] = static_cast<double>(stats.lost);
    state.counters["duplicated"] = static_cast<double>(stats.duplicated);
    state.counters["dropped_partition"] = static_cast<double>(stats.dropped_partition);
    state.counters["delivered"] = static_cast<double>(stats.delivered);
    benchmark::DoNotOptimize(world.trace_hash());
    state.PauseTiming();  // tear-down (freeing the slab) is not simulation work
  }
  state.ResumeTiming();
}
BENCHMARK(BM_sim_ping_pong_all_network_faults)->Unit(benchmark::kMillisecond)->Iterations(3);
}  // namespace

BENCHMARK_MAIN();
