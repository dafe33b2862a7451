// Hand-built SWIM packets for tests that feed a core claims no member would send itself
// (stale, superseded or forged statements).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "weft/membership/swim/swim.hpp"

namespace swim_test {

/// A gossip packet from `sender` carrying `claims`, encoded as a member would.
inline std::vector<std::uint8_t> gossip_packet(
    weft::swim::node_id sender, const std::vector<weft::swim::member_claim>& claims) {
  using namespace weft::swim;
  std::vector<std::uint8_t> buf(4096);
  weft::byte_writer w(buf);
  packet_header h;
  h.kind = packet_kind::gossip;
  h.sender = sender;
  REQUIRE(encode_header(w, h));
  REQUIRE(encode_array_head(w, claims.size()));
  for (const auto& c : claims) REQUIRE(encode_claim(w, c));
  buf.resize(w.size());
  return buf;
}

}  // namespace swim_test
