// weft/crypto/cose.hpp - COSE (RFC 9052/9053): COSE_Sign1 with EdDSA and COSE_Encrypt0
// with ChaCha20/Poly1305 over the signer/aead concepts; strict decoding on the wire/ CBOR
// reader. Portable; no allocation (the caller gives output and scratch buffers).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/crypto/concepts.hpp"
#include "weft/crypto/errors.hpp"
#include "weft/wire/cbor.hpp"

WEFT_BEGIN
namespace crypto {
namespace cose {

// Registered values (IANA COSE registries).
inline constexpr std::uint64_t tag_sign1 = 18;
inline constexpr std::uint64_t tag_encrypt0 = 16;
inline constexpr std::int64_t alg_eddsa = -8;
inline constexpr std::int64_t alg_chacha20_poly1305 = 24;
inline constexpr std::int64_t label_alg = 1;
/// Encrypt0's AAD (Enc_structure: protected header and external AAD) is built on the stack;
/// larger ones are refused with cose_too_large.
inline constexpr std::size_t max_enc_structure_size_bytes = 1024;
inline constexpr std::int64_t label_crit = 2;
inline constexpr std::int64_t label_content_type = 3;
inline constexpr std::int64_t label_kid = 4;
inline constexpr std::int64_t label_iv = 5;
inline constexpr std::int64_t label_partial_iv = 6;

/// COSE structures nest at most a few levels; a small reader keeps decoding cheap.
inline constexpr std::size_t max_depth_supported = 8;
inline constexpr std::size_t max_header_entries_supported = 16;
using cose_reader = wire::basic_cbor_reader<max_depth_supported>;

/// What the decoder accepts. Tags: RFC 9052 leaves it to the application whether the
/// outer tag is required; a present tag must always be the right one.
enum class tag_policy : std::uint8_t { optional, required, forbidden };

struct decode_options {
  wire::decode_limits cbor{.max_depth = 8, .max_items = 256, .max_string_bytes = 1u << 20,
                           .max_total_bytes = (1u << 20) + 4096};
  std::size_t max_header_entries = 16;  // per bucket (protected, unprotected), at most 16
  std::size_t max_kid_size_bytes = 256;
  tag_policy tag = tag_policy::optional;

  [[nodiscard]] result<void> validate() const noexcept {
    WEFT_TRY(cbor.validate());
    if (cbor.max_depth > max_depth_supported)
      return error(core_errc::invalid_options, "cose::decode_options.cbor.max_depth above 8");
    if (max_header_entries == 0 || max_header_entries > max_header_entries_supported)
      return error(core_errc::invalid_options, "cose::decode_options.max_header_entries");
    return ok();
  }
};

/// The header parameters this implementation understands, from both buckets.
struct headers {
  std::optional<std::int64_t> alg;   // absent, or the integer algorithm
  bool alg_is_text = false;          // a text algorithm name (none is supported)
  std::optional<byte_view> kid;
  std::optional<byte_view> iv;
  std::optional<byte_view> partial_iv;
  std::optional<std::uint64_t> content_format;  // content type as a CoAP content format
  std::optional<std::string_view> content_type;  // content type as a media type
};

/// A decoded COSE_Sign1 (views into the input).
struct sign1_message {
  byte_view protected_bytes;  // the bstr content, as signed
  headers header;
  byte_view payload;
  byte_view signature;
};

/// A decoded COSE_Encrypt0 (views into the input).
struct encrypt0_message {
  byte_view protected_bytes;
  headers header;
  byte_view ciphertext;  // includes the tag
};

/// Options for producing a message. `kid` goes to the unprotected bucket.
struct encode_options {
  std::optional<byte_view> kid;
  std::optional<std::uint64_t> content_format;  // protected label 3 (CoAP content format)
  byte_view external_aad{};
  bool tagged = true;
};

namespace detail {

inline error malformed(const char* where) noexcept { return error(crypto_errc::cose_malformed, where); }
inline error bad_header(const char* where) noexcept { return error(crypto_errc::cose_bad_header, where); }

/// CBOR errors surface as cose_malformed; the CBOR code is deliberately not exposed
/// (callers act on "not a valid envelope"), but `where` names the step.
template <class T>
result<T> structural(result<T> r, const char* where) noexcept {
  if (!r) return malformed(where);
  return r;
}
inline result<void> structural(result<void> r, const char* where) noexcept {
  if (!r) return malformed(where);
  return ok();
}

inline result<std::int64_t> read_int(const wire::cbor_item& item) noexcept {
  constexpr std::uint64_t max = static_cast<std::uint64_t>(INT64_MAX);
  if (item.type == wire::cbor_type::unsigned_int && item.argument <= max)
    return static_cast<std::int64_t>(item.argument);
  if (item.type == wire::cbor_type::negative_int && item.argument <= max)
    return -1 - static_cast<std::int64_t>(item.argument);
  return bad_header("cose: integer label or value out of range");
}

/// Encoded keys of one bucket, to detect a label present in both buckets.
using label_list = static_vector<byte_view, max_header_entries_supported>;

struct bucket_state {
  label_list labels;
  static_vector<std::int64_t, max_header_entries_supported> int_labels;
  static_vector<wire::cbor_item, 8> crit;  // labels listed in crit (int or text items)
};

/// Reads one header value for a known label into `out`.
inline result<void> read_known(cose_reader& reader, std::int64_t label, bool is_protected,
                               headers& out, bucket_state& state,
                               const decode_options& options) noexcept {
  WEFT_TRY_ASSIGN(const wire::cbor_item value, structural(reader.next(), "cose header value"));
  switch (label) {
    case label_alg:
      if (value.type == wire::cbor_type::text) {
        out.alg_is_text = true;
        return ok();
      }
      if (value.type != wire::cbor_type::unsigned_int && value.type != wire::cbor_type::negative_int)
        return bad_header("cose: alg is neither int nor text");
      { WEFT_TRY_ASSIGN(out.alg, read_int(value)); }
      return ok();
    case label_crit: {
      if (!is_protected) return bad_header("cose: crit outside the protected bucket");
      if (value.type != wire::cbor_type::array || value.argument == 0 || value.argument > 8)
        return bad_header("cose: crit is not an array of 1..8 labels");
      for (std::uint64_t i = 0; i < value.argument; ++i) {
        WEFT_TRY_ASSIGN(const wire::cbor_item l, structural(reader.next(), "cose crit"));
        if (l.type != wire::cbor_type::unsigned_int && l.type != wire::cbor_type::negative_int &&
            l.type != wire::cbor_type::text)
          return bad_header("cose: crit label is neither int nor text");
        WEFT_TRY(state.crit.push_back(l));
      }
      return ok();
    }
    case label_content_type:
      if (value.type == wire::cbor_type::unsigned_int) out.content_format = value.argument;
      else if (value.type == wire::cbor_type::text) out.content_type = as_chars(value.content);
      else return bad_header("cose: content type is neither uint nor text");
      return ok();
    case label_kid:
      if (value.type != wire::cbor_type::bytes) return bad_header("cose: kid is not a bstr");
      if (value.content.size() > options.max_kid_size_bytes)
        return error(crypto_errc::cose_too_large, "cose: kid");
      out.kid = value.content;
      return ok();
    case label_iv:
    case label_partial_iv:
      if (value.type != wire::cbor_type::bytes) return bad_header("cose: iv is not a bstr");
      (label == label_iv ? out.iv : out.partial_iv) = value.content;
      return ok();
    default:
      return structural(reader.skip_contents(value), "cose header value");
  }
}

/// Reads a header map whose head `map` was just read. `other` holds the labels of the
/// bucket read before (labels must be unique across both buckets).
inline result<void> read_bucket(cose_reader& reader, const wire::cbor_item& map,
                                bool is_protected, headers& out, bucket_state& state,
                                const label_list* other, const decode_options& options) noexcept {
  if (map.type != wire::cbor_type::map) return bad_header("cose: header bucket is not a map");
  if (map.argument > options.max_header_entries)
    return error(crypto_errc::cose_too_large, "cose: header entries");
  for (std::uint64_t i = 0; i < map.argument; ++i) {
    WEFT_TRY_ASSIGN(const wire::cbor_item key, structural(reader.next(), "cose header label"));
    const byte_view encoded_key = reader.input().subspan(key.offset, reader.position() - key.offset);
    if (other != nullptr)
      for (const byte_view seen : *other)
        if (equal_bytes(seen, encoded_key)) return bad_header("cose: label in both buckets");
    WEFT_TRY(state.labels.push_back(encoded_key));
    if (key.type == wire::cbor_type::text) {
      WEFT_TRY(structural(reader.skip(), "cose header value"));
      continue;
    }
    if (key.type != wire::cbor_type::unsigned_int && key.type != wire::cbor_type::negative_int)
      return bad_header("cose: label is neither int nor text");
    WEFT_TRY_ASSIGN(const std::int64_t label, read_int(key));
    WEFT_TRY(state.int_labels.push_back(label));
    WEFT_TRY(read_known(reader, label, is_protected, out, state, options));
  }
  return ok();
}

/// Every crit label must be one we process and be present in the protected bucket.
inline result<void> check_crit(const bucket_state& protected_state) noexcept {
  for (const auto& l : protected_state.crit) {
    if (l.type == wire::cbor_type::text)
      return error(crypto_errc::cose_unknown_critical, "cose: crit lists a text label");
    WEFT_TRY_ASSIGN(const std::int64_t label, read_int(l));
    if (label < label_alg || label > label_partial_iv || label == label_crit)
      return error(crypto_errc::cose_unknown_critical, "cose: crit lists an unknown label");
    bool present = false;
    for (const std::int64_t seen : protected_state.int_labels) present = present || seen == label;
    if (!present) return bad_header("cose: crit label not in the protected bucket");
  }
  return ok();
}

/// Reads the optional tag, the array head of `count` elements, and both header buckets.
inline result<void> read_envelope_start(cose_reader& reader, std::uint64_t tag,
                                        std::uint64_t count, byte_view& protected_bytes,
                                        headers& out, const decode_options& options) noexcept {
  WEFT_TRY_ASSIGN(wire::cbor_item item, structural(reader.next(), "cose envelope"));
  if (item.type == wire::cbor_type::tag) {
    if (options.tag == tag_policy::forbidden || item.argument != tag)
      return error(crypto_errc::cose_wrong_tag, "cose: tag");
    WEFT_TRY_ASSIGN(item, structural(reader.next(), "cose envelope"));
    if (item.type == wire::cbor_type::tag) return error(crypto_errc::cose_wrong_tag, "cose: two tags");
  } else if (options.tag == tag_policy::required) {
    return error(crypto_errc::cose_wrong_tag, "cose: tag missing");
  }
  if (item.type != wire::cbor_type::array || item.argument != count)
    return malformed("cose: not an array of the right length");
  WEFT_TRY_ASSIGN(const wire::cbor_item prot, structural(reader.next(), "cose protected"));
  if (prot.type != wire::cbor_type::bytes) return bad_header("cose: protected is not a bstr");
  protected_bytes = prot.content;
  bucket_state protected_state;
  if (!protected_bytes.empty()) {
    cose_reader inner(protected_bytes, options.cbor);
    WEFT_TRY_ASSIGN(const wire::cbor_item map, structural(inner.next(), "cose protected map"));
    WEFT_TRY(read_bucket(inner, map, true, out, protected_state, nullptr, options));
    WEFT_TRY(structural(inner.finish(), "cose protected map"));
  }
  WEFT_TRY(check_crit(protected_state));
  WEFT_TRY_ASSIGN(const wire::cbor_item unprot, structural(reader.next(), "cose unprotected"));
  bucket_state unprotected_state;
  WEFT_TRY(read_bucket(reader, unprot, false, out, unprotected_state, &protected_state.labels,
                       options));
  if (out.iv && out.partial_iv) return bad_header("cose: both iv and partial iv");
  return ok();
}

/// A minimal CBOR head writer for the fixed shapes COSE needs (the hot path of every
/// envelope). Writes the same shortest-form heads as wire::cbor_writer; the first write that
/// does not fit sets `full` and everything after is ignored.
class envelope_writer {
 public:
  explicit envelope_writer(mutable_byte_view out) noexcept : out_(out) {}
  void head(unsigned major, std::uint64_t value) noexcept {
    // Bytes are stored in place (no memcpy call per head: heads dominate small envelopes).
    const auto m = static_cast<std::uint8_t>(major << 5);
    const unsigned extra = value < 24 ? 0 : value <= 0xff ? 1 : value <= 0xffff ? 2
                         : value <= 0xffffffffu ? 4 : 8;
    if (full_ || 1 + extra > out_.size() - at_) {
      full_ = true;
      return;
    }
    std::uint8_t* b = out_.data() + at_;
    if (extra == 0) {
      b[0] = static_cast<std::uint8_t>(m | value);
    } else {
      b[0] = static_cast<std::uint8_t>(m | (extra == 1 ? 24 : extra == 2 ? 25 : extra == 4 ? 26 : 27));
      for (unsigned i = 0; i < extra; ++i)
        b[1 + i] = static_cast<std::uint8_t>(value >> (8 * (extra - 1 - i)));
    }
    at_ += 1 + extra;
  }
  void integer(std::int64_t v) noexcept {
    if (v >= 0) head(0, static_cast<std::uint64_t>(v));
    else head(1, static_cast<std::uint64_t>(-(v + 1)));
  }
  void bstr(byte_view bytes) noexcept {
    head(2, bytes.size());
    raw(bytes);
  }
  void raw(byte_view bytes) noexcept {
    if (full_ || bytes.size() > out_.size() - at_) {
      full_ = true;
      return;
    }
    if (!bytes.empty()) std::memcpy(out_.data() + at_, bytes.data(), bytes.size());
    at_ += bytes.size();
  }
  [[nodiscard]] bool full() const noexcept { return full_; }
  [[nodiscard]] std::size_t size() const noexcept { return at_; }
  [[nodiscard]] byte_view written() const noexcept { return out_.first(at_); }

 private:
  mutable_byte_view out_;
  std::size_t at_ = 0;
  bool full_ = false;
};

/// Writes `bstr(protected)` where protected is the map {1: alg} or {1: alg, 3: format};
/// returns the protected bytes (inside `w`'s output).
inline byte_view put_protected(envelope_writer& w, std::int64_t alg,
                               std::optional<std::uint64_t> content_format) noexcept {
  std::uint8_t buffer[24];
  envelope_writer inner(buffer);
  inner.head(5, content_format ? 2 : 1);
  inner.integer(label_alg);
  inner.integer(alg);
  if (content_format) {
    inner.integer(label_content_type);
    inner.head(0, *content_format);
  }
  WEFT_ASSERT(!inner.full() && inner.size() < 24);  // so its bstr head is one byte
  w.bstr(inner.written());
  return w.full() ? byte_view() : w.written().last(inner.size());
}

/// Sig_structure for COSE_Sign1: ["Signature1", protected, external_aad, payload].
inline result<byte_view> sig_structure(byte_view protected_bytes, byte_view external_aad,
                                       byte_view payload, mutable_byte_view scratch) noexcept {
  envelope_writer w(scratch);
  w.head(4, 4);
  w.head(3, 10);
  w.raw(as_bytes("Signature1"));
  w.bstr(protected_bytes);
  w.bstr(external_aad);
  w.bstr(payload);
  if (w.full()) return error(crypto_errc::buffer_too_small, "cose: Sig_structure scratch");
  return w.written();
}

/// Enc_structure for COSE_Encrypt0: ["Encrypt0", protected, external_aad].
inline result<byte_view> enc_structure(byte_view protected_bytes, byte_view external_aad,
                                       mutable_byte_view scratch) noexcept {
  // The common case (both strings under 24 bytes: one-byte heads) is written directly; it
  // runs on every message, where the general writer's per-head checks showed in profiles.
  static constexpr std::uint8_t prefix[] = {0x83, 0x68, 'E', 'n', 'c', 'r', 'y', 'p', 't', '0'};
  const std::size_t p = protected_bytes.size(), a = external_aad.size();
  if (p < 24 && a < 24 && scratch.size() >= sizeof prefix + 2 + p + a) {
    std::uint8_t* at = scratch.data();
    std::memcpy(at, prefix, sizeof prefix);
    at += sizeof prefix;
    *at++ = static_cast<std::uint8_t>(0x40 | p);
    if (p != 0) std::memcpy(at, protected_bytes.data(), p);
    at += p;
    *at++ = static_cast<std::uint8_t>(0x40 | a);
    if (a != 0) std::memcpy(at, external_aad.data(), a);
    return byte_view(scratch.data(), sizeof prefix + 2 + p + a);
  }
  envelope_writer w(scratch);
  w.head(4, 3);
  w.head(3, 8);
  w.raw(as_bytes("Encrypt0"));
  w.bstr(protected_bytes);
  w.bstr(external_aad);
  if (w.full()) return error(crypto_errc::cose_too_large, "cose: Enc_structure above 1024 bytes");
  return w.written();
}

inline constexpr std::size_t head_size(std::size_t n) noexcept {
  return n < 24 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffffu ? 5 : 9;
}

/// The fast path: weft's own canonical envelopes, recognised byte by byte. It only ever
/// accepts what the strict decoder accepts with the same result (a property test checks
/// this); anything else, including every error, goes to the strict decoder.
class canonical_scanner {
 public:
  canonical_scanner(byte_view input, const decode_options& options) noexcept
      : in_(input), options_(options) {}

  bool byte(std::uint8_t expected) noexcept {
    if (at_ >= in_.size() || in_[at_] != expected) return false;
    ++at_;
    return true;
  }
  /// A byte string with a shortest-form head, within the limits.
  bool bstr(byte_view& out) noexcept {
    if (at_ >= in_.size()) return false;
    const std::uint8_t initial = in_[at_++];
    if ((initial >> 5) != 2) return false;
    std::uint64_t length = initial & 0x1f;
    if (length == 24) {
      if (!take_be(1, length) || length < 24) return false;
    } else if (length == 25) {
      if (!take_be(2, length) || length < 0x100) return false;
    } else if (length == 26) {
      if (!take_be(4, length) || length < 0x10000) return false;
    } else if (length > 23) {
      return false;
    }
    if (length > in_.size() - at_ || length > options_.cbor.max_string_bytes) return false;
    out = in_.subspan(at_, static_cast<std::size_t>(length));
    at_ += static_cast<std::size_t>(length);
    return true;
  }
  bool tag_and_array(std::uint8_t tag_byte, std::uint8_t array_byte) noexcept {
    if (in_.size() > options_.cbor.max_total_bytes || options_.cbor.max_depth < 3 ||
        options_.cbor.max_items < 16 || options_.max_header_entries < 2)
      return false;
    if (options_.tag != tag_policy::forbidden && byte(tag_byte)) return byte(array_byte);
    return options_.tag != tag_policy::required && byte(array_byte);
  }
  /// Protected bucket {1: alg} exactly as put_protected writes it (no content type).
  bool protected_alg(std::int64_t alg, byte_view& protected_bytes, headers& out) noexcept {
    if (!bstr(protected_bytes) || protected_bytes.size() < 3 || protected_bytes[0] != 0xa1 ||
        protected_bytes[1] != 0x01)
      return false;
    const byte_view value = protected_bytes.subspan(2);
    if (alg >= -24 && alg < 24) {  // one-byte integer: every registered AEAD/EdDSA id
      const auto expected = static_cast<std::uint8_t>(alg >= 0 ? alg : 0x20 | (-1 - alg));
      if (value.size() != 1 || value[0] != expected) return false;
    } else {
      std::uint8_t expected[12];
      envelope_writer w(expected);
      w.integer(alg);
      if (!equal_bytes(value, w.written())) return false;
    }
    out.alg = alg;
    return true;
  }
  /// Optional {4: kid} entry of an unprotected map whose head says `with_kid`.
  bool kid(bool with_kid, headers& out) noexcept {
    if (!with_kid) return true;
    byte_view k;
    if (!byte(0x04) || !bstr(k) || k.size() > options_.max_kid_size_bytes) return false;
    out.kid = k;
    return true;
  }
  [[nodiscard]] bool at_end() const noexcept { return at_ == in_.size(); }
  [[nodiscard]] std::uint8_t peek() const noexcept { return at_ < in_.size() ? in_[at_] : 0; }

 private:
  bool take_be(std::size_t n, std::uint64_t& value) noexcept {
    if (in_.size() - at_ < n) return false;
    value = 0;
    for (std::size_t i = 0; i < n; ++i) value = (value << 8) | in_[at_++];
    return true;
  }
  byte_view in_;
  const decode_options& options_;
  std::size_t at_ = 0;
};

/// Fills `out` from a canonical COSE_Sign1 and returns true, or returns false (then `out`
/// is unspecified and the caller runs the strict decoder).
inline bool scan_sign1(byte_view message, std::int64_t alg, const decode_options& options,
                       sign1_message& out) noexcept {
  canonical_scanner scan(message, options);
  if (!scan.tag_and_array(0xd2, 0x84) || !scan.protected_alg(alg, out.protected_bytes, out.header))
    return false;
  const bool with_kid = scan.peek() == 0xa1;
  return (with_kid ? scan.byte(0xa1) : scan.byte(0xa0)) && scan.kid(with_kid, out.header) &&
         scan.bstr(out.payload) && scan.bstr(out.signature) && scan.at_end();
}

inline bool scan_encrypt0(byte_view message, std::int64_t alg, const decode_options& options,
                          encrypt0_message& out) noexcept {
  canonical_scanner scan(message, options);
  if (!scan.tag_and_array(0xd0, 0x83) || !scan.protected_alg(alg, out.protected_bytes, out.header))
    return false;
  const bool with_kid = scan.peek() == 0xa2;
  byte_view iv;
  if (!(with_kid ? scan.byte(0xa2) : scan.byte(0xa1)) || !scan.kid(with_kid, out.header) ||
      !scan.byte(0x05) || !scan.bstr(iv) || !scan.bstr(out.ciphertext) || !scan.at_end())
    return false;
  out.header.iv = iv;
  return true;
}

inline std::optional<sign1_message> fast_sign1(byte_view message, std::int64_t alg,
                                               const decode_options& options) noexcept {
  sign1_message out;
  if (!scan_sign1(message, alg, options, out)) return std::nullopt;
  return out;
}

inline std::optional<encrypt0_message> fast_encrypt0(byte_view message, std::int64_t alg,
                                                     const decode_options& options) noexcept {
  encrypt0_message out;
  if (!scan_encrypt0(message, alg, options, out)) return std::nullopt;
  return out;
}

}  // namespace detail

/// Scratch bytes sign1()/verify_sign1() need for the Sig_structure.
[[nodiscard]] constexpr std::size_t sig_structure_size(std::size_t payload_size,
                                                       std::size_t external_aad_size,
                                                       std::size_t protected_size = 16) noexcept {
  return 1 + 11 + detail::head_size(protected_size) + protected_size +
         detail::head_size(external_aad_size) + external_aad_size +
         detail::head_size(payload_size) + payload_size;
}

/// Decodes a COSE_Sign1 strictly (structure and headers only; no signature check).
[[nodiscard]] inline result<sign1_message> decode_sign1(byte_view message,
                                                        const decode_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  cose_reader reader(message, options.cbor);
  sign1_message out;
  WEFT_TRY(detail::read_envelope_start(reader, tag_sign1, 4, out.protected_bytes, out.header,
                                       options));
  WEFT_TRY_ASSIGN(const wire::cbor_item payload, detail::structural(reader.next(), "cose payload"));
  if (payload.type == wire::cbor_type::simple && payload.argument == wire::simple_null)
    return detail::malformed("cose: detached payload is not supported");
  if (payload.type != wire::cbor_type::bytes) return detail::malformed("cose: payload is not a bstr");
  out.payload = payload.content;
  WEFT_TRY_ASSIGN(const wire::cbor_item sig, detail::structural(reader.next(), "cose signature"));
  if (sig.type != wire::cbor_type::bytes) return detail::malformed("cose: signature is not a bstr");
  out.signature = sig.content;
  WEFT_TRY(detail::structural(reader.finish(), "cose trailing"));
  return out;
}

/// Decodes a COSE_Encrypt0 strictly (no decryption).
[[nodiscard]] inline result<encrypt0_message> decode_encrypt0(
    byte_view message, const decode_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  cose_reader reader(message, options.cbor);
  encrypt0_message out;
  WEFT_TRY(detail::read_envelope_start(reader, tag_encrypt0, 3, out.protected_bytes, out.header,
                                       options));
  WEFT_TRY_ASSIGN(const wire::cbor_item ct, detail::structural(reader.next(), "cose ciphertext"));
  if (ct.type == wire::cbor_type::simple && ct.argument == wire::simple_null)
    return detail::malformed("cose: detached ciphertext is not supported");
  if (ct.type != wire::cbor_type::bytes) return detail::malformed("cose: ciphertext is not a bstr");
  out.ciphertext = ct.content;
  WEFT_TRY(detail::structural(reader.finish(), "cose trailing"));
  return out;
}

/// The COSE algorithm identifier a signer stands for (specialise for new backends).
template <class S>
inline constexpr std::int64_t signature_algorithm = alg_eddsa;
template <class A>
inline constexpr std::int64_t aead_algorithm = alg_chacha20_poly1305;

/// Writes a COSE_Sign1 of `payload` into `out`; `scratch` holds the Sig_structure
/// (sig_structure_size(payload.size(), external_aad.size()) bytes). Returns the message.
template <signer S>
[[nodiscard]] result<byte_view> sign1(const typename S::secret_key& key, byte_view payload,
                                      const encode_options& options, mutable_byte_view out,
                                      mutable_byte_view scratch) noexcept {
  detail::envelope_writer w(out);
  if (options.tagged) w.head(6, tag_sign1);
  w.head(4, 4);
  const byte_view protected_bytes =
      detail::put_protected(w, signature_algorithm<S>, options.content_format);
  w.head(5, options.kid ? 1 : 0);
  if (options.kid) {
    w.integer(label_kid);
    w.bstr(*options.kid);
  }
  w.bstr(payload);
  if (w.full()) return error(crypto_errc::buffer_too_small, "cose::sign1");
  WEFT_TRY_ASSIGN(const byte_view tbs, detail::sig_structure(protected_bytes,
                                                              options.external_aad, payload,
                                                              scratch));
  const typename S::signature signature = S::sign(key, tbs);
  w.bstr(signature);
  if (w.full()) return error(crypto_errc::buffer_too_small, "cose::sign1");
  return w.written();
}

/// Decodes and verifies a COSE_Sign1; returns the payload (a view into `message`).
template <signature_verifier S>
[[nodiscard]] result<byte_view> verify_sign1(const typename S::public_key& key, byte_view message,
                                             byte_view external_aad, mutable_byte_view scratch,
                                             const decode_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  sign1_message decoded;  // filled in place: the canonical scan, else the strict decoder
  if (!detail::scan_sign1(message, signature_algorithm<S>, options, decoded)) {
    WEFT_TRY_ASSIGN(decoded, decode_sign1(message, options));
  }
  if (decoded.header.alg_is_text || !decoded.header.alg ||
      *decoded.header.alg != signature_algorithm<S>)
    return error(crypto_errc::cose_unsupported_algorithm, "cose::verify_sign1");
  if (decoded.signature.size() != S::signature_size)
    return error(crypto_errc::bad_signature, "cose::verify_sign1: signature length");
  WEFT_TRY_ASSIGN(const byte_view tbs, detail::sig_structure(decoded.protected_bytes,
                                                              external_aad, decoded.payload,
                                                              scratch));
  WEFT_TRY(S::verify(key, tbs, decoded.signature));
  return decoded.payload;
}

/// Writes a COSE_Encrypt0 of `plaintext` under `key` and `iv` (A::nonce_size bytes; never
/// reuse one with the same key: draw it from a crypto_random_source or a counter).
template <aead A>
[[nodiscard]] result<byte_view> encrypt0(const typename A::key& key, byte_view iv,
                                         byte_view plaintext, const encode_options& options,
                                         mutable_byte_view out) noexcept {
  if (iv.size() != A::nonce_size) return error(crypto_errc::invalid_length, "cose::encrypt0 iv");
  detail::envelope_writer w(out);
  if (options.tagged) w.head(6, tag_encrypt0);
  w.head(4, 3);
  const byte_view protected_bytes =
      detail::put_protected(w, aead_algorithm<A>, options.content_format);
  w.head(5, options.kid ? 2 : 1);
  if (options.kid) {
    w.integer(label_kid);
    w.bstr(*options.kid);
  }
  w.integer(label_iv);
  w.bstr(iv);
  const std::size_t sealed_size = plaintext.size() + A::tag_size;
  w.head(2, sealed_size);
  if (w.full() || out.size() - w.size() < sealed_size)
    return error(crypto_errc::buffer_too_small, "cose::encrypt0");
  std::array<std::uint8_t, max_enc_structure_size_bytes> aad_buffer;
  WEFT_TRY_ASSIGN(const byte_view aad, detail::enc_structure(protected_bytes,
                                                              options.external_aad, aad_buffer));
  const std::size_t at = w.size();
  WEFT_TRY_ASSIGN(const std::size_t n, A::seal(key, iv, aad, plaintext, out.subspan(at)));
  return byte_view(out.first(at + n));
}

/// Decodes and decrypts a COSE_Encrypt0 into `plaintext_out`; returns the plaintext size.
template <aead A>
[[nodiscard]] result<std::size_t> decrypt0(const typename A::key& key, byte_view message,
                                           byte_view external_aad, mutable_byte_view plaintext_out,
                                           const decode_options& options = {}) noexcept {
  WEFT_TRY(options.validate());
  encrypt0_message decoded;  // filled in place: the canonical scan, else the strict decoder
  if (!detail::scan_encrypt0(message, aead_algorithm<A>, options, decoded)) {
    WEFT_TRY_ASSIGN(decoded, decode_encrypt0(message, options));
  }
  if (decoded.header.alg_is_text || !decoded.header.alg ||
      *decoded.header.alg != aead_algorithm<A>)
    return error(crypto_errc::cose_unsupported_algorithm, "cose::decrypt0");
  if (decoded.header.partial_iv) return error(crypto_errc::cose_bad_header, "cose: partial iv needs a base iv");
  if (!decoded.header.iv || decoded.header.iv->size() != A::nonce_size)
    return error(crypto_errc::cose_bad_header, "cose::decrypt0: iv missing or wrong size");
  std::array<std::uint8_t, max_enc_structure_size_bytes> aad_buffer;  // uninitialised: no cost
  WEFT_TRY_ASSIGN(const byte_view aad, detail::enc_structure(decoded.protected_bytes,
                                                              external_aad, aad_buffer));
  return A::open(key, *decoded.header.iv, aad, decoded.ciphertext, plaintext_out);
}

}  // namespace cose
}  // namespace crypto
WEFT_END
