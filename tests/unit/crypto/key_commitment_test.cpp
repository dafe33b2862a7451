// Key commitment: signed tree heads, member inclusion, head consistency, and tampering.
#include "test_support.hpp"

#include "weft/crypto/key_commitment.hpp"
#include "weft/crypto/sodium.hpp"

namespace wc = weft::crypto;
namespace ls = weft::crypto::libsodium;
using ed = ls::ed25519;
using sha = ls::sha256;
using registry = wc::member_registry<ed, sha>;
using E = wc::crypto_errc;

namespace {
weft::time_point at(std::int64_t s) { return weft::time_point_from_ns(s * 1'000'000'000); }
template <class P>
std::span<const wc::merkle_digest<sha>> view(const P& p) {
  return {p.begin(), p.size()};
}
}  // namespace

TEST_CASE("member ids are the hash of the public key", "[crypto][commitment]") {
  ls::random_source random;
  const auto pk = ed::public_key_of(wc::generate_signing_key<ed>(random));
  CHECK(wc::member_id<sha>(pk) == sha::digest(pk));
}

TEST_CASE("signed tree heads commit member keys; proofs and tampering", "[crypto][commitment]") {
  ls::random_source random;
  const auto admin = wc::generate_signing_key<ed>(random);
  const auto admin_pk = ed::public_key_of(admin);
  std::vector<ed::public_key> members;
  auto reg = registry::create({.max_leaves = 64});
  REQUIRE(reg.has_value());
  for (int i = 0; i < 5; ++i) {
    members.push_back(ed::public_key_of(wc::generate_signing_key<ed>(random)));
    REQUIRE(*reg->add(members.back()) == static_cast<std::uint64_t>(i));
  }
  std::array<std::uint8_t, wc::max_signed_tree_head_size_bytes> out1{}, out2{}, scratch{};
  const auto head1 = reg->head(at(100));
  auto signed1 = wc::sign_tree_head<ed, sha>(admin, head1, out1, scratch);
  REQUIRE(signed1.has_value());
  auto decoded = wc::cose::decode_sign1(*signed1);
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->header.kid.has_value());
  CHECK(weft::equal_bytes(*decoded->header.kid, wc::member_id<sha>(admin_pk)));

  auto verified1 = wc::verify_tree_head<ed, sha>(admin_pk, *signed1, scratch);
  REQUIRE(verified1.has_value());
  CHECK(*verified1 == head1);
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto proof = reg->prove_member(i, 5);
    REQUIRE(proof.has_value());
    CHECK(wc::verify_member<sha>(*verified1, members[i], i, view(*proof)).has_value());
    // Somebody else's key at this position does not verify.
    CHECK_FALSE(wc::verify_member<sha>(*verified1, members[(i + 1) % 5], i, view(*proof)).has_value());
  }

  // The set grows; the new head proves it extends the old one.
  for (int i = 0; i < 4; ++i)
    REQUIRE(reg->add(ed::public_key_of(wc::generate_signing_key<ed>(random))).has_value());
  const auto head2 = reg->head(at(200));
  auto signed2 = wc::sign_tree_head<ed, sha>(admin, head2, out2, scratch);
  REQUIRE(signed2.has_value());
  auto verified2 = wc::verify_tree_head<ed, sha>(admin_pk, *signed2, scratch);
  REQUIRE(verified2.has_value());
  auto extends = reg->prove_extends(5, 9);
  REQUIRE(extends.has_value());
  CHECK(wc::verify_extends<sha>(*verified1, *verified2, view(*extends)).has_value());
  CHECK(wc::verify_extends<sha>(*verified2, *verified1, view(*extends)).error().is(
      E::head_not_consistent));
  // A forked history (a member rewritten) is not consistent with the old head.
  auto forked = registry::create({.max_leaves = 64});
  REQUIRE(forked.has_value());
  for (int i = 0; i < 9; ++i)
    REQUIRE(forked->add(i == 2 ? admin_pk : (i < 5 ? members[static_cast<std::size_t>(i)]
                                                   : members[0])).has_value());
  const auto fork_head = forked->head(at(300));
  auto fork_proof = forked->prove_extends(5, 9);
  REQUIRE(fork_proof.has_value());
  CHECK(wc::verify_extends<sha>(*verified1, fork_head, view(*fork_proof)).error().is(
      E::head_not_consistent));

  // Tampering with a signed head, or another admin key, is refused.
  std::vector<std::uint8_t> tampered(signed1->begin(), signed1->end());
  tampered[tampered.size() - 70] ^= 1;  // inside the payload
  CHECK_FALSE(wc::verify_tree_head<ed, sha>(admin_pk, tampered, scratch).has_value());
  const auto other = ed::public_key_of(wc::generate_signing_key<ed>(random));
  CHECK(wc::verify_tree_head<ed, sha>(other, *signed1, scratch).error().is(E::bad_signature));
  // A plain COSE_Sign1 by the admin over the same payload (without the tree-head context)
  // does not pass as a tree head.
  std::array<std::uint8_t, 128> payload_buffer{};
  auto payload = weft::wire::encode(head1, weft::mutable_byte_view(payload_buffer));
  REQUIRE(payload.has_value());
  auto plain = wc::cose::sign1<ed>(admin, *payload, {}, out2, scratch);
  REQUIRE(plain.has_value());
  CHECK(wc::verify_tree_head<ed, sha>(admin_pk, *plain, scratch).error().is(E::bad_signature));
  // A correctly signed payload that is not a tree head map is a format error.
  wc::cose::encode_options context;
  context.external_aad = weft::as_bytes(wc::tree_head_context);
  auto junk = wc::cose::sign1<ed>(admin, crypto_test::hex("a10101"), context, out2, scratch);
  REQUIRE(junk.has_value());
  CHECK(wc::verify_tree_head<ed, sha>(admin_pk, *junk, scratch).error().is(E::head_bad_format));
}
