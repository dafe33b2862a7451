// weft/wire/schema.hpp - typed messages over deterministic CBOR: a struct declares its fields
// once, each under a small integer key, and encode() / decode<T>() map it to and from a
// CBOR map whose keys are sorted. No byte fiddling per message, no allocation unless the
// struct itself holds std::vector or std::string (for tools, not hot paths).
//
//   struct append_entries {
//     std::uint64_t term = 0;
//     weft::static_vector<entry, 64> entries;
//     std::optional<std::uint64_t> commit;          // absent key when empty
//     static constexpr void fields(auto& v, auto& self) {
//       v(1, self.term); v(2, self.entries); v(3, self.commit);
//     }
//   };
//
// Keys are declared in deterministic order: 0, 1, 2, ... then -1, -2, ... (the bytewise
// order of their encodings). See docs/wire.md for every supported field type.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/wire/cbor.hpp"

WEFT_BEGIN
namespace wire {

/// What decoding does with a map key the struct does not declare.
enum class unknown_keys : std::uint8_t {
  reject,  // the default: cbor_errc::unknown_key
  skip,    // forward compatibility: ignore the pair (set `unknown_key_policy` in the struct)
};

/// A complete, already encoded item carried verbatim: decoding returns a view of its bytes
/// in the input (validated), encoding copies them (the caller vouches they are deterministic).
struct encoded_item {
  byte_view bytes{};
  friend bool operator==(const encoded_item& a, const encoded_item& b) noexcept {
    return equal_bytes(a.bytes, b.bytes);
  }
};

/// Customization point for a type with its own CBOR shape. Specialize with
///   static result<void> encode(cbor_writer&, const T&) noexcept;
///   static result<void> decode(cbor_reader&, T&) noexcept;
template <class T>
struct codec;

namespace detail {
struct field_probe {
  template <class F>
  constexpr void operator()(std::int64_t, F&) const noexcept {}
};

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_std_vector : std::false_type {};
template <class T, class A> struct is_std_vector<std::vector<T, A>> : std::true_type {};
template <class T> struct is_static_vector : std::false_type {};
template <class T, std::size_t N> struct is_static_vector<static_vector<T, N>> : std::true_type {};
template <class T> struct is_std_array : std::false_type {};
template <class T, std::size_t N> struct is_std_array<std::array<T, N>> : std::true_type {};

template <class C>
inline constexpr bool is_byte_container = std::is_same_v<typename C::value_type, std::uint8_t>;

/// Position of an integer key in the bytewise order of encodings: major type, argument.
struct key_rank {
  std::uint8_t major = 0;  // 0 unsigned, 1 negative, 2 any non-integer key (sorts after)
  std::uint64_t argument = 0;
  friend constexpr bool operator==(const key_rank&, const key_rank&) noexcept = default;
  friend constexpr bool operator<(const key_rank& a, const key_rank& b) noexcept {
    return a.major != b.major ? a.major < b.major : a.argument < b.argument;
  }
};
constexpr key_rank rank_of(std::int64_t key) noexcept {
  if (key >= 0) return {0, static_cast<std::uint64_t>(key)};
  return {1, static_cast<std::uint64_t>(-(key + 1))};
}
}  // namespace detail

/// A struct with `static constexpr void fields(auto& v, auto& self)` declaring its fields.
template <class T>
concept message = std::is_class_v<T> && requires(T& t, detail::field_probe& v) {
  T::fields(v, t);
};

template <class T>
concept has_codec = requires { sizeof(codec<T>); };

template <class T>
[[nodiscard]] constexpr unknown_keys unknown_key_policy_of() noexcept {
  if constexpr (requires { T::unknown_key_policy; }) return T::unknown_key_policy;
  else return unknown_keys::reject;
}

template <class T>
result<void> encode_to(cbor_writer& writer, const T& value) noexcept;
template <class T>
result<void> decode_from(cbor_reader& reader, T& value) noexcept;

namespace detail {

// Internals return bool and leave the error in the writer or reader (sticky), so that a
// message of many fields builds no result object per field.
template <class T>
bool write_field(cbor_writer& writer, const T& value) noexcept;
template <class T>
bool read_field(cbor_reader& reader, T& value) noexcept;

template <message T, class Visitor>
constexpr void visit_fields(Visitor& visitor, const T& value) noexcept {
  if constexpr (requires { T::fields(visitor, value); }) T::fields(visitor, value);
  else T::fields(visitor, const_cast<T&>(value));  // a `T&` signature; nothing is written
}

struct count_visitor {
  std::uint64_t present = 0;
  template <class F>
  constexpr void operator()(std::int64_t, const F& field) noexcept {
    if constexpr (is_optional<F>::value) present += field.has_value() ? 1 : 0;
    else ++present;
  }
};

struct encode_visitor {
  cbor_writer& writer;
  bool good = true;
  bool has_last = false;
  key_rank last{};

  template <class F>
  void operator()(std::int64_t key, const F& field) noexcept {
    const key_rank rank = rank_of(key);
    // A schema must declare its keys in encoding order: 0, 1, ..., then -1, -2, ...
    WEFT_ASSERT(!has_last || last < rank);
    has_last = true;
    last = rank;
    if (!good) return;
    if constexpr (is_optional<F>::value) {
      if (field.has_value()) good = writer.write_int(key) && write_field(writer, *field);
    } else {
      good = writer.write_int(key) && write_field(writer, field);
    }
  }
};

template <message T>
bool write_message(cbor_writer& writer, const T& value) noexcept {
  count_visitor counter;
  visit_fields(counter, value);
  if (!writer.write_map(counter.present)) return false;
  encode_visitor encoder{writer};
  visit_fields(encoder, value);
  return encoder.good;
}

template <class Range>
bool write_sequence(cbor_writer& writer, const Range& range) noexcept {
  if constexpr (is_byte_container<Range>) {
    return writer.write_bytes(byte_view(range.data(), range.size()));
  } else {
    if (!writer.write_array(range.size())) return false;
    for (const auto& element : range)
      if (!write_field(writer, element)) return false;
    return true;
  }
}

inline bool refuse(cbor_reader& reader, cbor_errc code, const char* where) noexcept {
  reader.fail(code, where);
  return false;
}

template <unknown_keys Policy>
struct decode_visitor {
  cbor_reader& reader;
  std::uint64_t pairs_left = 0;
  bool good = true;
  bool has_pending = false;
  key_rank pending{};

  bool read_key() noexcept {
    if (pairs_left == 0) {
      has_pending = false;
      return true;
    }
    --pairs_left;
    cbor_item key;
    if (!reader.read(key)) return false;
    has_pending = true;
    if (key.type == cbor_type::unsigned_int) pending = {0, key.argument};
    else if (key.type == cbor_type::negative_int) pending = {1, key.argument};
    else {
      pending = {2, 0};
      return reader.skip_rest(key);
    }
    return true;
  }

  /// Consumes the value of the pending (unknown) key and reads the next key.
  bool drop_pending() noexcept {
    if constexpr (Policy == unknown_keys::reject) {
      return refuse(reader, cbor_errc::unknown_key, "decode: key not in schema");
    } else {
      cbor_item value;
      return reader.read(value) && reader.skip_rest(value) && read_key();
    }
  }

  template <class F>
  void operator()(std::int64_t key, F& field) noexcept {
    if (!good) return;
    const key_rank rank = rank_of(key);
    while (has_pending && pending < rank) {
      good = drop_pending();
      if (!good) return;
    }
    if (has_pending && pending == rank) {
      if constexpr (is_optional<F>::value) {
        field.emplace();
        good = read_field(reader, *field) && read_key();
      } else {
        good = read_field(reader, field) && read_key();
      }
      return;
    }
    if constexpr (is_optional<F>::value) field.reset();
    else good = refuse(reader, cbor_errc::missing_key, "decode: required key absent");
  }
};

template <message T>
bool read_message(cbor_reader& reader, T& value) noexcept {
  cbor_item head;
  if (!reader.read(head)) return false;
  if (head.type != cbor_type::map)
    return refuse(reader, cbor_errc::type_mismatch, "decode: not a map");
  decode_visitor<unknown_key_policy_of<T>()> decoder{reader, head.argument};
  if (!decoder.read_key()) return false;
  T::fields(decoder, value);
  if (!decoder.good) return false;
  while (decoder.has_pending)
    if (!decoder.drop_pending()) return false;
  return true;
}

template <class I>
bool read_integer(cbor_reader& reader, I& value) noexcept {
  cbor_item item;
  if (!reader.read(item)) return false;
  using U = std::make_unsigned_t<I>;
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<I>::max());
  if (item.type == cbor_type::unsigned_int) {
    if (item.argument > max) return refuse(reader, cbor_errc::integer_out_of_range, "decode: integer");
    value = static_cast<I>(item.argument);
    return true;
  }
  if constexpr (std::is_signed_v<I>) {
    if (item.type == cbor_type::negative_int) {
      if (item.argument > max)
        return refuse(reader, cbor_errc::integer_out_of_range, "decode: integer");
      // -1 - n, computed in the unsigned type to stay clear of overflow
      value = static_cast<I>(static_cast<U>(~static_cast<U>(item.argument)));
      return true;
    }
  }
  return refuse(reader, cbor_errc::type_mismatch, "decode: not an integer");
}

/// Reads one item of `type` into `item`.
inline bool read_typed(cbor_reader& reader, cbor_item& item, cbor_type type,
                       const char* where) noexcept {
  if (!reader.read(item)) return false;
  if (item.type != type) return refuse(reader, cbor_errc::type_mismatch, where);
  return true;
}

template <class Container>
bool read_byte_string(cbor_reader& reader, Container& value) noexcept {
  cbor_item item;
  if (!read_typed(reader, item, cbor_type::bytes, "decode: bytes")) return false;
  if constexpr (is_std_array<Container>::value) {
    if (item.content.size() != value.size())
      return refuse(reader, cbor_errc::length_mismatch, "decode: fixed-size bytes");
    if (!item.content.empty()) std::memcpy(value.data(), item.content.data(), value.size());
  } else if constexpr (is_static_vector<Container>::value) {
    if (item.content.size() > Container::capacity())
      return refuse(reader, cbor_errc::capacity_exceeded, "decode: bytes");
    value.clear();
    for (const std::uint8_t b : item.content) (void)value.push_back(b);
  } else {
    value.assign(item.content.begin(), item.content.end());
  }
  return true;
}

template <class Container>
bool read_array(cbor_reader& reader, Container& value) noexcept {
  cbor_item item;
  if (!read_typed(reader, item, cbor_type::array, "decode: array")) return false;
  if constexpr (is_std_array<Container>::value) {
    if (item.argument != value.size())
      return refuse(reader, cbor_errc::length_mismatch, "decode: fixed-size array");
    for (auto& element : value)
      if (!read_field(reader, element)) return false;
  } else if constexpr (is_static_vector<Container>::value) {
    if (item.argument > Container::capacity())
      return refuse(reader, cbor_errc::capacity_exceeded, "decode: array");
    value.clear();
    for (std::uint64_t i = 0; i < item.argument; ++i) {
      (void)value.emplace_back();
      if (!read_field(reader, value.back())) return false;
    }
  } else {  // std::vector: the count is already bounded by the reader's item budget
    value.clear();
    value.reserve(static_cast<std::size_t>(item.argument));
    for (std::uint64_t i = 0; i < item.argument; ++i) {
      value.emplace_back();
      if (!read_field(reader, value.back())) return false;
    }
  }
  return true;
}

template <class T>
bool write_field(cbor_writer& writer, const T& value) noexcept {
  if constexpr (has_codec<T>) {
    auto written = codec<T>::encode(writer, value);
    if (!written) writer.fail(written.error());
    return written.has_value();
  } else if constexpr (message<T>) {
    return write_message(writer, value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return writer.write_bool(value);
  } else if constexpr (std::is_enum_v<T>) {
    return write_field(writer, static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return writer.write_uint(value);
  } else if constexpr (std::is_integral_v<T>) {
    return writer.write_int(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    return writer.write_float(static_cast<double>(value));
  } else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
    return writer.write_text(value);
  } else if constexpr (std::is_same_v<T, byte_view>) {
    return writer.write_bytes(value);
  } else if constexpr (std::is_same_v<T, encoded_item>) {
    return writer.write_encoded(value.bytes);
  } else if constexpr (is_std_vector<T>::value || is_static_vector<T>::value ||
                       is_std_array<T>::value) {
    return write_sequence(writer, value);
  } else {
    static_assert(sizeof(T) == 0, "weft::wire: no CBOR mapping for this type; see docs/wire.md");
  }
}

template <class T>
bool read_field(cbor_reader& reader, T& value) noexcept {
  if constexpr (has_codec<T>) {
    auto decoded = codec<T>::decode(reader, value);
    if (!decoded) reader.fail(decoded.error());
    return decoded.has_value();
  } else if constexpr (message<T>) {
    return read_message(reader, value);
  } else if constexpr (std::is_same_v<T, bool>) {
    cbor_item item;
    if (!reader.read(item)) return false;
    if (item.type != cbor_type::simple ||
        (item.argument != simple_false && item.argument != simple_true))
      return refuse(reader, cbor_errc::type_mismatch, "decode: bool");
    value = item.argument == simple_true;
    return true;
  } else if constexpr (std::is_enum_v<T>) {
    std::underlying_type_t<T> raw{};
    if (!read_integer(reader, raw)) return false;
    value = static_cast<T>(raw);
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    return read_integer(reader, value);
  } else if constexpr (std::is_floating_point_v<T>) {
    cbor_item item;
    if (!read_typed(reader, item, cbor_type::floating, "decode: float")) return false;
    const double wide = item.float_value;
    if (wide == wide && static_cast<double>(static_cast<T>(wide)) != wide)
      return refuse(reader, cbor_errc::not_representable, "decode: float");
    value = static_cast<T>(wide);
    return true;
  } else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
    cbor_item item;
    if (!read_typed(reader, item, cbor_type::text, "decode: text")) return false;
    value = T(as_chars(item.content));
    return true;
  } else if constexpr (std::is_same_v<T, byte_view>) {
    cbor_item item;
    if (!read_typed(reader, item, cbor_type::bytes, "decode: bytes")) return false;
    value = item.content;
    return true;
  } else if constexpr (std::is_same_v<T, encoded_item>) {
    const std::size_t start = reader.position();
    cbor_item item;
    if (!reader.read(item) || !reader.skip_rest(item)) return false;
    value.bytes = reader.input().subspan(start, reader.position() - start);
    return true;
  } else if constexpr (is_std_vector<T>::value || is_static_vector<T>::value ||
                       is_std_array<T>::value) {
    if constexpr (is_byte_container<T>) return read_byte_string(reader, value);
    else return read_array(reader, value);
  } else {
    static_assert(sizeof(T) == 0, "weft::wire: no CBOR mapping for this type; see docs/wire.md");
  }
}

}  // namespace detail

/// Writes `value` as one CBOR item. See docs/wire.md for the supported types.
template <class T>
result<void> encode_to(cbor_writer& writer, const T& value) noexcept {
  if (detail::write_field(writer, value)) return ok();
  return writer.status();
}

/// Reads one CBOR item into `value`. Borrowed types (byte_view, std::string_view,
/// encoded_item) point into the reader's input, which must outlive them.
template <class T>
result<void> decode_from(cbor_reader& reader, T& value) noexcept {
  if (detail::read_field(reader, value)) return ok();
  return reader.failure();
}

/// Bytes that encode(value, ...) writes.
template <class T>
[[nodiscard]] std::size_t encoded_size(const T& value) noexcept {
  cbor_writer counter;
  (void)encode_to(counter, value);
  return counter.size();
}

/// Appends the deterministic encoding of `value` to `out`. On error `out` may hold a
/// partial item: discard it.
template <class T>
result<void> encode(const T& value, byte_writer& out) noexcept {
  cbor_writer writer(out);
  return encode_to(writer, value);
}

/// Encodes `value` into `out` and returns the bytes written (a prefix of `out`).
template <class T>
result<byte_view> encode(const T& value, mutable_byte_view out) noexcept {
  byte_writer bytes(out);
  WEFT_TRY(encode(value, bytes));
  return bytes.written();
}

/// Decodes exactly one item (no trailing bytes) into `value`.
template <class T>
result<void> decode_into(byte_view input, T& value, const decode_limits& limits = {}) noexcept {
  cbor_reader reader(input, limits);
  WEFT_TRY(decode_from(reader, value));
  return reader.finish();
}

/// Decodes exactly one item into a new T (T must be default-constructible).
template <class T>
result<T> decode(byte_view input, const decode_limits& limits = {}) noexcept {
  T value{};
  WEFT_TRY(decode_into(input, value, limits));
  return value;
}

}  // namespace wire
WEFT_END
