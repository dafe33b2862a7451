// weft/sim/stack.hpp - the simulator's policy bundle: the same component that runs on a
// real stack (steady clock, UDP/TCP, POSIX files) runs under weft::sim::stack in tests.
#pragma once

#include "weft/config.hpp"
#include "weft/core/concepts.hpp"
#include "weft/core/random.hpp"
#include "weft/sim/disk.hpp"
#include "weft/sim/network.hpp"
#include "weft/sim/world.hpp"

WEFT_BEGIN
namespace sim {

/// Policies for one simulated node: its drifting clock, a seeded random stream, the
/// simulated network endpoint and the simulated disk (see docs/sim.md).
struct stack {
  using clock = node_clock;
  using random = xoshiro256;
  using transport = endpoint;
  using storage = disk;
};

static_assert(weft::clock<stack::clock>, "see docs/requirements/clock.md");
static_assert(weft::random_source<stack::random>, "see docs/requirements/random.md");
static_assert(transport::datagram_transport<stack::transport> &&
                  transport::stream_transport<stack::transport>,
              "see docs/requirements/transport.md");
static_assert(storage::file_system<stack::storage>, "see docs/requirements/file_system.md");

}  // namespace sim
WEFT_END
