// weft/membership/swim/errors.hpp - swim_errc: every way a membership claim, message or
// call is refused. Codes are stable; docs/errors.md lists them.
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

WEFT_BEGIN
namespace swim {

enum class swim_errc : std::uint16_t {
  ok = 0,
  illegal_transition = 1,      // the lifecycle table forbids this event in this state
  stale_incarnation = 2,       // the claim's incarnation is older than the one we hold
  unknown_member = 3,          // the event needs a member we do not know
  already_member = 4,          // a join for a member that is already in the table
  impossible_incarnation = 5,  // the claim jumps further ahead than max_incarnation_jump
  redundant_claim = 6,         // the claim repeats what we already hold (dead for dead)
  malformed_message = 7,       // bytes that are not a well-formed message of the schema
  unsupported_version = 8,     // a message of a schema version we do not speak
  message_too_large = 9,       // larger than the MTU or the stream limit
  member_table_full = 10,      // max_members reached
  queue_full = 11,             // a bounded queue is full: backpressure
  not_admitted = 12,           // no valid admission statement from an admitted key
  bad_signature = 13,          // the claim's signature does not verify
  flood_limited = 14,          // the sender exceeded max_messages_per_sender_per_period
  not_running = 15,            // the member has left or has not started
  payload_too_large = 16,      // a user event, query or application payload over its limit
  unknown_query = 17,          // a response to a query we did not ask or that expired
  no_peer = 18,                // no live member to talk to
  superseded_admission = 19,   // an admission epoch older than one held or revoked
};

constexpr std::string_view describe(swim_errc code) noexcept {
  switch (code) {
    case swim_errc::ok: return "ok";
    case swim_errc::illegal_transition: return "illegal member lifecycle transition";
    case swim_errc::stale_incarnation: return "stale incarnation";
    case swim_errc::unknown_member: return "unknown member";
    case swim_errc::already_member: return "already a member";
    case swim_errc::impossible_incarnation: return "impossible incarnation";
    case swim_errc::redundant_claim: return "redundant claim";
    case swim_errc::malformed_message: return "malformed message";
    case swim_errc::unsupported_version: return "unsupported message version";
    case swim_errc::message_too_large: return "message too large";
    case swim_errc::member_table_full: return "member table full";
    case swim_errc::queue_full: return "queue full";
    case swim_errc::not_admitted: return "member not admitted";
    case swim_errc::bad_signature: return "bad signature";
    case swim_errc::flood_limited: return "sender flood limited";
    case swim_errc::not_running: return "member not running";
    case swim_errc::payload_too_large: return "payload too large";
    case swim_errc::unknown_query: return "unknown or expired query";
    case swim_errc::no_peer: return "no live peer";
    case swim_errc::superseded_admission: return "superseded admission statement";
  }
  return "unknown swim error";
}

/// How many codes swim_errc has (for per-code counters).
inline constexpr std::size_t swim_errc_count = 20;

}  // namespace swim
WEFT_END
WEFT_ERROR_DOMAIN(weft::swim::swim_errc, "swim")
