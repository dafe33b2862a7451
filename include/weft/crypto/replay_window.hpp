// weft/crypto/replay_window.hpp - an RFC 6479 anti-replay window: a ring of 64-bit words
// indexed by counter, so advancing clears whole words and never shifts the bitmap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/crypto/errors.hpp"

WEFT_BEGIN
namespace crypto {

/// Per-sender replay filter for message counters (nonces) that may arrive out of order.
///
/// A counter is fresh when it was never committed and is either above the highest committed
/// counter or less than WindowSize behind it. Authentication decides, so the API is split:
///   1. check(counter)  - before decrypting: cheap refusal of replays and stale counters;
///   2. commit(counter) - only after the message authenticated: records the counter and
///      slides the window. A forged message therefore can never move the window.
/// commit() re-checks, so a racing duplicate that passed check() twice is still refused once.
///
/// WindowSize must be a multiple of 64; the ring holds WindowSize / 64 + 1 words (the extra
/// word lets the window slide by whole words). The default 8128 is WireGuard's.
template <std::size_t WindowSize = 8128>
class basic_replay_window {
  static_assert(WindowSize >= 64 && WindowSize % 64 == 0,
                "replay window size must be a positive multiple of 64");

 public:
  static constexpr std::size_t window_size = WindowSize;
  static constexpr std::size_t ring_words = WindowSize / 64 + 1;

  /// Whether `counter` would be accepted now. Does not change state.
  [[nodiscard]] constexpr result<void> check(std::uint64_t counter) const noexcept {
    if (empty_ || counter > highest_) return ok();
    if (highest_ - counter >= WindowSize) return error(crypto_errc::too_old, "replay_window");
    if ((ring_[word_index(counter)] & bit(counter)) != 0)
      return error(crypto_errc::replayed, "replay_window");
    return ok();
  }

  /// Records an authenticated `counter`; refuses (and changes nothing) if check() would.
  [[nodiscard]] constexpr result<void> commit(std::uint64_t counter) noexcept {
    WEFT_TRY(check(counter));
    if (empty_ || counter > highest_) advance_to(counter);
    ring_[word_index(counter)] |= bit(counter);
    return ok();
  }

  [[nodiscard]] constexpr bool empty() const noexcept { return empty_; }
  /// The highest committed counter (0 when empty()).
  [[nodiscard]] constexpr std::uint64_t highest() const noexcept { return highest_; }

 private:
  static constexpr std::size_t word_index(std::uint64_t counter) noexcept {
    return static_cast<std::size_t>((counter >> 6) % ring_words);
  }
  static constexpr std::uint64_t bit(std::uint64_t counter) noexcept {
    return std::uint64_t{1} << (counter & 63);
  }

  /// Clears the words the window slides over (at most the whole ring) and moves the top.
  constexpr void advance_to(std::uint64_t counter) noexcept {
    const std::uint64_t new_top = counter >> 6;
    if (empty_) {
      for (auto& word : ring_) word = 0;
    } else {
      const std::uint64_t old_top = highest_ >> 6;
      const std::uint64_t steps = new_top - old_top;
      const std::uint64_t clear = steps < ring_words ? steps : ring_words;
      for (std::uint64_t i = 1; i <= clear; ++i)
        ring_[static_cast<std::size_t>((old_top + i) % ring_words)] = 0;
    }
    highest_ = counter;
    empty_ = false;
  }

  std::array<std::uint64_t, ring_words> ring_{};
  std::uint64_t highest_ = 0;
  bool empty_ = true;
};

using replay_window = basic_replay_window<>;

}  // namespace crypto
WEFT_END
