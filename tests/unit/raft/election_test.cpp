// tests/unit/raft/election_test.cpp - leader election rules (Raft §5.2, §5.4.1, §9.6
// pre-vote, §6.2 check-quorum) against the pure core.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

TEST_CASE("raft election: a single member elects itself after its timeout", "[raft][election]") {
  cluster c(1, 7);
  CHECK(c.leader() == 0);
  const node_id l = c.elect();
  REQUIRE(l == 1);
  CHECK(c.node(1).term() == 1);
  // its empty entry of the new term commits at once
  c.settle();
  CHECK(c.node(1).commit_index() == 1);
}

TEST_CASE("raft election: randomized timeouts come from the injected random source",
          "[raft][election]") {
  // Same seed: same first campaign tick; another seed: (almost surely) another schedule.
  auto first_campaign_tick = [](std::uint64_t seed) {
    auto created = core::create(default_options(1), weft::xoshiro256(seed));
    REQUIRE(created.has_value());
    core n = std::move(*created);
    REQUIRE(n.bootstrap(voters({1, 2, 3})).has_value());
    for (int t = 1; t <= 100; ++t) {
      n.tick();
      if (n.current_role() != role::follower) return t;
    }
    return 0;
  };
  const int a = first_campaign_tick(1);
  CHECK(a >= 10);
  CHECK(a <= 20);
  CHECK(first_campaign_tick(1) == a);
  bool differs = false;
  for (std::uint64_t seed = 2; seed < 40; ++seed) differs |= first_campaign_tick(seed) != a;
  CHECK(differs);
}

TEST_CASE("raft election safety: at most one leader per term across many seeds",
          "[raft][election]") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    cluster c(5, seed);
    c.reorder = true;
    c.loss = 0.1;
    for (int round = 0; round < 200; ++round) {
      c.tick_all();
      for (int i = 0; i < 20 && c.deliver_one(); ++i) {}
    }
    INFO("seed " << seed);
    REQUIRE(c.violations.empty());
  }
}

TEST_CASE("raft election restriction: a voter refuses a candidate with an older log",
          "[raft][election]") {
  cluster c(3, 11);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  // isolate one follower, commit entries without it
  const node_id lagging = l == 3 ? 2 : 3;
  c.crash(lagging);
  for (int i = 0; i < 3; ++i) REQUIRE(c.node(l).propose(bytes_of("x")).has_value());
  c.settle();
  c.restart(lagging);
  core& lag = c.node(lagging);
  // the lagging member campaigns with a stale log: both others must refuse
  message vote;
  vote.type = message_type::vote;
  vote.from = lagging;
  vote.term = c.node(l).term() + 1;
  vote.log_index = lag.last_index();
  vote.log_term = lag.log().last_term();
  const node_id other = 6 - l - lagging;
  vote.to = other;
  core& voter = c.node(other);
  // it has not heard from the leader recently in this test: advance its timer past the lease
  for (int t = 0; t < 25; ++t) voter.tick();
  (void)voter.ready();
  voter.advance();
  voter.step(vote);
  ready_batch rb = voter.ready();
  bool rejected = false;
  for (const message& m : rb.send_after_persist)
    if (m.type == message_type::vote_response && m.to == lagging) rejected = m.reject;
  voter.advance();
  CHECK(rejected);
  CHECK(voter.vote() != lagging);
}

TEST_CASE("raft pre-vote: a partitioned member does not inflate its term", "[raft][prevote]") {
  cluster c(3, 5);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  const term_t term = c.node(l).term();
  const node_id isolated = l == 1 ? 2 : 1;
  c.cut[{0, isolated}] = true;
  c.cut[{isolated, 0}] = true;
  for (int i = 0; i < 200; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.node(isolated).term() == term);  // pre-votes failed: no term bump
  CHECK(c.node(isolated).stats().pre_votes_started > 0);
  CHECK(c.node(isolated).stats().elections_started == 0);
  c.cut.clear();
  for (int i = 0; i < 50; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.leader() == l);  // rejoining did not disrupt the leader
  CHECK(c.node(l).term() == term);
  CHECK(c.violations.empty());
}

TEST_CASE("raft without pre-vote: a partitioned member bumps its term", "[raft][prevote]") {
  cluster c(3, 5, [](node_id id) {
    options o = default_options(id);
    o.pre_vote = false;
    return o;
  });
  const node_id l = c.elect();
  REQUIRE(l != 0);
  const term_t term = c.node(l).term();
  const node_id isolated = l == 1 ? 2 : 1;
  c.cut[{0, isolated}] = true;
  c.cut[{isolated, 0}] = true;
  for (int i = 0; i < 100; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.node(isolated).term() > term);  // the contrast that makes the pre-vote test meaningful
}

TEST_CASE("raft check-quorum: a leader that cannot reach a quorum steps down",
          "[raft][checkquorum]") {
  cluster c(3, 9);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.cut[{0, l}] = true;
  c.cut[{l, 0}] = true;
  for (int i = 0; i < 30; ++i) {
    c.tick_all();
    c.settle();
  }
  CHECK(c.node(l).current_role() == role::follower);
  CHECK(c.node(l).stats().check_quorum_step_downs == 1);
  // the majority side elected a new leader in a later term
  const node_id other = c.leader();
  CHECK(other != 0);
  CHECK(other != l);
  CHECK(c.violations.empty());
}

TEST_CASE("raft check-quorum lease: followers ignore vote requests while the leader is alive",
          "[raft][checkquorum]") {
  cluster c(3, 13);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  const node_id f = l == 1 ? 2 : 1;
  message vote;
  vote.type = message_type::vote;
  vote.from = 6 - l - f;
  vote.to = f;
  vote.term = c.node(f).term() + 5;
  vote.log_index = 1000;
  vote.log_term = 1000;
  c.node(f).step(vote);
  CHECK(c.node(f).term() == c.node(l).term());  // ignored: no term change, no vote
  CHECK(c.node(f).vote() != vote.from);
  vote.transfer = true;  // ... unless the leader itself asked for it (TimeoutNow)
  c.node(f).step(vote);
  CHECK(c.node(f).term() == vote.term);
  CHECK(c.node(f).vote() == vote.from);
}
