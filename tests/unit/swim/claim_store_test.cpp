// The claim store (member claims kept once, refcounted) and the cores that share one.
#include <catch2/catch.hpp>

#include "swim_harness.hpp"

namespace {

weft::swim::member_claim store_test_claim(std::uint64_t subject, std::uint64_t incarnation) {
  weft::swim::member_claim c{};
  c.kind = weft::swim::item_kind::alive;
  c.subject = subject;
  c.from = subject;
  c.incarnation = incarnation;
  c.signature.size = 2;
  c.signature.bytes[0] = static_cast<std::uint8_t>(subject);
  c.signature.bytes[1] = static_cast<std::uint8_t>(incarnation);
  return c;
}

/// What a core's run left behind, compared between a shared and per-core stores.
struct store_run_outcome {
  std::vector<std::uint64_t> per_core;
  std::uint64_t datagrams = 0, datagram_bytes = 0, streams = 0, stream_bytes = 0;
  bool operator==(const store_run_outcome&) const = default;
};

store_run_outcome run_lossy_cluster(bool own_stores, std::uint64_t seed) {
  using namespace swim_test;
  const std::size_t n = 16;
  options o = sim_options(n);
  o.max_suspects = 2;  // some suspicions go untracked: that path must not differ either
  cluster c(n, o, seed, true, 0, test_core_maker{own_stores});
  c.loss = 0.1;
  c.run_for(5s);
  c.crashed[3] = true;
  c.paused[7] = true;
  c.run_for(4s);
  c.paused[7] = false;
  (void)c.cores[5].leave(c.now);
  c.run_for(30s);
  store_run_outcome out;
  for (const core& k : c.cores) {
    const counters& s = k.stats();
    for (std::uint64_t v : {s.datagrams_sent, s.datagram_bytes_sent, s.stream_bytes_sent,
                            s.suspicions_started, s.suspicions_untracked, s.confirmations,
                            s.refutations, s.dead_verdicts, s.duplicates, s.replays,
                            s.refused_by(swim_errc::member_table_full), k.incarnation(),
                            static_cast<std::uint64_t>(k.live_count())})
      out.per_core.push_back(v);
    for (std::size_t j = 0; j < n; ++j)
      out.per_core.push_back(static_cast<std::uint64_t>(k.state_of(j + 1)));
  }
  out.datagrams = c.datagrams;
  out.datagram_bytes = c.datagram_bytes;
  out.streams = c.streams;
  out.stream_bytes = c.stream_bytes;
  return out;
}

}  // namespace

TEST_CASE("claim store: equal claims are kept once and freed with their last reference",
          "[swim][claim_store]") {
  weft::swim::claim_store store(3);
  const auto a = store_test_claim(1, 1);
  const auto h1 = store.acquire(a);
  const auto h2 = store.acquire(a);
  REQUIRE(h1 != weft::swim::claim_store::none);
  CHECK(h1 == h2);
  CHECK(store.size() == 1);
  CHECK(store.references(h1) == 2);
  auto b = a;
  b.signature.bytes[1] ^= 0xff;  // same subject and incarnation, other content
  const auto hb = store.acquire(b);
  CHECK(hb != h1);
  CHECK(store.get(hb).signature.bytes[1] == b.signature.bytes[1]);
  CHECK(store.acquire(store_test_claim(2, 1)) != weft::swim::claim_store::none);
  CHECK(store.acquire(store_test_claim(3, 1)) == weft::swim::claim_store::none);  // full
  store.release(h1);
  CHECK(store.size() == 3);
  store.release(h2);
  CHECK(store.size() == 2);
  CHECK(store.acquire(store_test_claim(3, 1)) != weft::swim::claim_store::none);
  store.release(weft::swim::claim_store::none);  // ignored
  CHECK(store.size() == 3);
}

TEST_CASE("claim store: cores sharing one store behave as with their own stores",
          "[swim][claim_store]") {
  for (std::uint64_t seed : {3u, 17u}) {
    const store_run_outcome shared = run_lossy_cluster(false, seed);
    const store_run_outcome own = run_lossy_cluster(true, seed);
    CHECK(shared == own);
    CHECK(shared.datagrams > 0);
  }
}

TEST_CASE("claim store: a shared store holds each member's alive claim once",
          "[swim][claim_store]") {
  using namespace swim_test;
  const std::size_t n = 12;
  std::size_t held = 0;
  {
    cluster c(n, sim_options(n), 5);
    held = c.claim_pool->size();
    CHECK(held == n);  // n^2 table entries, n claims
    for (const core& k : c.cores) CHECK(k.member_count() == n);
    c.run_for(3s);
    c.cores.clear();  // the cores give their claims back
    CHECK(c.claim_pool->size() == 0);
  }
  CHECK(held > 0);
}

TEST_CASE("claim store: suspicions beyond max_suspects run at the longest timeout",
          "[swim][claim_store]") {
  using namespace swim_test;
  const std::size_t n = 12;
  options o = sim_options(n);
  o.max_suspects = 1;
  cluster c(n, o, 9);
  std::vector<std::size_t> failed_seen(n, 0);  // member_failed notifications per core
  c.on_note = [&](std::size_t i, const notification& note) {
    if (note.kind == notification_kind::member_failed) ++failed_seen[i];
  };
  c.run_for(3s);
  c.crashed[2] = c.crashed[4] = c.crashed[6] = true;
  c.run_for(120s);
  std::uint64_t untracked = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (c.crashed[i]) continue;
    untracked += c.cores[i].stats().suspicions_untracked;
    CHECK(failed_seen[i] == 3);  // each crash declared once, no live member declared
  }
  CHECK(untracked > 0);
}
