// weft/telemetry/coarse_clock.hpp - a cheap monotonic clock for log timestamps
// (CLOCK_MONOTONIC_COARSE): a memory read in the vDSO instead of a counter read.
// weft:hosted (POSIX clock_gettime)
#pragma once

#include <ctime>

#include "weft/config.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/time.hpp"

WEFT_BEGIN
namespace telemetry {

/// The kernel's monotonic time as of its last timer tick: same epoch as CLOCK_MONOTONIC
/// (std::chrono::steady_clock on Linux), never goes back, but advances in steps of one
/// tick (clock_getres reports it: 1 to 10 ms), so records within a tick share a timestamp
/// (their order in the stream still tells them apart). For the binary sink on hosts where
/// reading the precise clock costs more than the log call (virtual machines, see
/// docs/telemetry.md); never for timeouts or measurements.
class coarse_monotonic_clock {
 public:
  [[nodiscard]] time_point now() const noexcept {
    timespec ts{};
#ifdef CLOCK_MONOTONIC_COARSE
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return time_point_from_ns(static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 +
                              static_cast<std::int64_t>(ts.tv_nsec));
  }
  /// The step between two distinct readings.
  [[nodiscard]] static duration resolution() noexcept {
    timespec ts{};
#ifdef CLOCK_MONOTONIC_COARSE
    ::clock_getres(CLOCK_MONOTONIC_COARSE, &ts);
#else
    ::clock_getres(CLOCK_MONOTONIC, &ts);
#endif
    return duration{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
  }
};
static_assert(clock<coarse_monotonic_clock>, "coarse_monotonic_clock: see docs/requirements");

}  // namespace telemetry
WEFT_END
