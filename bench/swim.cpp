// bench_swim: CPU time and traffic of SWIM per member per protocol period, at 1,000 members
// on the in-test network (steady state, and with 10% datagram loss), with memberlist's
// fallback stream probe and without it (the core before the fallback). One benchmark
// iteration is one protocol period of the whole cluster.
//   items_per_second      member-periods per second (CPU per member-period = 1 / that)
//   bytes_per_member_period, datagrams_per_member_period, stream_bytes_per_member_period
//   suspicions_per_period  suspicions started, cluster-wide, per period (all false here)
#include <benchmark/benchmark.h>

#include <memory>

#include "../tests/unit/swim/swim_harness.hpp"

using namespace swim_test;

namespace {
cluster& shared_cluster(std::uint32_t n, double loss, bool fallback) {
  static std::unique_ptr<cluster> c;
  static std::uint32_t built_n = 0;
  static bool built_fallback = false;
  if (!c || built_n != n || built_fallback != fallback) {
    options o = sim_options(n);
    o.stream_probe_fallback = fallback;
    c = std::make_unique<cluster>(n, o, 2024);
    built_n = n;
    built_fallback = fallback;
    c->run_for(10s);  // past the start-up announcements
  }
  c->loss = loss;
  return *c;
}

std::uint64_t suspicions(const cluster& c) {
  std::uint64_t total = 0;
  for (const core& k : c.cores) total += k.stats().suspicions_started;
  return total;
}

void swim_period(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const double loss = static_cast<double>(state.range(1)) / 100.0;
  cluster& c = shared_cluster(n, loss, state.range(2) != 0);
  const auto d0 = c.datagrams, b0 = c.datagram_bytes, s0 = c.stream_bytes;
  const auto suspicions0 = suspicions(c);
  for (auto _ : state) c.run_for(1s);
  const auto periods = static_cast<double>(state.iterations());
  const double member_periods = periods * n;
  state.SetItemsProcessed(static_cast<std::int64_t>(member_periods));
  state.counters["datagrams_per_member_period"] =
      static_cast<double>(c.datagrams - d0) / member_periods;
  state.counters["bytes_per_member_period"] =
      static_cast<double>(c.datagram_bytes - b0) / member_periods;
  state.counters["stream_bytes_per_member_period"] =
      static_cast<double>(c.stream_bytes - s0) / member_periods;
  state.counters["suspicions_per_period"] =
      static_cast<double>(suspicions(c) - suspicions0) / periods;
}
}  // namespace

// Args: members, datagram loss in percent, fallback stream probe (1) or not (0).
BENCHMARK(swim_period)
    ->ArgNames({"members", "loss_pct", "fallback"})
    ->Args({1000, 0, 1})
    ->Args({1000, 10, 1})
    ->Args({1000, 0, 0})
    ->Args({1000, 10, 0})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

BENCHMARK_MAIN();
