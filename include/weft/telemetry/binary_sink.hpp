// weft/telemetry/binary_sink.hpp - the binary deferred-format sink: any thread writes a
// record into a bounded lock-free queue (Vyukov's bounded MPMC array queue, one consumer);
// drain() frames records for an output (weft/telemetry/binary_log.hpp has the format).
// A full queue refuses the record and counts it (metric weft_log_dropped_records_total);
// drain() reports the count in-band; flush() drains everything already accepted.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/telemetry/binary_log.hpp"
#include "weft/telemetry/cached_clock.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/metrics.hpp"

WEFT_BEGIN
namespace telemetry {

/// Capacities of a binary_sink, fixed at compile time so that the sink needs no heap.
struct binary_sink_limits {
  std::size_t queue_slots = 1024;     // records the queue holds (a power of two)
  std::size_t slot_bytes = 118;       // encoded record bytes per slot (fields beyond are cut)
  std::size_t max_callsites = 1024;   // ids below this are registered once per stream...
  std::size_t reregister_interval_records = 4096;  // ...and again after this many records,
                                                   // so a reader joining late or after a
                                                   // corrupt registration recovers names
  bool single_producer = false;  // true: only one thread ever writes (the caller's promise),
                                 // so claiming a slot needs no read-modify-write, and the
                                 // producer checks room against its cached copy of the
                                 // consumer's position instead of the slot's sequence
};

namespace detail {
// Slot record layout (native, copied with memcpy; never leaves the process):
//   callsite* (8) | timestamp ns (8) | flags (1) | field count (1) | fields:
//   kind (1) | key length (1) | key pointer (8) | value (8) or string length (2) + bytes
inline constexpr std::size_t slot_header_bytes = 18;
inline constexpr std::size_t slot_field_header_bytes = 10;

// Always inlined: at a log statement the fields are known, and the loop folds away.
WEFT_ALWAYS_INLINE std::size_t encode_slot(std::uint8_t* out, std::size_t capacity,
                                           const callsite& cs, std::int64_t ts_ns,
                                           std::span<const field> fields) noexcept {
  const callsite* site = &cs;
  std::memcpy(out, &site, 8);
  std::memcpy(out + 8, &ts_ns, 8);
  std::uint8_t flags = 0, count = 0;
  std::size_t used = slot_header_bytes;
  for (const field& f : fields) {
    const bool is_string = f.kind == field_kind::string;
    const std::size_t need = slot_field_header_bytes + (is_string ? 2 : 8);
    if (count == decoded_event::max_fields || used + need > capacity) {
      flags |= record_flag_truncated;
      break;
    }
    out[used] = static_cast<std::uint8_t>(f.kind);
    out[used + 1] = static_cast<std::uint8_t>(f.key.size() < 255 ? f.key.size() : 255);
    const char* key = f.key.data();
    std::memcpy(out + used + 2, &key, 8);
    used += slot_field_header_bytes;
    if (is_string) {
      std::size_t n = f.text.size();
      if (n > capacity - used - 2) {
        n = capacity - used - 2;
        flags |= record_flag_truncated;
      }
      const auto n16 = static_cast<std::uint16_t>(n);
      std::memcpy(out + used, &n16, 2);
      if (n != 0) std::memcpy(out + used + 2, f.text.data(), n);
      used += 2 + n;
    } else {
      std::uint64_t raw = 0;
      switch (f.kind) {
        case field_kind::u64: raw = f.u; break;
        case field_kind::i64: raw = static_cast<std::uint64_t>(f.i); break;
        case field_kind::f64: raw = std::bit_cast<std::uint64_t>(f.f); break;
        case field_kind::boolean: raw = f.b ? 1 : 0; break;
        case field_kind::string: break;
      }
      std::memcpy(out + used, &raw, 8);
      used += 8;
    }
    ++count;
  }
  out[16] = flags;
  out[17] = count;
  return used;
}
}  // namespace detail

template <clock Clock = steady_clock, level MinLevel = level::info,
          binary_sink_limits Limits = binary_sink_limits{}>
class binary_sink : public metrics_recorder {
  static_assert(std::has_single_bit(Limits.queue_slots), "queue_slots: a power of two");
  static_assert(Limits.slot_bytes >= detail::slot_header_bytes + 20 && Limits.slot_bytes <= 2048,
                "slot_bytes: 38..2048");
  static_assert(Limits.max_callsites >= 1, "max_callsites: at least one");
  static_assert(Limits.reregister_interval_records >= 1, "reregister_interval_records: >= 1");

 public:
  static constexpr level min_level = MinLevel;
  static constexpr std::size_t scratch_bytes = 4096;

  /// `metrics` (optional) is where the drop counter is registered; `labels` tell sinks apart.
  explicit binary_sink(const Clock& clock, registry* metrics = nullptr,
                       std::span<const label> labels = {}) noexcept
      : clock_(&clock),
        dropped_({"weft_log_dropped_records",
                  "Log records refused because the binary log queue was full", "", labels},
                 metrics) {
    for (std::size_t i = 0; i < Limits.queue_slots; ++i)
      slots_[i].sequence.store(i, std::memory_order_relaxed);
  }

  /// Producer side, any thread: never blocks; refuses (and counts) when the queue is full.
  WEFT_ALWAYS_INLINE void write(const callsite& cs, std::span<const field> fields) noexcept {
    const std::int64_t ts_ns = to_ns(clock_->now());
    std::uint64_t pos;
    const bool claimed = Limits.single_producer ? claim_single(pos) : claim_shared(pos);
    if (WEFT_UNLIKELY(!claimed)) {
      dropped_.add(1);
      return;
    }
    slot& s = slots_[pos & (Limits.queue_slots - 1)];
    s.used = static_cast<std::uint16_t>(
        detail::encode_slot(s.bytes, Limits.slot_bytes, cs, ts_ns, fields));
    s.sequence.store(pos + 1, std::memory_order_release);
  }

  /// Consumer side, one thread at a time: frames up to `max_records` queued records into
  /// `out`. A record leaves the queue only after `out` accepted it, so a failed write loses
  /// nothing (the error is returned and the next drain retries). Returns records written.
  template <byte_output Output>
  result<std::size_t> drain(Output& out, std::size_t max_records = ~std::size_t{0}) noexcept {
    WEFT_TRY(report_drops(out));
    std::size_t written = 0;
    while (written < max_records) {
      slot& s = slots_[dequeue_ & (Limits.queue_slots - 1)];
      if (s.sequence.load(std::memory_order_acquire) != dequeue_ + 1) break;
      if (records_since_registration_ >= Limits.reregister_interval_records) restart_stream();
      WEFT_TRY(emit_record(out, s));
      ++records_since_registration_;
      s.sequence.store(dequeue_ + Limits.queue_slots, std::memory_order_release);
      ++dequeue_;
      if constexpr (Limits.single_producer) released_.store(dequeue_, std::memory_order_release);
      ++written;
    }
    return written;
  }

  /// Drains until the queue is empty (call after producers stopped: shutdown).
  template <byte_output Output>
  result<std::size_t> flush(Output& out) noexcept {
    std::size_t total = 0;
    for (;;) {
      WEFT_TRY_ASSIGN(const std::size_t n, drain(out));
      total += n;
      if (n == 0) return total;
    }
  }

  /// Forgets which callsites were registered (for a new file or a reconnected reader).
  void restart_stream() noexcept {
    registered_ = {};
    records_since_registration_ = 0;
  }

  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.value(); }
  [[nodiscard]] const counter& dropped_metric() const noexcept { return dropped_; }

 private:
  struct alignas(cache_line_bytes) slot {
    std::atomic<std::uint64_t> sequence{0};
    std::uint16_t used = 0;
    std::uint8_t bytes[Limits.slot_bytes]{};
  };

  // Vyukov's claim: a slot is free for position `pos` when its sequence equals pos.
  WEFT_ALWAYS_INLINE bool claim_shared(std::uint64_t& pos) noexcept {
    pos = enqueue_.load(std::memory_order_relaxed);
    for (;;) {
      const slot& s = slots_[pos & (Limits.queue_slots - 1)];
      const std::uint64_t seq = s.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - pos);
      if (diff == 0) {
        if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) return true;
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = enqueue_.load(std::memory_order_relaxed);
      }
    }
  }
  // Only this thread moves enqueue_, so a load and a store replace the compare-exchange.
  // Room is checked against the producer's copy of the consumer's position, so the common
  // case reads nothing the consumer writes (the slot's sequence line may be cold); the
  // acquire reload pairs with drain's release store once the copy says full.
  WEFT_ALWAYS_INLINE bool claim_single(std::uint64_t& pos) noexcept {
    pos = enqueue_.load(std::memory_order_relaxed);
    if (WEFT_UNLIKELY(pos - released_seen_ >= Limits.queue_slots)) {
      released_seen_ = released_.load(std::memory_order_acquire);
      if (pos - released_seen_ >= Limits.queue_slots) return false;  // full
    }
    enqueue_.store(pos + 1, std::memory_order_relaxed);
    return true;
  }

  template <class Output>
  result<void> report_drops(Output& out) noexcept {
    const std::uint64_t total = dropped_.value();
    if (total == dropped_reported_) return ok();
    byte_writer w(mutable_byte_view(scratch_).subspan(4, 16));
    bool good = w.put(static_cast<std::uint8_t>(record_type::dropped)).has_value();
    detail::put_varint(w, total - dropped_reported_, good);
    WEFT_ASSERT(good);
    WEFT_TRY(out.write(byte_view(scratch_.data(), detail::seal_frame(scratch_.data(), w.size()))));
    dropped_reported_ = total;
    return ok();
  }

  template <class Output>
  result<void> emit_record(Output& out, const slot& s) noexcept {
    const callsite* site;
    std::memcpy(&site, s.bytes, 8);
    std::int64_t ts_ns;
    std::memcpy(&ts_ns, s.bytes + 8, 8);
    const std::uint32_t id = site->id();
    std::array<std::string_view, decoded_event::max_fields> keys{};
    const std::size_t count = s.bytes[17];
    byte_writer w(mutable_byte_view(scratch_).subspan(4, scratch_bytes - frame_overhead_bytes));
    bool good = w.put(static_cast<std::uint8_t>(record_type::event)).has_value();
    detail::put_varint(w, id, good);
    detail::put_varint(w, detail::zigzag(ts_ns), good);
    good = good && w.put(s.bytes[16]).has_value();
    detail::put_varint(w, count, good);
    const std::uint8_t* at = s.bytes + detail::slot_header_bytes;
    for (std::size_t i = 0; i < count; ++i) at = copy_field(w, at, keys[i], good);
    WEFT_ASSERT(good);  // an event payload always fits: slot_bytes <= 2048 < scratch
    const std::size_t event_payload = w.size();
    if (id >= Limits.max_callsites || !registered_[id]) {
      std::array<std::uint8_t, scratch_bytes> reg;
      byte_writer rw(mutable_byte_view(reg).subspan(4, scratch_bytes - frame_overhead_bytes));
      const callsite clipped{site->severity, site->message.substr(0, 1024),
                             site->file.substr(0, 512), site->line};
      for (std::size_t i = 0; i < count; ++i) keys[i] = keys[i].substr(0, 64);
      const bool reg_good = detail::encode_callsite(rw, id, clipped, std::span(keys.data(), count));
      WEFT_ASSERT(reg_good);
      WEFT_TRY(out.write(byte_view(reg.data(), detail::seal_frame(reg.data(), rw.size()))));
      if (id < Limits.max_callsites) registered_[id] = true;
    }
    return out.write(byte_view(scratch_.data(), detail::seal_frame(scratch_.data(), event_payload)));
  }

  static const std::uint8_t* copy_field(byte_writer& w, const std::uint8_t* p,
                                        std::string_view& key, bool& good) noexcept {
    const auto kind = static_cast<field_kind>(p[0]);
    const char* key_data;
    std::memcpy(&key_data, p + 2, 8);
    key = std::string_view(key_data, p[1]);
    p += detail::slot_field_header_bytes;
    good = good && w.put(static_cast<std::uint8_t>(kind)).has_value();
    if (kind == field_kind::string) {
      std::uint16_t n;
      std::memcpy(&n, p, 2);
      detail::put_string(w, std::string_view(reinterpret_cast<const char*>(p + 2), n), good);
      return p + 2 + n;
    }
    std::uint64_t raw;
    std::memcpy(&raw, p, 8);
    if (kind == field_kind::u64) detail::put_varint(w, raw, good);
    else if (kind == field_kind::i64) detail::put_varint(w, detail::zigzag(static_cast<std::int64_t>(raw)), good);
    else if (kind == field_kind::boolean) good = good && w.put(static_cast<std::uint8_t>(raw & 1)).has_value();
    else good = good && w.put_le<std::uint64_t>(raw).has_value();
    return p + 8;
  }

  const Clock* clock_;  // not owned: the caller keeps the clock alive (and may advance it)
  alignas(cache_line_bytes) std::atomic<std::uint64_t> enqueue_{0};
  std::uint64_t released_seen_ = 0;  // single producer: its copy of released_
  alignas(cache_line_bytes) std::uint64_t dequeue_ = 0;
  std::atomic<std::uint64_t> released_{0};  // single producer: slots below are free again
  std::uint64_t dropped_reported_ = 0;
  std::size_t records_since_registration_ = 0;
  counter dropped_;
  std::array<bool, Limits.max_callsites> registered_{};
  std::array<std::uint8_t, scratch_bytes> scratch_{};
  std::array<slot, Limits.queue_slots> slots_{};
};

}  // namespace telemetry
WEFT_END
