// weft/telemetry/text_output.hpp - where exporters write text (a caller-owned buffer or a
// std::string), number formatting, and the escaping rules of every text format weft emits:
// Prometheus/OpenMetrics label values and HELP text, and JSON strings. Bytes that are not
// valid UTF-8 become U+FFFD in every format, so output is always valid UTF-8.
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/config.hpp"

WEFT_BEGIN
namespace telemetry {

/// Anything text can be appended to. `append` never fails; a bounded output records that
/// it overflowed and the exporter reports telemetry_errc::output_full.
template <class O>
concept text_output = requires(O& o, std::string_view s) {
  { o.append(s) } noexcept;
  { o.overflowed() } noexcept -> std::convertible_to<bool>;
};

/// Appends into caller-owned memory; excess is cut and remembered.
class buffer_output {
 public:
  constexpr buffer_output(char* data, std::size_t capacity_bytes) noexcept
      : data_(data), capacity_(capacity_bytes) {}
  void append(std::string_view s) noexcept {
    const std::size_t room = capacity_ - used_;
    const std::size_t n = s.size() < room ? s.size() : room;
    for (std::size_t i = 0; i < n; ++i) data_[used_ + i] = s[i];
    used_ += n;
    if (n < s.size()) overflowed_ = true;
  }
  [[nodiscard]] bool overflowed() const noexcept { return overflowed_; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_, used_}; }

 private:
  char* data_;
  std::size_t capacity_;
  std::size_t used_ = 0;
  bool overflowed_ = false;
};

/// Appends to a std::string (tools, tests, hosted exporters).
class string_output {
 public:
  explicit string_output(std::string& target) noexcept : target_(&target) {}
  void append(std::string_view s) noexcept {
#if WEFT_USE_EXCEPTIONS
    try {
      target_->append(s);
    } catch (...) {
      overflowed_ = true;
    }
#else
    target_->append(s);
#endif
  }
  [[nodiscard]] bool overflowed() const noexcept { return overflowed_; }

 private:
  std::string* target_;
  bool overflowed_ = false;
};

namespace detail {

template <class O>
void append_u64(O& out, std::uint64_t v) noexcept {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v);
  out.append(std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
}
template <class O>
void append_i64(O& out, std::int64_t v) noexcept {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v);
  out.append(std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
}

/// Shortest round-trip form; `+Inf`, `-Inf`, `NaN` as Prometheus spells them. With
/// `force_point`, integral values get ".0" (OpenMetrics canonical floats, JSON doubles).
template <class O>
void append_double(O& out, double v, bool force_point = false) noexcept {
  if (std::isnan(v)) return out.append("NaN");
  if (std::isinf(v)) return out.append(v > 0 ? "+Inf" : "-Inf");
  char digits[40];
  const auto r = std::to_chars(digits, digits + sizeof digits, v);
  const std::string_view text(digits, static_cast<std::size_t>(r.ptr - digits));
  out.append(text);
  if (force_point && text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

/// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlongs, no
/// surrogates, nothing above U+10FFFF), or 0 when the first byte does not start one.
constexpr std::size_t utf8_sequence_length(std::string_view s) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
  else if (b0 == 0xE0) n = 3, lo = 0xA0;
  else if (b0 == 0xED) n = 3, hi = 0x9F;
  else if (b0 >= 0xE1 && b0 <= 0xEF) n = 3;
  else if (b0 == 0xF0) n = 4, lo = 0x90;
  else if (b0 == 0xF4) n = 4, hi = 0x8F;
  else if (b0 >= 0xF1 && b0 <= 0xF3) n = 4;
  else return 0;
  if (s.size() < n) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  return n;
}

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// Walks `s` as UTF-8: calls `ascii(char)` for each ASCII byte, copies valid multi-byte
/// sequences, and writes U+FFFD for each byte that does not start a valid sequence.
template <class O, class Ascii>
void append_utf8(O& out, std::string_view s, Ascii&& ascii) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s.substr(i));
    if (n == 1) {
      ascii(s[i]);
      i += 1;
    } else if (n == 0) {
      out.append(replacement_character);
      i += 1;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
}

}  // namespace detail

/// A Prometheus/OpenMetrics label value: `\` `"` and newline escaped.
template <class O>
void append_label_value(O& out, std::string_view s) noexcept {
  detail::append_utf8(out, s, [&out](char c) {
    if (c == '\\') out.append("\\\\");
    else if (c == '"') out.append("\\\"");
    else if (c == '\n') out.append("\\n");
    else out.append(std::string_view(&c, 1));
  });
}

/// HELP text: `\` and newline escaped (and `"` too when `escape_quote`, as OpenMetrics asks).
template <class O>
void append_help_text(O& out, std::string_view s, bool escape_quote) noexcept {
  detail::append_utf8(out, s, [&out, escape_quote](char c) {
    if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else if (c == '"' && escape_quote) out.append("\\\"");
    else out.append(std::string_view(&c, 1));
  });
}

/// A metric or label name: characters outside [a-zA-Z0-9_:] become `_`, as does a leading
/// digit (colons are dropped from label names).
template <class O>
void append_metric_name(O& out, std::string_view s, bool label_name = false) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                       (c == ':' && !label_name);
    const bool digit = c >= '0' && c <= '9';
    out.append((alpha || (digit && i > 0)) ? std::string_view(&s[i], 1) : "_");
  }
}

/// A JSON string literal with its quotes (RFC 8259): `"` `\` and control characters escaped.
template <class O>
void append_json_string(O& out, std::string_view s) noexcept {
  out.append("\"");
  detail::append_utf8(out, s, [&out](char c) {
    static constexpr char hex[] = "0123456789abcdef";
    if (c == '"') out.append("\\\"");
    else if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else if (c == '\r') out.append("\\r");
    else if (c == '\t') out.append("\\t");
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      const auto u = static_cast<unsigned char>(c);
      const char esc[6] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
      out.append(std::string_view(esc, 6));
    } else {
      out.append(std::string_view(&c, 1));
    }
  });
  out.append("\"");
}

}  // namespace telemetry
WEFT_END
