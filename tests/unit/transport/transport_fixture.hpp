// What the transport tests share: an ephemeral loopback endpoint and a bounded event-loop
// drive (a test that waits on a transport fails after 10 s rather than hanging CI).
#pragma once

#include <catch2/catch.hpp>

#include "weft/runtime/event_loop.hpp"
#include "weft/transport/socket.hpp"

namespace weft_test {

inline const weft::transport::ipv4_endpoint loopback_any =
    *weft::transport::ipv4_endpoint::parse("127.0.0.1:0");

template <class Done>
void run_until(weft::runtime::event_loop& loop, Done done) {
  const auto start = loop.now();
  while (!done() && loop.now() - start < weft::seconds(10))
    REQUIRE(loop.run_once(weft::milliseconds(10)));
}

}  // namespace weft_test
