// weft/telemetry/log.hpp - structured log statements: WEFT_LOG(sink, level, "message",
// kv("key", value)...) with a static callsite per statement, removed at compile time below
// the sink's (and the build's) minimum level; and the JSON-lines sink (portable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/result.hpp"
#include "weft/core/time.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"

WEFT_BEGIN
namespace telemetry {

namespace detail {
template <class S, class... F>
WEFT_ALWAYS_INLINE void emit(S& s, const callsite& cs, const F&... fields) noexcept {
  static_assert((std::is_same_v<F, field> && ...), "WEFT_LOG fields are made with kv(\"key\", value)");
  const field all[sizeof...(F) + 1] = {fields..., field{}};  // +1: no zero-length array
  s.write(cs, std::span<const field>(all, sizeof...(F)));
}
}  // namespace detail

/// Where synchronous sinks put finished bytes (a file, a UART, a test buffer).
template <class O>
concept byte_output = requires(O& o, byte_view bytes) {
  { o.write(bytes) } noexcept -> std::same_as<result<void>>;
};

/// Writes one JSON object per line:
/// {"ts_ns":1,"level":"info","msg":"...","file":"...","line":3,"fields":{"term":7}}
/// Integers are JSON numbers, strings are escaped (invalid UTF-8 becomes U+FFFD), non-finite
/// doubles are the strings "NaN", "Infinity", "-Infinity".
template <text_output O>
void format_json_line(O& out, const callsite& cs, std::int64_t ts_ns,
                      std::span<const field> fields) noexcept {
  out.append("{\"ts_ns\":");
  detail::append_i64(out, ts_ns);
  out.append(",\"level\":\"");
  out.append(level_name(cs.severity));
  out.append("\",\"msg\":");
  append_json_string(out, cs.message);
  out.append(",\"file\":");
  append_json_string(out, cs.file);
  out.append(",\"line\":");
  detail::append_u64(out, cs.line);
  out.append(",\"fields\":{");
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const field& f = fields[i];
    if (i != 0) out.append(",");
    append_json_string(out, f.key);
    out.append(":");
    switch (f.kind) {
      case field_kind::u64: detail::append_u64(out, f.u); break;
      case field_kind::i64: detail::append_i64(out, f.i); break;
      case field_kind::f64:
        if (f.f != f.f) out.append("\"NaN\"");
        else if (f.f - f.f != 0) out.append(f.f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else detail::append_double(out, f.f, true);
        break;
      case field_kind::boolean: out.append(f.b ? "true" : "false"); break;
      case field_kind::string: append_json_string(out, f.text); break;
    }
  }
  out.append("}}\n");
}

/// A synchronous sink writing JSON lines to `Output` (no queue: the caller's thread formats
/// into a stack buffer and writes). A line that does not fit is cut (and counted); a failed
/// write is counted as a drop.
template <byte_output Output, clock Clock = steady_clock, level MinLevel = level::info>
class json_sink : public metrics_recorder {
 public:
  static constexpr level min_level = MinLevel;
  static constexpr std::size_t line_capacity_bytes = 1024;

  json_sink(Output& output, const Clock& clock) noexcept : output_(&output), clock_(&clock) {}

  void write(const callsite& cs, std::span<const field> fields) noexcept {
    char line[line_capacity_bytes];
    buffer_output out(line, sizeof line - 1);
    format_json_line(out, cs, to_ns(clock_->now()), fields);
    std::size_t n = out.view().size();
    if (out.overflowed()) {
      truncated_.fetch_add(1, std::memory_order_relaxed);
      line[n++] = '\n';
    }
    if (!output_->write(as_bytes(std::string_view(line, n))))
      dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t truncated() const noexcept {
    return truncated_.load(std::memory_order_relaxed);
  }

 private:
  Output* output_;
  const Clock* clock_;  // not owned: the caller keeps the clock alive (and may advance it)
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> truncated_{0};
};

}  // namespace telemetry
WEFT_END

/// A structured log statement. `level` must be a constant (weft::telemetry::level::info);
/// below the sink's min_level or WEFT_TELEMETRY_MIN_LEVEL nothing is evaluated or emitted.
#define WEFT_LOG(sink_expr, lvl, message, ...)                                              \
  do {                                                                                      \
    if constexpr (::weft::telemetry::enabled_for<std::remove_cvref_t<decltype(sink_expr)>>( \
                      lvl)) {                                                               \
      static constinit const ::weft::telemetry::callsite weft_callsite_{                   \
          lvl, message, __FILE__, static_cast<std::uint32_t>(__LINE__)};                    \
      ::weft::telemetry::detail::emit(sink_expr, weft_callsite_ __VA_OPT__(, ) __VA_ARGS__); \
    }                                                                                       \
  } while (0)

#define WEFT_LOG_TRACE(sink, ...) WEFT_LOG(sink, ::weft::telemetry::level::trace, __VA_ARGS__)
#define WEFT_LOG_DEBUG(sink, ...) WEFT_LOG(sink, ::weft::telemetry::level::debug, __VA_ARGS__)
#define WEFT_LOG_INFO(sink, ...) WEFT_LOG(sink, ::weft::telemetry::level::info, __VA_ARGS__)
#define WEFT_LOG_WARN(sink, ...) WEFT_LOG(sink, ::weft::telemetry::level::warn, __VA_ARGS__)
#define WEFT_LOG_ERROR(sink, ...) WEFT_LOG(sink, ::weft::telemetry::level::error, __VA_ARGS__)
