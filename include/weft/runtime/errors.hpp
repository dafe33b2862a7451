// weft/runtime/errors.hpp - errors of the runtime drivers (event loop, sockets, daemon).
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/config.hpp"
#include "weft/core/error.hpp"

WEFT_BEGIN
namespace runtime {

enum class runtime_errc : std::uint16_t {
  ok = 0,
  system_error = 1,        // a system call failed (the errno is in the driver's counters)
  too_many_watches = 2,    // the event loop's fd table is full
  too_many_timers = 3,     // the event loop's timer heap is full
  not_watched = 4,         // the fd is not registered with this loop
  bad_address = 5,         // an IPv4 address or port does not parse
  address_in_use = 6,      // bind() failed with EADDRINUSE
  peer_table_full = 7,     // more peers than max_peers
  stopped = 8,             // the loop or transport has been stopped
  snapshot_truncated = 9,  // a state machine read past the end of a snapshot
  snapshot_malformed = 10, // a state machine found a snapshot it cannot load
};

constexpr std::string_view describe(runtime_errc code) noexcept {
  switch (code) {
    case runtime_errc::ok: return "ok";
    case runtime_errc::system_error: return "system call failed";
    case runtime_errc::too_many_watches: return "event loop fd table full";
    case runtime_errc::too_many_timers: return "event loop timer heap full";
    case runtime_errc::not_watched: return "fd not watched by this loop";
    case runtime_errc::bad_address: return "bad IPv4 address or port";
    case runtime_errc::address_in_use: return "address already in use";
    case runtime_errc::peer_table_full: return "peer table full";
    case runtime_errc::stopped: return "stopped";
    case runtime_errc::snapshot_truncated: return "snapshot shorter than its contents say";
    case runtime_errc::snapshot_malformed: return "snapshot the state machine cannot load";
  }
  return "unknown runtime error";
}

}  // namespace runtime
WEFT_END
WEFT_ERROR_DOMAIN(weft::runtime::runtime_errc, "runtime")
