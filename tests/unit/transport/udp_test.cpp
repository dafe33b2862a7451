#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <string>
#include <vector>

#include "transport_fixture.hpp"
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
using weft_test::loopback_any;
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
  send_raw(std::string("WD\x02\x00\x00\x00\x00\x07", 8) + std::string(300, 'y'));
  send_raw(std::string("WD\x01\x00\x00\x00\x00\x07", 8) + "older wire version");
  send_raw(std::string("WD\x02\x01\x00\x00\x00\x07", 8) + std::string(40, 's'));  // sealed
  send_raw(std::string("WD\x02\x00\x00\x00\x00\x07", 8) + "stranger");
  for (int i = 0; i < 50 && box.payloads.empty(); ++i)
    REQUIRE(loop.run_once(weft::milliseconds(20)));
  ::close(raw);
  CHECK(a.counters().dropped_malformed == 2);
  CHECK(a.counters().dropped_oversize == 1);
  CHECK(a.counters().dropped_version == 1);
  CHECK(a.counters().dropped_mode_mismatch == 1);
  REQUIRE(box.payloads == std::vector<std::string>{"stranger"});
  CHECK(box.senders[0] == 7);
  CHECK_FALSE(box.known[0]);
}

namespace {
using x25519 = weft::crypto::libsodium::x25519;

struct sealed_member {
  x25519::secret_key secret;
  x25519::public_key public_key;
};
sealed_member make_member(std::uint8_t fill) {
  std::array<std::uint8_t, 32> bytes{};
  bytes.fill(fill);
  sealed_member m{x25519::secret_key(std::span<const std::uint8_t, 32>(bytes)), {}};
  m.public_key = x25519::public_key_of(m.secret);
  return m;
}
weft::transport::udp_options sealed_options() {
  weft::transport::udp_options o;
  o.security = weft::transport::udp_security::sealed;
  return o;
}
weft::transport::udp_seal_identity identity_of(const sealed_member& m, std::uint64_t session) {
  return {x25519::secret_key(m.secret.expose()), session, nullptr, nullptr};
}

/// A plain UDP socket on loopback standing in for the network: it captures what a transport
/// sends to it and injects bytes into another transport.
struct wire_tap {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  weft::transport::ipv4_endpoint at{};
  wire_tap() {
    const sockaddr_in any = loopback_any.to_sockaddr();
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0);
    sockaddr_in bound{};
    socklen_t size = sizeof bound;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size) == 0);
    at = weft::transport::ipv4_endpoint::from_sockaddr(bound);
    const timeval limit{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~wire_tap() { ::close(fd); }
  std::string capture() {
    char buffer[2048];
    const auto got = ::recv(fd, buffer, sizeof buffer, 0);
    REQUIRE(got > 0);
    return std::string(buffer, static_cast<std::size_t>(got));
  }
  void inject(weft::transport::ipv4_endpoint to, const std::string& bytes) {
    const sockaddr_in sa = to.to_sockaddr();
    REQUIRE(::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&sa),
                     sizeof sa) == static_cast<ssize_t>(bytes.size()));
  }
};

/// Runs the loop until `receiver` has received or dropped `expected` datagrams in all.
std::uint64_t handled(const weft::transport::udp_counters& c) {
  return c.datagrams_received + c.dropped_malformed + c.dropped_version + c.dropped_oversize +
         c.dropped_mode_mismatch + c.dropped_unknown_sender + c.dropped_unauthenticated +
         c.dropped_replayed + c.dropped_stale_session;
}
void pump_until(weft::runtime::event_loop& loop, const weft::transport::udp_transport& receiver,
                std::uint64_t expected) {
  for (int i = 0; i < 100 && handled(receiver.counters()) < expected; ++i)
    REQUIRE(loop.run_once(weft::milliseconds(20)));
  REQUIRE(handled(receiver.counters()) == expected);
}
}  // namespace

TEST_CASE("sealed UDP needs keys and reserves room for the nonce and tag", "[transport][udp][seal]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  inbox box;
  weft::transport::udp_transport t;
  CHECK(t.open(loop, loopback_any, 1, sealed_options(), &deliver, &box).error().is(
      weft::transport::transport_errc::missing_key));
  const sealed_member me = make_member(1);
  t.set_seal_identity(identity_of(me, 1));
  REQUIRE(t.open(loop, loopback_any, 1, sealed_options(), &deliver, &box));
  CHECK(t.max_datagram_size() == 1400 - 8 - 24 - 16);
  CHECK(t.set_peer(2, t.local_endpoint()).error().is(weft::transport::transport_errc::missing_key));
  CHECK_FALSE(t.traffic(2));  // a peer that cannot be keyed is not kept
}

TEST_CASE("sealed UDP delivers between members and drops tampered, replayed, foreign and stale "
          "datagrams, counting each kind", "[transport][udp][seal]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const sealed_member ka = make_member(1), kb = make_member(2), kc = make_member(3);
  inbox box_b;
  weft::transport::udp_transport a, b;
  a.set_seal_identity(identity_of(ka, 100));
  b.set_seal_identity(identity_of(kb, 7));
  REQUIRE(a.open(loop, loopback_any, 1, sealed_options(), &deliver, &box_b));
  REQUIRE(b.open(loop, loopback_any, 2, sealed_options(), &deliver, &box_b));
  REQUIRE(b.set_peer(1, a.local_endpoint(), &ka.public_key));
  REQUIRE(b.set_peer(3, a.local_endpoint(), &kc.public_key));
  wire_tap tap;
  REQUIRE(a.set_peer(2, tap.at, &kb.public_key));  // a's datagrams to b pass through the tap

  REQUIRE(a.send_datagram(2, weft::as_bytes("secret ping")));
  const std::string captured = tap.capture();
  CHECK(captured.size() == 8 + 24 + 11 + 16);
  CHECK(captured.find("secret ping") == std::string::npos);  // encrypted, not only signed
  tap.inject(b.local_endpoint(), captured);
  pump_until(loop, b, 1);
  REQUIRE(box_b.payloads == std::vector<std::string>{"secret ping"});
  CHECK(box_b.senders[0] == 1);
  CHECK(b.traffic(1)->bytes_received == 11);

  tap.inject(b.local_endpoint(), captured);  // replayed as is
  pump_until(loop, b, 2);
  CHECK(b.counters().dropped_replayed == 1);

  REQUIRE(a.send_datagram(2, weft::as_bytes("second")));
  std::string tampered = tap.capture();
  tampered[8 + 24 + 2] ^= 0x01;  // one ciphertext bit
  tap.inject(b.local_endpoint(), tampered);
  std::string other_sender = captured;
  other_sender[7] = 3;  // claims to come from member 3: the header is authenticated
  tap.inject(b.local_endpoint(), other_sender);
  std::string stranger = captured;
  stranger[7] = 9;  // an id b holds no key for
  tap.inject(b.local_endpoint(), stranger);
  tap.inject(b.local_endpoint(), std::string("WD\x02\x00\x00\x00\x00\x01", 8) + "plain");
  pump_until(loop, b, 6);
  CHECK(b.counters().dropped_unauthenticated == 2);
  CHECK(b.counters().dropped_unknown_sender == 1);
  CHECK(b.counters().dropped_mode_mismatch == 1);

  // A foreign key claiming member 1's id cannot be opened with the pair key b holds for 1.
  weft::transport::udp_transport forger;
  forger.set_seal_identity(identity_of(kc, 200));
  REQUIRE(forger.open(loop, loopback_any, 1, sealed_options(), &deliver, &box_b));
  REQUIRE(forger.set_peer(2, b.local_endpoint(), &kb.public_key));
  REQUIRE(forger.send_datagram(2, weft::as_bytes("forged")));
  pump_until(loop, b, 7);
  CHECK(b.counters().dropped_unauthenticated == 3);

  // Member 1 restarts with a later session: accepted, after which the old session is stale.
  weft::transport::udp_transport restarted;
  restarted.set_seal_identity(identity_of(ka, 101));
  REQUIRE(restarted.open(loop, loopback_any, 1, sealed_options(), &deliver, &box_b));
  REQUIRE(restarted.set_peer(2, b.local_endpoint(), &kb.public_key));
  REQUIRE(restarted.send_datagram(2, weft::as_bytes("back")));
  pump_until(loop, b, 8);
  tap.inject(b.local_endpoint(), captured);
  pump_until(loop, b, 9);
  CHECK(b.counters().dropped_stale_session == 1);
  CHECK(box_b.payloads == std::vector<std::string>{"secret ping", "back"});
  CHECK(b.counters().datagrams_received == 2);
}

namespace {
/// The receive-side counters of a UDP transport by name: a datagram must move exactly one
/// of them (a drop kind, or datagrams_received - with from_unknown_peer beside it when the
/// sender is not in the table).
std::vector<std::string> udp_receive_counters_moved(const weft::transport::udp_counters& before,
                                                    const weft::transport::udp_counters& after) {
  using c = weft::transport::udp_counters;
  static const std::pair<const char*, std::uint64_t c::*> fields[] = {
      {"datagrams_received", &c::datagrams_received},
      {"from_unknown_peer", &c::from_unknown_peer},
      {"dropped_malformed", &c::dropped_malformed},
      {"dropped_version", &c::dropped_version},
      {"dropped_oversize", &c::dropped_oversize},
      {"dropped_mode_mismatch", &c::dropped_mode_mismatch},
      {"dropped_unknown_sender", &c::dropped_unknown_sender},
      {"dropped_unauthenticated", &c::dropped_unauthenticated},
      {"dropped_replayed", &c::dropped_replayed},
      {"dropped_stale_session", &c::dropped_stale_session},
  };
  std::vector<std::string> moved;
  for (const auto& [name, field] : fields)
    if (after.*field != before.*field)
      moved.push_back(std::string(name) + " +" + std::to_string(after.*field - before.*field));
  return moved;
}

std::string plaintext_datagram(std::uint8_t version, std::uint8_t flags, std::uint8_t sender,
                               const std::string& payload) {
  return std::string{'W', 'D', static_cast<char>(version), static_cast<char>(flags), 0, 0, 0,
                     static_cast<char>(sender)} + payload;
}
}  // namespace

TEST_CASE("plaintext UDP: each datagram is delivered or dropped under exactly one counter",
          "[transport][udp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  inbox box;
  weft::transport::udp_transport a;
  weft::transport::udp_options small;
  small.max_datagram_size_bytes = 64;
  REQUIRE(a.open(loop, loopback_any, 1, small, &deliver, &box));
  REQUIRE(a.set_peer(2, a.local_endpoint()));
  wire_tap tap;
  const std::uint8_t v = weft::transport::udp_transport::wire_version;
  struct sample {
    const char* what;
    std::string bytes;
    std::vector<std::string> moved;
  };
  const std::vector<sample> samples{
      {"empty", "", {"dropped_malformed +1"}},
      {"shorter than a header", plaintext_datagram(v, 0, 2, "").substr(0, 7), {"dropped_malformed +1"}},
      {"wrong magic", "XD" + plaintext_datagram(v, 0, 2, "hi").substr(2), {"dropped_malformed +1"}},
      {"older version", plaintext_datagram(static_cast<std::uint8_t>(v - 1), 0, 2, "old"), {"dropped_version +1"}},
      {"newer version", plaintext_datagram(static_cast<std::uint8_t>(v + 1), 0, 2, "new"), {"dropped_version +1"}},
      {"sealed flag", plaintext_datagram(v, 1, 2, std::string(40, 's')), {"dropped_mode_mismatch +1"}},
      {"one byte over the limit", plaintext_datagram(v, 0, 2, std::string(64 - 8 + 1, 'o')), {"dropped_oversize +1"}},
      {"exactly the limit", plaintext_datagram(v, 0, 2, std::string(64 - 8, 'e')), {"datagrams_received +1"}},
      {"a member", plaintext_datagram(v, 0, 2, "member"), {"datagrams_received +1"}},
      {"a stranger", plaintext_datagram(v, 0, 9, "stranger"),
       {"datagrams_received +1", "from_unknown_peer +1"}},
  };
  for (const sample& s : samples) {
    CAPTURE(s.what);
    const auto before = a.counters();
    tap.inject(a.local_endpoint(), s.bytes);
    pump_until(loop, a, handled(before) + 1);
    CHECK(udp_receive_counters_moved(before, a.counters()) == s.moved);
  }
  // Only the three admitted datagrams reached the handler; the stranger flagged unknown.
  REQUIRE(box.payloads.size() == 3);
  CHECK(box.payloads[1] == "member");
  CHECK(box.senders[2] == 9);
  CHECK(box.known == std::vector<bool>{true, true, false});
}
