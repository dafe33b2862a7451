// weft_demo: starts a 3-member weftd cluster on 127.0.0.1, runs concurrent clients
// through /kv, SIGKILLs the leader mid-workload, shows the failover, restarts the killed
// member and shows it catching up, then checks the recorded history for linearizability
// with weft's checker. Keeps the cluster up for the dashboard until Ctrl-C (or exits at
// once with --no-wait). See docs/demo.md.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "workload.hpp"

namespace {

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int) { interrupted = 1; }

struct arguments {
  std::string weftd;
  bool wait = true;
  std::size_t clients = 8;
  double phase_seconds = 3.0;
};

std::string default_weftd_path() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "weftd";
  return (self.parent_path().parent_path() / "weftd" / "weftd").string();
}

bool parse(int argc, char** argv, arguments& a) {
  a.weftd = default_weftd_path();
  if (const char* env = std::getenv("WEFTD")) a.weftd = env;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--no-wait") a.wait = false;
    else if (arg == "--weftd" && i + 1 < argc) a.weftd = argv[++i];
    else if (arg == "--clients" && i + 1 < argc) a.clients = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--seconds" && i + 1 < argc) a.phase_seconds = std::strtod(argv[++i], nullptr);
    else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: weft_demo [--no-wait] [--weftd PATH] [--clients N] [--seconds S]\n"
                   "  --no-wait   exit after the linearizability check (for CI)\n"
                   "  --weftd     the weftd binary (default: next to this one, or $WEFTD)\n"
                   "  --clients   concurrent clients (default 8)\n"
                   "  --seconds   length of each workload phase (default 3)\n";
      std::exit(0);
    } else {
      std::cerr << "error: unknown argument '" << arg << "' (see --help)\n";
      return false;
    }
  }
  if (a.clients == 0 || a.clients > 256 || !(a.phase_seconds > 0 && a.phase_seconds <= 60)) {
    std::cerr << "error: --clients must be 1..256 and --seconds 0..60\n";
    return false;
  }
  return true;
}

using steady = std::chrono::steady_clock;
double ms_since(steady::time_point t) {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

void pause_for(double seconds) {
  const auto until = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
  while (steady::now() < until && interrupted == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string url(const weft_demo::endpoint& e) { return "http://" + e.host + ":" + std::to_string(e.port) + "/"; }

}  // namespace

int main(int argc, char** argv) {
  arguments args;
  if (!parse(argc, argv, args)) return 2;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  weft_demo::cluster_options copts;
  copts.weftd_path = args.weftd;
  copts.request_timeout_ms = 1000;  // writes caught by the kill answer 504 (unknown) after this
  weft_demo::cluster cluster(copts);
  std::string error;
  std::cout << "== weft demo: a 3-member weftd cluster on 127.0.0.1 ==\n";
  if (!cluster.start(error)) {
    std::cerr << "error: " << error << "\n";
    return 1;
  }
  std::cout << "configs, data and logs under " << cluster.directory().string() << "\n";
  for (const auto& m : cluster.members())
    std::cout << "  member " << m.id << "  pid " << m.pid << "  http " << url(m.http) << "  raft tcp :" << m.raft.port
              << "  swim udp :" << m.swim.port << "\n";

  const auto t_start = steady::now();
  const std::uint64_t first_leader = cluster.wait_for_leader(std::chrono::seconds(15));
  if (first_leader == 0) {
    std::cerr << "error: no leader elected within 15 s (member logs in " << cluster.directory().string() << ")\n";
    cluster.stop_all();
    return 1;
  }
  std::cout << "\n[1] leader elected: member " << first_leader << " after " << static_cast<int>(ms_since(t_start))
            << " ms\n";

  weft_demo::leader_tracker tracker(cluster);
  tracker.start();
  weft_demo::workload_options wopts;
  wopts.clients = args.clients;
  wopts.seed = static_cast<std::uint64_t>(steady::now().time_since_epoch().count());
  wopts.request_timeout = std::chrono::milliseconds(1500);
  weft_demo::workload load(wopts, [&] { return tracker.leader_http(); });
  std::cout << "[2] " << args.clients << " clients writing, reading and deleting 8 keys through /kv ...\n";
  load.start();
  // Ctrl-C before the end: stop the clients and the members cleanly, skip the rest.
  const auto bail_out = [&] {
    load.stop();
    tracker.stop();
    std::cout << "\ninterrupted: SIGTERM to every member ...\n";
    cluster.stop_all();
    return 130;
  };
  pause_for(args.phase_seconds);
  if (interrupted != 0) return bail_out();
  std::cout << "    " << load.counts().ok.load() << " operations acknowledged so far\n";

  // Failover: SIGKILL the leader mid-workload.
  const std::uint64_t old_leader = tracker.leader() != 0 ? tracker.leader() : first_leader;
  steady::time_point killed_at;
  std::uint64_t writes_at_kill = 0;
  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    killed_at = steady::now();
    writes_at_kill = load.ok_writes();
    cluster.kill_member(old_leader, SIGKILL);
  }
  std::cout << "\n[3] SIGKILL sent to the leader, member " << old_leader << "\n";
  std::uint64_t new_leader = 0;
  double elected_ms = 0;
  double writes_resumed_ms = -1;
  while (ms_since(killed_at) < 15000 && interrupted == 0) {
    if (new_leader == 0) {
      new_leader = cluster.agreed_leader();
      if (new_leader == old_leader) new_leader = 0;
      if (new_leader != 0) elected_ms = ms_since(killed_at);
    }
    if (writes_resumed_ms < 0 && new_leader != 0 && load.ok_writes() > writes_at_kill + 1) writes_resumed_ms = ms_since(killed_at);
    if (new_leader != 0 && writes_resumed_ms >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (new_leader == 0) {
    std::cerr << "error: no new leader within 15 s after the kill\n";
  } else {
    std::cout << "    old leader " << old_leader << " -> new leader " << new_leader << ": elected "
              << static_cast<int>(elected_ms) << " ms after the kill";
    if (writes_resumed_ms >= 0) std::cout << ", writes acknowledged again after " << static_cast<int>(writes_resumed_ms) << " ms";
    std::cout << "\n    (requests caught in flight by the kill end as 504 or a reset: outcome unknown, recorded as such)\n";
  }
  pause_for(args.phase_seconds / 2);
  if (interrupted != 0) return bail_out();

  // Restart the killed member and watch it catch up with the leader's commit index.
  std::cout << "\n[4] restarting member " << old_leader << " (same data directory) ...\n";
  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    if (!cluster.start_member(old_leader, error)) std::cerr << "error: " << error << "\n";
  }
  const auto restarted_at = steady::now();
  bool caught_up = false;
  while (ms_since(restarted_at) < 15000 && interrupted == 0 && new_leader != 0) {
    const auto leader_status = cluster.status_of(tracker.leader());
    const auto member_status = cluster.status_of(old_leader);
    if (leader_status && member_status && member_status->applied_index + 50 >= leader_status->commit_index &&
        member_status->applied_index > 0) {
      std::cout << "    member " << old_leader << " is back as " << member_status->role << ": applied index "
                << member_status->applied_index << ", leader's commit index " << leader_status->commit_index
                << " (" << static_cast<int>(ms_since(restarted_at)) << " ms after restart)\n";
      caught_up = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!caught_up && new_leader != 0) std::cerr << "warning: member " << old_leader << " did not catch up within 15 s\n";
  pause_for(args.phase_seconds / 2);
  if (interrupted != 0) return bail_out();
  load.stop();
  tracker.stop();

  const auto& counts = load.counts();
  std::cout << "\n[5] workload stopped: " << load.history().size() << " operations, " << counts.ok.load() << " ok, "
            << counts.fail.load() << " failed (certainly not applied), " << counts.info.load()
            << " unknown outcome (timeouts, resets)\n";
  const auto checked_at = steady::now();
  const auto result = weft::sim::check(load.history());
  std::cout << "    linearizability check (weft::sim::check, key-value model): " << weft::sim::to_string(result.answer)
            << " (" << result.states << " states, " << static_cast<int>(ms_since(checked_at)) << " ms)\n";
  if (result.answer == weft::sim::verdict::not_linearizable) std::cout << result.report << "\n";

  int rc = result.answer == weft::sim::verdict::not_linearizable || new_leader == 0 ? 1 : 0;
  if (args.wait && interrupted == 0) {
    const std::uint64_t shown = tracker.leader() != 0 ? tracker.leader() : new_leader;
    const auto* m = cluster.find(shown != 0 ? shown : 1);
    std::cout << "\n[6] dashboard: " << url(m->http) << "  (every member serves its own copy)\n";
    for (const auto& member : cluster.members())
      std::cout << "    member " << member.id << ": " << url(member.http) << "  pid " << member.pid << "\n";
    std::cout << "    the cluster keeps running: try `kill -9 <pid>` and watch the page; Ctrl-C stops it.\n"
              << std::flush;
    while (interrupted == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "\nstopping: SIGTERM to every member ...\n";
  cluster.stop_all();
  std::cout << "stopped; removing " << cluster.directory().string() << "\n";
  return rc;
}
