// weft/telemetry/text_sink.hpp - human-readable log lines formatted with fmt, written to a
// std::FILE*. weft:hosted (needs fmt and stdio).
//   <ts_ns> <level> <message> key=value ... (file:line)
// String values are quoted and escaped like JSON strings, so a line never breaks.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "weft/config.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/time.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"

WEFT_BEGIN
namespace telemetry {

namespace detail {
/// Adapts fmt::memory_buffer to text_output for the escaping helpers.
struct fmt_buffer_output {
  fmt::memory_buffer* buffer;
  bool overflow = false;
  // Appends only within the capacity already reserved: growing allocates, and a failed
  // allocation inside this noexcept function would end the process.
  void append(std::string_view s) noexcept {
    if (buffer->size() + s.size() > buffer->capacity()) {
      overflow = true;
      return;
    }
    buffer->append(s.data(), s.data() + s.size());
  }
  [[nodiscard]] bool overflowed() const noexcept { return overflow; }
};
}  // namespace detail

/// Formats one record into `buffer` (appends). fmt may raise std::bad_alloc when the
/// buffer grows; text_sink::write catches it and counts a drop. String fields are cut at
/// the buffer's capacity rather than grow it.
inline void format_text_line(fmt::memory_buffer& buffer, const callsite& cs, std::int64_t ts_ns,
                             std::span<const field> fields) {
  detail::fmt_buffer_output out{&buffer};
  fmt::format_to(std::back_inserter(buffer), "{} {} {}", ts_ns, level_name(cs.severity),
                 cs.message);
  for (const field& f : fields) {
    fmt::format_to(std::back_inserter(buffer), " {}=", f.key);
    switch (f.kind) {
      case field_kind::u64: fmt::format_to(std::back_inserter(buffer), "{}", f.u); break;
      case field_kind::i64: fmt::format_to(std::back_inserter(buffer), "{}", f.i); break;
      case field_kind::f64: fmt::format_to(std::back_inserter(buffer), "{}", f.f); break;
      case field_kind::boolean: out.append(f.b ? "true" : "false"); break;
      case field_kind::string: append_json_string(out, f.text); break;
    }
  }
  fmt::format_to(std::back_inserter(buffer), " ({}:{})\n", cs.file, cs.line);
}

/// A synchronous sink: formats on the caller's thread into a stack buffer and writes the
/// line with one fwrite (stdio locks the stream per call). Failed writes are counted.
template <clock Clock = steady_clock, level MinLevel = level::info>
class text_sink : public metrics_recorder {
 public:
  static constexpr level min_level = MinLevel;

  text_sink(std::FILE* stream, const Clock& clock) noexcept : stream_(stream), clock_(&clock) {}

  void write(const callsite& cs, std::span<const field> fields) noexcept {
#if WEFT_USE_EXCEPTIONS
    try {
#endif
      fmt::memory_buffer buffer;
      buffer.reserve(1024);  // string fields are cut at this capacity, never grow it
      format_text_line(buffer, cs, to_ns(clock_->now()), fields);
      if (std::fwrite(buffer.data(), 1, buffer.size(), stream_) != buffer.size())
        dropped_.fetch_add(1, std::memory_order_relaxed);
#if WEFT_USE_EXCEPTIONS
    } catch (...) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
#endif
  }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::FILE* stream_;
  const Clock* clock_;  // not owned: the caller keeps the clock alive (and may advance it)
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace telemetry
WEFT_END
