// weft/wire/cbor.hpp - deterministic CBOR (RFC 8949 §4.2.1): an encoder into caller memory
// and a strict, zero-copy pull decoder bounded by decode_limits. Neither allocates.
//
// The encoder writes shortest heads and preferred floats; the order of map keys is the
// caller's (weft/wire/schema.hpp and weft/wire/cbor_value.hpp sort for you). The decoder
// accepts exactly the core deterministic encoding and answers anything else with its own
// cbor_errc code: it is safe on hostile input and never reads outside the input view.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN
namespace wire {

/// Errors of the CBOR codec, the typed schema layer and the diagnostic notation parser.
enum class cbor_errc : std::uint16_t {
  ok = 0,
  truncated = 1,                 // input ends inside an item
  trailing_bytes = 2,            // bytes after the single top-level item
  non_shortest_argument = 3,     // integer, length or tag not in its shortest form
  non_preferred_float = 4,       // a float that fits a shorter width, or a non-canonical NaN
  indefinite_length = 5,         // additional information 31 (indefinite length)
  unsorted_map_keys = 6,         // map keys not in bytewise order of their encodings
  duplicate_map_key = 7,         // the same key twice in one map
  invalid_utf8 = 8,              // a text string that is not UTF-8
  reserved_additional_info = 9,  // additional information 28, 29 or 30
  invalid_simple_value = 10,     // two-byte simple value below 32, or simple 24..31 encoded
  unexpected_break = 11,         // a 0xff "break" outside an indefinite-length item
  depth_limit_exceeded = 12,     // nesting deeper than decode_limits::max_depth
  item_limit_exceeded = 13,      // more items than decode_limits::max_items
  string_limit_exceeded = 14,    // a string longer than decode_limits::max_string_bytes
  input_limit_exceeded = 15,     // input longer than decode_limits::max_total_bytes
  invalid_limits = 16,           // decode_limits::validate() failed
  output_full = 17,              // the encoder's output buffer is full
  no_more_items = 18,            // next() after the top-level item was complete
  type_mismatch = 19,            // typed decoding met another major type than the field's
  integer_out_of_range = 20,     // an integer does not fit the field's type
  unknown_key = 21,              // a map key the schema does not declare (reject policy)
  missing_key = 22,              // a required (non-optional) field is absent
  capacity_exceeded = 23,        // an array or string longer than its fixed-capacity target
  length_mismatch = 24,          // a fixed-size target (std::array) got another length
  invalid_diagnostic = 25,       // diagnostic notation that cannot be parsed
  not_representable = 26,        // a float value that the target type cannot hold exactly
};

constexpr std::string_view describe(cbor_errc code) noexcept {
  switch (code) {
    case cbor_errc::ok: return "ok";
    case cbor_errc::truncated: return "truncated input";
    case cbor_errc::trailing_bytes: return "trailing bytes after the item";
    case cbor_errc::non_shortest_argument: return "integer or length not in shortest form";
    case cbor_errc::non_preferred_float: return "float not in preferred (shortest) form";
    case cbor_errc::indefinite_length: return "indefinite length is not deterministic";
    case cbor_errc::unsorted_map_keys: return "map keys not in bytewise order";
    case cbor_errc::duplicate_map_key: return "duplicate map key";
    case cbor_errc::invalid_utf8: return "text string is not valid UTF-8";
    case cbor_errc::reserved_additional_info: return "reserved additional information (28-30)";
    case cbor_errc::invalid_simple_value: return "invalid simple value encoding";
    case cbor_errc::unexpected_break: return "break stop code outside indefinite item";
    case cbor_errc::depth_limit_exceeded: return "nesting depth limit exceeded";
    case cbor_errc::item_limit_exceeded: return "item count limit exceeded";
    case cbor_errc::string_limit_exceeded: return "string length limit exceeded";
    case cbor_errc::input_limit_exceeded: return "input size limit exceeded";
    case cbor_errc::invalid_limits: return "invalid decode limits";
    case cbor_errc::output_full: return "output buffer full";
    case cbor_errc::no_more_items: return "no more items";
    case cbor_errc::type_mismatch: return "unexpected CBOR type";
    case cbor_errc::integer_out_of_range: return "integer out of range for the field";
    case cbor_errc::unknown_key: return "unknown map key";
    case cbor_errc::missing_key: return "required map key missing";
    case cbor_errc::capacity_exceeded: return "array or string exceeds field capacity";
    case cbor_errc::length_mismatch: return "fixed-size field got another length";
    case cbor_errc::invalid_diagnostic: return "invalid diagnostic notation";
    case cbor_errc::not_representable: return "float not representable in the field type";
  }
  return "unknown cbor error";
}

}  // namespace wire
WEFT_END

// Registered before any code below builds a weft::error from a cbor_errc.
WEFT_ERROR_DOMAIN(weft::wire::cbor_errc, "cbor")

WEFT_BEGIN
namespace wire {

/// Bounds for one decode. Each is checked before the decoder acts on a length it read.
struct decode_limits {
  /// Largest max_depth that validate() accepts (the reader's fixed frame stack).
  static constexpr std::size_t max_depth_supported = 64;

  std::size_t max_depth = 32;                  // nested arrays, maps and tags
  std::size_t max_items = 65536;               // data items in the whole input, every level
  std::size_t max_string_bytes = 1u << 20;     // one byte or text string
  std::size_t max_total_bytes = 16u << 20;     // the whole input

  [[nodiscard]] constexpr result<void> validate() const noexcept {
    if (max_depth == 0 || max_depth > max_depth_supported)
      return error(cbor_errc::invalid_limits, "decode_limits.max_depth not in 1..64");
    if (max_items == 0) return error(cbor_errc::invalid_limits, "decode_limits.max_items is 0");
    if (max_total_bytes == 0)
      return error(cbor_errc::invalid_limits, "decode_limits.max_total_bytes is 0");
    return ok();
  }
};

/// The eight major types, with floats split from simple values.
enum class cbor_type : std::uint8_t {
  unsigned_int,  // argument is the value
  negative_int,  // argument n stands for -1 - n
  bytes,         // content is the string
  text,          // content is the UTF-8 string (validated)
  array,         // argument is the element count
  map,           // argument is the pair count
  tag,           // argument is the tag number; the tagged item follows
  simple,        // argument is the simple value (20 false, 21 true, 22 null, 23 undefined)
  floating,      // float_value holds the value
};

inline constexpr std::uint64_t simple_false = 20;
inline constexpr std::uint64_t simple_true = 21;
inline constexpr std::uint64_t simple_null = 22;
inline constexpr std::uint64_t simple_undefined = 23;

/// One head read by the decoder. Strings are views into the decoder's input.
struct cbor_item {
  cbor_type type = cbor_type::unsigned_int;
  std::uint64_t argument = 0;
  byte_view content{};
  double float_value = 0.0;
  std::size_t offset = 0;  // where the head starts in the input
  std::size_t depth = 0;   // number of enclosing arrays, maps and tags
};

namespace detail {

/// Half-precision bits to double (exact).
[[nodiscard]] inline double half_to_double(std::uint16_t half) noexcept {
  const std::uint64_t sign = static_cast<std::uint64_t>(half >> 15) << 63;
  const unsigned exponent = (half >> 10) & 0x1fu;
  const std::uint64_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in double
    const double magnitude = static_cast<double>(mantissa) / 16777216.0;  // exact
    return sign != 0 ? -magnitude : magnitude;
  }
  std::uint64_t bits = 0;
  if (exponent == 31) bits = sign | (0x7ffull << 52) | (mantissa << 42);
  else bits = sign | (static_cast<std::uint64_t>(exponent - 15 + 1023) << 52) | (mantissa << 42);
  return std::bit_cast<double>(bits);
}

/// If `value` (not NaN) is exactly a half, stores its bits and returns true.
[[nodiscard]] inline bool double_to_half_exact(double value, std::uint16_t& out) noexcept {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 48) & 0x8000u);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ffu);
  const std::uint64_t mantissa = bits & ((1ull << 52) - 1);
  if (exponent == 0x7ff) {  // infinity (NaN is handled by the callers)
    out = static_cast<std::uint16_t>(sign | 0x7c00u);
    return mantissa == 0;
  }
  if (exponent == 0) {  // zero, or a double subnormal: far below half range
    out = sign;
    return mantissa == 0;
  }
  const int unbiased = exponent - 1023;
  if (unbiased >= -14 && unbiased <= 15) {  // half normal
    if ((mantissa & ((1ull << 42) - 1)) != 0) return false;
    out = static_cast<std::uint16_t>(sign | static_cast<unsigned>(unbiased + 15) << 10 |
                                     static_cast<unsigned>(mantissa >> 42));
    return true;
  }
  if (unbiased >= -24 && unbiased < -14) {  // half subnormal: m * 2^-24
    const std::uint64_t full = mantissa | (1ull << 52);
    const int shift = 28 - unbiased;  // 43..52
    if ((full & ((1ull << shift) - 1)) != 0) return false;
    out = static_cast<std::uint16_t>(sign | static_cast<unsigned>(full >> shift));
    return true;
  }
  return false;
}

/// True when `value` (not NaN) is exactly a single-precision float.
[[nodiscard]] inline bool double_fits_single(double value) noexcept {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const int exponent = static_cast<int>((bits >> 52) & 0x7ffu);
  const std::uint64_t mantissa = bits & ((1ull << 52) - 1);
  if (exponent == 0x7ff || exponent == 0) return mantissa == 0;
  const int unbiased = exponent - 1023;
  if (unbiased >= -126 && unbiased <= 127) return (mantissa & ((1ull << 29) - 1)) == 0;
  if (unbiased >= -149 && unbiased < -126) {
    const std::uint64_t full = mantissa | (1ull << 52);
    const int shift = -97 - unbiased;  // 30..52
    return (full & ((1ull << shift) - 1)) == 0;
  }
  return false;
}

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
[[nodiscard]] constexpr bool valid_utf8(byte_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint8_t lo = 0x80, hi = 0xbf;  // bounds of the second byte
    if (c >= 0xc2 && c <= 0xdf) length = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (n - i < length) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (std::size_t k = 2; k < length; ++k)
      if ((s[i + k] & 0xc0u) != 0x80u) return false;
    i += length;
  }
  return true;
}

}  // namespace detail

/// Writes deterministic CBOR into a byte_writer (caller memory), or only counts the bytes
/// when default-constructed. Maps: write the keys in bytewise order of their encodings.
/// Each put_*() reports its own result; the first failure also sticks (status()), so a
/// long sequence of writes may be checked once at the end.
class cbor_writer {
 public:
  /// Counts the bytes that would be written; writes nothing.
  constexpr cbor_writer() noexcept = default;
  constexpr explicit cbor_writer(byte_writer& out) noexcept : out_(&out) {}

  /// Bytes written (or counted) so far through this writer.
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  /// ok, or the first failure of any put_*().
  [[nodiscard]] result<void> status() const noexcept {
    if (failed_) return failure_;
    return ok();
  }
  [[nodiscard]] constexpr bool failed() const noexcept { return failed_; }
  /// Records a failure found by a caller (a codec<T>); the first one sticks.
  void fail(const weft::error& e) noexcept {
    if (failed_) return;
    failed_ = true;
    failure_ = e;
  }

  result<void> put_uint(std::uint64_t value) noexcept { return report(head(0, value)); }
  /// Writes -1 - n (major type 1).
  result<void> put_negative(std::uint64_t n) noexcept { return report(head(1, n)); }
  result<void> put_int(std::int64_t value) noexcept { return report(write_int(value)); }
  result<void> put_bytes(byte_view bytes) noexcept { return report(write_bytes(bytes)); }
  /// Refuses text that is not UTF-8: the decoder would refuse it too.
  result<void> put_text(std::string_view text) noexcept { return report(write_text(text)); }
  result<void> begin_array(std::uint64_t count) noexcept { return report(head(4, count)); }
  result<void> begin_map(std::uint64_t pair_count) noexcept { return report(head(5, pair_count)); }
  result<void> put_tag(std::uint64_t number) noexcept { return report(head(6, number)); }
  result<void> put_bool(bool value) noexcept { return report(byte(value ? 0xf5 : 0xf4)); }
  result<void> put_null() noexcept { return report(byte(0xf6)); }
  result<void> put_undefined() noexcept { return report(byte(0xf7)); }
  /// Simple values 0..23 and 32..255 (24..31 are not valid simple values).
  result<void> put_simple(std::uint8_t value) noexcept { return report(write_simple(value)); }
  /// Preferred serialization: the shortest of half, single, double that is exact;
  /// every NaN is written as the canonical half NaN f97e00.
  result<void> put_float(double value) noexcept { return report(write_float(value)); }
  /// Copies an already encoded item verbatim (the caller vouches that it is deterministic).
  result<void> put_encoded(byte_view item) noexcept { return report(raw(item)); }

  // The same writes without a result object: failures only stick (see status()). Used by
  // the typed layer, where building a result per field costs more than the write.
  bool write_uint(std::uint64_t value) noexcept { return head(0, value); }
  bool write_int(std::int64_t value) noexcept {
    if (value >= 0) return head(0, static_cast<std::uint64_t>(value));
    return head(1, static_cast<std::uint64_t>(-(value + 1)));
  }
  bool write_bytes(byte_view bytes) noexcept { return head(2, bytes.size()) && raw(bytes); }
  bool write_text(std::string_view text) noexcept {
    if (!detail::valid_utf8(as_bytes(text))) return stop(cbor_errc::invalid_utf8, "put_text");
    return head(3, text.size()) && raw(as_bytes(text));
  }
  bool write_array(std::uint64_t count) noexcept { return head(4, count); }
  bool write_map(std::uint64_t pair_count) noexcept { return head(5, pair_count); }
  bool write_bool(bool value) noexcept { return byte(value ? 0xf5 : 0xf4); }
  bool write_simple(std::uint8_t value) noexcept {
    if (value >= 24 && value < 32) return stop(cbor_errc::invalid_simple_value, "put_simple");
    if (value < 24) return byte(static_cast<std::uint8_t>(0xe0u | value));
    const std::uint8_t two[2] = {0xf8, value};
    return raw(byte_view(two, 2));
  }
  bool write_float(double value) noexcept {
    std::uint8_t buffer[9];
    std::size_t length = 0;
    std::uint16_t half = 0;
    if (value != value) {
      buffer[0] = 0xf9; buffer[1] = 0x7e; buffer[2] = 0x00;
      length = 3;
    } else if (detail::double_to_half_exact(value, half)) {
      buffer[0] = 0xf9;
      store_be<std::uint16_t>(buffer + 1, half);
      length = 3;
    } else if (detail::double_fits_single(value)) {
      buffer[0] = 0xfa;
      store_be<std::uint32_t>(buffer + 1, std::bit_cast<std::uint32_t>(static_cast<float>(value)));
      length = 5;
    } else {
      buffer[0] = 0xfb;
      store_be<std::uint64_t>(buffer + 1, std::bit_cast<std::uint64_t>(value));
      length = 9;
    }
    return raw(byte_view(buffer, length));
  }
  bool write_encoded(byte_view item) noexcept { return raw(item); }

 private:
  result<void> report(bool written) const noexcept {
    if (WEFT_LIKELY(written)) return ok();
    return failure_;
  }
  bool stop(cbor_errc code, const char* where) noexcept {
    fail(error(code, where));
    return false;
  }
  bool byte(std::uint8_t b) noexcept {
    if (WEFT_UNLIKELY(failed_)) return false;
    if (out_ != nullptr && WEFT_UNLIKELY(!out_->put(b)))
      return stop(cbor_errc::output_full, "cbor_writer");
    ++size_;
    return true;
  }
  bool raw(byte_view bytes) noexcept {
    if (WEFT_UNLIKELY(failed_)) return false;
    if (out_ != nullptr && WEFT_UNLIKELY(!out_->put(bytes)))
      return stop(cbor_errc::output_full, "cbor_writer");
    size_ += bytes.size();
    return true;
  }
  template <unsigned_word U>
  bool word(U value) noexcept {
    if (WEFT_UNLIKELY(failed_)) return false;
    if (out_ != nullptr && WEFT_UNLIKELY(!out_->put_be<U>(value)))
      return stop(cbor_errc::output_full, "cbor_writer");
    size_ += sizeof(U);
    return true;
  }
  // Fixed-width stores (no variable-length memcpy): heads are most of the writes.
  WEFT_ALWAYS_INLINE bool head(unsigned major, std::uint64_t argument) noexcept {
    const auto initial = static_cast<std::uint8_t>(major << 5);
    if (argument < 24) return byte(static_cast<std::uint8_t>(initial | argument));
    if (argument <= 0xffu)
      return word<std::uint16_t>(static_cast<std::uint16_t>((initial | 24u) << 8 | argument));
    if (argument <= 0xffffu)
      return byte(static_cast<std::uint8_t>(initial | 25u)) &&
             word<std::uint16_t>(static_cast<std::uint16_t>(argument));
    if (argument <= 0xffffffffu)
      return byte(static_cast<std::uint8_t>(initial | 26u)) &&
             word<std::uint32_t>(static_cast<std::uint32_t>(argument));
    return byte(static_cast<std::uint8_t>(initial | 27u)) && word<std::uint64_t>(argument);
  }

  byte_writer* out_ = nullptr;
  std::size_t size_ = 0;
  bool failed_ = false;
  weft::error failure_{};
};

/// Strict pull decoder over one encoded item. Call next() (or the allocation- and
/// copy-light read()) for each head in document order (depth first); container heads give
/// their counts, and the reader checks the structure, the limits and the ordering of map
/// keys as items complete. The first error is sticky.
/// `DepthCapacity` sizes the inline frame stack (decode_limits::max_depth may not exceed it).
template <std::size_t DepthCapacity = decode_limits::max_depth_supported>
class basic_cbor_reader {
 public:
  basic_cbor_reader(byte_view input, const decode_limits& limits = {}) noexcept
      : input_(input), limits_(limits) {
    frames_[0].remaining = 1;
    frames_[0].kind = frame_kind::root;
    if (auto valid = limits.validate(); !valid) failure_ = valid.error();
    else if (limits.max_depth > DepthCapacity)
      failure_ = error(cbor_errc::invalid_limits, "max_depth above the reader's capacity");
    else if (input.size() > limits.max_total_bytes)
      failure_ = error(cbor_errc::input_limit_exceeded, "cbor_reader");
    else
      return;
    failed_ = true;
  }

  [[nodiscard]] std::size_t position() const noexcept { return position_; }
  [[nodiscard]] std::size_t depth() const noexcept { return depth_; }
  [[nodiscard]] byte_view input() const noexcept { return input_; }
  /// True once the top-level item is complete.
  [[nodiscard]] bool complete() const noexcept { return depth_ == 0 && frames_[0].remaining == 0; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  /// The sticky error (meaningful when failed()).
  [[nodiscard]] const weft::error& failure() const noexcept { return failure_; }

  /// Reads the next head (and the content of a string) into `item`. Returns false on
  /// error; failure() then says why, and every later call fails the same way.
  [[nodiscard]] bool read(cbor_item& item) noexcept {
    if (WEFT_UNLIKELY(failed_)) return false;
    const cbor_errc code = read_next(item);
    if (WEFT_LIKELY(code == cbor_errc::ok)) return true;
    fail(code, where_);
    return false;
  }
  /// Reads the next head (and the content of a string).
  result<cbor_item> next() noexcept {
    cbor_item item;
    if (!read(item)) return failure_;
    return item;
  }

  /// Records an error found by a caller (typed decoding, a codec<T>); the first one sticks.
  void fail(cbor_errc code, const char* where) noexcept {
    if (failed_) return;
    failed_ = true;
    failure_ = error(code, where);
  }
  void fail(const weft::error& e) noexcept {
    if (failed_) return;
    failed_ = true;
    failure_ = e;
  }

  /// After `item` was read, skips what is inside it (array elements, map pairs, the
  /// tagged item), so the reader stands after the whole item. False on error.
  [[nodiscard]] bool skip_rest(const cbor_item& item) noexcept {
    cbor_item inner;
    while (depth_ > item.depth)
      if (!read(inner)) return false;
    return true;
  }
  result<void> skip_contents(const cbor_item& item) noexcept {
    if (!skip_rest(item)) return failure_;
    return ok();
  }
  /// Skips the next complete item.
  result<void> skip() noexcept {
    cbor_item item;
    if (!read(item) || !skip_rest(item)) return failure_;
    return ok();
  }
  /// The encoded bytes of the next complete item (validated like everything else).
  result<byte_view> next_encoded() noexcept {
    const std::size_t start = position_;
    cbor_item item;
    if (!read(item) || !skip_rest(item)) return failure_;
    return input_.subspan(start, position_ - start);
  }
  /// Succeeds when the top-level item is complete and nothing follows it.
  result<void> finish() noexcept {
    if (failed_) return failure_;
    if (!complete()) return error(cbor_errc::truncated, "cbor_reader.finish");
    if (position_ != input_.size()) return error(cbor_errc::trailing_bytes, "cbor_reader");
    return ok();
  }

 private:
  enum class frame_kind : std::uint8_t { root, array, map, tag };
  struct frame {
    std::uint64_t remaining;  // items still to come (keys and values count separately)
    std::size_t key_start;
    std::size_t previous_key_start;
    std::size_t previous_key_size;
    frame_kind kind;
    bool has_previous_key;
  };

  cbor_errc stop(cbor_errc code, const char* where) noexcept {
    where_ = where;
    return code;
  }

  cbor_errc read_next(cbor_item& item) noexcept {
    frame& top = frames_[depth_];
    if (top.remaining == 0) return stop(cbor_errc::no_more_items, "cbor_reader.next");
    if (top.kind == frame_kind::map && (top.remaining & 1u) == 0) top.key_start = position_;
    if (++items_read_ > limits_.max_items)
      return stop(cbor_errc::item_limit_exceeded, "cbor_reader");
    item.offset = position_;
    item.depth = depth_;
    item.content = {};
    item.float_value = 0.0;
    if (const cbor_errc e = read_head(item); e != cbor_errc::ok) return e;
    switch (item.type) {
      case cbor_type::array:
        if (item.argument == 0) break;
        return push(frame_kind::array, item.argument);
      case cbor_type::map:
        if (item.argument == 0) break;
        return push(frame_kind::map, item.argument * 2);
      case cbor_type::tag: return push(frame_kind::tag, 1);
      default: break;
    }
    return complete_item();
  }

  cbor_errc push(frame_kind kind, std::uint64_t count) noexcept {
    if (depth_ + 1 > limits_.max_depth)
      return stop(cbor_errc::depth_limit_exceeded, "cbor_reader");
    frame& f = frames_[++depth_];
    f.kind = kind;
    f.remaining = count;
    f.has_previous_key = false;
    return cbor_errc::ok;
  }

  /// An item ended at position_: count it in its container, check map key order, and
  /// close every container that this completes.
  cbor_errc complete_item() noexcept {
    for (;;) {
      frame& f = frames_[depth_];
      if (f.kind == frame_kind::map && (f.remaining & 1u) == 0) {
        if (const cbor_errc e = check_key(f); e != cbor_errc::ok) return e;
      }
      --f.remaining;
      if (f.remaining != 0 || depth_ == 0) return cbor_errc::ok;
      --depth_;
    }
  }

  cbor_errc check_key(frame& f) noexcept {
    const std::size_t size = position_ - f.key_start;
    if (f.has_previous_key) {
      const std::uint8_t* previous = input_.data() + f.previous_key_start;
      const std::uint8_t* current = input_.data() + f.key_start;
      // Most keys are small integers, one byte each, and differ in that byte: decide
      // those without a memcmp call.
      if (*previous != *current) {
        if (*previous > *current) return stop(cbor_errc::unsorted_map_keys, "cbor_reader");
        f.previous_key_start = f.key_start;
        f.previous_key_size = size;
        return cbor_errc::ok;
      }
      const std::size_t common = size < f.previous_key_size ? size : f.previous_key_size;
      int order = std::memcmp(previous, current, common);
      if (order == 0) order = f.previous_key_size < size ? -1 : (f.previous_key_size > size);
      if (order == 0) return stop(cbor_errc::duplicate_map_key, "cbor_reader");
      if (order > 0) return stop(cbor_errc::unsorted_map_keys, "cbor_reader");
    }
    f.has_previous_key = true;
    f.previous_key_start = f.key_start;
    f.previous_key_size = size;
    return cbor_errc::ok;
  }

  [[nodiscard]] std::size_t left() const noexcept { return input_.size() - position_; }

  cbor_errc read_head(cbor_item& item) noexcept {
    if (left() == 0) return stop(cbor_errc::truncated, "cbor head");
    const std::uint8_t initial = input_[position_++];
    const unsigned major = initial >> 5;
    const unsigned info = initial & 0x1fu;
    if (major == 7) return read_major7(item, info);
    std::uint64_t argument = info;
    if (info >= 24) {
      if (info >= 28) {
        if (info == 31) return stop(cbor_errc::indefinite_length, "cbor head");
        return stop(cbor_errc::reserved_additional_info, "cbor head");
      }
      const std::size_t width = std::size_t{1} << (info - 24);
      if (left() < width) return stop(cbor_errc::truncated, "cbor head argument");
      argument = load_argument(width);
      const std::uint64_t shorter_max = width == 1 ? 23 : (std::uint64_t{1} << (width * 4)) - 1;
      if (argument <= shorter_max)
        return stop(cbor_errc::non_shortest_argument, "cbor head argument");
    }
    item.argument = argument;
    item.type = static_cast<cbor_type>(major);
    switch (major) {
      case 2:
      case 3: return read_string(item);
      case 4:
        if (argument > left()) return stop(cbor_errc::truncated, "cbor array count");
        return check_item_budget(argument);
      case 5:
        if (argument > left() / 2) return stop(cbor_errc::truncated, "cbor map count");
        return check_item_budget(argument * 2);
      default: return cbor_errc::ok;
    }
  }

  cbor_errc check_item_budget(std::uint64_t children) noexcept {
    if (children > limits_.max_items - items_read_)
      return stop(cbor_errc::item_limit_exceeded, "cbor container count");
    return cbor_errc::ok;
  }

  cbor_errc read_string(cbor_item& item) noexcept {
    if (item.argument > left()) return stop(cbor_errc::truncated, "cbor string");
    if (item.argument > limits_.max_string_bytes)
      return stop(cbor_errc::string_limit_exceeded, "cbor string");
    const auto length = static_cast<std::size_t>(item.argument);
    item.content = input_.subspan(position_, length);
    position_ += length;
    if (item.type == cbor_type::text && !detail::valid_utf8(item.content))
      return stop(cbor_errc::invalid_utf8, "cbor text");
    return cbor_errc::ok;
  }

  cbor_errc read_major7(cbor_item& item, unsigned info) noexcept {
    item.type = cbor_type::simple;
    if (info < 24) {
      item.argument = info;
      return cbor_errc::ok;
    }
    if (info >= 28) {
      if (info == 31) return stop(cbor_errc::unexpected_break, "cbor break");
      return stop(cbor_errc::reserved_additional_info, "cbor head");
    }
    const std::size_t width = std::size_t{1} << (info - 24);
    if (left() < width) return stop(cbor_errc::truncated, "cbor head argument");
    const std::uint64_t bits = load_argument(width);
    item.argument = bits;
    if (width == 1) {
      if (bits < 32) return stop(cbor_errc::invalid_simple_value, "cbor simple value");
      return cbor_errc::ok;
    }
    item.type = cbor_type::floating;
    return read_float(item, width, bits);
  }

  cbor_errc read_float(cbor_item& item, std::size_t width, std::uint64_t bits) noexcept {
    if (width == 2) {
      const bool nan = (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0;
      if (nan && bits != 0x7e00u) return stop(cbor_errc::non_preferred_float, "cbor NaN");
      item.float_value = detail::half_to_double(static_cast<std::uint16_t>(bits));
      return cbor_errc::ok;
    }
    double value = 0.0;
    if (width == 4) value = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    else value = std::bit_cast<double>(bits);
    std::uint16_t half = 0;
    if (value != value) return stop(cbor_errc::non_preferred_float, "cbor NaN");
    if (detail::double_to_half_exact(value, half))
      return stop(cbor_errc::non_preferred_float, "cbor float fits half");
    if (width == 8 && detail::double_fits_single(value))
      return stop(cbor_errc::non_preferred_float, "cbor float fits single");
    item.float_value = value;
    return cbor_errc::ok;
  }

  std::uint64_t load_argument(std::size_t width) noexcept {
    const std::uint8_t* p = input_.data() + position_;
    position_ += width;
    switch (width) {
      case 1: return *p;
      case 2: return load_be<std::uint16_t>(p);
      case 4: return load_be<std::uint32_t>(p);
      default: return load_be<std::uint64_t>(p);
    }
  }

  byte_view input_;
  decode_limits limits_;
  std::size_t position_ = 0;
  std::size_t depth_ = 0;
  std::size_t items_read_ = 0;
  bool failed_ = false;
  const char* where_ = "";
  weft::error failure_{};
  frame frames_[DepthCapacity + 1];  // written before read: push() sets every field used
};

using cbor_reader = basic_cbor_reader<>;

/// Checks that `input` is exactly one item in core deterministic encoding.
[[nodiscard]] inline result<void> validate_cbor(byte_view input,
                                               const decode_limits& limits = {}) noexcept {
  cbor_reader reader(input, limits);
  WEFT_TRY(reader.skip());
  return reader.finish();
}

}  // namespace wire
WEFT_END
