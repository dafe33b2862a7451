// tests/sim/raft_wal_swarm.cpp - Raft on the file WAL on sim::disk, swarm-tested: 3- and
// 5-member groups under every fault the simulator has (network, crashes with lost and torn
// unsynced writes, pauses, clock jumps, disk corruption on at most a minority of members),
// counting the torn tails recovery cuts off (printed; a floor is required).
// Invariants are checked after every step and the KV histories for linearizability (see
// weft/storage/raft_sim_scenario.hpp). RAFT_WAL_SEEDS / RAFT_WAL_FIRST_SEED widen a run.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "weft/storage/raft_sim_scenario.hpp"

namespace sim = weft::sim;
namespace st = weft::storage;

namespace {
std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  return text == nullptr ? fallback : std::strtoull(text, nullptr, 10);
}

sim::swarm_summary swarm(const sim::scenario& s, std::uint32_t nodes, std::uint64_t first,
                         std::uint64_t seeds) {
  sim::swarm_options o;
  o.first_seed = first;
  o.seeds = seeds;
  o.run.nodes = nodes;
  o.run.max_faulty_disks = (nodes - 1) / 2;  // a minority of members' disks fault
  auto summary = sim::run_swarm(s, o);
  REQUIRE(summary);
  return *summary;
}
}  // namespace

// The swarm loop by hand (run_swarm's scenario function cannot hand back counters): the
// recoveries must actually meet torn tails, or "no acknowledged write lost" is cheap.
TEST_CASE("raft on the WAL: no acknowledged write lost under every simulated fault",
          "[storage][raft][sim]") {
  const std::uint64_t first = env_or("RAFT_WAL_FIRST_SEED", 1);
  const std::uint64_t seeds = env_or("RAFT_WAL_SEEDS", 25);
  std::uint64_t torn_tails = 0, torn_writes = 0, crashes_mid_write = 0, possible_losses = 0;
  for (const std::uint32_t nodes : {3u, 5u}) {
    sim::run_options run;
    run.nodes = nodes;
    run.max_faulty_disks = (nodes - 1) / 2;  // a minority of members' disks fault
    for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
      st::raft_sim_cluster cluster(seed, run, {});
      const sim::outcome out = cluster.run();
      if (!out.passed)
        UNSCOPED_INFO("weft sim --scenario raft --nodes " << nodes << " --seed " << seed
                                                          << ": " << out.message);
      CHECK(out.passed);
      torn_tails += cluster.torn_tails();
      torn_writes += cluster.torn_disk_writes();
      crashes_mid_write += cluster.crashes_mid_write();
      possible_losses += cluster.possible_acknowledged_losses();
    }
  }
  WARN("raft+WAL swarm, " << 2 * seeds << " runs: " << crashes_mid_write
                          << " crashes with a batch mid-write, " << torn_writes
                          << " torn disk writes, " << torn_tails << " torn WAL tails cut on recovery, "
                          << possible_losses << " of them reported as possible acknowledged loss");
  // Seeds 1..25 meet 20 torn tails in 50 runs (0 before the scenario tore most lost writes
  // and used 16-byte sectors); require a quarter of that rate for any seed range.
  CHECK(torn_tails * 8 >= 2 * seeds);
}

// Issue 4's follow-up: the disk faults above together with membership changes (add a
// learner, promote it, remove a voter) and leadership transfers, asked of the leader every
// 40 ms of simulated time. RAFT_WAL_RECONFIG_SEEDS / RAFT_WAL_FIRST_SEED widen a run.
TEST_CASE("raft on the WAL: no acknowledged write lost under disk faults, membership changes "
          "and leadership transfers", "[storage][raft][sim]") {
  const std::uint64_t first = env_or("RAFT_WAL_FIRST_SEED", 1);
  const std::uint64_t seeds = env_or("RAFT_WAL_RECONFIG_SEEDS", 15);
  st::raft_sim_options options;
  options.reconfigure_interval_ns = 40'000'000;
  std::uint64_t transfers = 0, changes = 0, config_committed = 0, torn_tails = 0,
                torn_writes = 0, crashes_mid_write = 0;
  for (const std::uint32_t nodes : {3u, 5u}) {
    sim::run_options run;
    run.nodes = nodes;
    run.max_faulty_disks = (nodes - 1) / 2;  // a minority of members' disks fault
    for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
      st::raft_sim_cluster cluster(seed, run, options);
      const sim::outcome out = cluster.run();
      if (!out.passed)
        UNSCOPED_INFO("raft+WAL with reconfiguration, nodes " << nodes << ", seed " << seed << ": "
                                                              << out.message);
      CHECK(out.passed);
      transfers += cluster.transfers_accepted();
      changes += cluster.config_changes_accepted();
      config_committed += cluster.config_entries_committed();
      torn_tails += cluster.torn_tails();
      torn_writes += cluster.torn_disk_writes();
      crashes_mid_write += cluster.crashes_mid_write();
    }
  }
  WARN("raft+WAL with reconfiguration, " << 2 * seeds << " runs: " << transfers
                                         << " leadership transfers and " << changes
                                         << " membership changes accepted, " << config_committed
                                         << " configuration entries committed; " << crashes_mid_write
                                         << " crashes with a batch mid-write, " << torn_writes
                                         << " torn disk writes, " << torn_tails
                                         << " torn WAL tails cut on recovery");
  // Both kinds of change must really happen, alongside the disk faults.
  CHECK(transfers >= seeds);
  CHECK(config_committed >= seeds);
  CHECK(torn_tails * 8 >= 2 * seeds);
}

TEST_CASE("raft on the WAL: a clean run commits and completes operations",
          "[storage][raft][sim]") {
  sim::run_options run;
  run.faults = sim::fault_set::none();
  st::raft_sim_cluster cluster(7, run, {});
  const sim::outcome out = cluster.run();
  INFO(out.message);
  REQUIRE(out.passed);
  CHECK(cluster.completed() > 50);
  CHECK(cluster.committed() > 50);
}

TEST_CASE("raft on the WAL: the swarm finds the planted bug (a WAL that never syncs)",
          "[storage][raft][sim]") {
  const sim::swarm_summary summary = swarm(st::raft_sim_unsynced_scenario, 3, 1, 20);
  CHECK(summary.failures > 0);
}

TEST_CASE("raft on the WAL: a seed replays to the same trace", "[storage][raft][sim]") {
  sim::run_options run;
  run.nodes = 5;
  run.max_faulty_disks = 2;
  const sim::outcome a = st::run_raft_sim(11, run);
  const sim::outcome b = st::run_raft_sim(11, run);
  CHECK(a.trace_hash == b.trace_hash);
  CHECK(a.events == b.events);
}
