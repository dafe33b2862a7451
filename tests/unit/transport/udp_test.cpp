#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <string>
#include <vector>

#include "weft/transport/udp.hpp"

namespace {
struct inbox {
  std::vector<std::string> payloads;
  std::vector<weft::transport::peer_id> senders;
  std::vector<bool> known;
};
void deliver(void* c, weft::transport::peer_id from, weft::transport::ipv4_endpoint,
             weft::byte_view payload, bool known_peer) noexcept {
  auto* box = static_cast<inbox*>(c);
  box->payloads.emplace_back(weft::as_chars(payload));
  box->senders.push_back(from);
  box->known.push_back(known_peer);
}
const auto loopback_any = *weft::transport::ipv4_endpoint::parse("127.0.0.1:0");
}  // namespace

TEST_CASE("ipv4 endpoints parse strictly", "[transport][socket]") {
  using weft::transport::ipv4_endpoint;
  const auto e = ipv4_endpoint::parse("10.1.2.3:7000");
  REQUIRE(e);
  CHECK(e->address == 0x0a010203u);
  CHECK(e->port == 7000);
  char text[32];
  CHECK(std::string(text, e->format(text, sizeof text)) == "10.1.2.3:7000");
  for (const char* bad : {"", "1.2.3.4", "1.2.3:80", "1.2.3.4.5:80", "256.1.1.1:1", "1.2.3.4:",
                          "1.2.3.4:65536", "a.b.c.d:1", "1.2.3.4:80x", " 1.2.3.4:80"})
    CHECK_FALSE(ipv4_endpoint::parse(bad));
}

TEST_CASE("two UDP transports exchange datagrams on loopback", "[transport][udp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  inbox box_a, box_b;
  weft::transport::udp_transport a, b;
  REQUIRE(a.open(loop, loopback_any, 1, {}, &deliver, &box_a));
  REQUIRE(b.open(loop, loopback_any, 2, {}, &deliver, &box_b));
  REQUIRE(a.set_peer(2, b.local_endpoint()));
  REQUIRE(b.set_peer(1, a.local_endpoint()));

  REQUIRE(a.send_datagram(2, weft::as_bytes("ping")));
  REQUIRE(b.send_datagram(1, weft::as_bytes("pong")));
  for (int i = 0; i < 50 && (box_a.payloads.empty() || box_b.payloads.empty()); ++i)
    REQUIRE(loop.run_once(weft::milliseconds(20)));
  REQUIRE(box_b.payloads == std::vector<std::string>{"ping"});
  CHECK(box_b.senders[0] == 1);
  CHECK(box_b.known[0]);
  REQUIRE(box_a.payloads == std::vector<std::string>{"pong"});
  CHECK(a.counters().datagrams_sent == 1);
  CHECK(b.counters().datagrams_received == 1);
  // Per peer: wire bytes sent (8-byte header included), payload bytes received.
  REQUIRE(a.traffic(2) != nullptr);
  CHECK(a.traffic(2)->messages_sent == 1);
  CHECK(a.traffic(2)->bytes_sent == 8 + 4);
  CHECK(b.traffic(1)->messages_received == 1);
  CHECK(b.traffic(1)->bytes_received == 4);
  CHECK(a.traffic(7) == nullptr);
}

TEST_CASE("UDP refuses what it cannot send and drops what it must not read",
          "[transport][udp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  inbox box;
  weft::transport::udp_transport a;
  weft::transport::udp_options small;
  small.max_datagram_size_bytes = 244 + weft::transport::udp_transport::header_size_bytes;
  small.max_peers = 1;
  REQUIRE(a.open(loop, loopback_any, 1, small, &deliver, &box));
  CHECK(a.max_datagram_size() == 244);
  CHECK(a.send_datagram(9, weft::as_bytes("x")).error().is(
      weft::transport::transport_errc::unknown_peer));
  REQUIRE(a.set_peer(2, a.local_endpoint()));
  CHECK(a.set_peer(3, a.local_endpoint()).error().is(
      weft::runtime::runtime_errc::peer_table_full));
  const std::string big(245, 'x');
  CHECK(a.send_datagram(2, weft::as_bytes(big)).error().is(
      weft::transport::transport_errc::message_too_large));

  // Hostile datagrams from a raw socket: too short, wrong magic, oversize.
  const int raw = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(raw >= 0);
  const sockaddr_in to = a.local_endpoint().to_sockaddr();
  const auto send_raw = [&](const std::string& bytes) {
    REQUIRE(::sendto(raw, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                     sizeof to) == static_cast<ssize_t>(bytes.size()));
  };
  send_raw("WD");
  send_raw("XX\x01\x00\x00\x00\x00\x07hello");
  send_raw(std::string("WD\x01\x00\x00\x00\x00\x07", 8) + std::string(300, 'y'));
  send_raw(std::string("WD\x01\x00\x00\x00\x00\x07", 8) + "stranger");
  for (int i = 0; i < 50 && box.payloads.empty(); ++i)
    REQUIRE(loop.run_once(weft::milliseconds(20)));
  ::close(raw);
  CHECK(a.counters().dropped_malformed == 2);
  CHECK(a.counters().dropped_oversize == 1);
  REQUIRE(box.payloads == std::vector<std::string>{"stranger"});
  CHECK(box.senders[0] == 7);
  CHECK_FALSE(box.known[0]);
}
