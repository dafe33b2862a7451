// bench_cluster: a 3-member weftd cluster on 127.0.0.1 (durable WAL in a temporary folder;
// TMPDIR=/dev/shm puts it on tmpfs) driven through HTTP PUT /kv with 256-byte values by
// 1, 16 and 128 concurrent clients (keep-alive connections, one request in flight each).
// The clients share one epoll thread by default, so that 128 of them cost the machine
// little beside the members; --blocking-clients runs one blocking thread per client.
// Prints writes per second, p50/p99 latency of acknowledged writes, and per level the CPU
// time and resident memory of the leader and the followers (from /proc).
//   bench_cluster [--weftd PATH] [--seconds S] [--clients 1,16,128] [--snapshot-interval N]
//                 [--blocking-clients] [--plaintext]   (members' TCP links without Noise)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "../examples/weft_demo/cluster.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct level_result {
  std::size_t clients = 0;
  std::uint64_t ok = 0, errors = 0;
  std::map<int, std::uint64_t> error_statuses;  // HTTP status; 0: timed out, -1: connection broken
  double seconds = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
};

/// One keep-alive connection of the epoll client: sends a PUT, reads its answer (status
/// line, Content-Length, body), records the latency, sends the next. The request is built
/// once; each request rewrites only the key's fixed-width counter in place.
struct connection {
  int fd = -1;
  std::size_t client = 0;
  std::uint64_t sent = 0;
  std::string out;
  std::size_t out_at = 0;
  std::size_t counter_at = 0;  // where the key's 4-digit counter sits in `out`
  std::string in;
  std::size_t in_at = 0;  // start of the unconsumed answer bytes in `in`
  steady::time_point started{};
  bool busy = false;
};

bool open_connection(connection& c, const weft_demo::endpoint& to, int epoll_fd) {
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return false;
  int one = 1;
  (void)::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(to.port);
  if (::inet_pton(AF_INET, to.host.c_str(), &addr.sin_addr) != 1) return false;
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS)
    return false;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
  ev.data.ptr = &c;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev) == 0;
}

void close_connection(connection& c) {
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.in.clear();
  c.in_at = 0;
  c.busy = false;
}

/// Builds the connection's request once: PUT /kv/bench-CCCC-NNNN with the value as body.
void build_request(connection& c, const std::string& value) {
  char head[128];
  const int n = std::snprintf(head, sizeof head,
                              "PUT /kv/bench-%04zu-0000 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n",
                              c.client, value.size());
  c.out.assign(head, static_cast<std::size_t>(n));
  c.counter_at = c.out.find(' ', 4) - 4;
  c.out += value;
}

/// The next request on the connection: the same bytes but the key's counter (mod 1024).
void start_request(connection& c) {
  std::uint64_t k = c.sent++ % 1024;
  for (std::size_t i = 4; i-- > 0; k /= 10) c.out[c.counter_at + i] = static_cast<char>('0' + k % 10);
  c.out_at = 0;
  c.busy = true;
  c.started = steady::now();
}

/// Writes what the socket takes; false on a broken connection.
bool flush(connection& c) {
  while (c.out_at < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_at += static_cast<std::size_t>(n);
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
  return true;
}

/// The status of the complete response at c.in_at (consumed), 0 when more bytes are
/// needed, -1 when malformed.
int take_response(connection& c) {
  const std::string_view in = std::string_view(c.in).substr(c.in_at);
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return -1;
  const int status = std::atoi(in.data() + 9);
  std::size_t length = 0;
  for (std::size_t at = in.find("\r\n"); at < head_end; at = in.find("\r\n", at + 2)) {
    static constexpr char name[] = "content-length:";
    std::size_t i = 0;
    while (i + 1 < sizeof name && at + 2 + i < head_end &&
           std::tolower(static_cast<unsigned char>(in[at + 2 + i])) == name[i])
      ++i;
    if (i + 1 == sizeof name) length = std::strtoul(in.data() + at + 2 + i, nullptr, 10);
  }
  if (in.size() < head_end + 4 + length) return 0;
  c.in_at += head_end + 4 + length;
  if (c.in_at == c.in.size()) {  // the usual case: nothing after the answer, no bytes moved
    c.in.clear();
    c.in_at = 0;
  }
  return status;
}

/// All clients on this thread through one epoll set. A broken or timed-out connection
/// counts an error and is reopened.
void run_epoll_clients(const weft_demo::endpoint& leader, std::size_t clients, const std::atomic<bool>& stop,
                       std::vector<float>& latencies, std::map<int, std::uint64_t>& errors) {
  const std::string value(256, 'v');
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<connection> conns(clients);
  std::vector<epoll_event> events(clients + 1);
  char chunk[16384];
  const auto reopen = [&](connection& c) {
    close_connection(c);
    if (!open_connection(c, leader, epoll_fd)) return;
    start_request(c);
  };
  for (std::size_t i = 0; i < clients; ++i) {
    conns[i].client = i;
    conns[i].in.reserve(sizeof chunk);
    build_request(conns[i], value);
    reopen(conns[i]);
  }
  while (!stop.load(std::memory_order_relaxed)) {
    const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 50);
    const auto now = steady::now();
    for (int e = 0; e < n; ++e) {
      connection& c = *static_cast<connection*>(events[static_cast<std::size_t>(e)].data.ptr);
      bool ok = c.fd >= 0 && flush(c);
      while (ok) {
        const ssize_t got = ::recv(c.fd, chunk, sizeof chunk, 0);
        if (got > 0) c.in.append(chunk, static_cast<std::size_t>(got));
        else ok = got < 0 && (errno == EAGAIN || errno == EINTR);
        // A short read took all there was: asking again would only fail with EAGAIN (the
        // next answer raises a new edge).
        if (got <= 0 || static_cast<std::size_t>(got) < sizeof chunk) break;
      }
      while (ok && c.busy) {
        const int status = take_response(c);
        if (status == 0) break;
        c.busy = false;
        if (status == 200) latencies.push_back(std::chrono::duration<float, std::milli>(now - c.started).count());
        else if (status > 0) ++errors[status];
        if (status < 0) ok = false;
        else {
          start_request(c);
          ok = flush(c);
        }
      }
      if (!ok) {
        ++errors[-1];  // broken connection or malformed answer
        reopen(c);
      }
    }
    for (connection& c : conns)
      if (c.busy && now - c.started > std::chrono::seconds(5)) {
        ++errors[0];  // no answer within 5 s
        reopen(c);
      }
  }
  for (connection& c : conns) close_connection(c);
  ::close(epoll_fd);
}

/// CPU seconds (user + system) this process (the clients) has used so far.
double own_cpu_seconds() {
  rusage u{};
  (void)::getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

/// CPU seconds (user + system) and resident bytes of a process, from /proc.
struct process_sample {
  double cpu_seconds = 0;
  double rss_mib = 0;
};

process_sample sample_process(pid_t pid) {
  process_sample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close_paren = text.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream fields(text.substr(close_paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mib = std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return s;
}

level_result run_level(const weft_demo::endpoint& leader, std::size_t clients, double seconds, bool blocking) {
  std::atomic<bool> go{false}, stop{false};
  const std::size_t threads_wanted = blocking ? clients : 1;
  std::vector<std::vector<float>> latencies(threads_wanted);
  std::vector<std::map<int, std::uint64_t>> errors(threads_wanted);
  std::vector<std::thread> threads;
  const std::string value(256, 'v');
  for (std::size_t i = 0; i < threads_wanted; ++i) {
    latencies[i].reserve(blocking ? 200000 : 2000000);
    if (!blocking) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        run_epoll_clients(leader, clients, stop, latencies[0], errors[0]);
      });
      continue;
    }
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
          ++errors[i][r.outcome == weft_demo::transport_outcome::answered ? r.status : -1];
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
  for (std::size_t i = 0; i < threads_wanted; ++i) {
    all.insert(all.end(), latencies[i].begin(), latencies[i].end());
    for (const auto& [status, count] : errors[i]) {
      r.errors += count;
      r.error_statuses[status] += count;
    }
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

/// The sum of every sample of one metric in a Prometheus text page (all label sets of
/// `name`, which must be followed by '{' or ' '); 0 when absent.
double metric_sum(const std::string& page, std::string_view name) {
  double sum = 0;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() <= name.size() || line.compare(0, name.size(), name) != 0) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    const auto space = line.rfind(' ');
    if (space != std::string::npos) sum += std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

/// What the leader's /metrics says about its write path: fsyncs, time in fsync and Raft
/// messages sent, so a level's rate can be split into batches and waiting.
struct leader_metrics {
  double fsyncs = 0, fsync_seconds = 0, messages_sent = 0;
};

leader_metrics scrape_leader(const weft_demo::endpoint& leader) {
  weft_demo::http_client client(leader);
  const auto r = client.request("GET", "/metrics", {}, std::chrono::milliseconds(2000));
  leader_metrics m;
  if (r.outcome != weft_demo::transport_outcome::answered || r.status != 200) return m;
  m.fsyncs = metric_sum(r.body, "weft_wal_fsync_duration_seconds_count");
  m.fsync_seconds = metric_sum(r.body, "weft_wal_fsync_duration_seconds_sum");
  m.messages_sent = metric_sum(r.body, "weft_transport_sent_messages_total");
  return m;
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
  bool blocking = false;
  bool plaintext = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--weftd" && i + 1 < argc) weftd = argv[++i];
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::strtod(argv[++i], nullptr);
    else if (arg == "--blocking-clients") blocking = true;
    else if (arg == "--plaintext") plaintext = true;
    else if (arg == "--snapshot-interval" && i + 1 < argc) snapshot_interval = std::strtol(argv[++i], nullptr, 10);
    else if (arg == "--clients" && i + 1 < argc) {
      levels.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) levels.push_back(std::strtoul(item.c_str(), nullptr, 10));
    } else {
      std::cerr << "error: unknown argument '" << arg << "' (bench_cluster [--weftd PATH] [--seconds S] [--clients 1,16,128] [--snapshot-interval N] [--blocking-clients] [--plaintext])\n";
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
  options.plaintext_transport = plaintext;
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
  std::printf("PUT /kv with 256-byte values to the leader (member %llu), one request in flight per client, %.1f s per level,\n"
              "clients on %s, members' links %s\n\n",
              static_cast<unsigned long long>(leader), seconds,
              blocking ? "one blocking thread each" : "one epoll thread", plaintext ? "plaintext" : "Noise");
  std::printf("%8s %10s %8s %8s %8s %7s %10s %10s %10s %10s %11s %9s %9s\n", "clients", "writes/s", "p50 ms", "p99 ms",
              "max ms", "errors", "leader cpu", "follow cpu", "client cpu", "leader us/w", "client us/w", "leader MiB",
              "follow MiB");
  std::vector<std::pair<std::size_t, std::string>> write_paths;  // per level, printed after the table
  for (std::size_t n : levels) {
    const leader_metrics leader_before = scrape_leader(c.find(leader)->http);
    std::vector<process_sample> before;
    for (const auto& m : c.members()) before.push_back(sample_process(m.pid));
    const double client_before = own_cpu_seconds();
    const auto r = run_level(c.find(leader)->http, n, seconds, blocking);
    const double client_cpu = (own_cpu_seconds() - client_before) / r.seconds;
    const leader_metrics leader_after = scrape_leader(c.find(leader)->http);
    double leader_cpu = 0, follower_cpu = 0, leader_rss = 0, follower_rss = 0;
    for (std::size_t i = 0; i < c.members().size(); ++i) {
      const process_sample after = sample_process(c.members()[i].pid);
      const double used = (after.cpu_seconds - before[i].cpu_seconds) / r.seconds;
      if (c.members()[i].id == leader) {
        leader_cpu = used;
        leader_rss = after.rss_mib;
      } else {
        follower_cpu = std::max(follower_cpu, used);
        follower_rss = std::max(follower_rss, after.rss_mib);
      }
    }
    const double rate = static_cast<double>(r.ok) / r.seconds;
    std::printf("%8zu %10.0f %8.2f %8.2f %8.2f %7llu %9.0f%% %9.0f%% %9.0f%% %11.1f %11.1f %9.0f %9.0f\n", r.clients,
                rate, r.p50_ms, r.p99_ms, r.max_ms, static_cast<unsigned long long>(r.errors), 100 * leader_cpu,
                100 * follower_cpu, 100 * client_cpu, rate > 0 ? leader_cpu * 1e6 / rate : 0.0,
                rate > 0 ? client_cpu * 1e6 / rate : 0.0, leader_rss, follower_rss);
    const double fsyncs = leader_after.fsyncs - leader_before.fsyncs;
    char path_line[160];
    std::snprintf(path_line, sizeof path_line, "%8zu %12.0f %14.1f %12.0f%% %14.3f", r.clients, fsyncs / r.seconds,
                  fsyncs > 0 ? static_cast<double>(r.ok) / fsyncs : 0.0,
                  100 * (leader_after.fsync_seconds - leader_before.fsync_seconds) / r.seconds,
                  r.ok > 0 ? (leader_after.messages_sent - leader_before.messages_sent) / static_cast<double>(r.ok) : 0.0);
    write_paths.emplace_back(r.clients, path_line);
    if (r.errors != 0) {
      std::printf("%8s errors by status (0: no answer in 5 s, -1: connection broken):", "");
      for (const auto& [status, count] : r.error_statuses)
        std::printf(" %d x %llu", status, static_cast<unsigned long long>(count));
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  std::printf("\n(cpu: share of one core over the level; follow: the busier follower; client: this process, all its\n"
              "client threads; us/w: CPU microseconds per acknowledged write; MiB: resident memory at the level's end)\n");
  std::printf("\nThe leader's write path (its /metrics before and after each level):\n%8s %12s %14s %13s %14s\n",
              "clients", "fsyncs/s", "writes/fsync", "in fsync", "msgs/write");
  for (const auto& [clients, line] : write_paths) std::printf("%s\n", line.c_str());
  std::printf("(in fsync: share of wall time the leader spent in WAL fsync; msgs/write: transport messages the leader\n"
              "sent, Raft and SWIM, per acknowledged write)\n");
  c.stop_all();
  return 0;
}
