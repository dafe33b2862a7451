// weft/consensus/raft/config_codec.hpp - the payload of configuration entries: a small,
// versioned, fixed-layout encoding of a configuration (hostile-input safe decoder).
//   u8 version (1) | u8 count | count * (u64 id big-endian | u8 role | u8 flags)
//   flags: bit 0 outgoing voter, bit 1 member of the incoming configuration.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/config.hpp"
#include "weft/consensus/raft/types.hpp"

WEFT_BEGIN
namespace raft {

inline constexpr std::size_t config_encoded_member_bytes = 10;
inline constexpr std::size_t max_config_encoded_bytes =
    2 + max_config_members * config_encoded_member_bytes;

[[nodiscard]] inline result<std::size_t> encode_configuration(const configuration& config,
                                                              mutable_byte_view out) noexcept {
  byte_writer w(out);
  WEFT_TRY(w.put(std::uint8_t{1}));
  WEFT_TRY(w.put(static_cast<std::uint8_t>(config.members.size())));
  for (const member& m : config.members) {
    WEFT_TRY(w.put_be<std::uint64_t>(m.id));
    WEFT_TRY(w.put(static_cast<std::uint8_t>(m.role)));
    const auto flags = static_cast<std::uint8_t>((m.outgoing ? 1U : 0U) | (m.incoming ? 2U : 0U));
    WEFT_TRY(w.put(flags));
  }
  return w.size();
}

/// Decodes and checks a configuration: ids non-zero and distinct, roles known, every
/// member in at least one side, at least one voter.
[[nodiscard]] inline result<configuration> decode_configuration(byte_view in) noexcept {
  const auto bad = [](const char* where) {
    return result<configuration>(error(raft_errc::config_change_invalid, where));
  };
  byte_reader r(in);
  WEFT_TRY_ASSIGN(const std::uint8_t version, r.get());
  if (version != 1) return bad("configuration: unknown version");
  WEFT_TRY_ASSIGN(const std::uint8_t count, r.get());
  if (count > max_config_members) return bad("configuration: too many members");
  if (r.remaining() != count * config_encoded_member_bytes) return bad("configuration: size");
  configuration config;
  bool any_voter = false;
  for (std::size_t i = 0; i < count; ++i) {
    member m;
    WEFT_TRY_ASSIGN(m.id, r.get_be<std::uint64_t>());
    WEFT_TRY_ASSIGN(const std::uint8_t role, r.get());
    WEFT_TRY_ASSIGN(const std::uint8_t flags, r.get());
    if (m.id == no_node || config.find(m.id) != nullptr) return bad("configuration: bad id");
    if (role > 2 || flags > 3 || flags == 0) return bad("configuration: bad role or flags");
    m.role = static_cast<member_role>(role);
    m.outgoing = (flags & 1U) != 0;
    m.incoming = (flags & 2U) != 0;
    any_voter = any_voter || (m.incoming && configuration::votes(m));
    WEFT_TRY(config.members.push_back(m));
  }
  if (!any_voter) return bad("configuration: no voter");
  return config;
}

}  // namespace raft
WEFT_END
