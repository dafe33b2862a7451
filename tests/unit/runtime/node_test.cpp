// Node driver on loopback: three members in one process on one event loop, real TCP/UDP
// sockets and real files. Election, replication (direct and forwarded), ReadIndex, restart
// from the data directory, and failover after the leader stops.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weft/runtime/node.hpp"

#include "cluster_fixture.hpp"

namespace {

using namespace weft;
using weft::runtime::basic_node;

/// Keeps every applied entry; a snapshot holds them all, so a member restored from one
/// compares equal to a member that applied the log entry by entry.
struct test_sm {
  std::vector<std::pair<raft::index_t, std::string>> applied;
  std::vector<std::uint64_t> reads;
  std::vector<std::uint64_t> failed_reads;
  std::uint64_t snapshots_loaded = 0;
  void apply(raft::index_t index, byte_view payload) noexcept {
    applied.emplace_back(index, std::string(payload.begin(), payload.end()));
  }
  void read_ready(std::uint64_t context) noexcept { reads.push_back(context); }
  void read_failed(std::uint64_t context) noexcept { failed_reads.push_back(context); }
  result<void> save_snapshot(runtime::snapshot_writer& out) noexcept {
    WEFT_TRY(out.write_u64(applied.size()));
    for (const auto& [index, text] : applied) {
      WEFT_TRY(out.write_u64(index));
      WEFT_TRY(out.write_u32(static_cast<std::uint32_t>(text.size())));
      WEFT_TRY(out.write(bytes_of(text)));
    }
    return ok();
  }
  result<void> load_snapshot(runtime::snapshot_reader& in) noexcept {
    applied.clear();
    WEFT_TRY_ASSIGN(const std::uint64_t count, in.read_u64());
    for (std::uint64_t i = 0; i < count; ++i) {
      WEFT_TRY_ASSIGN(const std::uint64_t index, in.read_u64());
      WEFT_TRY_ASSIGN(const std::uint32_t size, in.read_u32());
      if (size > in.remaining()) return error(runtime::runtime_errc::snapshot_malformed, "test_sm");
      std::string text(size, '\0');
      WEFT_TRY(in.read(mutable_byte_view(reinterpret_cast<std::uint8_t*>(text.data()), size)));
      applied.emplace_back(index, std::move(text));
    }
    ++snapshots_loaded;
    return ok();
  }

 private:
  static byte_view bytes_of(const std::string& s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  }
};

struct test_stack : runtime::default_stack {
  using telemetry = runtime::null_node_telemetry;
};
using test_node = basic_node<test_stack, test_sm>;

/// Three members; all_applied reads test_sm's history.
struct cluster : weft_test::loopback_cluster<test_node, test_sm, 3> {
  bool all_applied(std::size_t n) const {
    for (int i = 0; i < 3; ++i)
      if (nodes[i] && sms[i].applied.size() < n) return false;
    return true;
  }
};

byte_view bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("node: three members elect, replicate, read, restart from disk and fail over",
          "[runtime][node]") {
  cluster c;
  for (int i = 0; i < 3; ++i) c.start(i);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  int leader = c.leader();

  // Writes on the leader and, forwarded, on a follower.
  for (int k = 0; k < 20; ++k) {
    std::string value = std::to_string(k);
    value.insert(value.begin(), 'v');
    // A fresh leader may refuse while its first entry commits: retry through the loop.
    REQUIRE(c.run_until([&] { return c.nodes[leader]->propose(bytes_of(value)).has_value(); }));
  }
  const int follower = (leader + 1) % 3;
  // A follower forwards once it has heard from the leader; the index is known only there.
  raft::index_t forwarded_index = 1;
  REQUIRE(c.run_until([&] {
    const auto forwarded = c.nodes[follower]->propose(bytes_of("forwarded"));
    if (forwarded) forwarded_index = *forwarded;
    return forwarded.has_value();
  }));
  CHECK(forwarded_index == 0);
  REQUIRE(c.run_until([&] { return c.all_applied(21); }));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.sms[i].applied.size() == 21);
    CHECK(c.sms[i].applied == c.sms[leader].applied);
  }
  CHECK(c.sms[leader].applied.front().second == "v0");
  CHECK(c.sms[leader].applied.back().second == "forwarded");

  // ReadIndex on the leader is released once applied has reached the read's index.
  REQUIRE(c.nodes[leader]->read_index(77));
  REQUIRE(c.run_until([&] { return !c.sms[leader].reads.empty(); }));
  CHECK(c.sms[leader].reads.front() == 77);
  CHECK(c.nodes[follower]->read_index(78).error().is(raft::raft_errc::not_leader));

  // SWIM sees everyone alive.
  REQUIRE(c.run_until([&] {
    for (int i = 0; i < 3; ++i)
      for (const auto& m : c.nodes[i]->members())
        if (m.swim_state != swim::member_state::alive) return false;
    return true;
  }));

  // Restart every member from its data directory.
  raft::term_t terms[3];
  raft::index_t lasts[3];
  for (int i = 0; i < 3; ++i) {
    terms[i] = c.nodes[i]->status().term;
    lasts[i] = c.nodes[i]->status().last_index;
  }
  const std::vector<std::pair<raft::index_t, std::string>> before = c.sms[leader].applied;
  for (int i = 0; i < 3; ++i) c.stop(i);
  for (int i = 0; i < 3; ++i) c.start(i);
  for (int i = 0; i < 3; ++i) {
    const runtime::node_status s = c.nodes[i]->status();
    CHECK(s.term == terms[i]);        // term and vote come back from the stable store
    CHECK(s.last_index == lasts[i]);  // the log comes back from the WAL
    CHECK(s.role == raft::role::follower);
  }
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  leader = c.leader();
  REQUIRE(c.run_until([&] { return c.nodes[leader]->propose(bytes_of("after-restart")).has_value(); }));
  REQUIRE(c.run_until([&] { return c.all_applied(22); }));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(c.sms[i].applied.size() == 22);
    CHECK(std::equal(before.begin(), before.end(), c.sms[i].applied.begin()));
    CHECK(c.sms[i].applied.back().second == "after-restart");
  }

  // Stop the leader: the two survivors elect another and keep accepting writes.
  const raft::term_t old_term = c.nodes[leader]->status().term;
  c.stop(leader);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int next = c.leader();
  CHECK(next != leader);
  CHECK(c.nodes[next]->status().term > old_term);
  REQUIRE(c.run_until([&] { return c.nodes[next]->propose(bytes_of("after-failover")).has_value(); }));
  REQUIRE(c.run_until([&] { return c.all_applied(23); }));
  for (int i = 0; i < 3; ++i)
    if (c.nodes[i]) CHECK(c.sms[i].applied.back().second == "after-failover");
  // The stopped member is noticed by SWIM on the survivors.
  REQUIRE(c.run_until([&] {
    for (const auto& m : c.nodes[next]->members())
      if (m.id == static_cast<std::uint64_t>(leader + 1))
        return m.swim_state == swim::member_state::suspect || m.swim_state == swim::member_state::dead;
    return false;
  }));
}

TEST_CASE("node: isolation hook cuts a member off and healing brings it back", "[runtime][node]") {
  cluster c;
  for (int i = 0; i < 3; ++i) c.start(i);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int leader = c.leader();
  c.nodes[leader]->set_isolated(true);
  // The others elect a new leader; the isolated one cannot commit anything new.
  REQUIRE(c.run_until([&] {
    for (int i = 0; i < 3; ++i)
      if (i != leader && c.nodes[i]->status().role == raft::role::leader) return true;
    return false;
  }));
  CHECK(c.nodes[leader]->counters().dropped_isolated > 0);
  int other = -1;
  for (int i = 0; i < 3; ++i)
    if (i != leader && c.nodes[i]->status().role == raft::role::leader) other = i;
  REQUIRE(other >= 0);
  REQUIRE(c.run_until([&] { return c.nodes[other]->propose(bytes_of("while-isolated")).has_value(); }));
  c.nodes[leader]->set_isolated(false);
  REQUIRE(c.run_until([&] { return c.all_applied(1) && c.sms[leader].applied.size() == c.sms[other].applied.size(); }));
  CHECK(c.sms[leader].applied.back().second == "while-isolated");
}

TEST_CASE("node: options name the bad field", "[runtime][node]") {
  runtime::node_options o;
  CHECK_FALSE(o.validate());
  o.id = 1;
  o.data_dir = "/tmp/x";
  CHECK(o.validate());
  o.tcp.max_message_size_bytes = 1024;
  CHECK_FALSE(o.validate());
}

namespace {
/// Proposes on the current leader until it takes the entry (a new leader may refuse first).
void write_through_leader(cluster& c, const std::string& value) {
  REQUIRE(c.run_until([&] {
    const int leader = c.leader();
    return leader >= 0 && c.nodes[leader]->propose(bytes_of(value)).has_value();
  }));
}
}  // namespace

TEST_CASE("node: snapshots compact the log; a member restarted behind them catches up by "
          "install-snapshot; every member recovers from its own snapshot",
          "[runtime][node][snapshot]") {
  cluster c;
  c.snapshot_interval_entries = 40;
  for (int i = 0; i < 3; ++i) c.start(i);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int behind = (c.leader() + 1) % 3;
  write_through_leader(c, "before-stop");
  REQUIRE(c.run_until([&] { return c.all_applied(1); }));
  // Isolated rather than stopped: a stopped member's TCP queue would keep the leader's
  // appends and deliver them on reconnection, making the catch-up a log replay.
  c.nodes[behind]->set_isolated(true);

  const auto others_applied = [&](std::size_t n) {
    for (int i = 0; i < 3; ++i)
      if (i != behind && c.sms[i].applied.size() < n) return false;
    return true;
  };
  constexpr int writes = 150;  // several snapshot intervals past the stopped member
  for (int k = 0; k < writes; ++k) {
    std::string value = std::to_string(k);
    value.insert(value.begin(), 'w');  // not "w" + ...: g++ 12 -Wrestrict false positive
    write_through_leader(c, value);
    // In rounds, so that the applied index crosses several snapshot intervals.
    if (k % 30 == 29) REQUIRE(c.run_until([&] { return others_applied(static_cast<std::size_t>(k) + 2); }));
  }
  REQUIRE(c.run_until([&] { return others_applied(writes + 1); }));
  const int leader = c.leader();
  REQUIRE(leader >= 0);
  // The last snapshot's file may still be written by the node's snapshot thread.
  CHECK(c.run_until([&] { return c.nodes[leader]->counters().snapshots_taken >= 2; }));
  const raft::index_t compacted = c.nodes[leader]->core()->snapshot().index;
  CHECK(compacted >= 80);
  CHECK(c.nodes[leader]->core()->log().first_index() == compacted + 1);

  // Restarted empty-handed (its state machine starts blank): the entries it lacks are gone
  // from the leader's log, so only a snapshot can bring it back.
  c.stop(behind);
  c.start(behind);
  REQUIRE(c.run_until([&] { return c.sms[behind].applied.size() == c.sms[leader].applied.size(); }));
  CHECK(c.nodes[behind]->counters().snapshots_installed >= 1);
  CHECK(c.sms[behind].snapshots_loaded >= 1);
  CHECK(c.nodes[leader]->counters().snapshot_chunks_sent >= 2);
  CHECK(c.sms[behind].applied == c.sms[leader].applied);
  write_through_leader(c, "after-catch-up");
  REQUIRE(c.run_until([&] { return c.all_applied(writes + 2); }));
  CHECK(c.sms[behind].applied.back().second == "after-catch-up");

  // Restart everyone: state comes back from each member's snapshot plus its WAL suffix.
  std::vector<std::pair<raft::index_t, std::string>> histories[3];
  for (int i = 0; i < 3; ++i) histories[i] = c.sms[i].applied;
  for (int i = 0; i < 3; ++i) c.stop(i);
  for (int i = 0; i < 3; ++i) c.start(i);
  for (int i = 0; i < 3; ++i) CHECK(c.sms[i].snapshots_loaded == 1);
  REQUIRE(c.run_until([&] {
    for (int i = 0; i < 3; ++i)
      if (c.sms[i].applied.size() < histories[i].size()) return false;
    return true;
  }));
  for (int i = 0; i < 3; ++i) CHECK(c.sms[i].applied == histories[i]);
}

TEST_CASE("node: a leader that loses leadership fails its unconfirmed reads at once",
          "[runtime][node][read]") {
  cluster c;
  for (int i = 0; i < 3; ++i) c.start(i);
  REQUIRE(c.run_until([&] { return c.leader() >= 0; }));
  const int leader = c.leader();
  // A read that succeeds shows the leader committed in its term (ReadIndex is ready).
  REQUIRE(c.run_until([&] { return c.nodes[leader]->read_index(1).has_value(); }));
  REQUIRE(c.run_until([&] { return !c.sms[leader].reads.empty(); }));

  // Cut off, it still believes it leads and takes the read, which no quorum can confirm;
  // check-quorum makes it step down, and the read must fail then, not wait for a timeout.
  c.nodes[leader]->set_isolated(true);
  REQUIRE(c.nodes[leader]->read_index(2));
  REQUIRE(c.run_until([&] { return !c.sms[leader].failed_reads.empty(); }, 3000));
  CHECK(c.sms[leader].failed_reads == std::vector<std::uint64_t>{2});
  CHECK(c.sms[leader].reads == std::vector<std::uint64_t>{1});
  CHECK(c.nodes[leader]->counters().reads_failed == 1);
  CHECK(c.nodes[leader]->status().role != raft::role::leader);
}
