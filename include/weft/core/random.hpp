// weft/core/random.hpp - seedable, fast random generators and the draws protocols need.
// Randomness is injected: nothing in weft reads a global random source.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "weft/config.hpp"

WEFT_BEGIN

namespace detail {
__extension__ typedef unsigned __int128 uint128;
}  // namespace detail

/// SplitMix64: expands one 64-bit seed into well-mixed state words.
class splitmix64 {
 public:
  constexpr explicit splitmix64(std::uint64_t seed) noexcept : state_(seed) {}
  constexpr std::uint64_t next_u64() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

/// xoshiro256** (Blackman & Vigna): 256 bits of state, period 2^256 - 1, passes BigCrush.
/// Also a UniformRandomBitGenerator, so <random> distributions accept it in tests.
class xoshiro256 {
 public:
  using result_type = std::uint64_t;

  constexpr explicit xoshiro256(std::uint64_t seed = 0) noexcept { reseed(seed); }

  constexpr void reseed(std::uint64_t seed) noexcept {
    splitmix64 expand(seed);
    for (auto& word : s_) word = expand.next_u64();
  }

  constexpr std::uint64_t next_u64() noexcept {
    const std::uint64_t out = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }

  /// A new generator whose stream is independent of this one (for per-node streams).
  constexpr xoshiro256 fork() noexcept { return xoshiro256(next_u64()); }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }
  constexpr result_type operator()() noexcept { return next_u64(); }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::uint64_t s_[4]{};
};

/// A uniform integer in [0, bound) without modulo bias (Lemire's multiply-shift method).
/// bound == 0 yields 0.
template <class Random>
constexpr std::uint64_t uniform_below(Random& random, std::uint64_t bound) noexcept {
  if (bound == 0) return 0;
  detail::uint128 m = static_cast<detail::uint128>(random.next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<detail::uint128>(random.next_u64()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

/// A uniform integer in [low, high] (inclusive); requires low <= high.
template <class Random>
constexpr std::uint64_t uniform_between(Random& random, std::uint64_t low,
                                        std::uint64_t high) noexcept {
  WEFT_ASSERT(low <= high);
  const std::uint64_t span = high - low;
  if (span == std::numeric_limits<std::uint64_t>::max()) return random.next_u64();
  return low + uniform_below(random, span + 1);
}

/// A uniform double in [0, 1) with 53 random bits.
template <class Random>
constexpr double uniform_unit(Random& random) noexcept {
  return static_cast<double>(random.next_u64() >> 11) * 0x1.0p-53;
}

/// True with probability p (p <= 0 never, p >= 1 always).
template <class Random>
constexpr bool chance(Random& random, double p) noexcept {
  return uniform_unit(random) < p;
}

/// An exponentially distributed value with the given mean (inverse-CDF method).
template <class Random>
inline double exponential(Random& random, double mean) noexcept {
  return -mean * std::log1p(-uniform_unit(random));
}

WEFT_END
