// Node throughput plumbing on loopback: proposals made in one event-loop turn reach each
// follower in one append (not one per proposal), each follower acknowledges them once, the
// next batch's append carries the previous batch's commit (raft commit_only_delay_ticks),
// and the TCP sends of a turn are coalesced (tcp_transport::cork in the node's ready loop).
#include <catch2/catch.hpp>

#include <string>

#include "weft/runtime/node.hpp"

#include "cluster_fixture.hpp"

namespace {

using namespace weft;
using node_type = runtime::node<weft_test::counting_sm>;
using batching_cluster = weft_test::loopback_cluster<node_type, weft_test::counting_sm, 3>;

/// Slow heartbeats (1.45 s, against about 0.3 s for the measured part), so that the
/// messages counted below are the replication of the batches; a commit delay (100 ms) far
/// longer than the gap between the batches, so that the second batch's append carries the
/// first one's commit whatever the machine's load.
void quiet_heartbeats(runtime::node_options& o) {
  o.raft.heartbeat_interval_ticks = 290;  // at tick_ms = 5
  o.raft.election_timeout_ticks_min = 300;
  o.raft.election_timeout_ticks_max = 400;
  o.raft.commit_only_delay_ticks = 20;
}

bool every_member_applied(batching_cluster& c, std::size_t count) {
  for (const auto& sm : c.sms)
    if (sm.applied < count) return false;
  return true;
}

}  // namespace

TEST_CASE("node: batches leave as one append per follower, acknowledged once, commits ride along",
          "[runtime][node]") {
  batching_cluster c;
  c.adjust_options = quiet_heartbeats;
  for (int i = 0; i < 3; ++i) c.start(i);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int leader_at = c.leader();
  node_type& leader = *c.nodes[leader_at];
  // Settle: the leader's first entry is committed and applied everywhere.
  REQUIRE(c.run_until([&] {
    for (const auto& n : c.nodes)
      if (n->status().applied_index < leader.status().last_index) return false;
    return true;
  }));
  std::uint64_t sent_before[3];
  for (int i = 0; i < 3; ++i) sent_before[i] = c.nodes[i]->counters().raft_messages_sent;
  const std::uint64_t syscalls_before = leader.tcp_counters().send_calls;

  constexpr std::size_t proposals = 200;  // below raft.max_entries_per_message (256)
  const std::string payload(256, 'v');
  for (std::size_t i = 0; i < proposals; ++i) REQUIRE(leader.propose(as_bytes(payload)));
  const std::uint64_t first_batch_last = leader.status().last_index;
  REQUIRE(c.run_until([&] { return leader.status().applied_index >= first_batch_last; }));
  for (std::size_t i = 0; i < proposals; ++i) REQUIRE(leader.propose(as_bytes(payload)));
  REQUIRE(c.run_until([&] { return every_member_applied(c, 2 * proposals); }));

  // Per follower: the two batches' appends (the second one carrying the first commit) and
  // one commit-only append once the delay ran out; each answered once. With the commit sent
  // at once (commit_only_delay_ticks = 0) it was 8 and 4; one message per proposal would be
  // 2 x 400.
  const std::uint64_t leader_sent = leader.counters().raft_messages_sent - sent_before[leader_at];
  INFO("leader sent " << leader_sent << " Raft messages");
  CHECK(leader_sent == 6);
  for (int i = 0; i < 3; ++i) {
    if (i == leader_at) continue;
    const std::uint64_t acks = c.nodes[i]->counters().raft_messages_sent - sent_before[i];
    INFO("follower " << i + 1 << " sent " << acks << " Raft messages");
    CHECK(acks == 3);
  }
  // The leader's sends of a turn share system calls: never more than one per message.
  CHECK(leader.tcp_counters().send_calls - syscalls_before <= leader_sent);
}
