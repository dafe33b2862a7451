// weft/consensus/raft/codec.hpp - the versioned, deterministic CBOR schema of Raft
// messages (weft/wire). encode_message() writes into caller memory; message_decoder keeps
// the storage a decoded message's views point to (entries, configuration), so decoding
// allocates nothing. Schema (map keys):
//   0 version (1) | 1 type | 2 from | 3 to | 4 term | 5 log_index | 6 log_term | 7 commit
//   8 reject | 9 transfer | 10 round | 11 stamp_tick | 12 entries [ {1 index, 2 term,
//   3 type, 4 payload} ] | 13 snapshot? {1 index, 2 term, 3 size, 4 offset, 5 data,
//   6 done, 7 members [ {1 id, 2 role, 3 flags(bit0 outgoing, bit1 incoming)} ]}
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "weft/config.hpp"
#include "weft/consensus/raft/types.hpp"
#include "weft/wire/schema.hpp"

WEFT_BEGIN
namespace raft {

inline constexpr std::uint64_t wire_version = 1;
/// The most entries one encoded message may carry (options.max_entries_per_message must
/// not exceed it when messages travel through this codec).
inline constexpr std::size_t max_wire_entries = max_entries_per_append;

namespace detail {
struct wire_entry {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint8_t type = 0;
  byte_view payload{};
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.index);
    v(2, self.term);
    v(3, self.type);
    v(4, self.payload);
  }
};
struct wire_member {
  std::uint64_t id = 0;
  std::uint8_t role = 0;
  std::uint8_t flags = 0;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.id);
    v(2, self.role);
    v(3, self.flags);
  }
};
struct wire_snapshot {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
  byte_view data{};
  bool done = false;
  static_vector<wire_member, max_config_members> members;
  static constexpr void fields(auto& v, auto& self) {
    v(1, self.index);
    v(2, self.term);
    v(3, self.size);
    v(4, self.offset);
    v(5, self.data);
    v(6, self.done);
    v(7, self.members);
  }
};
struct wire_message {
  std::uint64_t version = wire_version;
  std::uint8_t type = 0;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::uint64_t term = 0;
  std::uint64_t log_index = 0;
  std::uint64_t log_term = 0;
  std::uint64_t commit = 0;
  bool reject = false;
  bool transfer = false;
  std::uint64_t round = 0;
  std::uint64_t stamp_tick = 0;
  static_vector<wire_entry, max_wire_entries> entries;
  std::optional<wire_snapshot> snapshot;
  static constexpr void fields(auto& v, auto& self) {
    v(0, self.version);
    v(1, self.type);
    v(2, self.from);
    v(3, self.to);
    v(4, self.term);
    v(5, self.log_index);
    v(6, self.log_term);
    v(7, self.commit);
    v(8, self.reject);
    v(9, self.transfer);
    v(10, self.round);
    v(11, self.stamp_tick);
    v(12, self.entries);
    v(13, self.snapshot);
  }
};
}  // namespace detail

/// Encodes and decodes Raft messages; holds the scratch a message's views point to, so
/// one codec serves one message at a time (a decoded message is valid until the next call).
class message_codec {
 public:
  /// Encodes `m` into `out`; for install_snapshot, `m.data` must hold the chunk bytes.
  [[nodiscard]] result<byte_view> encode(const message& m, mutable_byte_view out) noexcept {
    if (m.entries.size() > max_wire_entries)
      return error(raft_errc::bad_message, "encode_message: too many entries");
    wire_ = detail::wire_message{};
    wire_.type = static_cast<std::uint8_t>(m.type);
    wire_.from = m.from;
    wire_.to = m.to;
    wire_.term = m.term;
    wire_.log_index = m.log_index;
    wire_.log_term = m.log_term;
    wire_.commit = m.commit;
    wire_.reject = m.reject;
    wire_.transfer = m.transfer;
    wire_.round = m.round;
    wire_.stamp_tick = m.stamp_tick;
    for (std::size_t i = 0; i < m.entries.size(); ++i) {
      const entry_ref e = m.entries.at(i);
      WEFT_TRY(wire_.entries.push_back(detail::wire_entry{e.index, e.term,
                                                          static_cast<std::uint8_t>(e.type), e.payload}));
    }
    if (m.type == message_type::install_snapshot || m.type == message_type::install_snapshot_response) {
      detail::wire_snapshot s;
      s.index = m.snapshot_index;
      s.term = m.snapshot_term;
      s.size = m.snapshot_size_bytes;
      s.offset = m.snapshot_offset;
      s.data = m.data;
      s.done = m.snapshot_done;
      if (m.snapshot_config != nullptr)
        for (const member& mem : m.snapshot_config->members)
          WEFT_TRY(s.members.push_back(detail::wire_member{
              mem.id, static_cast<std::uint8_t>(mem.role),
              static_cast<std::uint8_t>((mem.outgoing ? 1U : 0U) | (mem.incoming ? 2U : 0U))}));
      wire_.snapshot = s;
    }
    return wire::encode(wire_, out);
  }

  /// Decodes one message; every view in the result points into `input` or this codec.
  [[nodiscard]] result<message> decode(byte_view input, const wire::decode_limits& limits = {}) noexcept {
    if (auto decoded = wire::decode_into(input, wire_, limits); !decoded) {
      // The schema's only bounded arrays: entries (256) and snapshot members (16).
      if (decoded.error().is(wire::cbor_errc::capacity_exceeded))
        return error(raft_errc::message_too_large, "decode_message: over 256 entries or 16 members");
      return decoded.error();
    }
    const auto bad = [](const char* where) { return result<message>(error(raft_errc::bad_message, where)); };
    if (wire_.version != wire_version) return error(raft_errc::unsupported_version, "decode_message");
    if (wire_.type == 0 || wire_.type > max_message_type) return bad("decode_message: type");
    message m;
    m.type = static_cast<message_type>(wire_.type);
    // The snapshot field belongs to exactly the two snapshot types (as encode() writes it):
    // anything else has another encoding and would not round-trip.
    const bool snapshot_type = m.type == message_type::install_snapshot ||
                               m.type == message_type::install_snapshot_response;
    if (snapshot_type != wire_.snapshot.has_value()) return bad("decode_message: snapshot field");
    m.from = wire_.from;
    m.to = wire_.to;
    m.term = wire_.term;
    m.log_index = wire_.log_index;
    m.log_term = wire_.log_term;
    m.commit = wire_.commit;
    m.reject = wire_.reject;
    m.transfer = wire_.transfer;
    m.round = wire_.round;
    m.stamp_tick = wire_.stamp_tick;
    for (std::size_t i = 0; i < wire_.entries.size(); ++i) {
      const detail::wire_entry& e = wire_.entries[i];
      if (e.type > 2) return bad("decode_message: entry type");
      refs_[i] = entry_ref{e.index, e.term, static_cast<entry_type>(e.type), e.payload};
    }
    m.entries = entry_range(std::span<const entry_ref>(refs_, wire_.entries.size()));
    if (wire_.snapshot) {
      const detail::wire_snapshot& s = *wire_.snapshot;
      m.snapshot_index = s.index;
      m.snapshot_term = s.term;
      m.snapshot_size_bytes = s.size;
      m.snapshot_offset = s.offset;
      m.data = s.data;
      m.data_size = s.data.size();
      m.snapshot_done = s.done;
      config_.members.clear();
      for (const detail::wire_member& w : s.members) {
        if (w.id == no_node || config_.find(w.id) != nullptr || w.role > 2 || w.flags == 0 || w.flags > 3)
          return bad("decode_message: member");
        member mem;
        mem.id = w.id;
        mem.role = static_cast<member_role>(w.role);
        mem.outgoing = (w.flags & 1U) != 0;
        mem.incoming = (w.flags & 2U) != 0;
        WEFT_TRY(config_.members.push_back(mem));
      }
      if (!s.members.empty()) m.snapshot_config = &config_;
    }
    return m;
  }

 private:
  detail::wire_message wire_{};
  entry_ref refs_[max_wire_entries]{};
  configuration config_{};
};

}  // namespace raft
WEFT_END
