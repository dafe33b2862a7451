// bench_cluster: a 3-member weftd cluster on 127.0.0.1 (durable WAL in a temporary folder)
// driven through HTTP PUT /kv with 256-byte values by 1, 16 and 128 concurrent clients
// (one thread and one keep-alive connection each, one request in flight per client).
// Prints writes per second and p50/p99 latency of acknowledged writes per level.
//   bench_cluster [--weftd PATH] [--seconds S] [--clients 1,16,128] [--snapshot-interval N]
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "../examples/weft_demo/cluster.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct level_result {
  std::size_t clients = 0;
  std::uint64_t ok = 0, errors = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
};

level_result run_level(const weft_demo::endpoint& leader, std::size_t clients, double seconds) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<float>> latencies(clients);
  std::vector<std::uint64_t> errors(clients, 0);
  std::vector<std::thread> threads;
  const std::string value(256, 'v');
  for (std::size_t i = 0; i < clients; ++i) {
    latencies[i].reserve(200000);
    threads.emplace_back([&, i] {
      weft_demo::http_client client(leader);
      std::uint64_t n = 0;
      while (!go.load()) std::this_thread::yield();
      while (!stop.load()) {
        const std::string path = "/kv/bench-" + std::to_string(i) + "-" + std::to_string(n++ % 1024);
        const auto t0 = steady::now();
        const auto r = client.request("PUT", path, value, std::chrono::milliseconds(5000));
        const auto t1 = steady::now();
        if (r.outcome == weft_demo::transport_outcome::answered && r.status == 200)
          latencies[i].push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
        else
          ++errors[i];
      }
    });
  }
  const auto start = steady::now();
  go.store(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  level_result r;
  r.clients = clients;
  r.seconds = std::chrono::duration<double>(steady::now() - start).count();
  std::vector<float> all;
  for (std::size_t i = 0; i < clients; ++i) {
    all.insert(all.end(), latencies[i].begin(), latencies[i].end());
    r.errors += errors[i];
  }
  r.ok = all.size();
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    r.max_ms = all.back();
  }
  return r;
}

std::string default_weftd() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "weftd" : (self.parent_path().parent_path() / "examples" / "weftd" / "weftd").string();
}

}  // namespace

int main(int argc, char** argv) {
  std::string weftd = default_weftd();
  double seconds = 3.0;
  std::vector<std::size_t> levels{1, 16, 128};
  long snapshot_interval = 0;  // 0: weftd's default
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--weftd" && i + 1 < argc) weftd = argv[++i];
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::strtod(argv[++i], nullptr);
    else if (arg == "--snapshot-interval" && i + 1 < argc) snapshot_interval = std::strtol(argv[++i], nullptr, 10);
    else if (arg == "--clients" && i + 1 < argc) {
      levels.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) levels.push_back(std::strtoul(item.c_str(), nullptr, 10));
    } else {
      std::cerr << "error: unknown argument '" << arg << "' (bench_cluster [--weftd PATH] [--seconds S] [--clients 1,16,128] [--snapshot-interval N])\n";
      return 2;
    }
  }
  if (!(seconds > 0 && seconds <= 120) || levels.empty() ||
      std::any_of(levels.begin(), levels.end(), [](std::size_t n) { return n == 0 || n > 1024; })) {
    std::cerr << "error: --seconds must be in (0, 120] and --clients a list of 1..1024\n";
    return 2;
  }
  if (snapshot_interval != 0 && (snapshot_interval < 16 || snapshot_interval > 98304)) {
    std::cerr << "error: --snapshot-interval must be in [16, 98304] (weftd's raft.snapshot_interval_entries)\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  weft_demo::cluster_options options;
  options.weftd_path = weftd;
  options.request_timeout_ms = 5000;
  options.snapshot_interval_entries = static_cast<int>(snapshot_interval);
  weft_demo::cluster c(options);
  std::string error;
  if (!c.start(error)) {
    std::cerr << "error: " << error << "\n";
    return 1;
  }
  const std::uint64_t leader = c.wait_for_leader(std::chrono::seconds(20));
  if (leader == 0) {
    std::cerr << "error: no leader within 20 s (logs in " << c.directory().string() << ")\n";
    return 1;
  }
  std::printf("bench_cluster: 3 weftd members on 127.0.0.1, durable WAL under %s\n", c.directory().c_str());
  std::printf("PUT /kv with 256-byte values to the leader (member %llu), one request in flight per client, %.1f s per level\n\n",
              static_cast<unsigned long long>(leader), seconds);
  std::printf("%8s %12s %10s %10s %10s %8s\n", "clients", "writes/s", "p50 ms", "p99 ms", "max ms", "errors");
  for (std::size_t n : levels) {
    const auto r = run_level(c.find(leader)->http, n, seconds);
    std::printf("%8zu %12.0f %10.2f %10.2f %10.2f %8llu\n", r.clients, static_cast<double>(r.ok) / r.seconds, r.p50_ms,
                r.p99_ms, r.max_ms, static_cast<unsigned long long>(r.errors));
    std::fflush(stdout);
  }
  c.stop_all();
  return 0;
}
