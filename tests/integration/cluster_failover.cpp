// Multi-process weftd cluster on loopback: SIGKILL of the leader mid-workload, a new
// leader, restart of the killed member from its data directory, catch-up, and a client
// history the linearizability checker accepts.
#include "cluster_harness.hpp"

using namespace std::chrono_literals;

TEST_CASE("cluster: leader SIGKILL, failover, restart and a linearizable history", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t first = c.wait_for_leader(15s);
  REQUIRE(first != 0);

  weft_demo::leader_tracker tracker(c);
  tracker.start();
  weft_demo::workload_options wo;
  wo.clients = 4;
  wo.keys = 4;
  wo.request_timeout = 2500ms;
  weft_demo::workload load(wo, [&] { return tracker.leader_http(); });
  load.start();
  REQUIRE(weft_test::eventually(10s, [&] { return load.ok_writes() >= 20; }));

  const std::uint64_t old_leader = tracker.leader();
  REQUIRE(old_leader != 0);
  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    c.kill_member(old_leader, SIGKILL);
  }
  const std::uint64_t next = c.wait_for_leader(15s, old_leader);
  REQUIRE(next != 0);
  CHECK(next != old_leader);
  const std::uint64_t writes_after_failover = load.ok_writes();
  CHECK(weft_test::eventually(10s, [&] { return load.ok_writes() >= writes_after_failover + 20; }));

  {
    std::lock_guard lock(weft_demo::leader_tracker::cluster_mutex());
    REQUIRE(c.start_member(old_leader, error));
  }
  // The restarted member replays its WAL and catches up with the leader's commit index.
  std::uint64_t target = 0;
  if (auto s = c.status_of(next)) target = s->commit_index;
  REQUIRE(target > 0);
  CHECK(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(old_leader);
    return s && s->applied_index >= target;
  }));
  weft_test::sleep_ms(500);
  load.stop();
  tracker.stop();

  INFO("ok " << load.counts().ok.load() << " fail " << load.counts().fail.load() << " info " << load.counts().info.load());
  CHECK(load.counts().ok.load() > 40);
  CHECK(weft_test::checked(load.history()) == weft::sim::verdict::linearizable);

  // Clean stop: every member exits 0 on SIGTERM.
  for (const auto& m : c.members()) {
    const int status = c.kill_member(m.id, SIGTERM);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

TEST_CASE("cluster: a follower SIGKILLed and restarted keeps the data it acknowledged", "[integration][cluster]") {
  if (!weft_test::have_weftd()) return;
  weft_demo::cluster c(weft_test::options());
  std::string error;
  REQUIRE(c.start(error));
  const std::uint64_t leader = c.wait_for_leader(15s);
  REQUIRE(leader != 0);
  const std::uint64_t follower = leader == 1 ? 2 : 1;
  weft_demo::http_client to_leader(c.find(leader)->http);
  for (int i = 0; i < 20; ++i) {
    auto r = to_leader.request("PUT", "/kv/durable-" + std::to_string(i), "value-" + std::to_string(i), 3s);
    REQUIRE(r.outcome == weft_demo::transport_outcome::answered);
    REQUIRE(r.status == 200);
  }
  c.kill_member(follower, SIGKILL);
  // Writes still commit with 2 of 3.
  auto during = to_leader.request("PUT", "/kv/while-down", "yes", 3s);
  REQUIRE(during.status == 200);
  REQUIRE(c.start_member(follower, error));
  const auto leader_commit = c.status_of(leader)->commit_index;
  REQUIRE(weft_test::eventually(15s, [&] {
    const auto s = c.status_of(follower);
    return s && s->applied_index >= leader_commit;
  }));
  // Now kill the leader: the restarted follower (or the other) must serve every value.
  c.kill_member(leader, SIGKILL);
  const std::uint64_t next = c.wait_for_leader(15s, leader);
  REQUIRE(next != 0);
  weft_demo::http_client to_next(c.find(next)->http);
  for (int i = 0; i < 20; ++i) {
    auto r = to_next.request("GET", "/kv/durable-" + std::to_string(i), {}, 3s);
    REQUIRE(r.status == 200);
    CHECK(r.body == "value-" + std::to_string(i));
  }
  CHECK(to_next.request("GET", "/kv/while-down", {}, 3s).body == "yes");
  CHECK(to_next.request("GET", "/kv/never-written", {}, 3s).status == 404);
}
