// weft/core/time.hpp - durations and time points in nanoseconds. Protocol cores never read
// a clock: time reaches them as a time_point argument. Clocks are policies (core/concepts.hpp).
#pragma once

#include <chrono>
#include <cstdint>

#include "weft/config.hpp"

WEFT_BEGIN

/// The epoch every weft clock counts from (a clock's own start, not the Unix epoch).
struct clock_epoch {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<clock_epoch, duration>;
  static constexpr bool is_steady = true;
};

using duration = clock_epoch::duration;
using time_point = clock_epoch::time_point;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

[[nodiscard]] constexpr std::int64_t to_ns(duration d) noexcept { return d.count(); }
[[nodiscard]] constexpr std::int64_t to_ns(time_point t) noexcept {
  return t.time_since_epoch().count();
}
[[nodiscard]] constexpr time_point time_point_from_ns(std::int64_t ns) noexcept {
  return time_point{duration{ns}};
}

/// The host's monotonic clock; for drivers, never for protocol cores.
class steady_clock {
 public:
  [[nodiscard]] time_point now() const noexcept {
    const auto since = std::chrono::steady_clock::now().time_since_epoch();
    return time_point{std::chrono::duration_cast<duration>(since)};
  }
};

/// A clock moved only by its owner: for tests and single-threaded simulations.
class manual_clock {
 public:
  constexpr manual_clock() noexcept = default;
  constexpr explicit manual_clock(time_point start) noexcept : now_(start) {}
  [[nodiscard]] constexpr time_point now() const noexcept { return now_; }
  constexpr void advance(duration d) noexcept { now_ += d; }
  constexpr void set(time_point t) noexcept { now_ = t; }

 private:
  time_point now_{};
};

WEFT_END
