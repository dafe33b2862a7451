// weft/transport/peer_metrics.hpp - the per-peer transport series of the metric catalogue
// (telemetry::catalogue::transport_peer_metrics, label `peer` = member id) fed from the
// transports' running peer_traffic totals.
//
// One set of series per peer id per process: several nodes in one process (tests, an
// embedding) that talk to the same member add to the same series instead of exporting
// duplicate label sets. So the label cardinality is the number of distinct members the
// process talks to, at most peer_series_table::max_peers; a peer beyond that is not
// exported (counted in untracked_peers()).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>

#include "weft/config.hpp"
#include "weft/telemetry/catalogue.hpp"
#include "weft/transport/concepts.hpp"

WEFT_BEGIN
namespace transport {

/// The process's per-peer series, created when a first user asks for a peer and removed
/// from the registry when the last one releases it. acquire/release take a spin lock
/// (rare: when a node opens or closes); recording goes straight to the counters.
class peer_series_table {
 public:
  static constexpr std::size_t max_peers = 256;
  using series = telemetry::catalogue::transport_peer_metrics;

  peer_series_table() noexcept = default;
  peer_series_table(const peer_series_table&) = delete;
  peer_series_table& operator=(const peer_series_table&) = delete;

  /// The series of `id` (shared), or null when the table is full.
  [[nodiscard]] series* acquire(peer_id id) noexcept {
    const guard locked(lock_);
    slot* free = nullptr;
    for (slot& s : slots_) {
      if (s.users > 0 && s.id == id) {
        ++s.users;
        return &*s.metrics;
      }
      if (s.users == 0 && free == nullptr) free = &s;
    }
    if (free == nullptr) return nullptr;
    free->id = id;
    free->users = 1;
    const int n = std::snprintf(free->name, sizeof free->name, "%u", static_cast<unsigned>(id));
    free->metrics.emplace(std::string_view(free->name, n > 0 ? static_cast<std::size_t>(n) : 0));
    return &*free->metrics;
  }

  void release(peer_id id) noexcept {
    const guard locked(lock_);
    for (slot& s : slots_)
      if (s.users > 0 && s.id == id) {
        if (--s.users == 0) s.metrics.reset();  // leaves the registry
        return;
      }
  }

 private:
  struct slot {
    peer_id id = 0;
    std::uint32_t users = 0;
    char name[12] = {};  // the label value: decimal id
    std::optional<series> metrics;
  };
  struct guard {
    explicit guard(std::atomic_flag& flag) noexcept : flag_(flag) {
      while (flag_.test_and_set(std::memory_order_acquire)) {
      }
    }
    ~guard() { flag_.clear(std::memory_order_release); }
    guard(const guard&) = delete;
    guard& operator=(const guard&) = delete;
    std::atomic_flag& flag_;
  };

  std::array<slot, max_peers> slots_{};
  std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
};

/// The table of the process (default registry).
inline peer_series_table& process_peer_series() noexcept {
  static peer_series_table table;
  return table;
}

/// One node's view: per peer, the totals already exported, so each observation adds only
/// the growth of the transports' running totals (TCP and UDP summed per peer).
class peer_traffic_exporter {
 public:
  static constexpr std::size_t max_tracked_peers = 64;

  explicit peer_traffic_exporter(peer_series_table& table = process_peer_series()) noexcept
      : table_(&table) {}
  peer_traffic_exporter(const peer_traffic_exporter&) = delete;
  peer_traffic_exporter& operator=(const peer_traffic_exporter&) = delete;
  ~peer_traffic_exporter() {
    for (std::size_t i = 0; i < tracked_count_; ++i)
      if (tracked_[i].metrics != nullptr) table_->release(tracked_[i].id);
  }

  /// Adds what `id`'s totals grew by since the last call (either pointer may be null).
  void observe(peer_id id, const peer_traffic* stream, const peer_traffic* datagram) noexcept {
    tracked* t = find_or_add(id);
    if (t == nullptr || t->metrics == nullptr) return;
    const peer_traffic now = sum(stream, datagram);
    auto& m = *t->metrics;
    m.sent_bytes.add(growth(t->seen.bytes_sent, now.bytes_sent));
    m.sent_messages.add(growth(t->seen.messages_sent, now.messages_sent));
    m.received_bytes.add(growth(t->seen.bytes_received, now.bytes_received));
    m.received_messages.add(growth(t->seen.messages_received, now.messages_received));
    m.send_failures.add(growth(t->seen.send_failures, now.send_failures));
    m.dropped_messages.add(growth(t->seen.messages_dropped, now.messages_dropped));
  }

  [[nodiscard]] std::uint64_t untracked_peers() const noexcept { return untracked_; }

 private:
  struct tracked {
    peer_id id = 0;
    peer_series_table::series* metrics = nullptr;
    peer_traffic seen{};
  };

  tracked* find_or_add(peer_id id) noexcept {
    for (std::size_t i = 0; i < tracked_count_; ++i)
      if (tracked_[i].id == id) return &tracked_[i];
    if (tracked_count_ == max_tracked_peers) {
      ++untracked_;
      return nullptr;
    }
    tracked& t = tracked_[tracked_count_++];
    t.id = id;
    t.metrics = table_->acquire(id);
    if (t.metrics == nullptr) ++untracked_;
    return &t;
  }
  static peer_traffic sum(const peer_traffic* a, const peer_traffic* b) noexcept {
    peer_traffic out;
    for (const peer_traffic* p : {a, b}) {
      if (p == nullptr) continue;
      out.bytes_sent += p->bytes_sent;
      out.messages_sent += p->messages_sent;
      out.bytes_received += p->bytes_received;
      out.messages_received += p->messages_received;
      out.send_failures += p->send_failures;
      out.messages_dropped += p->messages_dropped;
    }
    return out;
  }
  /// Growth of a running total; a total that went back (a reopened transport) starts over.
  static std::uint64_t growth(std::uint64_t& seen, std::uint64_t total) noexcept {
    const std::uint64_t grown = total >= seen ? total - seen : total;
    seen = total;
    return grown;
  }

  peer_series_table* table_;
  std::array<tracked, max_tracked_peers> tracked_{};
  std::size_t tracked_count_ = 0;
  std::uint64_t untracked_ = 0;
};

}  // namespace transport
WEFT_END
