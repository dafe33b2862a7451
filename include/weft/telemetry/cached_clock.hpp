// weft/telemetry/cached_clock.hpp - a log-timestamp clock that reads a time another party
// stored: now() is one relaxed load, refresh() reads the source clock (an event loop tick or
// the drain thread calls it).
#pragma once

#include <atomic>
#include <cstdint>

#include "weft/config.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/time.hpp"

WEFT_BEGIN
namespace telemetry {

/// The source clock's time as of the last refresh(). For the binary sink's timestamps on
/// hosts where every clock read costs more than the rest of the log call (docs/telemetry.md
/// has the figures): records between two refreshes share a timestamp and keep their order
/// in the stream. Time stays injected: the source is a `clock`, and whoever owns the loop
/// decides how often to refresh (the resolution). Never for timeouts or measurements.
template <clock Source>
class cached_clock {
 public:
  explicit cached_clock(const Source& source) noexcept
      : source_(&source), cached_ns_(to_ns(source.now())) {}

  [[nodiscard]] time_point now() const noexcept {
    return time_point_from_ns(cached_ns_.load(std::memory_order_relaxed));
  }
  /// Stores the source's time; any thread, typically once per tick or per drain. Never
  /// moves the cached time back (two refreshing threads may finish in either order).
  void refresh() noexcept {
    const std::int64_t fresh = to_ns(source_->now());
    std::int64_t seen = cached_ns_.load(std::memory_order_relaxed);
    while (seen < fresh &&
           !cached_ns_.compare_exchange_weak(seen, fresh, std::memory_order_relaxed)) {
    }
  }

 private:
  const Source* source_;  // not owned
  std::atomic<std::int64_t> cached_ns_;
};

}  // namespace telemetry
WEFT_END
