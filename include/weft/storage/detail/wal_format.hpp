// weft/storage/detail/wal_format.hpp - the on-disk layout of WAL segments and records, and
// the hostile-input-safe decoders recovery uses. Little-endian throughout.
//
// Segment header (64 bytes, at offset 0):
//   0 magic "weftwal\0" | 8 u32 version | 12 u32 header size (64) | 16 u64 segment number
//   24 u64 first record sequence | 32 u64 log first index at creation
//   40 u64 log last index at creation | 48 u64 segment size | 56 u32 zero
//   60 u32 masked CRC-32C of bytes 0..60
// Record (48-byte header, then the payload padded with zeros to a multiple of 8):
//   0 u32 masked CRC-32C of header bytes 4..48 (covers the length: never trusted alone)
//   4 u32 payload length | 8 u8 type (1 entry, 2 truncate, 3 compact, 4 sync marker) | 9 u8[3] zero | 12 u32 masked CRC-32C of the payload
//   16 u64 sequence (1, 2, 3... across segments) | 24 u64 synced_through (the highest
//   sequence known durable when this record was written) | 32 u64 index | 40 u64 term
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/crc32c.hpp"
#include "weft/core/endian.hpp"

WEFT_BEGIN
namespace storage::detail {

inline constexpr std::uint8_t wal_magic[8] = {'w', 'e', 'f', 't', 'w', 'a', 'l', 0};
// Version 2 added the sync-marker record type; version 1 segments (same layout) still read.
inline constexpr std::uint32_t wal_version = 2;
inline constexpr std::size_t segment_header_size = 64;
inline constexpr std::size_t record_header_size = 48;
inline constexpr std::size_t record_alignment = 8;

// sync_marker: no payload, index = the log's last index; written after a sync so that its
// synced_through proves the batch before it durable.
enum class record_type : std::uint8_t { entry = 1, truncate = 2, compact = 3, sync_marker = 4 };

struct segment_header {
  std::uint64_t number = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t first_index = 0;
  std::uint64_t last_index = 0;
  std::uint64_t segment_size = 0;
};

struct record_header {
  std::uint32_t payload_length = 0;
  record_type type = record_type::entry;
  std::uint32_t payload_crc = 0;  // unmasked
  std::uint64_t sequence = 0;
  std::uint64_t synced_through = 0;
  std::uint64_t index = 0;
  std::uint64_t term = 0;
};

constexpr std::size_t padded_size(std::size_t payload) noexcept {
  return (payload + record_alignment - 1) / record_alignment * record_alignment;
}
constexpr std::size_t record_size(std::size_t payload) noexcept {
  return record_header_size + padded_size(payload);
}

inline void encode_segment_header(const segment_header& h, std::uint8_t* out) noexcept {
  std::memset(out, 0, segment_header_size);
  std::memcpy(out, wal_magic, 8);
  store_le<std::uint32_t>(out + 8, wal_version);
  store_le<std::uint32_t>(out + 12, static_cast<std::uint32_t>(segment_header_size));
  store_le<std::uint64_t>(out + 16, h.number);
  store_le<std::uint64_t>(out + 24, h.first_sequence);
  store_le<std::uint64_t>(out + 32, h.first_index);
  store_le<std::uint64_t>(out + 40, h.last_index);
  store_le<std::uint64_t>(out + 48, h.segment_size);
  store_le<std::uint32_t>(out + 60, crc32c_mask(crc32c(byte_view(out, 60))));
}

enum class header_verdict : std::uint8_t { ok, all_zero, bad_magic, future_version, bad_crc };

/// Decodes a segment header; magic and version are judged before the checksum so that a
/// foreign file or a newer format is named as such rather than as corruption.
inline header_verdict decode_segment_header(byte_view in, segment_header& h) noexcept {
  if (in.size() < segment_header_size) return header_verdict::bad_crc;
  bool zero = true;
  for (std::size_t i = 0; i < segment_header_size; ++i) zero = zero && in[i] == 0;
  if (zero) return header_verdict::all_zero;
  if (std::memcmp(in.data(), wal_magic, 8) != 0) return header_verdict::bad_magic;
  const auto version = load_le<std::uint32_t>(in.data() + 8);
  if (version > wal_version) return header_verdict::future_version;
  const auto crc = load_le<std::uint32_t>(in.data() + 60);
  if (crc32c_unmask(crc) != crc32c(in.first(60))) return header_verdict::bad_crc;
  if (version == 0 || load_le<std::uint32_t>(in.data() + 12) != segment_header_size)
    return header_verdict::bad_crc;
  h.number = load_le<std::uint64_t>(in.data() + 16);
  h.first_sequence = load_le<std::uint64_t>(in.data() + 24);
  h.first_index = load_le<std::uint64_t>(in.data() + 32);
  h.last_index = load_le<std::uint64_t>(in.data() + 40);
  h.segment_size = load_le<std::uint64_t>(in.data() + 48);
  return header_verdict::ok;
}

/// Writes a record (header, payload, zero padding) at `out` with both checksums left zero;
/// returns its total size. seal_records() fills the checksums in, a batch at a time.
inline std::size_t encode_record_unsealed(const record_header& h, byte_view payload,
                                          std::uint8_t* out) noexcept {
  const std::size_t padded = padded_size(payload.size());
  store_le<std::uint32_t>(out, 0);
  store_le<std::uint32_t>(out + 4, static_cast<std::uint32_t>(payload.size()));
  out[8] = static_cast<std::uint8_t>(h.type);
  out[9] = out[10] = out[11] = 0;
  store_le<std::uint32_t>(out + 12, 0);
  store_le<std::uint64_t>(out + 16, h.sequence);
  store_le<std::uint64_t>(out + 24, h.synced_through);
  store_le<std::uint64_t>(out + 32, h.index);
  store_le<std::uint64_t>(out + 40, h.term);
  if (!payload.empty()) std::memcpy(out + record_header_size, payload.data(), payload.size());
  std::memset(out + record_header_size + payload.size(), 0, padded - payload.size());
  return record_header_size + padded;
}

#if WEFT_CRC32C_X86
// Three CRC registers advanced over `n` bytes of three buffers in one loop: the crc32
// instruction has a latency of 3 cycles and a throughput of 1, so one stream leaves two
// thirds of it idle.
__attribute__((target("sse4.2"))) inline void crc32c_update_three_sse42(
    std::uint32_t reg[3], const std::uint8_t* const in[3], std::size_t n) noexcept {
  std::uint64_t a = reg[0];
  std::uint64_t b = reg[1];
  std::uint64_t c = reg[2];
  for (std::size_t at = 0; at + 8 <= n; at += 8) {
    std::uint64_t wa;
    std::uint64_t wb;
    std::uint64_t wc;
    std::memcpy(&wa, in[0] + at, 8);
    std::memcpy(&wb, in[1] + at, 8);
    std::memcpy(&wc, in[2] + at, 8);
    a = _mm_crc32_u64(a, wa);
    b = _mm_crc32_u64(b, wb);
    c = _mm_crc32_u64(c, wc);
  }
  reg[0] = static_cast<std::uint32_t>(a);
  reg[1] = static_cast<std::uint32_t>(b);
  reg[2] = static_cast<std::uint32_t>(c);
}
#endif

/// CRC-32C of three buffers at once (the same values as crc32c() of each).
inline void crc32c_of_three(const byte_view (&in)[3], std::uint32_t (&out)[3]) noexcept {
  std::size_t common = 0;
#if WEFT_CRC32C_X86
  if (::weft::detail::cpu_has_sse42()) {
    common = std::min({in[0].size(), in[1].size(), in[2].size()}) / 8 * 8;
    std::uint32_t reg[3] = {~0u, ~0u, ~0u};
    const std::uint8_t* const starts[3] = {in[0].data(), in[1].data(), in[2].data()};
    crc32c_update_three_sse42(reg, starts, common);
    for (int k = 0; k < 3; ++k) out[k] = ~reg[k];
  }
#endif
  if (common == 0) {
    for (int k = 0; k < 3; ++k) out[k] = crc32c(in[k]);
    return;
  }
  for (int k = 0; k < 3; ++k) out[k] = crc32c_extend(out[k], in[k].subspan(common));
}

/// Fills in both checksums of the `count` (1-3) records (from encode_record_unsealed) at
/// `records[k]`: first the payload CRCs, then the header CRCs that cover them.
inline void seal_three(std::uint8_t* const (&records)[3], std::size_t count) noexcept {
  byte_view payloads[3] = {};
  for (std::size_t k = 0; k < count; ++k)
    payloads[k] = byte_view(records[k] + record_header_size, load_le<std::uint32_t>(records[k] + 4));
  std::uint32_t crcs[3];
  crc32c_of_three(payloads, crcs);
  byte_view headers[3] = {};
  for (std::size_t k = 0; k < count; ++k) {
    store_le<std::uint32_t>(records[k] + 12, crc32c_mask(crcs[k]));
    headers[k] = byte_view(records[k] + 4, record_header_size - 4);
  }
  crc32c_of_three(headers, crcs);
  for (std::size_t k = 0; k < count; ++k) store_le<std::uint32_t>(records[k], crc32c_mask(crcs[k]));
}

/// Fills in the checksums of the whole records (from encode_record_unsealed) that fill
/// [data, data + size).
inline void seal_records(std::uint8_t* data, std::size_t size) noexcept {
  std::uint8_t* group[3] = {};
  std::size_t count = 0;
  for (std::size_t at = 0; at + record_header_size <= size;) {
    group[count++] = data + at;
    at += record_size(load_le<std::uint32_t>(data + at + 4));
    if (count == 3) {
      seal_three(group, count);
      count = 0;
    }
  }
  if (count > 0) seal_three(group, count);
}

/// Writes a record (header, payload, zero padding) at `out`; returns its total size.
inline std::size_t encode_record(const record_header& h, byte_view payload,
                                 std::uint8_t* out) noexcept {
  const std::size_t size = encode_record_unsealed(h, payload, out);
  seal_records(out, size);
  return size;
}

/// Decodes and checks a record header alone. False when the checksum, the type or the
/// reserved bytes are wrong, or the length exceeds `max_payload`.
inline bool decode_record_header(byte_view in, std::size_t max_payload,
                                 record_header& h) noexcept {
  if (in.size() < record_header_size) return false;
  const std::uint8_t* p = in.data();
  if (load_le<std::uint64_t>(p + 16) == 0) return false;  // sequences start at 1: fast reject
  const auto crc = crc32c_unmask(load_le<std::uint32_t>(p));
  if (crc != crc32c(byte_view(p + 4, record_header_size - 4))) return false;
  if (p[8] < 1 || p[8] > 4 || p[9] != 0 || p[10] != 0 || p[11] != 0) return false;
  h.payload_length = load_le<std::uint32_t>(p + 4);
  if (h.payload_length > max_payload) return false;
  h.type = static_cast<record_type>(p[8]);
  h.payload_crc = crc32c_unmask(load_le<std::uint32_t>(p + 12));
  h.sequence = load_le<std::uint64_t>(p + 16);
  h.synced_through = load_le<std::uint64_t>(p + 24);
  h.index = load_le<std::uint64_t>(p + 32);
  h.term = load_le<std::uint64_t>(p + 40);
  return true;
}

inline bool payload_matches(const record_header& h, byte_view payload) noexcept {
  return payload.size() == h.payload_length && crc32c(payload) == h.payload_crc;
}

/// "wal-<16 lowercase hex digits>.log"
inline constexpr std::size_t segment_name_size = 24;

inline void format_segment_name(std::uint64_t number, char (&out)[segment_name_size + 1]) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  std::memcpy(out, "wal-", 4);
  for (int i = 0; i < 16; ++i)
    out[4 + i] = digits[(number >> (60 - 4 * i)) & 0xfu];
  std::memcpy(out + 20, ".log", 5);
}

inline bool parse_segment_name(std::string_view name, std::uint64_t& number) noexcept {
  if (name.size() != segment_name_size || name.substr(0, 4) != "wal-" ||
      name.substr(20) != ".log")
    return false;
  number = 0;
  for (std::size_t i = 4; i < 20; ++i) {
    const char c = name[i];
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) return false;
    number = (number << 4) | static_cast<std::uint64_t>(v);
  }
  return true;
}

}  // namespace storage::detail
WEFT_END
