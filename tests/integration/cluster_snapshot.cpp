// Multi-process weftd cluster with a small snapshot interval: writes run past several
// snapshots (the log and the WAL are compacted), a SIGKILLed follower that missed them is
// caught up by install-snapshot after restart, and every value is still served.
#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: a member restarted behind the leader's snapshot catches up by install-snapshot",
          "[integration][cluster][snapshot]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster_options o = weft_test::options();
  o.snapshot_interval_entries = 16;  // weftd's smallest: several snapshots in a few writes
  weft_demo::cluster c(o);
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  const std::uint64_t follower = leader == 1 ? 2 : 1;
  weft_demo::http_client to_leader(c.find(leader)->http);
  const auto put = [&](int i) {
    std::string key = std::to_string(i);
    key.insert(0, "/kv/snap-");  // built piecewise: g++ 12 -Wrestrict false positive
    const auto r = to_leader.request("PUT", key, key, 3s);
    REQUIRE(r.outcome == weft_demo::transport_outcome::answered);
    REQUIRE(r.status == 200);
  };
  put(0);
  c.kill_member(follower, SIGKILL);
  constexpr int writes = 80;
  for (int i = 1; i < writes; ++i) put(i);
  const auto leader_status = c.status_of(leader);
  REQUIRE(leader_status);
  CHECK(leader_status->snapshot_index >= 48);  // compacted past what the follower holds

  REQUIRE(c.start_member(follower, error));
  REQUIRE(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(follower);
    return s && s->applied_index >= leader_status->commit_index;
  }));
  const auto caught_up = c.status_of(follower);
  REQUIRE(caught_up);
  CHECK(caught_up->snapshots_installed >= 1);

  // The restarted follower serves every value once it leads.
  c.kill_member(leader, SIGKILL);
  const std::uint64_t next = c.wait_for_leader(15s, leader);
  REQUIRE(next != 0);
  weft_demo::http_client to_next(c.find(next)->http);
  for (int i = 0; i < writes; ++i) {
    std::string key = std::to_string(i);
    key.insert(0, "/kv/snap-");
    const auto r = to_next.request("GET", key, {}, 3s);
    REQUIRE(r.status == 200);
    CHECK(r.body == key);
  }
}
