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

inline constexpr std::size_t head_size(std::uint64_t n) noexcept {
  return n < 24 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffffu ? 5 : 9;
}

/// The CBOR argument of integer `v` (major type 0 for v >= 0, else 1).
inline constexpr std::uint64_t int_argument(std::int64_t v) noexcept {
  return v >= 0 ? static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(-(v + 1));
}

/// Writes a shortest-form CBOR head at `at` (the caller has checked the room, at most 9
/// bytes); returns the end. The same bytes as envelope_writer::head, without its checks.
inline constexpr std::uint8_t* put_head(std::uint8_t* at, unsigned major,
                                        std::uint64_t value) noexcept {
  const std::size_t extra = head_size(value) - 1;
  const auto m = static_cast<std::uint8_t>(major << 5);
  if (extra == 0) {
    *at++ = static_cast<std::uint8_t>(m | value);
    return at;
  }
  *at++ = static_cast<std::uint8_t>(m | (extra == 1 ? 24 : extra == 2 ? 25 : extra == 4 ? 26 : 27));
  for (std::size_t i = extra; i-- > 0;) *at++ = static_cast<std::uint8_t>(value >> (8 * i));
  return at;
}
inline constexpr std::uint8_t* put_int(std::uint8_t* at, std::int64_t v) noexcept {
  return put_head(at, v >= 0 ? 0 : 1, int_argument(v));
}

/// The protected bucket weft writes when no content format is asked for, {1: Alg}, encoded
/// at compile time (put_protected writes the same bytes).
template <std::int64_t Alg>
inline constexpr auto alg_protected = [] {
  std::array<std::uint8_t, 2 + head_size(int_argument(Alg))> encoded{};
  encoded[0] = 0xa1;  // map of one entry
  encoded[1] = static_cast<std::uint8_t>(label_alg);
  put_int(encoded.data() + 2, Alg);
  return encoded;
}();

/// The Enc_structure up to the external AAD for the protected bucket {1: Alg}:
/// array(3), "Encrypt0", bstr({1: Alg}). Compile-time, so a message costs one copy.
template <std::int64_t Alg>
inline constexpr auto enc_structure_prefix = [] {
  constexpr auto& prot = alg_protected<Alg>;
  static_assert(prot.size() < 24, "one-byte bstr head");
  std::array<std::uint8_t, 10 + 1 + prot.size()> encoded{
      0x83, 0x68, 'E', 'n', 'c', 'r', 'y', 'p', 't', '0', static_cast<std::uint8_t>(0x40 | prot.size())};
  for (std::size_t i = 0; i < prot.size(); ++i) encoded[11 + i] = prot[i];
  return encoded;
}();

/// An envelope's array head followed by bstr({1: Alg}), as weft writes it.
template <std::int64_t Alg, std::uint8_t ArrayByte>
inline constexpr auto envelope_start = [] {
  constexpr auto& prot = alg_protected<Alg>;
  std::array<std::uint8_t, 2 + prot.size()> encoded{ArrayByte,
                                                    static_cast<std::uint8_t>(0x40 | prot.size())};
  for (std::size_t i = 0; i < prot.size(); ++i) encoded[2 + i] = prot[i];
  return encoded;
}();

template <std::int64_t Alg>
inline bool is_alg_protected(byte_view protected_bytes) noexcept {
  constexpr auto& expected = alg_protected<Alg>;
  return protected_bytes.size() == expected.size() &&
         std::memcmp(protected_bytes.data(), expected.data(), expected.size()) == 0;
}

using enc_structure_buffer = std::array<std::uint8_t, max_enc_structure_size_bytes>;

/// The whole Enc_structure ["Encrypt0", {1: Alg}, h''] (no external AAD), compile-time.
template <std::int64_t Alg>
inline constexpr auto enc_structure_without_aad = [] {
  constexpr auto& prefix = enc_structure_prefix<Alg>;
  std::array<std::uint8_t, prefix.size() + 1> encoded{};
  for (std::size_t i = 0; i < prefix.size(); ++i) encoded[i] = prefix[i];
  encoded[prefix.size()] = 0x40;  // empty bstr
  return encoded;
}();

/// enc_structure() with the common case first: protected {1: Alg} (weft's own envelopes;
/// `protected_is_alg` when the caller already knows) and an external AAD under 24 bytes
/// take the compile-time bytes: no copy at all without external AAD, else prefix + AAD.
template <std::int64_t Alg>
WEFT_ALWAYS_INLINE result<byte_view> enc_structure_for(byte_view protected_bytes,
                                                       byte_view external_aad,
                                                       enc_structure_buffer& scratch,
                                                       bool protected_is_alg) noexcept {
  constexpr auto& prefix = enc_structure_prefix<Alg>;
  const std::size_t a = external_aad.size();
  if (a < 24 && (protected_is_alg || is_alg_protected<Alg>(protected_bytes))) {
    if (a == 0) return byte_view(enc_structure_without_aad<Alg>);
    std::memcpy(scratch.data(), prefix.data(), prefix.size());
    scratch[prefix.size()] = static_cast<std::uint8_t>(0x40 | a);
    std::memcpy(scratch.data() + prefix.size() + 1, external_aad.data(), a);
    return byte_view(scratch.data(), prefix.size() + 1 + a);
  }
  return enc_structure(protected_bytes, external_aad, scratch);
}

/// Protected bucket {1: alg, 3: content_format} (at most 21 bytes) into `buffer`.
inline byte_view protected_with_format(std::int64_t alg, std::uint64_t content_format,
                                       std::array<std::uint8_t, 24>& buffer) noexcept {
  std::uint8_t* at = buffer.data();
  *at++ = 0xa2;  // map of two entries
  at = put_int(at, label_alg);
  at = put_int(at, alg);
  at = put_int(at, label_content_type);
  at = put_head(at, 0, content_format);
  return byte_view(buffer.data(), static_cast<std::size_t>(at - buffer.data()));
}

/// What the fast path finds in one of weft's canonical envelopes (views into the input).
/// Nothing in it is read unless the scan succeeded, so it costs no initialisation.
struct canonical_views {
  byte_view protected_bytes;
  byte_view kid;  // when has_kid
  byte_view iv;   // Encrypt0
  byte_view content;  // payload (Sign1) or ciphertext with tag (Encrypt0)
  byte_view signature;  // Sign1
  bool has_kid;
};

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
  /// A byte string with a shortest-form head (at most a 4-byte length), within the limits.
  bool bstr(byte_view& out) noexcept {
    if (at_ >= in_.size()) return false;
    const std::uint8_t initial = in_[at_++];
    if (initial < 0x40 || initial > 0x5a) return false;  // major type 2, length below 2^32
    std::uint64_t length = initial & 0x1fu;
    if (length >= 24 && !length_after_head(initial, length)) return false;
    if (length > in_.size() - at_ || length > options_.cbor.max_string_bytes) return false;
    out = in_.subspan(at_, static_cast<std::size_t>(length));
    at_ += static_cast<std::size_t>(length);
    return true;
  }
  /// The optional tag, the array head and the protected bucket {1: Alg} exactly as weft
  /// writes it (no content type), compared against compile-time bytes.
  template <std::int64_t Alg, std::uint8_t ArrayByte>
  bool start(std::uint8_t tag_byte, byte_view& protected_bytes) noexcept {
    if (in_.size() > options_.cbor.max_total_bytes || options_.cbor.max_depth < 3 ||
        options_.cbor.max_items < 16 || options_.max_header_entries < 2)
      return false;
    if (options_.tag != tag_policy::forbidden && byte(tag_byte)) {
    } else if (options_.tag == tag_policy::required) {
      return false;
    }
    constexpr auto& expected = envelope_start<Alg, ArrayByte>;  // one compare, no loop
    if (in_.size() - at_ < expected.size() ||
        std::memcmp(in_.data() + at_, expected.data(), expected.size()) != 0)
      return false;
    protected_bytes = in_.subspan(at_ + 2, expected.size() - 2);
    at_ += expected.size();
    return true;
  }
  /// The unprotected map head (`with_kid` ? 2 : 1 entries, plus `base` entries) and the
  /// optional {4: kid} entry.
  bool unprotected_and_kid(std::uint8_t map_byte_without_kid, canonical_views& out) noexcept {
    out.has_kid = peek() == map_byte_without_kid + 1;
    if (!byte(out.has_kid ? static_cast<std::uint8_t>(map_byte_without_kid + 1)
                          : map_byte_without_kid))
      return false;
    if (!out.has_kid) return true;
    return byte(0x04) && bstr(out.kid) && out.kid.size() <= options_.max_kid_size_bytes;
  }
  /// Map entry `Label: bstr of Size bytes` (both under 24: one-byte heads).
  template <std::int64_t Label, std::size_t Size>
  bool labelled_short_bstr(byte_view& out) noexcept {
    static_assert(Label >= 0 && Label < 24 && Size < 24, "one-byte heads");
    if (in_.size() - at_ < 2 + Size || in_[at_] != Label || in_[at_ + 1] != (0x40 | Size))
      return false;
    out = in_.subspan(at_ + 2, Size);
    at_ += 2 + Size;
    return true;
  }
  /// A bstr that ends exactly at the end of the input.
  bool last_bstr(byte_view& out) noexcept { return bstr(out) && at_end(); }
  [[nodiscard]] bool at_end() const noexcept { return at_ == in_.size(); }
  [[nodiscard]] std::uint8_t peek() const noexcept { return at_ < in_.size() ? in_[at_] : 0; }

 private:
  /// The 1-, 2- or 4-byte big-endian length after head byte 0x58, 0x59 or 0x5a, which must
  /// be the shortest form (at least 24, 2^8, 2^16).
  bool length_after_head(std::uint8_t initial, std::uint64_t& length) noexcept {
    const std::size_t extra = std::size_t{1} << (initial - 0x58);
    if (in_.size() - at_ < extra) return false;
    const std::uint8_t* b = in_.data() + at_;
    at_ += extra;
    if (extra == 1) {
      length = b[0];
      return length >= 24;
    }
    if (extra == 2) {
      length = static_cast<std::uint64_t>(b[0]) << 8 | b[1];
      return length >= 0x100;
    }
    length = static_cast<std::uint64_t>(b[0]) << 24 | static_cast<std::uint64_t>(b[1]) << 16 |
             static_cast<std::uint64_t>(b[2]) << 8 | b[3];
    return length >= 0x10000;
  }
  byte_view in_;
  const decode_options& options_;
  std::size_t at_ = 0;
};

/// Fills `out` from a canonical COSE_Sign1 and returns true, or returns false (then `out`
/// is unspecified and the caller runs the strict decoder).
template <std::int64_t Alg>
bool scan_sign1(byte_view message, const decode_options& options, canonical_views& out) noexcept {
  canonical_scanner scan(message, options);
  return scan.start<Alg, 0x84>(0xd2, out.protected_bytes) && scan.unprotected_and_kid(0xa0, out) &&
         scan.bstr(out.content) && scan.last_bstr(out.signature);
}

/// Likewise for a canonical COSE_Encrypt0 whose iv has NonceSize bytes.
template <std::int64_t Alg, std::size_t NonceSize>
WEFT_ALWAYS_INLINE bool scan_encrypt0(byte_view message, const decode_options& options,
                                      canonical_views& out) noexcept {
  static_assert(NonceSize < 24, "one-byte iv head");
  canonical_scanner scan(message, options);
  return scan.start<Alg, 0x83>(0xd0, out.protected_bytes) && scan.unprotected_and_kid(0xa1, out) &&
         scan.labelled_short_bstr<label_iv, NonceSize>(out.iv) && scan.last_bstr(out.content);
}

/// The fast path's findings as the strict decoder reports them (for the property test).
inline headers canonical_headers(std::int64_t alg, const canonical_views& found) noexcept {
  headers h;
  h.alg = alg;
  if (found.has_kid) h.kid = found.kid;
  return h;
}

template <std::int64_t Alg>
std::optional<sign1_message> fast_sign1(byte_view message, const decode_options& options) noexcept {
  canonical_views found;
  if (!scan_sign1<Alg>(message, options, found)) return std::nullopt;
  return sign1_message{found.protected_bytes, canonical_headers(Alg, found), found.content,
                       found.signature};
}

template <std::int64_t Alg, std::size_t NonceSize>
std::optional<encrypt0_message> fast_encrypt0(byte_view message,
                                              const decode_options& options) noexcept {
  canonical_views found;
  if (!scan_encrypt0<Alg, NonceSize>(message, options, found)) return std::nullopt;
  encrypt0_message out{found.protected_bytes, canonical_headers(Alg, found), found.content};
  out.header.iv = found.iv;
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

namespace detail {

/// The strict decoder's reading of a COSE_Encrypt0 for decrypt0, with its header checks.
/// Out of line: it is the slow path, and inlined its state would weigh on every call.
template <std::int64_t Alg, std::size_t NonceSize>
WEFT_NOINLINE result<void> strict_encrypt0(byte_view message, const decode_options& options,
                                           canonical_views& out) noexcept {
  WEFT_TRY_ASSIGN(const encrypt0_message decoded, decode_encrypt0(message, options));
  if (decoded.header.alg_is_text || !decoded.header.alg || *decoded.header.alg != Alg)
    return error(crypto_errc::cose_unsupported_algorithm, "cose::decrypt0");
  if (decoded.header.partial_iv)
    return error(crypto_errc::cose_bad_header, "cose: partial iv needs a base iv");
  if (!decoded.header.iv || decoded.header.iv->size() != NonceSize)
    return error(crypto_errc::cose_bad_header, "cose::decrypt0: iv missing or wrong size");
  out.protected_bytes = decoded.protected_bytes;
  out.iv = *decoded.header.iv;
  out.content = decoded.ciphertext;
  return ok();
}

}  // namespace detail

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
  detail::canonical_views found;  // the canonical scan, else the strict decoder
  if (!detail::scan_sign1<signature_algorithm<S>>(message, options, found)) {
    WEFT_TRY_ASSIGN(const sign1_message decoded, decode_sign1(message, options));
    if (decoded.header.alg_is_text || !decoded.header.alg ||
        *decoded.header.alg != signature_algorithm<S>)
      return error(crypto_errc::cose_unsupported_algorithm, "cose::verify_sign1");
    found.protected_bytes = decoded.protected_bytes;
    found.content = decoded.payload;
    found.signature = decoded.signature;
  }
  if (found.signature.size() != S::signature_size)
    return error(crypto_errc::bad_signature, "cose::verify_sign1: signature length");
  WEFT_TRY_ASSIGN(const byte_view tbs, detail::sig_structure(found.protected_bytes, external_aad,
                                                              found.content, scratch));
  WEFT_TRY(S::verify(key, tbs, found.signature));
  return found.content;
}

/// Writes a COSE_Encrypt0 of `plaintext` under `key` and `iv` (A::nonce_size bytes; never
/// reuse one with the same key: draw it from a crypto_random_source or a counter).
template <aead A>
[[nodiscard]] result<byte_view> encrypt0(const typename A::key& key, byte_view iv,
                                         byte_view plaintext, const encode_options& options,
                                         mutable_byte_view out) noexcept {
  constexpr std::int64_t alg = aead_algorithm<A>;
  static_assert(A::nonce_size < 24, "the iv's bstr head is one byte");
  if (iv.size() != A::nonce_size) return error(crypto_errc::invalid_length, "cose::encrypt0 iv");
  // Sizes first, then every byte written without per-head checks: this runs on every
  // message, and the checked writer's branches were most of weft's own cost (docs/crypto.md).
  std::array<std::uint8_t, 24> custom_protected;
  const byte_view protected_bytes =
      options.content_format ? detail::protected_with_format(alg, *options.content_format, custom_protected)
                             : byte_view(detail::alg_protected<alg>);
  const std::size_t kid_entry_size =
      options.kid ? 1 + detail::head_size(options.kid->size()) + options.kid->size() : 0;
  const std::size_t sealed_size = plaintext.size() + A::tag_size;
  const std::size_t header_size = (options.tagged ? 1 : 0) + 1 + 1 + protected_bytes.size() + 1 +
                                  kid_entry_size + 2 + A::nonce_size + detail::head_size(sealed_size);
  if (out.size() < header_size || out.size() - header_size < sealed_size)
    return error(crypto_errc::buffer_too_small, "cose::encrypt0");
  detail::enc_structure_buffer aad_buffer;  // uninitialised: no cost
  WEFT_TRY_ASSIGN(const byte_view aad,
                  detail::enc_structure_for<alg>(protected_bytes, options.external_aad, aad_buffer,
                                                 !options.content_format.has_value()));
  std::uint8_t* at = out.data();
  if (options.tagged) *at++ = static_cast<std::uint8_t>(0xc0 | tag_encrypt0);
  *at++ = 0x83;  // array of 3
  *at++ = static_cast<std::uint8_t>(0x40 | protected_bytes.size());
  if (options.content_format) {
    std::memcpy(at, protected_bytes.data(), protected_bytes.size());
  } else {  // a compile-time size: no library call
    std::memcpy(at, detail::alg_protected<alg>.data(), detail::alg_protected<alg>.size());
  }
  at += protected_bytes.size();
  *at++ = options.kid ? 0xa2 : 0xa1;  // unprotected map: {4: kid,} 5: iv
  if (options.kid) {
    *at++ = static_cast<std::uint8_t>(label_kid);
    at = detail::put_head(at, 2, options.kid->size());
    if (!options.kid->empty()) std::memcpy(at, options.kid->data(), options.kid->size());
    at += options.kid->size();
  }
  *at++ = static_cast<std::uint8_t>(label_iv);
  *at++ = static_cast<std::uint8_t>(0x40 | A::nonce_size);
  std::memcpy(at, iv.data(), A::nonce_size);
  at = detail::put_head(at + A::nonce_size, 2, sealed_size);
  const auto header_written = static_cast<std::size_t>(at - out.data());
  WEFT_ASSERT(header_written == header_size);
  WEFT_TRY_ASSIGN(const std::size_t n, A::seal(key, iv, aad, plaintext, out.subspan(header_written)));
  return byte_view(out.first(header_written + n));
}

namespace detail {

/// The default decode options, valid by construction (a unit test checks it): the
/// overloads without options skip validate() and let the compiler fold these limits into
/// the inlined canonical scan.
inline constexpr decode_options default_decode_options{};

/// decrypt0 with options already validated.
template <aead A>
[[nodiscard]] WEFT_ALWAYS_INLINE result<std::size_t> decrypt0_validated(
    const typename A::key& key, byte_view message, byte_view external_aad,
    mutable_byte_view plaintext_out, const decode_options& options) noexcept {
  canonical_views found;  // the canonical scan (inlined), else the strict decoder
  const bool canonical =  // then the protected bucket is {1: alg}
      scan_encrypt0<aead_algorithm<A>, A::nonce_size>(message, options, found);
  if (!canonical) {
    constexpr auto strict = &strict_encrypt0<aead_algorithm<A>, A::nonce_size>;
    WEFT_TRY(strict(message, options, found));
  }
  enc_structure_buffer aad_buffer;  // uninitialised: no cost
  WEFT_TRY_ASSIGN(const byte_view aad,
                  enc_structure_for<aead_algorithm<A>>(found.protected_bytes, external_aad,
                                                       aad_buffer, canonical));
  return A::open(key, found.iv, aad, found.content, plaintext_out);
}

}  // namespace detail

/// Decodes and decrypts a COSE_Encrypt0 into `plaintext_out`; returns the plaintext size.
template <aead A>
[[nodiscard]] result<std::size_t> decrypt0(const typename A::key& key, byte_view message,
                                           byte_view external_aad, mutable_byte_view plaintext_out,
                                           const decode_options& options) noexcept {
  WEFT_TRY(options.validate());
  return detail::decrypt0_validated<A>(key, message, external_aad, plaintext_out, options);
}

/// The same with the default decode_options.
template <aead A>
[[nodiscard]] result<std::size_t> decrypt0(const typename A::key& key, byte_view message,
                                           byte_view external_aad,
                                           mutable_byte_view plaintext_out) noexcept {
  return detail::decrypt0_validated<A>(key, message, external_aad, plaintext_out,
                                       detail::default_decode_options);
}

}  // namespace cose
}  // namespace crypto
WEFT_END
