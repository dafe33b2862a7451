// What the TCP refusal tests share: every refusal counter of tcp_counters by name, and
// which of them moved between two snapshots (a refusal must move its own kind and no other).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "weft/transport/tcp.hpp"

namespace weft_test {

using tcp_refusal_field = std::pair<const char*, std::uint64_t weft::transport::tcp_counters::*>;

inline const std::vector<tcp_refusal_field>& tcp_refusal_fields() {
  using c = weft::transport::tcp_counters;
  static const std::vector<tcp_refusal_field> fields{
      {"inbound_refused", &c::inbound_refused},
      {"refused_table_full", &c::refused_table_full},
      {"refused_resources", &c::refused_resources},
      {"refused_bad_hello", &c::refused_bad_hello},
      {"refused_wire_version", &c::refused_wire_version},
      {"refused_unknown_member", &c::refused_unknown_member},
      {"malformed_frames", &c::malformed_frames},
      {"refused_handshake", &c::refused_handshake},
      {"refused_wrong_key", &c::refused_wrong_key},
      {"handshake_timeouts", &c::handshake_timeouts},
      {"inbound_timeouts", &c::inbound_timeouts},
      {"refused_tampered", &c::refused_tampered},
      {"refused_replayed", &c::refused_replayed},
      {"refused_out_of_order", &c::refused_out_of_order},
      {"refused_oversized", &c::refused_oversized},
      {"refused_malformed_sealed", &c::refused_malformed_sealed},
  };
  return fields;
}

/// The refusal counters that differ between `before` and `after`, each with its growth.
inline std::vector<std::string> tcp_refusals_moved(const weft::transport::tcp_counters& before,
                                                   const weft::transport::tcp_counters& after) {
  std::vector<std::string> moved;
  for (const auto& [name, field] : tcp_refusal_fields())
    if (after.*field != before.*field)
      moved.push_back(std::string(name) + " +" + std::to_string(after.*field - before.*field));
  return moved;
}

}  // namespace weft_test
