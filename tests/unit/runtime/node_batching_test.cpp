// Node throughput plumbing on loopback: proposals made in one event-loop turn reach each
// follower in one append (not one per proposal), each follower acknowledges them once, and
// the TCP sends of a turn are coalesced (tcp_transport::cork in the node's ready loop).
#include <catch2/catch.hpp>

#include <string>

#include "weft/runtime/node.hpp"

#include "cluster_fixture.hpp"

namespace {

using namespace weft;
using node_type = runtime::node<weft_test::counting_sm>;
using batching_cluster = weft_test::loopback_cluster<node_type, weft_test::counting_sm, 3>;

/// Slow heartbeats, so that the messages counted below are the replication of the batch.
void quiet_heartbeats(runtime::node_options& o) {
  o.raft.heartbeat_interval_ticks = 100;  // 500 ms at tick_ms = 5
  o.raft.election_timeout_ticks_min = 300;
  o.raft.election_timeout_ticks_max = 400;
}

bool every_member_applied(batching_cluster& c, std::size_t count) {
  for (const auto& sm : c.sms)
    if (sm.applied < count) return false;
  return true;
}

}  // namespace

TEST_CASE("node: proposals of one turn leave as one append per follower, acknowledged once",
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
  REQUIRE(c.run_until([&] { return every_member_applied(c, proposals); }));

  // One append per follower carries the batch; the commit that follows travels in one more
  // (or in a heartbeat). One message per proposal would be 2 x 200.
  const std::uint64_t leader_sent = leader.counters().raft_messages_sent - sent_before[leader_at];
  INFO("leader sent " << leader_sent << " Raft messages");
  CHECK(leader_sent >= 2);
  CHECK(leader_sent <= 12);
  for (int i = 0; i < 3; ++i) {
    if (i == leader_at) continue;
    const std::uint64_t acks = c.nodes[i]->counters().raft_messages_sent - sent_before[i];
    INFO("follower " << i + 1 << " sent " << acks << " Raft messages");
    CHECK(acks >= 1);
    CHECK(acks <= 6);
  }
  // The leader's sends of a turn share system calls: never more than one per message.
  CHECK(leader.tcp_counters().send_calls - syscalls_before <= leader_sent);
}
