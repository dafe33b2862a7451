// weft/telemetry/metrics.hpp - fixed-size metrics: per-thread sharded counters, gauges and
// log-linear histograms, registered statically in a registry that exporters walk.
// Recording never allocates and never takes a lock (relaxed atomics only).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/telemetry/concepts.hpp"

/// Shards per counter and per histogram sum (each one cache line); at least 2.
#ifndef WEFT_TELEMETRY_COUNTER_SHARDS
#  define WEFT_TELEMETRY_COUNTER_SHARDS 8
#endif

WEFT_BEGIN
namespace telemetry {

inline constexpr std::size_t cache_line_bytes = 64;

enum class metric_kind : std::uint8_t { counter, gauge, histogram };

/// A constant label of a metric series (`peer="n2"`). Views must outlive the metric.
struct label {
  std::string_view name;
  std::string_view value;
};

/// What an exporter needs to describe a series. `name` is the family name without the
/// `_total` suffix of counters and with the unit as its last word (`..._seconds`);
/// `unit` is the OpenMetrics unit ("seconds", "bytes", or empty); recorded integer values
/// are multiplied by `export_scale` on export (1e-9 records nanoseconds, exports seconds).
struct metric_info {
  std::string_view name;
  std::string_view help;
  std::string_view unit{};
  std::span<const label> labels{};
  double export_scale = 1.0;
};

class registry;
registry& default_registry() noexcept;

/// Common part of every metric: its description and its link in the registry.
class metric_base {
 public:
  metric_base(const metric_base&) = delete;
  metric_base& operator=(const metric_base&) = delete;

  [[nodiscard]] const metric_info& info() const noexcept { return info_; }
  [[nodiscard]] metric_kind kind() const noexcept { return kind_; }
  /// Neighbours in the registry; only valid inside registry::for_each (under its lock).
  [[nodiscard]] const metric_base* next() const noexcept { return next_; }
  [[nodiscard]] const metric_base* previous() const noexcept { return prev_; }

 protected:
  metric_base(metric_kind kind, const metric_info& info, registry* owner) noexcept;
  ~metric_base() { leave_registry(); }
  /// Called first thing by each metric's destructor, so that an export running on another
  /// thread never sees a half-destroyed metric. Idempotent.
  void leave_registry() noexcept;

 private:
  friend class registry;
  metric_info info_;
  metric_kind kind_;
  registry* owner_;
  metric_base* next_ = nullptr;
  metric_base* prev_ = nullptr;
};

/// The set of live metrics. Registration (construction and destruction of metrics, rare)
/// and export take a spin lock; recording never touches the registry.
class registry {
 public:
  constexpr registry() noexcept = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Calls `visit(const metric_base&)` for every metric, oldest first, under the lock.
  template <class Visitor>
  void for_each(Visitor&& visit) const noexcept {
    lock();
    for (const metric_base* m = head_; m != nullptr; m = m->next_) visit(*m);
    unlock();
  }
  [[nodiscard]] std::size_t size() const noexcept {
    std::size_t n = 0;
    for_each([&n](const metric_base&) { ++n; });
    return n;
  }

 private:
  friend class metric_base;
  void lock() const noexcept {
    while (busy_.exchange(true, std::memory_order_acquire)) {
    }
  }
  void unlock() const noexcept { busy_.store(false, std::memory_order_release); }
  void attach(metric_base& m) noexcept {
    lock();
    m.prev_ = tail_;
    if (tail_ != nullptr) tail_->next_ = &m;
    else head_ = &m;
    tail_ = &m;
    unlock();
  }
  void detach(metric_base& m) noexcept {
    lock();
    if (m.prev_ != nullptr) m.prev_->next_ = m.next_;
    else head_ = m.next_;
    if (m.next_ != nullptr) m.next_->prev_ = m.prev_;
    else tail_ = m.prev_;
    unlock();
  }
  metric_base* head_ = nullptr;
  metric_base* tail_ = nullptr;
  mutable std::atomic<bool> busy_{false};
};

/// The registry metrics join when none is named; exporters default to it too.
inline registry& default_registry() noexcept {
  static constinit registry instance;
  return instance;
}

inline metric_base::metric_base(metric_kind kind, const metric_info& info,
                                 registry* owner) noexcept
    : info_(info), kind_(kind), owner_(owner) {
  if (owner_ != nullptr) owner_->attach(*this);
}
inline void metric_base::leave_registry() noexcept {
  if (owner_ != nullptr) owner_->detach(*this);
  owner_ = nullptr;
}

namespace detail {
/// A small number naming this thread, assigned on first use. Threads numbered below
/// `shard_count - 1` own a shard of every counter (single writer: a plain relaxed load and
/// store, no read-modify-write); later threads share the last shard with fetch_add. Numbers
/// are not reused, so with thread churn new threads end up on the shared shard (correct,
/// just slower).
inline std::uint32_t this_thread_number() noexcept {
  static std::atomic<std::uint32_t> next{0};
  thread_local std::uint32_t number = ~std::uint32_t{0};
  if (WEFT_UNLIKELY(number == ~std::uint32_t{0}))
    number = next.fetch_add(1, std::memory_order_relaxed) & 0x7fffffffu;
  return number;
}

/// Per-thread shards of a 64-bit sum, one cache line each (see this_thread_number).
template <std::size_t Shards>
class sharded_sum {
 public:
  WEFT_ALWAYS_INLINE void add(std::uint64_t n) noexcept {
    const std::uint32_t t = this_thread_number();
    if (WEFT_LIKELY(t < Shards - 1)) {
      auto& v = shards_[t].value;
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      shards_[Shards - 1].value.fetch_add(n, std::memory_order_relaxed);
    }
  }
  [[nodiscard]] std::uint64_t value() const noexcept {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  struct alignas(cache_line_bytes) shard {
    std::atomic<std::uint64_t> value{0};
  };
  std::array<shard, Shards> shards_{};
};
}  // namespace detail

/// A monotonic counter, one cache line per shard so that threads do not share lines; the
/// first shard_count - 1 threads to record own a shard each and update it without a
/// read-modify-write.
class counter : public metric_base {
 public:
  static constexpr std::size_t shard_count = WEFT_TELEMETRY_COUNTER_SHARDS;
  static_assert(shard_count >= 2, "WEFT_TELEMETRY_COUNTER_SHARDS: at least 2");

  explicit counter(const metric_info& info, registry* owner = &default_registry()) noexcept
      : metric_base(metric_kind::counter, info, owner) {}
  ~counter() { leave_registry(); }
  counter(const counter&) = delete;
  counter& operator=(const counter&) = delete;

  WEFT_ALWAYS_INLINE void add(std::uint64_t n = 1) noexcept { sum_.add(n); }
  /// Sum over shards; exact once writers stop.
  [[nodiscard]] std::uint64_t value() const noexcept { return sum_.value(); }

 private:
  detail::sharded_sum<shard_count> sum_{};
};

/// A value that goes up and down (queue depth, has_leader).
class gauge : public metric_base {
 public:
  explicit gauge(const metric_info& info, registry* owner = &default_registry()) noexcept
      : metric_base(metric_kind::gauge, info, owner) {}
  ~gauge() { leave_registry(); }
  gauge(const gauge&) = delete;
  gauge& operator=(const gauge&) = delete;
  WEFT_ALWAYS_INLINE void set(std::int64_t v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }
  WEFT_ALWAYS_INLINE void add(std::int64_t delta) noexcept {
    value_.fetch_add(delta, std::memory_order_relaxed);
  }
  [[nodiscard]] std::int64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  alignas(cache_line_bytes) std::atomic<std::int64_t> value_{0};
};

/// A log-linear histogram of unsigned 64-bit values (HdrHistogram's layout): values below
/// 2^P are counted exactly; above, each power of two [2^e, 2^(e+1)) is split into 2^P
/// equal buckets. With P = precision_bits = 4 every bucket [lower, upper) satisfies
/// (upper - lower) <= lower / 16, so any value reported by its bucket's bounds is within a
/// relative error of 2^-4 = 6.25% (2^-5 = 3.125% when reported by the bucket midpoint).
/// 976 buckets cover the whole 64-bit range: fixed size, no allocation, no overflow bucket.
class histogram : public metric_base {
 public:
  static constexpr unsigned precision_bits = 4;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << precision_bits;
  static constexpr std::size_t bucket_count =
      static_cast<std::size_t>(sub_buckets + (64 - precision_bits) * sub_buckets);

  explicit histogram(const metric_info& info, registry* owner = &default_registry()) noexcept
      : metric_base(metric_kind::histogram, info, owner) {}
  ~histogram() { leave_registry(); }
  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  [[nodiscard]] static constexpr std::size_t bucket_index(std::uint64_t v) noexcept {
    if (v < sub_buckets) return static_cast<std::size_t>(v);
    const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v));
    const std::uint64_t sub = (v >> (e - precision_bits)) & (sub_buckets - 1);
    return static_cast<std::size_t>((e - precision_bits + 1) * sub_buckets + sub);
  }
  /// Smallest value counted by bucket `index`.
  [[nodiscard]] static constexpr std::uint64_t bucket_lower(std::size_t index) noexcept {
    if (index < sub_buckets) return index;
    const std::uint64_t e = index / sub_buckets + precision_bits - 1;
    const std::uint64_t sub = index % sub_buckets;
    return (sub_buckets + sub) << (e - precision_bits);
  }
  /// Largest value counted by bucket `index` (inclusive, so the last bucket fits in 64 bits).
  [[nodiscard]] static constexpr std::uint64_t bucket_upper(std::size_t index) noexcept {
    if (index + 1 >= bucket_count) return ~std::uint64_t{0};
    return bucket_lower(index + 1) - 1;
  }

  WEFT_ALWAYS_INLINE void record(std::uint64_t v) noexcept {
    buckets_[bucket_index(v)].fetch_add(1, std::memory_order_relaxed);
    sum_.add(v);
  }

  [[nodiscard]] std::uint64_t bucket(std::size_t index) const noexcept {
    return buckets_[index].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }
  /// Sum of recorded values, modulo 2^64.
  [[nodiscard]] std::uint64_t sum() const noexcept { return sum_.value(); }

  /// The value at quantile q in [0, 1], as the midpoint of the bucket holding it.
  [[nodiscard]] std::uint64_t quantile(double q) const noexcept {
    const std::uint64_t total = count();
    if (total == 0) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += bucket(i);
      if (seen >= rank) return bucket_lower(i) + (bucket_upper(i) - bucket_lower(i)) / 2;
    }
    return bucket_upper(bucket_count - 1);
  }

 private:
  std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
  detail::sharded_sum<WEFT_TELEMETRY_COUNTER_SHARDS> sum_{};
};

/// A policy base for live sinks: metric calls update the metric objects directly.
struct metrics_recorder {
  WEFT_ALWAYS_INLINE void add(counter& c, std::uint64_t n) noexcept { c.add(n); }
  WEFT_ALWAYS_INLINE void set(gauge& g, std::int64_t v) noexcept { g.set(v); }
  WEFT_ALWAYS_INLINE void record(histogram& h, std::uint64_t v) noexcept { h.record(v); }
};

}  // namespace telemetry
WEFT_END
