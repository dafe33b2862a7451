// The TCP transport with Noise_XX sessions on loopback: handshake and traffic, refusal of a
// key the table does not hold, a tampered or replayed sealed frame from a raw socket, a
// reconnection that runs a new handshake, and trace contexts carried in frames.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "tcp_refusals.hpp"
#include "transport_fixture.hpp"
#include "weft/transport/tcp.hpp"

namespace {
using weft::transport::ipv4_endpoint;
using weft::transport::noise_public_key;
using weft::transport::peer_id;
using weft::transport::tcp_transport;
namespace wc = weft::crypto;
using ed25519 = wc::libsodium::ed25519;

struct noise_member {
  explicit noise_member(tcp_transport* t) : transport(t) {}
  tcp_transport* transport;
  std::vector<std::string> received;
  std::vector<weft::telemetry::trace_context> traces;  // one per message (zero when none)
  int ups = 0;
};
void on_noise_message(void* c, peer_id, weft::byte_view payload) noexcept {
  auto* m = static_cast<noise_member*>(c);
  m->received.emplace_back(weft::as_chars(payload));
  const auto* trace = m->transport->received_trace();
  m->traces.push_back(trace != nullptr ? *trace : weft::telemetry::trace_context{});
}
void on_noise_link(void* c, peer_id, bool up) noexcept {
  if (up) ++static_cast<noise_member*>(c)->ups;
}
using weft_test::loopback_any;
using weft_test::run_until;

/// A member identity from a fixed Ed25519 seed (one key for admission and Noise).
struct identity {
  ed25519::secret_key signing;
  noise_public_key noise_public{};
  explicit identity(std::uint8_t seed_byte) {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(seed_byte);
    signing = ed25519::secret_key_from_seed(seed);
    noise_public = *weft::transport::noise_public_key_from_ed25519(ed25519::public_key_of(signing));
  }
  weft::transport::tcp_noise_identity noise() const {
    return {weft::transport::noise_secret_key_from_ed25519(signing)};
  }
};

weft::transport::tcp_options noise_options() {
  weft::transport::tcp_options o;
  o.security = weft::transport::tcp_security::noise;
  return o;
}

/// Blocking helpers for a hand-driven initiator on a raw socket.
int connect_raw(ipv4_endpoint to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in sa = to.to_sockaddr();
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
  return fd;
}
void send_all(int fd, weft::byte_view bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}
/// Bytes received within `loop` turns of the transport's loop (0: the peer closed).
ssize_t pump_and_recv(weft::runtime::event_loop& loop, int fd, std::uint8_t* out, std::size_t n) {
  for (int i = 0; i < 500; ++i) {
    REQUIRE(loop.run_once(weft::milliseconds(2)));
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) return ::recv(fd, out, n, 0);
  }
  return -1;
}

using raw_session = wc::noise_session<weft::transport::tcp_noise_suite>;

/// A raw initiator's session, before message 1.
raw_session raw_initiator(const identity& who) {
  weft::transport::noise_secret_key ephemeral;
  ephemeral.expose_mutable()[0] = 7;  // any fixed scalar serves a test
  auto s = raw_session::create({}, wc::noise_role::initiator, who.noise().static_key,
                           std::move(ephemeral), weft::as_bytes(tcp_transport::noise_prologue));
  REQUIRE(s);
  return std::move(*s);
}

/// Sends message 1 carrying `marker` (the version marker, or anything a test wants).
void send_message_1(int fd, raw_session& s, weft::byte_view marker) {
  std::vector<std::uint8_t> frame(256);
  auto m1 = s.write_handshake(marker, frame);
  REQUIRE(m1);
  send_all(fd, weft::byte_view(frame.data(), *m1));
}

std::vector<std::uint8_t> noise_hello(std::uint8_t version, peer_id from) {
  std::vector<std::uint8_t> hello{'W', 'S', version, 0, 0, 0, 0};
  weft::store_be<std::uint32_t>(hello.data() + 3, from);
  return hello;
}

/// Completes the XX handshake holding `who`: message 1 carries `marker`, message 3 `hello`.
raw_session raw_handshake_with(weft::runtime::event_loop& loop, int fd, const identity& who,
                               weft::byte_view marker, weft::byte_view hello) {
  raw_session s = raw_initiator(who);
  send_message_1(fd, s, marker);
  std::vector<std::uint8_t> frame(70000), payload(70000);
  while (!s.frame_buffered()) {
    const ssize_t n = pump_and_recv(loop, fd, frame.data(), frame.size());
    REQUIRE(n > 0);
    REQUIRE(s.feed(weft::byte_view(frame.data(), static_cast<std::size_t>(n))));
  }
  REQUIRE(s.next_frame(payload));
  auto m3 = s.write_handshake(hello, frame);
  REQUIRE(m3);
  REQUIRE(s.established());
  send_all(fd, weft::byte_view(frame.data(), *m3));
  return s;
}

/// Completes the XX handshake as member `self_id` holding `who`, with message 1 as a build
/// before version markers sends it (empty); returns the session.
raw_session raw_handshake(weft::runtime::event_loop& loop, int fd, const identity& who,
                      peer_id self_id) {
  return raw_handshake_with(loop, fd, who, {},
                            noise_hello(tcp_transport::wire_version, self_id));
}

/// One weft frame holding `text`, sealed into one Noise frame.
std::vector<std::uint8_t> sealed_message(raw_session& s, const std::string& text) {
  std::vector<std::uint8_t> plain(weft::wire::frame_header_size_bytes + text.size());
  REQUIRE(weft::wire::encode_frame(weft::as_bytes(text), weft::mutable_byte_view(plain)));
  std::vector<std::uint8_t> sealed(plain.size() + 64);
  auto n = s.seal(plain, sealed);
  REQUIRE(n);
  sealed.resize(*n);
  return sealed;
}

/// Member 2 listening with Noise, member 1 (key ia) in its table at an address never dialled.
struct noise_listener {
  weft::runtime::event_loop loop;
  const identity ia{1}, ib{2};
  tcp_transport b;
  noise_member mb{&b};

  noise_listener() {
    REQUIRE(loop.init());
    b.set_noise_identity(ib.noise());
    REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
    REQUIRE(b.set_peer(1, *ipv4_endpoint::parse("127.0.0.1:9"), &ia.noise_public));
  }
  /// True once the transport closed `fd`.
  bool closed(int fd) {
    std::uint8_t byte = 0;
    return pump_and_recv(loop, fd, &byte, 1) == 0;
  }
  /// A raw initiator holding `who` completes the handshake with `marker` and `hello`, then
  /// waits for the close; returns the refusal counters that moved.
  std::vector<std::string> refusals_after_handshake(const identity& who, weft::byte_view marker,
                                                    weft::byte_view hello) {
    const auto before = b.counters();
    const int fd = connect_raw(b.local_endpoint());
    (void)raw_handshake_with(loop, fd, who, marker, hello);
    CHECK(closed(fd));
    ::close(fd);
    return weft_test::tcp_refusals_moved(before, b.counters());
  }
};

/// Member 2 (a Noise transport) and member 1 driven by hand on a raw socket, handshake done:
/// the setup of the tampered- and replayed-frame cases.
struct raw_peer_fixture {
  weft::runtime::event_loop loop;
  const identity ia{1}, ib{2};
  tcp_transport b;
  noise_member mb{&b};
  int fd = -1;
  std::optional<raw_session> s;

  raw_peer_fixture() {
    REQUIRE(loop.init());
    b.set_noise_identity(ib.noise());
    REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
    REQUIRE(b.set_peer(1, *ipv4_endpoint::parse("127.0.0.1:9"), &ia.noise_public));
    fd = connect_raw(b.local_endpoint());
    s.emplace(raw_handshake(loop, fd, ia, 1));
  }
  ~raw_peer_fixture() {
    if (fd >= 0) ::close(fd);
  }
  raw_peer_fixture(const raw_peer_fixture&) = delete;
  raw_peer_fixture& operator=(const raw_peer_fixture&) = delete;
};
}  // namespace

TEST_CASE("Noise TCP: handshake, then messages both ways, large ones across sealed frames",
          "[transport][tcp][noise]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2);
  tcp_transport a, b;
  noise_member ma(&a), mb(&b);
  a.set_noise_identity(ia.noise());
  b.set_noise_identity(ib.noise());
  REQUIRE(a.open(loop, loopback_any, 1, noise_options(), &on_noise_message, &on_noise_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint(), &ib.noise_public));
  REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
  // Without a key a Noise transport takes no new peer.
  CHECK(a.set_peer(3, b.local_endpoint()).error().is(weft::transport::transport_errc::missing_key));

  constexpr int count = 300;
  const std::string big(200000, 'B');  // larger than one Noise frame (65535)
  for (int i = 0; i < count; ++i) REQUIRE(a.send_message(2, weft::as_bytes("m" + std::to_string(i))));
  REQUIRE(a.send_message(2, weft::as_bytes(big)));
  REQUIRE(b.send_message(1, weft::as_bytes("reply")));
  run_until(loop, [&] { return mb.received.size() == count + 1 && ma.received.size() == 1; });
  REQUIRE(mb.received.size() == count + 1);
  for (int i = 0; i < count; ++i) CHECK(mb.received[static_cast<std::size_t>(i)] == "m" + std::to_string(i));
  CHECK(mb.received.back() == big);
  CHECK(ma.received == std::vector<std::string>{"reply"});
  CHECK(a.connected(2));
  CHECK(ma.ups == 1);
  // Each side completes two handshakes: its own outbound and the peer's inbound.
  CHECK(a.counters().handshakes_completed == 2);
  CHECK(b.counters().handshakes_completed == 2);
  CHECK(b.counters().refused_tampered == 0);
  // Per-peer traffic: sealed bytes exceed the payload bytes (framing, nonces, tags).
  const auto* to_b = a.traffic(2);
  const auto* from_a = b.traffic(1);
  REQUIRE(to_b != nullptr);
  REQUIRE(from_a != nullptr);
  CHECK(to_b->messages_sent == count + 1);
  CHECK(from_a->messages_received == count + 1);
  CHECK(from_a->bytes_received >= big.size());
  CHECK(to_b->bytes_sent > from_a->bytes_received);
  CHECK(a.traffic(9) == nullptr);
}

TEST_CASE("Noise TCP: messages of mixed sizes arrive whole and in order, however reads cut them",
          "[transport][tcp][noise]") {
  // The receiver opens whole sealed frames in place and reads whole frames where they lie;
  // only what a read or a sealed frame cuts is buffered. Sizes vary so that cuts fall
  // inside headers, payloads and sealed-frame tags; every byte is checked.
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2);
  tcp_transport a, b;
  noise_member ma(&a), mb(&b);
  a.set_noise_identity(ia.noise());
  b.set_noise_identity(ib.noise());
  REQUIRE(a.open(loop, loopback_any, 1, noise_options(), &on_noise_message, &on_noise_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint(), &ib.noise_public));
  REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
  const auto message_of = [](std::size_t i) {
    std::string text((i * 7919) % 9000 + (i % 50 == 0 ? 70000 : 0), '\0');
    for (std::size_t j = 0; j < text.size(); ++j) text[j] = static_cast<char>((i * 31 + j) & 0xff);
    return text;
  };
  constexpr std::size_t count = 400;
  std::size_t sent = 0;
  for (int burst = 0; burst < 4; ++burst) {
    a.cork();  // some bursts leave in one send, some message by message
    if (burst % 2 == 1) a.uncork();
    for (std::size_t i = 0; i < count / 4; ++i, ++sent) REQUIRE(a.send_message(2, weft::as_bytes(message_of(sent))));
    a.uncork();
    run_until(loop, [&] { return mb.received.size() == sent; });
  }
  REQUIRE(mb.received.size() == count);
  for (std::size_t i = 0; i < count; ++i) {
    INFO("message " << i);
    REQUIRE(mb.received[i] == message_of(i));
  }
  CHECK(b.counters().malformed_frames == 0);
  CHECK(b.counters().refused_tampered == 0);
  CHECK(b.traffic(1)->messages_received == count);
}

TEST_CASE("Noise TCP: a peer whose key is not the one in the table is refused",
          "[transport][tcp][noise]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2), impostor(3);
  tcp_transport a, b;
  noise_member ma(&a), mb(&b);
  a.set_noise_identity(impostor.noise());  // claims to be member 1 with another key
  b.set_noise_identity(ib.noise());
  REQUIRE(a.open(loop, loopback_any, 1, noise_options(), &on_noise_message, &on_noise_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint(), &ib.noise_public));
  REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
  run_until(loop, [&] {
    (void)a.send_message(2, weft::as_bytes("let me in"));
    return b.counters().refused_wrong_key >= 2;
  });
  CHECK(b.counters().refused_wrong_key >= 2);
  CHECK(mb.received.empty());
  CHECK(b.counters().messages_received == 0);
  CHECK(a.counters().disconnects >= 1);  // the attempt closed, then retried with backoff

  // The other way round: B connects to A but expects member 1 to hold ia's key.
  REQUIRE(b.send_message(1, weft::as_bytes("hello?")));
  const auto refused_before = b.counters().refused_wrong_key;
  run_until(loop, [&] { return b.counters().refused_wrong_key > refused_before; });
  CHECK(b.counters().refused_wrong_key > refused_before);
  CHECK(ma.received.empty());
  CHECK_FALSE(b.connected(1));
}

TEST_CASE("Noise TCP: a plaintext peer is refused by a Noise listener",
          "[transport][tcp][noise]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2);
  tcp_transport a, b;
  noise_member ma(&a), mb(&b);
  b.set_noise_identity(ib.noise());
  REQUIRE(a.open(loop, loopback_any, 1, {}, &on_noise_message, &on_noise_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint()));
  REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
  REQUIRE(a.send_message(2, weft::as_bytes("in the clear")));
  run_until(loop, [&] { return b.counters().refused_handshake >= 1; });
  CHECK(b.counters().refused_handshake >= 1);
  CHECK(mb.received.empty());
  // And a Noise transport cannot open without its static key.
  tcp_transport c;
  noise_member mc(&c);
  CHECK(c.open(loop, loopback_any, 3, noise_options(), &on_noise_message, &on_noise_link, &mc)
            .error().is(weft::transport::transport_errc::missing_key));
}

TEST_CASE("Noise TCP: a tampered sealed frame is refused and the connection closed",
          "[transport][tcp][noise]") {
  raw_peer_fixture f;
  send_all(f.fd, sealed_message(*f.s, "genuine"));
  run_until(f.loop, [&] { return f.mb.received.size() == 1; });
  REQUIRE(f.mb.received == std::vector<std::string>{"genuine"});

  std::vector<std::uint8_t> forged = sealed_message(*f.s, "forged");
  forged[forged.size() / 2] ^= 0x01;  // one bit inside the ciphertext
  send_all(f.fd, forged);
  std::uint8_t byte = 0;
  CHECK(pump_and_recv(f.loop, f.fd, &byte, 1) == 0);  // closed by the transport
  CHECK(f.b.counters().refused_tampered == 1);
  CHECK(f.mb.received.size() == 1);
}

TEST_CASE("Noise TCP: a replayed sealed frame is refused", "[transport][tcp][noise]") {
  raw_peer_fixture f;
  const std::vector<std::uint8_t> once = sealed_message(*f.s, "once");
  send_all(f.fd, once);
  send_all(f.fd, once);
  std::uint8_t byte = 0;
  CHECK(pump_and_recv(f.loop, f.fd, &byte, 1) == 0);
  CHECK(f.mb.received == std::vector<std::string>{"once"});
  CHECK(f.b.counters().refused_replayed == 1);
}

TEST_CASE("Noise TCP: a rotated peer key closes the connections the old key proved",
          "[transport][tcp][noise]") {
  raw_peer_fixture f;
  send_all(f.fd, sealed_message(*f.s, "before"));
  run_until(f.loop, [&] { return f.mb.received.size() == 1; });
  REQUIRE(f.mb.received == std::vector<std::string>{"before"});
  const identity rotated(3);
  REQUIRE(f.b.set_peer(1, *ipv4_endpoint::parse("127.0.0.1:9"), &rotated.noise_public));
  std::uint8_t byte = 0;
  CHECK(pump_and_recv(f.loop, f.fd, &byte, 1) == 0);  // closed by the transport
  CHECK(f.mb.received.size() == 1);
}

TEST_CASE("Noise TCP: a reconnection runs a new handshake", "[transport][tcp][noise]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2);
  tcp_transport a;
  noise_member ma(&a);
  a.set_noise_identity(ia.noise());
  REQUIRE(a.open(loop, loopback_any, 1, noise_options(), &on_noise_message, &on_noise_link, &ma));
  ipv4_endpoint b_address;
  {
    tcp_transport b;
    noise_member mb(&b);
    b.set_noise_identity(ib.noise());
    REQUIRE(b.open(loop, loopback_any, 2, noise_options(), &on_noise_message, &on_noise_link, &mb));
    REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
    b_address = b.local_endpoint();
    REQUIRE(a.set_peer(2, b_address, &ib.noise_public));
    REQUIRE(a.send_message(2, weft::as_bytes("before")));
    run_until(loop, [&] { return mb.received.size() == 1; });
    REQUIRE(mb.received == std::vector<std::string>{"before"});
  }
  tcp_transport b2;
  noise_member mb2(&b2);
  b2.set_noise_identity(ib.noise());
  REQUIRE(b2.open(loop, b_address, 2, noise_options(), &on_noise_message, &on_noise_link, &mb2));
  REQUIRE(b2.set_peer(1, a.local_endpoint(), &ia.noise_public));
  run_until(loop, [&] {
    if (mb2.received.empty()) (void)a.send_message(2, weft::as_bytes("after"));
    return !mb2.received.empty();
  });
  REQUIRE_FALSE(mb2.received.empty());
  CHECK(mb2.received.front() == "after");
  CHECK(ma.ups >= 2);
  CHECK(a.counters().handshakes_completed >= 2);
}

TEST_CASE("TCP carries a sender's trace context to the receiving handler",
          "[transport][tcp][trace]") {
  for (const bool secure : {false, true}) {
    CAPTURE(secure);
    weft::runtime::event_loop loop;
    REQUIRE(loop.init());
    const identity ia(1), ib(2);
    tcp_transport a, b;
    noise_member ma(&a), mb(&b);
    auto options = secure ? noise_options() : weft::transport::tcp_options{};
    a.set_noise_identity(ia.noise());
    b.set_noise_identity(ib.noise());
    REQUIRE(a.open(loop, loopback_any, 1, options, &on_noise_message, &on_noise_link, &ma));
    REQUIRE(b.open(loop, loopback_any, 2, options, &on_noise_message, &on_noise_link, &mb));
    REQUIRE(a.set_peer(2, b.local_endpoint(), &ib.noise_public));
    REQUIRE(b.set_peer(1, a.local_endpoint(), &ia.noise_public));
    weft::xoshiro256 random(42);
    const auto ctx = weft::telemetry::new_root_context(random);
    REQUIRE(a.send_message(2, weft::as_bytes("traced"), &ctx));
    REQUIRE(a.send_message(2, weft::as_bytes("plain")));
    // A largest message still fits with the trace field beside it.
    const std::string largest(a.max_message_size(), 'L');
    REQUIRE(a.send_message(2, weft::as_bytes(largest), &ctx));
    run_until(loop, [&] { return mb.received.size() == 3; });
    REQUIRE(mb.received.size() == 3);
    CHECK(mb.received[0] == "traced");
    CHECK(mb.traces[0] == ctx);
    CHECK(mb.received[1] == "plain");
    CHECK_FALSE(mb.traces[1].valid());
    CHECK(mb.traces[2] == ctx);
    CHECK(b.received_trace() == nullptr);  // only inside the handler
  }
}

TEST_CASE("TCP closes an inbound connection that never identifies itself",
          "[transport][tcp][noise]") {
  for (const bool secure : {false, true}) {
    CAPTURE(secure);
    weft::runtime::event_loop loop;
    REQUIRE(loop.init());
    const identity ib(2);
    tcp_transport b;
    noise_member mb(&b);
    auto options = secure ? noise_options() : weft::transport::tcp_options{};
    options.handshake_timeout = weft::milliseconds(50);
    b.set_noise_identity(ib.noise());
    REQUIRE(b.open(loop, loopback_any, 2, options, &on_noise_message, &on_noise_link, &mb));
    const int silent = connect_raw(b.local_endpoint());  // connects, then says nothing
    std::uint8_t byte = 0;
    CHECK(pump_and_recv(loop, silent, &byte, 1) == 0);  // closed by the transport
    CHECK(b.counters().inbound_timeouts == 1);
    CHECK(b.counters().inbound_accepted == 1);
    ::close(silent);
  }
}

// Each refusal moves its own kind (and the inbound_refused total for the kinds it sums),
// and no other counter.
TEST_CASE("Noise TCP: message 1 of another wire version is refused as refused_wire_version",
          "[transport][tcp][noise]") {
  noise_listener l;
  const std::uint8_t older[] = {'W', 'S', static_cast<std::uint8_t>(tcp_transport::wire_version + 1)};
  const auto before = l.b.counters();
  const int fd = connect_raw(l.b.local_endpoint());
  raw_session s = raw_initiator(l.ia);
  send_message_1(fd, s, weft::byte_view(older, sizeof older));
  // Refused before message 2: the answer is our version marker in a 3-byte frame, then EOF.
  std::uint8_t answer[16] = {};
  REQUIRE(pump_and_recv(l.loop, fd, answer, sizeof answer) == 5);
  const std::uint8_t expected[] = {0, 3, 'W', 'S', tcp_transport::wire_version};
  CHECK(weft::equal_bytes(weft::byte_view(answer, 5), weft::byte_view(expected, 5)));
  CHECK(l.closed(fd));
  ::close(fd);
  CHECK(weft_test::tcp_refusals_moved(before, l.b.counters()) ==
        std::vector<std::string>{"inbound_refused +1", "refused_wire_version +1"});
  CHECK(l.b.counters().handshakes_completed == 0);
}

TEST_CASE("Noise TCP: message 1 with a payload that is no version marker is refused_handshake",
          "[transport][tcp][noise]") {
  noise_listener l;
  const std::uint8_t junk[] = {'W', 'X', tcp_transport::wire_version};
  const auto before = l.b.counters();
  const int fd = connect_raw(l.b.local_endpoint());
  raw_session s = raw_initiator(l.ia);
  send_message_1(fd, s, weft::byte_view(junk, sizeof junk));
  CHECK(l.closed(fd));
  ::close(fd);
  CHECK(weft_test::tcp_refusals_moved(before, l.b.counters()) ==
        std::vector<std::string>{"refused_handshake +1"});
}

TEST_CASE("Noise TCP: message 1 with our marker, or none (builds before markers), completes",
          "[transport][tcp][noise]") {
  noise_listener l;
  const std::uint8_t ours[] = {'W', 'S', tcp_transport::wire_version};
  for (const weft::byte_view marker : {weft::byte_view(ours, sizeof ours), weft::byte_view{}}) {
    CAPTURE(marker.size());
    const auto before = l.b.counters();
    const std::size_t received = l.mb.received.size();
    const int fd = connect_raw(l.b.local_endpoint());
    raw_session s = raw_handshake_with(l.loop, fd, l.ia, marker,
                                       noise_hello(tcp_transport::wire_version, 1));
    send_all(fd, sealed_message(s, "in"));
    run_until(l.loop, [&] { return l.mb.received.size() == received + 1; });
    CHECK(l.mb.received.size() == received + 1);
    CHECK(weft_test::tcp_refusals_moved(before, l.b.counters()).empty());
    ::close(fd);
  }
}

TEST_CASE("Noise TCP: a handshake whose hello names a non-member is refused_unknown_member",
          "[transport][tcp][noise]") {
  noise_listener l;
  const identity stranger(5);
  const std::uint8_t ours[] = {'W', 'S', tcp_transport::wire_version};
  CHECK(l.refusals_after_handshake(stranger, weft::byte_view(ours, sizeof ours),
                                   noise_hello(tcp_transport::wire_version, 7)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_unknown_member +1"});
  // A member id with another key stays a key mismatch.
  CHECK(l.refusals_after_handshake(stranger, weft::byte_view(ours, sizeof ours),
                                   noise_hello(tcp_transport::wire_version, 1)) ==
        std::vector<std::string>{"refused_wrong_key +1"});
}

TEST_CASE("Noise TCP: a message 3 hello that is malformed or of another version is refused",
          "[transport][tcp][noise]") {
  noise_listener l;
  const std::uint8_t ours[] = {'W', 'S', tcp_transport::wire_version};
  const std::uint8_t short_hello[] = {'W', 'S', tcp_transport::wire_version};
  CHECK(l.refusals_after_handshake(l.ia, weft::byte_view(ours, sizeof ours),
                                   weft::byte_view(short_hello, sizeof short_hello)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_bad_hello +1"});
  const auto other = static_cast<std::uint8_t>(tcp_transport::wire_version + 1);
  CHECK(l.refusals_after_handshake(l.ia, weft::byte_view(ours, sizeof ours), noise_hello(other, 1)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_wire_version +1"});
  CHECK(l.mb.received.empty());
}

TEST_CASE("Noise TCP: a responder that refuses our version is counted as refused_wire_version",
          "[transport][tcp][noise]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  const identity ia(1), ib(2);
  tcp_transport a;
  noise_member ma(&a);
  a.set_noise_identity(ia.noise());
  REQUIRE(a.open(loop, loopback_any, 1, noise_options(), &on_noise_message, &on_noise_link, &ma));
  // Member 2 is a raw listener standing in for a member of another wire version.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in any = loopback_any.to_sockaddr();
  REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  sockaddr_in bound{};
  socklen_t size = sizeof bound;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &size) == 0);
  REQUIRE(a.set_peer(2, ipv4_endpoint::from_sockaddr(bound), &ib.noise_public));
  REQUIRE(a.send_message(2, weft::as_bytes("hello?")));
  int fd = -1;
  run_until(loop, [&] {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) fd = ::accept(listener, nullptr, nullptr);
    return fd >= 0;
  });
  REQUIRE(fd >= 0);
  // Message 1 carries our marker after the length and the ephemeral key.
  std::uint8_t message_1[37] = {};
  std::size_t got = 0;
  run_until(loop, [&] {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) {
      const ssize_t n = ::recv(fd, message_1 + got, sizeof message_1 - got, 0);
      REQUIRE(n > 0);
      got += static_cast<std::size_t>(n);
    }
    return got == sizeof message_1;
  });
  REQUIRE(got == sizeof message_1);
  CHECK(message_1[0] == 0);
  CHECK(message_1[1] == 35);
  CHECK(message_1[34] == 'W');
  CHECK(message_1[35] == 'S');
  CHECK(message_1[36] == tcp_transport::wire_version);
  const auto before = a.counters();
  const std::uint8_t refusal[] = {0, 3, 'W', 'S', static_cast<std::uint8_t>(tcp_transport::wire_version + 1)};
  send_all(fd, weft::byte_view(refusal, sizeof refusal));
  ::close(fd);
  run_until(loop, [&] { return a.counters().refused_wire_version > before.refused_wire_version; });
  CHECK(weft_test::tcp_refusals_moved(before, a.counters()) ==
        std::vector<std::string>{"refused_wire_version +1"});
  CHECK_FALSE(a.connected(2));
  ::close(listener);
}
