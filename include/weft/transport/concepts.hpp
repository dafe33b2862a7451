// weft/transport/concepts.hpp - how drivers move bytes between members. Protocol cores
// never see a transport: drivers feed received bytes into step() and send what the core
// emits. The runtime's UDP/TCP transports and the simulator's network both model these.
// Requirements table: docs/requirements/transport.md.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/bytes.hpp"
#include "weft/core/result.hpp"

WEFT_BEGIN
namespace transport {

/// A member's address within one mesh (the mapping to IP endpoints is the driver's).
using peer_id = std::uint32_t;

enum class transport_errc : std::uint16_t {
  ok = 0,
  message_too_large = 1,  // larger than max_message_size()
  queue_full = 2,         // the per-peer send queue is at capacity: backpressure
  unknown_peer = 3,
  not_connected = 4,
  closed = 5,
  missing_key = 6,        // Noise sessions need this member's static key and each peer's key
};

constexpr std::string_view describe(transport_errc code) noexcept {
  switch (code) {
    case transport_errc::ok: return "ok";
    case transport_errc::message_too_large: return "message larger than the transport allows";
    case transport_errc::queue_full: return "send queue full";
    case transport_errc::unknown_peer: return "unknown peer";
    case transport_errc::not_connected: return "peer not connected";
    case transport_errc::closed: return "transport closed";
    case transport_errc::missing_key: return "secure transport without a static or peer key";
  }
  return "unknown transport error";
}

/// What one transport exchanged with one peer (running totals; exporters take growth).
struct peer_traffic {
  std::uint64_t bytes_sent = 0;         // on the wire, framing and sealing included
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_received = 0;     // payload bytes delivered to the handler
  std::uint64_t messages_received = 0;
  std::uint64_t send_failures = 0;      // the socket or session failed; the link was dropped
  std::uint64_t messages_dropped = 0;   // refused on a full queue or lost with a dropped link
};

/// Unreliable, unordered messages bounded by an MTU (membership gossip).
/// A successful send() only means the datagram was queued; it may still be lost.
template <class T>
concept datagram_transport = requires(T& t, peer_id to, byte_view payload) {
  { t.send_datagram(to, payload) } noexcept -> std::same_as<result<void>>;
  { t.max_datagram_size() } noexcept -> std::convertible_to<std::size_t>;
};

/// Reliable, ordered, framed messages per peer (consensus, push-pull state exchange).
/// Messages to one peer arrive in order or not at all; a broken connection is reported.
template <class T>
concept stream_transport = requires(T& t, peer_id to, byte_view payload) {
  { t.send_message(to, payload) } noexcept -> std::same_as<result<void>>;
  { t.max_message_size() } noexcept -> std::convertible_to<std::size_t>;
};

}  // namespace transport
WEFT_END
WEFT_ERROR_DOMAIN(weft::transport::transport_errc, "transport")
