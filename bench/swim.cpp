// bench_swim: CPU time and traffic of SWIM per member per protocol period, at 1,000 members
// on the in-test network (steady state, and with 10% datagram loss). One benchmark
// iteration is one protocol period of the whole cluster.
//   items_per_second      member-periods per second (CPU per member-period = 1 / that)
//   bytes_per_member_period, datagrams_per_member_period
#include <benchmark/benchmark.h>

#include <memory>

#include "../tests/unit/swim/swim_harness.hpp"

using namespace swim_test;

namespace {
cluster& shared_cluster(std::uint32_t n, double loss) {
  static std::unique_ptr<cluster> c;
  static std::uint32_t built_n = 0;
  if (!c || built_n != n) {
    c = std::make_unique<cluster>(n, sim_options(n), 2024);
    built_n = n;
    c->run_for(10s);  // past the start-up announcements
  }
  c->loss = loss;
  return *c;
}

void swim_period(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const double loss = static_cast<double>(state.range(1)) / 100.0;
  cluster& c = shared_cluster(n, loss);
  const auto d0 = c.datagrams, b0 = c.datagram_bytes, s0 = c.stream_bytes;
  for (auto _ : state) c.run_for(1s);
  const double member_periods = static_cast<double>(state.iterations()) * n;
  state.SetItemsProcessed(static_cast<std::int64_t>(member_periods));
  state.counters["datagrams_per_member_period"] =
      static_cast<double>(c.datagrams - d0) / member_periods;
  state.counters["bytes_per_member_period"] =
      static_cast<double>(c.datagram_bytes - b0) / member_periods;
  state.counters["stream_bytes_per_member_period"] =
      static_cast<double>(c.stream_bytes - s0) / member_periods;
}
}  // namespace

BENCHMARK(swim_period)->Args({1000, 0})->Args({1000, 10})->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

BENCHMARK_MAIN();
