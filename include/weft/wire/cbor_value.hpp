// weft/wire/cbor_value.hpp - a generic CBOR value tree for tools and tests. It allocates
// (std::vector), so protocol hot paths use weft/wire/schema.hpp instead. Decoding goes
// through the strict reader; encoding sorts map keys and refuses duplicates, so a value
// always encodes deterministically.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/wire/cbor.hpp"

WEFT_BEGIN
namespace wire {

/// One CBOR data item and everything inside it.
struct cbor_value {
  cbor_type type = cbor_type::unsigned_int;
  std::uint64_t argument = 0;         // value, -1-n for negative, tag number, simple value
  double float_value = 0.0;           // floating only
  std::vector<std::uint8_t> content;  // bytes and text (UTF-8)
  std::vector<cbor_value> children;   // array elements; map key, value, key, value...; tag content

  static cbor_value from_uint(std::uint64_t v) { return scalar(cbor_type::unsigned_int, v); }
  static cbor_value from_negative(std::uint64_t n) { return scalar(cbor_type::negative_int, n); }
  static cbor_value from_int(std::int64_t v) {
    return v >= 0 ? from_uint(static_cast<std::uint64_t>(v))
                  : from_negative(static_cast<std::uint64_t>(-(v + 1)));
  }
  static cbor_value from_bytes(byte_view bytes) {
    cbor_value v = scalar(cbor_type::bytes, 0);
    v.content.assign(bytes.begin(), bytes.end());
    return v;
  }
  static cbor_value from_text(std::string_view text) {
    cbor_value v = scalar(cbor_type::text, 0);
    v.content.assign(text.begin(), text.end());
    return v;
  }
  static cbor_value from_array(std::vector<cbor_value> elements) {
    cbor_value v = scalar(cbor_type::array, 0);
    v.children = std::move(elements);
    return v;
  }
  /// `key_values` alternates keys and values (an even count); any order.
  static cbor_value from_map(std::vector<cbor_value> key_values) {
    cbor_value v = scalar(cbor_type::map, 0);
    v.children = std::move(key_values);
    return v;
  }
  static cbor_value from_tag(std::uint64_t number, cbor_value content) {
    cbor_value v = scalar(cbor_type::tag, number);
    v.children.push_back(std::move(content));
    return v;
  }
  static cbor_value from_simple(std::uint64_t simple) { return scalar(cbor_type::simple, simple); }
  static cbor_value from_bool(bool b) { return from_simple(b ? simple_true : simple_false); }
  static cbor_value from_float(double f) {
    cbor_value v = scalar(cbor_type::floating, 0);
    v.float_value = f;
    return v;
  }

  /// Structural equality; floats compare by value, with NaN equal to NaN.
  friend bool operator==(const cbor_value& a, const cbor_value& b) noexcept {
    if (a.type != b.type) return false;
    if (a.type == cbor_type::floating) {
      const bool a_nan = a.float_value != a.float_value;
      const bool b_nan = b.float_value != b.float_value;
      if (a_nan || b_nan) return a_nan && b_nan;
      return std::bit_cast<std::uint64_t>(a.float_value) ==
             std::bit_cast<std::uint64_t>(b.float_value);  // keeps -0.0 apart from 0.0
    }
    return a.argument == b.argument && a.content == b.content && a.children == b.children;
  }

 private:
  static cbor_value scalar(cbor_type type, std::uint64_t argument) {
    cbor_value v;
    v.type = type;
    v.argument = argument;
    return v;
  }
};

namespace detail {

/// Bytewise order of two encodings (memcmp, then length).
inline bool encoding_less(const std::vector<std::uint8_t>& a,
                          const std::vector<std::uint8_t>& b) noexcept {
  const std::size_t common = a.size() < b.size() ? a.size() : b.size();
  const int order = common == 0 ? 0 : std::memcmp(a.data(), b.data(), common);
  return order != 0 ? order < 0 : a.size() < b.size();
}

inline result<void> read_value_contents(cbor_reader& reader, const cbor_item& item,
                                        cbor_value& out) noexcept {
  out.type = item.type;
  // Lengths live in `content`/`children` and floats in `float_value`, as from_*() build them.
  const bool argument_is_value = item.type == cbor_type::unsigned_int ||
                                 item.type == cbor_type::negative_int ||
                                 item.type == cbor_type::tag || item.type == cbor_type::simple;
  out.argument = argument_is_value ? item.argument : 0;
  out.float_value = item.float_value;
  out.content.assign(item.content.begin(), item.content.end());
  std::uint64_t children = 0;
  if (item.type == cbor_type::array) children = item.argument;
  else if (item.type == cbor_type::map) children = item.argument * 2;
  else if (item.type == cbor_type::tag) children = 1;
  out.children.resize(static_cast<std::size_t>(children));  // bounded by the item budget
  for (auto& child : out.children) {
    WEFT_TRY_ASSIGN(const cbor_item next, reader.next());
    WEFT_TRY(read_value_contents(reader, next, child));  // depth bounded by the reader
  }
  return ok();
}

inline result<void> write_value(cbor_writer& writer, const cbor_value& value,
                                std::size_t depth) noexcept;

inline result<void> write_map(cbor_writer& writer, const cbor_value& value,
                              std::size_t depth) noexcept {
  if (value.children.size() % 2 != 0)
    return error(cbor_errc::type_mismatch, "encode_value: map with an odd child count");
  const std::size_t pairs = value.children.size() / 2;
  std::vector<std::vector<std::uint8_t>> keys(pairs);
  for (std::size_t i = 0; i < pairs; ++i) {
    cbor_writer counter;
    WEFT_TRY(write_value(counter, value.children[2 * i], depth + 1));
    keys[i].resize(counter.size());
    byte_writer bytes(keys[i]);
    cbor_writer key_writer(bytes);
    WEFT_TRY(write_value(key_writer, value.children[2 * i], depth + 1));
  }
  std::vector<std::size_t> order(pairs);
  for (std::size_t i = 0; i < pairs; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return encoding_less(keys[a], keys[b]); });
  WEFT_TRY(writer.begin_map(pairs));
  for (std::size_t i = 0; i < pairs; ++i) {
    if (i > 0 && !encoding_less(keys[order[i - 1]], keys[order[i]]))
      return error(cbor_errc::duplicate_map_key, "encode_value");
    WEFT_TRY(writer.put_encoded(keys[order[i]]));
    WEFT_TRY(write_value(writer, value.children[2 * order[i] + 1], depth + 1));
  }
  return ok();
}

inline result<void> write_value(cbor_writer& writer, const cbor_value& value,
                                std::size_t depth) noexcept {
  if (depth > decode_limits::max_depth_supported)
    return error(cbor_errc::depth_limit_exceeded, "encode_value");
  switch (value.type) {
    case cbor_type::unsigned_int: return writer.put_uint(value.argument);
    case cbor_type::negative_int: return writer.put_negative(value.argument);
    case cbor_type::bytes: return writer.put_bytes(value.content);
    case cbor_type::text: return writer.put_text(as_chars(value.content));
    case cbor_type::array:
      WEFT_TRY(writer.begin_array(value.children.size()));
      for (const auto& child : value.children) WEFT_TRY(write_value(writer, child, depth + 1));
      return ok();
    case cbor_type::map: return write_map(writer, value, depth);
    case cbor_type::tag:
      if (value.children.size() != 1)
        return error(cbor_errc::type_mismatch, "encode_value: a tag holds one item");
      WEFT_TRY(writer.put_tag(value.argument));
      return write_value(writer, value.children[0], depth + 1);
    case cbor_type::simple:
      if (value.argument > 255) return error(cbor_errc::invalid_simple_value, "encode_value");
      return writer.put_simple(static_cast<std::uint8_t>(value.argument));
    case cbor_type::floating: return writer.put_float(value.float_value);
  }
  return error(cbor_errc::type_mismatch, "encode_value: unknown type");
}

}  // namespace detail

/// Decodes exactly one strict, deterministic item into a tree.
[[nodiscard]] inline result<cbor_value> decode_value(byte_view input,
                                                     const decode_limits& limits = {}) noexcept {
  cbor_reader reader(input, limits);
  WEFT_TRY_ASSIGN(const cbor_item head, reader.next());
  cbor_value value;
  WEFT_TRY(detail::read_value_contents(reader, head, value));
  WEFT_TRY(reader.finish());
  return value;
}

/// Writes the deterministic encoding of `value` (map keys sorted, duplicates refused).
inline result<void> encode_value(cbor_writer& writer, const cbor_value& value) noexcept {
  return detail::write_value(writer, value, 0);
}

/// The deterministic encoding of `value` in a new vector.
[[nodiscard]] inline result<std::vector<std::uint8_t>> to_cbor(const cbor_value& value) noexcept {
  cbor_writer counter;
  WEFT_TRY(encode_value(counter, value));
  std::vector<std::uint8_t> out(counter.size());
  byte_writer bytes(out);
  cbor_writer writer(bytes);
  WEFT_TRY(encode_value(writer, value));
  return out;
}

}  // namespace wire
WEFT_END
