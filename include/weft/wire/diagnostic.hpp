// weft/wire/diagnostic.hpp - RFC 8949 §8 diagnostic notation for cbor_value trees: a
// printer, a parser for the subset tools need, and the two conversions behind
// `weft cbor decode|encode`. Allocates; for tools and tests, not hot paths.
//
// Parsed: unsigned and negative integers of any size (beyond 64 bits as bignum tags 2/3),
// floats (1.5, -4.1e-3, Infinity, -Infinity, NaN), h'hex', "text" with JSON escapes,
// [arrays], {maps}, tags N(item), true, false, null, undefined, simple(N).
// Not parsed: indefinite-length markers (_), encoding indicators, b64'', embedded <<>>.
#pragma once

#include <charconv>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/wire/cbor.hpp"
#include "weft/wire/cbor_value.hpp"

WEFT_BEGIN
namespace wire {

namespace detail {

inline void append_float_diagnostic(std::string& out, double value) {
  if (value != value) {
    out += "NaN";
    return;
  }
  if (value == std::numeric_limits<double>::infinity()) {
    out += "Infinity";
    return;
  }
  if (value == -std::numeric_limits<double>::infinity()) {
    out += "-Infinity";
    return;
  }
  char buffer[64];
  const auto printed = std::to_chars(buffer, buffer + sizeof buffer, value);
  const std::string_view text(buffer, static_cast<std::size_t>(printed.ptr - buffer));
  const std::size_t e = text.find('e');
  const std::string_view mantissa = text.substr(0, e);
  out += mantissa;
  if (mantissa.find('.') == std::string_view::npos) out += ".0";  // keep it a float
  if (e == std::string_view::npos) return;
  std::string_view exponent = text.substr(e + 1);
  out += 'e';
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
    out += exponent[0];
    exponent.remove_prefix(1);
  }
  while (exponent.size() > 1 && exponent[0] == '0') exponent.remove_prefix(1);
  out += exponent;
}

inline void append_text_diagnostic(std::string& out, std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += digits[u >> 4];
      out += digits[u & 0xfu];
    } else {
      out += c;
    }
  }
  out += '"';
}

inline void append_diagnostic(std::string& out, const cbor_value& value) {
  switch (value.type) {
    case cbor_type::unsigned_int: out += std::to_string(value.argument); return;
    case cbor_type::negative_int:
      if (value.argument == std::numeric_limits<std::uint64_t>::max())
        out += "-18446744073709551616";
      else
      {
        out += '-';  // appended piecewise: g++ 12 warns falsely on "-" + std::string
        out += std::to_string(value.argument + 1);
      }
      return;
    case cbor_type::bytes:
      out += "h'";
      out += to_hex(value.content);
      out += '\'';
      return;
    case cbor_type::text: append_text_diagnostic(out, as_chars(value.content)); return;
    case cbor_type::array:
    case cbor_type::map: {
      const bool map = value.type == cbor_type::map;
      out += map ? '{' : '[';
      for (std::size_t i = 0; i < value.children.size(); ++i) {
        if (i > 0) out += (map && i % 2 == 1) ? ": " : ", ";
        append_diagnostic(out, value.children[i]);
      }
      out += map ? '}' : ']';
      return;
    }
    case cbor_type::tag:
      out += std::to_string(value.argument);
      out += '(';
      for (const auto& child : value.children) append_diagnostic(out, child);
      out += ")";
      return;
    case cbor_type::simple:
      switch (value.argument) {
        case simple_false: out += "false"; return;
        case simple_true: out += "true"; return;
        case simple_null: out += "null"; return;
        case simple_undefined: out += "undefined"; return;
        default:
          out += "simple(";
          out += std::to_string(value.argument);
          out += ')';
          return;
      }
    case cbor_type::floating: append_float_diagnostic(out, value.float_value); return;
  }
}

/// Recursive-descent parser; nesting bounded by max_depth.
class diagnostic_parser {
 public:
  diagnostic_parser(std::string_view text, std::size_t max_depth) noexcept
      : text_(text), max_depth_(max_depth) {}

  result<cbor_value> parse_document() noexcept {
    WEFT_TRY_ASSIGN(cbor_value value, parse_value(0));
    skip_space();
    if (position_ != text_.size()) return fail("unexpected text after the item");
    return value;
  }

 private:
  static weft::error fail(const char* where) noexcept {
    return error(cbor_errc::invalid_diagnostic, where);
  }
  void skip_space() noexcept {
    while (position_ < text_.size() &&
           (text_[position_] == ' ' || text_[position_] == '\t' || text_[position_] == '\n' ||
            text_[position_] == '\r'))
      ++position_;
  }
  bool consume(std::string_view word) noexcept {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }
  [[nodiscard]] char peek() const noexcept {
    return position_ < text_.size() ? text_[position_] : '\0';
  }

  result<cbor_value> parse_value(std::size_t depth) noexcept {
    if (depth > max_depth_) return error(cbor_errc::depth_limit_exceeded, "diagnostic nesting");
    skip_space();
    const char c = peek();
    if (c == '[') return parse_container(depth, ']');
    if (c == '{') return parse_container(depth, '}');
    if (c == '"') return parse_text();
    if (c == '_') return fail("indefinite-length notation (_) is not deterministic");
    if (consume("h'")) return parse_hex();
    if (consume("true")) return cbor_value::from_bool(true);
    if (consume("false")) return cbor_value::from_bool(false);
    if (consume("null")) return cbor_value::from_simple(simple_null);
    if (consume("undefined")) return cbor_value::from_simple(simple_undefined);
    if (consume("NaN")) return cbor_value::from_float(std::numeric_limits<double>::quiet_NaN());
    if (consume("Infinity")) return cbor_value::from_float(std::numeric_limits<double>::infinity());
    if (consume("-Infinity"))
      return cbor_value::from_float(-std::numeric_limits<double>::infinity());
    if (consume("simple(")) return parse_simple();
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(depth);
    return fail("expected a value");
  }

  result<cbor_value> parse_container(std::size_t depth, char close) noexcept {
    ++position_;
    const bool map = close == '}';
    std::vector<cbor_value> children;
    skip_space();
    if (peek() == '_') return fail("indefinite-length notation (_) is not deterministic");
    if (peek() == close) {
      ++position_;
      return map ? cbor_value::from_map({}) : cbor_value::from_array({});
    }
    for (;;) {
      WEFT_TRY_ASSIGN(cbor_value key, parse_value(depth + 1));
      children.push_back(std::move(key));
      skip_space();
      if (map) {
        if (peek() != ':') return fail("expected ':' in a map");
        ++position_;
        WEFT_TRY_ASSIGN(cbor_value item, parse_value(depth + 1));
        children.push_back(std::move(item));
        skip_space();
      }
      if (peek() == ',') {
        ++position_;
        continue;
      }
      if (peek() == close) {
        ++position_;
        break;
      }
      return fail(map ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    return map ? cbor_value::from_map(std::move(children))
               : cbor_value::from_array(std::move(children));
  }

  result<cbor_value> parse_hex() noexcept {
    std::string digits;
    while (position_ < text_.size() && text_[position_] != '\'') {
      const char c = text_[position_++];
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
      digits += c;
    }
    if (!consume("'")) return fail("unterminated h'...'");
    std::vector<std::uint8_t> bytes(digits.size() / 2);
    if (!from_hex(digits, bytes)) return fail("bad hex in h'...'");
    return cbor_value::from_bytes(bytes);
  }

  result<std::uint32_t> parse_hex4() noexcept {
    if (text_.size() - position_ < 4) return fail("short \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = weft::detail::hex_digit_value(text_[position_++]);
      if (d < 0) return fail("bad \\u escape");
      v = (v << 4) | static_cast<std::uint32_t>(d);
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    auto put = [&](std::uint32_t b) { out += static_cast<char>(static_cast<unsigned char>(b)); };
    if (cp < 0x80) put(cp);
    else if (cp < 0x800) { put(0xc0 | (cp >> 6)); put(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) {
      put(0xe0 | (cp >> 12)); put(0x80 | ((cp >> 6) & 0x3f)); put(0x80 | (cp & 0x3f));
    } else {
      put(0xf0 | (cp >> 18)); put(0x80 | ((cp >> 12) & 0x3f));
      put(0x80 | ((cp >> 6) & 0x3f)); put(0x80 | (cp & 0x3f));
    }
  }

  result<cbor_value> parse_text() noexcept {
    ++position_;
    std::string out;
    for (;;) {
      if (position_ >= text_.size()) return fail("unterminated text string");
      const char c = text_[position_++];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (position_ >= text_.size()) return fail("unterminated escape");
      const char e = text_[position_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          WEFT_TRY_ASSIGN(std::uint32_t cp, parse_hex4());
          if (cp >= 0xd800 && cp <= 0xdbff) {  // a surrogate pair
            if (!consume("\\u")) return fail("lone high surrogate");
            WEFT_TRY_ASSIGN(const std::uint32_t low, parse_hex4());
            if (low < 0xdc00 || low > 0xdfff) return fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: return fail("unknown escape");
      }
    }
    if (!valid_utf8(as_bytes(out))) return error(cbor_errc::invalid_utf8, "diagnostic text");
    return cbor_value::from_text(out);
  }

  result<cbor_value> parse_simple() noexcept {
    const std::size_t start = position_;
    while (peek() >= '0' && peek() <= '9') ++position_;
    unsigned value = 0;
    const auto parsed = std::from_chars(text_.data() + start, text_.data() + position_, value);
    if (parsed.ec != std::errc{} || parsed.ptr != text_.data() + position_ || value > 255 ||
        (value >= 24 && value < 32))
      return error(cbor_errc::invalid_simple_value, "diagnostic simple()");
    if (!consume(")")) return fail("expected ')' after simple(");
    return cbor_value::from_simple(value);
  }

  /// Integers of any size, floats, and tags `N(item)`.
  result<cbor_value> parse_number(std::size_t depth) noexcept {
    const std::size_t start = position_;
    const bool negative = peek() == '-';
    if (negative) ++position_;
    const std::size_t digits_start = position_;
    while (peek() >= '0' && peek() <= '9') ++position_;
    if (position_ == digits_start) return fail("expected digits");
    const char next = peek();
    if (next == '.' || next == 'e' || next == 'E') {
      while (position_ < text_.size() &&
             (std::string_view("0123456789.eE+-").find(text_[position_]) != std::string_view::npos))
        ++position_;
      double value = 0.0;
      const auto parsed = std::from_chars(text_.data() + start, text_.data() + position_, value);
      if (parsed.ec != std::errc{} || parsed.ptr != text_.data() + position_)
        return fail("bad float");
      return cbor_value::from_float(value);
    }
    const std::string_view digits = text_.substr(digits_start, position_ - digits_start);
    std::vector<std::uint8_t> magnitude = decimal_to_bytes(digits);
    if (next == '(') {
      if (negative || magnitude.size() > 8) return fail("bad tag number");
      ++position_;
      WEFT_TRY_ASSIGN(cbor_value content, parse_value(depth + 1));
      skip_space();
      if (!consume(")")) return fail("expected ')' after tag content");
      return cbor_value::from_tag(to_u64(magnitude), std::move(content));
    }
    if (negative) {
      if (magnitude.empty()) return cbor_value::from_uint(0);  // "-0" is the integer 0
      decrement(magnitude);  // -1 - n  <=>  n = magnitude - 1
      if (magnitude.size() <= 8) return cbor_value::from_negative(to_u64(magnitude));
      return cbor_value::from_tag(3, cbor_value::from_bytes(magnitude));
    }
    if (magnitude.size() <= 8) return cbor_value::from_uint(to_u64(magnitude));
    return cbor_value::from_tag(2, cbor_value::from_bytes(magnitude));
  }

  /// Big-endian magnitude without leading zero bytes (empty for zero).
  static std::vector<std::uint8_t> decimal_to_bytes(std::string_view digits) {
    std::vector<std::uint8_t> out;
    for (const char d : digits) {
      unsigned carry = static_cast<unsigned>(d - '0');
      for (std::size_t i = out.size(); i > 0; --i) {
        const unsigned v = out[i - 1] * 10u + carry;
        out[i - 1] = static_cast<std::uint8_t>(v & 0xffu);
        carry = v >> 8;
      }
      if (carry != 0) out.insert(out.begin(), static_cast<std::uint8_t>(carry));
    }
    return out;
  }
  static void decrement(std::vector<std::uint8_t>& magnitude) {
    for (std::size_t i = magnitude.size(); i > 0; --i) {
      if (magnitude[i - 1]-- != 0) break;
    }
    while (!magnitude.empty() && magnitude.front() == 0) magnitude.erase(magnitude.begin());
  }
  static std::uint64_t to_u64(const std::vector<std::uint8_t>& magnitude) {
    std::uint64_t v = 0;
    for (const std::uint8_t b : magnitude) v = (v << 8) | b;
    return v;
  }

  std::string_view text_;
  std::size_t position_ = 0;
  std::size_t max_depth_;
};

}  // namespace detail

/// Diagnostic notation of `value`, e.g. `{1: h'01ff', "a": [1.5, -2, 24(true)]}`.
[[nodiscard]] inline std::string to_diagnostic(const cbor_value& value) noexcept {
  std::string out;
  detail::append_diagnostic(out, value);
  return out;
}

/// Parses diagnostic notation (the subset listed at the top of this header).
[[nodiscard]] inline result<cbor_value> parse_diagnostic(
    std::string_view text,
    std::size_t max_depth = decode_limits::max_depth_supported) noexcept {
  return detail::diagnostic_parser(text, max_depth).parse_document();
}

/// `weft cbor decode`: hex (whitespace allowed) of one strict deterministic item to its
/// diagnostic notation.
[[nodiscard]] inline result<std::string> diagnostic_from_hex(
    std::string_view hex, const decode_limits& limits = {}) noexcept {
  std::string digits;
  for (const char c : hex)
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') digits += c;
  std::vector<std::uint8_t> bytes(digits.size() / 2);
  WEFT_TRY(from_hex(digits, bytes));
  WEFT_TRY_ASSIGN(const cbor_value value, decode_value(bytes, limits));
  return to_diagnostic(value);
}

/// `weft cbor encode`: diagnostic notation to lowercase hex of its deterministic encoding.
[[nodiscard]] inline result<std::string> hex_from_diagnostic(std::string_view text) noexcept {
  WEFT_TRY_ASSIGN(const cbor_value value, parse_diagnostic(text));
  WEFT_TRY_ASSIGN(const std::vector<std::uint8_t> bytes, to_cbor(value));
  return to_hex(bytes);
}

}  // namespace wire
WEFT_END
