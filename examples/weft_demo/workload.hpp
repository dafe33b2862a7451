// weft_demo/workload.hpp - concurrent clients doing PUT/GET/DELETE on /kv against a
// weftd cluster and recording every operation (invoke, then ok / fail / info) into a
// weft::sim::history for the linearizability checker (kv_model: int64 keys and values).
// Classification: an HTTP answer that proves the write never entered the log (503 busy or
// no leader, 4xx, connection refused) is `fail`; 504, timeouts, resets and malformed
// answers are `info` (outcome unknown); 200/404 are `ok`.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <random>

#include "cluster.hpp"
#include "weft/sim/linearizability.hpp"

namespace weft_demo {

using kv_history = weft::sim::history<weft::sim::kv_model>;

struct workload_options {
  std::size_t clients = 8;
  std::int64_t keys = 8;
  std::chrono::milliseconds request_timeout{3000};
  std::uint64_t seed = 1;
  int put_percent = 45;
  int delete_percent = 10;  // the rest are reads
};

struct workload_counts {
  std::atomic<std::uint64_t> ok{0}, fail{0}, info{0};
};

/// Maps an HTTP outcome of a kv operation to the history; returns the op's status.
inline weft::sim::op_status classify(const http_response& r, weft::sim::kv_model::kind op,
                                     weft::sim::kv_model::output& out) {
  using weft::sim::op_status;
  if (r.outcome == transport_outcome::not_sent) return op_status::fail;
  if (r.outcome == transport_outcome::unknown) return op_status::info;
  if (r.status == 200) {
    if (op == weft::sim::kv_model::kind::get) {
      out.found = true;
      char* end = nullptr;
      out.value = std::strtoll(r.body.c_str(), &end, 10);
      if (r.body.empty() || end == nullptr || *end != '\0') return op_status::info;  // not ours
    }
    return op_status::ok;
  }
  if (r.status == 404 && op == weft::sim::kv_model::kind::get) {
    out.found = false;
    return op_status::ok;
  }
  if (r.status >= 500 && r.status != 503) return op_status::info;  // 504: outcome unknown
  return op_status::fail;  // 503 (not proposed), 4xx
}

/// Runs `clients` threads until `stop` is set. Each client sends to the member it
/// believes leads (`leader_http` gives the current guess) and re-reads it after a failure.
class workload {
 public:
  workload(workload_options options, std::function<endpoint()> leader_http)
      : options_(options), leader_http_(std::move(leader_http)) {}
  workload(const workload&) = delete;
  workload& operator=(const workload&) = delete;
  ~workload() { stop(); }

  void start() {
    origin_ = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < options_.clients; ++i)
      threads_.emplace_back([this, i] { run_client(static_cast<std::uint32_t>(i)); });
  }
  void stop() {
    stopping_.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  [[nodiscard]] const kv_history& history() const noexcept { return history_; }
  [[nodiscard]] const workload_counts& counts() const noexcept { return counts_; }
  /// Writes acknowledged (ok) so far: a progress signal for failover timing.
  [[nodiscard]] std::uint64_t ok_writes() const noexcept { return ok_writes_.load(); }

 private:
  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin_).count();
  }

  void run_client(std::uint32_t process) {
    using kind = weft::sim::kv_model::kind;
    std::mt19937_64 rng(options_.seed * 1000003u + process);
    http_client client(leader_http_());
    std::uint64_t sequence = 0;
    while (!stopping_.load()) {
      weft::sim::kv_model::input in;
      in.key = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(options_.keys));
      const int dice = static_cast<int>(rng() % 100);
      in.op = dice < options_.put_percent ? kind::put
              : dice < options_.put_percent + options_.delete_percent ? kind::remove
                                                                      : kind::get;
      // Unique values: process in the high bits, a sequence number below.
      in.value = static_cast<std::int64_t>((static_cast<std::uint64_t>(process + 1) << 32) | ++sequence);
      const std::string path = "/kv/k" + std::to_string(in.key);
      const std::string request_id = "X-Request-Id: c" + std::to_string(process) + "-" + std::to_string(sequence) + "\r\n";
      std::size_t id = 0;
      {
        std::lock_guard lock(mutex_);
        id = history_.invoke(process, in, now_ns());
      }
      http_response r;
      if (in.op == kind::put)
        r = client.request("PUT", path, std::to_string(in.value), options_.request_timeout, request_id);
      else if (in.op == kind::remove)
        r = client.request("DELETE", path, {}, options_.request_timeout, request_id);
      else
        r = client.request("GET", path, {}, options_.request_timeout);
      weft::sim::kv_model::output out;
      const auto status = classify(r, in.op, out);
      {
        std::lock_guard lock(mutex_);
        const std::int64_t at = now_ns();
        if (status == weft::sim::op_status::ok) history_.ok(id, out, at);
        else if (status == weft::sim::op_status::fail) history_.fail(id, at);
        else history_.info(id, at);
      }
      if (status == weft::sim::op_status::ok) {
        counts_.ok.fetch_add(1);
        if (in.op != kind::get) ok_writes_.fetch_add(1);
      } else {
        (status == weft::sim::op_status::fail ? counts_.fail : counts_.info).fetch_add(1);
        client.retarget(leader_http_());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  workload_options options_;
  std::function<endpoint()> leader_http_;
  std::chrono::steady_clock::time_point origin_;
  std::mutex mutex_;
  kv_history history_;
  workload_counts counts_;
  std::atomic<std::uint64_t> ok_writes_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

/// A leader tracker for the workload: polls the cluster in the background and answers
/// the HTTP endpoint of the last agreed leader (or any running member while none).
class leader_tracker {
 public:
  explicit leader_tracker(cluster& c) : cluster_(c) {}
  leader_tracker(const leader_tracker&) = delete;
  leader_tracker& operator=(const leader_tracker&) = delete;
  ~leader_tracker() { stop(); }
  void start() {
    refresh();
    thread_ = std::thread([this] {
      while (!stopping_.load()) {
        refresh();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  void stop() {
    stopping_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  endpoint leader_http() {
    std::lock_guard lock(mutex_);
    return http_;
  }
  std::uint64_t leader() const noexcept { return leader_.load(); }

 private:
  void refresh() {
    std::lock_guard cluster_lock(cluster_mutex());
    const std::uint64_t l = cluster_.agreed_leader();
    std::lock_guard lock(mutex_);
    if (l != 0) {
      leader_.store(l);
      http_ = cluster_.find(l)->http;
    } else if (!cluster_.running(leader_.load())) {
      for (const auto& m : cluster_.members())
        if (m.pid > 0) http_ = m.http;
    }
  }

 public:
  /// Held by the tracker while it reads cluster state; hold it to kill or start members.
  static std::mutex& cluster_mutex() {
    static std::mutex m;
    return m;
  }

 private:
  cluster& cluster_;
  std::mutex mutex_;
  endpoint http_;
  std::atomic<std::uint64_t> leader_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace weft_demo
