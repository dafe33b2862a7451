// Unit tests for the swarm pieces: fault lists, per-seed fault mixes, the nemesis, the
// scenario registry and the reproduction command.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "weft/sim/swarm.hpp"

using namespace weft;
using namespace weft::sim;

TEST_CASE("fault lists parse, refuse unknown words and print canonically", "[sim][swarm]") {
  REQUIRE(parse_faults("all")->bits == fault_set::all().bits);
  REQUIRE(parse_faults("none")->bits == 0);
  const auto some = parse_faults("crash,loss,swizzle");
  REQUIRE(some);
  REQUIRE(some->has(fault::crash));
  REQUIRE(some->has(fault::loss));
  REQUIRE_FALSE(some->has(fault::partition));
  REQUIRE(format_faults(*some) == "loss,swizzle,crash");
  REQUIRE(parse_faults("loss,,crash").error() == sim_errc::unknown_fault);
  REQUIRE(parse_faults("Loss").error() == sim_errc::unknown_fault);
  for (std::size_t i = 0; i < fault_count; ++i)
    REQUIRE(parse_faults(fault_names[i])->bits == (1u << i));
}

TEST_CASE("each seed draws its own fault mix within the allowed set", "[sim][swarm]") {
  const fault_set allowed = *parse_faults("loss,crash,partition,clock");
  std::set<std::uint32_t> mixes;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const fault_mix m = fault_mix::generate(seed, allowed);
    REQUIRE(m.on.subset_of(allowed));
    REQUIRE((m.loss_probability > 0) == m.on.has(fault::loss));
    REQUIRE((m.crash_every_ns > 0) == m.on.has(fault::crash));
    REQUIRE(m.reorder_probability == 0);
    REQUIRE(m.loss_probability <= 0.3);
    mixes.insert(m.on.bits);
    const fault_mix again = fault_mix::generate(seed, allowed);
    REQUIRE(again.on == m.on);
    REQUIRE(again.loss_probability == m.loss_probability);
  }
  REQUIRE(mixes.size() == 16);  // every on/off combination of four faults shows up
}

namespace {
void note_line(void* context, std::string_view line) noexcept {
  static_cast<std::string*>(context)->append(line).push_back('\n');
}
}  // namespace

TEST_CASE("the nemesis crashes, restarts, partitions and heals", "[sim][swarm]") {
  world w({.seed = 12, .nodes = 5});
  network net(w, {});
  fault_mix mix;
  mix.on = *parse_faults("crash,partition,pause,clock");
  mix.crash_every_ns = 10'000'000;
  mix.partition_every_ns = 10'000'000;
  mix.pause_every_ns = 10'000'000;
  mix.clock_every_ns = 10'000'000;
  nemesis chaos(w, &net, {}, mix, {.max_down = 2});
  std::string trace;
  w.set_trace(&note_line, &trace);
  REQUIRE(chaos.start());
  std::uint32_t most_down = 0;
  for (int i = 0; i < 200; ++i) {
    w.run_for(milliseconds(5));
    std::uint32_t down = 0;
    for (node_id n = 0; n < 5; ++n) down += w.is_up(n) ? 0 : 1;
    most_down = std::max(most_down, down);
  }
  REQUIRE(most_down >= 1);
  REQUIRE(most_down <= 2);
  REQUIRE(trace.find("crash") != std::string::npos);
  REQUIRE(trace.find("restart") != std::string::npos);
  REQUIRE(trace.find("pause") != std::string::npos);
  REQUIRE(trace.find("clock_jump") != std::string::npos);
  REQUIRE(trace.find("heal") != std::string::npos);
  chaos.stop();
  for (node_id n = 0; n < 5; ++n) REQUIRE(w.is_up(n));
  for (node_id a = 0; a < 5; ++a)
    for (node_id b = 0; b < 5; ++b) REQUIRE_FALSE(net.blocked(a, b));
}

namespace {
outcome pass_with_seed(std::uint64_t seed, const run_options&) {
  outcome o;
  o.passed = seed % 7 != 0;
  o.events = seed;
  o.message = o.passed ? "" : "seven divides the seed";
  return o;
}
}  // namespace

TEST_CASE("registry, swarm summary and reproduction commands", "[sim][swarm]") {
  static constexpr scenario toy{"toy", "fails on multiples of seven", &pass_with_seed, 1, 4, 2,
                                fault_set::none(), 1};
  const scenario_registration registered{toy};
  REQUIRE(scenarios().find("toy") != nullptr);
  REQUIRE(scenarios().find("nope") == nullptr);
  swarm_options options;
  options.first_seed = 1;
  options.seeds = 30;
  options.run.faults = fault_set::none();
  options.run.nodes = 2;
  auto summary = run_swarm(toy, options);
  REQUIRE(summary);
  REQUIRE(summary->failures == 4);  // 7, 14, 21, 28
  REQUIRE(summary->events == 30 * 31 / 2);
  REQUIRE(summary->failed[1].seed == 14);
  REQUIRE(summary->failed[1].command ==
          "weft sim --scenario toy --seed 14 --nodes 2 --faults none --faulty-disks 1");
  options.run.faults = *parse_faults("loss");
  REQUIRE(run_swarm(toy, options).error() == sim_errc::unsupported_fault);
  options.run.faults = fault_set::none();
  options.seeds = 0;
  REQUIRE(run_swarm(toy, options).error() == sim_errc::invalid_options);
}
