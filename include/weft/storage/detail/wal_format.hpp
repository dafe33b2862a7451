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

/// Writes a record (header, payload, zero padding) at `out`; returns its total size.
inline std::size_t encode_record(const record_header& h, byte_view payload,
                                 std::uint8_t* out) noexcept {
  const std::size_t padded = padded_size(payload.size());
  store_le<std::uint32_t>(out + 4, static_cast<std::uint32_t>(payload.size()));
  out[8] = static_cast<std::uint8_t>(h.type);
  out[9] = out[10] = out[11] = 0;
  store_le<std::uint32_t>(out + 12, crc32c_mask(crc32c(payload)));
  store_le<std::uint64_t>(out + 16, h.sequence);
  store_le<std::uint64_t>(out + 24, h.synced_through);
  store_le<std::uint64_t>(out + 32, h.index);
  store_le<std::uint64_t>(out + 40, h.term);
  store_le<std::uint32_t>(out, crc32c_mask(crc32c(byte_view(out + 4, record_header_size - 4))));
  if (!payload.empty()) std::memcpy(out + record_header_size, payload.data(), payload.size());
  std::memset(out + record_header_size + payload.size(), 0, padded - payload.size());
  return record_header_size + padded;
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
