// Per-peer transport series: growth of running totals, one shared series per peer id,
// released with the last user, bounded by the table.
#include <catch2/catch.hpp>

#include <memory>

#include "weft/transport/peer_metrics.hpp"

namespace wt = weft::transport;

TEST_CASE("peer series: growth of TCP and UDP totals, shared per peer, released at the end",
          "[transport][metrics]") {
  auto owned = std::make_unique<wt::peer_series_table>();  // ~800 KiB: not on the stack
  wt::peer_series_table& table = *owned;
  wt::peer_traffic tcp, udp;
  tcp.bytes_sent = 100;
  tcp.messages_sent = 2;
  udp.bytes_sent = 10;
  udp.messages_received = 1;
  udp.bytes_received = 5;
  wt::peer_series_table::series* seen = nullptr;
  {
    wt::peer_traffic_exporter a(table), b(table);
    a.observe(7, &tcp, &udp);
    seen = table.acquire(7);  // the same series a uses
    REQUIRE(seen != nullptr);
    CHECK(seen->sent_bytes.value() == 110);
    CHECK(seen->sent_messages.value() == 2);
    CHECK(seen->received_messages.value() == 1);
    a.observe(7, &tcp, &udp);  // nothing grew
    CHECK(seen->sent_bytes.value() == 110);
    tcp.bytes_sent += 40;
    tcp.send_failures = 1;
    a.observe(7, &tcp, nullptr);  // the sum of both transports grew by 30 (40 - UDP's 10)
    CHECK(seen->sent_bytes.value() == 140);
    CHECK(seen->send_failures.value() == 1);
    b.observe(7, nullptr, &udp);  // another node talking to member 7 adds to the same series
    CHECK(seen->sent_bytes.value() == 150);
    table.release(7);
  }
  // Both exporters released member 7: a new series starts from zero.
  auto* fresh = table.acquire(7);
  REQUIRE(fresh != nullptr);
  CHECK(fresh->sent_bytes.value() == 0);
  table.release(7);
}

TEST_CASE("peer series: the table is bounded", "[transport][metrics]") {
  auto owned = std::make_unique<wt::peer_series_table>();  // ~800 KiB: not on the stack
  wt::peer_series_table& table = *owned;
  for (wt::peer_id id = 1; id <= wt::peer_series_table::max_peers; ++id)
    REQUIRE(table.acquire(id) != nullptr);
  CHECK(table.acquire(100000) == nullptr);
  wt::peer_traffic_exporter exporter(table);
  wt::peer_traffic t;
  t.bytes_sent = 1;
  exporter.observe(100000, &t, nullptr);
  CHECK(exporter.untracked_peers() == 1);
  for (wt::peer_id id = 1; id <= wt::peer_series_table::max_peers; ++id) table.release(id);
  CHECK(table.acquire(100000) != nullptr);
  table.release(100000);
}
