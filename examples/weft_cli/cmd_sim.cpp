// `weft sim`: run a registered simulation scenario over many seeds (swarm testing) or
// replay one seed with its event trace. See docs/sim.md.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "weft/membership/swim/sim_scenario.hpp"
#include "weft/sim/reference_blocks.hpp"
#include "weft/sim/reference_register.hpp"
#include "weft/sim/swarm.hpp"
#include "weft/storage/raft_sim_scenario.hpp"

namespace {
namespace sim = weft::sim;

const sim::scenario_registration register_reference{sim::reference::register_scenario};
const sim::scenario_registration register_reference_buggy{
    sim::reference::register_buggy_scenario};
const sim::scenario_registration register_blocks{sim::reference::blocks_scenario};
const sim::scenario_registration register_swim{weft::swim::sim_scenario};
const sim::scenario_registration register_raft{weft::storage::raft_sim_scenario};
const sim::scenario_registration register_raft_unsynced{weft::storage::raft_sim_unsynced_scenario};

constexpr std::string_view usage_text =
    "usage: weft sim --scenario NAME --seeds N [--first-seed S] [--nodes K] [--faults LIST]\n"
    "                [--faulty-disks D]\n"
    "       weft sim --scenario NAME --seed S [--nodes K] [--faults LIST] [--faulty-disks D]\n"
    "                [--trace]\n"
    "       weft sim --list\n"
    "faults: all, none, or a comma list of loss,duplicate,reorder,partition,swizzle,crash,\n"
    "        pause,clock,disk_loss,disk_corruption (default: all the scenario supports)\n";

struct parsed {
  std::string_view scenario;
  std::uint64_t seeds = 0, seed = 0, first_seed = 1;
  bool has_seeds = false, has_seed = false, trace = false, list = false;
  std::uint32_t nodes = 0;
  std::uint32_t faulty_disks = 1;
  bool has_faulty_disks = false;
  std::string_view faults;
  bool has_faults = false;
};

bool parse_number(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

int parse_arguments(weft_cli::args arguments, parsed& p) {
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view a = arguments[i];
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text.data(), stdout);
      return -1;
    }
    if (a == "--trace") { p.trace = true; continue; }
    if (a == "--list") { p.list = true; continue; }
    if (i + 1 >= arguments.size())
      return weft_cli::fail(std::string(a) + " needs a value (or unknown option; see weft sim --help)");
    const std::string_view v = arguments[++i];
    std::uint64_t n = 0;
    if (a == "--scenario") {
      p.scenario = v;
    } else if (a == "--seeds") {
      if (!parse_number(v, 1'000'000'000, n) || n == 0)
        return weft_cli::fail("--seeds wants a number from 1 to 1000000000, got '" + std::string(v) + "'");
      p.seeds = n;
      p.has_seeds = true;
    } else if (a == "--seed" || a == "--first-seed") {
      if (!parse_number(v, ~0ull, n))
        return weft_cli::fail(std::string(a) + " wants an unsigned 64-bit number, got '" + std::string(v) + "'");
      (a == "--seed" ? p.seed : p.first_seed) = n;
      if (a == "--seed") p.has_seed = true;
    } else if (a == "--nodes") {
      if (!parse_number(v, 1024, n) || n == 0)
        return weft_cli::fail("--nodes wants a number from 1 to 1024, got '" + std::string(v) + "'");
      p.nodes = static_cast<std::uint32_t>(n);
    } else if (a == "--faulty-disks") {
      if (!parse_number(v, 1024, n))
        return weft_cli::fail("--faulty-disks wants a number from 0 to 1024, got '" + std::string(v) + "'");
      p.faulty_disks = static_cast<std::uint32_t>(n);
      p.has_faulty_disks = true;
    } else if (a == "--faults") {
      p.faults = v;
      p.has_faults = true;
    } else {
      return weft_cli::fail("unknown option '" + std::string(a) + "' (see weft sim --help)");
    }
  }
  return 0;
}

int list_scenarios() {
  for (const auto& s : sim::scenarios().all())
    std::printf("%-16.*s nodes %u-%u (default %u)  %.*s\n", static_cast<int>(s.name.size()),
                s.name.data(), s.min_nodes, s.max_nodes, s.default_nodes,
                static_cast<int>(s.description.size()), s.description.data());
  return weft_cli::exit_ok;
}

void print_line(void*, std::string_view line) noexcept {
  std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
}

int replay(const sim::scenario& s, std::uint64_t seed, sim::run_options run, bool trace) {
  if (trace) {
    run.trace = &print_line;
    run.trace_context = nullptr;
  }
  const sim::outcome out = s.run(seed, run);
  std::printf("%s seed %llu: %llu events, %.3f s simulated, trace hash %016llx\n",
              out.passed ? "PASS" : "FAIL", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(out.events),
              static_cast<double>(out.simulated_ns) * 1e-9,
              static_cast<unsigned long long>(out.trace_hash));
  if (!out.message.empty()) std::printf("%s\n", out.message.c_str());
  return out.passed ? weft_cli::exit_ok : weft_cli::exit_failed;
}

struct progress_state {
  std::chrono::steady_clock::time_point start, last;
  bool terminal = false;
};

void show_progress(void* context, std::uint64_t done, std::uint64_t total,
                   std::uint64_t failures) noexcept {
  auto* p = static_cast<progress_state*>(context);
  if (!p->terminal) return;
  const auto now = std::chrono::steady_clock::now();
  if (done != total && now - p->last < std::chrono::milliseconds(100)) return;
  p->last = now;
  const double elapsed = std::chrono::duration<double>(now - p->start).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  std::fprintf(stderr, "\r  %llu/%llu seeds  %.1f seeds/s  ETA %.0f s  failures %llu   ",
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               rate, eta, static_cast<unsigned long long>(failures));
  if (done == total) std::fputc('\n', stderr);
}

int swarm(const sim::scenario& s, const parsed& p, const sim::run_options& run) {
  progress_state progress;
  progress.start = progress.last = std::chrono::steady_clock::now();
  progress.terminal = isatty(fileno(stderr)) != 0;
  sim::swarm_options options;
  options.first_seed = p.first_seed;
  options.seeds = p.seeds;
  options.run = run;
  options.progress = &show_progress;
  options.progress_context = &progress;
  auto summary = sim::run_swarm(s, options);
  if (!summary) return weft_cli::fail(std::string(summary.error().message()));
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.start).count();
  const double simulated = static_cast<double>(summary->simulated_ns) * 1e-9;
  std::printf("%-16s %8s %12s %9s %12s %9s %10s\n", "scenario", "seeds", "events", "failures",
              "simulated", "wall", "sim/wall");
  std::printf("%-16.*s %8llu %12llu %9llu %10.1f s %7.2f s %9.0fx\n",
              static_cast<int>(s.name.size()), s.name.data(),
              static_cast<unsigned long long>(summary->seeds),
              static_cast<unsigned long long>(summary->events),
              static_cast<unsigned long long>(summary->failures), simulated, wall,
              wall > 0 ? simulated / wall : 0.0);
  std::printf("nodes %u, faults %s, seeds %llu..%llu\n", run.nodes,
              sim::format_faults(run.faults).c_str(),
              static_cast<unsigned long long>(p.first_seed),
              static_cast<unsigned long long>(p.first_seed + p.seeds - 1));
  for (const auto& f : summary->failed) {
    const std::size_t newline = f.message.find('\n');
    std::printf("FAIL seed %llu: %s\n  reproduce: %s --trace\n",
                static_cast<unsigned long long>(f.seed), f.message.substr(0, newline).c_str(),
                f.command.c_str());
  }
  if (summary->failures > summary->failed.size())
    std::printf("(%llu more failing seeds not listed)\n",
                static_cast<unsigned long long>(summary->failures - summary->failed.size()));
  return summary->failures == 0 ? weft_cli::exit_ok : weft_cli::exit_failed;
}

int run_sim(weft_cli::args arguments) {
  parsed p;
  if (const int status = parse_arguments(arguments, p); status != 0)
    return status < 0 ? weft_cli::exit_ok : status;
  if (p.list) return list_scenarios();
  if (p.scenario.empty()) return weft_cli::fail("--scenario NAME is required (weft sim --list)");
  const sim::scenario* s = sim::scenarios().find(p.scenario);
  if (s == nullptr)
    return weft_cli::fail("unknown scenario '" + std::string(p.scenario) + "' (weft sim --list)");
  if (p.has_seed == p.has_seeds) return weft_cli::fail("give exactly one of --seeds N or --seed S");
  if (p.trace && !p.has_seed) return weft_cli::fail("--trace replays one seed: use --seed S");
  if (p.has_seeds && p.first_seed > ~0ull - p.seeds)
    return weft_cli::fail("--first-seed + --seeds overflows 64 bits");
  sim::run_options run;
  run.nodes = p.nodes != 0 ? p.nodes : s->default_nodes;
  run.faults = s->supported;
  if (p.has_faults) {
    auto faults = sim::parse_faults(p.faults);
    if (!faults) {
      std::string_view rest = p.faults, word = p.faults;
      while (!rest.empty()) {  // name the first word that is not a fault
        word = rest.substr(0, rest.find(','));
        if (word.empty() || !sim::parse_faults(word)) break;
        rest.remove_prefix(std::min(rest.size(), word.size() + 1));
      }
      return weft_cli::fail("unknown fault '" + std::string(word) + "' in --faults (see weft sim --help)");
    }
    run.faults = *faults;
  }
  if (run.nodes < s->min_nodes || run.nodes > s->max_nodes)
    return weft_cli::fail("scenario '" + std::string(s->name) + "' runs on " +
                          std::to_string(s->min_nodes) + " to " + std::to_string(s->max_nodes) +
                          " nodes, not " + std::to_string(run.nodes));
  if (!run.faults.subset_of(s->supported))
    return weft_cli::fail("scenario '" + std::string(s->name) + "' does not support faults " +
                          sim::format_faults({run.faults.bits & ~s->supported.bits}) +
                          " (it supports " + sim::format_faults(s->supported) + ")");
  run.max_faulty_disks = p.faulty_disks;
  if (auto valid = sim::validate_run(*s, run); !valid)
    return weft_cli::fail(std::string(valid.error().message()) + ": --faulty-disks " +
                          std::to_string(run.max_faulty_disks) + " with " +
                          std::to_string(run.nodes) + " nodes leaves fewer than " +
                          std::to_string(s->min_clean_disks) + " clean disk(s)");
  if (p.has_seed) return replay(*s, p.seed, run, p.trace);
  return swarm(*s, p, run);
}

const weft_cli::registration registered{
    {"sim", "run a simulation scenario over many seeds, or replay one seed", &run_sim}};
}  // namespace
