// weft/telemetry/binary_log.hpp - the compact binary log (deferred formatting, as defmt):
// the calling thread copies a callsite pointer, a timestamp and the raw field values into
// a bounded lock-free queue; a drain turns records into self-synchronising frames; a
// decoder turns a (possibly corrupt) frame stream back into text. Format: docs/telemetry.md.
//
// Frame:   F5 7E | payload length (u16 LE, 1..4088) | payload | CRC-32C (u32 LE) of
//          the length bytes and the payload. A reader that meets garbage skips one byte and
//          looks for the next F5 7E whose frame checks, so one bad frame costs one frame.
//          It checks a candidate's CRC from running CRCs of the stream (window_crc below),
//          so a stream of false syncs costs work linear in its size, not size x length.
// Payload: 01 callsite: id, level (u8), line, message, file, key count, keys
//          02 event:    callsite id, timestamp ns (zigzag), flags (u8), field count, fields
//          03 dropped:  number of records the queue refused since the last 03 record
// Integers are LEB128 varints; strings are a varint length then bytes; a field is its
// kind (u8, field_kind) then its value: u64 varint, i64 zigzag varint, f64 8 bytes LE,
// bool 1 byte, string.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/result.hpp"
#include "weft/core/static_vector.hpp"
#include "weft/core/time.hpp"
#include "weft/telemetry/concepts.hpp"
#include "weft/telemetry/log.hpp"
#include "weft/telemetry/metrics.hpp"
#include "weft/telemetry/text_output.hpp"

WEFT_BEGIN
namespace telemetry {

inline constexpr std::uint8_t frame_sync_0 = 0xF5;
inline constexpr std::uint8_t frame_sync_1 = 0x7E;
inline constexpr std::size_t frame_overhead_bytes = 8;
/// The largest payload a writer produces (binary_sink frames into a 4,096-byte scratch). A
/// length field above it is not a frame: the reader skips the sync without checking a CRC.
inline constexpr std::size_t max_frame_payload_bytes = 4096 - frame_overhead_bytes;

enum class record_type : std::uint8_t { callsite = 1, event = 2, dropped = 3 };

/// Record flag: some field values did not fit the queue slot and were cut or left out.
inline constexpr std::uint8_t record_flag_truncated = 0x01;

namespace detail {

inline void put_varint(byte_writer& w, std::uint64_t v, bool& ok_so_far) noexcept {
  while (v >= 0x80) {
    ok_so_far = ok_so_far && w.put(static_cast<std::uint8_t>(v | 0x80)).has_value();
    v >>= 7;
  }
  ok_so_far = ok_so_far && w.put(static_cast<std::uint8_t>(v)).has_value();
}
inline void put_string(byte_writer& w, std::string_view s, bool& ok_so_far) noexcept {
  put_varint(w, s.size(), ok_so_far);
  ok_so_far = ok_so_far && w.put(as_bytes(s)).has_value();
}
constexpr std::uint64_t zigzag(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int64_t unzigzag(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}
inline result<std::uint64_t> get_varint(byte_reader& r) noexcept {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    WEFT_TRY_ASSIGN(const std::uint8_t b, r.get());
    if (shift == 63 && b > 1) break;  // more than 64 bits
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return error(telemetry_errc::bad_record, "varint");
}
inline result<std::string_view> get_string(byte_reader& r) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t n, get_varint(r));
  if (n > r.remaining()) return error(telemetry_errc::bad_record, "string length");
  WEFT_TRY_ASSIGN(const byte_view bytes, r.take(static_cast<std::size_t>(n)));
  return as_chars(bytes);
}

/// Wraps `payload` (already written at out[4..4+n)) into a frame in place.
inline std::size_t seal_frame(std::uint8_t* frame, std::size_t payload_bytes) noexcept {
  frame[0] = frame_sync_0;
  frame[1] = frame_sync_1;
  store_le<std::uint16_t>(frame + 2, static_cast<std::uint16_t>(payload_bytes));
  const std::uint32_t crc = crc32c(byte_view(frame + 2, payload_bytes + 2));
  store_le<std::uint32_t>(frame + 4 + payload_bytes, crc);
  return payload_bytes + frame_overhead_bytes;
}

/// CRC-32C of any stretch of a stream up to max_window_bytes long, from running CRCs: each
/// stream byte enters the running register once, and a stretch then costs one 32-step
/// carry-less multiplication whatever its length. Why it holds: the raw register (no
/// inversions) is linear, R(end) = R(begin) * x^(8 (end - begin)) + raw(stretch) mod P, and
/// the standard CRC of the stretch is ~((~0 ^ R(begin)) * x^(8 (end - begin)) ^ R(end)).
class window_crc {
 public:
  static constexpr std::size_t max_window_bytes = max_frame_payload_bytes + 2;

  explicit window_crc(byte_view stream) noexcept : stream_(stream) {}

  /// CRC-32C of stream[begin, end). `begin` may lie at most ring_slots - max_window_bytes
  /// before the furthest `end` asked so far (a reader moving forward stays well inside).
  [[nodiscard]] std::uint32_t of(std::size_t begin, std::size_t end) noexcept {
    WEFT_ASSERT(begin <= end && end - begin <= max_window_bytes && end <= stream_.size());
    const std::uint32_t at_end = running(end);
    WEFT_ASSERT(computed_ - begin < ring_slots);
    const std::uint32_t at_begin = ring_[begin & (ring_slots - 1)];
    return ~(multiply(~0u ^ at_begin, byte_shift_powers[end - begin]) ^ at_end);
  }
  /// Stream bytes fed to the CRC so far (each byte at most once).
  [[nodiscard]] std::size_t bytes_hashed() const noexcept { return computed_; }

 private:
  static constexpr std::size_t ring_slots = 8192;  // > 2 * max_window_bytes
  static constexpr std::uint32_t reflected_polynomial = 0x82F63B78u;

  // x^(8n) mod P for every window length n, in the reflected bit order of the register
  // (bit 31 holds x^0); x^(8(n+1)) is x^(8n) run through the register with one zero byte.
  static constexpr auto byte_shift_powers = [] {
    std::array<std::uint32_t, max_window_bytes + 1> powers{};
    powers[0] = 0x80000000u;
    for (std::size_t n = 1; n < powers.size(); ++n)
      powers[n] = (powers[n - 1] >> 8) ^ ::weft::detail::crc32c_tables[0][powers[n - 1] & 0xffu];
    return powers;
  }();

  // a * b mod P in the reflected order: walk a's coefficients from x^0 up while b is
  // multiplied by x (one right shift, reduced by P when x^31 falls off).
  static constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t product = 0;
    for (std::uint32_t coefficient = 0x80000000u; coefficient != 0; coefficient >>= 1) {
      if ((a & coefficient) != 0) product ^= b;
      b = (b & 1u) != 0 ? (b >> 1) ^ reflected_polynomial : b >> 1;
    }
    return product;
  }

  std::uint32_t running(std::size_t index) noexcept {
    const auto& table = ::weft::detail::crc32c_tables[0];
    for (; computed_ < index; ++computed_) {
      const std::uint32_t r = ring_[computed_ & (ring_slots - 1)];
      ring_[(computed_ + 1) & (ring_slots - 1)] = (r >> 8) ^ table[(r ^ stream_[computed_]) & 0xffu];
    }
    return ring_[index & (ring_slots - 1)];
  }

  byte_view stream_;
  std::size_t computed_ = 0;                      // running registers known up to here
  std::array<std::uint32_t, ring_slots> ring_{};  // ring_[i % ring_slots] = R(i); R(0) = 0
};

/// Encodes a callsite registration payload.
inline bool encode_callsite(byte_writer& w, std::uint32_t id, const callsite& cs,
                            std::span<const std::string_view> keys) noexcept {
  bool good = w.put(static_cast<std::uint8_t>(record_type::callsite)).has_value();
  put_varint(w, id, good);
  good = good && w.put(static_cast<std::uint8_t>(cs.severity)).has_value();
  put_varint(w, cs.line, good);
  put_string(w, cs.message, good);
  put_string(w, cs.file, good);
  put_varint(w, keys.size(), good);
  for (auto k : keys) put_string(w, k, good);
  return good;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Decoding

struct decoded_field {
  std::string_view key;  // from the callsite registration ("?" when unknown)
  field value;           // string values view the input stream
};

struct decoded_callsite {
  static constexpr std::size_t max_keys = 16;
  bool known = false;
  level severity = level::info;
  std::uint32_t line = 0;
  std::string_view message, file;  // view the input stream
  static_vector<std::string_view, max_keys> keys{};
};

struct decoded_event {
  static constexpr std::size_t max_fields = 16;
  std::uint32_t callsite_id = 0;
  const decoded_callsite* site = nullptr;  // null when never registered
  std::int64_t ts_ns = 0;
  std::uint8_t flags = 0;
  static_vector<decoded_field, max_fields> fields{};
};

/// A stretch of input that did not decode, and why.
struct decode_problem {
  std::size_t offset = 0;  // byte offset in the stream
  std::size_t length_bytes = 0;
  telemetry_errc code = telemetry_errc::ok;
};

struct decode_summary {
  std::size_t frames_ok = 0;
  std::size_t events = 0;
  std::size_t problems = 0;
  std::size_t skipped_bytes = 0;
  std::uint64_t dropped_by_writer = 0;  // sum of the writer's 03 records
  std::size_t candidate_frames = 0;  // syncs with a plausible length whose CRC was checked
  std::size_t crc_bytes = 0;         // stream bytes fed to the CRC (each at most once)
};

/// Visitor: on_event(const decoded_event&), on_dropped(std::uint64_t count),
/// on_problem(const decode_problem&). Callsites go into `table` (index = id; ids beyond
/// the table are reported as unknown_callsite).
template <class V>
concept log_visitor = requires(V& v, const decoded_event& e, const decode_problem& p) {
  v.on_event(e);
  v.on_dropped(std::uint64_t{});
  v.on_problem(p);
};

namespace detail {

inline result<field> decode_field_value(byte_reader& r) noexcept {
  WEFT_TRY_ASSIGN(const std::uint8_t kind, r.get());
  field f;
  switch (static_cast<field_kind>(kind)) {
    case field_kind::u64: { WEFT_TRY_ASSIGN(f.u, get_varint(r)); break; }
    case field_kind::i64: {
      WEFT_TRY_ASSIGN(const std::uint64_t z, get_varint(r));
      f.i = unzigzag(z);
      break;
    }
    case field_kind::f64: {
      WEFT_TRY_ASSIGN(const std::uint64_t bits, r.get_le<std::uint64_t>());
      f.f = std::bit_cast<double>(bits);
      break;
    }
    case field_kind::boolean: {
      WEFT_TRY_ASSIGN(const std::uint8_t b, r.get());
      if (b > 1) return error(telemetry_errc::bad_record, "bool");
      f.b = b == 1;
      break;
    }
    case field_kind::string: { WEFT_TRY_ASSIGN(f.text, get_string(r)); break; }
    default: return error(telemetry_errc::bad_record, "field kind");
  }
  f.kind = static_cast<field_kind>(kind);
  return f;
}

inline result<void> decode_callsite_record(byte_reader& r,
                                           std::span<decoded_callsite> table) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t id, get_varint(r));
  decoded_callsite cs;
  WEFT_TRY_ASSIGN(const std::uint8_t lvl, r.get());
  if (lvl >= static_cast<std::uint8_t>(level::off)) return error(telemetry_errc::bad_record, "level");
  cs.severity = static_cast<level>(lvl);
  WEFT_TRY_ASSIGN(const std::uint64_t line, get_varint(r));
  if (line > 0xffffffffu) return error(telemetry_errc::bad_record, "line");
  cs.line = static_cast<std::uint32_t>(line);
  WEFT_TRY_ASSIGN(cs.message, get_string(r));
  WEFT_TRY_ASSIGN(cs.file, get_string(r));
  WEFT_TRY_ASSIGN(const std::uint64_t key_count, get_varint(r));
  if (key_count > decoded_callsite::max_keys) return error(telemetry_errc::bad_record, "keys");
  for (std::uint64_t k = 0; k < key_count; ++k) {
    WEFT_TRY_ASSIGN(const std::string_view key, get_string(r));
    WEFT_TRY(cs.keys.push_back(key));
  }
  if (!r.empty()) return error(telemetry_errc::bad_record, "callsite trailing bytes");
  if (id == 0 || id >= table.size()) return error(telemetry_errc::unknown_callsite, "id");
  cs.known = true;
  table[static_cast<std::size_t>(id)] = cs;
  return ok();
}

inline result<void> decode_event_record(byte_reader& r, std::span<decoded_callsite> table,
                                        decoded_event& e) noexcept {
  WEFT_TRY_ASSIGN(const std::uint64_t id, get_varint(r));
  if (id > 0xffffffffu) return error(telemetry_errc::bad_record, "callsite id");
  e.callsite_id = static_cast<std::uint32_t>(id);
  WEFT_TRY_ASSIGN(const std::uint64_t ts, get_varint(r));
  e.ts_ns = unzigzag(ts);
  WEFT_TRY_ASSIGN(e.flags, r.get());
  WEFT_TRY_ASSIGN(const std::uint64_t count, get_varint(r));
  if (count > decoded_event::max_fields) return error(telemetry_errc::bad_record, "fields");
  const decoded_callsite* site =
      (id < table.size() && table[static_cast<std::size_t>(id)].known) ? &table[static_cast<std::size_t>(id)] : nullptr;
  e.site = site;
  for (std::uint64_t i = 0; i < count; ++i) {
    decoded_field df;
    WEFT_TRY_ASSIGN(df.value, decode_field_value(r));
    df.key = (site != nullptr && i < site->keys.size()) ? site->keys[static_cast<std::size_t>(i)] : "?";
    WEFT_TRY(e.fields.push_back(df));
  }
  if (!r.empty()) return error(telemetry_errc::bad_record, "event trailing bytes");
  return ok();
}

}  // namespace detail

/// Decodes every intact frame of `stream`, in order, and reports every stretch that is not.
/// Never fails as a whole: corruption is reported through `visitor.on_problem`.
template <log_visitor V>
decode_summary decode_log_stream(byte_view stream, std::span<decoded_callsite> table,
                                 V&& visitor) noexcept {
  decode_summary summary;
  detail::window_crc crcs(stream);
  std::size_t pos = 0, garbage_start = 0, garbage = 0;
  std::size_t last_sync = 0;  // one past the last F5 7E; bounds the resync look-ahead
  for (std::size_t p = 0; p + 1 < stream.size(); ++p)
    if (stream[p] == frame_sync_0 && stream[p + 1] == frame_sync_1) last_sync = p + 1;
  auto report = [&](std::size_t offset, std::size_t len, telemetry_errc code) {
    ++summary.problems;
    visitor.on_problem(decode_problem{offset, len, code});
  };
  auto flush_garbage = [&] {
    if (garbage != 0) report(garbage_start, garbage, telemetry_errc::bad_frame);
    summary.skipped_bytes += garbage;
    garbage = 0;
  };
  while (pos < stream.size()) {
    const std::size_t left = stream.size() - pos;
    // A lone F5 at the very end is the start of a frame cut short.
    const bool sync = stream[pos] == frame_sync_0 && (left == 1 || stream[pos + 1] == frame_sync_1);
    std::size_t len = sync && left >= 4 ? load_le<std::uint16_t>(stream.data() + pos + 2) : 0;
    if (len > max_frame_payload_bytes) len = 0;  // no writer makes it: a false sync
    if (sync && (left < 4 || (len != 0 && left < len + frame_overhead_bytes))) {
      // The frame would run past the end: truncated (or a corrupt length; keep scanning).
      if (last_sync <= pos + 1) {
        flush_garbage();
        report(pos, left, telemetry_errc::truncated_frame);
        summary.skipped_bytes += left;
        break;
      }
      len = 0;  // treat as garbage below
    }
    const bool candidate = sync && len != 0 && left >= len + frame_overhead_bytes;
    summary.candidate_frames += candidate ? 1 : 0;
    const bool framed = candidate && crcs.of(pos + 2, pos + 4 + len) ==
                                         load_le<std::uint32_t>(stream.data() + pos + 4 + len);
    if (!framed) {
      if (garbage == 0) garbage_start = pos;
      ++garbage;
      ++pos;
      continue;
    }
    flush_garbage();
    ++summary.frames_ok;
    byte_reader r(stream.subspan(pos + 4, len));
    const std::uint8_t type = *r.get();
    result<void> outcome = ok();
    if (type == static_cast<std::uint8_t>(record_type::callsite)) {
      outcome = detail::decode_callsite_record(r, table);
    } else if (type == static_cast<std::uint8_t>(record_type::event)) {
      decoded_event e;
      outcome = detail::decode_event_record(r, table, e);
      if (outcome) {
        ++summary.events;
        if (e.site == nullptr) report(pos, len + frame_overhead_bytes, telemetry_errc::unknown_callsite);
        visitor.on_event(e);
      }
    } else if (type == static_cast<std::uint8_t>(record_type::dropped)) {
      auto count = detail::get_varint(r);
      if (count && r.empty()) {
        summary.dropped_by_writer += *count;
        visitor.on_dropped(*count);
      } else {
        outcome = error(telemetry_errc::bad_record, "dropped");
      }
    } else {
      outcome = error(telemetry_errc::bad_record, "record type");
    }
    if (!outcome) {
      const auto code = outcome.error().is(telemetry_errc::unknown_callsite)
                            ? telemetry_errc::unknown_callsite
                            : telemetry_errc::bad_record;
      report(pos, len + frame_overhead_bytes, code);
    }
    pos += len + frame_overhead_bytes;
  }
  flush_garbage();
  summary.crc_bytes = crcs.bytes_hashed();
  return summary;
}

namespace detail {
/// Keys and file names come from the stream: a plain token is written as is, anything else
/// (spaces, quotes, '=', control or non-ASCII bytes) as a JSON string, so that a decoded
/// event always stays one line that splits unambiguously.
template <class O>
void append_token(O& out, std::string_view s) noexcept {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b > 0x20 && b < 0x7f && c != '"' && c != '=';
  });
  if (plain) out.append(s);
  else append_json_string(out, s);
}
}  // namespace detail

/// One line of text for an event: `<ts_ns> <level> <message> key=value ... (file:line)`.
/// Strings are quoted with JSON escaping so that a line never contains a raw newline.
template <text_output O>
void format_decoded_event(O& out, const decoded_event& e) noexcept {
  detail::append_i64(out, e.ts_ns);
  out.append(" ");
  if (e.site != nullptr) {
    out.append(level_name(e.site->severity));
    out.append(" ");
    append_json_string(out, e.site->message);
  } else {
    out.append("? callsite#");
    detail::append_u64(out, e.callsite_id);
  }
  for (const decoded_field& f : e.fields) {
    out.append(" ");
    detail::append_token(out, f.key);
    out.append("=");
    switch (f.value.kind) {
      case field_kind::u64: detail::append_u64(out, f.value.u); break;
      case field_kind::i64: detail::append_i64(out, f.value.i); break;
      case field_kind::f64: detail::append_double(out, f.value.f); break;
      case field_kind::boolean: out.append(f.value.b ? "true" : "false"); break;
      case field_kind::string: append_json_string(out, f.value.text); break;
    }
  }
  if ((e.flags & record_flag_truncated) != 0) out.append(" [truncated]");
  if (e.site != nullptr) {
    out.append(" (");
    detail::append_token(out, e.site->file);
    out.append(":");
    detail::append_u64(out, e.site->line);
    out.append(")");
  }
  out.append("\n");
}

}  // namespace telemetry
WEFT_END
