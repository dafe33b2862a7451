// Properties of the crypto layer's data structures: the replay window against a naive set
// model, the rate limiter against its budget invariants, Merkle proofs for random trees.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "weft/crypto/cose.hpp"
#include "weft/crypto/merkle.hpp"
#include "weft/crypto/rate_limiter.hpp"
#include "weft/crypto/replay_window.hpp"
#include "weft/crypto/sodium.hpp"

namespace wc = weft::crypto;

namespace {

/// The specification of a replay window, as plainly as possible.
template <std::size_t W>
struct naive_window {
  std::set<std::uint64_t> seen;
  bool accepts(std::uint64_t c) const {
    if (seen.count(c) != 0) return false;
    if (seen.empty()) return true;
    const std::uint64_t top = *seen.rbegin();
    return c > top || top - c < W;
  }
};

template <std::size_t W>
void replay_matches_model(const std::vector<std::pair<std::uint64_t, bool>>& steps) {
  wc::basic_replay_window<W> window;
  naive_window<W> model;
  for (const auto& [counter, authenticated] : steps) {
    const bool expected = model.accepts(counter);
    RC_ASSERT(window.check(counter).has_value() == expected);
    if (!authenticated) continue;  // a forgery: check() passed or not, commit never runs
    const auto committed = window.commit(counter);
    RC_ASSERT(committed.has_value() == expected);
    if (expected) model.seen.insert(counter);
    if (!expected) {
      RC_ASSERT((committed.error().is(wc::crypto_errc::replayed) ||
                 committed.error().is(wc::crypto_errc::too_old)));
    }
  }
}

/// Counters clustered around a moving point, so that in-window, stale and far-ahead
/// counters all occur.
rc::Gen<std::vector<std::pair<std::uint64_t, bool>>> replay_steps(std::uint64_t spread) {
  return rc::gen::container<std::vector<std::pair<std::uint64_t, bool>>>(rc::gen::pair(
      rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(0, spread),
                     rc::gen::inRange<std::uint64_t>(0, 4 * spread),
                     rc::gen::inRange<std::uint64_t>(0, 64 * spread)),
      rc::gen::weightedElement<bool>({{4, true}, {1, false}})));
}

}  // namespace

TEST_CASE("replay window behaves as the naive set model", "[crypto][replay][property]") {
  rc::prop("window 64", [] { replay_matches_model<64>(*replay_steps(200)); });
  rc::prop("window 256", [] { replay_matches_model<256>(*replay_steps(700)); });
  rc::prop("window 8128 (default)", [] { replay_matches_model<8128>(*replay_steps(20000)); });
}

TEST_CASE("replay window: forged messages never move the window", "[crypto][replay]") {
  wc::replay_window window;
  REQUIRE(window.commit(100).has_value());
  // A forgery with a huge counter passes check() but, unauthenticated, is never committed:
  CHECK(window.check(1'000'000).has_value());
  CHECK(window.check(50).has_value());  // still inside the window
  CHECK(window.check(100).error().is(wc::crypto_errc::replayed));
  REQUIRE(window.commit(100 + 8128).has_value());
  CHECK(window.check(100).error().is(wc::crypto_errc::too_old));
  CHECK(window.check(101).has_value());
  CHECK(window.check(100 + 8128).error().is(wc::crypto_errc::replayed));
  CHECK(window.commit(UINT64_MAX).has_value());
  CHECK(window.check(UINT64_MAX).error().is(wc::crypto_errc::replayed));
}

TEST_CASE("rate limiter never exceeds its budgets", "[crypto][rate][property]") {
  rc::prop("per-sender and global budgets, bounded table", [] {
    wc::rate_limit_options options;
    options.sender_tokens_per_second = *rc::gen::inRange<std::uint32_t>(1, 1000);
    options.sender_burst_tokens = *rc::gen::inRange<std::uint32_t>(1, 20);
    options.global_tokens_per_second = *rc::gen::inRange<std::uint32_t>(1, 5000);
    options.global_burst_tokens = *rc::gen::inRange<std::uint32_t>(1, 60);
    options.max_senders = *rc::gen::inRange<std::size_t>(1, 12);
    const auto start = weft::time_point_from_ns(1'000'000);
    auto limiter = wc::rate_limiter<std::uint64_t>::create(options, start);
    RC_ASSERT(limiter.has_value());
    const auto steps = *rc::gen::container<std::vector<std::pair<std::uint64_t, std::int64_t>>>(
        rc::gen::pair(rc::gen::inRange<std::uint64_t>(0, 20),
                      rc::gen::inRange<std::int64_t>(0, 5'000'000)));
    const std::uint64_t sender_interval = 1'000'000'000ull / options.sender_tokens_per_second;
    const std::uint64_t global_interval = 1'000'000'000ull / options.global_tokens_per_second;
    std::map<std::uint64_t, std::uint64_t> allowed;
    std::map<std::uint64_t, std::int64_t> first_seen;
    std::uint64_t total = 0;
    auto now = start;
    for (const auto& [sender, advance_ns] : steps) {
      now += weft::nanoseconds(advance_ns);
      first_seen.try_emplace(sender, weft::to_ns(now));
      const auto verdict = limiter->allow(sender, now);
      RC_ASSERT(limiter->senders() <= options.max_senders);
      if (!verdict) {
        RC_ASSERT((verdict.error().is(wc::crypto_errc::rate_limited) ||
                   verdict.error().is(wc::crypto_errc::sender_table_full)));
        continue;
      }
      ++total;
      ++allowed[sender];
      // A sender's grants never exceed its burst plus what the elapsed time refilled,
      // even across evictions (only full buckets are evicted).
      const auto elapsed = static_cast<std::uint64_t>(weft::to_ns(now) - first_seen[sender]);
      RC_ASSERT(allowed[sender] <= options.sender_burst_tokens + elapsed / sender_interval);
      const auto global_elapsed = static_cast<std::uint64_t>(weft::to_ns(now - start));
      RC_ASSERT(total <= options.global_burst_tokens + global_elapsed / global_interval);
    }
    const auto& c = limiter->counters();
    RC_ASSERT(c.allowed == total);
    RC_ASSERT(c.allowed + c.refused_sender + c.refused_global + c.refused_table_full ==
              steps.size());
  });
}

TEST_CASE("rate limiter: an idle sender regains a full burst; a full table refuses",
          "[crypto][rate]") {
  wc::rate_limit_options options;
  options.sender_tokens_per_second = 10;
  options.sender_burst_tokens = 3;
  options.max_senders = 2;
  auto t = weft::time_point_from_ns(0);
  auto limiter = wc::rate_limiter<std::uint64_t>::create(options, t);
  REQUIRE(limiter.has_value());
  for (int i = 0; i < 3; ++i) CHECK(limiter->allow(7, t).has_value());
  CHECK(limiter->allow(7, t).error().is(wc::crypto_errc::rate_limited));
  CHECK(limiter->allow(8, t).has_value());
  // Table full of busy senders: a third is refused, visibly.
  CHECK(limiter->allow(9, t).error().is(wc::crypto_errc::sender_table_full));
  CHECK(limiter->counters().refused_table_full == 1);
  t += weft::milliseconds(300);  // 3 tokens at 10/s: both buckets full again
  for (int i = 0; i < 3; ++i) CHECK(limiter->allow(7, t).has_value());
  CHECK(limiter->allow(9, t).has_value());  // 8 was idle and full: evicted for 9
  CHECK(limiter->counters().evicted_idle == 1);
  CHECK(limiter->senders() == 2);
  options.max_senders = 0;
  CHECK(wc::rate_limiter<std::uint64_t>::create(options, t).error().is(
      weft::core_errc::invalid_options));
}

TEST_CASE("merkle proofs verify for random trees and fail when mutated",
          "[crypto][merkle][property]") {
  using sha = wc::libsodium::sha256;
  using digest = wc::merkle_digest<sha>;
  rc::prop("inclusion and consistency", [] {
    const auto size = *rc::gen::inRange<std::uint64_t>(1, 300);
    const auto index = *rc::gen::inRange<std::uint64_t>(0, size);
    const auto old_size = *rc::gen::inRange<std::uint64_t>(1, size + 1);
    auto tree = wc::merkle_tree<sha>::create({.max_leaves = size});
    RC_ASSERT(tree.has_value());
    for (std::uint64_t i = 0; i < size; ++i) {
      const std::uint8_t leaf[8] = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
      RC_ASSERT(tree->append(leaf).has_value());
    }
    const digest root = tree->root();
    auto proof = tree->inclusion_proof(index, size);
    RC_ASSERT(proof.has_value());
    std::span<const digest> p(proof->begin(), proof->size());
    RC_ASSERT(wc::verify_inclusion<sha>(index, size, tree->leaf_hash(index), p, root).has_value());
    if ((index ^ 1) < size)  // the sibling position swaps the first hash's order
      RC_ASSERT(!wc::verify_inclusion<sha>(index ^ 1, size, tree->leaf_hash(index), p, root)
                     .has_value());
    if (!proof->empty()) {
      auto mutated = *proof;
      const auto at = *rc::gen::inRange<std::size_t>(0, mutated.size());
      mutated[at][*rc::gen::inRange<std::size_t>(0, 32)] ^= 0x80;
      std::span<const digest> m(mutated.begin(), mutated.size());
      RC_ASSERT(!wc::verify_inclusion<sha>(index, size, tree->leaf_hash(index), m, root)
                     .has_value());
    }
    const digest old_root = *tree->root_at(old_size);
    auto consistency = tree->consistency_proof(old_size, size);
    RC_ASSERT(consistency.has_value());
    std::span<const digest> c(consistency->begin(), consistency->size());
    RC_ASSERT(wc::verify_consistency<sha>(old_size, size, old_root, root, c).has_value());
    if (old_size < size)
      RC_ASSERT(!wc::verify_consistency<sha>(old_size, size, root, root, c).has_value());
  });
}

TEST_CASE("cose fast path accepts only what the strict decoder accepts, identically",
          "[crypto][cose][property]") {
  namespace cose = wc::cose;
  using ed = wc::libsodium::ed25519;
  using chacha = wc::libsodium::chacha20poly1305_ietf;
  static const auto sk = [] {
    std::array<std::uint8_t, 32> seed{};
    seed[3] = 9;
    return ed::secret_key_from_seed(seed);
  }();
  static const chacha::key key{};
  auto same_bytes = [](weft::byte_view a, weft::byte_view b) {
    return a.data() == b.data() && a.size() == b.size();
  };
  rc::prop("sign1 and encrypt0, with mutations", [&] {
    const auto payload = *rc::gen::container<std::vector<std::uint8_t>>(
        *rc::gen::inRange<std::size_t>(0, 400), rc::gen::arbitrary<std::uint8_t>());
    const auto kid = *rc::gen::container<std::vector<std::uint8_t>>(
        *rc::gen::inRange<std::size_t>(0, 40), rc::gen::arbitrary<std::uint8_t>());
    const bool with_kid = *rc::gen::arbitrary<bool>();
    const bool tagged = *rc::gen::arbitrary<bool>();
    cose::encode_options options;
    if (with_kid) options.kid = weft::byte_view(kid);
    options.tagged = tagged;
    std::vector<std::uint8_t> out(payload.size() + 200), scratch(payload.size() + 200);
    const bool sign = *rc::gen::arbitrary<bool>();
    std::array<std::uint8_t, 12> iv{};
    auto made = sign ? cose::sign1<ed>(sk, payload, options, out, scratch)
                     : cose::encrypt0<chacha>(key, iv, payload, options, out);
    RC_ASSERT(made.has_value());
    std::vector<std::uint8_t> message(made->begin(), made->end());
    const auto mutations = *rc::gen::inRange<int>(0, 3);
    for (int m = 0; m < mutations; ++m) {
      const auto at = *rc::gen::inRange<std::size_t>(0, message.size());
      message[at] = *rc::gen::arbitrary<std::uint8_t>();
    }
    if (*rc::gen::inRange<int>(0, 8) == 0) message.resize(*rc::gen::inRange<std::size_t>(0, message.size()));
    cose::decode_options strictness;
    strictness.tag = *rc::gen::element(cose::tag_policy::optional, cose::tag_policy::required,
                                       cose::tag_policy::forbidden);
    if (sign) {
      const auto fast = cose::detail::fast_sign1<cose::alg_eddsa>(message, strictness);
      const auto full = cose::decode_sign1(message, strictness);
      if (mutations == 0 && message.size() == made->size() &&
          (strictness.tag == cose::tag_policy::optional ||
           (strictness.tag == cose::tag_policy::required) == tagged))
        RC_ASSERT(fast.has_value());
      if (fast) {
        RC_ASSERT(full.has_value());
        RC_ASSERT(same_bytes(fast->protected_bytes, full->protected_bytes));
        RC_ASSERT(same_bytes(fast->payload, full->payload));
        RC_ASSERT(same_bytes(fast->signature, full->signature));
        RC_ASSERT(fast->header.alg == full->header.alg);
        RC_ASSERT(fast->header.kid.has_value() == full->header.kid.has_value());
        if (fast->header.kid) RC_ASSERT(same_bytes(*fast->header.kid, *full->header.kid));
        RC_ASSERT(!full->header.iv && !full->header.partial_iv && !full->header.alg_is_text);
        RC_ASSERT(!full->header.content_format && !full->header.content_type);
      }
    } else {
      const auto fast = cose::detail::fast_encrypt0<cose::alg_chacha20_poly1305, 12>(message, strictness);
      const auto full = cose::decode_encrypt0(message, strictness);
      if (mutations == 0 && message.size() == made->size() &&
          (strictness.tag == cose::tag_policy::optional ||
           (strictness.tag == cose::tag_policy::required) == tagged))
        RC_ASSERT(fast.has_value());
      if (fast) {
        RC_ASSERT(full.has_value());
        RC_ASSERT(same_bytes(fast->protected_bytes, full->protected_bytes));
        RC_ASSERT(same_bytes(fast->ciphertext, full->ciphertext));
        RC_ASSERT(fast->header.alg == full->header.alg);
        RC_ASSERT(full->header.iv.has_value());
        RC_ASSERT(same_bytes(*fast->header.iv, *full->header.iv));
        RC_ASSERT(fast->header.kid.has_value() == full->header.kid.has_value());
        if (fast->header.kid) RC_ASSERT(same_bytes(*fast->header.kid, *full->header.kid));
        RC_ASSERT(!full->header.partial_iv && !full->header.alg_is_text);
      }
    }
  });
}
