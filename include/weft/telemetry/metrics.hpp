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
inline constexpr std::uint32_t unnumbered_thread = ~std::uint32_t{0};
inline std::atomic<std::uint32_t> next_thread_number{0};
/// This thread's number, or unnumbered_thread before assign_thread_number() ran on it.
inline thread_local std::uint32_t thread_number = unnumbered_thread;

/// Numbers this thread on first use. Threads numbered below `shard_count - 1` own a shard
/// of every counter (single writer: a plain relaxed load and store, no read-modify-write);
/// later threads share the last shard with fetch_add. Numbers are not reused, so with
/// thread churn new threads end up on the shared shard (correct, just slower).
WEFT_NOINLINE inline std::uint32_t assign_thread_number() noexcept {
  if (thread_number == unnumbered_thread)
    thread_number = next_thread_number.fetch_add(1, std::memory_order_relaxed) & 0x7fffffffu;
  return thread_number;
}
inline std::uint32_t this_thread_number() noexcept {
  const std::uint32_t n = thread_number;
  return WEFT_LIKELY(n != unnumbered_thread) ? n : assign_thread_number();
}

/// Per-thread shards of a 64-bit sum, one cache line each (see assign_thread_number).
template <std::size_t Shards>
class sharded_sum {
 public:
  /// One compare on the fast path: an unnumbered thread (all ones) fails it like a thread
  /// beyond the owned shards, and is numbered on that slower path.
  WEFT_ALWAYS_INLINE void add(std::uint64_t n) noexcept {
    const std::uint32_t t = thread_number;
    if (WEFT_LIKELY(t < Shards - 1)) {
      auto& v = shards_[t].value;
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      add_slow(n);
    }
  }
  [[nodiscard]] std::uint64_t value() const noexcept {
    std::uint64_t total = 0;
    for (const auto& s : shards_) total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  WEFT_NOINLINE void add_slow(std::uint64_t n) noexcept {
    const std::uint32_t t = this_thread_number();
    if (t < Shards - 1) {
      auto& v = shards_[t].value;
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      shards_[Shards - 1].value.fetch_add(n, std::memory_order_relaxed);
    }
  }
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
    // No branch: or-ing in sub_buckets makes values below it use shift 0 (index = v);
    // above, v >> shift lands in [sub_buckets, 2 * sub_buckets), one row per power of two.
    const auto top_bit = 63u - static_cast<unsigned>(std::countl_zero(v | sub_buckets));
    const unsigned shift = top_bit - precision_bits;
    return static_cast<std::size_t>(shift * sub_buckets + (v >> shift));
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

  /// The first thread to record owns a private set of buckets and updates them without a
  /// read-modify-write (the usual case: one thread records a given histogram); other threads
  /// count into the shared buckets with fetch_add.
  WEFT_ALWAYS_INLINE void record(std::uint64_t v) noexcept {
    const std::size_t index = bucket_index(v);
    if (WEFT_LIKELY(detail::thread_number == owner_.load(std::memory_order_relaxed))) {
      auto& b = owned_buckets_[index];
      b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      record_not_owner(index);
    }
    sum_.add(v);
  }

  [[nodiscard]] std::uint64_t bucket(std::size_t index) const noexcept {
    return owned_buckets_[index].load(std::memory_order_relaxed) +
           shared_buckets_[index].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) n += bucket(i);
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
  // Thread numbers are below 2^31, so this never names a thread nor equals an unnumbered one.
  static constexpr std::uint32_t no_owner = 0xfffffffeu;

  WEFT_NOINLINE void record_not_owner(std::size_t index) noexcept {
    std::uint32_t expected = no_owner;
    const std::uint32_t me = detail::this_thread_number();
    if (expected == owner_.load(std::memory_order_relaxed) &&
        owner_.compare_exchange_strong(expected, me, std::memory_order_relaxed)) {
      owned_buckets_[index].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    shared_buckets_[index].fetch_add(1, std::memory_order_relaxed);
  }

  std::atomic<std::uint32_t> owner_{no_owner};
  std::array<std::atomic<std::uint64_t>, bucket_count> owned_buckets_{};
  alignas(cache_line_bytes) std::array<std::atomic<std::uint64_t>, bucket_count> shared_buckets_{};
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
