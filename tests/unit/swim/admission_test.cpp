// Admission through the real crypto concept: Ed25519 from the libsodium backend. Replayed
// and superseded admission statements through the SWIM core; Ed25519 claims at small MTUs.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "swim_harness.hpp"
#include "swim_packets.hpp"
#include "weft/membership/swim/swim.hpp"

#if __has_include(<sodium.h>)
#include "weft/membership/swim/sodium_admission.hpp"
#define WEFT_SWIM_HAVE_SODIUM 1
#endif

using namespace weft;
using namespace weft::swim;

#ifdef WEFT_SWIM_HAVE_SODIUM
namespace {
using ed = crypto::libsodium::ed25519;
using ed_scheme = ed25519_admission_scheme;
using ed_core = basic_core<ed_scheme>;
static_assert(admission_scheme<ed_scheme>);

ed::secret_key secret_from(std::uint64_t tag) {
  std::array<std::uint8_t, ed::seed_size> seed{};
  for (std::size_t i = 0; i < 8; ++i) seed[i] = static_cast<std::uint8_t>(tag >> (8 * i));
  seed[31] = 0x5a;
  return ed::secret_key_from_seed(seed);
}
ed_scheme key_from(std::uint64_t tag) { return ed_scheme(secret_from(tag)); }

ed_core make(const ed_scheme& anchor, node_id id, std::uint64_t tag, options o) {
  ed_scheme me = key_from(tag);
  identity self;
  self.id = id;
  self.addr = static_cast<address>(id);
  self.admission = *admit(anchor, id, me.public_key());
  const byte_view anchors[] = {anchor.public_key()};
  auto c = ed_core::create(o, self, std::move(me), xoshiro256(id), anchors);
  REQUIRE(c);
  return std::move(*c);
}

/// Cores of an Ed25519 cluster: member `index` has id index+1, key tag 1000+index.
struct ed_core_maker {
  ed_core operator()(const options& o, std::size_t index, std::uint64_t seed,
                     std::uint64_t incarnation, address addr) const {
    const ed_scheme anchor = key_from(0xa0);
    ed_scheme me = key_from(1000 + index);
    identity self;
    self.id = index + 1;
    self.addr = addr != 0 ? addr : static_cast<address>(index + 1);
    self.incarnation = incarnation;
    self.admission = *admit(anchor, self.id, me.public_key());
    const byte_view anchors[] = {anchor.public_key()};
    auto c = ed_core::create(o, self, std::move(me), xoshiro256(seed * 7919 + index), anchors);
    REQUIRE(c);
    return std::move(*c);
  }
};
using ed_cluster = swim_test::basic_cluster<ed_core, ed_core_maker>;

/// One gossip datagram from `sender` carrying `claims`.
using swim_test::gossip_packet;

/// The alive claim member `subject` signs with `key` at `incarnation`, carrying the admin's
/// statement for that key at `epoch` (issued through the admission gate, as weftd does).
member_claim alive_claim(const admission_authority& admin, admission_gate& gate,
                         node_id subject, std::uint64_t key_tag, std::uint64_t epoch,
                         std::uint64_t incarnation) {
  ed_scheme key = key_from(key_tag);
  std::array<std::uint8_t, max_signed_admission_bytes> statement{}, scratch{};
  auto issued = admin.issue(subject, key.public_key(), epoch, statement, scratch);
  REQUIRE(issued);
  auto admitted = gate.accept(*issued);
  REQUIRE(admitted);
  identity self;
  self.addr = static_cast<address>(subject);
  self.incarnation = incarnation;
  admitted->apply_to(self);
  const byte_view anchors[] = {admin.public_key()};
  auto c = ed_core::create(options{}, self, std::move(key), xoshiro256(subject), anchors);
  REQUIRE(c);
  return c->self_claim();
}
}  // namespace

TEST_CASE("Ed25519 admission: admitted members join, forged ones do not",
          "[swim][admission][crypto]") {
  options o;
  o.mtu_bytes = 244;
  o.max_payload_bytes = 64;
  const ed_scheme anchor = key_from(0xa0);
  ed_core a = make(anchor, 1, 1, o);
  ed_core b = make(anchor, 2, 2, o);
  const time_point now{};
  REQUIRE(a.bootstrap(now));
  REQUIRE(a.add_member(now, b.self_claim()));
  CHECK(a.state_of(2) == member_state::alive);

  // A member admitted by a key that is not an anchor is refused.
  const ed_scheme rogue_anchor = key_from(0xee);
  ed_core c = make(rogue_anchor, 3, 3, o);
  CHECK(a.add_member(now, c.self_claim()).error().is(swim_errc::not_admitted));
  CHECK(a.state_of(3) == member_state::absent);

  // Tampering with a signed claim (a new address) breaks the signature.
  member_claim moved = b.self_claim();
  moved.incarnation = 9;
  moved.addr = 99;
  CHECK(a.add_member(now, moved).error().is(swim_errc::bad_signature));
  CHECK(a.address_of(2) == 2);
  CHECK(a.stats().forged == 2);

  // Probing over a 244-byte MTU: every datagram fits.
  a.tick(now + std::chrono::seconds(2));
  REQUIRE_FALSE(a.sends().empty());
  for (const outgoing& out : a.sends()) CHECK(out.bytes.size() <= 244);
}

TEST_CASE("a superseded or replayed admission statement is dropped and counted by the core",
          "[swim][admission][crypto][replay]") {
  const admission_authority admin(secret_from(0xa0));
  auto gate = admission_gate::create({.max_members = 8}, admin.public_key());
  REQUIRE(gate);
  // Member 2 is admitted at epoch 1 with key 21; its key is later rotated to key 22 at
  // epoch 2. Whoever still holds key 21 (a leaked key, a stale replica) can sign any
  // incarnation under the old statement.
  const member_claim old_statement = alive_claim(admin, *gate, 2, 21, 1, 1);
  const member_claim rotated = alive_claim(admin, *gate, 2, 22, 2, 2);

  options o;
  o.max_members = 16;
  ed_core a = make(ed_scheme(secret_from(0xa0)), 1, 1, o);
  const time_point now{};
  REQUIRE(a.bootstrap(now));

  // The old statement arrives first (the receiver cannot know it was superseded yet).
  (void)a.step(now, 9, gossip_packet(9, {old_statement}));
  REQUIRE(a.state_of(2) == member_state::alive);
  CHECK(a.admission_epoch_of(2) == 1);

  // The re-issued statement supersedes it: the rotated key is taken, not refused.
  (void)a.step(now, 9, gossip_packet(9, {rotated}));
  CHECK(a.admission_epoch_of(2) == 2);
  CHECK(a.incarnation_of(2) == 2);

  // The old key signs a higher incarnation under the epoch-1 statement: dropped, counted.
  auto admin_again = admission_gate::create({.max_members = 8}, admin.public_key());
  REQUIRE(admin_again);
  const member_claim replayed = alive_claim(admin, *admin_again, 2, 21, 1, 7);
  const auto replays_before = a.stats().replays;
  (void)a.step(now, 9, gossip_packet(9, {replayed}));
  CHECK(a.stats().refused_by(swim_errc::superseded_admission) == 1);
  CHECK(a.stats().replays == replays_before + 1);
  CHECK(a.incarnation_of(2) == 2);
  CHECK(a.admission_epoch_of(2) == 2);
  CHECK(a.address_of(2) == 2);

  // Another key at the held epoch is refused too (the admin equivocated or leaked).
  const member_claim other_key = alive_claim(admin, *admin_again, 2, 23, 2, 8);
  (void)a.step(now, 9, gossip_packet(9, {other_key}));
  CHECK(a.stats().refused_by(swim_errc::not_admitted) == 1);
  CHECK(a.incarnation_of(2) == 2);

  // Revocation: a member never seen, admitted below the floor, is refused.
  ed_core b = make(ed_scheme(secret_from(0xa0)), 5, 5, o);
  REQUIRE(b.bootstrap(now));
  b.revoke_admissions_below(2);
  CHECK(b.add_member(now, old_statement).error().is(swim_errc::superseded_admission));
  CHECK(b.state_of(2) == member_state::absent);
  REQUIRE(b.add_member(now, rotated));
  CHECK(b.state_of(2) == member_state::alive);
}

TEST_CASE("Ed25519 claims at small MTUs: membership converges, app messages get their share",
          "[swim][admission][crypto][mtu]") {
  constexpr std::size_t payload_bytes = 32;
  const std::size_t smallest = ed_core::min_mtu_bytes(payload_bytes);
  INFO("Ed25519 minimum MTU with 32-byte payloads: " << smallest);
  CHECK(smallest < 210);
  // The table in docs/swim.md ("Small MTUs").
  CHECK(ed_core::min_mtu_bytes(0) == 168);
  CHECK(ed_core::min_mtu_bytes(64) == 233);
  CHECK(ed_core::min_mtu_bytes(256) == 426);
  CHECK(swim::core::min_mtu_bytes(32) == 152);
  // Below the minimum (and the smallest MTU options allow, 128) the core refuses to start.
  options o = swim_test::sim_options(12);
  o.max_payload_bytes = payload_bytes;
  o.push_pull_interval_ms = 5000;  // newcomers' full claims travel by push-pull
  o.mtu_bytes = 128;
  {
    const ed_scheme anchor = key_from(0xa0);
    identity self;
    self.admission = *admit(anchor, 1, key_from(1).public_key());
    const byte_view anchors[] = {anchor.public_key()};
    auto refused = ed_core::create(o, self, key_from(1), xoshiro256(1), anchors);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().is(core_errc::invalid_options));
  }
  o.dead_retention_ms = 600000;  // the crashed member stays dead, not reaped, in the check
  for (const std::size_t mtu : {smallest, std::size_t{209}}) {
    INFO("mtu " << mtu);
    o.mtu_bytes = mtu;
    // 8 members know each other; 4 more join through member 1 with push-pull.
    ed_cluster c(8, o, 31);
    for (std::size_t i = 8; i < 12; ++i) {
      const std::size_t j = c.add_core(o, 31);
      REQUIRE(c.cores[j].join(c.now, 1));
      c.drain(j);
    }
    std::size_t app_seen = 0;
    c.on_note = [&](std::size_t, const notification& n) {
      if (n.kind == notification_kind::app_message) ++app_seen;
    };
    // Newcomers' alive claims do not fit a datagram whole: they spread by push-pull.
    c.run_for(std::chrono::seconds(20));
    for (std::size_t i = 0; i < c.cores.size(); ++i) CHECK(c.cores[i].live_count() == 12);
    // Churn while an application message is queued: a member crashes and one refutes.
    const std::string app(payload_bytes, 'a');
    REQUIRE(c.cores[0].broadcast(as_bytes(app)));
    c.crashed[5] = true;
    c.paused[6] = true;
    c.run_for(std::chrono::seconds(3));
    c.paused[6] = false;
    c.run_for(std::chrono::seconds(60));
    CHECK(c.max_datagram_bytes <= mtu);
    for (std::size_t i = 0; i < c.cores.size(); ++i) {
      if (i == 5) continue;
      for (std::size_t j = 0; j < c.cores.size(); ++j) {
        const member_state want = j == 5 ? member_state::dead : member_state::alive;
        if (i != j && c.cores[i].state_of(j + 1) != want) FAIL_CHECK(i << " holds " << j);
      }
    }
    // Everyone but the origin, the crashed member and perhaps the paused one, while the
    // crash and the refutation churn the claim queues.
    CHECK(app_seen >= c.cores.size() - 3);
    const auto& origin = c.cores[0].stats();
    CHECK(origin.dead_verdicts + origin.suspicions_started > 0);
  }
}
TEST_CASE("Ed25519: app messages keep their share when one item outweighs the reserved part",
          "[swim][admission][crypto][fairness]") {
  // At 300 bytes a full Ed25519 alive claim (~190 bytes) leaves ~100 of a packet, less
  // than a signed 64-byte application message (~136): the 25% share of one packet (~73
  // bytes) cannot hold it, so the share is kept across packets instead.
  options o = swim_test::sim_options(40);
  o.mtu_bytes = 300;
  o.max_payload_bytes = 64;
  const std::string app(64, 'a');
  for (const std::uint32_t share : {25u, 0u}) {
    INFO("app_share_percent " << share);
    o.app_share_percent = share;
    ed_cluster c(2, o, 33);
    auto& k = c.cores[0];
    for (std::size_t i = 10; i < 30; ++i) {
      const member_claim newcomer = ed_core_maker{}(o, i, 1, 1, 0).self_claim();
      (void)k.step(c.now, 2, gossip_packet(2, {newcomer}));
    }
    c.drain(0);
    REQUIRE(k.broadcast_queue_size() >= 20);
    REQUIRE(k.broadcast(as_bytes(app)));
    std::size_t app_items = 0, claim_items = 0;
    k.tick(c.now + std::chrono::seconds(10));
    for (const outgoing& out : k.sends()) {
      if (out.via != channel::datagram) continue;
      CHECK(out.bytes.size() <= o.mtu_bytes);
      byte_reader r(out.bytes);
      packet_header h;
      auto n = decode_header(r, h, 255);
      REQUIRE(n);
      for (std::uint64_t i = 0; i < *n; ++i) {
        gossip_item item;
        REQUIRE(decode_item(r, item));
        if (item.kind == item_kind::app) ++app_items;
        if (item.kind == item_kind::alive) ++claim_items;
      }
    }
    k.clear_outputs();
    CHECK(claim_items > 0);
    if (share > 0) CHECK(app_items > 0);
    else CHECK(app_items == 0);  // starved: every packet went to claims first
  }
}
#else
TEST_CASE("Ed25519 admission", "[swim][admission][crypto]") {
  WARN("libsodium not found: the Ed25519 admission tests are skipped");
}
#endif
