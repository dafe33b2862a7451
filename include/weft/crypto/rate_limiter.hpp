// weft/crypto/rate_limiter.hpp - token buckets per sender in a bounded table, plus one
// global bucket. Integer arithmetic in nanoseconds; time is passed in, never read.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/crypto/errors.hpp"

WEFT_BEGIN
namespace crypto {

struct rate_limit_options {
  std::uint32_t sender_tokens_per_second = 100;
  std::uint32_t sender_burst_tokens = 200;
  std::uint32_t global_tokens_per_second = 10'000;
  std::uint32_t global_burst_tokens = 20'000;
  /// Senders tracked at once; a new sender when full takes the slot of an idle one (its
  /// bucket refilled, so forgetting it grants nothing) or is refused.
  std::size_t max_senders = 1024;

  [[nodiscard]] result<void> validate() const noexcept {
    constexpr std::uint32_t max_rate = 1'000'000'000;  // one token per nanosecond
    if (sender_tokens_per_second == 0 || sender_tokens_per_second > max_rate ||
        global_tokens_per_second == 0 || global_tokens_per_second > max_rate)
      return error(core_errc::invalid_options, "rate_limit_options: tokens_per_second");
    if (sender_burst_tokens == 0 || global_burst_tokens == 0)
      return error(core_errc::invalid_options, "rate_limit_options: burst_tokens");
    if (max_senders == 0 || max_senders > (std::size_t{1} << 24))
      return error(core_errc::invalid_options, "rate_limit_options: max_senders");
    return ok();
  }
};

/// One token bucket. Credit is kept in nanoseconds of refill time: one token costs
/// `interval_ns`, the bucket holds at most `burst * interval_ns`.
class token_bucket {
 public:
  constexpr token_bucket() noexcept = default;
  constexpr token_bucket(std::uint32_t tokens_per_second, std::uint32_t burst_tokens,
                         time_point now) noexcept
      : interval_ns_(1'000'000'000ull / tokens_per_second),
        capacity_ns_(static_cast<std::uint64_t>(burst_tokens) * interval_ns_),
        credit_ns_(capacity_ns_),
        last_(now) {}

  /// Refills up to `now` (a time before the last one counts as no time passing).
  constexpr void refill(time_point now) noexcept {
    if (now > last_) {
      const auto elapsed = static_cast<std::uint64_t>(to_ns(now - last_));
      credit_ns_ = (capacity_ns_ - credit_ns_ <= elapsed) ? capacity_ns_ : credit_ns_ + elapsed;
      last_ = now;
    }
  }
  [[nodiscard]] constexpr bool can_take(std::uint32_t tokens) const noexcept {
    return credit_ns_ >= static_cast<std::uint64_t>(tokens) * interval_ns_;
  }
  constexpr void take(std::uint32_t tokens) noexcept {
    WEFT_ASSERT(can_take(tokens));
    credit_ns_ -= static_cast<std::uint64_t>(tokens) * interval_ns_;
  }
  [[nodiscard]] constexpr bool full() const noexcept { return credit_ns_ == capacity_ns_; }
  [[nodiscard]] constexpr std::uint64_t tokens() const noexcept {
    return credit_ns_ / interval_ns_;
  }

 private:
  std::uint64_t interval_ns_ = 1;
  std::uint64_t capacity_ns_ = 0;
  std::uint64_t credit_ns_ = 0;
  time_point last_{};
};

/// Counters of refusals, so no refusal is silent.
struct rate_limit_counters {
  std::uint64_t allowed = 0;
  std::uint64_t refused_sender = 0;
  std::uint64_t refused_global = 0;
  std::uint64_t refused_table_full = 0;
  std::uint64_t evicted_idle = 0;
};

/// Per-sender token buckets (open addressing, linear probing, table allocated once at
/// create()) and a global bucket. A request passes only if both buckets hold enough tokens;
/// then both are charged. SenderHash's output is remixed, so std::hash on integers is fine.
template <class SenderId = std::uint64_t, class SenderHash = std::hash<SenderId>>
class rate_limiter {
 public:
  [[nodiscard]] static result<rate_limiter> create(const rate_limit_options& options,
                                                   time_point now) noexcept {
    WEFT_TRY(options.validate());
    rate_limiter limiter(options, now);
    limiter.slots_.resize(std::bit_ceil(options.max_senders * 2));
    return limiter;
  }

  /// Charges `tokens` to `sender` and to the global bucket at time `now`, or refuses with
  /// rate_limited / sender_table_full (each refusal is counted).
  [[nodiscard]] result<void> allow(const SenderId& sender, time_point now,
                                   std::uint32_t tokens = 1) noexcept {
    slot* entry = find_or_insert(sender, now);
    if (entry == nullptr) {
      ++counters_.refused_table_full;
      return error(crypto_errc::sender_table_full, "rate_limiter");
    }
    entry->bucket.refill(now);
    global_.refill(now);
    if (!entry->bucket.can_take(tokens)) {
      ++counters_.refused_sender;
      return error(crypto_errc::rate_limited, "rate_limiter: sender");
    }
    if (!global_.can_take(tokens)) {
      ++counters_.refused_global;
      return error(crypto_errc::rate_limited, "rate_limiter: global");
    }
    entry->bucket.take(tokens);
    global_.take(tokens);
    ++counters_.allowed;
    return ok();
  }

  [[nodiscard]] std::size_t senders() const noexcept { return used_; }
  [[nodiscard]] const rate_limit_counters& counters() const noexcept { return counters_; }
  [[nodiscard]] const rate_limit_options& options() const noexcept { return options_; }

 private:
  struct slot {
    SenderId id{};
    token_bucket bucket{};
    bool used = false;
  };

  rate_limiter(const rate_limit_options& options, time_point now) noexcept
      : options_(options),
        global_(options.global_tokens_per_second, options.global_burst_tokens, now) {}

  [[nodiscard]] std::size_t home(const SenderId& id) const noexcept {
    std::uint64_t z = static_cast<std::uint64_t>(SenderHash{}(id)) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<std::size_t>(z) & (slots_.size() - 1);
  }

  slot* find_or_insert(const SenderId& id, time_point now) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(id);
    while (slots_[i].used) {
      if (slots_[i].id == id) return &slots_[i];
      i = (i + 1) & mask;
    }
    if (used_ == options_.max_senders && !evict_one_idle(now)) return nullptr;
    // Eviction may have moved entries; probe again for the free slot.
    i = home(id);
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i].used = true;
    slots_[i].id = id;
    slots_[i].bucket =
        token_bucket(options_.sender_tokens_per_second, options_.sender_burst_tokens, now);
    ++used_;
    return &slots_[i];
  }

  /// Removes one sender whose bucket is full at `now` (backward-shift deletion keeps
  /// probe chains intact). O(table) but only when the table is full.
  bool evict_one_idle(time_point now) noexcept {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].used) continue;
      slots_[i].bucket.refill(now);
      if (!slots_[i].bucket.full()) continue;
      erase_at(i);
      ++counters_.evicted_idle;
      return true;
    }
    return false;
  }

  void erase_at(std::size_t hole) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t next = (hole + 1) & mask;
    while (slots_[next].used) {
      const std::size_t want = home(slots_[next].id);
      // Move `next` into the hole if its home is not in the cyclic range (hole, next].
      const bool stays = ((next - want) & mask) < ((next - hole) & mask);
      if (!stays) {
        slots_[hole] = slots_[next];
        hole = next;
      }
      next = (next + 1) & mask;
    }
    slots_[hole].used = false;
    --used_;
  }

  rate_limit_options options_;
  token_bucket global_;
  std::vector<slot> slots_;
  std::size_t used_ = 0;
  rate_limit_counters counters_{};
};

}  // namespace crypto
WEFT_END
