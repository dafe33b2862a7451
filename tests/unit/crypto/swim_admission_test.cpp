// SWIM admission with Ed25519 statements from an admin key (swim/sodium_admission.hpp):
// issued statements admit into a real SWIM core; forged, wrong-key, stale and revoked ones
// are refused with typed errors.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "weft/membership/swim/sodium_admission.hpp"

using namespace weft;
using namespace weft::swim;

namespace {

using ed = crypto::libsodium::ed25519;
using ed_core = basic_core<ed25519_admission_scheme>;

ed::secret_key key_from(std::uint8_t tag) {
  std::array<std::uint8_t, ed::seed_size> seed{};
  seed.fill(tag);
  return ed::secret_key_from_seed(seed);
}

struct issued {
  std::array<std::uint8_t, max_signed_admission_bytes> bytes{};
  std::size_t size = 0;
  [[nodiscard]] byte_view view() const { return byte_view(bytes).first(size); }
};

issued issue(const admission_authority& admin, node_id subject, byte_view member_key,
             std::uint64_t epoch) {
  issued out;
  std::array<std::uint8_t, max_signed_admission_bytes> scratch{};
  auto r = admin.issue(subject, member_key, epoch, out.bytes, scratch);
  REQUIRE(r);
  out.size = r->size();
  return out;
}

admission_gate make_gate(byte_view admin_public_key, std::size_t max_members = 16) {
  auto gate = admission_gate::create({.max_members = max_members}, admin_public_key);
  REQUIRE(gate);
  return std::move(*gate);
}

/// A SWIM core for the member the gate admitted, anchored on the admin key.
ed_core member_core(const admitted_member& m, std::uint8_t key_tag, byte_view anchor) {
  identity self;
  self.id = m.subject;
  self.addr = static_cast<address>(m.subject);
  m.apply_to(self);
  const byte_view anchors[] = {anchor};
  options o;
  o.mtu_bytes = 244;
  o.max_payload_bytes = 64;
  auto c = ed_core::create(o, self, ed25519_admission_scheme(key_from(key_tag)), xoshiro256(m.subject),
                           anchors);
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_CASE("admission statements admit members into SWIM", "[crypto][swim][admission]") {
  const admission_authority admin(key_from(0xa0));
  const auto key1 = ed::public_key_of(key_from(1));
  const auto key2 = ed::public_key_of(key_from(2));
  admission_gate gate = make_gate(admin.public_key());

  auto m1 = gate.accept(issue(admin, 1, key1, 1).view());
  auto m2 = gate.accept(issue(admin, 2, key2, 1).view());
  REQUIRE(m1);
  REQUIRE(m2);
  CHECK(m1->subject == 1);
  CHECK(m1->member_key == key1);
  CHECK(m1->epoch == 1);
  CHECK(gate.members_seen() == 2);

  ed_core a = member_core(*m1, 1, admin.public_key());
  ed_core b = member_core(*m2, 2, admin.public_key());
  const time_point now{};
  REQUIRE(a.bootstrap(now));
  REQUIRE(a.add_member(now, b.self_claim()));
  CHECK(a.state_of(2) == member_state::alive);

  // The same newest statement again is a rejoin, not an attack.
  CHECK(gate.accept(issue(admin, 1, key1, 1).view()));
}

TEST_CASE("forged and wrongly signed statements are refused", "[crypto][swim][admission]") {
  const admission_authority admin(key_from(0xa0));
  const admission_authority rogue(key_from(0xee));
  const auto key1 = ed::public_key_of(key_from(1));
  admission_gate gate = make_gate(admin.public_key());

  // Signed by another admin key.
  CHECK(gate.accept(issue(rogue, 1, key1, 1).view()).error().is(swim_errc::bad_signature));

  // Any flipped bit: the signature or the strict decoder refuses it, never an admission.
  const issued good = issue(admin, 1, key1, 1);
  for (std::size_t i = 0; i < good.size; ++i) {
    issued forged = good;
    forged.bytes[i] ^= 0x01;
    auto r = gate.accept(forged.view());
    REQUIRE_FALSE(r);
    CHECK((r.error().is(swim_errc::bad_signature) || r.error().is(swim_errc::malformed_message)));
  }
  CHECK(gate.accept(good.view()));
  CHECK(gate.members_seen() == 1);

  // Truncated and empty input.
  CHECK(gate.accept(good.view().first(good.size - 1)).error().is(swim_errc::malformed_message));
  CHECK(gate.accept({}).error().is(swim_errc::malformed_message));

  // A member's own key cannot admit it: the gate only trusts the admin key.
  const admission_authority self_signed(key_from(1));
  CHECK(gate.accept(issue(self_signed, 1, key1, 9).view()).error().is(swim_errc::bad_signature));
}

TEST_CASE("stale and revoked statements are refused", "[crypto][swim][admission]") {
  const admission_authority admin(key_from(0xa0));
  const auto old_key = ed::public_key_of(key_from(1));
  const auto new_key = ed::public_key_of(key_from(11));
  admission_gate gate = make_gate(admin.public_key());

  const issued old_statement = issue(admin, 1, old_key, 1);
  REQUIRE(gate.accept(old_statement.view()));
  // Key rotation: a higher epoch for the same subject supersedes the old statement.
  auto rotated = gate.accept(issue(admin, 1, new_key, 2).view());
  REQUIRE(rotated);
  CHECK(rotated->member_key == new_key);
  CHECK(gate.accept(old_statement.view()).error().is(swim_errc::stale_incarnation));

  // Two keys at one epoch: the admin equivocated or its key leaked; neither wins silently.
  CHECK(gate.accept(issue(admin, 1, old_key, 2).view()).error().is(swim_errc::not_admitted));

  // Revocation floor: every epoch below it is refused, also for subjects never seen.
  gate.revoke_below(5);
  CHECK(gate.revocation_floor() == 5);
  CHECK(gate.accept(issue(admin, 7, old_key, 4).view()).error().is(swim_errc::not_admitted));
  CHECK(gate.accept(issue(admin, 7, old_key, 5).view()));
  gate.revoke_below(3);  // the floor never goes down
  CHECK(gate.revocation_floor() == 5);
}

TEST_CASE("the admission gate is bounded and validates its inputs", "[crypto][swim][admission]") {
  const admission_authority admin(key_from(0xa0));
  const auto key = ed::public_key_of(key_from(1));
  admission_gate gate = make_gate(admin.public_key(), 2);
  REQUIRE(gate.accept(issue(admin, 1, key, 1).view()));
  REQUIRE(gate.accept(issue(admin, 2, key, 1).view()));
  CHECK(gate.accept(issue(admin, 3, key, 1).view()).error().is(swim_errc::member_table_full));
  CHECK(gate.accept(issue(admin, 2, key, 3).view()));  // known subjects still update

  CHECK_FALSE(admission_gate::create({.max_members = 0}, admin.public_key()));
  CHECK_FALSE(admission_gate::create({}, admin.public_key().first(31)));

  std::array<std::uint8_t, max_signed_admission_bytes> out{}, scratch{};
  CHECK(admin.issue(0, key, 1, out, scratch).error().is(swim_errc::malformed_message));
  CHECK(admin.issue(anchor_id_base, key, 1, out, scratch).error().is(swim_errc::malformed_message));
  CHECK(admin.issue(1, byte_view(key).first(31), 1, out, scratch)
            .error()
            .is(swim_errc::malformed_message));
  std::array<std::uint8_t, 16> tiny{};
  CHECK(admin.issue(1, key, 1, tiny, scratch).error().is(swim_errc::message_too_large));
}
