// tests/unit/raft/features_test.cpp - ReadIndex and lease reads, leadership transfer,
// membership changes (single-server, joint, learners, witnesses, removal of the leader),
// snapshots with chunked streaming, proposal forwarding and unsafe recovery.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

namespace {
void run(cluster& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    c.tick_all();
    c.settle();
  }
}
node_id follower_of(cluster& c, node_id leader) {
  for (auto& [id, e] : c.nodes())
    if (id != leader && e->up && e->c->config().is_voter(id)) return id;
  return 0;
}
}  // namespace

TEST_CASE("raft ReadIndex: a read is answered only after a quorum confirms leadership",
          "[raft][read]") {
  cluster c(3, 31);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  core& leader = c.node(l);
  REQUIRE(leader.propose(bytes_of("w")).has_value());
  c.settle();
  const index_t commit = leader.commit_index();
  // cut the leader off: its read must not be answered
  c.cut[{0, l}] = true;
  REQUIRE(leader.read_index(42).has_value());
  c.settle();
  CHECK(c.env(l).reads.empty());
  c.cut.clear();
  REQUIRE(leader.read_index(43).has_value());
  c.settle();
  // the heartbeat round of read 43 confirms 42 too (FIFO), both at the commit index
  REQUIRE(c.env(l).reads.size() == 2);
  CHECK(c.env(l).reads[0].context == 42);
  CHECK(c.env(l).reads[1].context == 43);
  CHECK(c.env(l).reads[1].index == commit);
  // a follower asks the leader (follower_reads, on in these tests); a member that knows no
  // leader refuses with a typed error
  CHECK(c.node(follower_of(c, l)).read_index(1).has_value());
  c.crash(l);
  run(c, 1);
  const node_id f = follower_of(c, l);
  for (int t = 0; t < 40 && c.node(f).leader() != 0; ++t) c.node(f).tick();
  if (c.node(f).leader() == 0) CHECK(c.node(f).read_index(2).error() == raft_errc::not_leader);
}

TEST_CASE("raft follower ReadIndex: answered after the follower applied the leader's commit",
          "[raft][read]") {
  cluster c(3, 37);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  const node_id f = follower_of(c, l);
  REQUIRE(c.node(l).propose(bytes_of("w1")).has_value());
  // the follower has not heard of w1's commit yet; its read must still cover w1
  c.process(l);
  const index_t w1 = c.node(l).last_index();
  while (c.node(l).commit_index() < w1 && c.deliver_one()) {}
  REQUIRE(c.node(l).commit_index() >= w1);
  REQUIRE(c.node(f).read_index(7).has_value());
  c.settle();
  REQUIRE(c.env(f).reads.size() == 1);
  CHECK(c.env(f).reads[0].context == 7);
  CHECK(!c.env(f).reads[0].refused);
  CHECK(c.env(f).reads[0].index >= w1);
  CHECK(c.env(f).applied_at_read[0] >= c.env(f).reads[0].index);
  // cut off from the leader: the read expires as refused, never answered stale
  c.cut[{f, l}] = true;
  REQUIRE(c.node(f).read_index(8).has_value());
  for (int t = 0; t < 12; ++t) c.node(f).tick();
  c.process(f);
  REQUIRE(c.env(f).reads.size() == 2);
  CHECK(c.env(f).reads[1].context == 8);
  CHECK(c.env(f).reads[1].refused);
  CHECK(c.node(f).stats().follower_reads_refused == 1);
  // disabled by option: not_leader
  options o = default_options(9);
  o.follower_reads = false;
  auto solo = core::create(o, weft::xoshiro256(9));
  REQUIRE(solo.has_value());
  CHECK(solo->read_index(1).error() == raft_errc::not_bootstrapped);
  CHECK(c.violations.empty());
}

TEST_CASE("raft follower ReadIndex: never older than a write committed before the read began",
          "[raft][read][swarm]") {
  std::size_t served = 0;
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    cluster c(3, 5000 + seed);
    c.loss = 0.05;
    c.reorder = true;
    c.duplicate = 0.02;
    REQUIRE(c.elect() != 0);
    std::map<std::uint64_t, index_t> required;  // context -> commit known anywhere at start
    std::uint64_t context = 0;
    for (int step = 0; step < 400; ++step) {
      const std::uint64_t dice = weft::uniform_below(c.random(), 100);
      const node_id l = c.leader();
      if (dice < 30 && l != 0) {
        (void)c.node(l).propose(bytes_of("w"));
      } else if (dice < 55) {
        const node_id reader = 1 + weft::uniform_below(c.random(), 3);
        index_t known = 0;
        for (auto& [id, e] : c.nodes()) known = std::max(known, e->c->commit_index());
        if (c.env(reader).up && c.node(reader).current_role() != role::leader &&
            c.node(reader).read_index(++context).has_value())
          required[context] = known;
      } else if (dice < 57 && l != 0) {
        c.crash(l);
        c.restart(l);
      } else if (dice < 75) {
        c.tick_all();
      } else {
        for (int i = 0; i < 8 && c.deliver_one(); ++i) {}
      }
    }
    c.settle();
    for (auto& [id, e] : c.nodes()) {
      for (std::size_t i = 0; i < e->reads.size(); ++i) {
        const read_state& r = e->reads[i];
        const auto it = required.find(r.context);
        if (it == required.end() || r.refused) continue;  // a leader's own read, or refused
        ++served;
        INFO("seed " << 5000 + seed << " node " << id << " context " << r.context);
        CHECK(r.index >= it->second);
        CHECK(e->applied_at_read[i] >= r.index);
      }
    }
    INFO("seed " << 5000 + seed);
    CHECK(c.violations.empty());
  }
  CHECK(served > 50);  // the scenario really exercises follower reads
}

TEST_CASE("raft ReadIndex: refused until the leader commits an entry of its term",
          "[raft][read]") {
  cluster c(3, 37);
  c.drop_if = [](const message& m) { return m.type == message_type::append_response; };
  const node_id l = c.elect();
  REQUIRE(l != 0);
  CHECK(c.node(l).read_index(1).error() == raft_errc::read_not_ready);
  c.drop_if = nullptr;
  run(c, 6);
  CHECK(c.node(l).read_index(1).has_value());
}

TEST_CASE("raft lease reads: served locally within the lease, refused outside it",
          "[raft][read][lease]") {
  cluster c(3, 41, [](node_id id) {
    options o = default_options(id);
    o.lease_reads = true;
    o.lease_clock_drift_bound_ticks = 3;
    return o;
  });
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 3);
  core& leader = c.node(l);
  CHECK(leader.has_lease());
  c.cut[{0, l}] = true;  // no more acknowledgements reach the leader
  REQUIRE(leader.read_index(7).has_value());
  c.process(l);
  REQUIRE(c.env(l).reads.size() == 1);  // answered from the lease, no round trip
  // the lease runs out before a follower could elect someone else (10 - 3 ticks)
  int ticks = 0;
  while (leader.has_lease() && ticks < 20) {
    leader.tick();
    ++ticks;
  }
  CHECK(ticks <= 7);
  CHECK(!leader.has_lease());
  REQUIRE(leader.read_index(8).has_value());  // now a ReadIndex round, unanswered
  c.process(l);
  CHECK(c.env(l).reads.size() == 1);
}

TEST_CASE("raft leadership transfer: TimeoutNow hands leadership to an up-to-date voter",
          "[raft][transfer]") {
  cluster c(3, 43);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  const node_id target = follower_of(c, l);
  REQUIRE(c.node(l).transfer_leadership(target).has_value());
  CHECK(c.node(l).propose(bytes_of("x")).error() == raft_errc::transfer_in_progress);
  c.settle();
  CHECK(c.leader() == target);
  CHECK(c.node(target).term() > 0);
  CHECK(c.node(l).current_role() == role::follower);
  CHECK(c.node(target).transfer_leadership(99).error() == raft_errc::transfer_target_invalid);
  CHECK(c.violations.empty());
}

TEST_CASE("raft leadership transfer: aborted when the target does not take over",
          "[raft][transfer]") {
  cluster c(3, 47);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  c.settle();
  const node_id target = follower_of(c, l);
  c.crash(target);
  REQUIRE(c.node(l).transfer_leadership(target).has_value());
  run(c, 12);
  CHECK(c.node(l).transfer_target() == no_node);
  CHECK(c.leader() == l);
  CHECK(c.node(l).propose(bytes_of("x")).has_value());
}

TEST_CASE("raft membership: learner added, caught up, promoted; voter removed",
          "[raft][membership]") {
  cluster c(3, 53);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  for (int i = 0; i < 20; ++i) REQUIRE(c.node(l).propose(bytes_of("d")).has_value());
  c.settle();
  c.add_node(4, nullptr);  // empty: learns everything from the leader
  REQUIRE(c.node(l).change_membership(change_kind::add_learner, 4).has_value());
  CHECK(c.node(l).change_membership(change_kind::add_voter, 5).error() ==
        raft_errc::config_change_pending);
  run(c, 4);
  CHECK(c.node(4).commit_index() == c.node(l).commit_index());
  CHECK(c.node(4).config().find(4)->role == member_role::learner);
  // a learner never campaigns
  for (int t = 0; t < 50; ++t) c.node(4).tick();
  CHECK(c.node(4).stats().pre_votes_started == 0);
  REQUIRE(c.node(l).change_membership(change_kind::promote_learner, 4).has_value());
  run(c, 4);
  CHECK(c.node(l).config().is_voter(4));
  CHECK(c.node(4).config().is_voter(4));
  const node_id removed = follower_of(c, l) == 4 ? 6 - l : follower_of(c, l);
  REQUIRE(c.node(l).change_membership(change_kind::remove, removed).has_value());
  run(c, 4);
  CHECK(!c.node(l).config().is_voter(removed));
  CHECK(c.node(l).config().members.size() == 3);
  CHECK(c.violations.empty());
}

TEST_CASE("raft membership: changes that could lose quorum are refused", "[raft][membership]") {
  cluster c(2, 59);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  const node_id other = 3 - l;
  auto removal = c.node(l).change_membership(change_kind::remove, other);
  CHECK(removal.error() == raft_errc::config_change_unsafe);  // 2 voters, no witness
  CHECK(c.node(l).change_membership(change_kind::remove, 9).error() ==
        raft_errc::config_change_invalid);
  CHECK(c.node(l).change_membership(change_kind::add_voter, other).error() ==
        raft_errc::config_change_invalid);
  // adding a third voter while the second is unreachable could never commit
  c.crash(other);
  run(c, 11);  // past one check-quorum period: the other voter is known inactive
  auto added = c.node(l).change_membership(change_kind::add_voter, 3);
  REQUIRE(!added.has_value());  // unsafe while leading, or not_leader once stepped down
  CHECK((added.error() == raft_errc::config_change_unsafe || added.error() == raft_errc::not_leader));
  // single-server changes of more than one voter are refused
  cluster d(3, 61);
  const node_id dl = d.elect();
  REQUIRE(dl != 0);
  run(d, 2);
  configuration two_new = voters({1, 2, 3, 7, 8});
  CHECK(d.node(dl).change_membership_joint(two_new).has_value());  // ... joint is fine
}

TEST_CASE("raft joint consensus: enter and leave automatically, both majorities required",
          "[raft][membership][joint]") {
  cluster c(3, 67);
  const node_id l0 = c.elect();
  REQUIRE(l0 != 0);
  run(c, 2);
  c.add_node(4, nullptr);
  c.add_node(5, nullptr);
  // new members join as learners first (a voter set with unreachable members is refused)
  CHECK(c.node(l0).change_membership_joint(voters({l0, 4, 5})).error() ==
        raft_errc::config_change_unsafe);
  REQUIRE(c.node(l0).change_membership(change_kind::add_learner, 4).has_value());
  run(c, 3);
  REQUIRE(c.node(l0).change_membership(change_kind::add_learner, 5).has_value());
  run(c, 3);
  // replace {1,2,3} by {l0,4,5}
  configuration target = voters({l0, 4, 5});
  REQUIRE(c.node(l0).change_membership_joint(target).has_value());
  CHECK(c.node(l0).change_membership(change_kind::add_voter, 6).error() ==
        raft_errc::config_change_pending);
  run(c, 10);
  const node_id l = c.leader();
  REQUIRE(l != 0);
  const configuration& now = c.node(l).config();
  CHECK(!now.joint());
  CHECK(now.is_voter(4));
  CHECK(now.is_voter(5));
  CHECK(now.members.size() == 3);
  for (node_id id : {node_id{1}, node_id{2}, node_id{3}})
    if (id != l0) CHECK(!now.is_voter(id));
  REQUIRE(c.node(l).propose(bytes_of("after")).has_value());
  run(c, 3);
  CHECK(c.node(4).applied_index() == c.node(l).commit_index());
  CHECK(c.violations.empty());
}

TEST_CASE("raft joint quorum: an entry needs majorities of both configurations",
          "[raft][membership][joint]") {
  cluster c(3, 71);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  c.add_node(4, nullptr);
  c.add_node(5, nullptr);
  c.add_node(6, nullptr);
  for (node_id id : {node_id{4}, node_id{5}, node_id{6}}) {
    REQUIRE(c.node(l).change_membership(change_kind::add_learner, id).has_value());
    run(c, 3);
  }
  REQUIRE(c.node(l).change_membership_joint(voters({4, 5, 6})).has_value());
  // let the joint configuration commit but stop the automatic leave from committing:
  // the new members never answer
  c.cut[{4, 0}] = c.cut[{5, 0}] = c.cut[{6, 0}] = true;
  run(c, 3);
  CHECK(c.node(l).config().joint());
  const index_t commit = c.node(l).commit_index();
  REQUIRE(c.node(l).propose(bytes_of("j")).has_value());
  run(c, 3);
  CHECK(c.node(l).commit_index() == commit);  // old majority alone is not enough
  c.cut.clear();
  run(c, 8);
  const node_id nl = c.leader();
  REQUIRE(nl != 0);
  CHECK(c.node(nl).commit_index() > commit);
  CHECK(!c.node(nl).config().joint());
  CHECK(c.violations.empty());
}

TEST_CASE("raft removal of the leader: hands over and never leaves the group stuck",
          "[raft][membership][11038]") {
  // etcd #11038: a leader that removes itself must not step down before the remaining
  // voters know the removal is committed, or they wait forever for its vote.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    cluster c(2, 73 + seed);
    c.add_node(3, nullptr);
    const node_id l = c.elect();
    REQUIRE(l != 0);
    run(c, 2);
    REQUIRE(c.node(l).change_membership(change_kind::add_voter, 3).has_value());
    run(c, 4);
    REQUIRE(c.node(l).config().is_voter(3));
    REQUIRE(c.node(l).change_membership(change_kind::remove, l).has_value());
    // the removed leader is shut down as soon as it steps down
    for (int i = 0; i < 40 && c.env(l).up; ++i) {
      c.tick_all();
      c.settle();
      if (c.node(l).current_role() != role::leader) c.crash(l);
    }
    INFO("seed " << seed);
    REQUIRE(!c.env(l).up);
    run(c, 40);
    const node_id nl = c.leader();
    for (auto& [id, e] : c.nodes())
      UNSCOPED_INFO("node " << id << " up " << e->up << " role " << int(e->c->current_role())
                    << " term " << e->c->term() << " commit " << e->c->commit_index()
                    << " last " << e->c->last_index() << " voters " << e->c->config().incoming_voters()
                    << " voter(self) " << e->c->config().is_voter(id));
    REQUIRE(nl != 0);
    CHECK(nl != l);
    CHECK(c.node(nl).propose(bytes_of("alive")).has_value());
    CHECK(c.violations.empty());
  }
}

TEST_CASE("raft witness: votes and stores metadata only, never leads", "[raft][witness]") {
  cluster c(3, 79);
  {  // member 3 is a witness
    configuration config = voters({1, 2, 3});
    config.members[2].role = member_role::witness;
    for (node_id id = 1; id <= 3; ++id) {
      auto created = core::create(default_options(id), weft::xoshiro256(id * 3));
      REQUIRE(created.has_value());
      c.env(id).c = std::make_unique<core>(std::move(*created));
      REQUIRE(c.env(id).c->bootstrap(config).has_value());
      c.env(id).snap.config = config;
    }
  }
  const node_id l = c.elect();
  REQUIRE(l != 0);
  CHECK(l != 3);
  run(c, 2);
  REQUIRE(c.node(l).propose(bytes_of("payload")).has_value());
  run(c, 2);
  const index_t idx = c.node(l).last_index();
  CHECK(c.node(3).log().term_at(idx) == c.node(l).term());  // metadata kept
  CHECK(c.node(3).log().size_at(idx) == 0);                   // payload not kept
  // with the other voter down, leader + witness still commit
  const node_id other = 3 - l;
  c.crash(other);
  REQUIRE(c.node(l).propose(bytes_of("edge")).has_value());
  run(c, 3);
  CHECK(c.node(l).commit_index() == c.node(l).last_index());
  // the witness never campaigns, even without a leader
  c.crash(l);
  for (int t = 0; t < 100; ++t) c.node(3).tick();
  CHECK(c.node(3).stats().pre_votes_started == 0);
  CHECK(c.node(3).current_role() == role::follower);
  // removing a voter from {voter, voter, witness} is allowed (a witness remains)
}

namespace {
options witness_leads(node_id id) {
  options o = default_options(id);
  o.witness_may_lead = id == 3;
  return o;
}
}  // namespace

TEST_CASE("raft witness: leads when witness_may_lead is set, and keeps payloads then",
          "[raft][witness]") {
  cluster c(3, 89, &witness_leads);
  {  // member 3 is a witness allowed to lead
    configuration config = voters({1, 2, 3});
    config.members[2].role = member_role::witness;
    for (node_id id = 1; id <= 3; ++id) {
      auto created = core::create(witness_leads(id), weft::xoshiro256(id * 5));
      REQUIRE(created.has_value());
      c.env(id).c = std::make_unique<core>(std::move(*created));
      REQUIRE(c.env(id).c->bootstrap(config).has_value());
      c.env(id).snap.config = config;
    }
  }
  // only the witness's timer runs: it campaigns and wins with one voter's vote
  c.crash(1);
  for (int t = 0; t < 100 && c.leader() == 0; ++t) {
    c.node(3).tick();
    c.settle();
  }
  REQUIRE(c.leader() == 3);
  REQUIRE(c.node(3).propose(bytes_of("from the witness")).has_value());
  run(c, 2);
  const index_t idx = c.node(3).last_index();
  CHECK(c.node(3).log().size_at(idx) == 16);  // payload kept
  CHECK(c.node(2).commit_index() >= idx);
  CHECK(c.env(2).applied >= idx);
  CHECK(c.violations.empty());
}

TEST_CASE("raft snapshots: compaction and chunked install to a lagging follower",
          "[raft][snapshot]") {
  cluster c(3, 83);
  c.compact_every = 16;
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  const node_id lagging = follower_of(c, l);
  c.crash(lagging);
  for (int i = 0; i < 60; ++i) {
    REQUIRE(c.node(l).propose(bytes_of("s")).has_value());
    c.settle();
  }
  REQUIRE(c.node(l).log().snapshot_index() > 0);
  c.restart(lagging);
  run(c, 20);
  core& lag = c.node(lagging);
  CHECK(lag.stats().snapshots_installed >= 1);
  CHECK(lag.commit_index() == c.node(l).commit_index());
  CHECK(lag.log().snapshot_index() >= 16);
  CHECK(c.node(l).stats().snapshots_sent >= 1);
  CHECK(c.env(lagging).snapshot_building.size() == c.snapshot_size_bytes);  // 150 bytes in 64-byte chunks
  CHECK(c.violations.empty());
  // compaction refuses indexes past applied
  CHECK(c.node(l).compact(c.node(l).applied_index() + 1, 1).error() == raft_errc::compact_invalid);
}

TEST_CASE("raft snapshots: chunk loss and reordering resume from the acknowledged offset",
          "[raft][snapshot]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    cluster c(3, 89 + seed);
    c.compact_every = 8;
    const node_id l = c.elect();
    REQUIRE(l != 0);
    run(c, 2);
    const node_id lagging = follower_of(c, l);
    c.crash(lagging);
    for (int i = 0; i < 30; ++i) {
      REQUIRE(c.node(l).propose(bytes_of("q")).has_value());
      c.settle();
    }
    c.restart(lagging);
    c.loss = 0.2;
    c.reorder = true;
    run(c, 60);
    c.loss = 0;
    run(c, 30);
    INFO("seed " << seed);
    CHECK(c.node(lagging).commit_index() == c.node(c.leader()).commit_index());
    CHECK(c.violations.empty());
  }
}

TEST_CASE("raft snapshots: a full chunk window leaves no ready spinning on the leader",
          "[raft][snapshot]") {
  cluster c(3, 91);
  c.compact_every = 8;
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(c.node(l).propose(bytes_of("w")).has_value());
    c.settle();
  }
  REQUIRE(c.node(l).log().first_index() > 1);
  // An empty learner rejects the first append, so the leader streams the snapshot to it
  // (150 bytes, a window of two 64-byte chunks). Its acknowledgements are lost: once the
  // window is out, the leader has nothing to send it until a heartbeat answer.
  c.drop_if = [](const message& m) { return m.type == message_type::install_snapshot_response; };
  c.add_node(4, nullptr);
  REQUIRE(c.node(l).change_membership(change_kind::add_learner, 4).has_value());
  c.process(l);
  for (int i = 0; i < 20 && c.node(l).stats().snapshots_sent == 0; ++i) c.deliver_one();
  REQUIRE(c.node(l).stats().snapshots_sent == 1);
  CHECK(!c.node(l).has_ready());
  CHECK(c.violations.empty());  // the harness: has_ready() never promised an empty ready()
  c.drop_if = nullptr;  // the transfer completes once answers arrive
  run(c, 20);
  CHECK(c.node(4).commit_index() == c.node(l).commit_index());
  CHECK(c.node(4).stats().snapshots_installed == 1);
  CHECK(c.violations.empty());
}

TEST_CASE("raft proposal forwarding: a follower forwards to the leader when enabled",
          "[raft][forwarding]") {
  cluster c(3, 97);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  const node_id f = follower_of(c, l);
  auto forwarded = c.node(f).propose(bytes_of("via follower"));
  REQUIRE(forwarded.has_value());
  CHECK(*forwarded == 0);  // index unknown to the follower
  run(c, 3);
  const entry_ref last = c.node(l).log().at(c.node(l).last_index());
  CHECK(weft::as_chars(last.payload) == "via follower");
  cluster d(3, 101, [](node_id id) {
    options o = default_options(id);
    o.forward_proposals = false;
    return o;
  });
  const node_id dl = d.elect();
  REQUIRE(dl != 0);
  d.settle();
  CHECK(d.node(follower_of(d, dl)).propose(bytes_of("no")).error() == raft_errc::not_leader);
}

TEST_CASE("raft unsafe recovery: force a configuration on a lone survivor", "[raft][recovery]") {
  cluster c(3, 103);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  run(c, 2);
  REQUIRE(c.node(l).propose(bytes_of("before")).has_value());
  run(c, 2);
  const node_id survivor = follower_of(c, l);
  for (node_id id = 1; id <= 3; ++id)
    if (id != survivor) c.crash(id);
  run(c, 30);
  CHECK(c.leader() == 0);  // permanent quorum loss: stuck, as Raft must be
  CHECK(c.node(survivor).force_new_configuration(voters({9})).error() ==
        raft_errc::config_change_invalid);  // must include the survivor
  REQUIRE(c.node(survivor).force_new_configuration(voters({survivor})).has_value());
  run(c, 30);
  CHECK(c.leader() == survivor);
  CHECK(c.node(survivor).propose(bytes_of("after")).has_value());
  run(c, 2);
  CHECK(c.node(survivor).commit_index() == c.node(survivor).last_index());
}
