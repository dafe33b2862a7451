// weft/telemetry/concepts.hpp - the telemetry policy: log levels, key-value fields, static
// per-callsite data, the sink concept and null_sink, the default that compiles to nothing.
// Requirements table: docs/requirements/telemetry_sink.md.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

/// Log calls below this level are removed at compile time for every sink (0 trace .. 5 off).
#ifndef WEFT_TELEMETRY_MIN_LEVEL
#  define WEFT_TELEMETRY_MIN_LEVEL 0
#endif

WEFT_BEGIN
namespace telemetry {

enum class level : std::uint8_t { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

[[nodiscard]] constexpr std::string_view level_name(level l) noexcept {
  switch (l) {
    case level::trace: return "trace";
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "unknown";
}

/// The type of a field value; the numbers are part of the binary log format.
enum class field_kind : std::uint8_t { u64 = 1, i64 = 2, f64 = 3, boolean = 4, string = 5 };

/// One key-value pair of a structured log record. The key is a string literal (static
/// storage duration); a string value is only borrowed for the duration of the call.
struct field {
  std::string_view key;
  field_kind kind = field_kind::u64;
  union {
    std::uint64_t u;
    std::int64_t i;
    double f;
    bool b;
  };
  std::string_view text{};

  constexpr field() noexcept : u(0) {}
};

namespace detail {
template <class T>
concept field_value = std::is_arithmetic_v<std::remove_cvref_t<T>> ||
                      std::is_convertible_v<T, std::string_view>;
}  // namespace detail

/// `kv("term", 7)`: a field. Keys must be string literals (they are kept by pointer).
template <std::size_t N, detail::field_value T>
[[nodiscard]] constexpr field kv(const char (&key)[N], const T& value) noexcept {
  field out;
  out.key = std::string_view(key, N - 1);
  using V = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<V, bool>) {
    out.kind = field_kind::boolean;
    out.b = value;
  } else if constexpr (std::is_floating_point_v<V>) {
    out.kind = field_kind::f64;
    out.f = static_cast<double>(value);
  } else if constexpr (std::is_integral_v<V> && std::is_signed_v<V>) {
    out.kind = field_kind::i64;
    out.i = static_cast<std::int64_t>(value);
  } else if constexpr (std::is_integral_v<V>) {
    out.kind = field_kind::u64;
    out.u = static_cast<std::uint64_t>(value);
  } else {
    out.kind = field_kind::string;
    out.text = std::string_view(value);
  }
  return out;
}

/// Static data of one log statement: one object per call site, static storage duration,
/// constant-initialised. Its id is assigned once, at first use, from a process-wide counter.
struct callsite {
  level severity;
  std::string_view message;
  std::string_view file;
  std::uint32_t line;
  mutable std::atomic<std::uint32_t> id_{0};

  constexpr callsite(level l, std::string_view msg, std::string_view f,
                     std::uint32_t ln) noexcept
      : severity(l), message(msg), file(f), line(ln) {}
  callsite(const callsite&) = delete;
  callsite& operator=(const callsite&) = delete;

  /// Non-zero, unique in the process, stable for its lifetime.
  [[nodiscard]] std::uint32_t id() const noexcept {
    std::uint32_t current = id_.load(std::memory_order_acquire);
    if (WEFT_LIKELY(current != 0)) return current;
    static std::atomic<std::uint32_t> next{1};
    const std::uint32_t fresh = next.fetch_add(1, std::memory_order_relaxed);
    if (id_.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return fresh;
    return current;  // another thread won; its id stands
  }
};

class counter;
class gauge;
class histogram;

/// A telemetry policy. See docs/requirements/telemetry_sink.md.
///   S::min_level          compile-time minimum; log calls below it are discarded unevaluated
///   s.write(cs, fields)   accept one record (never blocks; a full queue counts a drop)
///   s.add(c, n) / s.set(g, v) / s.record(h, v)   update a metric (no lock, no allocation)
template <class S>
concept sink = requires(S& s, const callsite& cs, std::span<const field> fields, counter& c,
                        gauge& g, histogram& h, std::uint64_t n, std::int64_t v) {
  { S::min_level } -> std::convertible_to<level>;
  { s.write(cs, fields) } noexcept;
  { s.add(c, n) } noexcept;
  { s.set(g, v) } noexcept;
  { s.record(h, n) } noexcept;
};

/// The default policy: every call is an empty inline function and every log statement is
/// discarded at compile time (min_level is off), so instrumented code compiles to exactly
/// the code without instrumentation (proved by tests/telemetry/null_sink_test.cmake).
struct null_sink {
  static constexpr level min_level = level::off;
  WEFT_ALWAYS_INLINE void write(const callsite&, std::span<const field>) noexcept {}
  WEFT_ALWAYS_INLINE void add(counter&, std::uint64_t) noexcept {}
  WEFT_ALWAYS_INLINE void set(gauge&, std::int64_t) noexcept {}
  WEFT_ALWAYS_INLINE void record(histogram&, std::uint64_t) noexcept {}
};

/// True when a record at `l` can reach sink S: decided at compile time.
template <class S>
inline constexpr bool enabled_for(level l) noexcept {
  constexpr int build_minimum = WEFT_TELEMETRY_MIN_LEVEL;
  return l != level::off && l >= S::min_level && static_cast<int>(l) >= build_minimum;
}

/// Errors of the telemetry module.
enum class telemetry_errc : std::uint16_t {
  ok = 0,
  invalid_traceparent = 1,   // a traceparent header is malformed or carries all-zero ids
  invalid_trace_context = 2, // a binary trace context has a bad version, size or zero id
  output_full = 3,           // an exporter's output buffer is too small
  bad_frame = 4,             // a binary log frame failed its length or CRC check
  truncated_frame = 5,       // the binary log stream ends inside a frame
  bad_record = 6,            // a binary log record inside a good frame is malformed
  unknown_callsite = 7,      // a binary log event names a callsite never registered
};

constexpr std::string_view describe(telemetry_errc code) noexcept {
  switch (code) {
    case telemetry_errc::ok: return "ok";
    case telemetry_errc::invalid_traceparent: return "invalid traceparent";
    case telemetry_errc::invalid_trace_context: return "invalid binary trace context";
    case telemetry_errc::output_full: return "exporter output buffer full";
    case telemetry_errc::bad_frame: return "corrupt binary log frame";
    case telemetry_errc::truncated_frame: return "truncated binary log frame";
    case telemetry_errc::bad_record: return "malformed binary log record";
    case telemetry_errc::unknown_callsite: return "binary log event for an unregistered callsite";
  }
  return "unknown telemetry error";
}

}  // namespace telemetry
WEFT_END
WEFT_ERROR_DOMAIN(weft::telemetry::telemetry_errc, "telemetry")
