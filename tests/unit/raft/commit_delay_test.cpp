// tests/unit/raft/commit_delay_test.cpp - fewer messages per write batch: a commit index
// with no entries to go with it waits options.commit_only_delay_ticks for the next append or
// heartbeat to carry it; a follower answers the appends of one ready once. The edge cases:
// idle followers still learn the commit within the bound, follower reads (lease and
// ReadIndex round), leadership transfer and a removed leader's hand-over are not delayed.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace raft_test;

namespace {

/// Messages delivered by one settle(), by kind.
struct delivered_kinds {
  std::size_t appends_with_entries = 0;
  std::size_t entryless_appends = 0;
  std::size_t append_responses = 0;
  std::size_t heartbeats = 0;
  std::size_t other = 0;
  [[nodiscard]] std::size_t total() const {
    return appends_with_entries + entryless_appends + append_responses + heartbeats + other;
  }
};

/// Processes every member and delivers until the network is quiet, counting what went.
delivered_kinds settle_counting(cluster& c) {
  delivered_kinds seen;
  c.process_all();
  for (int guard = 0; guard < 100000 && !c.network().empty(); ++guard) {
    const message& m = c.network().front().m;  // no reordering: deliver_one takes the front
    if (m.type == message_type::append && m.entries.empty()) ++seen.entryless_appends;
    else if (m.type == message_type::append) ++seen.appends_with_entries;
    else if (m.type == message_type::append_response) ++seen.append_responses;
    else if (m.type == message_type::heartbeat || m.type == message_type::heartbeat_response) ++seen.heartbeats;
    else ++seen.other;
    c.deliver_one();
  }
  return seen;
}

std::size_t entryless_appends_in_network(cluster& c) {
  std::size_t n = 0;
  for (const owned_message& om : c.network())
    n += om.m.type == message_type::append && om.m.entries.empty() ? 1U : 0U;
  return n;
}

options commit_at_once_options(node_id id) {
  options o = default_options(id);
  o.commit_only_delay_ticks = 0;
  return o;
}

/// Heartbeats rarer than the commit delay, so that the commit-only append is what is seen.
options slow_heartbeat_options(node_id id) {
  options o = default_options(id);
  o.commit_only_delay_ticks = 3;
  o.heartbeat_interval_ticks = 9;
  return o;
}

/// A heartbeat comes before the commit delay runs out and carries the commit instead.
options fast_heartbeat_options(node_id id) {
  options o = default_options(id);
  o.commit_only_delay_ticks = 3;
  o.heartbeat_interval_ticks = 2;
  return o;
}

options lease_read_options(node_id id) {
  options o = default_options(id);
  o.lease_reads = true;
  o.lease_clock_drift_bound_ticks = 3;
  return o;
}

void tick_and_settle(cluster& c, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    c.tick_all();
    c.settle();
  }
}

node_id some_follower(cluster& c, node_id leader) {
  for (auto& [id, e] : c.nodes())
    if (id != leader && e->up) return id;
  return 0;
}

/// The largest commit index any follower of `leader` knows.
index_t followers_commit(cluster& c, node_id leader) {
  index_t low = ~index_t{0};
  for (auto& [id, e] : c.nodes())
    if (id != leader && e->up) low = std::min(low, e->c->commit_index());
  return low;
}

/// Rounds of 3 proposals, each settled (no ticks, so no heartbeats), as under load where the
/// next batch follows the previous one's commit: messages per round.
std::vector<std::size_t> messages_per_round(options (*make)(node_id), std::size_t rounds) {
  cluster c(3, 101, make);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 4);
  std::vector<std::size_t> out;
  for (std::size_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < 3; ++i)
      REQUIRE(c.node(l).propose(bytes_of(label("w", r, static_cast<std::uint64_t>(i)))).has_value());
    const delivered_kinds seen = settle_counting(c);
    REQUIRE(c.node(l).commit_index() == c.node(l).last_index());
    CHECK(seen.appends_with_entries == 2);
    CHECK(seen.heartbeats == 0);
    CHECK(seen.other == 0);
    out.push_back(seen.total());
  }
  CHECK(c.violations.empty());
  return out;
}

}  // namespace

TEST_CASE("raft commit delay: under load the next batch's append carries the commit",
          "[raft][replication][commit_delay]") {
  // Before: per batch an append and a commit-only append to each follower, each answered
  // (8 messages with 2 followers). Now the commit rides on the next batch: 4.
  for (std::size_t n : messages_per_round(&default_options, 6)) CHECK(n == 4);
  for (std::size_t n : messages_per_round(&commit_at_once_options, 6)) CHECK(n == 8);
}

TEST_CASE("raft commit delay: idle followers learn the commit within commit_only_delay_ticks",
          "[raft][replication][commit_delay]") {
  cluster c(3, 103, &slow_heartbeat_options);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 12);
  // Start right after a heartbeat, so that the next one is 9 ticks away.
  for (int guard = 0; guard < 20; ++guard) {
    c.tick_all();
    bool heartbeat = false;
    for (const owned_message& om : c.network()) heartbeat |= om.m.type == message_type::heartbeat;
    c.settle();
    if (heartbeat) break;
  }
  REQUIRE(c.node(l).propose(bytes_of("idle")).has_value());
  c.settle();
  const index_t target = c.node(l).last_index();
  REQUIRE(c.node(l).commit_index() == target);
  CHECK(followers_commit(c, l) < target);  // not sent at once
  for (int t = 1; t <= 2; ++t) {
    c.tick_all();
    CHECK(entryless_appends_in_network(c) == 0);
    c.settle();
    CHECK(followers_commit(c, l) < target);
  }
  c.tick_all();  // the third tick: the bound
  CHECK(entryless_appends_in_network(c) == 2);
  c.settle();
  CHECK(followers_commit(c, l) == target);
  for (auto& [id, e] : c.nodes()) CHECK(e->applied == target);
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: a heartbeat within the bound carries the commit instead",
          "[raft][replication][commit_delay]") {
  cluster c(3, 107, &fast_heartbeat_options);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 6);
  REQUIRE(c.node(l).propose(bytes_of("hb")).has_value());
  c.settle();
  const index_t target = c.node(l).last_index();
  REQUIRE(c.node(l).commit_index() == target);
  std::size_t entryless = 0;
  for (int t = 0; t < 3 && followers_commit(c, l) < target; ++t) {
    c.tick_all();
    entryless += entryless_appends_in_network(c);
    c.settle();
  }
  CHECK(followers_commit(c, l) == target);
  CHECK(entryless == 0);  // the heartbeat (every 2 ticks) told them first
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: appends accepted in one ready are answered once",
          "[raft][replication][commit_delay]") {
  auto created = core::create(default_options(2), weft::xoshiro256(2));
  REQUIRE(created.has_value());
  core f = std::move(*created);
  snapshot_metadata snap;
  snap.config = voters({1, 2, 3});
  REQUIRE(f.restore(hard_state{1, 0, 0}, snap, {}, 0).has_value());
  const std::string payload = "p";
  std::vector<entry_ref> refs;
  for (index_t i = 1; i <= 6; ++i) refs.push_back(entry_ref{i, 1, entry_type::normal, bytes_of(payload)});
  const auto append = [&](index_t previous, std::size_t count, index_t commit, std::uint64_t round) {
    message m;
    m.type = message_type::append;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.log_index = previous;
    m.log_term = previous == 0 ? 0 : 1;
    m.commit = commit;
    m.round = round;
    m.stamp_tick = round + 100;
    m.entries = entry_range(std::span<const entry_ref>(refs.data() + previous, count));
    return m;
  };
  f.step(append(0, 2, 0, 5));
  f.step(append(2, 2, 2, 6));
  ready_batch rb = f.ready();
  REQUIRE(rb.send_after_persist.size() == 1);
  const message& ack = rb.send_after_persist[0];
  CHECK(ack.type == message_type::append_response);
  CHECK(!ack.reject);
  CHECK(ack.log_index == 4);
  CHECK(ack.round == 6);
  CHECK(ack.stamp_tick == 106);
  CHECK(ack.commit == 2);
  CHECK(rb.must_persist.entries.size() == 4);  // the higher match is durable with this ready
  f.advance();
  CHECK(f.stats().append_responses_merged == 1);
  // A rejection is never folded in; the next ready answers afresh.
  message gap = append(5, 1, 2, 7);  // previous index 5 is beyond the follower's log
  f.step(gap);
  f.step(append(4, 1, 2, 8));
  f.step(append(5, 1, 2, 9));
  rb = f.ready();
  REQUIRE(rb.send_after_persist.size() == 2);
  CHECK(rb.send_after_persist[0].reject);
  CHECK(!rb.send_after_persist[1].reject);
  CHECK(rb.send_after_persist[1].log_index == 6);
  CHECK(rb.send_after_persist[1].round == 9);
  f.advance();
  CHECK(f.stats().append_responses_merged == 2);
}

TEST_CASE("raft commit delay: a follower's lease read is not held back by the delay",
          "[raft][read][commit_delay]") {
  cluster c(3, 109, &lease_read_options);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 3);
  REQUIRE(c.node(l).has_lease());
  const node_id f = some_follower(c, l);
  REQUIRE(c.node(l).propose(bytes_of("w")).has_value());
  c.settle();
  const index_t w = c.node(l).commit_index();
  REQUIRE(c.node(f).commit_index() < w);  // the commit waits for the next append
  REQUIRE(c.node(f).read_index(11).has_value());
  c.settle();  // no tick: the leader sends the commit with its answer
  REQUIRE(c.env(f).reads.size() == 1);
  CHECK(!c.env(f).reads[0].refused);
  CHECK(c.env(f).reads[0].index >= w);
  CHECK(c.env(f).applied_at_read[0] >= c.env(f).reads[0].index);
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: a ReadIndex round's heartbeat carries the commit to a follower read",
          "[raft][read][commit_delay]") {
  cluster c(3, 113);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 3);
  const node_id f = some_follower(c, l);
  REQUIRE(c.node(l).propose(bytes_of("w")).has_value());
  c.settle();
  const index_t w = c.node(l).commit_index();
  REQUIRE(c.node(f).commit_index() < w);
  REQUIRE(c.node(f).read_index(12).has_value());
  c.settle();
  REQUIRE(c.env(f).reads.size() == 1);
  CHECK(c.env(f).reads[0].index >= w);
  CHECK(c.env(f).applied_at_read[0] >= c.env(f).reads[0].index);
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: TimeoutNow is not delayed and the target takes over",
          "[raft][transfer][commit_delay]") {
  cluster c(3, 127);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 3);
  REQUIRE(c.node(l).propose(bytes_of("t")).has_value());
  c.settle();
  const index_t w = c.node(l).commit_index();
  const node_id target = some_follower(c, l);
  REQUIRE(c.node(target).commit_index() < w);  // caught up in entries, not in commit
  REQUIRE(c.node(l).transfer_leadership(target).has_value());
  c.process(l);
  bool timeout_now = false;
  for (const owned_message& om : c.network())
    timeout_now |= om.m.type == message_type::timeout_now && om.m.to == target;
  CHECK(timeout_now);
  c.settle();
  CHECK(c.leader() == target);
  CHECK(c.node(target).commit_index() > w);  // its own first entry commits the rest
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: a removed leader tells the commit at once and hands over",
          "[raft][membership][11038][commit_delay]") {
  cluster c(3, 131);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 3);
  REQUIRE(c.node(l).change_membership(change_kind::remove, l).has_value());
  c.settle();  // no tick: the removal's commit must not wait for commit_only_delay_ticks
  CHECK(c.node(l).current_role() == role::follower);
  const node_id nl = c.leader();
  REQUIRE(nl != 0);
  CHECK(nl != l);
  CHECK(!c.node(nl).config().is_voter(l));
  CHECK(c.node(nl).propose(bytes_of("after")).has_value());
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: a due commit behind a full inflight window leaves no ready spinning",
          "[raft][replication][commit_delay]") {
  cluster c(3, 137);
  const node_id l = c.elect();
  REQUIRE(l != 0);
  tick_and_settle(c, 3);
  const node_id silent = some_follower(c, l);
  c.cut[{l, silent}] = true;  // its appends are lost: its window fills, the other commits
  for (int batch = 0; batch < 6; ++batch) {
    REQUIRE(c.node(l).propose(bytes_of(label("f", static_cast<std::uint64_t>(batch)))).has_value());
    c.settle();
  }
  REQUIRE(c.node(l).commit_index() == c.node(l).last_index());
  REQUIRE(c.node(silent).commit_index() < c.node(l).commit_index());
  c.node(l).tick();  // the commit-only append to `silent` is due, but its window is full
  c.process(l);
  CHECK(!c.node(l).has_ready());
  CHECK(c.violations.empty());
}

TEST_CASE("raft commit delay: options refuse a delay of an election timeout or more",
          "[raft][commit_delay]") {
  options o = default_options(1);
  o.commit_only_delay_ticks = o.election_timeout_ticks_min;
  CHECK(o.validate().error() == raft_errc::invalid_options);
  o.commit_only_delay_ticks = o.election_timeout_ticks_min - 1;
  CHECK(o.validate().has_value());
}
