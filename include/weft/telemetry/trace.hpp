// weft/telemetry/trace.hpp - W3C Trace Context ids (traceparent parse and format with
// validation), a 26-byte binary form for the optional trace field of weft messages, and
// fixed-size spans for export through OTLP/JSON (weft/telemetry/otlp_json.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/endian.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/wire/frame.hpp"

WEFT_BEGIN
namespace telemetry {

using trace_id = std::array<std::uint8_t, 16>;
using span_id = std::array<std::uint8_t, 8>;

/// What travels between processes: W3C trace-context version 00.
struct trace_context {
  trace_id trace{};
  span_id span{};
  std::uint8_t flags = 0;  // bit 0: sampled

  static constexpr std::uint8_t sampled_flag = 0x01;
  [[nodiscard]] constexpr bool sampled() const noexcept { return (flags & sampled_flag) != 0; }
  [[nodiscard]] constexpr bool valid() const noexcept {
    bool trace_nonzero = false, span_nonzero = false;
    for (auto b : trace) trace_nonzero = trace_nonzero || b != 0;
    for (auto b : span) span_nonzero = span_nonzero || b != 0;
    return trace_nonzero && span_nonzero;
  }
  friend constexpr bool operator==(const trace_context&, const trace_context&) noexcept = default;
};

/// Length of a version-00 traceparent: "00-" 32 hex "-" 16 hex "-" 2 hex.
inline constexpr std::size_t traceparent_size = 55;
/// Size of the binary form: version, trace id, span id, flags.
inline constexpr std::size_t trace_context_binary_size = 26;

namespace detail {
constexpr bool parse_lower_hex(std::string_view text, std::uint8_t* out) noexcept {
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int v[2];
    for (int k = 0; k < 2; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c >= '0' && c <= '9') v[k] = c - '0';
      else if (c >= 'a' && c <= 'f') v[k] = c - 'a' + 10;
      else return false;  // W3C: lowercase hex only
    }
    out[i / 2] = static_cast<std::uint8_t>((v[0] << 4) | v[1]);
  }
  return true;
}
constexpr void format_lower_hex(const std::uint8_t* in, std::size_t n, char* out) noexcept {
  constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
}
}  // namespace detail

/// Parses a `traceparent` header value. Accepts version 00 exactly as specified, and a
/// higher version (not ff) whose first 55 characters parse and which continues with `-`.
/// Rejects uppercase hex, all-zero trace or span ids and version ff.
[[nodiscard]] constexpr result<trace_context> parse_traceparent(std::string_view text) noexcept {
  const auto bad = error(telemetry_errc::invalid_traceparent, "parse_traceparent");
  if (text.size() < traceparent_size) return bad;
  std::uint8_t version = 0;
  if (!detail::parse_lower_hex(text.substr(0, 2), &version) || version == 0xff) return bad;
  if (version == 0 && text.size() != traceparent_size) return bad;
  if (version != 0 && text.size() > traceparent_size && text[traceparent_size] != '-') return bad;
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return bad;
  trace_context ctx;
  if (!detail::parse_lower_hex(text.substr(3, 32), ctx.trace.data())) return bad;
  if (!detail::parse_lower_hex(text.substr(36, 16), ctx.span.data())) return bad;
  if (!detail::parse_lower_hex(text.substr(53, 2), &ctx.flags)) return bad;
  if (!ctx.valid()) return bad;
  return ctx;
}

/// Formats as a version-00 traceparent (55 characters).
[[nodiscard]] constexpr std::array<char, traceparent_size> format_traceparent(
    const trace_context& ctx) noexcept {
  std::array<char, traceparent_size> out{};
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  detail::format_lower_hex(ctx.trace.data(), 16, out.data() + 3);
  out[35] = '-';
  detail::format_lower_hex(ctx.span.data(), 8, out.data() + 36);
  out[52] = '-';
  detail::format_lower_hex(&ctx.flags, 1, out.data() + 53);
  return out;
}

/// Writes the binary form: 0x00 (version), 16-byte trace id, 8-byte span id, flags.
[[nodiscard]] inline result<void> encode_trace_context(const trace_context& ctx,
                                                       byte_writer& out) noexcept {
  if (out.remaining() < trace_context_binary_size)
    return error(core_errc::capacity_exceeded, "encode_trace_context");
  WEFT_TRY(out.put(std::uint8_t{0}));
  WEFT_TRY(out.put(byte_view(ctx.trace)));
  WEFT_TRY(out.put(byte_view(ctx.span)));
  return out.put(ctx.flags);
}

/// Reads the binary form; rejects an unknown version and all-zero ids.
[[nodiscard]] inline result<trace_context> decode_trace_context(byte_reader& in) noexcept {
  if (in.remaining() < trace_context_binary_size)
    return error(core_errc::truncated, "decode_trace_context");
  WEFT_TRY_ASSIGN(auto version, in.get());
  if (version != 0) return error(telemetry_errc::invalid_trace_context, "version");
  trace_context ctx;
  WEFT_TRY_ASSIGN(auto trace, in.take(16));
  WEFT_TRY_ASSIGN(auto span, in.take(8));
  WEFT_TRY_ASSIGN(auto flags, in.get());
  for (std::size_t i = 0; i < 16; ++i) ctx.trace[i] = trace[i];
  for (std::size_t i = 0; i < 8; ++i) ctx.span[i] = span[i];
  ctx.flags = flags;
  if (!ctx.valid()) return error(telemetry_errc::invalid_trace_context, "zero id");
  return ctx;
}

namespace detail {
template <random_source R>
void fill_random(R& random, std::uint8_t* out, std::size_t n) noexcept {
  while (true) {
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint64_t word = random.next_u64();
      for (std::size_t k = 0; k < 8 && i + k < n; ++k)
        out[i + k] = static_cast<std::uint8_t>(word >> (8 * k));
    }
    for (std::size_t i = 0; i < n; ++i)
      if (out[i] != 0) return;  // all-zero ids are invalid: draw again
  }
}
}  // namespace detail

/// A new root context (fresh trace id and span id) from the injected random source.
template <random_source R>
[[nodiscard]] trace_context new_root_context(R& random, bool sampled = true) noexcept {
  trace_context ctx;
  detail::fill_random(random, ctx.trace.data(), ctx.trace.size());
  detail::fill_random(random, ctx.span.data(), ctx.span.size());
  ctx.flags = sampled ? trace_context::sampled_flag : 0;
  return ctx;
}

/// A child of `parent`: same trace id and flags, fresh span id.
template <random_source R>
[[nodiscard]] trace_context new_child_context(const trace_context& parent, R& random) noexcept {
  trace_context ctx = parent;
  detail::fill_random(random, ctx.span.data(), ctx.span.size());
  return ctx;
}

/// The trace-context field of a weft frame (weft/wire/frame.hpp) carrying `ctx` to a peer:
/// the same bytes as encode_trace_context.
[[nodiscard]] constexpr wire::frame_trace_field to_frame_trace_field(
    const trace_context& ctx) noexcept {
  wire::frame_trace_field f{};
  for (std::size_t i = 0; i < ctx.trace.size(); ++i) f[1 + i] = ctx.trace[i];
  for (std::size_t i = 0; i < ctx.span.size(); ++i) f[17 + i] = ctx.span[i];
  f[25] = ctx.flags;
  return f;
}

/// The remote parent a received frame's field names (the frame decoder has checked the
/// version and the ids, so this cannot fail).
[[nodiscard]] constexpr trace_context from_frame_trace_field(
    const wire::frame_trace_field& f) noexcept {
  trace_context ctx;
  for (std::size_t i = 0; i < ctx.trace.size(); ++i) ctx.trace[i] = f[1 + i];
  for (std::size_t i = 0; i < ctx.span.size(); ++i) ctx.span[i] = f[17 + i];
  ctx.flags = f[25];
  return ctx;
}

/// OTLP Span.SpanKind values (integers on the wire).
enum class span_kind : std::uint8_t {
  unspecified = 0, internal = 1, server = 2, client = 3, producer = 4, consumer = 5
};
/// OTLP Status.StatusCode values.
enum class span_status : std::uint8_t { unset = 0, ok = 1, error = 2 };

/// A finished span, fixed size: the name and attribute keys are static strings, attribute
/// values are fields (string values must outlive the span until it is exported).
struct span {
  static constexpr std::size_t max_attributes = 8;
  trace_context context{};
  span_id parent{};  // all zero for a root span
  std::string_view name{};
  span_kind kind = span_kind::internal;
  span_status status = span_status::unset;
  std::uint64_t start_unix_ns = 0;
  std::uint64_t end_unix_ns = 0;
  static_vector<field, max_attributes> attributes{};
};

}  // namespace telemetry
WEFT_END
