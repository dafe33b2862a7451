// Swarm tests on the reference scenario: determinism of the trace hash, a clean swarm
// passes the linearizability checker, the planted bug is found within a bounded number of
// seeds and its printed reproduction command replays the failure exactly.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "weft/sim/reference_register.hpp"
#include "weft/sim/swarm.hpp"

using namespace weft;
using namespace weft::sim;

namespace {
/// Parses the `weft sim ...` command the runner printed back into a seed and options.
struct parsed_command {
  std::string scenario;
  std::uint64_t seed = 0;
  run_options run;
};
parsed_command parse(const std::string& command) {
  parsed_command out;
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < command.size()) {
    const std::size_t space = command.find(' ', start);
    words.push_back(command.substr(start, space - start));
    if (space == std::string::npos) break;
    start = space + 1;
  }
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "--scenario") out.scenario = words[i + 1];
    if (words[i] == "--seed") out.seed = std::strtoull(words[i + 1].c_str(), nullptr, 10);
    if (words[i] == "--nodes")
      out.run.nodes = static_cast<std::uint32_t>(std::strtoul(words[i + 1].c_str(), nullptr, 10));
    if (words[i] == "--faults") out.run.faults = *parse_faults(words[i + 1]);
    if (words[i] == "--faulty-disks")
      out.run.max_faulty_disks =
          static_cast<std::uint32_t>(std::strtoul(words[i + 1].c_str(), nullptr, 10));
  }
  return out;
}
void count_lines(void* context, std::string_view) noexcept { ++*static_cast<std::size_t*>(context); }
}  // namespace

TEST_CASE("same seed, same trace hash; different seeds differ", "[sim][swarm]") {
  run_options run;
  run.faults = reference::register_faults();
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const outcome a = reference::run_register(seed, run);
    const outcome b = reference::run_register(seed, run);
    REQUIRE(a.trace_hash == b.trace_hash);
    REQUIRE(a.events == b.events);
    REQUIRE(a.events > 100);
    hashes.insert(a.trace_hash);
  }
  REQUIRE(hashes.size() == 8);
  // Tracing prints every event and does not change the run.
  std::size_t lines = 0;
  run_options traced = run;
  traced.trace = &count_lines;
  traced.trace_context = &lines;
  const outcome t = reference::run_register(3, traced);
  REQUIRE(t.trace_hash == reference::run_register(3, run).trace_hash);
  REQUIRE(lines >= t.events);
}

TEST_CASE("the correct register passes a swarm with every fault it supports", "[sim][swarm]") {
  swarm_options options;
  options.seeds = 200;
  options.run.faults = reference::register_faults();
  auto summary = run_swarm(reference::register_scenario, options);
  REQUIRE(summary);
  INFO((summary->failed.empty() ? std::string() : summary->failed[0].command + "\n" +
                                                      summary->failed[0].message));
  REQUIRE(summary->failures == 0);
  REQUIRE(summary->seeds == 200);
  REQUIRE(summary->events > 200 * 1000);
}

TEST_CASE("the swarm finds the planted bug and the printed command reproduces it",
          "[sim][swarm]") {
  swarm_options options;
  options.seeds = 100;
  options.run.faults = reference::register_faults();
  auto summary = run_swarm(reference::register_buggy_scenario, options);
  REQUIRE(summary);
  REQUIRE(summary->failures > 0);
  const failed_seed& first = summary->failed.front();
  REQUIRE(first.message.find("not linearizable") != std::string::npos);
  const parsed_command replay = parse(first.command);
  REQUIRE(replay.scenario == "register_buggy");
  REQUIRE(replay.seed == first.seed);
  const scenario* s = &reference::register_buggy_scenario;
  const outcome again = s->run(replay.seed, replay.run);
  REQUIRE_FALSE(again.passed);
  REQUIRE(again.message == first.message);
  REQUIRE(again.trace_hash == s->run(replay.seed, replay.run).trace_hash);
}

TEST_CASE("impossible configurations are refused before the run", "[sim][swarm]") {
  swarm_options options;
  options.run.faults = *parse_faults("loss,disk_corruption");
  auto refused = run_swarm(reference::register_scenario, options);
  REQUIRE_FALSE(refused);
  REQUIRE(refused.error() == sim_errc::unsupported_fault);
  options.run.faults = fault_set::none();
  options.run.nodes = 2;
  REQUIRE(run_swarm(reference::register_scenario, options).error() == sim_errc::invalid_options);
  REQUIRE(parse_faults("loss,bogus").error() == sim_errc::unknown_fault);
  REQUIRE(parse_faults("loss,").error() == sim_errc::unknown_fault);
  REQUIRE(format_faults(*parse_faults("crash,loss")) == "loss,crash");
}
