// Two members whose TCP links run Noise sessions keyed by their Ed25519 member keys: a
// leader is elected and a write commits on both; the per-peer transport series of the
// catalogue move and appear in the Prometheus export, one series per peer. With
// secure_stack the same keys carry Ed25519 SWIM admission from an admin's statements.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weft/runtime/node.hpp"
#include "weft/telemetry/prometheus.hpp"

#include "cluster_fixture.hpp"

namespace {
using namespace weft;

using weft_test::counting_sm;

std::array<std::uint8_t, 32> seed_of(std::uint64_t id) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(static_cast<std::uint8_t>(0x40 + id));
  return seed;
}
std::array<std::uint8_t, 32> public_key_of(std::uint64_t id) {
  const auto sk = crypto::libsodium::ed25519::secret_key_from_seed(seed_of(id));
  return crypto::libsodium::ed25519::public_key_of(sk);
}

/// An admin-signed statement admitting member `id` with the key of seed_of(id).
std::vector<std::uint8_t> statement_for(const swim::admission_authority& admin, std::uint64_t id,
                                        std::uint64_t key_of, std::uint64_t epoch = 1) {
  std::array<std::uint8_t, swim::max_signed_admission_bytes> out{}, scratch{};
  const auto key = public_key_of(key_of);
  auto issued = admin.issue(id, key, epoch, out, scratch);
  REQUIRE(issued);
  return {issued->begin(), issued->end()};
}

template <class Stack = runtime::default_stack>
struct secure_pair {
  runtime::event_loop loop;
  std::string root;
  std::uint16_t ports[4] = {};
  counting_sm sms[2];
  std::unique_ptr<runtime::basic_node<Stack, counting_sm>> nodes[2];

  secure_pair() {
    REQUIRE(loop.init());
    char pattern[] = "/tmp/weft-node-noise-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    root = pattern;
    for (auto& port : ports) port = weft_demo::pick_free_port();
  }
  ~secure_pair() {
    for (auto& n : nodes) n.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  transport::ipv4_endpoint ep(int i) const { return {0x7f000001u, ports[i]}; }
  runtime::node_options options_for(int i) const {
    runtime::node_options o;
    o.id = static_cast<std::uint64_t>(i + 1);
    o.raft_address = ep(i);
    o.swim_address = ep(i + 2);
    o.data_dir = root + "/" + std::to_string(i + 1);
    o.tick_ms = 5;
    o.raft.election_timeout_ticks_min = 20;
    o.raft.election_timeout_ticks_max = 40;
    o.raft.heartbeat_interval_ticks = 3;
    o.tcp.security = transport::tcp_security::noise;
    o.member_seed = seed_of(o.id);
    const int j = 1 - i;
    runtime::node_peer peer{static_cast<std::uint64_t>(j + 1), ep(j), ep(j + 2)};
    peer.member_key = public_key_of(peer.id);
    o.peers.push_back(peer);
    return o;
  }
  template <class F>
  bool run_until(F done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      (void)loop.run_once(milliseconds(5));
    }
    return false;
  }
  int leader() const {
    for (int i = 0; i < 2; ++i)
      if (nodes[i] && nodes[i]->status().role == raft::role::leader) return i;
    return -1;
  }
};
}  // namespace

TEST_CASE("node: Noise sessions between members keyed by their Ed25519 keys",
          "[runtime][node][noise]") {
  secure_pair<> c;
  for (int i = 0; i < 2; ++i) {
    c.nodes[i] = std::make_unique<runtime::node<counting_sm>>(c.loop, c.sms[i]);
    const auto opened = c.nodes[i]->open(c.options_for(i));
    INFO((opened ? "" : std::string(opened.error().where())));
    REQUIRE(opened);
  }
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const std::uint8_t value[] = {'v'};
  REQUIRE(c.run_until([&] { return c.nodes[c.leader()]->propose(byte_view(value)).has_value(); }));
  REQUIRE(c.run_until([&] { return c.sms[0].applied >= 1 && c.sms[1].applied >= 1; }));
  // Per-peer series in the Prometheus export: one per member, moving with the traffic.
  const auto export_text = [] {
    std::string text;
    telemetry::string_output out(text);
    REQUIRE(telemetry::write_exposition(out, telemetry::exposition::prometheus_0_0_4,
                                        telemetry::default_registry()));
    return text;
  };
  const auto sample = [](const std::string& text, const std::string& series) -> long long {
    const auto at = text.find(series + " ");
    if (at == std::string::npos || text.find(series + " ", at + 1) != std::string::npos) return -1;
    return std::stoll(text.substr(at + series.size() + 1));
  };
  REQUIRE(c.run_until([&] {
    const std::string text = export_text();
    return sample(text, "weft_transport_sent_bytes_total{peer=\"1\"}") > 0 &&
           sample(text, "weft_transport_received_messages_total{peer=\"2\"}") > 0;
  }));
  const std::string text = export_text();
  CHECK(sample(text, "weft_transport_sent_messages_total{peer=\"2\"}") > 0);
  CHECK(sample(text, "weft_transport_received_bytes_total{peer=\"1\"}") > 0);
  CHECK(sample(text, "weft_transport_dropped_messages_total{peer=\"1\"}") >= 0);
  for (int i = 0; i < 2; ++i) {
    const auto& t = c.nodes[i]->tcp_counters();
    CHECK(t.handshakes_completed >= 2);
    CHECK(t.refused_wrong_key == 0);
    CHECK(t.refused_handshake == 0);
    CHECK(t.refused_tampered == 0);
  }
  // Closed members release their series: the export no longer names them.
  c.nodes[0].reset();
  c.nodes[1].reset();
  CHECK(export_text().find("weft_transport_sent_bytes_total{peer=") == std::string::npos);
}

TEST_CASE("node: Noise and sealed datagrams need this member's seed and every peer's key",
          "[runtime][node][noise]") {
  secure_pair<> c;
  auto no_seed = c.options_for(0);
  no_seed.member_seed.reset();
  CHECK_FALSE(no_seed.validate());
  auto no_key = c.options_for(0);
  no_key.peers[0].member_key.reset();
  CHECK_FALSE(no_key.validate());
  auto plaintext = no_key;
  plaintext.tcp.security = transport::tcp_security::plaintext;
  plaintext.member_seed.reset();
  CHECK(plaintext.validate());
  auto sealed_without_seed = plaintext;
  sealed_without_seed.udp.security = transport::udp_security::sealed;
  CHECK_FALSE(sealed_without_seed.validate());
}

TEST_CASE("node: Ed25519 SWIM admission from an admin's statements (secure_stack)",
          "[runtime][node][noise][admission]") {
  using secure_node = runtime::basic_node<runtime::secure_stack, counting_sm>;
  std::array<std::uint8_t, 32> admin_seed{};
  admin_seed.fill(0xad);
  const swim::admission_authority admin(crypto::libsodium::ed25519::secret_key_from_seed(admin_seed));
  std::array<std::uint8_t, 32> admin_key{};
  std::copy(admin.public_key().begin(), admin.public_key().end(), admin_key.begin());
  secure_pair<runtime::secure_stack> c;
  const auto options_with = [&](int i, std::uint64_t statement_key_of) {
    auto o = c.options_for(i);
    o.admin_public_key = admin_key;
    o.admission_statement = statement_for(admin, o.id, statement_key_of);
    o.udp.security = transport::udp_security::sealed;  // as weftd runs it
    return o;
  };
  // A statement for another member's key is refused at open().
  {
    secure_node wrong(c.loop, c.sms[0]);
    const auto opened = wrong.open(options_with(0, 2));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().is(swim::swim_errc::not_admitted));
    secure_node missing(c.loop, c.sms[0]);
    auto o = options_with(0, 1);
    o.admission_statement.clear();
    CHECK_FALSE(missing.open(o));
  }
  for (int i = 0; i < 2; ++i) {
    c.nodes[i] = std::make_unique<secure_node>(c.loop, c.sms[i]);
    const auto opened = c.nodes[i]->open(options_with(i, static_cast<std::uint64_t>(i + 1)));
    INFO((opened ? "" : std::string(opened.error().where())));
    REQUIRE(opened);
  }
  // Each member sees the other alive: SWIM accepted the other's Ed25519 admission.
  REQUIRE(c.run_until([&] {
    for (int i = 0; i < 2; ++i) {
      const auto members = c.nodes[i]->members();
      if (members.empty() || members[0].swim_state != swim::member_state::alive) return false;
    }
    return true;
  }));
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const std::uint8_t value[] = {'s'};
  REQUIRE(c.run_until([&] { return c.nodes[c.leader()]->propose(byte_view(value)).has_value(); }));
  CHECK(c.run_until([&] { return c.sms[0].applied >= 1 && c.sms[1].applied >= 1; }));
  // SWIM ran over sealed datagrams: received and opened, none refused.
  for (int i = 0; i < 2; ++i) {
    const auto& u = c.nodes[i]->udp_counters();
    CHECK(u.datagrams_received > 0);
    CHECK(u.dropped_unauthenticated + u.dropped_mode_mismatch + u.dropped_unknown_sender == 0);
  }

  // Key rotation: member 2 comes back with a new key (seed_of(3)) and an epoch-2 statement.
  // Until member 1 learns the key, the pair cannot talk on UDP or TCP; then the new key takes over.
  c.nodes[1].reset();
  auto rotated = options_with(1, 3);
  rotated.member_seed = seed_of(3);
  rotated.admission_statement = statement_for(admin, 2, 3, 2);
  c.nodes[1] = std::make_unique<secure_node>(c.loop, c.sms[1]);
  REQUIRE(c.nodes[1]->open(rotated));
  // Member 1 still seals for the old key (member 2 cannot open it) and refuses member 2's
  // Noise handshakes (the key is not the one it holds for 2).
  const auto& refused_udp = c.nodes[1]->udp_counters().dropped_unauthenticated;
  const auto& refused_tcp = c.nodes[0]->tcp_counters().refused_wrong_key;
  REQUIRE(c.run_until([&] { return refused_udp > 0 && refused_tcp > 0; }));
  REQUIRE(c.nodes[0]->set_member_key(2, public_key_of(3)));
  c.nodes[0]->revoke_admissions_below(2);
  CHECK(c.nodes[0]->set_member_key(9, public_key_of(3)).error().is(transport::transport_errc::unknown_peer));
  const std::uint8_t after[] = {'r'};
  REQUIRE(c.run_until([&] {
    const int l = c.leader();
    return l >= 0 && c.nodes[l]->propose(byte_view(after)).has_value();
  }));
  CHECK(c.run_until([&] { return c.sms[0].applied >= 2 && c.sms[1].applied >= 2; }));
  CHECK(c.run_until([&] {
    const auto members = c.nodes[0]->members();
    return !members.empty() && members[0].swim_state == swim::member_state::alive;
  }));
}
