// Swarm tests on the disk-fault reference scenario: with a fault budget that keeps a clean
// disk, scrubbing and repair keep every acknowledged block; an impossible budget is refused
// before anything runs.
#include <catch2/catch.hpp>

#include <string>

#include "weft/sim/reference_blocks.hpp"
#include "weft/sim/swarm.hpp"

using namespace weft::sim;

TEST_CASE("blocks survive disk faults within the budget", "[sim][swarm][disk]") {
  swarm_options options;
  options.seeds = 60;
  options.run.faults = reference::block_faults();
  options.run.nodes = 3;
  options.run.max_faulty_disks = 2;
  auto summary = run_swarm(reference::blocks_scenario, options);
  REQUIRE(summary);
  INFO((summary->failed.empty() ? std::string() : summary->failed[0].message));
  REQUIRE(summary->failures == 0);
  // The faults really happened: some seed had to repair copies.
  std::uint64_t repaired_seeds = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const outcome out = reference::run_blocks(seed, options.run);
    REQUIRE(out.passed);
    if (out.message.find(" 0 repairs") == std::string::npos) ++repaired_seeds;
  }
  REQUIRE(repaired_seeds > 0);
}

TEST_CASE("a disk fault budget with no clean disk is refused before the run",
          "[sim][swarm][disk]") {
  swarm_options options;
  options.run.faults = reference::block_faults();
  options.run.nodes = 2;
  options.run.max_faulty_disks = 2;
  auto refused = run_swarm(reference::blocks_scenario, options);
  REQUIRE_FALSE(refused);
  REQUIRE(refused.error() == sim_errc::impossible_fault_budget);
  // Called directly, the scenario refuses too (its nemesis validates the budget first).
  bool refused_directly = false;
  for (std::uint64_t seed = 1; seed <= 8 && !refused_directly; ++seed) {
    const outcome out = reference::run_blocks(seed, options.run);
    refused_directly = !out.passed && out.events == 0;
  }
  REQUIRE(refused_directly);
  // Without disk corruption in the list, no budget is needed.
  options.run.faults = *parse_faults("crash,pause");
  REQUIRE(run_swarm(reference::blocks_scenario, options));
}
