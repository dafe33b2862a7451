// bench_transport: TCP transport throughput on loopback, plaintext beside Noise sessions,
// for 256-byte and 64 KiB messages. Two transports on one event loop in one thread, so the
// figure is the whole CPU cost of one message: frame, (seal), send, receive, (open), deliver.
// One iteration = a batch of 64 messages sent and all delivered.
// udp_datagrams: the UDP transport, plaintext beside sealed (XChaCha20-Poly1305 per pair),
// for 256-byte and full-MTU (1352-byte) SWIM payloads; one iteration = 16 datagrams sent
// and all delivered (loopback does not lose them below the socket buffer).
//   items_per_second  messages per second;  bytes_per_second  payload bytes per second
#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <vector>

#include "weft/transport/tcp.hpp"
#include "weft/transport/udp.hpp"

namespace {
namespace wt = weft::transport;
using ed25519 = weft::crypto::libsodium::ed25519;

constexpr int batch = 64;

/// Member `index`'s fixed Ed25519 key (seed filled with index + 1): one key for both
/// transports' security, as weftd uses it.
ed25519::secret_key member_key(std::uint8_t index) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(static_cast<std::uint8_t>(index + 1));
  return ed25519::secret_key_from_seed(seed);
}

struct pair_of_transports {
  weft::runtime::event_loop loop;
  wt::tcp_transport a, b;
  std::size_t received = 0;

  static void on_message(void* c, wt::peer_id, weft::byte_view) noexcept {
    ++static_cast<pair_of_transports*>(c)->received;
  }

  explicit pair_of_transports(bool noise) {
    (void)loop.init();
    wt::tcp_options o;
    o.security = noise ? wt::tcp_security::noise : wt::tcp_security::plaintext;
    std::array<wt::noise_public_key, 2> keys{};
    for (std::uint8_t i = 0; i < 2; ++i) {
      const auto sk = member_key(i);
      keys[i] = *wt::noise_public_key_from_ed25519(ed25519::public_key_of(sk));
      (i == 0 ? a : b).set_noise_identity({wt::noise_secret_key_from_ed25519(sk)});
    }
    const auto any = *wt::ipv4_endpoint::parse("127.0.0.1:0");
    (void)a.open(loop, any, 1, o, &on_message, nullptr, this);
    (void)b.open(loop, any, 2, o, &on_message, nullptr, this);
    (void)a.set_peer(2, b.local_endpoint(), &keys[1]);
    (void)b.set_peer(1, a.local_endpoint(), &keys[0]);
  }

  /// Sends `count` messages from a to b and runs the loop until all arrived.
  bool exchange(weft::byte_view payload, int count) {
    const std::size_t target = received + static_cast<std::size_t>(count);
    for (int sent = 0; sent < count;) {
      if (a.send_message(2, payload)) ++sent;
      else if (!loop.run_once(weft::milliseconds(1))) return false;  // queue full: drain
    }
    for (int spins = 0; received < target && spins < 100000; ++spins)
      if (!loop.run_once(weft::milliseconds(1))) return false;
    return received >= target;
  }
};

void tcp_messages(benchmark::State& state) {
  const bool noise = state.range(0) != 0;
  const auto size = static_cast<std::size_t>(state.range(1));
  pair_of_transports p(noise);
  const std::vector<std::uint8_t> payload(size, 0x5a);
  if (!p.exchange(payload, 1)) {  // connect (and handshake) outside the timed loop
    state.SkipWithError("no connection");
    return;
  }
  for (auto _ : state)
    if (!p.exchange(payload, batch)) {
      state.SkipWithError("messages lost");
      return;
    }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetBytesProcessed(state.iterations() * batch * static_cast<std::int64_t>(size));
  state.SetLabel(noise ? "noise" : "plaintext");
}
struct pair_of_udp_transports {
  weft::runtime::event_loop loop;
  wt::udp_transport a, b;
  std::size_t received = 0;

  static void on_datagram(void* c, wt::peer_id, wt::ipv4_endpoint, weft::byte_view, bool) noexcept {
    ++static_cast<pair_of_udp_transports*>(c)->received;
  }

  explicit pair_of_udp_transports(bool sealed) {
    (void)loop.init();
    wt::udp_options o;
    o.security = sealed ? wt::udp_security::sealed : wt::udp_security::plaintext;
    std::array<wt::noise_public_key, 2> keys{};
    for (std::uint8_t i = 0; i < 2; ++i) {
      const auto sk = member_key(i);
      keys[i] = *wt::noise_public_key_from_ed25519(ed25519::public_key_of(sk));
      (i == 0 ? a : b).set_seal_identity({wt::noise_secret_key_from_ed25519(sk), 1, nullptr, nullptr});
    }
    const auto any = *wt::ipv4_endpoint::parse("127.0.0.1:0");
    (void)a.open(loop, any, 1, o, &on_datagram, this);
    (void)b.open(loop, any, 2, o, &on_datagram, this);
    (void)a.set_peer(2, b.local_endpoint(), &keys[1]);
    (void)b.set_peer(1, a.local_endpoint(), &keys[0]);
  }

  bool exchange(weft::byte_view payload, int count) {
    const std::size_t target = received + static_cast<std::size_t>(count);
    for (int i = 0; i < count; ++i)
      if (!a.send_datagram(2, payload)) return false;
    for (int spins = 0; received < target && spins < 1000; ++spins)
      if (!loop.run_once(weft::milliseconds(1))) return false;
    return received >= target;
  }
};

void udp_datagrams(benchmark::State& state) {
  const bool sealed = state.range(0) != 0;
  const auto size = static_cast<std::size_t>(state.range(1));
  pair_of_udp_transports p(sealed);
  const std::vector<std::uint8_t> payload(size, 0x5a);
  constexpr int udp_batch = 16;
  for (auto _ : state)
    if (!p.exchange(payload, udp_batch)) {
      state.SkipWithError("datagrams lost");
      return;
    }
  state.SetItemsProcessed(state.iterations() * udp_batch);
  state.SetBytesProcessed(state.iterations() * udp_batch * static_cast<std::int64_t>(size));
  state.SetLabel(sealed ? "sealed" : "plaintext");
}
}  // namespace

BENCHMARK(udp_datagrams)
    ->ArgNames({"sealed", "bytes"})
    ->Args({0, 256})
    ->Args({1, 256})
    ->Args({0, 1352})
    ->Args({1, 1352})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK(tcp_messages)
    ->ArgNames({"noise", "bytes"})
    ->Args({0, 256})
    ->Args({1, 256})
    ->Args({0, 65536})
    ->Args({1, 65536})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
