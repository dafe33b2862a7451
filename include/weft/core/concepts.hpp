// weft/core/concepts.hpp - the clock and random-source policies.
// Requirements tables: docs/requirements/clock.md and docs/requirements/random.md.
#pragma once

#include <concepts>
#include <cstdint>

#include "weft/config.hpp"
#include "weft/core/time.hpp"

WEFT_BEGIN

/// A monotonic source of time_point. See docs/requirements/clock.md.
template <class C>
concept clock = requires(const C& c) {
  { c.now() } noexcept -> std::same_as<time_point>;
};

/// A source of uniformly distributed 64-bit words. See docs/requirements/random.md.
template <class R>
concept random_source = requires(R& r) {
  { r.next_u64() } noexcept -> std::same_as<std::uint64_t>;
};

WEFT_END
