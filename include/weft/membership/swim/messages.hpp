// weft/membership/swim/messages.hpp - the SWIM wire schema (version 1) as plain structs and
// a deterministic CBOR (RFC 8949 section 4.2) encoding written with weft::wire's
// cbor_writer: definite lengths, shortest heads, only unsigned integers, byte strings and
// arrays. Decoding is hostile-input safe: every
// length is bounded and every refusal is a swim_errc.
//
//   packet  = [version, kind, sender, <primary fields>..., [item...]]
//   ping    = kind 1: seq, target          ping_req = kind 2: seq, target, target_address
//   ack     = kind 3: seq                  nack     = kind 4: seq
//   reply   = kind 5: query_id, payload    gossip   = kind 6: (no primary fields)
//   push_pull (stream) = kind 7: is_reply, [item...]   (items: member claims only)
//   item    = [item_kind, fields...]       (see encode_item)
//
// Version 2 added the admission epoch to alive claims (so a superseded admission statement
// can be told from the current one) and the compact alive form: key and admission sent
// empty, for receivers that already hold them (small MTUs; see encode_claim).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"
#include "weft/membership/swim/admission.hpp"
#include "weft/membership/swim/errors.hpp"
#include "weft/transport/concepts.hpp"
#include "weft/wire/cbor.hpp"

WEFT_BEGIN
namespace swim {

using node_id = std::uint64_t;
using address = transport::peer_id;

inline constexpr std::uint64_t wire_version = 2;
/// Node ids at or above this value name trust anchors (anchor index = id - base).
inline constexpr node_id anchor_id_base = 0xffffffffffffff00ull;
inline constexpr std::size_t max_name_bytes = 32;
inline constexpr std::size_t max_payload_bytes_cap = 512;

template <std::size_t N>
struct blob {
  std::array<std::uint8_t, N> bytes{};
  std::uint16_t size = 0;
  [[nodiscard]] byte_view view() const noexcept { return {bytes.data(), size}; }
  [[nodiscard]] result<void> assign(byte_view from) noexcept {
    if (from.size() > N) return error(swim_errc::payload_too_large, "swim blob");
    if (!from.empty()) std::memcpy(bytes.data(), from.data(), from.size());
    size = static_cast<std::uint16_t>(from.size());
    return ok();
  }
};

enum class packet_kind : std::uint8_t {
  ping = 1, ping_req = 2, ack = 3, nack = 4, reply = 5, gossip = 6, push_pull = 7,
};

enum class item_kind : std::uint8_t {
  alive = 1, suspect = 2, dead = 3, leave = 4, user_event = 5, app = 6, query = 7,
};

/// A claim about a member. alive: subject-signed, carries address, key, admission and the
/// admission's epoch (a re-issued statement has a higher one). suspect/dead: signed by the
/// accuser `from`. leave: subject-signed. A compact alive claim (key.size == 0 on the wire)
/// leaves key and admission out; its signature still covers them (see encode_claim).
struct member_claim {
  item_kind kind = item_kind::alive;
  node_id subject = 0;
  std::uint64_t incarnation = 0;
  node_id from = 0;
  address addr = 0;
  blob<max_public_key_bytes> key;
  node_id admitter = 0;
  std::uint64_t admission_epoch = 0;
  blob<max_signature_bytes> admission;
  blob<max_signature_bytes> signature;
};

/// A user event, application message or query; signed by its origin.
struct payload_item {
  item_kind kind = item_kind::app;
  node_id origin = 0;
  std::uint64_t id = 0;        // Lamport time (event, query) or sequence (app)
  address origin_addr = 0;     // query: where responses go
  std::uint32_t timeout_ms = 0;  // query
  blob<max_name_bytes> name;
  blob<max_payload_bytes_cap> payload;
  blob<max_signature_bytes> signature;
};

struct packet_header {
  std::uint64_t version = wire_version;
  packet_kind kind = packet_kind::gossip;
  node_id sender = 0;
  std::uint64_t seq = 0;       // ping, ping_req, ack, nack; query id for reply; is_reply
  node_id target = 0;          // ping, ping_req
  address target_addr = 0;     // ping_req
  blob<max_payload_bytes_cap> payload;  // reply
};

[[nodiscard]] constexpr bool is_member_claim(item_kind k) noexcept {
  return k == item_kind::alive || k == item_kind::suspect || k == item_kind::dead ||
         k == item_kind::leave;
}

namespace detail {
enum class major : std::uint8_t { uint = 0, bytes = 2, array = 4 };

// Writing goes through weft::wire's deterministic CBOR writer (shortest heads, definite
// lengths): the same bytes the rest of weft writes. Reading stays here: the schema is a
// fixed array layout read in one pass, and every refusal must be a swim_errc.
[[nodiscard]] inline result<void> put_array(byte_writer& w, std::uint64_t count) noexcept {
  return wire::cbor_writer(w).begin_array(count);
}
[[nodiscard]] constexpr std::size_t head_size(std::uint64_t v) noexcept {
  return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}
[[nodiscard]] inline result<void> put_uint(byte_writer& w, std::uint64_t v) noexcept {
  return wire::cbor_writer(w).put_uint(v);
}
[[nodiscard]] inline result<void> put_bytes(byte_writer& w, byte_view b) noexcept {
  return wire::cbor_writer(w).put_bytes(b);
}

/// Reads one head of major type `m`, refusing non-shortest and indefinite forms.
[[nodiscard]] inline result<std::uint64_t> get_head(byte_reader& r, major m) noexcept {
  auto first = r.get();
  if (!first) return error(swim_errc::malformed_message, "swim cbor: truncated");
  if ((*first >> 5) != static_cast<std::uint8_t>(m))
    return error(swim_errc::malformed_message, "swim cbor: unexpected type");
  const std::uint8_t info = *first & 0x1f;
  std::uint64_t v = 0;
  if (info < 24) return std::uint64_t{info};
  if (info == 24) {
    auto b = r.get();
    if (!b) return error(swim_errc::malformed_message, "swim cbor: truncated");
    v = *b;
  } else if (info == 25) {
    auto b = r.get_be<std::uint16_t>();
    if (!b) return error(swim_errc::malformed_message, "swim cbor: truncated");
    v = *b;
  } else if (info == 26) {
    auto b = r.get_be<std::uint32_t>();
    if (!b) return error(swim_errc::malformed_message, "swim cbor: truncated");
    v = *b;
  } else if (info == 27) {
    auto b = r.get_be<std::uint64_t>();
    if (!b) return error(swim_errc::malformed_message, "swim cbor: truncated");
    v = *b;
  } else {
    return error(swim_errc::malformed_message, "swim cbor: indefinite or reserved");
  }
  if (head_size(v) != std::size_t{1} + (std::size_t{1} << (info - 24)))
    return error(swim_errc::malformed_message, "swim cbor: not shortest form");
  return v;
}
[[nodiscard]] inline result<std::uint64_t> get_uint(byte_reader& r) noexcept {
  return get_head(r, major::uint);
}
[[nodiscard]] inline result<std::uint64_t> get_uint_max(byte_reader& r,
                                                        std::uint64_t max) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t v, get_uint(r));
  if (v > max) return error(swim_errc::malformed_message, "swim cbor: value out of range");
  return v;
}
template <std::size_t N>
[[nodiscard]] inline result<void> get_blob(byte_reader& r, blob<N>& out) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t n, get_head(r, major::bytes));
  if (n > N) return error(swim_errc::malformed_message, "swim cbor: byte string too long");
  auto bytes = r.take(static_cast<std::size_t>(n));
  if (!bytes) return error(swim_errc::malformed_message, "swim cbor: truncated");
  return out.assign(*bytes);
}
[[nodiscard]] inline result<void> expect_array(byte_reader& r, std::uint64_t n) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t got, get_head(r, major::array));
  if (got != n) return error(swim_errc::malformed_message, "swim cbor: wrong field count");
  return ok();
}

constexpr std::uint64_t field_count(item_kind k) noexcept {
  switch (k) {
    case item_kind::alive: return 9;
    case item_kind::suspect:
    case item_kind::dead: return 5;
    case item_kind::leave: return 4;
    case item_kind::user_event: return 6;
    case item_kind::app: return 5;
    case item_kind::query: return 8;
  }
  return 0;
}
}  // namespace detail

/// Encodes a member claim; with `signed_part` the signature is left out (the bytes to sign).
/// With `compact` an alive claim goes out with an empty key and admission: the signature
/// covers the full claim, so only a receiver that holds the subject's key and admission at
/// that epoch can put it back together and verify it (others drop it as unknown_member).
[[nodiscard]] inline result<void> encode_claim(byte_writer& w, const member_claim& c,
                                               bool signed_part = false,
                                               bool compact = false) noexcept {
  using namespace detail;
  const std::uint64_t fields = field_count(c.kind) - (signed_part ? 1 : 0);
  WEFT_TRY(put_array(w, fields));
  WEFT_TRY(put_uint(w, static_cast<std::uint64_t>(c.kind)));
  WEFT_TRY(put_uint(w, c.subject));
  WEFT_TRY(put_uint(w, c.incarnation));
  if (c.kind == item_kind::alive) {
    WEFT_TRY(put_uint(w, c.addr));
    WEFT_TRY(put_bytes(w, compact ? byte_view{} : c.key.view()));
    WEFT_TRY(put_uint(w, c.admitter));
    WEFT_TRY(put_uint(w, c.admission_epoch));
    WEFT_TRY(put_bytes(w, compact ? byte_view{} : c.admission.view()));
  } else if (c.kind != item_kind::leave) {
    WEFT_TRY(put_uint(w, c.from));
  }
  if (!signed_part) WEFT_TRY(put_bytes(w, c.signature.view()));
  return ok();
}

[[nodiscard]] inline result<void> encode_payload_item(byte_writer& w, const payload_item& p,
                                                      bool signed_part = false) noexcept {
  using namespace detail;
  const std::uint64_t fields = field_count(p.kind) - (signed_part ? 1 : 0);
  WEFT_TRY(put_array(w, fields));
  WEFT_TRY(put_uint(w, static_cast<std::uint64_t>(p.kind)));
  WEFT_TRY(put_uint(w, p.origin));
  WEFT_TRY(put_uint(w, p.id));
  if (p.kind == item_kind::query) {
    WEFT_TRY(put_uint(w, p.origin_addr));
    WEFT_TRY(put_uint(w, p.timeout_ms));
  }
  if (p.kind != item_kind::app) WEFT_TRY(put_bytes(w, p.name.view()));
  WEFT_TRY(put_bytes(w, p.payload.view()));
  if (!signed_part) WEFT_TRY(put_bytes(w, p.signature.view()));
  return ok();
}

/// One decoded piggybacked item: a member claim or a payload item.
struct gossip_item {
  item_kind kind = item_kind::alive;
  member_claim claim;
  payload_item payload;
};

[[nodiscard]] inline result<void> decode_item(byte_reader& r, gossip_item& out) noexcept {
  using namespace detail;
  WEFT_TRY_ASSIGN(const std::uint64_t fields, get_head(r, major::array));
  WEFT_TRY_ASSIGN(const std::uint64_t kind, get_uint(r));
  if (kind < 1 || kind > 7) return error(swim_errc::malformed_message, "swim: item kind");
  out.kind = static_cast<item_kind>(kind);
  if (fields != field_count(out.kind))
    return error(swim_errc::malformed_message, "swim: item field count");
  if (is_member_claim(out.kind)) {
    member_claim& c = out.claim;
    c = member_claim{};
    c.kind = out.kind;
    WEFT_TRY_ASSIGN(c.subject, get_uint(r));
    WEFT_TRY_ASSIGN(c.incarnation, get_uint(r));
    if (c.kind == item_kind::alive) {
      WEFT_TRY_ASSIGN(const std::uint64_t a, get_uint_max(r, 0xffffffffu));
      c.addr = static_cast<address>(a);
      WEFT_TRY(get_blob(r, c.key));
      WEFT_TRY_ASSIGN(c.admitter, get_uint(r));
      WEFT_TRY_ASSIGN(c.admission_epoch, get_uint(r));
      WEFT_TRY(get_blob(r, c.admission));
      c.from = c.subject;
    } else if (c.kind == item_kind::leave) {
      c.from = c.subject;
    } else {
      WEFT_TRY_ASSIGN(c.from, get_uint(r));
    }
    return get_blob(r, c.signature);
  }
  payload_item& p = out.payload;
  p.kind = out.kind;
  p.origin_addr = 0;
  p.timeout_ms = 0;
  p.name.size = 0;
  WEFT_TRY_ASSIGN(p.origin, get_uint(r));
  WEFT_TRY_ASSIGN(p.id, get_uint(r));
  if (p.kind == item_kind::query) {
    WEFT_TRY_ASSIGN(const std::uint64_t a, get_uint_max(r, 0xffffffffu));
    p.origin_addr = static_cast<address>(a);
    WEFT_TRY_ASSIGN(const std::uint64_t t, get_uint_max(r, 0xffffffffu));
    p.timeout_ms = static_cast<std::uint32_t>(t);
  }
  if (p.kind != item_kind::app) WEFT_TRY(get_blob(r, p.name));
  WEFT_TRY(get_blob(r, p.payload));
  return get_blob(r, p.signature);
}

namespace detail {
constexpr std::uint64_t header_fields(packet_kind k) noexcept {
  switch (k) {
    case packet_kind::ping: return 6;
    case packet_kind::ping_req: return 7;
    case packet_kind::ack:
    case packet_kind::nack: return 5;
    case packet_kind::reply: return 6;
    case packet_kind::gossip: return 4;
    case packet_kind::push_pull: return 5;
  }
  return 0;
}
}  // namespace detail

/// Writes the packet head up to (not including) the item array.
[[nodiscard]] inline result<void> encode_header(byte_writer& w, const packet_header& h) noexcept {
  using namespace detail;
  WEFT_TRY(put_array(w, header_fields(h.kind)));
  WEFT_TRY(put_uint(w, h.version));
  WEFT_TRY(put_uint(w, static_cast<std::uint64_t>(h.kind)));
  WEFT_TRY(put_uint(w, h.sender));
  switch (h.kind) {
    case packet_kind::ping:
      WEFT_TRY(put_uint(w, h.seq));
      return put_uint(w, h.target);
    case packet_kind::ping_req:
      WEFT_TRY(put_uint(w, h.seq));
      WEFT_TRY(put_uint(w, h.target));
      return put_uint(w, h.target_addr);
    case packet_kind::ack:
    case packet_kind::nack:
    case packet_kind::push_pull: return put_uint(w, h.seq);
    case packet_kind::reply:
      WEFT_TRY(put_uint(w, h.seq));
      return put_bytes(w, h.payload.view());
    case packet_kind::gossip: return ok();
  }
  return ok();
}

/// Reads the packet head and the item array's count; the reader is left at the first item.
[[nodiscard]] inline result<std::uint64_t> decode_header(byte_reader& r, packet_header& h,
                                                         std::uint64_t max_items) noexcept {
  using namespace detail;
  WEFT_TRY_ASSIGN(const std::uint64_t fields, get_head(r, major::array));
  WEFT_TRY_ASSIGN(h.version, get_uint(r));
  if (h.version != wire_version)
    return error(swim_errc::unsupported_version, "swim: packet version");
  WEFT_TRY_ASSIGN(const std::uint64_t kind, get_uint(r));
  if (kind < 1 || kind > 7) return error(swim_errc::malformed_message, "swim: packet kind");
  h.kind = static_cast<packet_kind>(kind);
  if (fields != header_fields(h.kind))
    return error(swim_errc::malformed_message, "swim: packet field count");
  WEFT_TRY_ASSIGN(h.sender, get_uint(r));
  h.seq = 0;
  h.target = 0;
  h.target_addr = 0;
  h.payload.size = 0;
  switch (h.kind) {
    case packet_kind::ping_req: {
      WEFT_TRY_ASSIGN(h.seq, get_uint(r));
      WEFT_TRY_ASSIGN(h.target, get_uint(r));
      WEFT_TRY_ASSIGN(const std::uint64_t a, get_uint_max(r, 0xffffffffu));
      h.target_addr = static_cast<address>(a);
      break;
    }
    case packet_kind::ping: {
      WEFT_TRY_ASSIGN(h.seq, get_uint(r));
      WEFT_TRY_ASSIGN(h.target, get_uint(r));
      break;
    }
    case packet_kind::ack:
    case packet_kind::nack:
    case packet_kind::push_pull: {
      WEFT_TRY_ASSIGN(h.seq, get_uint(r));
      break;
    }
    case packet_kind::reply: {
      WEFT_TRY_ASSIGN(h.seq, get_uint(r));
      WEFT_TRY(get_blob(r, h.payload));
      break;
    }
    case packet_kind::gossip: break;
  }
  WEFT_TRY_ASSIGN(const std::uint64_t items, get_head(r, major::array));
  if (items > max_items) return error(swim_errc::message_too_large, "swim: too many items");
  return items;
}

/// The exact encoded size of `c` (full or compact), without writing it.
[[nodiscard]] constexpr std::size_t encoded_claim_size(const member_claim& c,
                                                       bool compact = false) noexcept {
  using detail::head_size;
  std::size_t n = head_size(detail::field_count(c.kind)) + 1 + head_size(c.subject) +
                  head_size(c.incarnation) + head_size(c.signature.size) + c.signature.size;
  if (c.kind == item_kind::alive) {
    n += head_size(c.addr) + head_size(c.admitter) + head_size(c.admission_epoch);
    n += compact ? 2 : head_size(c.key.size) + c.key.size + head_size(c.admission.size) +
                           c.admission.size;
  } else if (c.kind != item_kind::leave) {
    n += head_size(c.from);
  }
  return n;
}

/// The exact encoded size of a payload item, without writing it.
[[nodiscard]] constexpr std::size_t encoded_payload_size(const payload_item& p) noexcept {
  using detail::head_size;
  std::size_t n = head_size(detail::field_count(p.kind)) + 1 + head_size(p.origin) +
                  head_size(p.id) + head_size(p.payload.size) + p.payload.size +
                  head_size(p.signature.size) + p.signature.size;
  if (p.kind == item_kind::query) n += head_size(p.origin_addr) + head_size(p.timeout_ms);
  if (p.kind != item_kind::app) n += head_size(p.name.size) + p.name.size;
  return n;
}

/// Bytes an array head for `count` items takes.
[[nodiscard]] constexpr std::size_t array_head_size(std::uint64_t count) noexcept {
  return detail::head_size(count);
}

/// Appends an array head for `count` items.
[[nodiscard]] inline result<void> encode_array_head(byte_writer& w, std::uint64_t count) noexcept {
  return detail::put_array(w, count);
}

}  // namespace swim
WEFT_END
