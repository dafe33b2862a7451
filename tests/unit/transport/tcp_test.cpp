#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tcp_refusals.hpp"
#include "transport_fixture.hpp"
#include "weft/transport/tcp.hpp"

namespace {
using weft::transport::ipv4_endpoint;
using weft::transport::peer_id;
using weft::transport::tcp_transport;

struct link_member {
  std::vector<std::string> received;
  std::vector<peer_id> senders;
  int ups = 0;
  int downs = 0;
};
void record_message(void* c, peer_id from, weft::byte_view payload) noexcept {
  auto* m = static_cast<link_member*>(c);
  m->received.emplace_back(weft::as_chars(payload));
  m->senders.push_back(from);
}
void record_link(void* c, peer_id, bool up) noexcept {
  auto* m = static_cast<link_member*>(c);
  (up ? m->ups : m->downs) += 1;
}
using weft_test::loopback_any;
using weft_test::run_until;

std::string plaintext_hello(std::uint8_t version, peer_id from) {
  std::string hello{'W', 'S', static_cast<char>(version), 0, 0, 0, 0};
  weft::store_be<std::uint32_t>(reinterpret_cast<std::uint8_t*>(hello.data()) + 3, from);
  return hello;
}

void plaintext_send_frame(int fd, const std::string& payload, bool corrupt = false) {
  std::vector<std::uint8_t> buffer(payload.size() + weft::wire::frame_header_size_bytes);
  REQUIRE(weft::wire::encode_frame(weft::as_bytes(payload), buffer));
  if (corrupt) buffer.back() ^= 1;
  REQUIRE(::send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(buffer.size()));
}

/// True once the transport closed `fd` (bounded: false after about a second of loop turns).
bool plaintext_closed_by_peer(weft::runtime::event_loop& loop, int fd) {
  for (int i = 0; i < 500; ++i) {
    REQUIRE(loop.run_once(weft::milliseconds(2)));
    pollfd p{fd, POLLIN, 0};
    std::uint8_t byte = 0;
    if (::poll(&p, 1, 0) == 1) return ::recv(fd, &byte, 1, 0) <= 0;
  }
  return false;
}

/// Member 2 listening in plaintext, with member 1 in its table (at an address never dialled).
struct plaintext_listener {
  weft::runtime::event_loop loop;
  link_member member;
  tcp_transport b;

  explicit plaintext_listener(std::size_t max_inbound_connections = 8) {
    REQUIRE(loop.init());
    weft::transport::tcp_options options;
    options.max_inbound_connections = max_inbound_connections;
    REQUIRE(b.open(loop, loopback_any, 2, options, &record_message, &record_link, &member));
    REQUIRE(b.set_peer(1, *ipv4_endpoint::parse("127.0.0.1:9")));
  }
  int connect_raw() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in sa = b.local_endpoint().to_sockaddr();
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
    return fd;
  }
  /// Connects, sends `first` as the first frame, waits for the close; what was counted.
  std::vector<std::string> refusals_after_first_frame(const std::string& first) {
    const auto before = b.counters();
    const int fd = connect_raw();
    plaintext_send_frame(fd, first);
    CHECK(plaintext_closed_by_peer(loop, fd));
    ::close(fd);
    return weft_test::tcp_refusals_moved(before, b.counters());
  }
};

}  // namespace

TEST_CASE("TCP delivers many messages in order with their sender", "[transport][tcp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  link_member ma, mb;
  tcp_transport a, b;
  REQUIRE(a.open(loop, loopback_any, 1, {}, &record_message, &record_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, {}, &record_message, &record_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint()));
  REQUIRE(b.set_peer(1, a.local_endpoint()));
  constexpr int count = 5000;
  for (int i = 0; i < count; ++i) {
    std::string text = "m";
    text += std::to_string(i);
    text.append(static_cast<std::size_t>(i % 97), 'x');
    REQUIRE(a.send_message(2, weft::as_bytes(text)));
  }
  REQUIRE(b.send_message(1, weft::as_bytes("reply")));
  run_until(loop, [&] { return mb.received.size() == count && ma.received.size() == 1; });
  REQUIRE(mb.received.size() == count);
  for (int i = 0; i < count; ++i) {
    const std::string& got = mb.received[static_cast<std::size_t>(i)];
    std::string prefix = "m";
    prefix += std::to_string(i);
    REQUIRE(got.rfind(prefix, 0) == 0);
    REQUIRE(got.size() == prefix.size() + static_cast<std::size_t>(i % 97));
  }
  CHECK(mb.senders.front() == 1);
  CHECK(ma.received == std::vector<std::string>{"reply"});
  CHECK(ma.ups == 1);
  CHECK(a.counters().messages_sent == count);
  CHECK(b.counters().messages_received == count);
}

TEST_CASE("TCP applies backpressure and refuses oversize messages", "[transport][tcp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  link_member ma;
  tcp_transport a;
  weft::transport::tcp_options options;
  options.max_message_size_bytes = 1000;
  options.send_queue_capacity_bytes = 4096;
  REQUIRE(a.open(loop, loopback_any, 1, options, &record_message, &record_link, &ma));
  // A peer that never accepts: its address is a closed port, so nothing drains the queue.
  REQUIRE(a.set_peer(2, *ipv4_endpoint::parse("127.0.0.1:1")));
  const std::string chunk(900, 'q');
  CHECK(a.send_message(2, weft::as_bytes(std::string(1001, 'z'))).error().is(
      weft::transport::transport_errc::message_too_large));
  CHECK(a.send_message(3, weft::as_bytes("x")).error().is(
      weft::transport::transport_errc::unknown_peer));
  int accepted = 0;
  weft::result<void> last = weft::ok();
  for (int i = 0; i < 10 && last; ++i) {
    last = a.send_message(2, weft::as_bytes(chunk));
    if (last) ++accepted;
  }
  REQUIRE_FALSE(last);
  CHECK(last.error().is(weft::transport::transport_errc::queue_full));
  CHECK(accepted == 4);  // 4 x 908 bytes + the hello reserve fit in 4096
  CHECK(a.counters().refused_queue_full == 1);
  // The connection fails; queued messages are dropped and counted, never replayed later.
  run_until(loop, [&] { return a.counters().connect_failures >= 1; });
  CHECK(a.counters().messages_dropped_on_disconnect == 4);
  CHECK(a.queued_bytes(2) == 0);
}

TEST_CASE("TCP cork holds sends and uncork writes a peer's frames in one send", "[transport][tcp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  link_member ma, mb;
  tcp_transport a, b;
  REQUIRE(a.open(loop, loopback_any, 1, {}, &record_message, &record_link, &ma));
  REQUIRE(b.open(loop, loopback_any, 2, {}, &record_message, &record_link, &mb));
  REQUIRE(a.set_peer(2, b.local_endpoint()));
  REQUIRE(b.set_peer(1, a.local_endpoint()));
  REQUIRE(a.send_message(2, weft::as_bytes("first")));
  run_until(loop, [&] { return mb.received.size() == 1; });
  REQUIRE(a.queued_bytes(2) == 0);
  const std::uint64_t calls_before = a.counters().send_calls;
  a.cork();
  constexpr int count = 40;
  for (int i = 0; i < count; ++i) REQUIRE(a.send_message(2, weft::as_bytes("corked " + std::to_string(i))));
  for (int i = 0; i < 20; ++i) REQUIRE(loop.run_once(weft::milliseconds(1)));
  CHECK(mb.received.size() == 1);  // nothing left while corked
  CHECK(a.queued_bytes(2) > 0);
  CHECK(a.counters().send_calls == calls_before);
  a.uncork();
  CHECK(a.queued_bytes(2) == 0);
  CHECK(a.counters().send_calls == calls_before + 1);  // 40 frames, one system call
  run_until(loop, [&] { return mb.received.size() == count + 1; });
  REQUIRE(mb.received.size() == count + 1);
  CHECK(mb.received.back() == "corked " + std::to_string(count - 1));
  // Uncorked again: each send goes out at once.
  REQUIRE(a.send_message(2, weft::as_bytes("plain")));
  CHECK(a.queued_bytes(2) == 0);
  CHECK(a.counters().send_calls == calls_before + 2);
}

TEST_CASE("TCP reconnects after the peer restarts", "[transport][tcp]") {
  weft::runtime::event_loop loop;
  REQUIRE(loop.init());
  link_member ma, mb1, mb2;
  tcp_transport a;
  REQUIRE(a.open(loop, loopback_any, 1, {}, &record_message, &record_link, &ma));
  ipv4_endpoint b_address;
  {
    tcp_transport b;
    REQUIRE(b.open(loop, loopback_any, 2, {}, &record_message, &record_link, &mb1));
    REQUIRE(b.set_peer(1, a.local_endpoint()));
    b_address = b.local_endpoint();
    REQUIRE(a.set_peer(2, b_address));
    REQUIRE(a.send_message(2, weft::as_bytes("before")));
    run_until(loop, [&] { return mb1.received.size() == 1; });
    REQUIRE(mb1.received == std::vector<std::string>{"before"});
  }  // b goes away
  tcp_transport b2;
  REQUIRE(b2.open(loop, b_address, 2, {}, &record_message, &record_link, &mb2));
  REQUIRE(b2.set_peer(1, a.local_endpoint()));
  // Keep sending until one arrives on the new incarnation: the first sends may hit the
  // dead connection (dropped and counted) before a reconnect.
  run_until(loop, [&] {
    if (mb2.received.empty()) (void)a.send_message(2, weft::as_bytes("after"));
    return !mb2.received.empty();
  });
  REQUIRE_FALSE(mb2.received.empty());
  CHECK(mb2.received.front() == "after");
  CHECK(ma.downs >= 1);
  CHECK(ma.ups >= 2);
}

TEST_CASE("TCP refuses strangers and corrupt frames", "[transport][tcp]") {
  plaintext_listener l;
  const int stranger = l.connect_raw();
  plaintext_send_frame(stranger, plaintext_hello(1, 7));
  const int corrupt = l.connect_raw();
  plaintext_send_frame(corrupt, plaintext_hello(1, 1));
  plaintext_send_frame(corrupt, "tampered", true);
  const int honest = l.connect_raw();
  plaintext_send_frame(honest, plaintext_hello(1, 1));
  plaintext_send_frame(honest, "hello there");
  run_until(l.loop, [&] {
    return l.b.counters().inbound_refused >= 1 && l.b.counters().malformed_frames >= 1 &&
           !l.member.received.empty();
  });
  CHECK(l.b.counters().inbound_refused == 1);
  CHECK(l.b.counters().malformed_frames == 1);
  CHECK(l.member.received == std::vector<std::string>{"hello there"});
  ::close(stranger);
  ::close(corrupt);
  ::close(honest);
}

// Each refusal moves its own kind and the inbound_refused total, and no other counter.
TEST_CASE("TCP counts a first frame that is no hello as refused_bad_hello", "[transport][tcp]") {
  plaintext_listener l;
  CHECK(l.refusals_after_first_frame("hello") ==
        std::vector<std::string>{"inbound_refused +1", "refused_bad_hello +1"});
  CHECK(l.refusals_after_first_frame(std::string("XS\x01\x00\x00\x00\x01", 7)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_bad_hello +1"});
}

TEST_CASE("TCP counts a hello of another wire version as refused_wire_version", "[transport][tcp]") {
  plaintext_listener l;
  const auto other = static_cast<std::uint8_t>(tcp_transport::wire_version + 1);
  CHECK(l.refusals_after_first_frame(plaintext_hello(other, 1)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_wire_version +1"});
  CHECK(l.member.received.empty());
}

TEST_CASE("TCP counts a hello from a non-member as refused_unknown_member", "[transport][tcp]") {
  plaintext_listener l;
  CHECK(l.refusals_after_first_frame(plaintext_hello(tcp_transport::wire_version, 7)) ==
        std::vector<std::string>{"inbound_refused +1", "refused_unknown_member +1"});
  // The member's own hello passes: nothing is refused and its message arrives.
  const int member = l.connect_raw();
  plaintext_send_frame(member, plaintext_hello(tcp_transport::wire_version, 1));
  plaintext_send_frame(member, "from a member");
  const auto before = l.b.counters();
  run_until(l.loop, [&] { return !l.member.received.empty(); });
  CHECK(l.member.received == std::vector<std::string>{"from a member"});
  CHECK(weft_test::tcp_refusals_moved(before, l.b.counters()).empty());
  ::close(member);
}

TEST_CASE("TCP counts a connection beyond max_inbound_connections as refused_table_full",
          "[transport][tcp]") {
  plaintext_listener l(1);
  const int holder = l.connect_raw();  // takes the only slot without saying anything
  run_until(l.loop, [&] { return l.b.counters().inbound_accepted == 1; });
  REQUIRE(l.b.counters().inbound_accepted == 1);
  const auto before = l.b.counters();
  const int extra = l.connect_raw();
  CHECK(plaintext_closed_by_peer(l.loop, extra));
  CHECK(weft_test::tcp_refusals_moved(before, l.b.counters()) ==
        std::vector<std::string>{"inbound_refused +1", "refused_table_full +1"});
  CHECK(l.b.counters().inbound_accepted == 1);
  ::close(extra);
  ::close(holder);
}
