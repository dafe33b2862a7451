// Admission through the real crypto concept: Ed25519 from the libsodium backend.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

#include "weft/membership/swim/swim.hpp"

#if __has_include(<sodium.h>)
#include "weft/crypto/sodium.hpp"
#define WEFT_SWIM_HAVE_SODIUM 1
#endif

using namespace weft;
using namespace weft::swim;

#ifdef WEFT_SWIM_HAVE_SODIUM
namespace {
using ed = crypto::libsodium::ed25519;
using ed_scheme = crypto_admission_scheme<ed>;
using ed_core = basic_core<ed_scheme>;
static_assert(admission_scheme<ed_scheme>);

ed_scheme key_from(std::uint8_t tag) {
  std::array<std::uint8_t, ed::seed_size> seed{};
  seed.fill(tag);
  return ed_scheme(ed::secret_key_from_seed(seed));
}

ed_core make(const ed_scheme& anchor, node_id id, std::uint8_t tag, options o) {
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
}  // namespace

TEST_CASE("Ed25519 admission: admitted members join, forged ones do not",
          "[swim][admission][crypto]") {
  options o;
  o.mtu_bytes = 244;  // Ed25519 claims (~200 bytes) still fit one per packet
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
#else
TEST_CASE("Ed25519 admission", "[swim][admission][crypto]") {
  WARN("libsodium not found: the Ed25519 admission test is skipped");
}
#endif
