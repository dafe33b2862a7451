// weft/runtime/detail/raft_codec.hpp - a stand-in codec for Raft messages on the node's
// TCP links: fixed layout, big-endian, hostile-input safe. It exists because the CBOR
// message codec of weft/consensus/raft was not yet available when the node driver was
// written; a Stack selects its codec (`Stack::codec`), so the CBOR one replaces this by
// changing one alias.
//   u8 version(1) | u8 type | u8 flags | 13 x u64 (from to term log_index log_term commit
//   round stamp_tick snapshot_index snapshot_term snapshot_size offset data_size)
//   | u32 entry count | count x (u64 index | u64 term | u8 type | u32 size | bytes)
//   | u32 data size | bytes | u8 has_config | [u16 size | configuration bytes]
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/config.hpp"
#include "weft/consensus/raft/config_codec.hpp"
#include "weft/consensus/raft/types.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN
namespace runtime::detail {

inline constexpr std::uint8_t raft_codec_version = 1;

/// Where a decoded message's views point: valid while the input bytes and this object live.
struct raft_decode_scratch {
  std::vector<raft::entry_ref> entries;  // reserved to the entry limit by the owner
  raft::configuration config{};
};

struct fixed_raft_codec {
  [[nodiscard]] static result<std::size_t> encode(const raft::message& m,
                                                  mutable_byte_view out) noexcept {
    byte_writer w(out);
    WEFT_TRY(w.put(raft_codec_version));
    WEFT_TRY(w.put(static_cast<std::uint8_t>(m.type)));
    const auto flags = static_cast<std::uint8_t>((m.reject ? 1U : 0U) | (m.transfer ? 2U : 0U) |
                                                 (m.snapshot_done ? 4U : 0U));
    WEFT_TRY(w.put(flags));
    const std::uint64_t words[] = {m.from,           m.to,
                                   m.term,           m.log_index,
                                   m.log_term,       m.commit,
                                   m.round,          m.stamp_tick,
                                   m.snapshot_index, m.snapshot_term,
                                   m.snapshot_size_bytes, m.snapshot_offset,
                                   m.data_size};
    for (const std::uint64_t v : words) WEFT_TRY(w.put_be<std::uint64_t>(v));
    WEFT_TRY(w.put_be<std::uint32_t>(static_cast<std::uint32_t>(m.entries.size())));
    for (std::size_t i = 0; i < m.entries.size(); ++i) {
      const raft::entry_ref e = m.entries.at(i);
      WEFT_TRY(w.put_be<std::uint64_t>(e.index));
      WEFT_TRY(w.put_be<std::uint64_t>(e.term));
      WEFT_TRY(w.put(static_cast<std::uint8_t>(e.type)));
      WEFT_TRY(w.put_be<std::uint32_t>(static_cast<std::uint32_t>(e.payload.size())));
      WEFT_TRY(w.put(e.payload));
    }
    WEFT_TRY(w.put_be<std::uint32_t>(static_cast<std::uint32_t>(m.data.size())));
    WEFT_TRY(w.put(m.data));
    WEFT_TRY(w.put(static_cast<std::uint8_t>(m.snapshot_config != nullptr ? 1U : 0U)));
    if (m.snapshot_config != nullptr) {
      std::uint8_t config[raft::max_config_encoded_bytes];
      WEFT_TRY_ASSIGN(const std::size_t n,
                      raft::encode_configuration(*m.snapshot_config, mutable_byte_view(config)));
      WEFT_TRY(w.put_be<std::uint16_t>(static_cast<std::uint16_t>(n)));
      WEFT_TRY(w.put(byte_view(config, n)));
    }
    return w.size();
  }

  /// Decodes `in` into `m`; entry and configuration views point into `in` and `scratch`.
  /// Refuses more entries than `scratch.entries.capacity()`.
  [[nodiscard]] static result<void> decode(byte_view in, raft::message& m,
                                           raft_decode_scratch& scratch) noexcept {
    const auto bad = [](const char* where) {
      return result<void>(error(core_errc::invalid_argument, where));
    };
    byte_reader r(in);
    WEFT_TRY_ASSIGN(const std::uint8_t version, r.get());
    if (version != raft_codec_version) return bad("raft codec: unknown version");
    WEFT_TRY_ASSIGN(const std::uint8_t type, r.get());
    if (type == 0 || type > raft::max_message_type) return bad("raft codec: unknown type");
    WEFT_TRY_ASSIGN(const std::uint8_t flags, r.get());
    if (flags > 7) return bad("raft codec: unknown flags");
    m = raft::message{};
    m.type = static_cast<raft::message_type>(type);
    m.reject = (flags & 1U) != 0;
    m.transfer = (flags & 2U) != 0;
    m.snapshot_done = (flags & 4U) != 0;
    std::uint64_t* const words[] = {&m.from,           &m.to,
                                    &m.term,           &m.log_index,
                                    &m.log_term,       &m.commit,
                                    &m.round,          &m.stamp_tick,
                                    &m.snapshot_index, &m.snapshot_term,
                                    &m.snapshot_size_bytes, &m.snapshot_offset,
                                    &m.data_size};
    for (std::uint64_t* word : words) {
      WEFT_TRY_ASSIGN(*word, r.get_be<std::uint64_t>());
    }
    WEFT_TRY_ASSIGN(const std::uint32_t count, r.get_be<std::uint32_t>());
    if (count > scratch.entries.capacity()) return bad("raft codec: too many entries");
    scratch.entries.clear();
    for (std::uint32_t i = 0; i < count; ++i) {
      raft::entry_ref e;
      WEFT_TRY_ASSIGN(e.index, r.get_be<std::uint64_t>());
      WEFT_TRY_ASSIGN(e.term, r.get_be<std::uint64_t>());
      WEFT_TRY_ASSIGN(const std::uint8_t entry_type, r.get());
      if (entry_type > 2) return bad("raft codec: unknown entry type");
      e.type = static_cast<raft::entry_type>(entry_type);
      WEFT_TRY_ASSIGN(const std::uint32_t size, r.get_be<std::uint32_t>());
      WEFT_TRY_ASSIGN(e.payload, r.take(size));
      scratch.entries.push_back(e);  // within the reserved capacity: no allocation
    }
    m.entries = raft::entry_range(std::span<const raft::entry_ref>(scratch.entries));
    WEFT_TRY_ASSIGN(const std::uint32_t data_size, r.get_be<std::uint32_t>());
    WEFT_TRY_ASSIGN(m.data, r.take(data_size));
    WEFT_TRY_ASSIGN(const std::uint8_t has_config, r.get());
    if (has_config > 1) return bad("raft codec: bad configuration flag");
    if (has_config == 1) {
      WEFT_TRY_ASSIGN(const std::uint16_t size, r.get_be<std::uint16_t>());
      WEFT_TRY_ASSIGN(const byte_view config, r.take(size));
      WEFT_TRY_ASSIGN(scratch.config, raft::decode_configuration(config));
      m.snapshot_config = &scratch.config;
    }
    if (!r.empty()) return bad("raft codec: trailing bytes");
    return ok();
  }
};

}  // namespace runtime::detail
WEFT_END
